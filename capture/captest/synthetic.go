package captest

import (
	"encoding/binary"
	"fmt"
)

// Capture is a named set of records of one link type.
type Capture struct {
	Name     string
	LinkType uint32
	Records  []Record
}

// Link types.
const (
	linkIEEE80211 = 105
	linkPrism     = 119
	linkRadiotap  = 127
	linkAVS       = 163
	linkPPI       = 192
)

// Synthetic returns generated captures that sweep the rules a decoder must
// follow to agree with tshark: channel numbering, PHY and airtime
// computation, radio header edge cases, address roles, truncation at every
// length, element and vendor element handling, Action frame layouts, EAPOL
// key data, and the PPI, Prism and AVS headers.
func Synthetic() []Capture {
	return []Capture{
		{"synthetic-radiotap-channels.pcap", linkRadiotap, radiotapChannels()},
		{"synthetic-radiotap-phy.pcap", linkRadiotap, radiotapPHY()},
		{"synthetic-radiotap-ht.pcap", linkRadiotap, radiotapHT()},
		{"synthetic-radiotap-vht.pcap", linkRadiotap, radiotapVHT()},
		{"synthetic-radiotap-ampdu.pcap", linkRadiotap, radiotapAggregates()},
		{"synthetic-radiotap-headers.pcap", linkRadiotap, radiotapHeaders()},
		{"synthetic-truncated.pcap", linkIEEE80211, truncations()},
		{"synthetic-address-roles.pcap", linkIEEE80211, addressRoles()},
		{"synthetic-elements.pcap", linkIEEE80211, elements()},
		{"synthetic-vendor.pcap", linkIEEE80211, vendorElements()},
		{"synthetic-action.pcap", linkIEEE80211, actionFrames()},
		{"synthetic-eapol.pcap", linkIEEE80211, eapolFrames()},
		{"synthetic-ppi.pcap", linkPPI, ppiFrames()},
		{"synthetic-prism.pcap", linkPrism, prismFrames()},
		{"synthetic-avs.pcap", linkAVS, avsFrames()},
	}
}

var ack = Control(13, 0, AddrSTA, nil, nil)

func probeRequest(elements ...[]byte) []byte {
	return Management(4, 0, Broadcast, AddrRand, Broadcast, Cat(elements...))
}

func beacon(elements ...[]byte) []byte {
	fixed := make([]byte, 12)
	return Management(8, 0, Broadcast, AddrAP, AddrAP, Cat(append([][]byte{fixed}, elements...)...))
}

func radiotapChannels() []Record {
	var out []Record
	rate := U8(2)
	for _, ranges := range [][2]int{{2300, 2500}, {4890, 5010}, {5900, 6000}, {7080, 7200}} {
		for mhz := ranges[0]; mhz <= ranges[1]; mhz++ {
			out = append(out, Record{Data: Cat(Radiotap{Rate: rate, Frequency: uint16(mhz)}.Bytes(), ack)})
		}
	}
	for _, mhz := range []uint16{1, 2407, 5000, 5005, 5925, 5930, 5950, 5955, 6000, 7125, 7126, 65535} {
		out = append(out, Record{Data: Cat(Radiotap{Frequency: mhz, ChannelFlags: 0x0140}.Bytes(), ack)})
	}
	return out
}

func radiotapPHY() []Record {
	var out []Record
	channelFlags := []uint16{0, 0x0001, 0x0080, 0x00a0, 0x00a8, 0x00c0, 0x00d0, 0x0480, 0x0140, 0x0141, 0x0148,
		0x0150, 0x0880, 0x0280, 0x1140, 0x4140, 0x8140, 0x20c0, 0x00e0, 0x04a0, 0x0490}
	rates := []uint8{2, 4, 11, 12, 18, 22, 44, 66, 108, 131, 0}
	frames := [][]byte{ack, probeRequest(Element(0, []byte("wifiq")), Element(1, []byte{2, 4, 11, 22}))}
	for _, cf := range channelFlags {
		for _, mhz := range []uint16{2437, 5180, 0} {
			for _, rate := range rates {
				for _, flags := range []*uint8{nil, U8(0x00), U8(0x02), U8(0x10)} {
					for _, frame := range frames {
						rt := Radiotap{Flags: flags, Rate: U8(rate), Frequency: mhz, ChannelFlags: cf}
						if rate == 0 {
							rt.Rate = nil
						}
						data := Cat(rt.Bytes(), frame)
						if flags != nil && *flags&0x10 != 0 {
							data = append(data, 0xde, 0xad, 0xbe, 0xef)
						}
						out = append(out, Record{Data: data})
					}
				}
			}
		}
	}
	return out
}

