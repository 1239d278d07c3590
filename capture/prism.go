package capture

import "encoding/binary"

// Prism monitor-mode header item IDs (the low byte of the DID after the
// message code). Linux drivers write the message code 0x44 and ten items.
const (
	prismItemMACTime = 2
	prismItemChannel = 3
	prismItemRSSI    = 4
	prismItemRate    = 8
)

// prismHeaderLength is the size of the Prism header: message code (4),
// message length (4), device name (16) and ten items of 12 bytes.
const prismHeaderLength = 144

// decodePrism reads a Prism header into r and returns its length, or false
// when fewer bytes were captured.
func decodePrism(data []byte, r *Radio) (int, bool) {
	r.Present = true
	if len(data) < prismHeaderLength {
		return prismHeaderLength, false
	}
	for item := 24; item+12 <= prismHeaderLength; item += 12 {
		did := binary.LittleEndian.Uint32(data[item:])
		status := binary.LittleEndian.Uint16(data[item+4:])
		value := binary.LittleEndian.Uint32(data[item+8:])
		if status != 0 {
			continue // 0 means supplied
		}
		switch (did >> 16) & 0xff {
		case prismItemMACTime:
			r.HasTSF, r.TSF = true, uint64(value)
		case prismItemChannel:
			r.HasChannel, r.Channel = true, uint16(value)
		case prismItemRSSI:
			r.HasSignalDBm, r.SignalDBm = true, int16(int32(value))
		case prismItemRate:
			r.HasDataRate, r.DataRate = true, uint16(value)
		}
	}
	return prismHeaderLength, true
}
