package query

import "strings"

// SplitStatements splits SQL text at the semicolons that end statements,
// skipping those inside string literals ('...', E'...'), quoted identifiers
// ("..."), dollar-quoted strings ($tag$...$tag$) and comments (-- and /* */).
// Statements that hold only blanks and comments are left out. The result
// keeps each statement's comments and drops its final semicolon.
func SplitStatements(text string) []string {
	var statements []string
	start := 0
	content := false // the current statement has more than blanks and comments
	flush := func(end int) {
		if content {
			statements = append(statements, strings.TrimSpace(text[start:end]))
		}
		start, content = end+1, false
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == ';':
			flush(i)
		case c == '-' && strings.HasPrefix(text[i:], "--"):
			if end := strings.IndexByte(text[i:], '\n'); end >= 0 {
				i += end
			} else {
				i = len(text)
			}
		case c == '/' && strings.HasPrefix(text[i:], "/*"):
			if end := strings.Index(text[i+2:], "*/"); end >= 0 {
				i += end + 3
			} else {
				i = len(text)
			}
		case c == '\'' || c == '"':
			content = true
			backslash := c == '\'' && i > 0 && (text[i-1] == 'E' || text[i-1] == 'e') &&
				(i == 1 || !isIdentifierByte(text[i-2]))
			i = skipQuoted(text, i, backslash)
		case c == '$':
			content = true
			if tag, ok := dollarTag(text[i:]); ok {
				if end := strings.Index(text[i+len(tag):], tag); end >= 0 {
					i += len(tag) + end + len(tag) - 1
				} else {
					i = len(text)
				}
			}
		case c != ' ' && c != '\t' && c != '\n' && c != '\r':
			content = true
		}
	}
	flush(len(text))
	return statements
}

// skipQuoted returns the index of the quote that closes the literal opened
// at text[open], or the end of the text. A doubled quote is one quote, and in
// E'...' strings a backslash escapes the next byte.
func skipQuoted(text string, open int, backslash bool) int {
	quote := text[open]
	for i := open + 1; i < len(text); i++ {
		switch {
		case backslash && text[i] == '\\':
			i++
		case text[i] == quote:
			if i+1 < len(text) && text[i+1] == quote {
				i++
				continue
			}
			return i
		}
	}
	return len(text)
}

// dollarTag returns the opening tag of a dollar-quoted string ($$ or
// $name$) at the start of s.
func dollarTag(s string) (string, bool) {
	for i := 1; i < len(s); i++ {
		if s[i] == '$' {
			return s[:i+1], true
		}
		if !isIdentifierByte(s[i]) || (i == 1 && s[i] >= '0' && s[i] <= '9') {
			return "", false // a positional parameter such as $1, or a lone $
		}
	}
	return "", false
}

func isIdentifierByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