func radiotapHT() []Record {
	var out []Record
	lengths := []int{0, 40, 1500}
	for _, mcs := range []uint8{0, 1, 7, 8, 15, 23, 31, 32, 33, 52, 75, 76, 77, 200} {
		for _, known := range []uint8{0x07, 0x1f, 0x3f, 0x7f, 0xff, 0x02, 0x03, 0x06} {
			for _, flags := range []uint8{0x00, 0x01, 0x04, 0x05, 0x08, 0x10, 0x20, 0x40, 0x60, 0x80, 0x02, 0x03} {
				for _, n := range lengths {
					body := make([]byte, n)
					rt := Radiotap{TSFT: U64(uint64(len(out)) + 1000), Flags: U8(0), Frequency: 5180, ChannelFlags: 0x0140, MCS: &[3]byte{known, flags, mcs}}
					data := Cat(rt.Bytes(), Data(0, 0x01, AddrAP, AddrSTA, AddrOther, nil, nil, body))
					out = append(out, Record{Data: data})
				}
			}
		}
	}
	return out
}

func radiotapVHT() []Record {
	var out []Record
	for _, bw := range []uint8{0, 1, 2, 3, 4, 5, 7, 10, 11, 12, 18, 25, 26} {
		for _, mcsNSS := range []uint8{0x01, 0x11, 0x72, 0x83, 0x94, 0x91, 0x61, 0x63, 0xa1, 0x09, 0x00} {
			for _, known := range []uint16{0x0045, 0x0044, 0x0041, 0x0004, 0x01ff} {
				for _, flags := range []uint8{0x00, 0x01, 0x04, 0x05} {
					vht := [12]byte{}
					binary.LittleEndian.PutUint16(vht[:], known)
					vht[2], vht[3], vht[4] = flags, bw, mcsNSS
					rt := Radiotap{TSFT: U64(uint64(len(out)) + 7), Flags: U8(0), Frequency: 5500, ChannelFlags: 0x0140, VHT: &vht}
					out = append(out, Record{Data: Cat(rt.Bytes(), Data(8, 0x02, AddrSTA, AddrAP, AddrOther, nil, []byte{0, 0}, make([]byte, 300)))})
				}
			}
		}
	}
	return out
}

// radiotapAggregates repeats TSF values the way A-MPDU subframes report
// them (Broadcom: same TSF; Intel: TSF then 0; QCA: all-ones then the end).
func radiotapAggregates() []Record {
	var out []Record
	ht := func(tsf uint64, mcs uint8, n int) Record {
		rt := Radiotap{TSFT: U64(tsf), Flags: U8(0x10), Frequency: 2437, ChannelFlags: 0x00c0, MCS: &[3]byte{0x07, 0x04, mcs}}
		return Record{Data: Cat(rt.Bytes(), Data(8, 0x02, AddrSTA, AddrAP, AddrOther, nil, []byte{0, 0}, make([]byte, n)), []byte{1, 2, 3, 4})}
	}
	vht := func(tsf uint64, mcsNSS uint8, n int) Record {
		v := [12]byte{0x45, 0x00, 0x04, 0x04, mcsNSS}
		rt := Radiotap{TSFT: U64(tsf), Flags: U8(0), Frequency: 5180, ChannelFlags: 0x0140, VHT: &v}
		return Record{Data: Cat(rt.Bytes(), Data(8, 0x02, AddrSTA, AddrAP, AddrOther, nil, []byte{0, 0}, make([]byte, n)))}
	}
	out = append(out, ht(1000, 7, 100), ht(1000, 7, 1500), ht(1000, 5, 33), ht(1000, 9, 7))
	out = append(out, ht(2000, 3, 200), ht(0, 3, 300), ht(0, 3, 10), ht(3000, 3, 10))
	out = append(out, ht(^uint64(0), 4, 100), ht(^uint64(0), 4, 101), ht(5000, 4, 102), ht(5000, 4, 103))
	out = append(out, vht(9000, 0x91, 400), vht(9000, 0x91, 1400), vht(9000, 0x92, 3), vht(9100, 0x91, 3))
	out = append(out, ht(9100, 7, 50), vht(9100, 0x91, 50), vht(9100, 0x91, 60))
	return out
}

