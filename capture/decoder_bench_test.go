package capture_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/replay"
)

// benchPackets returns the records of the corpus's radiotap captures: real
// frames of every type, as make bench uses them.
func benchPackets(b *testing.B) []replay.Packet {
	b.Helper()
	names, _ := filepath.Glob("../testdata/corpus/*")
	var packets []replay.Packet
	for _, name := range names {
		f, err := replay.Open(name)
		if err != nil {
			continue // MANIFEST.tsv
		}
		for {
			p, err := f.Next()
			if err != nil {
				break
			}
			if p.LinkType == capture.LinkTypeIEEE80211Radiotap {
				p.Data = bytes.Clone(p.Data)
				packets = append(packets, p)
			}
		}
		f.Close()
	}
	if len(packets) == 0 {
		b.Fatal("no radiotap records in testdata/corpus")
	}
	return packets
}

// BenchmarkDecode measures decoding and encoding one real frame into a
// record with the 22 default fields.
func BenchmarkDecode(b *testing.B) {
	packets := benchPackets(b)
	r := capture.NewResolver()
	if err := capture.AddBuiltinManufacturers(r); err != nil {
		b.Fatal(err)
	}
	enc := capture.NewEncoder(capture.DefaultFields, capture.StyleClassic, r)
	var d capture.Decoder
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	var bytesOut int
	for i := 0; i < b.N; i++ {
		p := packets[i%len(packets)]
		frame, err := d.Decode(p.LinkType, p.Timestamp, p.Data, p.Length)
		if err != nil {
			b.Fatal(err)
		}
		buf = enc.AppendRecord(buf[:0], frame)
		bytesOut += len(buf)
	}
	b.ReportMetric(float64(bytesOut)/float64(b.N), "B/record")
}

// BenchmarkGopacketDecode measures gopacket decoding the same frames into
// layers (radiotap, 802.11, elements), without writing any record: the
// alternative to capture's own decoder.
func BenchmarkGopacketDecode(b *testing.B) {
	packets := benchPackets(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := packets[i%len(packets)]
		pkt := gopacket.NewPacket(p.Data, layers.LayerTypeRadioTap, gopacket.DecodeOptions{Lazy: false, NoCopy: true})
		_ = pkt.Layers()
	}
}
