package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// probeCaptures are bundled captures with many probe requests.
var probeCaptures = []string{
	corpusDir + "aircrack-ng__n-02.cap",
	corpusDir + "aircrack-ng__wpa2-psk-linksys.cap",
	corpusDir + "libwifi__probe_req.pcap",
	corpusDir + "fragattacks__amsdu-inject-fromap.pcapng",
}

// invokeSplitCLI runs wifiq as invokeCLI does, with a context of the
// test's choosing and output buffers that the test may read while it runs.
func invokeSplitCLI(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut lockedBuffer
	g := &Globals{IO: &IO{In: stdin, Out: &out, ErrOut: &errOut}}
	g.Log = slog.New(slog.NewTextHandler(&errOut, nil))
	code := Run(ctx, NewRoot(g, "test"), g, args)
	return cliResult{out.String(), errOut.String(), code}
}

// probeRecords decodes the probe-rich captures into record lines.
func probeRecords(t *testing.T) string {
	t.Helper()
	res := invokeCLI(t, nil, append([]string{"replay-pcap", "-q"}, probeCaptures...)...)
	if res.code != ExitOK {
		t.Fatalf("replay-pcap: exit %d: %s", res.code, res.stderr)
	}
	return res.stdout
}

// statsCounts returns frames per subtype as wifiq stats counts them.
func statsCounts(t *testing.T, records string) map[int]int {
	t.Helper()
	res := invokeCLI(t, strings.NewReader(records), "stats", "--output", "json")
	if res.code != ExitOK {
		t.Fatalf("stats: exit %d: %s", res.code, res.stderr)
	}
	counts := map[int]int{}
	for _, row := range jsonRows(t, res.stdout) {
		subtype, ok := row["type_subtype"].(float64)
		if !ok {
			t.Fatalf("stats row %v has no numeric type_subtype", row)
		}
		counts[int(subtype)] = int(row["frames"].(float64))
	}
	return counts
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(data, []byte("\n"))
}

func TestSplitFilesMatchStats(t *testing.T) {
	records := probeRecords(t)
	counts := statsCounts(t, records)
	dir := t.TempDir()

	res := invokeSplitCLI(t, context.Background(), strings.NewReader(records), "split", "--out-dir", dir, "--route", "4=probes", "--route", "0x0005=responses")
	if res.code != ExitOK {
		t.Fatalf("split: exit %d: %s", res.code, res.stderr)
	}

	want := map[string]int{
		"probes": counts[4], "responses": counts[5], "pcap_beacon": counts[8], "pcap_rts": counts[27],
		"pcap_cts": counts[28], "pcap_ack": counts[29], "pcap_null": counts[36],
	}
	routed := 0
	for name, n := range want {
		routed += n
		if got := countLines(t, filepath.Join(dir, name+".jsonl")); got != n {
			t.Errorf("%s.jsonl has %d records, stats counts %d", name, got, n)
		}
	}
	if counts[4] == 0 {
		t.Fatal("the captures have no probe requests")
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if !strings.Contains(res.stderr, "split: "+plural(int64(total-routed), "record")+" without a route dropped") {
		t.Errorf("stderr does not count %d dropped records: %s", total-routed, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "pcap_probe.jsonl")); err == nil {
		t.Error("pcap_probe.jsonl exists although --route 4=probes replaced that route")
	}
}

func TestSplitOtherAndFields(t *testing.T) {
	records := probeRecords(t)
	counts := statsCounts(t, records)
	dir := t.TempDir()

	res := invokeSplitCLI(t, context.Background(), strings.NewReader(records), "split", "--out-dir", dir, "--other", "rest", "-e", "wlan.sa,wlan_fc_type_subtype")
	if res.code != ExitOK {
		t.Fatalf("split: exit %d: %s", res.code, res.stderr)
	}
	total, routed := 0, 0
	for subtype, n := range counts {
		total += n
		switch subtype {
		case 4, 8, 27, 28, 29, 36:
			routed += n
		}
	}
	if got := countLines(t, filepath.Join(dir, "rest.jsonl")); got != total-routed {
		t.Errorf("rest.jsonl has %d records, want %d", got, total-routed)
	}
	data, err := os.ReadFile(filepath.Join(dir, "pcap_probe.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		for key := range rec {
			if key != "timestamp" && key != "wlan_sa" && key != "wlan_fc_type_subtype" {
				t.Fatalf("projected record has key %q: %s", key, line)
			}
		}
	}
}

func TestSplitInvalidFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"split"}, "name one destination"},
		{[]string{"split", "--out-dir", "x", "--route", "probe=probes"}, `invalid route "probe=probes"`},
		{[]string{"split", "--out-dir", "x", "--route", "4"}, "want SUBTYPE=NAME"},
		{[]string{"split", "--to", "kafka"}, "--to kafka needs --from kafka:TOPIC"},
		{[]string{"split", "--to", "file"}, `invalid --to "file"`},
		{[]string{"split", "--from", "kafka:in", "--to", "kafka", "--route", "4=bad/topic"}, `invalid route topic "bad/topic"`},
	}
	for _, c := range cases {
		res := invokeSplitCLI(t, context.Background(), nil, c.args...)
		if res.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", c.args, res.code, ExitUsage)
		}
		if !strings.Contains(res.stderr, c.want) {
			t.Errorf("%v: stderr %q does not contain %q", c.args, res.stderr, c.want)
		}
	}
}