// radiotapHeaders holds radiotap headers that are cut short, claim fields
// past their end, never end their presence chain, use vendor namespaces or an
// unknown version, each followed by a probe request.
func radiotapHeaders() []Record {
	probe := probeRequest(Element(0, nil))
	var out []Record
	le32 := func(v ...uint32) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, x)
		}
		return b
	}
	header := func(version byte, length int, words []uint32, fields []byte) []byte {
		h := append([]byte{version, 0, byte(length), byte(length >> 8)}, le32(words...)...)
		return append(h, fields...)
	}
	good := Radiotap{Flags: U8(0), Rate: U8(2), Frequency: 2412, ChannelFlags: 0x00a0, Signals: []int8{-40, -41, -42}}.Bytes()
	out = append(out, Record{Data: Cat(good, probe)})
	for cut := 0; cut <= len(good); cut++ {
		out = append(out, Record{Data: good[:cut]})
		out = append(out, Record{Data: good[:cut], Length: len(good) + len(probe)})
	}
	for _, words := range [][]uint32{{0x0028_0009}, {0x0000_000e}, {0x0000_0001}, {0x8000_0000, 0x8000_0000}, {0xa000_0020, 0xa000_0020}, {0x4000_0000, 0}, {0x1000_0000}, {0x0020_0000}, {0x8000_0002, 0x0000_0004}} {
		for extra := 0; extra <= 16; extra += 4 {
			h := header(0, 4+4*len(words)+extra, words, make([]byte, extra))
			out = append(out, Record{Data: Cat(h, probe)})
		}
	}
	// A vendor namespace with 6 bytes of vendor data after the standard fields.
	vendor := header(0, 0, []uint32{0x4000_0004 | 1<<31, 0x0000_0001}, Cat([]byte{12, 0}, []byte{0x00, 0x11, 0x22, 0x01, 6, 0}, make([]byte, 6)))
	vendor[2] = byte(len(vendor))
	out = append(out, Record{Data: Cat(vendor, probe)})
	for _, version := range []byte{1, 48} {
		h := Radiotap{Rate: U8(2), Frequency: 2412}.Bytes()
		h[0] = version
		out = append(out, Record{Data: Cat(h, probe)})
	}
	for _, length := range []int{0, 2, 4, 6} {
		out = append(out, Record{Data: Cat(header(0, length, []uint32{0}, nil), probe)})
	}
	return out
}

