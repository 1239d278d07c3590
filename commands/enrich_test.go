package commands

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

const devicesDir = "../testdata/devices/"

// enrichN02 enriches the probe requests of aircrack-ng__n-02.cap, whose
// sources the bundled device lists name, and returns the rows by source
// address (the last row of each).
func enrichN02(t *testing.T, extraArgs ...string) (map[string]map[string]any, cliResult) {
	t.Helper()
	rec := invokeCLI(t, nil, "replay-pcap", "-q", corpusDir+"aircrack-ng__n-02.cap")
	if rec.code != ExitOK {
		t.Fatalf("replay-pcap: exit %d: %s", rec.code, rec.stderr)
	}
	res := invokeSplitCLI(t, context.Background(), strings.NewReader(rec.stdout), append([]string{"enrich"}, extraArgs...)...)
	rows := map[string]map[string]any{}
	for _, row := range jsonRows(t, res.stdout) {
		rows[first(row, "wlan_sa")] = row
	}
	return rows, res
}

// first returns the first value of a record field, or "".
func first(row map[string]any, key string) string {
	values, _ := row[key].([]any)
	if len(values) == 0 {
		return ""
	}
	s, _ := values[0].(string)
	return s
}

func TestEnrichCSVDeviceList(t *testing.T) {
	rows, res := enrichN02(t, "--devices", devicesDir+"devices.csv")
	if res.code != ExitOK {
		t.Fatalf("enrich: exit %d: %s", res.code, res.stderr)
	}
	cases := []struct{ sa, name, known string }{
		{"64:bc:0c:50:13:a9", "Kitchen tablet", "true"},
		{"2c:f0:a2:dd:bc:d0", "Alice's phone (alices-iphone)", "true"},
		{"06:80:12:df:e1:85", "", "false"},
	}
	for _, c := range cases {
		row, ok := rows[c.sa]
		if !ok {
			t.Errorf("no enriched record for %s", c.sa)
			continue
		}
		if got := first(row, "device_name"); got != c.name {
			t.Errorf("%s: device_name %q, want %q", c.sa, got, c.name)
		}
		if got := first(row, "is_known_device"); got != c.known {
			t.Errorf("%s: is_known_device %q, want %q", c.sa, got, c.known)
		}
		if got := first(row, "wlan_da_resolved"); got != "Broadcast" {
			t.Errorf("%s: wlan_da_resolved %q, want Broadcast", c.sa, got)
		}
		if got := first(row, "event_time"); !strings.HasPrefix(got, "2017-07-18T01:38:") {
			t.Errorf("%s: event_time %q", c.sa, got)
		}
	}
	if !strings.Contains(res.stderr, "enrich: 9 probe requests joined (5 matched a device, 5 known), 209 records of other subtypes dropped") {
		t.Errorf("stderr: %s", res.stderr)
	}
}

func TestEnrichUniFiExport(t *testing.T) {
	rows, res := enrichN02(t, "--devices", devicesDir+"unifi-ace.jsonl")
	if res.code != ExitOK {
		t.Fatalf("enrich: exit %d: %s", res.code, res.stderr)
	}
	cases := []struct{ sa, name, known string }{
		{"64:bc:0c:50:13:a9", "guest_LgElectr", "false"},
		{"da:a1:19:63:32:22", "nonguest_da:a1:19", "true"},
		{"2c:f0:a2:dd:bc:d0", "Alice's phone (alices-iphone)", "true"},
		// a Ubiquiti uplink seen as a client is not in the table
		{"06:80:12:df:e1:85", "", "false"},
	}
	for _, c := range cases {
		row := rows[c.sa]
		if got := first(row, "device_name"); got != c.name {
			t.Errorf("%s: device_name %q, want %q", c.sa, got, c.name)
		}
		if got := first(row, "is_known_device"); got != c.known {
			t.Errorf("%s: is_known_device %q, want %q", c.sa, got, c.known)
		}
	}
}

