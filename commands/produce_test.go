package commands

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wifiq/wifiq/kafka"
)

// The produce and consume tests run wifiq's commands against kfake,
// franz-go's in-process Kafka cluster on 127.0.0.1.

const kafkaTestCaptures = "../testdata/corpus/"

// kafkaTestTimeout bounds each command run and wait in these tests, so a
// hang fails instead of stalling the run.
const kafkaTestTimeout = 2 * time.Minute

// lockedBuffer is a bytes.Buffer that a test may read while the command
// writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// kafkaRun is one wifiq invocation against a Kafka cluster.
type kafkaRun struct {
	ctx           context.Context
	stdin         io.Reader
	errIsTerminal bool
	stdout        lockedBuffer
	stderr        lockedBuffer
}

// run executes wifiq with args and returns the exit status.
func (r *kafkaRun) run(t *testing.T, args ...string) int {
	t.Helper()
	ctx := r.ctx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), kafkaTestTimeout)
		defer cancel()
	}
	stdin := r.stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	g := &Globals{IO: &IO{In: stdin, Out: &r.stdout, ErrOut: &r.stderr, ErrIsTerminal: r.errIsTerminal}}
	g.Log = slog.New(slog.NewTextHandler(&r.stderr, nil))
	return Run(ctx, NewRoot(g, "test"), g, args)
}

// wifiqKafka runs wifiq with stdin and returns its exit status, stdout
// and stderr.
func wifiqKafka(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	r := &kafkaRun{stdin: strings.NewReader(stdin)}
	code := r.run(t, args...)
	return code, r.stdout.String(), r.stderr.String()
}

// isolateKafkaEnv clears the WIFIQ_KAFKA_* settings of the environment,
// which the commands read, for the duration of a test.
func isolateKafkaEnv(t *testing.T) {
	t.Setenv(kafka.EnvConfig, "")
	for _, e := range kafka.EnvProperties {
		t.Setenv(e.Variable, "")
	}
}

// fakeKafka starts a one-broker kfake cluster with topics of the given
// partitions and returns its --brokers value.
func fakeKafka(t *testing.T, partitions int32, topics ...string) string {
	t.Helper()
	isolateKafkaEnv(t)
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return strings.Join(cluster.ListenAddrs(), ",")
}

// captureLines decodes a test capture with replay-pcap and returns its
// record lines.
func captureLines(t *testing.T, name string) []string {
	t.Helper()
	code, stdout, stderr := wifiqKafka(t, "", "replay-pcap", kafkaTestCaptures+name)
	if code != ExitOK {
		t.Fatalf("replay-pcap %s: exit %d: %s", name, code, stderr)
	}
	return strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
}

// topicRecords reads every record of a topic with a plain franz-go client.
func topicRecords(t *testing.T, brokers, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ends, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(0)
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	client.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: startOffsets(ends)})

	var records []*kgo.Record
	for int64(len(records)) < want {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s: %v", len(records), want, topic, err)
		}
		records = append(records, fetches.Records()...)
	}
	return records
}

func startOffsets(ends kadm.ListedOffsets) map[int32]kgo.Offset {
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) { offsets[o.Partition] = kgo.NewOffset().AtStart() })
	return offsets
}

