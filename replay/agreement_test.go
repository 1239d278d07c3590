package replay_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/capture/captest"
	"github.com/wifiq/wifiq/record"
	"github.com/wifiq/wifiq/replay"
)

// agreementFields are the fields the tshark agreement test compares: the 22
// default fields, wlan.bssid, wlan_radio.frequency, wlan.fcs.status and the
// malformed marker.
var agreementFields = append(slices.Clone(capture.DefaultFields),
	capture.FieldBSSID, capture.FieldRadioFrequency, capture.FieldFCSStatus, capture.FieldMalformed,
	// Fields that identify devices beyond the defaults (probe request
	// signatures).
	capture.FieldSeq, capture.FieldFrag, capture.FieldTagNumber, capture.FieldTagLength, capture.FieldExtTagNumber,
	capture.FieldSupportedRates, capture.FieldExtendedRates, capture.FieldHTCapabilities, capture.FieldHTAMPDUParam,
	capture.FieldExtCap)

// Wireshark's own name files, as Debian installs them with tshark.
const (
	wiresharkManuf = "/usr/share/wireshark/manuf"
	wiresharkWKA   = "/usr/share/wireshark/wka"
)

const differencesDoc = "../docs/tshark-differences.md"

// TestTsharkAgreement decodes every capture in testdata with wifiq and with
// tshark and compares them field by field. Any difference not listed in
// docs/tshark-differences.md fails the test, and so does a listed
// difference that no longer occurs.
func TestTsharkAgreement(t *testing.T) {
	tshark := requireTshark(t)
	files := testCaptures(t)
	known, err := readKnownDifferences(differencesDoc)
	if err != nil {
		t.Fatal(err)
	}

	resolver := capture.NewResolver()
	if err := resolver.LoadWKA(wiresharkWKA); err != nil {
		t.Fatal(err)
	}
	if err := resolver.LoadManuf(wiresharkManuf); err != nil {
		t.Fatal(err)
	}

	stats := map[string]*fieldStats{}
	for _, id := range agreementFields {
		stats[id.Key()] = &fieldStats{}
	}
	stats["timestamp"] = &fieldStats{}
	used := make([]bool, len(known))
	var unexpected []string

	for _, file := range files {
		ours := decodeWithWifiq(t, file, resolver)
		theirs := decodeWithTshark(t, tshark, file)
		if len(ours) != len(theirs) {
			t.Errorf("%s: wifiq wrote %d records, tshark %d", file, len(ours), len(theirs))
			continue
		}
		base := filepath.Base(file)
		for i := range ours {
			frame := i + 1
			compare := func(key string, a, b []string) {
				s := stats[key]
				if len(a) == 0 && len(b) == 0 {
					return
				}
				s.compared++
				if slices.Equal(a, b) {
					s.agreed++
					return
				}
				if k := known.match(base, frame, key); k >= 0 {
					used[k] = true
					s.known++
					return
				}
				s.unexpected++
				if len(unexpected) < 50 || strings.HasSuffix(unexpected[len(unexpected)-1], key) {
					unexpected = append(unexpected, fmt.Sprintf("%s frame %d %s: wifiq %q, tshark %q", base, frame, key, a, b))
				}
			}
			compare("timestamp", []string{strconv.FormatInt(ours[i].Timestamp, 10)}, []string{strconv.FormatInt(theirs[i].Timestamp, 10)})
			for _, id := range agreementFields {
				a, b := ours[i].Get(id.Key()), theirs[i].Get(id.Key())
				if id == capture.FieldMalformed {
					// tshark writes one value per expert message; wifiq
					// marks the frame. Only the presence is compared.
					a, b = presence(a), presence(b)
				}
				compare(id.Key(), a, b)
			}
		}
	}

	var table strings.Builder
	fmt.Fprintf(&table, "%d captures\n%-28s %9s %9s %7s %10s %9s\n", len(files), "field", "compared", "agreed", "known", "unexpected", "agreement")
	keys := []string{"timestamp"}
	for _, id := range agreementFields {
		keys = append(keys, id.Key())
	}
	for _, k := range keys {
		s := stats[k]
		fmt.Fprintf(&table, "%-28s %9d %9d %7d %10d %8.3f%%\n", k, s.compared, s.agreed, s.known, s.unexpected, s.percent())
	}
	t.Log("\n" + table.String())

	for _, u := range unexpected {
		t.Error("unexpected difference: " + u)
	}
	for i, k := range known {
		if !used[i] {
			t.Errorf("%s line %d lists a difference in %s frames %s (%s) that no longer occurs: remove it",
				differencesDoc, k.line, k.file, k.framesText, strings.Join(k.fields, ", "))
		}
	}
}

func presence(values []string) []string {
	if len(values) == 0 {
		return nil
	}
	return []string{"present"}
}

type fieldStats struct{ compared, agreed, known, unexpected int }

func (s fieldStats) percent() float64 {
	if s.compared == 0 {
		return 100
	}
	return 100 * float64(s.agreed) / float64(s.compared)
}

