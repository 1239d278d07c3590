package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// fpInvokeCLI runs wifiq as invokeCLI does.
func fpInvokeCLI(t *testing.T, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	return invokeCLI(t, stdin, args...)
}

// fpSimulatedRecords returns classic records of probe requests around the
// 25-hour day of 27 October 2024 in Berlin. Four phones of one model take a
// new randomised address every four minutes and probe every 20 to 60 s for
// half an hour: two from 22:30 UTC on 26 October (00:30 on 27 October in
// Berlin) and two at noon. A laptop with a stable address probes every 20
// minutes and a sensor every 3 minutes, each with vendor elements of its
// own. With shuffle, the lines come in random order, so that sessions have
// to merge when a record arrives between two.
func fpSimulatedRecords(shuffle bool) string {
	rng := rand.New(rand.NewPCG(7, 11))
	type model struct {
		vendorData, ouiTypes, ouis []string
		interval                   func() time.Duration
	}
	phone := model{[]string{"02:00:00:10:00:00", "0a:00:01:04:00:00:00:00"}, []string{"2", "10", "8"}, []string{"4120", "6130", "20722"},
		func() time.Duration { return time.Duration(20+rng.IntN(41)) * time.Second }}
	laptop := model{nil, []string{"8"}, []string{"20722"}, func() time.Duration { return 20 * time.Minute }}
	sensor := model{nil, nil, nil, func() time.Duration { return 3 * time.Minute }}
	devices := []struct {
		model     model
		start     string
		stay      time.Duration
		address   string
		randomise bool
	}{
		{phone, "2024-10-26T22:30:00Z", 30 * time.Minute, "", true},
		{phone, "2024-10-26T22:35:00Z", 25 * time.Minute, "", true},
		{phone, "2024-10-27T12:00:00Z", 30 * time.Minute, "", true},
		{phone, "2024-10-27T12:10:00Z", 30 * time.Minute, "", true},
		{laptop, "2024-10-26T22:10:00Z", 26 * time.Hour, "00:1b:21:84:45:01", false},
		{sensor, "2024-10-27T06:00:00Z", 4 * time.Hour, "24:0a:c4:18:5c:f0", false},
	}
	var lines []string
	for _, d := range devices {
		start, _ := time.Parse(time.RFC3339, d.start)
		address, since := d.address, start
		seq := rng.IntN(4096)
		for at := start; at.Before(start.Add(d.stay)); at = at.Add(d.model.interval()) {
			if d.randomise && (address == "" || at.Sub(since) >= 4*time.Minute) {
				address = fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", rng.IntN(64)*4+2, rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256))
				since = at
			}
			seq = (seq + 1 + rng.IntN(20)) % 4096
			rec := map[string]any{
				"timestamp":             fmt.Sprint(at.UnixMilli()),
				"wlan_fc_type_subtype":  []string{"4"},
				"wlan_radio_signal_dbm": []string{fmt.Sprint(-50 - rng.IntN(20))},
				"wlan_da":               []string{"ff:ff:ff:ff:ff:ff"},
				"wlan_sa":               []string{address},
				"wlan_sa_resolved":      []string{address},
				"wlan_ssid":             []string{[]string{"", "", "home-net", "Caf\\xc3"}[rng.IntN(4)]},
				"wlan_seq":              []string{fmt.Sprint(seq)},
			}
			if !d.randomise {
				rec["wlan_sa_resolved"] = []string{"Intel_84:45:01"}
			}
			for key, values := range map[string][]string{"wlan_tag_vendor_data": d.model.vendorData,
				"wlan_tag_vendor_oui_type": d.model.ouiTypes, "wlan_tag_oui": d.model.ouis} {
				if values != nil {
					rec[key] = values
				}
			}
			line, _ := json.Marshal(rec)
			lines = append(lines, string(line))
		}
	}
	if shuffle {
		rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	}
	return strings.Join(lines, "\n") + "\n"
}

