package record

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readAll returns every record of input as text, and every error, in
// order, with the reader projected onto fields (nil: every field).
func readAll(t *testing.T, input string, fields []string) []string {
	t.Helper()
	r := NewReader(strings.NewReader(input), "test")
	r.Project(fields)
	var out []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			out = append(out, "error: "+err.Error())
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "line %d ts %d style %v", rec.Offset, rec.Timestamp, rec.Style)
		for _, f := range rec.Fields {
			fmt.Fprintf(&b, " %s=%q", f.Key, f.Values)
		}
		out = append(out, b.String())
	}
}

// flatLines are lines of many shapes: those the fast path reads and those
// it leaves to the general parser, valid or not.
var flatLines = []string{
	`{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:01"],"wlan_ssid":["home"]}`,
	`{"timestamp":1714561200001,"wlan_fc_type_subtype":"0x0004","wlan_ssid":["<MISSING>"],"wlan_da":[]}`,
	`{"wlan_ssid":["a","b",""],"timestamp":"1714561200002","wlan_tag_oui":["4120","6130"]}`,
	`{"timestamp":"1714561200003","wlan_ssid":["Caf\u00e9 \"Eck\""],"wlan_sa":["x"]}`,
	`{"timestamp":"1714561200004","wlan_radio_signal_dbm":[-61],"wlan_fc_type_subtype":["4"]}`,
	`{"timestamp":"1714561200005","wlan_fc_type_subtype":["4"],"wlan_fc_type_subtype":["8"]}`,
	`{"timestamp":"1714561200006" ,"wlan_sa":["y"]}`,
	`{"timestamp":"17145612000070000000000","wlan_sa":["z"]}`,
	`{"timestamp":"-1","wlan_sa":["z"]}`,
	`{"timestamp":"","wlan_sa":["z"]}`,
	`{"timestamp":"1714561200008","wlan_sa":["unterminated]}`,
	`{"timestamp":"1714561200009","wlan_sa":["a",]}`,
	`{"timestamp":"1714561200010","wlan_sa":["a"]`,
	`{"timestamp":"1714561200011","wlan_sa":true}`,
	`{"timestamp":"1714561200012"}`,
	`{}`,
	`{"wlan_sa":["no timestamp"]}`,
	`{"index":{"_index":"packets"}}`,
	`{"timestamp":"1714561200013","layers":{"wlan_sa":["layered"],"wlan_ssid":["n"]}}`,
	`{"timestamp":"1714561200014","wlan_sa":["a\\b"],"wlan_ssid":["x\"y"]}`,
	`{"timestamp":"1714561200015","wlan_sa":["a"]}}`,
	`{"timestamp":"1714561200016","wlan_sa":"single","wlan_da":["d"]} `,
}

var bytePosition = regexp.MustCompile(`at byte [0-9]+`)

// general forces the general parser onto a line by adding a space after
// its opening brace, which the fast path does not take and JSON allows.
func general(line string) string {
	if strings.HasPrefix(line, "{") {
		return "{ " + line[1:]
	}
	return line
}

