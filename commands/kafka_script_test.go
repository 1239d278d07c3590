package commands

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scripts/kafka.sh start must find the started message when the broker
// rolls server.log during startup, because the message is then in a new file.
func TestKafkaStartAfterLogRoll(t *testing.T) {
	requireOwnBroker(t)
	state := t.TempDir()
	logs := filepath.Join(state, "kafka", "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	// A server log 2 KiB short of the roll size: the first lines of
	// startup fill it, and the started message lands in a new file.
	const rollSize = 1 << 20
	line := "[2026-01-01 00:00:00,000] INFO filler line of an earlier run (wifiq.test)\n"
	filler := bytes.Repeat([]byte(line), (rollSize-2048)/len(line))
	serverLog := filepath.Join(logs, "server.log")
	if err := os.WriteFile(serverLog, filler, 0o644); err != nil {
		t.Fatal(err)
	}

	startOwnBrokerIn(t, state, "WIFIQ_KAFKA_LOG_ROLL_SIZE=1MB")

	rolled, err := os.ReadFile(serverLog + ".1")
	if err != nil {
		t.Fatalf("server.log.1 not found, so the broker did not roll server.log: %v", err)
	}
	if !bytes.HasPrefix(rolled, filler[:len(line)]) {
		t.Errorf("server.log.1 does not start with the filler lines written before start")
	}
	current, err := os.ReadFile(serverLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rolled)+string(current), "Kafka Server started") {
		t.Errorf("started message not found in server.log or server.log.1")
	}
}

// A random cluster id starts with "-" once in 64 starts. The storage tool
// must still take it as the value of --cluster-id.
func TestKafkaStartClusterIDWithDash(t *testing.T) {
	requireOwnBroker(t)
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "kafka"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "kafka", "cluster-id"), []byte("-IwwrkXA6mob6YyMQno4gA"), 0o644); err != nil {
		t.Fatal(err)
	}
	broker := startOwnBrokerIn(t, state)
	createTopics(t, broker.brokers, "dash")
}
