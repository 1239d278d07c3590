package commands

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestStatsPipeline(t *testing.T) {
	records := invokeCLI(t, nil, "replay-pcap", casesDir+"V12_data_and_control_frames.pcap", casesDir+"V7_channel_from_frequency.pcap")
	if records.code != ExitOK {
		t.Fatal(records.stderr)
	}
	res := invokeCLI(t, strings.NewReader(records.stdout), "stats", "-o", "json")
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	rows := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var row struct {
			Name   string  `json:"name"`
			Frames float64 `json:"frames"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		rows[row.Name] = row.Frames
	}
	if rows["Beacon frame"] != 4 || rows["QoS Data"] != 1 || rows["Request-to-send"] != 1 || len(rows) != 8 {
		t.Errorf("rows %v: want 4 beacons, 1 QoS Data, 1 RTS and 8 subtypes", rows)
	}
}

// TestStatsReadsTsharkEK feeds stats what tshark -T ek writes.
func TestStatsReadsTsharkEK(t *testing.T) {
	ek := `{"index":{"_index":"packets-2024-05-01","_type":"doc"}}
{"timestamp":"1714561200000","layers":{"wlan_fc_type_subtype":["0x0004"]}}
{"index":{"_index":"packets-2024-05-01","_type":"doc"}}
{"timestamp":"1714561260000","layers":{"wlan_fc_type_subtype":["0x0004"]}}
`
	res := invokeCLI(t, strings.NewReader(ek), "stats", "-o", "csv")
	want := "type_subtype,name,frames,earliest,latest\n4,Probe Request,2,2024-05-01T11:00:00.000Z,2024-05-01T11:01:00.000Z\n"
	if res.code != ExitOK || res.stdout != want {
		t.Errorf("exit %d\n%s\nwant\n%s%s", res.code, res.stdout, want, res.stderr)
	}
}

func TestStatsWindowsAndZones(t *testing.T) {
	// 21:30 and 22:30 UTC on 1 May: one UTC day, two Berlin days.
	in := `{"timestamp":"1714599000000","wlan_fc_type_subtype":["8"]}
{"timestamp":"1714602600000","wlan_fc_type_subtype":["8"]}
`
	utc := invokeCLI(t, strings.NewReader(in), "stats", "--window", "1d", "-o", "csv")
	berlin := invokeCLI(t, strings.NewReader(in), "stats", "--window", "1d", "--tz", "Europe/Berlin", "-o", "csv")
	if n := strings.Count(utc.stdout, "\n"); n != 2 {
		t.Errorf("UTC: %d lines, want a header and one window:\n%s", n, utc.stdout)
	}
	if n := strings.Count(berlin.stdout, "\n"); n != 3 || !strings.Contains(berlin.stdout, "2024-05-02T00:00:00.000+02:00") {
		t.Errorf("Berlin: want a header and two windows, the second from local midnight:\n%s", berlin.stdout)
	}
}

func TestStatsBadInput(t *testing.T) {
	in := `{"timestamp":"1714561200000","wlan_fc_type_subtype":["8"]}
garbage
{"timestamp":"1714561200","wlan_fc_type_subtype":["8"]}
{"timestamp":"1714561201000","wlan_fc_type_subtype":["8"]}
`
	res := invokeCLI(t, strings.NewReader(in), "stats", "-o", "csv")
	if res.code != ExitPartial {
		t.Errorf("exit %d, want %d (finished, input skipped)", res.code, ExitPartial)
	}
	if !strings.Contains(res.stdout, ",Beacon frame,2,") {
		t.Errorf("the two good records were not both counted:\n%s", res.stdout)
	}
	for _, want := range []string{"source=stdin line=2", "line=3", "looks like seconds", "2 input lines"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, res.stderr)
		}
	}
	for _, args := range [][]string{{"stats", "--window", "fortnight"}, {"stats", "--tz", "Mars/Olympus"}, {"stats", "-o", "xml"}} {
		res := invokeCLI(t, strings.NewReader(""), args...)
		if res.code != ExitUsage || !strings.Contains(res.stderr, args[2]) || !strings.Contains(res.stderr, args[1]) {
			t.Errorf("%v: exit %d, stderr %q; want %d naming %s and %q", args, res.code, res.stderr, ExitUsage, args[1], args[2])
		}
	}
}

func TestStatsMissingInput(t *testing.T) {
	records := invokeCLI(t, nil, "replay-pcap", casesDir+"V7_channel_from_frequency.pcap")
	dir := t.TempDir()
	good := dir + "/v7.jsonl"
	if err := os.WriteFile(good, []byte(records.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	res := invokeCLI(t, nil, "stats", "-o", "csv", good, dir+"/nope.jsonl")
	if res.code != ExitPartial || !strings.Contains(res.stdout, ",Beacon frame,4,") || !strings.Contains(res.stderr, "nope.jsonl") {
		t.Errorf("good and missing input: exit %d\n%s%s; want %d, the good file counted and the missing one named", res.code, res.stdout, res.stderr, ExitPartial)
	}
	res = invokeCLI(t, nil, "stats", dir+"/nope.jsonl")
	if res.code != ExitFailure {
		t.Errorf("only a missing input: exit %d, want %d", res.code, ExitFailure)
	}
}

func TestStatsWarnsAboutMissingSubtype(t *testing.T) {
	res := invokeCLI(t, strings.NewReader(`{"timestamp":"1714561200000","wlan_sa":["f0:18:98:4d:5e:6f"]}`+"\n"), "stats", "-o", "csv")
	if !strings.Contains(res.stderr, "add -e wlan.fc.type_subtype") || !strings.Contains(res.stdout, "(no frame control),1,") {
		t.Errorf("stdout %q, stderr %q: want the record under (no frame control) and a hint", res.stdout, res.stderr)
	}
}
