package capture

import "math"

// PHY is the physical layer type of a received frame, numbered as
// tshark's wlan_radio.phy field numbers it.
type PHY uint8

// PHY types known to the radio pseudo-header.
const (
	PHYUnknown PHY = 0
	PHYFHSS    PHY = 1
	PHYIR      PHY = 2
	PHYDSSS    PHY = 3
	PHY11b     PHY = 4
	PHY11a     PHY = 5
	PHY11g     PHY = 6
	PHY11n     PHY = 7
	PHY11ac    PHY = 8
	PHY11ad    PHY = 9
	PHY11ah    PHY = 10
	PHY11ax    PHY = 11
)

// Bandwidth codes of the radio pseudo-header (tshark's wlan_radio.11n.bandwidth
// and wlan_radio.11ac.bandwidth values).
const (
	Bandwidth20MHz = 0
	Bandwidth40MHz = 1
)

// Radio is the radio information that a link-layer header (radiotap, PPI,
// Prism or AVS) carries about a received frame. It plays the part of
// Wireshark's 802.11 pseudo-header: every field has a Has flag because each
// header format supplies a different subset.
type Radio struct {
	// Present is true when the frame came with a radio header at all, even if
	// that header supplied no field (tshark then still shows wlan_radio).
	Present bool

	HasFrequency bool
	Frequency    uint16 // MHz
	HasChannel   bool
	Channel      uint16

	HasSignalDBm bool
	SignalDBm    int16
	HasNoiseDBm  bool
	NoiseDBm     int16

	HasDataRate bool
	DataRate    uint16 // in units of 500 kb/s

	HasTSF bool
	TSF    uint64

	PHY              PHY
	HasShortPreamble bool
	ShortPreamble    bool

	HT  HTInfo
	VHT VHTInfo

	// FCSLen is 4 when the header says the frame ends with an FCS, 0 when it
	// says there is none, and -1 when it does not say.
	FCSLen int

	// DataPad is radiotap's "frame has padding between the 802.11 header and
	// the payload" flag.
	DataPad bool

	// AntennaSignals lists every dBm antenna signal in header order
	// (radiotap.dbm_antsignal); SignalDBm is the last of them, as tshark 4.0
	// reports it.
	AntennaSignals []int8
}

func (r *Radio) reset() {
	signals := r.AntennaSignals[:0]
	*r = Radio{FCSLen: -1, AntennaSignals: signals}
}

// HTInfo holds the 802.11n (HT) parameters of a received frame.
type HTInfo struct {
	HasMCS, HasBandwidth, HasShortGI, HasGreenfield bool
	HasFEC, HasSTBC, HasNESS                        bool
	MCS, Bandwidth                                  uint8
	ShortGI, Greenfield                             bool
	FEC, STBCStreams, NESS                          uint8
}

// VHTInfo holds the 802.11ac (VHT) parameters of a received frame, with MCS
// and number of spatial streams for each of up to four users.
type VHTInfo struct {
	HasSTBC, HasShortGI, HasBandwidth bool
	STBC, ShortGI                     bool
	Bandwidth                         uint8
	MCS, NSS                          [4]uint8
}

// channelRange maps a frequency range in MHz onto channel numbers 5 MHz apart.
type channelRange struct {
	minMHz, maxMHz uint16
	firstChannel   int
	band24         bool // a 2.4 GHz (802.11b/g) range
}

// channelRanges lists the bands tshark 4.0 converts. The 5 GHz band ends at
// 5925 MHz and the 6 GHz band starts at 5950 MHz (channel 0), so 5955 MHz is
// channel 1, not 191; frequencies between bands have no channel.
var channelRanges = []channelRange{
	{2412, 2472, 1, true},
	{2484, 2484, 14, true},
	{5000, 5925, 0, false},
	{5950, 7125, 0, false},
	{4910, 4980, 182, false},
}

// ChannelFromMHz returns the IEEE 802.11 channel number of a centre
// frequency, and false when the frequency lies in no band tshark 4.0 knows.
func ChannelFromMHz(mhz uint16) (int, bool) {
	for _, band := range channelRanges {
		if mhz >= band.minMHz && mhz <= band.maxMHz {
			return int(mhz-band.minMHz)/5 + band.firstChannel, true
		}
	}
	return 0, false
}

// MHzFromChannel returns the centre frequency of a channel number in the
// 2.4 GHz band (band24) or in the 5 and 6 GHz bands, trying the ranges in
// the order tshark 4.0 does, and false when no range holds the channel.
func MHzFromChannel(channel int, band24 bool) (uint16, bool) {
	for _, band := range channelRanges {
		last := band.firstChannel + int(band.maxMHz-band.minMHz)/5
		if band.band24 == band24 && channel >= band.firstChannel && channel <= last {
			return band.minMHz + uint16(channel-band.firstChannel)*5, true
		}
	}
	return 0, false
}

