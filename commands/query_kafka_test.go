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

// TestQueryGroupCommitsAfterResult checks that a consumer group commits
// the records a query read only when the query answered.
func TestQueryGroupCommitsAfterResult(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	if code, _, stderr := wifiqKafka(t, "", "replay-pcap", "--to", "kafka:pcap", "--brokers", brokers, casesDir+"V12_data_and_control_frames.pcap"); code != ExitOK {
		t.Fatalf("replay-pcap: exit %d\n%s", code, stderr)
	}
	run := func(sql string) (int, string) {
		code, stdout, _ := wifiqKafka(t, "", "query", sql, "--from", "kafka:pcap", "--group", "q", "--brokers", brokers, "--no-cache", "-o", "csv")
		return code, stdout
	}
	if code, _ := run("SELECT count(*) FROM no_such_table"); code == ExitOK {
		t.Fatal("a query of a missing table succeeded")
	}
	if code, out := run("SELECT count(*) AS n FROM packets"); code != ExitOK || out != "n\n7\n" {
		t.Errorf("after a failed query: exit %d, %q; want the 7 records still there", code, out)
	}
	if code, out := run("SELECT count(*) AS n FROM packets"); code != ExitOK || out != "n\n0\n" {
		t.Errorf("after a query that answered: exit %d, %q; want no records left", code, out)
	}
}