// truncations cuts frame templates at every length, once as malformed
// (original length equals captured length) and once as cut by the snap
// length.
func truncations() []Record {
	elements := Cat(Element(0, []byte("net")), Element(7, []byte("DE \x01\x0d\x14")), Element(221, []byte{0x00, 0x10, 0x18, 0x02, 0x00}))
	templates := [][]byte{
		beacon(Element(0, []byte("net"))),
		probeRequest(elements),
		Management(0, 0, AddrAP, AddrSTA, AddrAP, Cat([]byte{0x11, 0x04, 0x0a, 0x00}, elements)),
		Management(1, 0, AddrSTA, AddrAP, AddrAP, Cat([]byte{0x11, 0x04, 0, 0, 1, 0xc0}, elements)),
		Management(5, 0x88, AddrSTA, AddrAP, AddrAP, Cat([]byte{1, 2, 3, 4}, make([]byte, 12), elements)),
		Management(13, 0, AddrAP, AddrSTA, AddrAP, []byte{5, 0, 1, 0, 0, 0x26, 3, 0, 0, 5}),
		Management(11, 0, AddrAP, AddrSTA, AddrAP, Cat([]byte{0, 0, 1, 0, 0, 0}, elements)),
		Management(12, 0, AddrAP, AddrSTA, AddrAP, []byte{7, 0}),
		Control(11, 0, AddrAP, AddrSTA, nil),
		Control(12, 0, AddrAP, nil, nil),
		Control(10, 0, AddrAP, AddrSTA, nil),
		Control(14, 0, AddrAP, AddrSTA, nil),
		Control(15, 0, AddrAP, AddrSTA, nil),
		Control(8, 0, AddrAP, AddrSTA, []byte{4, 0, 0, 0}),
		Control(9, 0, AddrAP, AddrSTA, []byte{4, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}),
		Control(6, 0x02, AddrAP, AddrSTA, []byte{0x10}),
		Cat([]byte{0x74, 0, 0, 0}, AddrAP, []byte{0xb4, 0, 1, 2, 3, 4}, AddrSTA),
		Data(0, 0x00, AddrAP, AddrSTA, AddrAP, nil, nil, []byte{0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x06}),
		Data(0, 0x01, AddrAP, AddrSTA, AddrOther, nil, nil, []byte{0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x06}),
		Data(8, 0x02, AddrSTA, AddrAP, AddrOther, nil, []byte{0, 0}, []byte{0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x06}),
		Data(8, 0x03, AddrAP, AddrSTA, AddrOther, AddrRand, []byte{0, 0}, []byte{0xaa}),
		Data(8, 0x81, AddrAP, AddrSTA, AddrOther, nil, []byte{0, 0}, []byte{1, 2, 3, 4, 0xaa}),
		Data(4, 0x11, AddrAP, AddrSTA, AddrAP, nil, nil, nil),
		Data(12, 0x11, AddrAP, AddrSTA, AddrAP, nil, []byte{0, 0}, nil),
		Cat([]byte{0x0c, 0, 0, 0}, AddrAP, make([]byte, 20), Element(0, []byte("dmg"))),
		Cat([]byte{0x1c, 0, 0, 0}, AddrAP, make([]byte, 5), Element(0, []byte("s1g"))),
	}
	var out []Record
	for _, t := range templates {
		for n := 0; n <= len(t); n++ {
			out = append(out, Record{Data: t[:n]})
			out = append(out, Record{Data: t[:n], Length: len(t) + 64})
		}
	}
	return out
}

func addressRoles() []Record {
	var out []Record
	llc := []byte{0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x06}
	subframe := func(da, sa []byte) []byte {
		payload := Cat(llc, make([]byte, 28))
		return Cat(da, sa, []byte{0, byte(len(payload))}, payload)
	}
	amsdu := Cat(subframe(AddrOther, AddrRand), make([]byte, 2), subframe(Broadcast, AddrSTA))
	for ds := uint8(0); ds < 4; ds++ {
		for _, sub := range []uint8{0, 4, 5, 8, 11, 12, 13} {
			out = append(out, Record{Data: Management(sub, ds, AddrAP, AddrSTA, AddrOther, make([]byte, 14))})
		}
		for _, protected := range []uint8{0, 0x40} {
			flags := ds | protected
			out = append(out, Record{Data: Data(0, flags, AddrAP, AddrSTA, AddrOther, AddrRand, nil, Cat(llc, make([]byte, 28)))})
			out = append(out, Record{Data: Data(8, flags, AddrAP, AddrSTA, AddrOther, AddrRand, []byte{0x80, 0}, amsdu)})
			out = append(out, Record{Data: Data(8, flags, Broadcast, AddrSTA, Broadcast, AddrRand, []byte{0, 0}, Cat(llc, make([]byte, 28)))})
			out = append(out, Record{Data: Data(4, flags, Broadcast, AddrSTA, AddrOther, AddrRand, nil, nil)})
		}
	}
	return out
}

