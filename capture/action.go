package capture

// Where the information elements of an Action frame start, measured as the
// offset from the category octet. tshark 4.0.17 walks an element list after
// the fixed fields of most actions; the table was measured by handing tshark
// Action frames of every category and action code with zero-filled bodies of
// every length from 0 to 40 bytes and noting where wlan.tagged.all appears.
// Fixed fields whose length depends on their content are therefore sized as
// they are when zero.
//
// Categories 128-255 (the error bit set) behave as their category minus 128.

// noElements marks an action with no element list within 40 bytes.
const noElements = -1

type actionLayout struct {
	fallback int8           // for action codes not listed
	byAction map[uint8]int8 // offsets that differ from fallback
	listed   bool
}

var actionLayouts = [128]actionLayout{
	0:   {2, map[uint8]int8{0: 3, 1: 3, 2: 3, 3: 3}, true},
	1:   {2, map[uint8]int8{0: 3, 1: 5, 2: 7}, true},
	2:   {2, map[uint8]int8{0: 18, 1: 16, 2: 16}, true},
	3:   {0, map[uint8]int8{0: 9, 1: 9, 2: 6}, true},
	4:   {2, map[uint8]int8{4: 6, 9: 5, 10: 7, 11: 11, 12: 3, 13: 12, 14: 5, 16: 15, 17: 15, 32: 3, 33: 20, 34: 15, 47: 21}, true},
	5:   {2, map[uint8]int8{0: 5, 1: 3, 2: 5, 3: 11, 4: 3, 5: 3}, true},
	6:   {2, map[uint8]int8{1: 14, 2: 16, 3: 14, 4: 16}, true},
	7:   {2, map[uint8]int8{0: 3, 1: 3, 2: 4, 3: 3, 4: noElements, 5: noElements, 6: 9, 7: 3, 8: 3}, true},
	8:   {2, map[uint8]int8{0: 4, 1: 4}, true},
	9:   {2, map[uint8]int8{4: 6, 9: 5, 10: 7, 11: 11, 12: 3, 13: 12, 14: 5, 16: 15, 17: 15, 32: 3, 33: 20, 34: 15, 47: 21}, true},
	10:  {2, map[uint8]int8{6: noElements, 8: noElements, 13: 3, 14: 3, 16: 3, 17: 5, 26: noElements}, true},
	11:  {2, map[uint8]int8{0: 21, 1: 4}, true},
	12:  {2, map[uint8]int8{0: 5, 1: 5, 2: 5, 3: 4, 4: 3, 5: 4, 6: 4, 7: 3, 8: 5, 9: 3, 10: 3}, true},
	13:  {2, map[uint8]int8{10: 4}, true},
	14:  {fallback: 8, listed: true},
	15:  {2, map[uint8]int8{1: 4, 2: 6}, true},
	16:  {2, map[uint8]int8{0: 4, 1: 5, 2: 8, 3: 8, 4: 4, 5: 4, 6: 3, 7: 3, 8: 5, 9: 5, 10: 3, 11: noElements, 12: 9, 13: 3, 14: 11, 15: 8, 18: 7, 19: 3, 20: 4, 21: 4, 22: 5}, true},
	17:  {fallback: 4, listed: true},
	18:  {2, map[uint8]int8{0: 7, 1: 5, 2: 6, 3: 7, 4: 7, 5: 6}, true},
	19:  {2, map[uint8]int8{0: 5, 1: 3, 4: 5, 5: 7}, true},
	20:  {2, map[uint8]int8{0: 12, 1: 7}, true},
	21:  {2, map[uint8]int8{0: noElements, 1: noElements, 2: noElements}, true},
	22:  {2, map[uint8]int8{0: 5, 1: 5, 2: 4, 3: 4, 4: 4, 5: 4, 6: 5, 7: 3, 8: 4, 9: 4, 11: 3}, true},
	30:  {2, map[uint8]int8{0: noElements, 1: 9}, true},
	31:  {2, map[uint8]int8{0: 7}, true},
	34:  {2, map[uint8]int8{1: 3, 2: 20, 3: 23}, true},
	126: {fallback: noElements, listed: true},
	127: {fallback: noElements, listed: true},
}

// actionElementsOffset returns the offset of the element list in an Action
// frame body, or false when tshark walks no element list for the action.
func actionElementsOffset(category, action uint8) (int, bool) {
	layout := actionLayouts[category&0x7f]
	offset := layout.fallback
	if v, ok := layout.byAction[action]; ok {
		offset = v
	}
	if !layout.listed {
		offset = 1 // unlisted category: elements follow the category octet
	}
	if offset == noElements {
		return 0, false
	}
	return int(offset), true
}
