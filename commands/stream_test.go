package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// streamSortedLines returns record lines sorted by event time, so that a
// stream processor with a grace period drops none of them as late.
func streamSortedLines(t *testing.T, records string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(records), "\n")
	ts := func(line string) int64 {
		var rec struct{ Timestamp string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a record line: %v: %s", err, line)
		}
		n, _ := strconv.ParseInt(rec.Timestamp, 10, 64)
		return n
	}
	sort.SliceStable(lines, func(i, j int) bool { return ts(lines[i]) < ts(lines[j]) })
	return lines
}

// streamCreateTopic creates a one-partition topic with a plain client.
func streamCreateTopic(t *testing.T, brokers, topic string) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	resp, err := kadm.NewClient(client).CreateTopic(ctx, 1, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// streamProduce writes record lines to a one-partition topic.
func streamProduce(t *testing.T, brokers, topic string, lines []string) {
	t.Helper()
	code, _, stderr := wifiqKafka(t, strings.Join(lines, "\n")+"\n", "produce", "--brokers", brokers, "--topic", topic)
	if code != ExitOK {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
}

// streamCheckpointOffset returns the next offsets of all partitions in the
// checkpoint in dir, summed: the records read from a topic whose offsets
// start at 0. It is -1 when there is no checkpoint yet.
func streamCheckpointOffset(dir string) int64 {
	data, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(data), "\n")
	var c checkpoint
	if json.Unmarshal([]byte(line), &c) != nil || len(c.Offsets) == 0 {
		return -1
	}
	var sum int64
	for _, off := range c.Offsets {
		sum += off
	}
	return sum
}

// streamWaitForOffset waits until the checkpoint in dir has read up to
// offset, or fails the test when done closes first or the test timeout
// passes.
func streamWaitForOffset(t *testing.T, dir string, offset int64, done <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(kafkaTestTimeout)
	for streamCheckpointOffset(dir) < offset {
		select {
		case <-done:
			t.Fatalf("the command ended before its checkpoint reached offset %d", offset)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint in %s did not reach offset %d", dir, offset)
		}
	}
}

// streamFollow runs a follow-mode command in-process until its checkpoint
// has read offset records, then interrupts it, as SIGINT does, and returns
// stdout and stderr.
func streamFollow(t *testing.T, offset int64, args ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &kafkaRun{ctx: ctx}
	done := make(chan struct{})
	var code int
	go func() {
		defer close(done)
		code = r.run(t, append(args, "--state-dir", dir, "--checkpoint-interval", "100ms")...)
	}()
	streamWaitForOffset(t, dir, offset, done)
	cancel()
	<-done
	if code != ExitOK {
		t.Fatalf("%v: exit %d\n%s", args, code, r.stderr.String())
	}
	return r.stdout.String(), r.stderr.String()
}

// streamMaterialize applies a changelog: the last value per key, with
// null values deleting the key.
func streamMaterialize(t *testing.T, changelog string) []map[string]any {
	t.Helper()
	table := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(changelog), "\n") {
		if line == "" {
			continue
		}
		var entry struct {
			Key   json.RawMessage
			Value map[string]any
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("changelog line is not {key, value}: %v: %s", err, line)
		}
		if entry.Value == nil {
			delete(table, string(entry.Key))
			continue
		}
		table[string(entry.Key)] = entry.Value
	}
	rows := make([]map[string]any, 0, len(table))
	for _, row := range table {
		rows = append(rows, row)
	}
	return rows
}

