package commands

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A broker that rolls server.log while it starts must still be seen
// starting. scripts/kafka.sh once looked for the started message only past
// the old end of server.log, so a roll during startup made start time out
// although the broker ran.
func TestKafkaScriptStartsWhenServerLogRolls(t *testing.T) {
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
		t.Fatalf("the broker did not roll server.log, so this test did not test a roll: %v", err)
	}
	if !bytes.HasPrefix(rolled, filler[:len(line)]) {
		t.Errorf("server.log.1 does not begin with the earlier run's lines")
	}
	current, err := os.ReadFile(serverLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rolled)+string(current), "Kafka Server started") {
		t.Errorf("neither server.log nor server.log.1 has the started message")
	}
}
