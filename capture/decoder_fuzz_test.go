package capture_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/capture/captest"
	"github.com/wifiq/wifiq/replay"
)

// fuzzLinkTypes are the link types the fuzz target cycles through: the first
// byte of the input picks one.
var fuzzLinkTypes = []capture.LinkType{
	capture.LinkTypeIEEE80211Radiotap, capture.LinkTypeIEEE80211, capture.LinkTypePPI,
	capture.LinkTypePrism, capture.LinkTypeAVS,
}

// FuzzDecode feeds arbitrary bytes to the decoder and the encoder under every
// link type. The decoder must neither panic nor read outside the record, and
// every record must encode to one line of JSON.
func FuzzDecode(f *testing.F) {
	for _, seed := range seedRecords(f) {
		for i, lt := range fuzzLinkTypes {
			if lt == seed.linkType {
				f.Add(append([]byte{byte(i)}, seed.data...))
			}
		}
	}
	enc := capture.NewEncoder(capture.DefaultFields, capture.StyleTshark, capture.NewResolver())
	classic := capture.NewEncoder(capture.DefaultFields, capture.StyleClassic, capture.NewResolver())
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		lt := fuzzLinkTypes[int(in[0])%len(fuzzLinkTypes)]
		data := in[1:]
		for _, d := range []*capture.Decoder{{}, {CheckFCS: true, AssumeFCS: true}} {
			// Decode a copy whose capacity ends at its length, so a read
			// past the captured bytes panics instead of going unnoticed.
			frame, err := d.Decode(lt, 1714593600e9, data[:len(data):len(data)], len(data)+7)
			if err != nil {
				t.Fatalf("link type %d: %v", lt, err)
			}
			for _, e := range []*capture.Encoder{enc, classic} {
				line := e.AppendRecord(nil, frame)
				if !jsonValid(line) {
					t.Fatalf("record is not valid JSON: %s", line)
				}
			}
		}
	})
}

type seedRecord struct {
	linkType capture.LinkType
	data     []byte
}

// seedRecords returns up to 10 records of every capture in testdata and every 20th
// record of the synthetic captures: enough to reach every decoder path
// while the fuzzer's baseline run stays short.
func seedRecords(tb testing.TB) []seedRecord {
	tb.Helper()
	var seeds []seedRecord
	for _, c := range captest.Synthetic() {
		for i, r := range c.Records {
			if i%20 != 0 {
				continue
			}
			seeds = append(seeds, seedRecord{capture.LinkType(c.LinkType), r.Data})
		}
	}
	files, _ := filepath.Glob("../testdata/*/*.pcap*")
	caps, _ := filepath.Glob("../testdata/*/*.cap")
	for _, name := range append(files, caps...) {
		f, err := replay.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			p, err := f.Next()
			if err != nil {
				break
			}
			seeds = append(seeds, seedRecord{p.LinkType, bytes.Clone(p.Data)})
		}
		f.Close()
	}
	if len(seeds) < 500 {
		tb.Fatalf("only %d seed records found", len(seeds))
	}
	return seeds
}

func jsonValid(line []byte) bool {
	return json.Valid(line) && bytes.Count(line, []byte{'\n'}) <= 1
}
