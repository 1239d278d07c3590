package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wifiq/wifiq/kafka"
)

// transactionalClient returns a franz-go client that writes to cfg's
// cluster in transactions under transactionalID.
func transactionalClient(t *testing.T, cfg *kafka.Config, transactionalID string) *kgo.Client {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.TransactionalID(transactionalID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client
}

// produceTransaction writes records to topic in one transaction and
// commits or aborts it.
func produceTransaction(t *testing.T, client *kgo.Client, topic string, records []testRecord, commit kgo.TransactionEndTry) {
	t.Helper()
	ctx := testContext(t)
	if err := client.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		rec := &kgo.Record{Topic: topic, Value: []byte(r.line), Timestamp: time.UnixMilli(r.timestamp)}
		if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.EndTransaction(ctx, commit); err != nil {
		t.Fatal(err)
	}
}

// isolationRecords writes three transactions to topic: committed,
// aborted, committed, 20 records each. It returns the committed records
// and all 60.
func isolationRecords(t *testing.T, cfg *kafka.Config, topic string) (committed, all []testRecord) {
	t.Helper()
	client := transactionalClient(t, cfg, "isolation-test")
	records := makeRecords(60, eventTime0, 1)
	produceTransaction(t, client, topic, records[:20], kgo.TryCommit)
	produceTransaction(t, client, topic, records[20:40], kgo.TryAbort)
	produceTransaction(t, client, topic, records[40:], kgo.TryCommit)
	committed = append(append([]testRecord(nil), records[:20]...), records[40:]...)
	return committed, records
}

func TestReadCommittedSkipsAbortedTransaction(t *testing.T) {
	_, cfg := newFakeCluster(t, 1, "pcap")
	committed, _ := isolationRecords(t, cfg, "pcap")

	if !cfg.ReadCommitted() {
		t.Fatalf("DefaultConfig has isolation.level %q, want read_committed", cfg.IsolationLevel)
	}
	checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"}), committed)
}

func TestReadCommittedGroupSkipsAbortedTransaction(t *testing.T) {
	_, cfg := newFakeCluster(t, 2, "pcap")
	committed, _ := isolationRecords(t, cfg, "pcap")

	msgs := consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap", Group: "isolation"})
	checkSameRecords(t, msgs, committed)
}

func TestReadUncommittedReturnsAbortedTransaction(t *testing.T) {
	_, cfg := newFakeCluster(t, 1, "pcap")
	_, all := isolationRecords(t, cfg, "pcap")
	if _, err := cfg.Set("isolation.level", "read_uncommitted", "-X"); err != nil {
		t.Fatal(err)
	}
	if cfg.ReadCommitted() {
		t.Fatal("ReadCommitted() is true after isolation.level=read_uncommitted")
	}

	checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"}), all)
}

// An open transaction holds the last stable offset back: a bounded
// read_committed consumer ends at it instead of waiting for the
// transaction to end.
func TestReadCommittedBoundedStopsAtOpenTransaction(t *testing.T) {
	_, cfg := newFakeCluster(t, 1, "pcap")
	client := transactionalClient(t, cfg, "open-transaction")
	records := makeRecords(30, eventTime0, 1)
	produceTransaction(t, client, "pcap", records[:10], kgo.TryCommit)

	ctx := testContext(t)
	if err := client.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, r := range records[10:] {
		rec := &kgo.Record{Topic: "pcap", Value: []byte(r.line), Timestamp: time.UnixMilli(r.timestamp)}
		if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		if err := client.EndTransaction(context.Background(), kgo.TryAbort); err != nil {
			t.Errorf("aborting the open transaction: %v", err)
		}
	}()

	checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"}), records[:10])
}

func TestIsolationLevelProperty(t *testing.T) {
	tests := []struct {
		value string
		want  string
	}{
		{"read_committed", kafka.IsolationReadCommitted},
		{"READ_UNCOMMITTED", kafka.IsolationReadUncommitted},
		{" read_uncommitted ", kafka.IsolationReadUncommitted},
	}
	for _, tt := range tests {
		cfg, _, err := kafka.Load(kafka.LoadOptions{Getenv: noEnv, Brokers: "b:1", Overrides: []string{"isolation.level=" + tt.value}})
		if err != nil {
			t.Errorf("isolation.level=%q: %v", tt.value, err)
			continue
		}
		if cfg.IsolationLevel != tt.want {
			t.Errorf("isolation.level=%q gives %q, want %q", tt.value, cfg.IsolationLevel, tt.want)
		}
	}

	_, _, err := kafka.Load(kafka.LoadOptions{Getenv: noEnv, Brokers: "b:1", Overrides: []string{"isolation.level=snapshot"}})
	if err == nil {
		t.Fatal("isolation.level=snapshot was accepted, want an error")
	}
	for _, want := range []string{`isolation.level "snapshot"`, "read_committed or read_uncommitted"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