// htDataBitsPerSymbol is the number of data bits per OFDM symbol at 20 MHz for
// each HT MCS index 0-76 (IEEE 802.11-2020 tables 19-27 to 19-41).
var htDataBitsPerSymbol = [77]uint16{
	26, 52, 78, 104, 156, 208, 234, 260,
	52, 104, 156, 208, 312, 416, 468, 520,
	78, 156, 234, 312, 468, 624, 702, 780,
	104, 208, 312, 416, 624, 832, 936, 1040,
	12,
	156, 208, 260, 234, 312, 390,
	208, 260, 260, 312, 364, 364, 416, 312, 390, 390, 468, 546, 546, 624,
	260, 312, 364, 312, 364, 416, 468, 416, 468, 520, 520, 572,
	390, 468, 546, 468, 546, 624, 702, 624, 702, 780, 780, 858,
}

// htSpatialStreams is the number of spatial streams of each HT MCS index.
var htSpatialStreams = [77]uint8{
	1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4,
	1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
}

// htEncoders is the number of BCC encoders (N_ES) of each HT MCS index.
var htEncoders = [77]uint8{
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2,
	1,
	1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2,
}

// vhtDataBitsPerSymbol is the number of data bits per symbol of each VHT MCS
// on 52 subcarriers; MCS 9 is fractional at 20 MHz.
var vhtDataBitsPerSymbol = [10]float32{26, 52, 78, 104, 156, 208, 234, 260, 312, float32(1040 / 3.0)}

// vhtSubcarriers is the number of data subcarriers at 20, 40, 80 and 160 MHz.
var vhtSubcarriers = [4]uint32{52, 108, 234, 468}

// vhtBandwidthIndex maps a radiotap VHT bandwidth code (0-25) onto an index
// of vhtSubcarriers.
var vhtBandwidthIndex = [26]uint8{
	0,
	1, 0, 0,
	2, 1, 1, 0, 0, 0, 0,
	3, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
}

// vhtInvalid lists the VHT MCS/bandwidth/NSS combinations that the standard
// does not define, as [mcs][bandwidth index] bit sets of NSS-1.
var vhtInvalid = map[[2]uint8]uint8{
	{6, 2}: 1<<2 | 1<<6,
	{9, 0}: 0xff &^ (1<<2 | 1<<5),
	{9, 2}: 1 << 5,
	{9, 3}: 1 << 2,
}

func htRate(mcs uint8, bandwidth40, shortGI bool) float32 {
	subcarriers := 52
	if bandwidth40 {
		subcarriers = 108
	}
	symbolTime := 4.0
	if shortGI {
		symbolTime = 3.6
	}
	return float32(float64(int(htDataBitsPerSymbol[mcs])*subcarriers) / 52.0 / symbolTime)
}

func vhtRate(mcs, bandwidthIndex uint8, shortGI bool) float32 {
	symbolTime := 4.0
	if shortGI {
		symbolTime = 3.6
	}
	product := vhtDataBitsPerSymbol[mcs] * float32(vhtSubcarriers[bandwidthIndex])
	return float32(float64(product) / symbolTime / 52.0)
}

// dataRate returns the data rate in Mb/s as tshark 4.0 derives it: from the
// legacy rate, replaced by the HT or VHT rate when those parameters allow.
func (r *Radio) dataRate() (float32, bool) {
	var rate float32
	have := false
	if r.HasDataRate {
		rate = float32(r.DataRate) * 0.5
		have = true
	}
	switch r.PHY {
	case PHY11n:
		ht := &r.HT
		if ht.HasMCS && ht.HasBandwidth && ht.HasShortGI && ht.MCS < 76 {
			rate = htRate(ht.MCS, ht.Bandwidth == Bandwidth40MHz, ht.ShortGI)
			have = true
		}
	case PHY11ac:
		vht := &r.VHT
		if !vht.HasShortGI || !vht.HasBandwidth || int(vht.Bandwidth) >= len(vhtBandwidthIndex) {
			break
		}
		bw := vhtBandwidthIndex[vht.Bandwidth]
		for user := 0; user < 4; user++ {
			mcs, nss := vht.MCS[user], vht.NSS[user]
			if nss == 0 || mcs > 9 || nss > 8 || vhtInvalid[[2]uint8{mcs, bw}]&(1<<(nss-1)) != 0 {
				continue
			}
			userRate := vhtRate(mcs, bw, vht.ShortGI) * float32(nss)
			if userRate != 0 {
				rate = userRate
				have = true
			}
		}
	}
	return rate, have
}

// Duration returns the airtime of the frame in microseconds, computed the way
// tshark 4.0 computes wlan_radio.duration from the frame length (reported
// length of the 802.11 part), the data rate and the PHY. It returns false
// when the radio header gives no usable rate.
//
// NOTE: tshark also detects A-MPDU aggregates from repeated TSF values and
// then charges the preamble to the first subframe only. That needs the
// previous frame and is done by Decoder, which calls this with the aggregate
// offset; see aggregateState.
func (r *Radio) Duration(frameLen int) (int, bool) {
	d, _, ok := r.duration(frameLen, 0)
	return d, ok
}

