package commands

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wifiq/wifiq/kafka"
)

// scaleOutGrace keeps every record of the test input on time: the
// captures span decades, and the instances read the partitions in no fixed
// order. The batch table, which the changelog must equal, drops nothing.
const scaleOutGrace = "30000d"

// scaleOutWriteProbes writes n generated probe requests from 3,000 devices
// over three days, in random order, to w.
func scaleOutWriteProbes(w *bufio.Writer, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := int64(1714521600000) // 2024-05-01T00:00:00Z
	ssids := []string{"", "home", "office", "cafe"}
	for range n {
		device := rng.IntN(3000)
		ssid := ssids[rng.IntN(len(ssids))]
		if ssid == "office" {
			ssid = fmt.Sprintf("net%d", device%50)
		}
		fmt.Fprintf(w, `{"timestamp":"%d","wlan_fc_type_subtype":["4"],"wlan_sa":["02:%02x:%02x:00:00:%02x"],"wlan_da":["ff:ff:ff:ff:ff:%02x"],"wlan_radio_signal_dbm":["%d"],"wlan_ssid":["%s"]}`+"\n",
			base+rng.Int64N(3*86_400_000), device>>8, device&0xff, device%7, rng.IntN(3), -30-rng.IntN(60), ssid)
	}
}

// scaleOutRecords writes the bundled captures' records and generated probes
// to one file and returns its path and line count.
func scaleOutRecords(t *testing.T, probes int) (string, int) {
	t.Helper()
	corpus, err := os.ReadFile(devCorpusRecords(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "records.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.Write(corpus)
	scaleOutWriteProbes(w, probes)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, strings.Count(string(corpus), "\n") + probes
}

// scaleOutTopics creates the input topic (4 partitions) and a compacted
// changelog topic (3 partitions), and deletes them with the repartition
// topic and the group when the test ends.
func scaleOutTopics(t *testing.T, admin *kadm.Client, input, output, repartition, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
		defer cancel()
		if _, err := admin.DeleteTopics(ctx, input, output, repartition); err != nil {
			t.Logf("deleting the test topics: %v", err)
		}
		if _, err := admin.DeleteGroup(ctx, group); err != nil {
			t.Logf("deleting group %s: %v", group, err)
		}
	})
	created, err := admin.CreateTopic(ctx, 4, -1, nil, input)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", input, err)
	}
	created, err = admin.CreateTopic(ctx, 3, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, output)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", output, err)
	}
}

// scaleOutSummary matches the line in which an instance counts its work.
var scaleOutSummary = regexp.MustCompile(`stats devices: (\d+) records? read from \S+, (\d+) records? sent to \S+ .*; (\d+) records? aggregated from \S+, (\d+) records? late .* in (\d+) committed transactions \((\d+) aborted\); (\d+) records? read to rebuild state; (\d+) groups? open in partitions \[([0-9 ]*)\]`)