// TestFlatMatchesGeneral checks that the fast path and the general parser
// read every line alike: the same records, fields and errors, with and
// without a projection.
func TestFlatMatchesGeneral(t *testing.T) {
	fast := strings.Join(flatLines, "\n")
	var slow []string
	for _, line := range flatLines {
		slow = append(slow, general(line))
	}
	for _, fields := range [][]string{nil, {"wlan_sa"}, {}} {
		got := readAll(t, fast, fields)
		want := readAll(t, strings.Join(slow, "\n"), fields)
		if len(got) != len(want) {
			t.Fatalf("fields %v: %d results with the fast path, %d with the general parser:\n%s\n---\n%s",
				fields, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for i := range got {
			// Error positions differ by the added space, so they are left
			// out of the comparison.
			g, w := bytePosition.ReplaceAllString(got[i], "at byte N"), bytePosition.ReplaceAllString(want[i], "at byte N")
			if g != w {
				t.Errorf("fields %v, result %d:\nfast    %s\ngeneral %s", fields, i+1, g, w)
			}
		}
	}
}

// TestProjectSkipsFields checks that a projected reader keeps only the
// named fields and the two that style detection reads.
func TestProjectSkipsFields(t *testing.T) {
	line := `{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_sa":["a"],"wlan_da":["b"],"wlan_ssid":["s"]}`
	for _, input := range []string{line, general(line)} {
		r := NewReader(strings.NewReader(input), "test")
		r.Project([]string{"wlan_da"})
		rec, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, f := range rec.Fields {
			keys = append(keys, f.Key)
		}
		if want := []string{"wlan_fc_type_subtype", "wlan_da", "wlan_ssid"}; !slices.Equal(keys, want) {
			t.Errorf("%s: fields %v, want %v", input, keys, want)
		}
	}
}

// keepEven is a LineFilter that parses every second line.
type keepEven struct {
	in   io.Reader
	seen int
}

func (k *keepEven) Read(p []byte) (int, error) { return k.in.Read(p) }
func (k *keepEven) Unfiltered() io.Reader      { return k.in }
func (k *keepEven) KeepLine([]byte) bool {
	k.seen++
	return k.seen%2 == 0
}

// TestLineFilterKeepsLineNumbers checks that lines a LineFilter leaves out
// are not parsed, even when broken, and still count as lines.
func TestLineFilterKeepsLineNumbers(t *testing.T) {
	input := strings.Join([]string{
		`not json, left out`,
		`{"timestamp":"1714561200000","wlan_sa":["a"]}`,
		`{"timestamp":"1714561200001","wlan_sa":["left out"]}`,
		`{"timestamp":"1714561200002","wlan_sa":["b"]}`,
	}, "\n")
	got := readAll(t, "", nil)
	r := NewReader(&keepEven{in: strings.NewReader(input)}, "test")
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("a line the filter left out was parsed: %v", err)
		}
		got = append(got, fmt.Sprintf("%d %s", rec.Offset, rec.Get("wlan_sa")))
	}
	if want := []string{"2 [a]", "4 [b]"}; !slices.Equal(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
}

// TestScanPlain checks the eight-bytes-at-a-time scan against a plain loop
// on strings with quotes and backslashes at every position.
func TestScanPlain(t *testing.T) {
	for n := range 20 {
		for at := range n + 1 {
			for _, c := range []byte{'"', '\\', 0x22 + 0x80, 0x5c + 0x80, 0} {
				d := []byte(strings.Repeat("a", n))
				if at < n {
					d[at] = c
				}
				want := 0
				for want < len(d) && d[want] != '"' && d[want] != '\\' {
					want++
				}
				for start := range min(n, 3) + 1 {
					w := max(want, start)
					if want < start {
						w = start
						for w < len(d) && d[w] != '"' && d[w] != '\\' {
							w++
						}
					}
					if got := scanPlain(d, start); got != w {
						t.Errorf("scanPlain(%q, %d) = %d, want %d", d, start, got, w)
					}
				}
			}
		}
	}
}

// TestKeyCacheMatchesFreshReader checks that the keys a reader remembers
// from the previous line never change what it reads from the next: every
// line read after others gives what a new reader gives for it alone.
func TestKeyCacheMatchesFreshReader(t *testing.T) {
	lines := []string{
		`{"timestamp":"1714561200000","wlan_sa":["a"],"wlan_sa_resolved":["r"]}`,
		`{"timestamp":"1714561200001","wlan_sa_resolved":["r"],"wlan_sa":["a"]}`,
		`{"timestamp":"1714561200002","wlan_sa":["a"],"wlan_sa":["b"]}`,
		`{"timestamp":"1714561200003","wlan_s":["a"],"wlan_sa":["b"]}`,
		`{"timestamp":"1714561200004","wlan_sa\"":["a"],"wlan_sa":["b"]}`,
		`{"timestamp":"1714561200005","wlan\u005fsa":["a"],"wlan_da":["b"]}`,
		`{"timestamp":"1714561200006","wlan_sa":["a"],"wlan_da":["b"]}`,
		`{"timestamp":"1714561200007","wlan_sa":"a","wlan_da":["b"]}`,
		`{"timestamp":"1714561200008","wlan_sa":["a"],"wlan_da":["b"]`,
		`{"timestamp":"1714561200009","wlan_sa":["a"],"wlan_da"`,
		`{"timestamp":"1714561200010","wlan_sa":["a"],"wlan_da":`,
		`{"timestamp":"1714561200011","wlan_sa":["a"],"wlan_da":["b"]}`,
		`{"wlan_sa":["a"],"timestamp":"1714561200012","wlan_da":["b"]}`,
		// A key with a quote, which only the general parser reads, and
		// then a line that is not JSON with it unescaped.
		`{"a\"b":["x"],"timestamp":"1714561200013"}`,
		`{"a\"b":["x"],"timestamp":"1714561200014"}`,
		`{"a"b":["x"],"timestamp":"1714561200015"}`,
	}
	lines = append(lines, flatLines...)
	for i := len(lines) - 1; i >= 0; i-- {
		lines = append(lines, lines[i])
	}
	lineNumber := regexp.MustCompile(`^line [0-9]+ |test:[0-9]+:`)
	for _, fields := range [][]string{nil, {"wlan_sa"}, {"wlan_sa", "wlan_da"}} {
		got := readAll(t, strings.Join(lines, "\n"), fields)
		var want []string
		for _, line := range lines {
			want = append(want, readAll(t, line, fields)...)
		}
		if len(got) != len(want) {
			t.Fatalf("fields %v: %d results from one reader, %d from a reader per line", fields, len(got), len(want))
		}
		for i := range got {
			g, w := lineNumber.ReplaceAllString(got[i], ""), lineNumber.ReplaceAllString(want[i], "")
			if g != w {
				t.Errorf("fields %v, result %d:\none reader      %s\nreader per line %s", fields, i+1, g, w)
			}
		}
	}
}