// duration computes the airtime of a frame that follows priorBytes of earlier
// A-MPDU subframes (0 when not aggregated). It also returns the preamble time
// that the first subframe of an aggregate carries.
func (r *Radio) duration(frameLen, priorBytes int) (duration int, preamble int, ok bool) {
	rate, have := r.dataRate()
	if !have || rate <= 0 {
		return 0, 0, false
	}
	phy := r.PHY
	switch {
	case phy == PHY11g && isDSSSRate(rate):
		phy = PHY11b
	case phy == PHYUnknown && isDSSSRate(rate):
		phy = PHY11b
	case phy == PHYUnknown && isOFDMRate(rate):
		phy = PHY11a
	}

	switch phy {
	case PHY11b:
		preamble := 72 + 24
		if r.HasShortPreamble && !r.ShortPreamble {
			preamble = 144 + 48
		}
		airtime := float32(preamble) + float32(uint32(frameLen)*8)/rate
		return int(math.Ceil(float64(airtime))), preamble, true

	case PHY11a, PHY11g:
		bits := uint32(16 + 8*frameLen + 6)
		symbols := uint32(math.Ceil(float64(float32(bits) / (rate * 4))))
		return int(20 + symbols*4), 20, true

	case PHY11n:
		return r.htDuration(frameLen, priorBytes)

	case PHY11ac:
		vht := &r.VHT
		streams := 1
		if vht.HasSTBC && vht.STBC {
			streams = 2
		}
		preamble := 32 + 4*int(vht.NSS[0])*streams
		own := vhtDataTime(frameLen+priorBytes, rate)
		if priorBytes == 0 {
			return preamble + own, preamble, true
		}
		return own - vhtDataTime(priorBytes, rate), preamble, true
	}
	return 0, 0, false
}

func (r *Radio) htDuration(frameLen, priorBytes int) (int, int, bool) {
	ht := &r.HT
	if !ht.HasMCS || ht.MCS > 76 || !ht.HasBandwidth || !ht.HasShortGI {
		return 0, 0, false
	}
	// A frame with MCS 76 passes the check above but has no table row; tshark
	// reads past its tables there. Treat it as having no duration.
	if ht.MCS >= 76 {
		return 0, 0, false
	}
	ltfData := [4]int{1, 2, 4, 4}
	ltfExtension := [4]int{0, 1, 2, 4}
	preamble := 32
	if ht.HasGreenfield && ht.Greenfield {
		preamble = 24
	}
	stbc := 0
	if ht.HasSTBC {
		stbc = int(ht.STBCStreams)
	}
	ness := 0
	if ht.HasNESS {
		ness = int(ht.NESS)
		if ness >= len(ltfExtension) {
			return 0, 0, false
		}
	}
	streams := int(htSpatialStreams[ht.MCS]) + stbc
	if streams == 0 || streams-1 >= len(ltfData) {
		return 0, 0, false
	}
	preamble += 4 * (ltfData[streams-1] + ltfExtension[ness])
	own := htDataTime(frameLen+priorBytes, ht, stbc)
	if priorBytes == 0 {
		return preamble + own, preamble, true
	}
	return own - htDataTime(priorBytes, ht, stbc), preamble, true
}

// htDataTime is the duration of the HT data field for length bytes with BCC
// coding, in microseconds rounded to the nearest whole one.
func htDataTime(length int, ht *HTInfo, stbc int) int {
	bits := uint32(8*length + 16 + int(htEncoders[ht.MCS])*6)
	mstbc := uint32(1)
	if stbc != 0 {
		mstbc = 2
	}
	bitsPerSymbol := uint32(htDataBitsPerSymbol[ht.MCS])
	if ht.Bandwidth == Bandwidth40MHz {
		bitsPerSymbol *= 2
	}
	symbols := bits / (bitsPerSymbol * mstbc)
	if bits%(bitsPerSymbol*mstbc) > 0 {
		symbols++
	}
	symbols *= mstbc
	symbolTenths := uint32(40)
	if ht.ShortGI {
		symbolTenths = 36
	}
	return int((symbols*symbolTenths + 5) / 10)
}

func vhtDataTime(length int, rate float32) int {
	bits := uint32(8*length + 16)
	return int(uint32(float32(bits) / rate))
}

func isDSSSRate(rate float32) bool {
	switch rate {
	case 1, 2, 5.5, 11, 22, 33:
		return true
	}
	return false
}

func isOFDMRate(rate float32) bool {
	switch rate {
	case 6, 9, 12, 18, 24, 36, 48, 54:
		return true
	}
	return false
}

// ReportedPHY returns the PHY type tshark 4.0 reports as wlan_radio.phy. When
// the header names no PHY, or an 802.11g one at a DSSS rate, tshark infers it
// from the data rate: a DSSS/CCK rate means 802.11b, an OFDM rate 802.11g in
// the 2.4 GHz band and 802.11a above it.
func (r *Radio) ReportedPHY() PHY {
	rate, ok := r.dataRate()
	if !ok || rate <= 0 {
		return r.PHY
	}
	switch {
	case (r.PHY == PHY11g || r.PHY == PHYUnknown) && isDSSSRate(rate):
		return PHY11b
	case r.PHY == PHYUnknown && isOFDMRate(rate) && r.HasFrequency:
		if r.Frequency <= 2484 {
			return PHY11g
		}
		return PHY11a
	}
	return r.PHY
}
