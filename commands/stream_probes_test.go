package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// probesStreamLines returns the simulated probe records sorted by event
// time, then one probe a day after the last, which advances the stream
// time so that every window of the simulation closes.
func probesStreamLines(t *testing.T) []string {
	t.Helper()
	lines := streamSortedLines(t, fpSimulatedRecords(false))
	var last struct{ Timestamp string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	var ts int64
	fmt.Sscan(last.Timestamp, &ts)
	return append(lines, streamProbe(ts+24*3600_000, "02:00:00:00:99:01"))
}

// probesCompareWithBatch checks the materialized changelog of probes-per-day
// against the batch table over the same records: every closed window is
// equal, estimate included. The last window, which the closing probe opened,
// is still open, so its estimate must be null and its counts equal.
func probesCompareWithBatch(t *testing.T, changelog string, batch []map[string]any) {
	t.Helper()
	got := streamMaterialize(t, changelog)
	if len(got) != len(batch) {
		t.Errorf("follow mode has %d windows, batch %d", len(got), len(batch))
	}
	lastStart := ""
	for _, row := range batch {
		lastStart = max(lastStart, fmt.Sprint(row["window_start"]))
	}
	columns := streamColumns(batch)
	byStart := map[string]map[string]any{}
	for _, row := range got {
		byStart[fmt.Sprint(row["window_start"])] = row
	}
	closed := 0
	for _, want := range batch {
		start := fmt.Sprint(want["window_start"])
		row, ok := byStart[start]
		if !ok {
			t.Errorf("window %s is in the batch table but not in the changelog", start)
			continue
		}
		for _, c := range columns {
			if c == "estimated_devices" && start == lastStart {
				if row[c] != nil {
					t.Errorf("window %s is open, but its estimated_devices is %v, not null", start, row[c])
				}
				continue
			}
			if fmt.Sprint(row[c]) != fmt.Sprint(want[c]) {
				t.Errorf("window %s, column %s: follow mode has %v, batch %v", start, c, row[c], want[c])
			}
		}
		if start != lastStart {
			closed++
		}
	}
	if closed < 2 {
		t.Fatalf("only %d closed windows, so the comparison proves little", closed)
	}
}

// probesArgs are the report's arguments in both modes: hourly windows, so
// that the simulated day has many.
var probesArgs = []string{"stats", "probes-per-day", "--window", "1h", "--tz", "Europe/Berlin"}

func probesBatch(t *testing.T, file string) []map[string]any {
	t.Helper()
	batch := invokeCLI(t, nil, append(slices.Clone(probesArgs), "-o", "json", file)...)
	if batch.code != ExitOK {
		t.Fatalf("batch: exit %d: %s", batch.code, batch.stderr)
	}
	return jsonRows(t, batch.stdout)
}

// TestProbesStreamOnFakeKafka checks, on the in-process kfake cluster,
// that the folded changelog of probes-per-day equals the batch table.
func TestProbesStreamOnFakeKafka(t *testing.T) {
	lines := probesStreamLines(t)
	file := devWriteFile(t, "sim.jsonl", strings.Join(lines, "\n")+"\n")
	brokers := fakeKafka(t, 1, "probes")
	streamProduce(t, brokers, "probes", lines)

	args := append(slices.Clone(probesArgs), "--from", "kafka:probes", "--follow", "--brokers", brokers, "--grace", "1m")
	changelog, stderr := streamFollow(t, int64(len(lines)), args...)
	probesCompareWithBatch(t, changelog, probesBatch(t, file))
	if !strings.Contains(stderr, "0 records late") {
		t.Errorf("stderr does not report 0 late records:\n%s", stderr)
	}
	if !strings.Contains(changelog, `"estimated_devices":null`) {
		t.Error("no changelog entry has a null estimate, so open windows were not emitted as they changed")
	}
}

// TestProbesStreamOnRealKafka checks the same through the real broker,
// with the changelog written to a topic and read back.
func TestProbesStreamOnRealKafka(t *testing.T) {
	brokers := realKafka(t)
	lines := probesStreamLines(t)
	file := devWriteFile(t, "sim.jsonl", strings.Join(lines, "\n")+"\n")
	topic := fmt.Sprintf("wifiq-probes-%d", time.Now().UnixNano())
	streamCreateTopic(t, brokers, topic)
	streamCreateTopic(t, brokers, topic+"-changelog")
	streamProduce(t, brokers, topic, lines)

	args := append(slices.Clone(probesArgs), "--from", "kafka:"+topic, "--follow", "--brokers", brokers,
		"--grace", "1m", "--to", "kafka:"+topic+"-changelog")
	stdout, stderr := streamFollow(t, int64(len(lines)), args...)
	if stdout != "" {
		t.Errorf("with --to kafka the changelog went to standard output too:\n%s", stdout)
	}
	probesCompareWithBatch(t, probesReadChangelog(t, brokers, topic+"-changelog"), probesBatch(t, file))
	if !strings.Contains(stderr, "acknowledged") {
		t.Errorf("stderr does not report the acknowledged changelog records:\n%s", stderr)
	}
}

// probesReadChangelog reads a changelog topic to its end and returns it
// as the JSON lines {"key":...,"value":...} that standard output carries.
func probesReadChangelog(t *testing.T, brokers, topic string) string {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	ends, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list the end offsets of %s: %v", topic, err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	if want == 0 {
		t.Fatalf("the changelog topic %s is empty", topic)
	}
	var out strings.Builder
	for read := int64(0); read < want; {
		fetches := client.PollFetches(ctx)
		if err := fetches.Err(); err != nil {
			t.Fatalf("read the changelog topic %s after %d of %d records: %v", topic, read, want, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			value := r.Value
			if value == nil {
				value = []byte("null")
			}
			fmt.Fprintf(&out, "{\"key\":%s,\"value\":%s}\n", r.Key, value)
			read++
		})
	}
	return out.String()
}

// TestProbesStreamKillAndRestart kills follow-mode probes-per-day with
// SIGKILL, restarts it on the same --state-dir and checks that both runs'
// changelog gives the batch table: the restored state holds both engines.
func TestProbesStreamKillAndRestart(t *testing.T) {
	bin, err := buildWifiq()
	if err != nil {
		t.Fatal(err)
	}
	lines := probesStreamLines(t)
	file := devWriteFile(t, "sim.jsonl", strings.Join(lines, "\n")+"\n")
	brokers := fakeKafka(t, 1, "kill")
	half := len(lines) / 2
	streamProduce(t, brokers, "kill", lines[:half])
	dir := t.TempDir()
	args := append([]string{"-v"}, probesArgs...)
	args = append(args, "--from", "kafka:kill", "--follow", "--brokers", brokers,
		"--grace", "1m", "--state-dir", dir)

	changelog := streamKillAndRestart(t, bin, brokers, "kill", dir, args, lines[half:], len(lines))
	probesCompareWithBatch(t, changelog, probesBatch(t, file))
}

// TestProbesStreamRejectsGroup checks that follow mode refuses to share a
// window's probes between instances, which would break the estimate.
func TestProbesStreamRejectsGroup(t *testing.T) {
	res := invokeCLI(t, nil, "stats", "probes-per-day", "--from", "kafka:probes", "--follow", "--group", "g",
		"--to", "kafka:changes", "--brokers", "127.0.0.1:1")
	if res.code != ExitUsage {
		t.Errorf("exit %d, want %d (usage)", res.code, ExitUsage)
	}
	if !strings.Contains(res.stderr, "cannot read as a consumer group (g)") {
		t.Errorf("stderr does not explain the rejected group:\n%s", res.stderr)
	}
}
