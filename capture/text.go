package capture

import (
	"fmt"
	"strconv"
	"unicode"
)

// isPrintable reports whether EscapeText keeps r as it is.
func isPrintable(r rune) bool {
	return r == ' ' || unicode.IsPrint(r)
}

// UnescapeText returns the bytes that EscapeText rendered as s.
func UnescapeText(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			out = append(out, '\\')
			i++
			continue
		}
		if i+3 < len(s) && s[i+1] == 'x' {
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err == nil {
				out = append(out, byte(v))
				i += 3
				continue
			}
		}
		return nil, fmt.Errorf("invalid escape at byte %d of %q: want \\\\ or \\xNN", i, s)
	}
	return out, nil
}
