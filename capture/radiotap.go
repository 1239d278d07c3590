package capture

import "encoding/binary"

// Radiotap presence bits (https://www.radiotap.org/fields/defined).
const (
	radiotapTSFT         = 0
	radiotapFlags        = 1
	radiotapRate         = 2
	radiotapChannel      = 3
	radiotapDBmAntSignal = 5
	radiotapDBmAntNoise  = 6
	radiotapMCS          = 19
	radiotapVHT          = 21
	radiotapHE           = 23
	radiotapNamespace    = 29
	radiotapVendorNS     = 30
	radiotapExt          = 31
)

// Radiotap flags field bits.
const (
	radiotapFlagShortPreamble = 0x02
	radiotapFlagFCS           = 0x10
	radiotapFlagDataPad       = 0x20
)

// radiotapFieldLayout gives the alignment and size in bytes of each field of
// the default radiotap namespace, indexed by presence bit. A zero alignment
// marks a bit with no defined field: nothing after it can be located.
var radiotapFieldLayout = [29]struct{ align, size int }{
	{8, 8},  // 0 TSFT
	{1, 1},  // 1 Flags
	{1, 1},  // 2 Rate
	{2, 4},  // 3 Channel
	{2, 2},  // 4 FHSS
	{1, 1},  // 5 dBm antenna signal
	{1, 1},  // 6 dBm antenna noise
	{2, 2},  // 7 Lock quality
	{2, 2},  // 8 TX attenuation
	{2, 2},  // 9 dB TX attenuation
	{1, 1},  // 10 dBm TX power
	{1, 1},  // 11 Antenna
	{1, 1},  // 12 dB antenna signal
	{1, 1},  // 13 dB antenna noise
	{2, 2},  // 14 RX flags
	{2, 2},  // 15 TX flags
	{1, 1},  // 16 RTS retries
	{1, 1},  // 17 data retries
	{4, 8},  // 18 XChannel
	{1, 3},  // 19 MCS
	{4, 8},  // 20 A-MPDU status
	{2, 12}, // 21 VHT
	{8, 12}, // 22 timestamp
	{2, 12}, // 23 HE
	{2, 12}, // 24 HE-MU
	{2, 6},  // 25 HE-MU-other-user
	{1, 1},  // 26 0-length PSDU
	{2, 4},  // 27 L-SIG
	{0, 0},  // 28 TLVs: variable, not walked
}

// radiotapResult is how far a radiotap header could be decoded.
type radiotapResult uint8

const (
	// radiotapOK: every field was read; the 802.11 frame follows the header.
	radiotapOK radiotapResult = iota
	// radiotapInvalid: the version is unknown, the header is shorter than 8
	// bytes or its presence words run past it. No field is read, but the
	// 802.11 frame is still decoded from the header length on, as tshark does.
	radiotapInvalid
	// radiotapOverrun: a field claimed by the presence words lies past the
	// header length. Fields before it are kept and the frame is malformed.
	radiotapOverrun
	// radiotapCut: fewer bytes were captured than the header length, so
	// there is no 802.11 frame to decode. The returned length is the one the
	// header claims.
	radiotapCut
)

// decodeRadiotap reads a radiotap header into r and returns the header length,
// which is where the 802.11 frame starts.
func decodeRadiotap(data []byte, r *Radio) (int, radiotapResult) {
	r.Present = true
	if len(data) < 4 {
		return 4, radiotapCut
	}
	headerLen := int(binary.LittleEndian.Uint16(data[2:4]))
	if headerLen > len(data) {
		return headerLen, radiotapCut
	}
	if data[0] != 0 || headerLen < 8 {
		return headerLen, radiotapInvalid
	}
	header := data[:headerLen]

	// Find the end of the chain of presence words.
	words := 1
	for binary.LittleEndian.Uint32(header[4+4*(words-1):])&(1<<radiotapExt) != 0 {
		if 4+4*(words+1) > headerLen {
			return headerLen, radiotapInvalid
		}
		words++
	}

	offset := 4 + 4*words
	inRadiotap := true // the current namespace is the default radiotap one
	nsWord := 0        // index of the current word within its namespace
	for w := 0; w < words; w++ {
		present := binary.LittleEndian.Uint32(header[4+4*w:])
		if inRadiotap {
			for bit := 0; bit < 29; bit++ {
				if present&(1<<bit) == 0 {
					continue
				}
				if nsWord > 0 || radiotapFieldLayout[bit].align == 0 {
					// A field tshark 4.0 cannot size: everything after it is
					// skipped.
					return headerLen, radiotapOK
				}
				layout := radiotapFieldLayout[bit]
				offset = (offset + layout.align - 1) &^ (layout.align - 1)
				if offset+layout.size > headerLen {
					return headerLen, radiotapOverrun
				}
				r.radiotapField(bit, header[offset:offset+layout.size])
				offset += layout.size
			}
		}
		switch {
		case present&(1<<radiotapNamespace) != 0:
			inRadiotap, nsWord = true, 0
		case present&(1<<radiotapVendorNS) != 0:
			// A vendor namespace starts with OUI (3), sub-namespace (1) and
			// skip length (2), aligned to 2 bytes; its data is skipped.
			offset = (offset + 1) &^ 1
			if offset+6 > headerLen {
				return headerLen, radiotapOverrun
			}
			skip := int(binary.LittleEndian.Uint16(header[offset+4:]))
			offset += 6 + skip
			inRadiotap, nsWord = false, 0
		default:
			nsWord++
		}
	}
	return headerLen, radiotapOK
}

