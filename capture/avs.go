package capture

import "encoding/binary"

// AVS capture header versions (the linux-wlan-ng "wlancap" header).
const (
	avsVersion1 = 0x80211001
	avsVersion2 = 0x80211002
)

// AVS signal types.
const avsSignalDBm = 2

// AVS PHY types mapped onto tshark's PHY numbers.
var avsPHY = map[uint32]PHY{
	1: PHYFHSS,
	2: PHYDSSS,
	3: PHYIR,
	4: PHY11b,
	5: PHY11b,
	6: PHY11g,
	7: PHY11g,
	8: PHY11a,
	9: PHY11g,
}

// AVS preamble values.
const (
	avsPreambleShort = 1
	avsPreambleLong  = 2
)

// decodeAVS reads an AVS header into r and returns its length, or false when
// the header is cut off or has an unknown version.
func decodeAVS(data []byte, r *Radio) (int, bool) {
	r.Present = true
	if len(data) < 8 {
		return 8, false
	}
	version := binary.BigEndian.Uint32(data)
	headerLen := int(binary.BigEndian.Uint32(data[4:]))
	if version != avsVersion1 && version != avsVersion2 || headerLen < 64 {
		return 64, false
	}
	if headerLen > len(data) {
		return headerLen, false
	}
	r.HasTSF, r.TSF = true, binary.BigEndian.Uint64(data[8:])
	if phy, ok := avsPHY[binary.BigEndian.Uint32(data[24:])]; ok {
		r.PHY = phy
	}
	if channel := binary.BigEndian.Uint32(data[28:]); channel != 0 {
		r.HasChannel, r.Channel = true, uint16(channel)
	}
	if rate := binary.BigEndian.Uint32(data[32:]); rate != 0 {
		// AVS gives the rate in 100 kb/s, the pseudo-header in 500 kb/s.
		r.HasDataRate, r.DataRate = true, uint16(rate/5)
	}
	if binary.BigEndian.Uint32(data[44:]) == avsSignalDBm {
		r.HasSignalDBm, r.SignalDBm = true, int16(int32(binary.BigEndian.Uint32(data[48:])))
		r.HasNoiseDBm, r.NoiseDBm = true, int16(int32(binary.BigEndian.Uint32(data[52:])))
	}
	switch binary.BigEndian.Uint32(data[56:]) {
	case avsPreambleShort:
		r.HasShortPreamble, r.ShortPreamble = true, true
	case avsPreambleLong:
		r.HasShortPreamble, r.ShortPreamble = true, false
	}
	return headerLen, true
}
