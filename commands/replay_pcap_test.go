package commands

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	corpusDir = "../testdata/corpus/"
	casesDir  = "../testdata/cases/"
)

func TestReplayPcapWritesRecords(t *testing.T) {
	res := invokeCLI(t, nil, "replay-pcap", casesDir+"V12_data_and_control_frames.pcap")
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d lines, want 7", len(lines))
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["timestamp"] == nil || first["wlan_fc_type_subtype"].([]any)[0] != "40" {
		t.Errorf("first record %s: want a timestamp and classic subtype 40", lines[0])
	}
	// The field order of DESIGN.md: timestamp first, then the default fields.
	if !strings.HasPrefix(lines[0], `{"timestamp":"`) || !strings.Contains(lines[0], `"wlan_fc_type":["2"],"wlan_fc_type_subtype":["40"]`) {
		t.Errorf("record shape: %s", lines[0])
	}
	if !strings.Contains(res.stderr, "7 frames read, 7 written, 0 malformed") {
		t.Errorf("stderr summary does not count 7 frames read: %s", res.stderr)
	}
}

func TestReplayPcapFieldsStyleIndex(t *testing.T) {
	res := invokeCLI(t, nil, "replay-pcap", "--style", "tshark", "--ek-index", "-e", "wlan.ssid,wlan.sa",
		casesDir+"V8_element_offsets_per_subtype.pcap")
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 8 || !strings.HasPrefix(lines[0], `{"index":`) {
		t.Fatalf("want 4 index lines and 4 records, got:\n%s", res.stdout)
	}
	want := `"wlan_ssid":["4f66666963654e65742d58"],"wlan_sa":["dc:a6:32:5c:0f:e1"]}`
	if !strings.HasSuffix(lines[1], want) {
		t.Errorf("record %s, want it to end with %s", lines[1], want)
	}
}

func TestReplayPcapInputs(t *testing.T) {
	// A directory of ring-buffer files, gzip and stdin.
	dir := t.TempDir()
	for _, name := range []string{"V7_channel_from_frequency.pcap", "V8_element_offsets_per_subtype.pcap"} {
		data, err := os.ReadFile(casesDir + name)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	res := invokeCLI(t, nil, "replay-pcap", dir)
	if n := strings.Count(res.stdout, "\n"); res.code != ExitOK || n != 8 {
		t.Errorf("directory: exit %d, %d records, want 0 and 8: %s", res.code, n, res.stderr)
	}
	res = invokeCLI(t, nil, "replay-pcap", corpusDir+"pyrit__wpa2psk-2WIRE972.dump.gz")
	if n := strings.Count(res.stdout, "\n"); res.code != ExitOK || n == 0 {
		t.Errorf("gzip: exit %d, %d records: %s", res.code, n, res.stderr)
	}
	f, err := os.Open(casesDir + "V9_ssid_bytes.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res = invokeCLI(t, f, "replay-pcap", "-")
	if n := strings.Count(res.stdout, "\n"); res.code != ExitOK || n != 6 {
		t.Errorf("stdin: exit %d, %d records, want 6: %s", res.code, n, res.stderr)
	}
}

func TestReplayPcapCutShort(t *testing.T) {
	res := invokeCLI(t, nil, "replay-pcap", casesDir+"V10_pcapng_two_interfaces_truncated.pcapng")
	if n := strings.Count(res.stdout, "\n"); n != 3 {
		t.Errorf("%d records, want the 3 before the cut", n)
	}
	if !strings.Contains(res.stderr, "middle of a record") {
		t.Errorf("no warning about the cut: %s", res.stderr)
	}
	if res.code != ExitOK {
		t.Errorf("exit %d, want 0: a ring file still being written is not an error", res.code)
	}
}

func TestReplayPcapErrors(t *testing.T) {
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.pcap")
	os.WriteFile(notCapture, []byte("these are not packets\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown field", []string{"replay-pcap", "-e", "wlan.bogus", casesDir + "V9_ssid_bytes.pcap"}, ExitUsage, `"wlan.bogus"`},
		{"unknown style", []string{"replay-pcap", "--style", "json", casesDir + "V9_ssid_bytes.pcap"}, ExitUsage, `"json"`},
		{"no arguments", []string{"replay-pcap"}, ExitUsage, "requires at least 1 arg"},
		{"missing file", []string{"replay-pcap", filepath.Join(dir, "nope.pcap")}, ExitFailure, "nope.pcap"},
		{"missing file, next to a good one", []string{"replay-pcap", filepath.Join(dir, "nope.pcap"), casesDir + "V9_ssid_bytes.pcap"}, ExitPartial, "nope.pcap"},
		{"name file that is not one", []string{"replay-pcap", "--manuf", casesDir + "V9_ssid_bytes.pcap", casesDir + "V9_ssid_bytes.pcap"}, ExitUsage, "--manuf"},
		{"not a capture, next to a good one", []string{"replay-pcap", notCapture, casesDir + "V9_ssid_bytes.pcap"}, ExitPartial, "notes.pcap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := invokeCLI(t, nil, tt.args...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d naming %s", res.code, res.stderr, tt.code, tt.want)
			}
		})
	}
	// The good file next to the bad one is still decoded.
	res := invokeCLI(t, nil, "replay-pcap", notCapture, casesDir+"V9_ssid_bytes.pcap")
	if n := strings.Count(res.stdout, "\n"); n != 6 {
		t.Errorf("%d records from the good file, want 6", n)
	}
}

func TestParseRate(t *testing.T) {
	good := map[string]float64{"max": 0, "realtime": 1, "10x": 10, "0.5x": 0.5}
	for in, want := range good {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10", "fast", "0x", "-2x", "x", "Infx"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) gave no error", in)
		}
	}
}
