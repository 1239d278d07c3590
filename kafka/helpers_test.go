package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/wifiq/wifiq/kafka"
)

// testTimeout bounds each test's waits for a broker, so that a hang fails
// the test instead of stalling the run.
const testTimeout = 2 * time.Minute

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// testLog writes the client library's warnings to the test log.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// newFakeCluster starts an in-process kfake cluster of one broker on
// 127.0.0.1 with the given topics of partitions partitions each.
func newFakeCluster(t *testing.T, partitions int32, topics ...string) (*kfake.Cluster, *kafka.Config) {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cfg := kafka.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	return cluster, cfg
}

// testRecord is a record line with its event time and optional key.
type testRecord struct {
	timestamp int64
	key       []byte
	line      string
}

// makeRecords returns n record lines with event times start, start+step, ...
func makeRecords(n int, start, step int64) []testRecord {
	records := make([]testRecord, n)
	for i := range records {
		ts := start + int64(i)*step
		records[i] = testRecord{
			timestamp: ts,
			line:      fmt.Sprintf(`{"timestamp":"%d","wlan_fc_type_subtype":["4"],"wlan_seq":["%d"]}`, ts, i),
		}
	}
	return records
}

func produceRecords(t *testing.T, cfg *kafka.Config, opts kafka.ProducerOptions, records []testRecord) kafka.Stats {
	t.Helper()
	producer, err := kafka.NewProducer(testContext(t), cfg, opts, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if err := producer.WriteKeyed(r.timestamp, r.key, []byte(r.line)); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := producer.Close()
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

// consumeAll reads a bounded consumer to its end, marks every message
// processed and closes the consumer.
func consumeAll(t *testing.T, cfg *kafka.Config, opts kafka.ConsumerOptions) []kafka.Message {
	t.Helper()
	consumer, err := kafka.NewConsumer(testContext(t), cfg, opts, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	msgs := readMessages(t, consumer, -1)
	if err := consumer.Close(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// readMessages reads up to limit messages (all when limit < 0) until
// io.EOF, marking each one processed.
func readMessages(t *testing.T, consumer *kafka.Consumer, limit int) []kafka.Message {
	t.Helper()
	ctx := testContext(t)
	var msgs []kafka.Message
	for limit < 0 || len(msgs) < limit {
		m, err := consumer.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
		consumer.MarkProcessed(m)
	}
	return msgs
}

// checkSameRecords fails unless msgs hold exactly the records, each once,
// with the record's event time as the Kafka timestamp.
func checkSameRecords(t *testing.T, msgs []kafka.Message, records []testRecord) {
	t.Helper()
	want := make(map[string]int64, len(records))
	for _, r := range records {
		want[r.line] = r.timestamp
	}
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		line := string(m.Value)
		ts, ok := want[line]
		if !ok {
			t.Errorf("unexpected message at partition %d offset %d: %s", m.Partition, m.Offset, line)
			continue
		}
		if seen[line] {
			t.Errorf("message read twice: %s", line)
		}
		seen[line] = true
		if m.Timestamp != ts {
			t.Errorf("message %s has timestamp %d, want the event time %d", line, m.Timestamp, ts)
		}
	}
	if len(seen) != len(records) {
		t.Errorf("read %d distinct records, want %d", len(seen), len(records))
	}
}

// requireEnv returns an environment variable that the real-broker tests
// need. Without it the test is skipped, or fails when
// WIFIQ_REQUIRE_SERVERS=1.
func requireEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("WIFIQ_REQUIRE_SERVERS") == "1" {
		t.Fatalf("%s is not set but WIFIQ_REQUIRE_SERVERS=1: start the broker with scripts/kafka.sh start and load /tmp/wifiq-servers/kafka/env", name)
	}
	t.Skipf("%s is not set: run scripts/kafka.sh start and . /tmp/wifiq-servers/kafka/env for the real-broker tests", name)
	return ""
}