// radiotapField stores one radiotap field.
func (r *Radio) radiotapField(bit int, field []byte) {
	switch bit {
	case radiotapTSFT:
		r.HasTSF, r.TSF = true, binary.LittleEndian.Uint64(field)
	case radiotapFlags:
		flags := field[0]
		// tshark takes the preamble from the Flags field whatever the PHY.
		r.HasShortPreamble, r.ShortPreamble = true, flags&radiotapFlagShortPreamble != 0
		if flags&radiotapFlagFCS != 0 {
			r.FCSLen = 4
		} else {
			r.FCSLen = 0
		}
		r.DataPad = flags&radiotapFlagDataPad != 0
	case radiotapRate:
		r.HasDataRate, r.DataRate = true, uint16(field[0])
	case radiotapChannel:
		r.radiotapChannel(binary.LittleEndian.Uint16(field), binary.LittleEndian.Uint16(field[2:]))
	case radiotapDBmAntSignal:
		r.HasSignalDBm, r.SignalDBm = true, int16(int8(field[0]))
		r.AntennaSignals = append(r.AntennaSignals, int8(field[0]))
	case radiotapDBmAntNoise:
		r.HasNoiseDBm, r.NoiseDBm = true, int16(int8(field[0]))
	case radiotapMCS:
		r.radiotapMCS(field[0], field[1], field[2])
	case radiotapVHT:
		r.radiotapVHT(field)
	case radiotapHE:
		r.PHY = PHY11ax
	}
}

// Radiotap channel flags.
const (
	chanPassive = 0x0200
	chanGSM     = 0x1000
	chanFlag8   = 0x0008

	chanFHSS   = 0x0880 // 2 GHz, GFSK
	chanDSSS   = 0x0080 // 2 GHz, no modulation flag
	chanB      = 0x00a0 // 2 GHz, CCK
	chanPureG  = 0x00c0 // 2 GHz, OFDM
	chan108G   = 0x00d0 // 2 GHz, OFDM, turbo
	chanG      = 0x0480 // 2 GHz, dynamic CCK-OFDM
	chanA      = 0x0140 // 5 GHz, OFDM
	chan108A   = 0x0150 // 5 GHz, OFDM, turbo
	chanIgnore = chanPassive | chanGSM | chanFlag8
)

// radiotapChannel stores the Channel field. tshark 4.0 sets the PHY only for
// the exact flag combinations below, ignoring the passive, GSM and 0x0008
// bits; any other combination leaves the PHY unknown.
func (r *Radio) radiotapChannel(mhz, channelFlags uint16) {
	r.setFrequency(mhz)
	switch channelFlags &^ chanIgnore {
	case chanFHSS:
		r.PHY = PHYFHSS
	case chanDSSS:
		r.PHY = PHYDSSS
	case chanB:
		r.PHY = PHY11b
	case chanPureG, chan108G, chanG:
		r.PHY = PHY11g
	case chanA, chan108A:
		r.PHY = PHY11a
	}
}

func (r *Radio) setFrequency(mhz uint16) {
	if mhz == 0 {
		return
	}
	r.HasFrequency, r.Frequency = true, mhz
	if channel, ok := ChannelFromMHz(mhz); ok {
		r.HasChannel, r.Channel = true, uint16(channel)
	}
}

// Radiotap MCS field "known" bits.
const (
	mcsKnownBandwidth = 0x01
	mcsKnownIndex     = 0x02
	mcsKnownGI        = 0x04
	mcsKnownFormat    = 0x08
	mcsKnownFEC       = 0x10
	mcsKnownSTBC      = 0x20
	mcsKnownNESS      = 0x40
	mcsNESSHighBit    = 0x80
)

func (r *Radio) radiotapMCS(known, flags, index uint8) {
	r.PHY = PHY11n
	ht := &r.HT
	*ht = HTInfo{}
	if known&mcsKnownBandwidth != 0 {
		ht.HasBandwidth, ht.Bandwidth = true, flags&0x03
	}
	if known&mcsKnownIndex != 0 {
		ht.HasMCS, ht.MCS = true, index
	}
	// tshark 4.0 assumes a long guard interval when the field does not say.
	ht.HasShortGI = true
	ht.ShortGI = known&mcsKnownGI != 0 && flags&0x04 != 0
	if known&mcsKnownFormat != 0 {
		ht.HasGreenfield, ht.Greenfield = true, flags&0x08 != 0
	}
	if known&mcsKnownFEC != 0 {
		ht.HasFEC, ht.FEC = true, (flags>>4)&1
	}
	if known&mcsKnownSTBC != 0 {
		ht.HasSTBC, ht.STBCStreams = true, (flags>>5)&0x03
	}
	if known&mcsKnownNESS != 0 {
		ht.HasNESS, ht.NESS = true, (known&mcsNESSHighBit)>>6|(flags&0x80)>>7
	}
}

// Radiotap VHT field "known" bits.
const (
	vhtKnownSTBC      = 0x0001
	vhtKnownGI        = 0x0004
	vhtKnownBandwidth = 0x0040
)

func (r *Radio) radiotapVHT(field []byte) {
	r.PHY = PHY11ac
	vht := &r.VHT
	*vht = VHTInfo{}
	known := binary.LittleEndian.Uint16(field)
	flags := field[2]
	if known&vhtKnownSTBC != 0 {
		vht.HasSTBC, vht.STBC = true, flags&0x01 != 0
	}
	if known&vhtKnownGI != 0 {
		vht.HasShortGI, vht.ShortGI = true, flags&0x04 != 0
	}
	if known&vhtKnownBandwidth != 0 {
		vht.HasBandwidth, vht.Bandwidth = true, field[3]
	}
	for user := 0; user < 4; user++ {
		vht.MCS[user] = field[4+user] >> 4
		vht.NSS[user] = field[4+user] & 0x0f
	}
}
