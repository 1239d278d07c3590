// Package captest builds 802.11 frames, radio headers and capture files for
// tests: the synthetic captures that the tshark agreement test decodes next
// to the real corpus.
package captest

import (
	"encoding/binary"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Record is one frame to write: its bytes and the length it had on the air
// (0 means len(Data)).
type Record struct {
	Data   []byte
	Length int
}

// WritePcap writes records to a classic pcap file with link type linkType,
// one second apart from 2024-05-01T00:00:00Z.
func WritePcap(path string, linkType uint32, records []Record) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(262144, layers.LinkType(linkType)); err != nil {
		f.Close()
		return err
	}
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, r := range records {
		length := r.Length
		if length < len(r.Data) {
			length = len(r.Data)
		}
		ci := gopacket.CaptureInfo{
			Timestamp:     start.Add(time.Duration(i) * time.Second),
			CaptureLength: len(r.Data),
			Length:        length,
		}
		if err := w.WritePacket(ci, r.Data); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// Radiotap describes a radiotap header; nil or zero-length fields are left
// out.
type Radiotap struct {
	TSFT         *uint64
	Flags        *uint8
	Rate         *uint8
	Frequency    uint16 // with ChannelFlags: the Channel field, if non-zero
	ChannelFlags uint16
	Signals      []int8 // dBm antenna signals; more than one adds presence words
	MCS          *[3]byte
	VHT          *[12]byte
}

// U8 and U64 return pointers, for optional fields.
func U8(v uint8) *uint8    { return &v }
func U64(v uint64) *uint64 { return &v }

// Bytes encodes the header with every field at its natural alignment.
func (r Radiotap) Bytes() []byte {
	type field struct {
		bit   int
		align int
		data  []byte
	}
	var fields []field
	if r.TSFT != nil {
		fields = append(fields, field{0, 8, binary.LittleEndian.AppendUint64(nil, *r.TSFT)})
	}
	if r.Flags != nil {
		fields = append(fields, field{1, 1, []byte{*r.Flags}})
	}
	if r.Rate != nil {
		fields = append(fields, field{2, 1, []byte{*r.Rate}})
	}
	if r.Frequency != 0 || r.ChannelFlags != 0 {
		b := binary.LittleEndian.AppendUint16(nil, r.Frequency)
		fields = append(fields, field{3, 2, binary.LittleEndian.AppendUint16(b, r.ChannelFlags)})
	}
	if len(r.Signals) > 0 {
		fields = append(fields, field{5, 1, []byte{byte(r.Signals[0])}})
	}
	if r.MCS != nil {
		fields = append(fields, field{19, 1, r.MCS[:]})
	}
	if r.VHT != nil {
		fields = append(fields, field{21, 2, r.VHT[:]})
	}

	// One presence word for the fields above, and one more per extra
	// antenna signal, each switching back to the radiotap namespace.
	extra := len(r.Signals) - 1
	if extra < 0 {
		extra = 0
	}
	words := make([]uint32, 1+extra)
	for _, f := range fields {
		words[0] |= 1 << f.bit
	}
	for i := 1; i < len(words); i++ {
		words[i-1] |= 1<<29 | 1<<31
		words[i] = 1 << 5
	}
	header := make([]byte, 4, 64)
	for _, w := range words {
		header = binary.LittleEndian.AppendUint32(header, w)
	}
	appendField := func(align int, data []byte) {
		for len(header)%align != 0 {
			header = append(header, 0)
		}
		header = append(header, data...)
	}
	for _, f := range fields {
		appendField(f.align, f.data)
	}
	for _, s := range r.Signals[min(1, len(r.Signals)):] {
		appendField(1, []byte{byte(s)})
	}
	binary.LittleEndian.PutUint16(header[2:], uint16(len(header)))
	return header
}

// MAC addresses used by the frame builders.
var (
	Broadcast = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	AddrAP    = []byte{0x3c, 0xa6, 0x2f, 0x1a, 0x2b, 0x3c} // AVM
	AddrSTA   = []byte{0xf0, 0x18, 0x98, 0x4d, 0x5e, 0x6f} // Apple
	AddrRand  = []byte{0xda, 0xa1, 0x19, 0x6b, 0x0c, 0x42} // locally administered
	AddrOther = []byte{0x00, 0x0c, 0x41, 0x82, 0xb2, 0x55} // Cisco-Linksys
)

// Management builds a management frame with three addresses and a body.
func Management(subtype uint8, flags uint8, a1, a2, a3 []byte, body []byte) []byte {
	frame := []byte{subtype << 4, flags, 0, 0}
	frame = append(frame, a1...)
	frame = append(frame, a2...)
	frame = append(frame, a3...)
	frame = append(frame, 0x10, 0x00)
	return append(frame, body...)
}

// Control builds a control frame with one or two addresses and a body.
func Control(subtype uint8, flags uint8, a1, a2 []byte, body []byte) []byte {
	frame := []byte{0x04 | subtype<<4, flags, 0, 0}
	frame = append(frame, a1...)
	frame = append(frame, a2...)
	return append(frame, body...)
}

// Data builds a data frame; qos adds a QoS Control field (qosControl) and a4
// is used when both To DS and From DS are set.
func Data(subtype uint8, flags uint8, a1, a2, a3, a4 []byte, qosControl []byte, body []byte) []byte {
	frame := []byte{0x08 | subtype<<4, flags, 0, 0}
	frame = append(frame, a1...)
	frame = append(frame, a2...)
	frame = append(frame, a3...)
	frame = append(frame, 0x20, 0x00)
	if flags&0x03 == 0x03 {
		frame = append(frame, a4...)
	}
	frame = append(frame, qosControl...)
	return append(frame, body...)
}

// Element encodes an information element.
func Element(id uint8, body []byte) []byte {
	return append([]byte{id, byte(len(body))}, body...)
}

// Cat concatenates byte slices.
func Cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