func elements() []Record {
	var out []Record
	mbssid := func(profiles ...[]byte) []byte {
		body := []byte{3}
		for _, p := range profiles {
			body = append(body, Element(0, p)...)
		}
		return Element(71, body)
	}
	ssid := func(s string) []byte { return Element(0, []byte(s)) }
	lists := [][]byte{
		Cat(ssid("a"), ssid("b")),
		Cat(ssid(""), Element(1, []byte{2}), ssid("x")),
		Cat(ssid("abc"), mbssid(ssid("xyzzy"))),
		Cat(mbssid(ssid("xyzzy")), ssid("abc")),
		Cat(mbssid(Cat(ssid("one"), ssid("two"))), ssid("abc")),
		Cat(mbssid(ssid("one"), ssid("two"))),
		Cat(ssid("a"), Element(84, Cat(ssid("hello"), ssid("world")))),
		Cat(Element(84, ssid("list")), ssid("after")),
		ssid("\xb2\xe2\xca\xd4"), ssid("\xf0\x9f\xa7\x8a"), ssid("F09FA78A"), Element(0, make([]byte, 8)),
		ssid("Bar \"Zum Anker\"\\\nGast"), ssid("ThirtyThreeByteSSIDisTooLong-1234"),
		Element(7, []byte("DE")), Element(7, []byte("DE \x01\x0d\x14")), Element(7, []byte("de\x04\x01\x0d\x14\x00")),
		Element(7, []byte("\xff\x00 \x01\x0d\x14")), Element(7, []byte("\xc3\xa9 \x01\x0d\x14")),
		Cat(Element(7, []byte("DE \x01\x0d\x14")), Element(7, []byte("US \x01\x0b\x1e"))),
		Element(255, []byte{35}), Element(255, nil), Element(255, make([]byte, 22)),
		Cat(ssid("x"), []byte{0xdd, 0x40, 0x00}),
		Cat(ssid("x"), []byte{0x01}),
	}
	for _, l := range lists {
		out = append(out, Record{Data: probeRequest(l)}, Record{Data: beacon(l)})
	}
	// Every element ID with short bodies, zero-filled and 0x11-filled.
	for id := 0; id < 256; id++ {
		for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 8, 13, 16, 26} {
			for _, fill := range []byte{0, 0x11} {
				body := make([]byte, n)
				for i := range body {
					body[i] = fill
				}
				out = append(out, Record{Data: probeRequest(Element(uint8(id), body))})
			}
		}
	}
	return out
}

func wps(attrs ...[]byte) []byte {
	return Element(221, Cat([]byte{0x00, 0x50, 0xf2, 0x04}, Cat(attrs...)))
}

func wpsAttr(typ uint16, value []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	return append(b, value...)
}

func vendorElements() []Record {
	var out []Record
	ouis := []uint32{0x0050f2, 0x001018, 0x00904c, 0x00037f, 0x000000, 0x506f9a, 0x000fac, 0x0017f2, 0x004096,
		0x000b86, 0x001392, 0x001f32, 0x005043, 0x00a0f8, 0x5c5b35, 0x6a5c35, 0x000512, 0x000c42, 0x000ce6,
		0x00090f, 0x001977, 0x8cfdf0, 0x00e04c, 0xffffff, 0x020202}
	for _, oui := range ouis {
		for _, n := range []int{0, 1, 2, 3, 4, 5, 8, 20} {
			for _, typ := range []byte{0, 1, 2, 4, 9, 0x33} {
				body := []byte{byte(oui >> 16), byte(oui >> 8), byte(oui), typ, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}
				if n < len(body) {
					body = body[:n]
				}
				out = append(out, Record{Data: probeRequest(Element(221, body))})
				if n < 4 {
					break
				}
			}
		}
	}
	names := [][]byte{[]byte("Pixel 9"), []byte("a\nb\"c\\"), []byte("\xb2\xe2\xca\xd4"), []byte("ab\x00c"), []byte("K\xc3\xbcche"), nil}
	for _, name := range names {
		out = append(out, Record{Data: probeRequest(wps(wpsAttr(0x104a, []byte{0x10}), wpsAttr(0x1011, name)))})
	}
	out = append(out,
		Record{Data: probeRequest(wps(wpsAttr(0x1011, []byte("abc")), wpsAttr(0x1011, []byte("def"))))},
		Record{Data: probeRequest(Cat(wps(wpsAttr(0x1011, []byte("one"))), wps(wpsAttr(0x1011, []byte("two")))))},
		Record{Data: probeRequest(wps(wpsAttr(0x1011, []byte("abc"))[:6]))},
		Record{Data: probeRequest(wps([]byte{0x10}))},
	)
	return out
}

func actionFrames() []Record {
	var out []Record
	for category := 0; category < 256; category += 1 {
		if category > 34 && category < 126 || category > 162 && category < 254 {
			continue
		}
		for action := 0; action < 24; action++ {
			for _, n := range []int{0, 1, 3, 7, 12, 20} {
				body := Cat([]byte{byte(category), byte(action)}, make([]byte, n), Element(0, nil), Element(221, []byte{0x00, 0x10, 0x18, 0x02, 0x07}))
				out = append(out, Record{Data: Management(13, 0, AddrAP, AddrSTA, AddrAP, body)})
			}
		}
	}
	out = append(out, Record{Data: Management(14, 0, AddrAP, AddrSTA, AddrAP, Cat([]byte{5, 0, 1, 0, 0}, Element(38, make([]byte, 20))))})
	out = append(out, Record{Data: Management(13, 0, AddrAP, AddrSTA, AddrAP, nil)})
	return out
}