func TestProduceConsumeRoundTripOnePartition(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	lines := captureLines(t, "aircrack-ng__wpa2-psk-linksys.cap")
	lines = append(lines, captureLines(t, "aircrack-ng__Chinese-SSID-Name.pcap")...)
	input := strings.Join(lines, "\n") + "\n"

	code, _, stderr := wifiqKafka(t, input, "produce", "--brokers", brokers, "--topic", "pcap")
	if code != ExitOK {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	want := "produced " + strconv.Itoa(len(lines)) + " records to topic pcap: " + strconv.Itoa(len(lines)) + " acknowledged, 0 not acknowledged"
	if !strings.Contains(stderr, want) {
		t.Errorf("produce stderr %q does not contain %q", stderr, want)
	}

	code, stdout, stderr := wifiqKafka(t, "", "consume", "--brokers", brokers, "--topic", "pcap")
	if code != ExitOK {
		t.Fatalf("consume: exit %d: %s", code, stderr)
	}
	if stdout != input {
		t.Errorf("consume wrote different lines than produce read:\n got %.300q\nwant %.300q", stdout, input)
	}
}

func TestProduceConsumeRoundTripPartitions(t *testing.T) {
	brokers := fakeKafka(t, 4, "pcap")
	lines := captureLines(t, "aircrack-ng__wpa2-psk-linksys.cap")

	code, _, stderr := wifiqKafka(t, strings.Join(lines, "\n")+"\n",
		"produce", "--brokers", brokers, "--topic", "pcap", "--partitioner", "round-robin")
	if code != ExitOK {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := wifiqKafka(t, "", "consume", "--brokers", brokers, "--topic", "pcap")
	if code != ExitOK {
		t.Fatalf("consume: exit %d: %s", code, stderr)
	}

	got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	sort.Strings(got)
	want := append([]string(nil), lines...)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("consume wrote %d lines that differ from the %d produced", len(got), len(want))
	}
}

func TestProduceSetsEventTimeAsTimestamp(t *testing.T) {
	brokers := fakeKafka(t, 2, "pcap")
	lines := captureLines(t, "aircrack-ng__wpa2-psk-linksys.cap")
	if code, _, stderr := wifiqKafka(t, strings.Join(lines, "\n"), "produce", "--brokers", brokers, "--topic", "pcap"); code != ExitOK {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}

	records := topicRecords(t, brokers, "pcap")
	if len(records) != len(lines) {
		t.Fatalf("topic has %d records, want %d", len(records), len(lines))
	}
	for _, r := range records {
		_, rest, _ := strings.Cut(string(r.Value), `{"timestamp":"`)
		eventTime, _, _ := strings.Cut(rest, `"`)
		if got := strconv.FormatInt(r.Timestamp.UnixMilli(), 10); got != eventTime {
			t.Errorf("record at offset %d has timestamp %s, want its event time %s", r.Offset, got, eventTime)
		}
		if r.Key != nil {
			t.Errorf("record at offset %d has key %q, want none", r.Offset, r.Key)
		}
	}
}

func TestProduceFlattensTsharkEK(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	input := `{"index":{"_index":"packets-2024-05-01","_type":"doc"}}
{"timestamp":"1714564800000","layers":{"wlan_fc_type_subtype":["0x0008"],"wlan_ssid":["74657374"]}}
`
	if code, _, stderr := wifiqKafka(t, input, "produce", "--brokers", brokers, "--topic", "pcap"); code != ExitOK {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	records := topicRecords(t, brokers, "pcap")
	want := `{"timestamp":"1714564800000","wlan_fc_type_subtype":["0x0008"],"wlan_ssid":["74657374"]}`
	if len(records) != 1 || string(records[0].Value) != want {
		t.Fatalf("topic has %d records, want one with value %s", len(records), want)
	}
}

func TestProduceSkipsAndCountsBadLines(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	input := `{"timestamp":"1714564800000","wlan_fc_type_subtype":["4"]}
this is not JSON
{"timestamp":"1714564800001","wlan_fc_type_subtype":["8"]}
{"wlan_fc_type_subtype":["5"]}
{"timestamp":"1714564800002","wlan_fc_type_subtype":["5"]}
`
	code, _, stderr := wifiqKafka(t, input, "produce", "--brokers", brokers, "--topic", "pcap")
	if code != ExitPartial {
		t.Errorf("exit %d, want %d for skipped lines: %s", code, ExitPartial, stderr)
	}
	for _, want := range []string{"line=2", "line=4", `no \"timestamp\"`, "2 input lines were not records and were skipped", "produced 3 records"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr)
		}
	}
	if records := topicRecords(t, brokers, "pcap"); len(records) != 3 {
		t.Errorf("topic has %d records, want the 3 good ones", len(records))
	}
}