// TestScaleOutKillMatchesBatch runs two instances of stats devices in one
// consumer group over a topic of 4 partitions, kills one with SIGKILL
// mid-run, and lets the other take over. The changelog topic, read as
// read_committed and folded into a table, must equal the batch table over
// the same records, and the repartition topic must contain each probe
// request once, in the partition of its key.
func TestScaleOutKillMatchesBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 200,000 records through two instances; skipped with -short")
	}
	brokers := realKafka(t)
	path, total := scaleOutRecords(t, 130_000)

	batch := invokeCLI(t, nil, "stats", "devices", "--window", "1d", "-o", "json", path)
	if batch.code != ExitOK {
		t.Fatalf("batch: exit %d: %s", batch.code, batch.stderr)
	}
	want := jsonRows(t, batch.stdout)
	probes := int64(0)
	for _, row := range want {
		probes += int64(row["probes"].(float64))
	}
	if len(want) < 1000 || probes < 100_000 {
		t.Fatalf("the batch table has %d rows and %d probes, too few for the test to mean much", len(want), probes)
	}

	prefix := fmt.Sprintf("wifiq-test-scaleout-%d", time.Now().UnixNano())
	input, output, group := prefix+"-in", prefix+"-out", prefix+"-group"
	repartition := group + "-repartition"
	admin, closeAdmin := newAdmin(t, brokers)
	t.Cleanup(closeAdmin) // after scaleOutTopics' cleanup, which needs it
	scaleOutTopics(t, admin, input, output, repartition, group)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	produce := wifiqCommand(t, ctx, "produce", "--topic", input, "--brokers", brokers, path)
	if out, err := produce.CombinedOutput(); err != nil {
		t.Fatalf("wifiq produce: %v\n%s", err, out)
	}

	// 6 s, the least that Kafka's group.min.session.timeout.ms allows by
	// default, makes the group drop the killed instance soon.
	args := []string{"stats", "devices", "--window", "1d", "--from", "kafka:" + input, "--follow", "--group", group,
		"--to", "kafka:" + output, "--grace", scaleOutGrace, "--checkpoint-records", "2000", "--brokers", brokers,
		"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000", "-v"}
	var stderrs [2]*lockedBuffer
	var instances [2]*os.Process
	var exitErrs [2]error
	done := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	for i := range instances {
		cmd := wifiqCommand(t, ctx, args...)
		stderrs[i] = &lockedBuffer{}
		cmd.Stderr = stderrs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		instances[i] = cmd.Process
		go func() {
			exitErrs[i] = cmd.Wait()
			close(done[i])
		}()
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, stderr := range stderrs {
				t.Logf("instance %d stderr, without the Kafka client's messages:\n%s", i+1, lastLines(scaleOutOwnLines(stderr.String()), 30))
			}
		}
	})
	defer func() {
		for i, p := range instances {
			p.Kill()
			<-done[i]
		}
	}()
	eitherDone := make(chan struct{})
	go func() {
		select {
		case <-done[0]:
		case <-done[1]:
		}
		close(eitherDone)
	}()

	// Kill the first instance once a quarter of the input is committed.
	waitUntil(t, "a quarter of the input is committed", eitherDone, func() bool {
		n, err := committedCount(ctx, admin, group, input)
		return err == nil && n >= int64(total)/4
	})
	before, err := committedCount(ctx, admin, group, input)
	if err != nil {
		t.Fatal(err)
	}
	if err := instances[0].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done[0]
	if before >= int64(total) {
		t.Fatalf("the whole input was committed before the kill, so the test shows no take-over; make the input larger")
	}
	t.Logf("killed instance 1 with %d of %d input records committed", before, total)

	// The survivor takes over the input partitions ...
	stop := done[1]
	waitUntil(t, "the whole input is committed", stop, func() bool {
		n, err := committedCount(ctx, admin, group, input)
		return err == nil && n == int64(total)
	})

	// The killed instance's open transaction holds the last stable offset
	// of the repartition partitions back until it times out (10 s), and
	// read_committed readers, the survivor's included, stop there. A fast
	// run reaches this point before then, so wait for it.
	waitUntil(t, "no open transaction holds the repartition topic", stop, func() bool {
		stable, err := admin.ListCommittedOffsets(ctx, repartition)
		if err != nil || stable.Error() != nil {
			return false
		}
		ends, err := admin.ListEndOffsets(ctx, repartition)
		if err != nil || ends.Error() != nil {
			return false
		}
		open := false
		ends.Each(func(end kadm.ListedOffset) {
			if o, ok := stable.Lookup(repartition, end.Partition); !ok || o.Offset < end.Offset {
				open = true // a transaction holds the stable offset back
			}
		})
		return !open
	})

	// ... and the repartition partitions, up to their last record.
	placed, records := map[int32]int64{}, int64(0)
	misplaced := 0
	lastOffsets := map[int32]int64{}
	partitions, err := kafka.PartitionCount(ctx, mustConfig(t, brokers), nil, repartition)
	if err != nil {
		t.Fatal(err)
	}
	splitKillReadCommitted(t, brokers, repartition, func(r *kgo.Record) {
		records++
		placed[r.Partition]++
		lastOffsets[r.Partition] = r.Offset
		if kafka.KeyPartition(r.Key, partitions) != r.Partition {
			misplaced++
		}
	})
	if records != probes {
		t.Errorf("the repartition topic contains %d records, want %d: one per probe request", records, probes)
	}
	if misplaced > 0 {
		t.Errorf("%d repartition records are not in the partition of their key", misplaced)
	}
	if len(placed) != int(partitions) {
		t.Errorf("repartition records are in %d of %d partitions: %v", len(placed), partitions, placed)
	}
	waitUntil(t, "the repartition topic is committed", stop, func() bool {
		offsets, err := admin.FetchOffsetsForTopics(ctx, group, repartition)
		if err != nil {
			return false
		}
		for partition, last := range lastOffsets {
			o, ok := offsets.Lookup(repartition, partition)
			if !ok || o.Err != nil || o.At <= last {
				return false
			}
		}
		return true
	})
	if err := instances[1].Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-done[1]
	if err := exitErrs[1]; err != nil {
		t.Fatalf("instance 2 after an interrupt: %v\n%s", err, lastLines(stderrs[1].String(), 20))
	}

	summary := scaleOutSummary.FindStringSubmatch(stderrs[1].String())
	if summary == nil {
		t.Fatalf("instance 2 printed no summary:\n%s", lastLines(stderrs[1].String(), 20))
	}
	t.Logf("instance 2: %s", summary[0])
	if summary[4] != "0" {
		t.Errorf("instance 2 counted %s records as late, want 0", summary[4])
	}
	if summary[7] == "0" {
		t.Errorf("instance 2 read no records to rebuild state, so it took over no partition with state")
	}
	if owned := strings.Fields(summary[9]); len(owned) != int(partitions) {
		t.Errorf("instance 2 ends with the state of partitions %v, want all %d", owned, partitions)
	}

	// The changelog, folded into a table, equals the batch table.
	table := map[string]map[string]any{}
	changes := splitKillReadCommitted(t, brokers, output, func(r *kgo.Record) {
		if r.Value == nil {
			delete(table, string(r.Key))
			return
		}
		var row map[string]any
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("changelog value is not a JSON row: %v: %s", err, r.Value)
		}
		table[string(r.Key)] = row
	})
	got := make([]map[string]any, 0, len(table))
	for _, row := range table {
		got = append(got, row)
	}
	t.Logf("%d changelog records fold into %d rows; the batch table has %d", changes, len(got), len(want))
	columns := streamColumns(want)
	scaleOutCompare(t, devTable(t, got, columns...), devTable(t, want, columns...))
}

