package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wifiq/wifiq/record"
)

// realKafka returns the PLAINTEXT brokers of the local test broker
// (scripts/kafka.sh), or skips the test when it is not running, unless
// WIFIQ_REQUIRE_SERVERS is set.
func realKafka(t *testing.T) string {
	t.Helper()
	brokers := os.Getenv("WIFIQ_KAFKA_BROKERS")
	if brokers == "" {
		if os.Getenv("WIFIQ_REQUIRE_SERVERS") != "" {
			t.Fatal("WIFIQ_KAFKA_BROKERS is not set: start the broker with scripts/kafka.sh start and source its env file")
		}
		t.Skip("no Kafka broker: run scripts/kafka.sh start and source /tmp/wifiq-servers/kafka/env")
	}
	isolateKafkaEnv(t)
	return brokers
}

// roundTripThroughKafka replays captures into a topic, then runs stats
// from the topic, and compares it with stats over the piped records.
func roundTripThroughKafka(t *testing.T, brokers, topic string) {
	t.Helper()
	files := []string{casesDir + "V12_data_and_control_frames.pcap", casesDir + "V7_channel_from_frequency.pcap", kafkaTestCaptures + "aircrack-ng__n-02.cap"}
	args := append([]string{"replay-pcap", "--to", "kafka:" + topic, "--create-topic", "--partitions", "3", "--brokers", brokers}, files...)
	code, stdout, stderr := wifiqKafka(t, "", args...)
	if code != ExitOK || stdout != "" {
		t.Fatalf("replay-pcap --to kafka: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "229 records sent to topic "+topic+", 229 acknowledged") {
		t.Errorf("stderr does not report 229 acknowledged records:\n%s", stderr)
	}

	code, fromTopic, stderr := wifiqKafka(t, "", "stats", "--from", "kafka:"+topic, "--brokers", brokers, "-o", "csv")
	if code != ExitOK {
		t.Fatalf("stats --from kafka: exit %d\n%s", code, stderr)
	}
	records := invokeCLI(t, nil, append([]string{"replay-pcap"}, files...)...)
	piped := invokeCLI(t, strings.NewReader(records.stdout), "stats", "-o", "csv")
	if fromTopic != piped.stdout {
		t.Errorf("stats from the topic:\n%s\nstats from the pipe:\n%s", fromTopic, piped.stdout)
	}

	// Each Kafka record carries the record's event time as its timestamp.
	lines := strings.Split(strings.TrimSpace(records.stdout), "\n")
	byValue := map[string]int64{}
	for _, line := range lines {
		ts, _ := strconv.ParseInt(line[len(`{"timestamp":"`):strings.Index(line, `",`)], 10, 64)
		byValue[line] = ts
	}
	for _, r := range topicRecords(t, brokers, topic) {
		want, ok := byValue[string(r.Value)+"\n"]
		if !ok {
			want, ok = byValue[string(r.Value)]
		}
		if !ok || r.Timestamp.UnixMilli() != want {
			t.Fatalf("Kafka record at %v with value %.80s: want timestamp %d", r.Timestamp, r.Value, want)
		}
	}
}

func TestRecordsThroughFakeKafka(t *testing.T) {
	brokers := fakeKafka(t, 3, "pcap")
	roundTripThroughKafka(t, brokers, "pcap")
}

func TestRecordsThroughRealKafka(t *testing.T) {
	brokers := realKafka(t)
	topic := fmt.Sprintf("wifiq-test-roundtrip-%d", time.Now().UnixNano())
	roundTripThroughKafka(t, brokers, topic)
}

func TestRecordIOFlagErrors(t *testing.T) {
	isolateKafkaEnv(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"replay-pcap", "--key", "wlan.sa", casesDir + "V7_channel_from_frequency.pcap"}, "--key and --create-topic need --to kafka:TOPIC"},
		{[]string{"replay-pcap", "--to", "elastic:pcap", casesDir + "V7_channel_from_frequency.pcap"}, `"elastic:pcap"`},
		{[]string{"replay-pcap", "--to", "kafka:pcap", "--ek-index", casesDir + "V7_channel_from_frequency.pcap"}, "--ek-index"},
		{[]string{"stats", "--from", "kafka:pcap", "records.json"}, "reads no files"},
		{[]string{"stats", "--follow"}, "need --from kafka:TOPIC"},
		{[]string{"stats", "--from", "kafka:pcap", "--start", "yesterday"}, "yesterday"},
	}
	for _, tt := range tests {
		res := invokeCLI(t, nil, tt.args...)
		if res.code != ExitUsage || !strings.Contains(res.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, res.code, res.stderr, ExitUsage, tt.want)
		}
	}
}

// TestStatsGroupCommitsAfterTable reads a topic twice in one group: the
// second run finds nothing new, because the first committed after it
// printed its table.
func TestStatsGroupCommitsAfterTable(t *testing.T) {
	brokers := fakeKafka(t, 2, "pcap")
	if code, _, stderr := wifiqKafka(t, "", "replay-pcap", "--to", "kafka:pcap", "--brokers", brokers, casesDir+"V7_channel_from_frequency.pcap"); code != ExitOK {
		t.Fatalf("replay-pcap: exit %d\n%s", code, stderr)
	}
	args := []string{"stats", "--from", "kafka:pcap", "--group", "daily", "--brokers", brokers, "-o", "csv"}
	code, first, stderr := wifiqKafka(t, "", args...)
	if code != ExitOK || !strings.Contains(first, ",Beacon frame,4,") {
		t.Fatalf("first run: exit %d\n%s%s", code, first, stderr)
	}
	code, second, stderr := wifiqKafka(t, "", args...)
	if code != ExitOK || strings.Contains(second, "Beacon") {
		t.Errorf("second run: exit %d\n%s%s; want an empty table", code, second, stderr)
	}
}

// TestReadRecordFileAllocatesNothingPerRecord checks that reading a file
// of records costs no allocation per record. The loop used to move the
// target of errors.As to the heap for every record.
func TestReadRecordFileAllocatesNothingPerRecord(t *testing.T) {
	dir := t.TempDir()
	line := `{"timestamp":"1714521600000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:03:48:00"],"wlan_ssid":["net-40"]}` + "\n"
	allocs := map[int]float64{}
	for _, n := range []int{10, 1010} {
		name := filepath.Join(dir, fmt.Sprintf("records-%d.jsonl", n))
		if err := os.WriteFile(name, []byte(strings.Repeat(line, n)), 0o644); err != nil {
			t.Fatal(err)
		}
		g := &Globals{IO: &IO{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}}
		records := 0
		allocs[n] = testing.AllocsPerRun(5, func() {
			records = 0
			if _, err := readRecordFile(context.Background(), g, name, 0, nil, func(*record.Record) error {
				records++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
		if records != n {
			t.Fatalf("read %d records of %d", records, n)
		}
	}
	if extra := allocs[1010] - allocs[10]; extra > 10 {
		t.Errorf("1,000 more records cost %.0f more allocations (%.0f for 10 records, %.0f for 1,010)", extra, allocs[10], allocs[1010])
	}
}
