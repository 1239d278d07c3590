package capture

import "encoding/binary"

// AVS capture header magic (the linux-wlan-ng "wlancap" header); the low
// four bits are the revision, 0 to 2 being known.
const (
	avsMagic       = 0x80211000
	avsMagicMask   = 0xfffffff0
	avsMaxRevision = 2
)

// AVS signal types.
const avsSignalDBm = 2

// AVS PHY types mapped onto the PHY tshark 4.0 reports for them (it takes
// type 7, PBCC 802.11g, for 802.11a).
var avsPHY = map[uint32]PHY{
	1: PHYFHSS,
	2: PHYDSSS,
	3: PHYIR,
	4: PHY11b,
	5: PHY11b,
	6: PHY11g,
	7: PHY11a,
	8: PHY11a,
	9: PHY11g,
}

// AVS preamble values.
const (
	avsPreambleShort = 1
	avsPreambleLong  = 2
)

// decodeAVS reads an AVS header into r and returns its length, or false when
// the header is cut off. A header with an unknown magic or revision supplies
// no radio field, but its length is still skipped, as tshark does.
func decodeAVS(data []byte, r *Radio) (int, bool) {
	r.Present = true
	if len(data) < 8 {
		return 8, false
	}
	version := binary.BigEndian.Uint32(data)
	headerLen := int(binary.BigEndian.Uint32(data[4:]))
	if headerLen > len(data) {
		return headerLen, false
	}
	if version&avsMagicMask != avsMagic || version&^avsMagicMask > avsMaxRevision {
		return headerLen, true
	}
	if headerLen < 64 {
		return 64, false
	}
	r.HasTSF, r.TSF = true, binary.BigEndian.Uint64(data[8:])
	r.PHY = avsPHY[binary.BigEndian.Uint32(data[24:])]
	if r.PHY != PHYFHSS {
		// The FHSS PHY puts hop set and pattern where the others put the
		// channel.
		channel := binary.BigEndian.Uint32(data[28:])
		r.HasChannel, r.Channel = true, uint16(channel)
		if mhz, ok := MHzFromChannel(int(channel), r.PHY != PHY11a); ok {
			r.HasFrequency, r.Frequency = true, mhz
		}
	}
	if rate := binary.BigEndian.Uint32(data[32:]); rate != 0 && rate%5 == 0 {
		// AVS gives the rate in 100 kb/s, the pseudo-header in 500 kb/s;
		// tshark drops rates that are not a multiple of 500 kb/s.
		r.HasDataRate, r.DataRate = true, uint16(rate/5)
	}
	if binary.BigEndian.Uint32(data[44:]) == avsSignalDBm {
		r.HasSignalDBm, r.SignalDBm = true, int16(int32(binary.BigEndian.Uint32(data[48:])))
		r.HasNoiseDBm, r.NoiseDBm = true, int16(int32(binary.BigEndian.Uint32(data[52:])))
	}
	if r.PHY == PHY11b || r.PHY == PHY11g {
		switch binary.BigEndian.Uint32(data[56:]) {
		case avsPreambleShort:
			r.HasShortPreamble, r.ShortPreamble = true, true
		case avsPreambleLong:
			r.HasShortPreamble, r.ShortPreamble = true, false
		}
	}
	return headerLen, true
}