func TestProduceStrictStopsAtBadLine(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	input := `{"timestamp":"1714564800000"}
{"timestamp":"1714564800001"}
broken
{"timestamp":"1714564800002"}
`
	code, _, stderr := wifiqKafka(t, input, "produce", "--brokers", brokers, "--topic", "pcap", "--strict")
	if code != ExitFailure {
		t.Errorf("exit %d, want %d with --strict: %s", code, ExitFailure, stderr)
	}
	if !strings.Contains(stderr, "stdin:3") || !strings.Contains(stderr, "--strict") {
		t.Errorf("stderr does not name line 3 and --strict:\n%s", stderr)
	}
	if records := topicRecords(t, brokers, "pcap"); len(records) != 2 {
		t.Errorf("topic has %d records, want the 2 before the bad line", len(records))
	}
}

func TestProduceKeyField(t *testing.T) {
	brokers := fakeKafka(t, 3, "pcap")
	input := `{"timestamp":"1714564800000","wlan_sa":["02:00:00:00:00:01"]}
{"timestamp":"1714564800001","wlan_sa":["02:00:00:00:00:02","02:00:00:00:00:09"]}
{"timestamp":"1714564800002"}
`
	code, _, stderr := wifiqKafka(t, input, "produce", "--brokers", brokers, "--topic", "pcap", "--key", "wlan.sa")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "records without the key field were sent without a key") {
		t.Errorf("stderr does not report the record without wlan_sa:\n%s", stderr)
	}
	keys := map[string]string{}
	for _, r := range topicRecords(t, brokers, "pcap") {
		keys[r.Timestamp.UTC().Format("05.000")] = string(r.Key)
	}
	want := map[string]string{"00.000": "02:00:00:00:00:01", "00.001": "02:00:00:00:00:02", "00.002": ""}
	for ts, key := range want {
		if keys[ts] != key {
			t.Errorf("record at %s has key %q, want %q", ts, keys[ts], key)
		}
	}
}

func TestProduceUnknownPropertyWarns(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	code, _, stderr := wifiqKafka(t, `{"timestamp":"1714564800000"}`, "produce", "--brokers", brokers, "--topic", "pcap",
		"-X", "frobnicate.level=3", "-X", "client.dns.lookup=use_all_dns_ips")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, `unknown Kafka property \"frobnicate.level\"`) {
		t.Errorf("stderr does not warn about frobnicate.level:\n%s", stderr)
	}
	if strings.Contains(stderr, "client.dns.lookup") {
		t.Errorf("stderr warns about client.dns.lookup, which is a known Java setting:\n%s", stderr)
	}
}

func TestProduceInvalidSettings(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"security protocol", []string{"-X", "security.protocol=FOO"}, []string{`"FOO"`, "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"}},
		{"-X without value", []string{"-X", "acks"}, []string{"want key=value"}},
		{"compression", []string{"--compression", "brotli"}, []string{`"brotli"`, "none, gzip, snappy, lz4, zstd"}},
		{"partitioner", []string{"--partitioner", "random"}, []string{`"random"`, "sticky or round-robin"}},
		{"round-robin with key", []string{"--partitioner", "round-robin", "--key", "wlan_sa"}, []string{"ignores keys"}},
		{"partitions without create", []string{"--partitions", "3"}, []string{"--partitions applies only with --create-topic"}},
		{"topic config", []string{"--create-topic", "--topic-config", "retention.ms"}, []string{"want key=value"}},
		{"config file", []string{"--kafka-config", "/nonexistent/client.properties"}, []string{"/nonexistent/client.properties"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"produce", "--brokers", brokers, "--topic", "pcap"}, tt.args...)
			code, _, stderr := wifiqKafka(t, "", args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d: %s", code, ExitUsage, stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q does not contain %q", stderr, want)
				}
			}
		})
	}
}

func TestProduceMissingTopic(t *testing.T) {
	brokers := fakeKafka(t, 1)
	code, _, stderr := wifiqKafka(t, "", "produce", "--brokers", brokers)
	if code != ExitUsage || !strings.Contains(stderr, "missing --topic") {
		t.Errorf("without --topic: exit %d, stderr %q; want %d and missing --topic", code, stderr, ExitUsage)
	}
	code, _, stderr = wifiqKafka(t, "", "produce", "--brokers", brokers, "--topic", "absent")
	if code != ExitFailure || !strings.Contains(stderr, "--create-topic") {
		t.Errorf("unknown topic: exit %d, stderr %q; want %d and a hint to --create-topic", code, stderr, ExitFailure)
	}
}

