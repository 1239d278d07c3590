package capture

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"strings"
)

// LinkType is a pcap link-layer header type (LINKTYPE_* in the tcpdump
// registry).
type LinkType uint32

// Link types that carry 802.11 frames.
const (
	LinkTypeIEEE80211         LinkType = 105
	LinkTypePrism             LinkType = 119
	LinkTypeIEEE80211Radiotap LinkType = 127
	LinkTypeAVS               LinkType = 163
	LinkTypePPI               LinkType = 192
)

// String returns the link type's name in the tcpdump registry.
func (lt LinkType) String() string {
	switch lt {
	case LinkTypeIEEE80211:
		return "IEEE802_11"
	case LinkTypePrism:
		return "IEEE802_11_PRISM"
	case LinkTypeIEEE80211Radiotap:
		return "IEEE802_11_RADIOTAP"
	case LinkTypeAVS:
		return "IEEE802_11_AVS"
	case LinkTypePPI:
		return "PPI"
	case 1:
		return "ETHERNET"
	case 0:
		return "NULL"
	case 101:
		return "RAW"
	case 113:
		return "LINUX_SLL"
	case 276:
		return "LINUX_SLL2"
	}
	return fmt.Sprintf("%d", uint32(lt))
}

// ParseLinkType parses a link type that carries 802.11 frames, by its
// number or by a name: radiotap, 802.11 (or ieee802_11), ppi, prism, avs, or
// the tcpdump registry name.
func ParseLinkType(s string) (LinkType, error) {
	names := map[string]LinkType{
		"radiotap": LinkTypeIEEE80211Radiotap, "802.11": LinkTypeIEEE80211, "ieee802_11": LinkTypeIEEE80211,
		"ppi": LinkTypePPI, "prism": LinkTypePrism, "avs": LinkTypeAVS,
	}
	key := strings.ToLower(s)
	if lt, ok := names[key]; ok {
		return lt, nil
	}
	for _, lt := range []LinkType{LinkTypeIEEE80211, LinkTypePrism, LinkTypeIEEE80211Radiotap, LinkTypeAVS, LinkTypePPI} {
		if strings.EqualFold(lt.String(), s) || fmt.Sprint(uint32(lt)) == s {
			return lt, nil
		}
	}
	return 0, fmt.Errorf("invalid link type %q: want radiotap (127), 802.11 (105), ppi (192), prism (119) or avs (163)", s)
}

// Supported reports whether the decoder handles the link type.
func (lt LinkType) Supported() bool {
	switch lt {
	case LinkTypeIEEE80211, LinkTypePrism, LinkTypeIEEE80211Radiotap, LinkTypeAVS, LinkTypePPI:
		return true
	}
	return false
}

// UnsupportedLinkTypeError is returned for link types that carry no 802.11.
type UnsupportedLinkTypeError struct{ LinkType LinkType }

func (e *UnsupportedLinkTypeError) Error() string {
	return fmt.Sprintf("link type %s (%d) carries no 802.11 frames; supported are 802.11 (105), Prism (119), radiotap (127), AVS (163) and PPI (192)",
		e.LinkType, uint32(e.LinkType))
}

// Decoder decodes capture records into Frames. It keeps state between the
// records of one capture file, because tshark computes the airtime of an
// A-MPDU subframe from the subframes before it; call Reset between files.
// A Decoder is not safe for concurrent use.
type Decoder struct {
	// CheckFCS verifies the frame check sequence, as tshark does with
	// wlan.check_checksum set; without it wlan.fcs.status is "unverified".
	CheckFCS bool
	// AssumeFCS treats frames whose radio header does not say as ending in an
	// FCS, as tshark does with wlan.check_fcs set.
	AssumeFCS bool

	frame  Frame
	number int
	agg    aggregateState
}

// aggregateState follows tshark's A-MPDU detection: consecutive HT or VHT
// frames whose radio headers report the same TSF (or a TSF of 0 after a
// non-zero one, or any TSF after the all-ones value) are subframes of one
// aggregate.
type aggregateState struct {
	hasTSF   bool
	tsf      uint64
	phy      PHY
	ht       HTInfo
	vht      VHTInfo
	length   int // bytes of the aggregate so far, as tshark counts them
	active   bool
	aggPHY   PHY
	aggHT    HTInfo
	aggVHT   VHTInfo
	hasRadio bool
}

// Reset forgets the state kept from earlier records, for a new file.
func (d *Decoder) Reset() {
	d.number = 0
	d.agg = aggregateState{}
}

