package ops

import "strings"

// interner keeps one copy of each string that the sets of an engine's
// groups hold, so that many groups share the few values that most of them
// have (SSIDs, the broadcast address) in memory. A nil interner copies
// every string.
type interner struct {
	strings map[string]string
}

// maxInterned bounds the strings an interner keeps. Beyond it new strings
// are copied but not kept, so an argument with a distinct value per record
// does not grow the table without end.
const maxInterned = 1 << 16

func newInterner() *interner { return &interner{strings: map[string]string{}} }

// intern returns a copy of s that shares no memory with a record: the kept
// copy when there is one.
func (in *interner) intern(s string) string {
	if in == nil {
		return strings.Clone(s)
	}
	if kept, ok := in.strings[s]; ok {
		return kept
	}
	c := strings.Clone(s)
	if len(in.strings) < maxInterned {
		in.strings[c] = c
	}
	return c
}
