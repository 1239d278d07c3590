package capture

import "encoding/binary"

// PPI field types (Per-Packet Information Header Specification 1.0.10).
const (
	ppiField80211Common = 2
	ppiField80211nMAC   = 3
	ppiField80211nPHY   = 4
)

// PPI 802.11-Common flags.
const ppiFlagFCS = 0x0001

// PPI 802.11n MAC flags.
const (
	ppiNGreenfield = 0x01
	ppiNHT40       = 0x02
	ppiNShortGI    = 0x04
)

// decodePPI reads a PPI header into r and returns its length, where the
// 802.11 frame starts. It returns false, with the length the header needs,
// when the header is cut off.
func decodePPI(data []byte, r *Radio) (int, bool) {
	r.Present = true
	if len(data) < 8 {
		return 8, false
	}
	headerLen := int(binary.LittleEndian.Uint16(data[2:4]))
	if headerLen > len(data) {
		return headerLen, false
	}
	if headerLen < 8 {
		return 8, false
	}
	aligned := data[1]&0x01 != 0
	offset := 8
	for offset+4 <= headerLen {
		typ := binary.LittleEndian.Uint16(data[offset:])
		length := int(binary.LittleEndian.Uint16(data[offset+2:]))
		body := offset + 4
		end := body + length
		if end > headerLen {
			return headerLen, false
		}
		field := data[body:end]
		switch typ {
		case ppiField80211Common:
			r.ppiCommon(field)
		case ppiField80211nMAC:
			r.ppiHT(field, false)
		case ppiField80211nPHY:
			r.ppiHT(field, true)
		}
		offset = end
		if aligned {
			offset = (offset + 3) &^ 3
		}
	}
	return headerLen, true
}

// ppiCommon stores the 802.11-Common field: TSF timer (8), flags (2), rate in
// 500 kb/s (2), channel frequency (2), channel flags (2), FHSS hop set and
// pattern (1+1), dBm antenna signal and noise (1+1).
func (r *Radio) ppiCommon(field []byte) {
	if len(field) < 20 {
		return
	}
	r.HasTSF, r.TSF = true, binary.LittleEndian.Uint64(field)
	flags := binary.LittleEndian.Uint16(field[8:])
	if flags&ppiFlagFCS != 0 {
		r.FCSLen = 4
	} else {
		r.FCSLen = 0
	}
	if rate := binary.LittleEndian.Uint16(field[10:]); rate != 0 {
		r.HasDataRate, r.DataRate = true, rate
	}
	if r.PHY != PHY11n {
		r.radiotapChannel(binary.LittleEndian.Uint16(field[12:]), binary.LittleEndian.Uint16(field[14:]))
	} else {
		r.setFrequency(binary.LittleEndian.Uint16(field[12:]))
	}
	if signal := int8(field[18]); signal != -128 {
		r.HasSignalDBm, r.SignalDBm = true, int16(signal)
	}
	if noise := int8(field[19]); noise != -128 {
		r.HasNoiseDBm, r.NoiseDBm = true, int16(noise)
	}
}

// ppiHT stores the 802.11n MAC extension (flags (4), A-MPDU ID (4),
// delimiters (1), reserved (3)) or MAC+PHY extension, which adds MCS (1) and
// number of spatial streams (1) after the delimiter count.
func (r *Radio) ppiHT(field []byte, withPHY bool) {
	if len(field) < 4 {
		return
	}
	flags := binary.LittleEndian.Uint32(field)
	r.PHY = PHY11n
	ht := &r.HT
	*ht = HTInfo{}
	ht.HasBandwidth = true
	if flags&ppiNHT40 != 0 {
		ht.Bandwidth = Bandwidth40MHz
	}
	ht.HasShortGI, ht.ShortGI = true, flags&ppiNShortGI != 0
	ht.HasGreenfield, ht.Greenfield = true, flags&ppiNGreenfield != 0
	if withPHY && len(field) >= 11 {
		ht.HasMCS, ht.MCS = true, field[9]
		// tshark 4.0 reports the spatial stream count as the number of
		// extension spatial streams.
		ht.HasNESS, ht.NESS = true, field[10]
	}
}