// requireTshark returns the path of tshark, or skips the test when it is not
// installed and WIFIQ_REQUIRE_TSHARK is not set.
func requireTshark(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("WIFIQ_REQUIRE_TSHARK") != "" {
			t.Fatal("tshark is not installed (apt-get install tshark) and WIFIQ_REQUIRE_TSHARK is set")
		}
		t.Skip("tshark is not installed; set WIFIQ_REQUIRE_TSHARK=1 to make this a failure")
	}
	for _, f := range []string{wiresharkManuf, wiresharkWKA} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("tshark is installed but %s is missing: %v", f, err)
		}
	}
	return path
}

// testCaptures lists every capture file under testdata/corpus and
// testdata/cases.
func testCaptures(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"../testdata/corpus", "../testdata/cases"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || strings.HasSuffix(name, ".md") || strings.HasSuffix(name, ".tsv") {
				continue
			}
			files = append(files, filepath.Join(dir, name))
		}
	}
	if os.Getenv("WIFIQ_SYNTHETIC") != "" {
		dir := t.TempDir()
		for _, c := range captest.Synthetic() {
			path := filepath.Join(dir, c.Name)
			if err := captest.WritePcap(path, c.LinkType, c.Records); err != nil {
				t.Fatal(err)
			}
			files = append(files, path)
		}
	}
	if len(files) < 70 {
		t.Fatalf("found %d captures in testdata, expected the whole corpus and case set", len(files))
	}
	return files
}

func decodeWithWifiq(t *testing.T, file string, resolver *capture.Resolver) []*record.Record {
	t.Helper()
	var out bytes.Buffer
	_, err := replay.Decode(context.Background(), []string{file}, record.NewLineWriter(&out), replay.DecodeOptions{
		Encoder: capture.NewEncoder(agreementFields, capture.StyleTshark, resolver),
	})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return readAll(t, file+" (wifiq)", &out)
}

func decodeWithTshark(t *testing.T, tshark, file string) []*record.Record {
	t.Helper()
	args := []string{"-r", file, "-T", "ek"}
	for _, id := range agreementFields {
		args = append(args, "-e", id.Name())
	}
	cmd := exec.Command(tshark, args...)
	// A home of its own keeps a personal Wireshark profile (ethers,
	// preferences) out of the comparison.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// tshark exits 2 on a capture cut off mid-record, after printing
		// every whole record: the same as wifiq's behaviour.
		var exit *exec.ExitError
		if !errors.As(err, &exit) || !strings.Contains(stderr.String(), "cut short") {
			t.Fatalf("tshark %s: %v\n%s", file, err, stderr.String())
		}
	}
	return readAll(t, file+" (tshark)", bytes.NewReader(out))
}

func readAll(t *testing.T, source string, r io.Reader) []*record.Record {
	t.Helper()
	rd := record.NewReader(r, source)
	var recs []*record.Record
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		recs = append(recs, rec.Clone())
	}
}

// knownDifference is one row of the table in docs/tshark-differences.md.
type knownDifference struct {
	line       int
	file       string
	framesText string
	frames     []int // nil means every frame
	fields     []string
}

type knownDifferences []knownDifference

func (ks knownDifferences) match(file string, frame int, key string) int {
	for i, k := range ks {
		if k.file != file || !slices.Contains(k.fields, key) {
			continue
		}
		if k.frames == nil || slices.Contains(k.frames, frame) {
			return i
		}
	}
	return -1
}

// readKnownDifferences reads the rows of the Markdown table whose first
// cell is a capture file name in backquotes:
//
//	| `file.pcap` | 3, 5-7 | `timestamp`, `wlan_radio_duration` | reason |
func readKnownDifferences(path string) (knownDifferences, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ks knownDifferences
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 4 {
			return nil, fmt.Errorf("%s line %d: want | file | frames | fields | reason |", path, n)
		}
		k := knownDifference{line: n, file: strings.Trim(strings.TrimSpace(cells[0]), "`"), framesText: strings.TrimSpace(cells[1])}
		if k.frames, err = parseFrames(k.framesText); err != nil {
			return nil, fmt.Errorf("%s line %d: %v", path, n, err)
		}
		for _, field := range strings.Split(cells[2], ",") {
			k.fields = append(k.fields, strings.Trim(strings.TrimSpace(field), "`"))
		}
		if strings.TrimSpace(cells[3]) == "" {
			return nil, fmt.Errorf("%s line %d: a known difference needs its reason", path, n)
		}
		ks = append(ks, k)
	}
	return ks, s.Err()
}

// parseFrames reads "all" or a list of frame numbers and ranges: "3, 5-7".
func parseFrames(s string) ([]int, error) {
	if s == "all" {
		return nil, nil
	}
	var frames []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("frame %q is not a number", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("frame range %q is not FIRST-LAST", part)
			}
		}
		for f := a; f <= b; f++ {
			frames = append(frames, f)
		}
	}
	sort.Ints(frames)
	return frames, nil
}
