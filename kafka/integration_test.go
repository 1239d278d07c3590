package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/wifiq/wifiq/kafka"
)

// The tests in this file run against the real broker that
// scripts/kafka.sh start runs on 127.0.0.1. They read its addresses and
// credentials from the variables in /tmp/wifiq-servers/kafka/env and skip
// without them (or fail, with WIFIQ_REQUIRE_SERVERS=1).

// realPlaintext returns settings for the broker's PLAINTEXT listener.
func realPlaintext(t *testing.T) *kafka.Config {
	t.Helper()
	brokers := requireEnv(t, "WIFIQ_KAFKA_BROKERS")
	cfg, _, err := kafka.Load(kafka.LoadOptions{Brokers: brokers, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// realSASLPlaintext returns settings for the SASL_PLAINTEXT listener with
// the given mechanism and password.
func realSASLPlaintext(t *testing.T, mechanism, password string) *kafka.Config {
	t.Helper()
	brokers := requireEnv(t, "WIFIQ_KAFKA_SASL_PLAINTEXT_BROKERS")
	user := requireEnv(t, "WIFIQ_KAFKA_SASL_USER")
	cfg, _, err := kafka.Load(kafka.LoadOptions{Getenv: noEnv, Brokers: brokers, Overrides: []string{
		"security.protocol=SASL_PLAINTEXT",
		"sasl.mechanism=" + mechanism,
		"sasl.username=" + user,
		"sasl.password=" + password,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func realPassword(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(requireEnv(t, "WIFIQ_KAFKA_SASL_PASSWORD_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// newRealTopic creates a topic with a name unique to this test run and
// deletes it when the test ends.
func newRealTopic(t *testing.T, cfg *kafka.Config, partitions int32) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	topic := fmt.Sprintf("wifiq-test-%s-%d", strings.ToLower(name), time.Now().UnixNano())
	client, err := cfg.NewClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kafka.CreateTopic(testContext(t), client, topic, kafka.TopicSpec{Partitions: partitions, ReplicationFactor: 1}); err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := kadm.NewClient(client).DeleteTopic(ctx, topic); err != nil {
			t.Logf("unable to delete topic %s: %v", topic, err)
		}
		client.Close()
	})
	return topic
}

// recentEventTime is an hour ago. Kafka deletes log segments whose newest
// record timestamp is older than retention.ms (7 days by default), so test
// records carry recent event times.
func recentEventTime() int64 {
	return time.Now().Add(-time.Hour).UnixMilli()
}

func TestRealPlaintextRoundTrip(t *testing.T) {
	cfg := realPlaintext(t)
	topic := newRealTopic(t, cfg, 3)
	records := makeRecords(3000, recentEventTime(), 7)

	stats := produceRecords(t, cfg, kafka.ProducerOptions{Topic: topic}, records)
	if stats.Acknowledged != 3000 || stats.Failed != 0 {
		t.Errorf("stats = %+v, want 3000 acknowledged", stats)
	}
	checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: topic}), records)
}

func TestRealSASLSSLWithClientPropertiesFile(t *testing.T) {
	path := requireEnv(t, "WIFIQ_KAFKA_CLIENT_PROPERTIES")
	tests := []struct {
		name      string
		overrides []string
		mechanism string
	}{
		// The file as scripts/kafka.sh writes it, which names SCRAM-SHA-256.
		{"unchanged file", nil, kafka.MechanismSCRAMSHA256},
		{"SCRAM-SHA-512 by -X", []string{"sasl.mechanism=SCRAM-SHA-512"}, kafka.MechanismSCRAMSHA512},
		{"PLAIN by -X", []string{"sasl.mechanisms=PLAIN"}, kafka.MechanismPlain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings, err := kafka.Load(kafka.LoadOptions{ConfigFile: path, Overrides: tt.overrides, Getenv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings = %q, want none", warnings)
			}
			if cfg.SecurityProtocol != kafka.ProtocolSASLSSL || cfg.SASLMechanism != tt.mechanism {
				t.Fatalf("settings %s %s, want SASL_SSL %s", cfg.SecurityProtocol, cfg.SASLMechanism, tt.mechanism)
			}
			if !cfg.SSLVerifyHostname || !cfg.SSLVerifyCertificates {
				t.Error("the file turned certificate or host name verification off")
			}
			topic := newRealTopic(t, cfg, 2)
			records := makeRecords(200, recentEventTime(), 11)
			produceRecords(t, cfg, kafka.ProducerOptions{Topic: topic}, records)
			checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: topic}), records)
		})
	}
}

func TestRealSASLSSLRejectsUnknownCA(t *testing.T) {
	path := requireEnv(t, "WIFIQ_KAFKA_CLIENT_PROPERTIES")
	cfg, _, err := kafka.Load(kafka.LoadOptions{ConfigFile: path, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	// Without the test CA, the broker's certificate is not trusted.
	cfg.SSLCALocation = ""
	cfg.DialTimeout = 5 * time.Second
	_, err = kafka.NewProducer(testContext(t), cfg, kafka.ProducerOptions{Topic: "any"}, testLog(t))
	if err == nil {
		t.Fatal("NewProducer trusted a certificate of an unknown CA")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error %q does not mention the certificate", err)
	}
}

func TestRealSASLPlaintextPlain(t *testing.T) {
	cfg := realSASLPlaintext(t, kafka.MechanismPlain, realPassword(t))
	topic := newRealTopic(t, cfg, 1)
	records := makeRecords(100, recentEventTime(), 13)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: topic}, records)
	checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: topic}), records)
}