// fpSessionSQL is the fingerprint in DuckDB's SQL: sessions start where
// the pause since the signature's previous probe exceeds 5 minutes.
func fpSessionSQL(path string, minMACs int) string {
	return `WITH p AS (
  SELECT CAST(timestamp AS BIGINT) AS ts, coalesce(wlan_sa[1], wlan_ta[1]) AS sa, TRY_CAST(wlan_radio_signal_dbm[1] AS BIGINT) AS dbm,
         wlan_tag_vendor_data AS vendor_data, wlan_tag_vendor_oui_type AS vendor_oui_types, wlan_tag_oui AS vendor_ouis
  FROM ` + devReadJSON(path, "wlan_fc_type_subtype", "wlan_sa", "wlan_ta", "wlan_radio_signal_dbm",
		"wlan_tag_vendor_data", "wlan_tag_vendor_oui_type", "wlan_tag_oui") + ` WHERE wlan_fc_type_subtype[1] = '4'),
g AS (SELECT *, ts - lag(ts) OVER (PARTITION BY vendor_data, vendor_oui_types, vendor_ouis ORDER BY ts) AS pause FROM p),
s AS (SELECT *, sum(CASE WHEN pause > 300000 THEN 1 ELSE 0 END)
        OVER (PARTITION BY vendor_data, vendor_oui_types, vendor_ouis ORDER BY ts ROWS UNBOUNDED PRECEDING) AS session FROM g)
SELECT vendor_data, vendor_oui_types, list_transform(vendor_ouis, lambda o: printf('%06x', o::INTEGER)) AS vendor_ouis,
       count(*) AS probes, count(DISTINCT sa) AS macs, list(DISTINCT sa) AS mac_list, min(ts) AS first, max(ts) AS last,
       min(dbm) AS min_dbm, max(dbm) AS max_dbm, map_entries(histogram(dbm)) AS dbm_histogram
FROM s GROUP BY vendor_data, vendor_oui_types, vendor_ouis, session
HAVING count(DISTINCT sa) >= ` + fmt.Sprint(minMACs)
}

var fpColumns = []string{"vendor_data", "vendor_oui_types", "vendor_ouis", "probes", "macs", "mac_list", "first", "last", "min_dbm", "max_dbm", "dbm_histogram"}

// fpCompareWithDuckDB runs wifiq fingerprint and the SQL over the same
// records and compares the tables.
func fpCompareWithDuckDB(t *testing.T, path string, minMACs, wantAtLeast int) {
	t.Helper()
	res := fpInvokeCLI(t, nil, "fingerprint", "-o", "json", "--min-macs", fmt.Sprint(minMACs), path)
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	rows := jsonRows(t, res.stdout)
	for _, row := range rows {
		first, _ := time.Parse(time.RFC3339, row["first"].(string))
		last, _ := time.Parse(time.RFC3339, row["last"].(string))
		if got, want := row["session_seconds"].(float64), last.Sub(first).Seconds(); got != want {
			t.Errorf("session_seconds %v, want %v from %s to %s", got, want, row["first"], row["last"])
		}
		// "00:50:f2 Microsof" to "0050f2", as the SQL prints OUIs.
		for i, oui := range row["vendor_ouis"].([]any) {
			hexOUI, _, _ := strings.Cut(oui.(string), " ")
			row["vendor_ouis"].([]any)[i] = strings.ReplaceAll(hexOUI, ":", "")
		}
	}
	got := devTable(t, rows, fpColumns...)

	want := devQuery(t, fpSessionSQL(path, minMACs))
	for _, row := range want {
		if entries, ok := row["dbm_histogram"].([]any); ok {
			histogram := map[string]any{}
			for _, e := range entries {
				entry := e.(map[string]any)
				histogram[fmt.Sprint(entry["key"])] = entry["value"]
			}
			row["dbm_histogram"] = histogram
		}
	}
	if len(want) < wantAtLeast {
		t.Fatalf("DuckDB found %d sessions, want at least %d", len(want), wantAtLeast)
	}
	devCompareTables(t, fmt.Sprintf("sessions with at least %d addresses", minMACs), got, devTable(t, want, fpColumns...))
}

func TestFingerprintMatchesDuckDB(t *testing.T) {
	corpus := devCorpusRecords(t)
	sim := devWriteFile(t, "sim.jsonl", fpSimulatedRecords(true))
	t.Run("corpus, every session", func(t *testing.T) { fpCompareWithDuckDB(t, corpus, 1, 20) })
	t.Run("corpus, two addresses", func(t *testing.T) { fpCompareWithDuckDB(t, corpus, 2, 3) })
	t.Run("simulated, every session", func(t *testing.T) { fpCompareWithDuckDB(t, sim, 1, 10) })
	t.Run("simulated, default", func(t *testing.T) { fpCompareWithDuckDB(t, sim, 3, 2) })
}