// scaleOutCompare reports the first row where the changelog's table and
// the batch table differ.
func scaleOutCompare(t *testing.T, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("first difference at row %d (changelog %d rows, batch %d):\nchangelog %s\nbatch     %s", i, len(got), len(want), g, w)
		}
	}
}

// mustConfig returns the settings of a plain connection to brokers.
func mustConfig(t *testing.T, brokers string) *kafka.Config {
	t.Helper()
	cfg, _, err := kafka.Load(kafka.LoadOptions{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// scaleOutOwnLines returns the lines of an instance's stderr that are not
// messages of the Kafka client library.
func scaleOutOwnLines(stderr string) string {
	var own []string
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, `msg="kafka client: `) {
			own = append(own, line)
		}
	}
	return strings.Join(own, "\n")
}

// TestScaleOutFlagsRejected checks the settings under which several
// instances would give wrong results, or that do not apply with --group.
func TestScaleOutFlagsRejected(t *testing.T) {
	base := []string{"stats", "devices", "--from", "kafka:in", "--follow", "--brokers", "127.0.0.1:1"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--group", "g", "--to", "kafka:out", "--repartition", "none"}, "--repartition none is not supported with --group"},
		{[]string{"--group", "g"}, "--group needs --to kafka:TOPIC"},
		{[]string{"--group", "g", "--to", "kafka:out", "--state-dir", t.TempDir()}, "--state-dir and --group cannot be combined"},
		{[]string{"--group", "g", "--to", "kafka:out", "--serve", "127.0.0.1:0"}, "--serve and --group cannot be combined"},
		{[]string{"--group", "g", "--to", "kafka:out", "--start", "latest"}, "--start does not apply with --group"},
		{[]string{"--group", "g", "--to", "kafka:in"}, "invalid --to kafka:in"},
		{[]string{"--group", "g", "--to", "kafka:out", "--partitions", "-1"}, "invalid --partitions -1"},
		{[]string{"--to", "kafka:out", "--repartition", "r"}, "--repartition needs --group"},
	}
	for _, c := range cases {
		res := invokeCLI(t, nil, append(slices.Clone(base), c.args...)...)
		if res.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (usage error)", c.args, res.code, ExitUsage)
		}
		if !strings.Contains(res.stderr, c.want) {
			t.Errorf("%v: stderr does not contain %q:\n%s", c.args, c.want, res.stderr)
		}
	}
}

// TestScaleOutRejectsLimitedRetention checks that an existing repartition
// topic that may delete records is rejected before any record is read,
// because the state of its partitions could not be rebuilt.
func TestScaleOutRejectsLimitedRetention(t *testing.T) {
	brokers := realKafka(t)
	prefix := fmt.Sprintf("wifiq-test-scaleout-retention-%d", time.Now().UnixNano())
	input, output, group := prefix+"-in", prefix+"-out", prefix+"-group"
	repartition := group + "-repartition"
	admin, closeAdmin := newAdmin(t, brokers)
	t.Cleanup(closeAdmin)
	scaleOutTopics(t, admin, input, output, repartition, group)
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	created, err := admin.CreateTopic(ctx, 4, -1, map[string]*string{"retention.ms": kadm.StringPtr("604800000")}, repartition)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", repartition, err)
	}
	res := invokeCLI(t, nil, "stats", "devices", "--from", "kafka:"+input, "--follow", "--group", group, "--to", "kafka:"+output, "--brokers", brokers)
	if res.code == ExitOK {
		t.Fatalf("exit 0 with a repartition topic that deletes records after 7 days")
	}
	if want := "retention.ms is 604800000, want -1"; !strings.Contains(res.stderr, want) {
		t.Errorf("stderr does not contain %q:\n%s", want, res.stderr)
	}
}
