package commands

import (
	"strings"
	"testing"
)

// TestQueryFromKafka queries the records of a topic, and compares the
// result with the same query over the capture.
func TestQueryFromKafka(t *testing.T) {
	brokers := fakeKafka(t, 2, "pcap")
	capture := kafkaTestCaptures + "aircrack-ng__n-02.cap"
	if code, _, stderr := wifiqKafka(t, "", "replay-pcap", "--to", "kafka:pcap", "--brokers", brokers, capture); code != ExitOK {
		t.Fatalf("replay-pcap --to kafka: exit %d\n%s", code, stderr)
	}
	const sql = "SELECT type_subtype, subtype_name, count(*) AS frames, count(DISTINCT sa) AS sources FROM packets GROUP BY ALL ORDER BY 1"
	code, fromTopic, stderr := wifiqKafka(t, "", "query", sql, "--from", "kafka:pcap", "--brokers", brokers, "--no-cache", "-o", "csv")
	if code != ExitOK {
		t.Fatalf("query --from kafka: exit %d\n%s", code, stderr)
	}
	code, fromFile, stderr := wifiqKafka(t, "", "query", sql, capture, "--no-cache", "-o", "csv")
	if code != ExitOK {
		t.Fatalf("query FILE: exit %d\n%s", code, stderr)
	}
	if fromTopic != fromFile || strings.Count(fromFile, "\n") < 10 {
		t.Errorf("from the topic:\n%s\nfrom the capture:\n%s", fromTopic, fromFile)
	}

	code, _, stderr = wifiqKafka(t, "", "query", "SELECT 1", "--from", "kafka:missing", "--brokers", brokers, "--no-cache")
	if code != ExitFailure || !strings.Contains(stderr, "missing") {
		t.Errorf("missing topic: exit %d, stderr %q; want %d naming the topic", code, stderr, ExitFailure)
	}
}