// streamColumns returns the sorted column names of rows.
func streamColumns(rows []map[string]any) []string {
	var names []string
	for name := range rows[0] {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// streamReports are the built-in reports with stream mode, as arguments.
var streamReports = [][]string{
	{"stats"},
	{"stats", "--window", "1h"},
	{"stats", "devices"},
	{"stats", "devices", "--window", "1d"},
	{"fingerprint", "--min-macs", "2"},
}

// streamCompareWithBatch runs every report in batch over the file and in
// follow mode over the topic and compares the final tables.
func streamCompareWithBatch(t *testing.T, brokers, topic, file string, records int64) {
	for _, report := range streamReports {
		t.Run(strings.Join(report, " "), func(t *testing.T) {
			batch := invokeCLI(t, nil, append(slices.Clone(report), "-o", "json", file)...)
			if batch.code != ExitOK {
				t.Fatalf("batch: exit %d: %s", batch.code, batch.stderr)
			}
			want := jsonRows(t, batch.stdout)
			if len(want) == 0 {
				t.Fatal("the batch report is empty, so the comparison would prove nothing")
			}
			args := append(slices.Clone(report), "--from", "kafka:"+topic, "--follow", "--brokers", brokers, "--grace", "1h")
			changelog, stderr := streamFollow(t, records, args...)
			got := streamMaterialize(t, changelog)
			columns := streamColumns(want)
			devCompareTables(t, "follow mode", devTable(t, got, columns...), devTable(t, want, columns...))
			if len(got) != len(want) {
				t.Errorf("follow mode has %d rows, batch %d", len(got), len(want))
			}
			if !strings.Contains(stderr, "0 records late") {
				t.Errorf("stderr does not report 0 late records:\n%s", stderr)
			}
		})
	}
}

// TestStreamMatchesBatchOnFakeKafka checks, on the in-process kfake
// cluster, that follow mode's materialized changelog equals the batch table
// for every report with stream mode.
func TestStreamMatchesBatchOnFakeKafka(t *testing.T) {
	lines := streamSortedLines(t, fpSimulatedRecords(false))
	file := devWriteFile(t, "sim.jsonl", strings.Join(lines, "\n")+"\n")
	brokers := fakeKafka(t, 1, "sim")
	streamProduce(t, brokers, "sim", lines)
	streamCompareWithBatch(t, brokers, "sim", file, int64(len(lines)))
}

// TestStreamMatchesBatchAndDuckDB checks the same through the real broker,
// and the device table against DuckDB's SQL over the same records.
func TestStreamMatchesBatchAndDuckDB(t *testing.T) {
	brokers := realKafka(t)
	lines := streamSortedLines(t, fpSimulatedRecords(false))
	file := devWriteFile(t, "sim.jsonl", strings.Join(lines, "\n")+"\n")
	topic := fmt.Sprintf("wifiq-stream-%d", time.Now().UnixNano())
	streamCreateTopic(t, brokers, topic)
	streamProduce(t, brokers, topic, lines)
	streamCompareWithBatch(t, brokers, topic, file, int64(len(lines)))

	changelog, _ := streamFollow(t, int64(len(lines)), "stats", "devices", "--from", "kafka:"+topic, "--follow", "--brokers", brokers)
	got := devTable(t, streamMaterialize(t, changelog), devDeviceColumns...)
	want := devTable(t, devQuery(t, devDeviceSQL(file)), devDeviceColumns...)
	devCompareTables(t, "follow mode against DuckDB", got, want)
}

// TestStreamPartitionsReadUnevenly checks that follow mode counts every
// record of a topic whose partitions interleave in time, however far the
// consumer reads one partition ahead of another. The stream time is the
// smallest of the partitions' latest event times. It used to be the
// largest, and most records of the slower partitions were dropped as late.
func TestStreamPartitionsReadUnevenly(t *testing.T) {
	lines := streamSortedLines(t, fpSimulatedRecords(false))
	file := devWriteFile(t, "sim.jsonl", strings.Join(lines, "\n")+"\n")
	batch := invokeCLI(t, nil, "stats", "devices", "--window", "1d", "-o", "json", file)
	if batch.code != ExitOK {
		t.Fatalf("batch: exit %d: %s", batch.code, batch.stderr)
	}
	want := jsonRows(t, batch.stdout)
	for _, broker := range []string{"kfake", "real"} {
		t.Run(broker, func(t *testing.T) {
			var brokers, topic string
			produce := []string{"produce", "--partitioner", "round-robin"}
			if broker == "kfake" {
				topic = "sim4"
				brokers = fakeKafka(t, 4, topic)
			} else {
				topic = fmt.Sprintf("wifiq-stream-partitions-%d", time.Now().UnixNano())
				brokers = realKafka(t)
				produce = append(produce, "--create-topic", "--partitions", "4")
			}
			code, _, stderr := wifiqKafka(t, strings.Join(lines, "\n")+"\n", append(produce, "--brokers", brokers, "--topic", topic)...)
			if code != ExitOK {
				t.Fatalf("produce: exit %d: %s", code, stderr)
			}
			changelog, followErr := streamFollow(t, int64(len(lines)), "stats", "devices", "--window", "1d",
				"--from", "kafka:"+topic, "--follow", "--brokers", brokers, "--grace", "1m")
			if !strings.Contains(followErr, " 0 records late") {
				t.Errorf("stderr does not report 0 late records:\n%s", followErr)
			}
			got := streamMaterialize(t, changelog)
			columns := streamColumns(want)
			devCompareTables(t, "follow mode on 4 partitions", devTable(t, got, columns...), devTable(t, want, columns...))
		})
	}
}

// streamProbe is a probe request record line at ts from address sa.
func streamProbe(ts int64, sa string) string {
	return fmt.Sprintf(`{"timestamp":"%d","wlan_fc_type_subtype":["4"],"wlan_sa":["%s"],"wlan_sa_resolved":["%s"],"wlan_da":["ff:ff:ff:ff:ff:ff"],"wlan_radio_signal_dbm":["-50"],"wlan_ssid":["home"]}`, ts, sa, sa)
}

// TestStreamLateRecordsAndEdges checks that a record older than the grace
// period is counted as late and left out, that one within the grace period
// still counts, and that a record exactly on a window's end starts the next
// window.
func TestStreamLateRecordsAndEdges(t *testing.T) {
	const minute = int64(60_000)
	base := int64(1_700_000_040_000) // a whole minute
	lines := []string{
		streamProbe(base, "02:00:00:00:00:01"),
		streamProbe(base+minute-1, "02:00:00:00:00:01"), // last millisecond of the first window
		streamProbe(base+minute, "02:00:00:00:00:01"),   // exactly on its end: the second window
		streamProbe(base+2*minute+10_000, "02:00:00:00:00:01"),
		streamProbe(base+minute+5_000, "02:00:00:00:00:01"), // 65 s behind, within the grace period
		streamProbe(base+30_000, "02:00:00:00:00:01"),       // the first window closed: late
	}
	brokers := fakeKafka(t, 1, "edges")
	streamProduce(t, brokers, "edges", lines)
	changelog, stderr := streamFollow(t, int64(len(lines)), "stats", "devices", "--window", "1m",
		"--from", "kafka:edges", "--follow", "--brokers", brokers, "--grace", "70s")
	if !strings.Contains(stderr, "1 record late") {
		t.Errorf("stderr does not report 1 late record:\n%s", stderr)
	}
	if !strings.Contains(stderr, "offset=5 late_records=1 partition=0") {
		t.Errorf("the late record's warning does not name its offset and partition:\n%s", stderr)
	}
	probes := map[string]float64{}
	for _, row := range streamMaterialize(t, changelog) {
		probes[row["window_start"].(string)] = row["probes"].(float64)
	}
	want := map[string]float64{
		timeCell{base, time.UTC}.String():            2,
		timeCell{base + minute, time.UTC}.String():   2,
		timeCell{base + 2*minute, time.UTC}.String(): 1,
	}
	if fmt.Sprint(probes) != fmt.Sprint(want) {
		t.Errorf("probes per window: %v, want %v", probes, want)
	}
}

func TestStreamFlagsNeedFollow(t *testing.T) {
	for _, args := range [][]string{
		{"stats", "devices", "--grace", "1m"},
		{"fingerprint", "--state-dir", "/tmp/x"},
		{"stats", "--serve", "127.0.0.1:0"},
	} {
		res := invokeCLI(t, nil, args...)
		if res.code != ExitUsage || !strings.Contains(res.stderr, "needs --from kafka:TOPIC --follow") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming --follow", args, res.code, res.stderr)
		}
	}
	res := invokeCLI(t, nil, "stats", "devices", "--from", "kafka:t", "--follow", "--grace", "soon")
	if res.code != ExitUsage || !strings.Contains(res.stderr, "--grace") {
		t.Errorf("bad --grace: exit %d, stderr %q", res.code, res.stderr)
	}
	res = invokeCLI(t, nil, "stats", "devices", "--from", "kafka:t", "--follow", "--group", "g", "--state-dir", t.TempDir())
	if res.code != ExitUsage || !strings.Contains(res.stderr, "--state-dir and --group") {
		t.Errorf("--state-dir with --group: exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestStreamMaxGroups checks that a state beyond --max-groups fails with a
// message that names the limit.
func TestStreamMaxGroups(t *testing.T) {
	var lines []string
	for i := range 5 {
		lines = append(lines, streamProbe(1_700_000_000_000+int64(i), fmt.Sprintf("02:00:00:00:00:%02x", i)))
	}
	brokers := fakeKafka(t, 1, "many")
	streamProduce(t, brokers, "many", lines)
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	r := &kafkaRun{ctx: ctx}
	code := r.run(t, "stats", "devices", "--from", "kafka:many", "--follow", "--brokers", brokers, "--max-groups", "3")
	if code == ExitOK || !strings.Contains(r.stderr.String(), "more than --max-groups 3") {
		t.Errorf("exit %d, stderr:\n%s\nwant a failure naming --max-groups 3", code, r.stderr.String())
	}
}

// TestStreamServePullQueries checks the HTTP pull queries of --serve.
func TestStreamServePullQueries(t *testing.T) {
	base := int64(1_700_000_040_000)
	lines := []string{
		streamProbe(base, "02:00:00:00:00:01"),
		streamProbe(base+1000, "02:00:00:00:00:02"),
		streamProbe(base+60_000, "02:00:00:00:00:01"),
	}
	brokers := fakeKafka(t, 1, "serve")
	streamProduce(t, brokers, "serve", lines)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &kafkaRun{ctx: ctx}
	done := make(chan struct{})
	addr := streamFreeAddress(t)
	go func() {
		defer close(done)
		r.run(t, "stats", "devices", "--window", "1m", "--from", "kafka:serve", "--follow", "--brokers", brokers,
			"--state-dir", dir, "--checkpoint-interval", "100ms", "--serve", addr)
	}()
	streamWaitForOffset(t, dir, int64(len(lines)), done)

	get := func(query string) []map[string]json.RawMessage {
		t.Helper()
		resp, err := httpGet("http://" + addr + "/rows" + query)
		if err != nil {
			t.Fatal(err)
		}
		var rows []map[string]json.RawMessage
		if err := json.Unmarshal(resp, &rows); err != nil {
			t.Fatalf("GET %s: %v: %s", query, err, resp)
		}
		return rows
	}
	if rows := get(""); len(rows) != 3 {
		t.Errorf("all rows: %d, want 3", len(rows))
	}
	if rows := get("?device=02:00:00:00:00:01"); len(rows) != 2 {
		t.Errorf("one device: %d rows, want 2", len(rows))
	}
	if rows := get(fmt.Sprintf("?device=02:00:00:00:00:01&from=%d&to=%d", base+60_000, base+120_000)); len(rows) != 1 {
		t.Errorf("one device between two times: %d rows, want 1", len(rows))
	}
	if rows := get("?device=nobody"); len(rows) != 0 {
		t.Errorf("unknown device: %d rows, want 0", len(rows))
	}
	if resp, err := httpGet("http://" + addr + "/rows?devcie=02:00:00:00:00:01"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("a misspelt column: %v %s, want HTTP 400", err, resp)
	}
	windowStart := time.UnixMilli(base + 60_000).UTC().Truncate(time.Minute).Format(time.RFC3339)
	if rows := get("?window_start=" + windowStart); len(rows) != 1 {
		t.Errorf("window_start=%s: %d rows, want 1", windowStart, len(rows))
	}
	cancel()
	<-done

	// A restart from the checkpoint serves the same rows at once. It used
	// to serve none until new records came, and never again those of
	// windows that had closed before the checkpoint.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r = &kafkaRun{ctx: ctx}
	done = make(chan struct{})
	addr = streamFreeAddress(t)
	go func() {
		defer close(done)
		r.run(t, "stats", "devices", "--window", "1m", "--from", "kafka:serve", "--follow", "--brokers", brokers,
			"--state-dir", dir, "--checkpoint-interval", "100ms", "--serve", addr)
	}()
	deadline := time.Now().Add(kafkaTestTimeout)
	for {
		if _, err := httpGet("http://" + addr + "/rows"); err == nil {
			break
		}
		select {
		case <-done:
			t.Fatalf("the restarted command ended:\n%s", r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("--serve %s did not answer after the restart:\n%s", addr, r.stderr.String())
		}
	}
	if rows := get(""); len(rows) != 3 {
		t.Errorf("all rows after the restart: %d, want 3", len(rows))
	}
	cancel()
	<-done
}

// TestStreamKillAndRestart kills a follow-mode wifiq with SIGKILL after a
// checkpoint, restarts it on the same --state-dir, and checks that the
// changelog of both runs gives the same table as batch: nothing counted
// twice, nothing lost.
func TestStreamKillAndRestart(t *testing.T) {
	bin, err := buildWifiq()
	if err != nil {
		t.Fatal(err)
	}
	lines := streamSortedLines(t, fpSimulatedRecords(false))
	file := devWriteFile(t, "sim.jsonl", strings.Join(lines, "\n")+"\n")
	brokers := fakeKafka(t, 1, "kill")
	half := len(lines) / 2
	streamProduce(t, brokers, "kill", lines[:half])
	dir := t.TempDir()
	args := []string{"-v", "stats", "devices", "--window", "1h", "--from", "kafka:kill", "--follow", "--brokers", brokers,
		"--grace", "1h", "--state-dir", dir}

	changelog := streamKillAndRestart(t, bin, brokers, "kill", dir, args, lines[half:], len(lines))

	batch := invokeCLI(t, nil, "stats", "devices", "--window", "1h", "-o", "json", file)
	want := jsonRows(t, batch.stdout)
	columns := streamColumns(want)
	devCompareTables(t, "after kill and restart", devTable(t, streamMaterialize(t, changelog), columns...), devTable(t, want, columns...))
}

// streamKillAndRestart runs the follow-mode command bin args twice on the
// state in dir and returns their changelog. The first run is killed with
// SIGKILL after its first checkpoint, and rest is then produced to topic.
// The second run must resume from the checkpoint, and is stopped with
// SIGTERM once its checkpoint has read total records.
func streamKillAndRestart(t *testing.T, bin, brokers, topic, dir string, args, rest []string, total int) string {
	t.Helper()
	var changelog strings.Builder
	for run := range 2 {
		// The first run saves checkpoints only every 50 records, so the
		// kill usually finds records aggregated after the last one.
		interval := "1h"
		if run == 1 {
			interval = "100ms"
		}
		cmd := exec.Command(bin, append(slices.Clone(args), "--checkpoint-records", "50", "--checkpoint-interval", interval)...)
		var stdout, stderr lockedBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		if run == 0 {
			streamWaitForOffset(t, dir, 1, done)
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			streamProduce(t, brokers, topic, rest)
		} else {
			streamWaitForOffset(t, dir, int64(total), done)
			cmd.Process.Signal(syscall.SIGTERM)
			<-done
		}
		changelog.WriteString(stdout.String())
		if run == 1 && !strings.Contains(stderr.String(), "resuming from the checkpoint in") {
			t.Errorf("the restarted run did not resume from the checkpoint:\n%s", stderr.String())
		}
	}
	return changelog.String()
}

// streamFreeAddress returns a loopback address with a port that was free.
func streamFreeAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// httpGet returns the body of a GET request that answered 200 OK.
func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body, err
}

// A checkpoint saved with one --grace does not restore under another, since
// the grace period decides which records are late.
func TestStreamCheckpointKeepsGrace(t *testing.T) {
	lines := streamSortedLines(t, fpSimulatedRecords(false))
	brokers := fakeKafka(t, 1, "grace")
	streamProduce(t, brokers, "grace", lines)
	dir := t.TempDir()
	args := []string{"stats", "devices", "--from", "kafka:grace", "--follow", "--brokers", brokers, "--state-dir", dir, "--checkpoint-interval", "100ms"}

	ctx, cancel := context.WithCancel(context.Background())
	r := &kafkaRun{ctx: ctx}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(t, append(args, "--grace", "5m")...)
	}()
	streamWaitForOffset(t, dir, int64(len(lines)), done)
	cancel()
	<-done

	res := invokeCLI(t, nil, append(args, "--grace", "1m")...)
	if res.code == ExitOK || !strings.Contains(res.stderr, "grace=5m0s") || !strings.Contains(res.stderr, "grace=1m0s") {
		t.Errorf("restart with another --grace: exit %d, stderr %q; want an error naming both grace periods", res.code, res.stderr)
	}
}

// chunkRecorder keeps every Write call's bytes.
type chunkRecorder struct{ chunks []string }

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.chunks = append(c.chunks, string(p))
	return len(p), nil
}

// TestChangelogWritesWholeLines checks that the changelog on standard
// output is written in whole lines, so that a process killed between two
// writes leaves no cut line. A buffered writer used to write 4 KiB chunks
// that split lines.
func TestChangelogWritesWholeLines(t *testing.T) {
	out := &chunkRecorder{}
	w := &changelogWriter{out: out}
	value := []byte(`{"probes":1,"ssids":["` + strings.Repeat("x", 300) + `"]}`)
	for i := range 1000 {
		if err := w.write(changelogEntry{keyJSON: fmt.Appendf(nil, `{"device":"%d"}`, i), value: value}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	lines := 0
	for i, chunk := range out.chunks {
		if !strings.HasSuffix(chunk, "\n") {
			t.Fatalf("write %d of %d ends inside a line: ...%s", i+1, len(out.chunks), chunk[max(0, len(chunk)-40):])
		}
		lines += strings.Count(chunk, "\n")
	}
	if lines != 1000 || len(out.chunks) < 2 {
		t.Errorf("%d lines in %d writes, want 1000 lines in several writes", lines, len(out.chunks))
	}
}

// TestPartitionClockIdle checks when partitions count as idle: only when
// the caller has no fetched records left to process, and only after
// idlePartitionAfter without a record.
func TestPartitionClockIdle(t *testing.T) {
	var c partitionClock
	start := time.Unix(1_700_000_000, 0)
	c.seen(0, start, false)
	c.seen(1, start, false)
	later := start.Add(idlePartitionAfter + time.Second)
	if idle := c.seen(0, later, false); idle != nil {
		t.Errorf("with records left to process, partitions %v counted as idle", idle)
	}
	idle := c.seen(0, later.Add(time.Second), true)
	if !slices.Equal(idle, []int32{1}) {
		t.Errorf("idle partitions %v, want [1]: partition 0 delivered a record just now", idle)
	}
	if idle := c.seen(0, later.Add(3*time.Second), true); idle != nil {
		t.Errorf("partition 1 counted as idle twice: %v", idle)
	}
}