func TestProduceCreatesTopic(t *testing.T) {
	brokers := fakeKafka(t, 1)
	code, _, stderr := wifiqKafka(t, `{"timestamp":"1714564800000"}`, "produce", "--brokers", brokers, "--topic", "made",
		"--create-topic", "--partitions", "4", "--replication-factor", "1", "--topic-config", "retention.ms=-1")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topics, err := kadm.NewClient(client).ListTopics(context.Background(), "made")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(topics["made"].Partitions); n != 4 {
		t.Errorf("topic has %d partitions, want 4", n)
	}
}

func TestProduceReportsUnacknowledgedRecords(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	input := `{"timestamp":"1714564800000"}
{"timestamp":"1714564800001","pad":["` + strings.Repeat("x", 3000) + `"]}
{"timestamp":"1714564800002"}
`
	// A batch of at most 1000 bytes cannot hold the second record.
	code, _, stderr := wifiqKafka(t, input, "produce", "--brokers", brokers, "--topic", "pcap", "-X", "batch.size=1000")
	if code != ExitFailure {
		t.Errorf("exit %d, want %d: %s", code, ExitFailure, stderr)
	}
	for _, want := range []string{"1 not acknowledged", "1 of 3 records were not acknowledged by topic pcap", "MESSAGE_TOO_LARGE"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr)
		}
	}
}

func TestProduceInterruptFlushes(t *testing.T) {
	brokers := fakeKafka(t, 2, "pcap")
	stdin, feed := io.Pipe()
	defer feed.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &kafkaRun{ctx: ctx, stdin: stdin}

	done := make(chan int, 1)
	go func() { done <- r.run(t, "produce", "--brokers", brokers, "--topic", "pcap") }()
	for i := 0; i < 20; i++ {
		if _, err := io.WriteString(feed, `{"timestamp":"`+strconv.Itoa(1714564800000+i)+`"}`+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	// The input stays open, as a live capture's pipe would, when the
	// command is interrupted.
	waitForRecords(t, brokers, "pcap", 20)
	cancel()

	code := <-done
	stderr := r.stderr.String()
	if code != ExitInterrupted {
		t.Errorf("exit %d, want %d after an interrupt: %s", code, ExitInterrupted, stderr)
	}
	for _, want := range []string{"produced 20 records to topic pcap: 20 acknowledged, 0 not acknowledged", "interrupted after 20 records; 0 not acknowledged"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr)
		}
	}
}

// waitForRecords waits until a topic holds n records.
func waitForRecords(t *testing.T, brokers, topic string, n int64) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	deadline := time.Now().Add(kafkaTestTimeout)
	for {
		ends, err := kadm.NewClient(client).ListEndOffsets(context.Background(), topic)
		if err != nil {
			t.Fatal(err)
		}
		total := int64(0)
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		if total >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s holds %d records, want %d", topic, total, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProduceProgressOnlyOnTerminal(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")

	stdin, feed := io.Pipe()
	r := &kafkaRun{stdin: stdin, errIsTerminal: true}
	done := make(chan int, 1)
	go func() { done <- r.run(t, "produce", "--brokers", brokers, "--topic", "pcap") }()
	if _, err := io.WriteString(feed, `{"timestamp":"1714564800000"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(kafkaTestTimeout)
	for !strings.Contains(r.stderr.String(), "\r\033[Kproduced 1 record: 1 acknowledged") {
		if time.Now().After(deadline) {
			t.Fatalf("no progress line on a terminal stderr:\n%q", r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	feed.Close()
	if code := <-done; code != ExitOK {
		t.Errorf("exit %d: %s", code, r.stderr.String())
	}

	_, _, stderr := wifiqKafka(t, `{"timestamp":"1714564800000"}`, "produce", "--brokers", brokers, "--topic", "pcap")
	if strings.Contains(stderr, "\r") {
		t.Errorf("progress drawn on a stderr that is not a terminal:\n%q", stderr)
	}
}