func TestRealWrongPasswordFails(t *testing.T) {
	for _, mechanism := range []string{kafka.MechanismPlain, kafka.MechanismSCRAMSHA512} {
		t.Run(mechanism, func(t *testing.T) {
			cfg := realSASLPlaintext(t, mechanism, "not-the-password")
			_, err := kafka.NewConsumer(testContext(t), cfg, kafka.ConsumerOptions{Topic: "any"}, testLog(t))
			if err == nil {
				t.Fatal("NewConsumer with a wrong password succeeded")
			}
			if !strings.Contains(err.Error(), "unable to reach Kafka") || !strings.Contains(err.Error(), "SASL_PLAINTEXT") {
				t.Errorf("error %q does not say which connection failed", err)
			}
			if strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestRealBoundedConsumerEnds(t *testing.T) {
	cfg := realPlaintext(t)
	topic := newRealTopic(t, cfg, 3)

	if msgs := consumeAll(t, cfg, kafka.ConsumerOptions{Topic: topic}); len(msgs) != 0 {
		t.Errorf("read %d messages from a new topic, want none", len(msgs))
	}

	first := makeRecords(100, recentEventTime(), 1)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: topic}, first)
	consumer, err := kafka.NewConsumer(testContext(t), cfg, kafka.ConsumerOptions{Topic: topic}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: topic}, makeRecords(100, recentEventTime()+1000, 1))
	checkSameRecords(t, readMessages(t, consumer, -1), first)
}

func TestRealGroupResumes(t *testing.T) {
	cfg := realPlaintext(t)
	topic := newRealTopic(t, cfg, 3)
	records := makeRecords(600, recentEventTime(), 1)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: topic, Partitioner: kafka.PartitionerRoundRobin}, records)
	opts := kafka.ConsumerOptions{Topic: topic, Group: topic + "-group"}

	first, err := kafka.NewConsumer(testContext(t), cfg, opts, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	part1 := readMessages(t, first, 250)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	part2 := consumeAll(t, cfg, opts)
	checkSameRecords(t, append(part1, part2...), records)
	if rest := consumeAll(t, cfg, opts); len(rest) != 0 {
		t.Errorf("a third run read %d messages, want none", len(rest))
	}
}

func TestRealFromTime(t *testing.T) {
	cfg := realPlaintext(t)
	topic := newRealTopic(t, cfg, 2)
	base := recentEventTime()
	records := makeRecords(100, base, 1000)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: topic}, records)

	start := kafka.StartPosition{Kind: kafka.PositionTime, Millis: base + 60_000}
	checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: topic, Start: start}), records[60:])

	group := kafka.ConsumerOptions{Topic: topic, Start: start, Group: topic + "-group"}
	checkSameRecords(t, consumeAll(t, cfg, group), records[60:])
}

func TestRealKeyedPartitioning(t *testing.T) {
	cfg := realPlaintext(t)
	topic := newRealTopic(t, cfg, 4)
	records := makeRecords(400, recentEventTime(), 1)
	for i := range records {
		records[i].key = fmt.Appendf(nil, "02:00:00:00:00:%02x", i%16)
	}
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: topic}, records)

	partitionOfKey := map[string]int32{}
	partitions := map[int32]bool{}
	msgs := consumeAll(t, cfg, kafka.ConsumerOptions{Topic: topic})
	for _, m := range msgs {
		if p, ok := partitionOfKey[string(m.Key)]; ok && p != m.Partition {
			t.Errorf("key %s is in partitions %d and %d", m.Key, p, m.Partition)
		}
		partitionOfKey[string(m.Key)] = m.Partition
		partitions[m.Partition] = true
	}
	checkSameRecords(t, msgs, records)
	if len(partitions) < 2 {
		t.Errorf("16 keys went to %d partition(s), want them spread", len(partitions))
	}
}

func TestRealMissingTopic(t *testing.T) {
	cfg := realPlaintext(t)
	topic := fmt.Sprintf("wifiq-test-absent-%d", time.Now().UnixNano())
	_, err := kafka.NewProducer(testContext(t), cfg, kafka.ProducerOptions{Topic: topic}, testLog(t))
	if !errors.Is(err, kafka.ErrTopicNotFound) {
		t.Errorf("NewProducer error = %v, want ErrTopicNotFound although the broker could create topics", err)
	}
}