// eapolKey builds an EAPOL-Key frame (LLC/SNAP, 802.1X header, key
// descriptor with a 16-byte MIC) with the key information and key data.
func eapolKey(descriptor byte, keyInfo uint16, keyData []byte) []byte {
	key := []byte{descriptor}
	key = binary.BigEndian.AppendUint16(key, keyInfo)
	key = append(key, make([]byte, 90)...)
	key = binary.BigEndian.AppendUint16(key, uint16(len(keyData)))
	key = append(key, keyData...)
	eapol := binary.BigEndian.AppendUint16([]byte{2, 3}, uint16(len(key)))
	return Cat([]byte{0xaa, 0xaa, 3, 0, 0, 0, 0x88, 0x8e}, eapol, key)
}

func eapolFrames() []Record {
	var out []Record
	pmkid := Element(221, Cat([]byte{0x00, 0x0f, 0xac, 0x04}, make([]byte, 16)))
	wpaIE := Element(221, Cat([]byte{0x00, 0x50, 0xf2, 0x01, 0x01, 0x00}, make([]byte, 16)))
	rsnIE := Element(48, Cat([]byte{1, 0, 0x00, 0x0f, 0xac, 4, 1, 0, 0x00, 0x0f, 0xac, 4, 1, 0, 0x00, 0x0f, 0xac, 2}))
	other := Element(221, []byte{0x00, 0x10, 0x18, 0x02, 0x01})
	for _, descriptor := range []byte{2, 254, 1} {
		for _, keyInfo := range []uint16{0x008a, 0x010a, 0x13ca, 0x0382, 0x1382, 0x0302} {
			for _, data := range [][]byte{pmkid, wpaIE, rsnIE, Cat(rsnIE, other), nil, pmkid[:10]} {
				body := eapolKey(descriptor, keyInfo, data)
				out = append(out, Record{Data: Data(8, 0x02, AddrSTA, AddrAP, AddrAP, nil, []byte{0, 0}, body)})
				out = append(out, Record{Data: Data(0, 0x01, AddrAP, AddrSTA, AddrAP, nil, nil, body)})
			}
		}
	}
	return out
}

func ppiFrames() []Record {
	var out []Record
	common := func(flags, rate, mhz, channelFlags uint16, signal, noise int8) []byte {
		f := binary.LittleEndian.AppendUint16(nil, 2)
		f = binary.LittleEndian.AppendUint16(f, 20)
		f = binary.LittleEndian.AppendUint64(f, 123456)
		for _, v := range []uint16{flags, rate, mhz, channelFlags} {
			f = binary.LittleEndian.AppendUint16(f, v)
		}
		return append(f, 0, 0, byte(signal), byte(noise))
	}
	macPHY := func(flags uint32, mcs, streams byte) []byte {
		f := binary.LittleEndian.AppendUint16(nil, 4)
		f = binary.LittleEndian.AppendUint16(f, 48)
		f = binary.LittleEndian.AppendUint32(f, flags)
		f = binary.LittleEndian.AppendUint32(f, 7)
		f = append(f, 0, mcs, streams)
		return append(f, make([]byte, 48-11)...)
	}
	header := func(fields ...[]byte) []byte {
		body := Cat(fields...)
		h := []byte{0, 0, 0, 0}
		binary.LittleEndian.PutUint16(h[2:], uint16(8+len(body)))
		h = binary.LittleEndian.AppendUint32(h, 105)
		return append(h, body...)
	}
	frames := [][]byte{ack, Data(8, 0x01, AddrAP, AddrSTA, AddrOther, nil, []byte{0, 0}, make([]byte, 120))}
	for _, flags := range []uint16{0, 1, 4} {
		for _, rate := range []uint16{0, 2, 4, 12, 22, 108, 600} {
			for _, cf := range []uint16{0, 0x00a0, 0x00c0, 0x0140} {
				for _, signal := range []int8{-50, -128} {
					for _, frame := range frames {
						fcs := []byte{}
						if flags&1 != 0 {
							fcs = []byte{1, 2, 3, 4}
						}
						out = append(out, Record{Data: Cat(header(common(flags, rate, 2422, cf, signal, -95)), frame, fcs)})
					}
				}
			}
		}
	}
	for _, mcs := range []byte{0, 7, 15, 31, 80} {
		for _, flags := range []uint32{0, 2, 4, 6, 1} {
			for _, streams := range []byte{0, 1, 2, 3, 4} {
				out = append(out, Record{Data: Cat(header(common(1, 600, 2422, 0x00c0, -56, -96), macPHY(flags, mcs, streams)), frames[1], []byte{1, 2, 3, 4})})
			}
		}
	}
	out = append(out, Record{Data: header(common(0, 2, 2412, 0xa0, -40, -90))[:10]})
	return out
}