// TestFingerprintSessionsOfSimulatedPhones checks the two sessions of the
// four simulated phones: their addresses are those of the phones alone.
func TestFingerprintSessionsOfSimulatedPhones(t *testing.T) {
	res := fpInvokeCLI(t, strings.NewReader(fpSimulatedRecords(true)), "fingerprint", "-o", "json", "--tz", "Europe/Berlin")
	rows := jsonRows(t, res.stdout)
	if res.code != ExitOK || len(rows) != 2 {
		t.Fatalf("exit %d, %d sessions, want the phones' two: %s%s", res.code, len(rows), res.stdout, res.stderr)
	}
	if first := rows[0]["first"]; first != "2024-10-27T00:30:00.000+02:00" {
		t.Errorf("first session starts at %v, want the first phone's first probe at 00:30 CEST", first)
	}
	for _, row := range rows {
		for _, mac := range row["mac_list"].([]any) {
			if m := mac.(string); !strings.ContainsAny(m[1:2], "2367abef") {
				t.Errorf("address %s in a phone session is not randomised", m)
			}
		}
		if macs := row["macs"].(float64); macs < 10 {
			t.Errorf("a session of two phones over half an hour has %v addresses, want 10 or more", macs)
		}
	}
}

func TestFingerprintReadableKey(t *testing.T) {
	records := invokeCLI(t, nil, "replay-pcap", "-q", casesDir+"V11_three_vendor_elements.pcap")
	res := fpInvokeCLI(t, strings.NewReader(records.stdout), "fingerprint", "--min-macs", "1", "-o", "csv")
	want := `vendor_data,vendor_oui_types,vendor_ouis,probes,macs,mac_list,first,last,session_seconds,min_dbm,max_dbm,signal_range,dbm_histogram
"[""02:00:00:10:00:00""]","[""4"",""2"",""51""]","[""00:50:f2 Microsof"",""00:10:18 Broadcom"",""00:90:4c Epigram""]",1,1,"[""6a:5f:2c:11:22:33""]",2024-05-01T21:00:00.000Z,2024-05-01T21:00:00.000Z,0,-58,-58,-58..-58,"{""-58"":1}"
`
	if res.code != ExitOK || res.stdout != want {
		t.Errorf("exit %d\n%s\nwant\n%s%s", res.code, res.stdout, want, res.stderr)
	}
}

// TestFingerprintStyleIndependent decodes the corpus in both value styles:
// the fingerprints must not differ.
func TestFingerprintStyleIndependent(t *testing.T) {
	var outputs []string
	for _, style := range []string{"classic", "tshark"} {
		records := invokeCLI(t, nil, "replay-pcap", "-q", "--style", style, corpusDir+"*.cap", corpusDir+"*.pcap*", casesDir+"V5_probe_request_full_ie_set_with_and_without_fcs.pcap")
		res := fpInvokeCLI(t, strings.NewReader(records.stdout), "fingerprint", "--min-macs", "1", "-o", "csv")
		if res.code != ExitOK {
			t.Fatalf("%s: exit %d: %s", style, res.code, res.stderr)
		}
		outputs = append(outputs, res.stdout)
	}
	if outputs[0] != outputs[1] || strings.Count(outputs[0], "\n") < 20 {
		t.Errorf("classic records give\n%s\ntshark-style records give\n%s", outputs[0], outputs[1])
	}
}