func TestEnrichDebeziumEvents(t *testing.T) {
	events := `{"payload":{"op":"c","after":"{\"_id\":{\"$oid\":\"a1\"},\"mac\":\"2c:f0:a2:dd:bc:d0\",\"name\":\"Old name\"}"}}
{"op":"u","after":"{\"_id\":{\"$oid\":\"a1\"},\"mac\":\"2c:f0:a2:dd:bc:d0\",\"hostname\":\"alices-iphone\",\"is_guest\":false}"}
{"op":"c","after":"{\"_id\":{\"$oid\":\"a2\"},\"mac\":\"64:bc:0c:50:13:a9\",\"name\":\"Tablet\"}"}
{"op":"d","after":null,"filter":"{\"_id\":{\"$oid\":\"a2\"}}"}
`
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, res := enrichN02(t, "--devices", path)
	if res.code != ExitOK {
		t.Fatalf("enrich: exit %d: %s", res.code, res.stderr)
	}
	if got := first(rows["64:bc:0c:50:13:a9"], "device_name"); got != "" {
		t.Errorf("deleted device still joins as %q", got)
	}
	if got := first(rows["2c:f0:a2:dd:bc:d0"], "device_name"); got != "alices-iphone" {
		t.Errorf("device_name %q, want alices-iphone from the update", got)
	}
}

func TestEnrichBadDeviceFile(t *testing.T) {
	list := `mac,name,colour,is_guest
64:bc:0c:50:13:a9,Kitchen tablet,red,false
2c:f0:a2:dd:bc:zz,Broken,blue,false
2c:f0:a2:dd:bc:d0,Alice's phone,green,maybe
64:bc:0c:50:13:a9,Twice,red,false
"unterminated,quote
`
	path := filepath.Join(t.TempDir(), "devices.csv")
	if err := os.WriteFile(path, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, res := enrichN02(t, "--devices", path)
	if res.code != ExitPartial {
		t.Errorf("exit %d, want %d", res.code, ExitPartial)
	}
	for _, want := range []string{
		`line=1 reason="unknown column \"colour\" is ignored`,
		`line=3 reason="malformed MAC address: invalid address \"2c:f0:a2:dd:bc:zz\"`,
		`line=4 reason="invalid is_guest: want true or false, got \"maybe\"`,
		`line=5 reason="duplicate MAC address 64:bc:0c:50:13:a9, first listed on line 2`,
		`line=6 reason="invalid CSV`,
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not contain %s:\n%s", want, res.stderr)
		}
	}
	if got := first(rows["64:bc:0c:50:13:a9"], "device_name"); got != "Kitchen tablet" {
		t.Errorf("the good line was not used: device_name %q", got)
	}
}

func TestEnrichMissingDevices(t *testing.T) {
	res := invokeSplitCLI(t, context.Background(), nil, "enrich")
	if res.code != ExitUsage || !strings.Contains(res.stderr, "give --devices FILE or --devices-from kafka:TOPIC") {
		t.Errorf("exit %d: %s", res.code, res.stderr)
	}
	res = invokeSplitCLI(t, context.Background(), nil, "enrich", "--devices", "no-such-file.csv")
	if res.code != ExitFailure || !strings.Contains(res.stderr, "no-such-file.csv") {
		t.Errorf("exit %d: %s", res.code, res.stderr)
	}
}

func TestEnrichDevicesFromCompactedTopic(t *testing.T) {
	brokers := fakeKafka(t, 1, "devices")
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	produce := func(key, value string) {
		r := &kgo.Record{Topic: "devices", Key: []byte(key)}
		if value != "" {
			r.Value = []byte(value)
		}
		if err := client.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce("64:bc:0c:50:13:a9", `{"name":"First name"}`)
	produce("64:bc:0c:50:13:a9", `{"name":"Latest name"}`)
	produce("2c:f0:a2:dd:bc:d0", `{"mac":"2c:f0:a2:dd:bc:d0","name":"Phone"}`)
	produce("2c:f0:a2:dd:bc:d0", "") // tombstone

	rows, res := enrichN02(t, "--brokers", brokers, "--devices-from", "kafka:devices")
	if res.code != ExitOK {
		t.Fatalf("enrich: exit %d: %s", res.code, res.stderr)
	}
	if got := first(rows["64:bc:0c:50:13:a9"], "device_name"); got != "Latest name" {
		t.Errorf("device_name %q, want the latest value", got)
	}
	if got := first(rows["2c:f0:a2:dd:bc:d0"], "device_name"); got != "" {
		t.Errorf("device deleted by a tombstone joins as %q", got)
	}
}