func prismFrames() []Record {
	var out []Record
	item := func(did uint32, status uint16, value uint32) []byte {
		b := binary.LittleEndian.AppendUint32(nil, did)
		b = binary.LittleEndian.AppendUint16(b, status)
		b = binary.LittleEndian.AppendUint16(b, 4)
		return binary.LittleEndian.AppendUint32(b, value)
	}
	header := func(channel, rssi, rate uint32, status uint16) []byte {
		h := binary.LittleEndian.AppendUint32(nil, 0x44)
		h = binary.LittleEndian.AppendUint32(h, 144)
		h = append(h, []byte("wlan0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")...)
		h = append(h, item(0x00010044, 0, 1)...)
		h = append(h, item(0x00020044, 0, 2)...)
		h = append(h, item(0x00030044, status, channel)...)
		h = append(h, item(0x00040044, status, rssi)...)
		h = append(h, item(0x00050044, 0, 0)...)
		h = append(h, item(0x00060044, 0, 57)...)
		h = append(h, item(0x00070044, 0, 0)...)
		h = append(h, item(0x00080044, status, rate)...)
		h = append(h, item(0x00090044, 0, 0)...)
		return append(h, item(0x000a0044, 0, 60)...)
	}
	for _, channel := range []uint32{1, 6, 14, 36, 0} {
		for _, rssi := range []uint32{0, 0xffffffc8, 40} {
			for _, rate := range []uint32{2, 11, 12, 108, 0} {
				for _, status := range []uint16{0, 1} {
					out = append(out, Record{Data: Cat(header(channel, rssi, rate, status), beacon(Element(0, []byte("prism"))))})
				}
			}
		}
	}
	out = append(out, Record{Data: header(1, 0, 2, 0)[:100]})
	return out
}

func avsFrames() []Record {
	var out []Record
	header := func(version uint32, length uint32, phy, channel, rate, ssiType uint32, signal, noise int32, preamble uint32) []byte {
		h := binary.BigEndian.AppendUint32(nil, version)
		h = binary.BigEndian.AppendUint32(h, length)
		h = binary.BigEndian.AppendUint64(h, 1234)
		h = binary.BigEndian.AppendUint64(h, 5678)
		for _, v := range []uint32{phy, channel, rate, 0, 0, ssiType, uint32(signal), uint32(noise), preamble, 0} {
			h = binary.BigEndian.AppendUint32(h, v)
		}
		for uint32(len(h)) < length {
			h = append(h, 0)
		}
		return h
	}
	for _, version := range []uint32{0x80211001, 0x80211002} {
		length := uint32(64)
		if version == 0x80211002 {
			length = 72
		}
		for _, phy := range []uint32{0, 1, 2, 4, 5, 6, 8, 9, 12} {
			for _, rate := range []uint32{10, 20, 55, 110, 60, 540, 0, 7} {
				for _, ssi := range []uint32{0, 1, 2, 3} {
					for _, preamble := range []uint32{0, 1, 2} {
						out = append(out, Record{Data: Cat(header(version, length, phy, 6, rate, ssi, -60, -95, preamble), ack)})
					}
				}
			}
		}
	}
	out = append(out, Record{Data: Cat(header(0x12345678, 64, 4, 6, 10, 2, -60, -95, 1), ack)})
	out = append(out, Record{Data: header(0x80211001, 64, 4, 6, 10, 2, -60, -95, 1)[:40]})
	return out
}

// String describes a capture for test output.
func (c Capture) String() string {
	return fmt.Sprintf("%s (%d records, link type %d)", c.Name, len(c.Records), c.LinkType)
}