func TestFingerprintLengthSignature(t *testing.T) {
	v5 := casesDir + "V5_probe_request_full_ie_set_with_and_without_fcs.pcap"
	plain := invokeCLI(t, nil, "replay-pcap", "-q", v5)
	res := fpInvokeCLI(t, strings.NewReader(plain.stdout), "fingerprint", "--signature", "length", "--min-macs", "1", "-o", "csv")
	if res.code != ExitOK || !strings.Contains(res.stderr, "without the fields of --signature length") || !strings.Contains(res.stderr, "frame_len") {
		t.Errorf("records without frame.len: exit %d, stderr %q; want a warning naming frame_len", res.code, res.stderr)
	}

	withLength := invokeCLI(t, nil, "replay-pcap", "-q", "-e", "default,frame.len", v5)
	res = fpInvokeCLI(t, strings.NewReader(withLength.stdout), "fingerprint", "--signature", "length", "--min-macs", "1", "-o", "json")
	rows := jsonRows(t, res.stdout)
	if res.code != ExitOK || len(rows) == 0 || rows[0]["length_without_ssid"] == nil || rows[0]["wps_device_name"] != "Pixel 9" {
		t.Errorf("exit %d, want rows with length_without_ssid and the WPS name Pixel 9:\n%s%s", res.code, res.stdout, res.stderr)
	}
}

// TestFingerprintElementsFromTshark reads tshark -T ek output with the
// element fields that wifiq's decoder does not write.
func TestFingerprintElementsFromTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("WIFIQ_REQUIRE_TSHARK") != "" {
			t.Fatal("tshark is not installed")
		}
		t.Skip("tshark is not installed")
	}
	args := []string{"-r", corpusDir + "aircrack-ng__n-02.cap", "-T", "ek"}
	for _, f := range []string{"wlan.fc.type_subtype", "wlan.sa", "wlan.seq", "wlan.tag.number", "wlan.tag.length", "wlan.supported_rates",
		"wlan.ht.capabilities", "wlan.vht.capabilities", "wlan.extcap", "wlan.tag.vendor.data", "wlan.tag.vendor.oui.type", "wlan.tag.oui"} {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	res := fpInvokeCLI(t, bytes.NewReader(out), "fingerprint", "--signature", "elements", "--min-macs", "1", "-o", "json")
	rows := jsonRows(t, res.stdout)
	if res.code != ExitOK || len(rows) < 3 {
		t.Fatalf("exit %d, %d sessions: %s", res.code, len(rows), res.stderr)
	}
	for _, row := range rows {
		if ids := row["element_lengths"].([]any); len(ids) == 0 || ids[0] != "0" {
			t.Errorf("element_lengths %v, want the element IDs starting with the SSID (0)", ids)
		}
		if rates := row["wlan_supported_rates"].([]any); len(rates) == 0 {
			t.Errorf("session of %v has no supported rates", row["mac_list"])
		}
	}
	if strings.Contains(res.stderr, "without the fields") {
		t.Errorf("warned about missing element fields that tshark wrote: %s", res.stderr)
	}
}

func TestFingerprintBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"fingerprint", "--signature", "dna"}, `unknown signature "dna": want one of vendor, vendor-wps, length, elements`},
		{[]string{"fingerprint", "--gap", "0"}, `invalid --gap: invalid duration "0"`},
		{[]string{"fingerprint", "--gap", "5 minutes"}, `"5 minutes"`},
		{[]string{"fingerprint", "--min-macs", "0"}, "invalid --min-macs 0"},
		{[]string{"fingerprint", "--tz", "Mars/Olympus"}, "Mars/Olympus"},
		{[]string{"fingerprint", "--follow"}, "need --from kafka:TOPIC"},
	}
	for _, tt := range tests {
		res := fpInvokeCLI(t, nil, tt.args...)
		if res.code != ExitUsage || !strings.Contains(res.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %s", tt.args, res.code, res.stderr, ExitUsage, tt.want)
		}
	}

	res := fpInvokeCLI(t, strings.NewReader("{\"timestamp\":\"1714561200000\",\"wlan_fc_type_subtype\":[\"4\"],\"wlan_sa\":[\"02:00:00:00:00:01\"]}\n[1,2]\n"), "fingerprint", "--min-macs", "1", "-o", "csv")
	if res.code != ExitPartial || !strings.Contains(res.stdout, "02:00:00:00:00:01") || !strings.Contains(res.stderr, "tshark -T json") {
		t.Errorf("a good record and a JSON array: exit %d\n%s%s; want %d, the record's session and a hint about tshark -T json", res.code, res.stdout, res.stderr, ExitPartial)
	}
}