// readCommitted returns the values of a topic that read_committed
// consumers see.
func readCommitted(t *testing.T, brokers, topic string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var values []string
	for {
		pollCtx, pollCancel := context.WithTimeout(ctx, 2*time.Second)
		fetches := client.PollFetches(pollCtx)
		pollCancel()
		if ctx.Err() != nil {
			t.Fatalf("read %s: %v", topic, ctx.Err())
		}
		if fetches.NumRecords() == 0 {
			return values
		}
		fetches.EachRecord(func(r *kgo.Record) { values = append(values, string(r.Value)) })
	}
}

func TestSplitKafkaTransactional(t *testing.T) {
	brokers := fakeKafka(t, 2, "pcap", "pcap_probe", "pcap_beacon", "pcap_rts", "pcap_cts", "pcap_ack", "pcap_null")
	records := probeRecords(t)
	counts := statsCounts(t, records)
	code, _, stderr := wifiqKafka(t, records, "produce", "--brokers", brokers, "--topic", "pcap")
	if code != ExitOK {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}

	for run := 1; run <= 2; run++ {
		res := invokeSplitCLI(t, context.Background(), nil, "split", "--brokers", brokers, "--from", "kafka:pcap", "--to", "kafka", "--group", "split-test")
		if res.code != ExitOK {
			t.Fatalf("split run %d: exit %d: %s", run, res.code, res.stderr)
		}
	}

	for topic, subtype := range map[string]int{"pcap_probe": 4, "pcap_beacon": 8, "pcap_ack": 29, "pcap_null": 36, "pcap_cts": 28} {
		values := waitForCommitted(t, brokers, topic, counts[subtype])
		if len(values) != counts[subtype] {
			t.Errorf("%s contains %d records after two runs, stats counts %d of subtype %d", topic, len(values), counts[subtype], subtype)
		}
	}
}

func TestSplitKafkaMissingTopic(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	res := invokeSplitCLI(t, context.Background(), nil, "split", "--brokers", brokers, "--from", "kafka:pcap", "--to", "kafka")
	if res.code != ExitFailure {
		t.Errorf("exit %d, want %d", res.code, ExitFailure)
	}
	if !strings.Contains(res.stderr, "topic not found") || !strings.Contains(res.stderr, "create the input topic and every route topic") {
		t.Errorf("stderr does not name the missing topic: %s", res.stderr)
	}
}