// Decode decodes one record captured with link type lt at timestamp (Unix
// nanoseconds). data holds the captured bytes and length the bytes the frame
// had on the air. The returned Frame is reused by the next call.
func (d *Decoder) Decode(lt LinkType, timestamp int64, data []byte, length int) (*Frame, error) {
	f := &d.frame
	f.reset()
	f.Timestamp, f.LinkType = timestamp, lt
	f.CaptureLength, f.Length = len(data), length
	if length < len(data) {
		f.Length = len(data)
	}
	d.number++

	headerLen, ok := 0, true
	switch lt {
	case LinkTypeIEEE80211:
	case LinkTypeIEEE80211Radiotap:
		var result radiotapResult
		headerLen, result = decodeRadiotap(data, &f.Radio)
		switch result {
		case radiotapCut:
			ok = false
		case radiotapInvalid:
			f.Radio.reset()
			f.Radio.Present = true
		case radiotapOverrun:
			f.Malformed = true
		}
	case LinkTypePPI:
		headerLen, ok = decodePPI(data, &f.Radio)
	case LinkTypePrism:
		headerLen, ok = decodePrism(data, &f.Radio)
	case LinkTypeAVS:
		headerLen, ok = decodeAVS(data, &f.Radio)
	default:
		return nil, &UnsupportedLinkTypeError{LinkType: lt}
	}
	if !ok {
		// The radio header is cut off: tshark stops before the 802.11 frame
		// and reports no radio field either.
		f.Radio.reset()
		f.fail(bounds{captured: len(data), reported: f.Length}, headerLen)
		return f, nil
	}

	frameLen := f.Length - headerLen
	if f.Radio.Present {
		extra := 0
		if lt == LinkTypePPI {
			// tshark 4.0 counts 4 more bytes than follow a PPI header,
			// whether or not they end in an FCS, but only when it computes
			// the airtime, not when it adds up the length of an A-MPDU.
			extra = 4
		}
		d.radioDuration(f, frameLen, extra)
	}
	d.decodeMACWithFCS(f, data[headerLen:], frameLen)
	return f, nil
}

// decodeMACWithFCS cuts the FCS off the MAC frame when the radio header says
// there is one, and decodes the rest.
func (d *Decoder) decodeMACWithFCS(f *Frame, mac []byte, reported int) {
	fcsLen := f.Radio.FCSLen
	if fcsLen < 0 {
		fcsLen = 0
		if d.AssumeFCS {
			fcsLen = 4
		}
	}
	if fcsLen == 4 && reported >= 4 {
		reported -= 4
		body := mac
		if len(body) > reported {
			body = body[:reported]
		}
		if len(mac) >= reported+4 {
			f.HasFCS = true
			f.FCS = binary.LittleEndian.Uint32(mac[reported:])
			f.FCSStatus = FCSUnverified
			if d.CheckFCS {
				f.FCSStatus = FCSBad
				if crc32.ChecksumIEEE(body) == f.FCS {
					f.FCSStatus = FCSGood
				}
			}
		}
		mac = body
	}
	f.decodeMAC(mac, reported, f.Radio.DataPad)
}

// radioDuration computes wlan_radio.duration, following tshark's A-MPDU
// detection across consecutive records.
func (d *Decoder) radioDuration(f *Frame, frameLen, extra int) {
	r := &f.Radio
	a := &d.agg
	prior := 0
	effective := *r
	aggregated := d.number > 1 && (r.PHY == PHY11n || r.PHY == PHY11ac) && a.hasRadio &&
		r.PHY == a.phy && r.HasTSF && a.hasTSF &&
		(r.TSF == a.tsf || (!a.active && a.tsf != 0 && r.TSF == 0) || a.tsf == math.MaxUint64)
	if aggregated {
		if !a.active {
			a.active = true
			a.aggPHY, a.aggHT, a.aggVHT = a.phy, a.ht, a.vht
		}
		if a.length%4 != 0 {
			a.length = (a.length | 3) + 1
		}
		a.length += 4 // A-MPDU delimiter
		prior = a.length
		a.length += frameLen
		switch r.PHY {
		case PHY11n:
			if r.HT.HasMCS && a.aggHT.HasMCS && r.HT.MCS > a.aggHT.MCS {
				a.aggHT = r.HT
			}
		case PHY11ac:
			if r.VHT.MCS[0] > a.aggVHT.MCS[0] {
				a.aggVHT = r.VHT
			}
		}
		effective.PHY, effective.HT, effective.VHT = a.aggPHY, a.aggHT, a.aggVHT
	} else {
		a.active = false
		a.length = frameLen
	}
	a.hasRadio = true
	a.hasTSF, a.tsf, a.phy, a.ht, a.vht = r.HasTSF, r.TSF, r.PHY, r.HT, r.VHT

	if duration, _, ok := effective.duration(frameLen+extra, prior); ok {
		f.HasDuration, f.Duration = true, duration
	}
}