// TestProbeReportsStopOnInterrupt checks that the probe reports, which
// read standard input through their own filter, stop when their context
// ends while they wait for input, as on SIGINT or SIGTERM.
func TestProbeReportsStopOnInterrupt(t *testing.T) {
	for _, args := range [][]string{{"fingerprint"}, {"stats", "devices"}, {"stats", "probes-per-day"}} {
		stdin, w := io.Pipe() // no data ever arrives
		defer w.Close()
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut bytes.Buffer
		g := &Globals{IO: &IO{In: newContextReader(ctx, stdin), Out: &out, ErrOut: &errOut}}
		g.Log = slog.New(slog.NewTextHandler(&errOut, nil))
		root := NewRoot(g, "test")
		done := make(chan int)
		go func() { done <- Run(ctx, root, g, args) }()
		cancel()
		select {
		case code := <-done:
			if code != ExitInterrupted {
				t.Errorf("%v: exit %d, stderr %q; want %d", args, code, errOut.String(), ExitInterrupted)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%v did not stop within 30 s of the interrupt", args)
		}
	}
}

// TestProbeReportsReadFullTsharkEK checks that the probe reports read
// tshark -T ek output written without -e as they read wifiq's own records
// of the same capture. In that output the SSIDs and vendor elements are in
// the "wlan_wlan_mgt" layer, under keys such as "wlan_wlan_ssid", and SSIDs
// are colon-separated hex. Only device names may differ, where the
// manufacturer tables do.
func TestProbeReportsReadFullTsharkEK(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("WIFIQ_REQUIRE_TSHARK") != "" {
			t.Fatal("tshark is not installed")
		}
		t.Skip("tshark is not installed")
	}
	capture := corpusDir + "aircrack-ng__n-02.cap"
	ek, err := exec.Command("tshark", "-r", capture, "-T", "ek").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	own := fpInvokeCLI(t, nil, "replay-pcap", "-q", capture)
	if own.code != ExitOK {
		t.Fatalf("replay-pcap: exit %d: %s", own.code, own.stderr)
	}
	for _, report := range [][]string{{"fingerprint", "--min-macs", "1"}, {"stats", "devices"}} {
		fromEK := fpInvokeCLI(t, bytes.NewReader(ek), append(slices.Clone(report), "-o", "json")...)
		fromOwn := fpInvokeCLI(t, strings.NewReader(own.stdout), append(slices.Clone(report), "-o", "json")...)
		if fromEK.code != ExitOK || fromOwn.code != ExitOK {
			t.Fatalf("%v: exit %d from -T ek, %d from wifiq's records: %s%s", report, fromEK.code, fromOwn.code, fromEK.stderr, fromOwn.stderr)
		}
		got, want := jsonRows(t, fromEK.stdout), jsonRows(t, fromOwn.stdout)
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("%v: %d rows from -T ek, %d from wifiq's records", report, len(got), len(want))
		}
		ssids := 0
		for _, rows := range [][]map[string]any{got, want} {
			for _, row := range rows {
				delete(row, "device")
				if list, ok := row["ssids"].([]any); ok {
					ssids += len(list)
				}
			}
		}
		// Without the device names, rows sort by their text.
		text := func(rows []map[string]any) []string {
			var out []string
			for _, row := range rows {
				out = append(out, fmt.Sprint(row))
			}
			slices.Sort(out)
			return out
		}
		gotText, wantText := text(got), text(want)
		for i := range wantText {
			if gotText[i] != wantText[i] {
				t.Errorf("%v row %d:\nfrom -T ek         %s\nfrom wifiq records %s", report, i+1, gotText[i], wantText[i])
			}
		}
		if report[0] == "stats" && ssids == 0 {
			t.Errorf("no device has an SSID, so the comparison proves little")
		}
	}
}

// TestOUINamerBuiltOnce checks that the manufacturer table of the
// fingerprint's OUI column is built once, not for every rendered row, which
// made fingerprint --follow render about 125 rows a second.
func TestOUINamerBuiltOnce(t *testing.T) {
	first, err := newOUINamer()
	if err != nil {
		t.Fatal(err)
	}
	second, err := newOUINamer()
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Error("each call built a new manufacturer table")
	}
	if got := first.name("20722"); !strings.Contains(got, "00:50:f2") {
		t.Errorf("OUI 20722 named %q, want 00:50:f2 and its manufacturer", got)
	}
}