// A topic that split wrote in transactions ends with a commit marker. A
// bounded split of it must see the marker as the end, not wait for records
// that never come.
func TestSplitOfTransactionalTopicEnds(t *testing.T) {
	brokers := realKafka(t)
	prefix := fmt.Sprintf("txnend%d", time.Now().UnixNano())
	createTopics(t, brokers, prefix+"_in", prefix+"_probe", prefix+"_probe2")
	// A small capture: its records and the commit marker come in separate
	// polls, so one poll holds the marker only.
	replayed := invokeCLI(t, nil, "replay-pcap", "-q", corpusDir+"aircrack-ng__n-02.cap")
	records := replayed.stdout
	if code, _, stderr := wifiqKafka(t, records, "produce", "--brokers", brokers, "--topic", prefix+"_in"); code != ExitOK {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	// Every default route goes to one topic, so that no other topic is needed.
	routes := func(topic string) []string {
		var args []string
		for _, subtype := range []string{"4", "8", "27", "28", "29", "36"} {
			args = append(args, "--route", subtype+"="+topic)
		}
		return args
	}
	first := invokeSplitCLI(t, context.Background(), nil, append([]string{"split", "--brokers", brokers, "--from", "kafka:" + prefix + "_in", "--to", "kafka",
		"--group", prefix + "-1"}, routes(prefix+"_probe")...)...)
	if first.code != ExitOK {
		t.Fatalf("split of the input: exit %d: %s", first.code, first.stderr)
	}

	second := invokeSplitCLI(t, context.Background(), nil, append([]string{"split", "--brokers", brokers, "--from", "kafka:" + prefix + "_probe", "--to", "kafka",
		"--group", prefix + "-2"}, routes(prefix+"_probe2")...)...)
	if second.code != ExitOK {
		t.Fatalf("split of the transactional topic: exit %d: %s", second.code, second.stderr)
	}
	if strings.Contains(second.stderr, "no records arrived") {
		t.Errorf("split waited for records after the commit marker instead of stopping at the end:\n%s", second.stderr)
	}
	if !strings.Contains(second.stderr, "(0 aborted)") {
		t.Errorf("split aborted a transaction, want none for a poll of commit markers only:\n%s", second.stderr)
	}
	counts := statsCounts(t, records)
	routed := 0
	for _, subtype := range []int{4, 8, 27, 28, 29, 36} {
		routed += counts[subtype]
	}
	want := waitForCommitted(t, brokers, prefix+"_probe", routed)
	got := waitForCommitted(t, brokers, prefix+"_probe2", len(want))
	if len(want) == 0 || len(got) != len(want) {
		t.Errorf("second split wrote %d records, want the %d records of the first", len(got), len(want))
	}
}

// On a new cluster the group coordinator is not available until the offsets
// topic exists. split --group, the first group request of the cluster, must
// wait for it instead of failing.
func TestSplitGroupOnNewCluster(t *testing.T) {
	broker := startOwnBroker(t)
	createTopics(t, broker.brokers, "pcap", "pcap_probe", "pcap_beacon", "pcap_rts", "pcap_cts", "pcap_ack", "pcap_null")
	records := probeRecords(t)
	if code, _, stderr := wifiqKafka(t, records, "produce", "--brokers", broker.brokers, "--topic", "pcap"); code != ExitOK {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	res := invokeSplitCLI(t, context.Background(), nil, "split", "--brokers", broker.brokers, "--from", "kafka:pcap", "--to", "kafka", "--group", "first-group")
	if res.code != ExitOK {
		t.Fatalf("split --group on a new cluster: exit %d: %s", res.code, res.stderr)
	}
	want := statsCounts(t, records)[4]
	if got := len(readCommitted(t, broker.brokers, "pcap_probe")); got != want {
		t.Errorf("pcap_probe contains %d records, want the %d probe requests", got, want)
	}
}

// TestValueParserReusesItsReader checks that parsing a Kafka value
// allocates nothing. It used to make a record reader with a 256 KiB buffer
// for every value, which cost more than the rest of split's work.
func TestValueParserReusesItsReader(t *testing.T) {
	var p valueParser
	value := []byte(`{"timestamp":"1714521600000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:03:48:00"],"wlan_ssid":["net-40"]}`)
	p.parse(value) // the first value makes the reader
	allocs := testing.AllocsPerRun(100, func() {
		if rec, reason := p.parse(value); rec == nil {
			t.Fatalf("value not parsed: %s", reason)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per value, want 0", allocs)
	}
	for value, want := range map[string]string{
		`{"index":{"_index":"packets"}}`:          `tshark {"index":...} line, not a record`,
		`{"timestamp":"1714521600","wlan_sa":[]}`: "timestamp 1714521600 is before 1973",
		"  ": "empty value",
	} {
		if rec, reason := p.parse([]byte(value)); rec != nil || !strings.HasPrefix(reason, want) {
			t.Errorf("%s: reason %q, want %q...", value, reason, want)
		}
	}
}
