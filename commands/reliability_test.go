package commands

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The reliability tests run the wifiq binary against a Kafka broker of
// their own. scripts/kafka.sh starts it in a temporary state directory on
// free ports from 29092 up, so restarting it does not disturb the shared
// broker on 19092 that other tests use. Each test stops its broker when it
// ends.
//
// They run when WIFIQ_REQUIRE_SERVERS is set (CI) or WIFIQ_KAFKA_BROKERS is
// set (make test, which has just started the shared broker with the same
// script, so Java and the broker jars are present), and skip otherwise and
// with -short.

// reliabilityTimeout bounds each wifiq run, each wait and each broker
// command of these tests. It is longer than the producer's default
// delivery timeout of 2 minutes, so a producer that gives up is seen
// giving up.
const reliabilityTimeout = 5 * time.Minute

// kafkaScript is scripts/kafka.sh, relative to this package.
const kafkaScript = "../scripts/kafka.sh"

// firstOwnBrokerPort is the first port tried for a test's own broker. The
// ports lie below Linux's ephemeral range (32768 and up by default), so
// that no client connection takes one while the broker is down.
const firstOwnBrokerPort = 29092

// requireOwnBroker skips a test that starts a broker of its own unless
// WIFIQ_REQUIRE_SERVERS or WIFIQ_KAFKA_BROKERS is set.
func requireOwnBroker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Kafka broker of its own; skipped with -short")
	}
	if os.Getenv("WIFIQ_REQUIRE_SERVERS") != "" || os.Getenv("WIFIQ_KAFKA_BROKERS") != "" {
		return
	}
	t.Skip("starts a Kafka broker of its own with scripts/kafka.sh (Java 17, mvn); runs under make test or with WIFIQ_REQUIRE_SERVERS=1")
}

// ownBroker is a broker that scripts/kafka.sh runs for one test.
type ownBroker struct {
	env     []string // environment of scripts/kafka.sh: state directory and ports
	brokers string   // PLAINTEXT listener, host:port
}

// startOwnBroker starts a broker in a temporary state directory and stops
// it when the test ends.
func startOwnBroker(t *testing.T) *ownBroker {
	t.Helper()
	return startOwnBrokerIn(t, t.TempDir())
}

// startOwnBrokerIn starts a broker with state directory STATE and the extra
// scripts/kafka.sh settings EXTRA (NAME=VALUE), and stops it when the test
// ends.
func startOwnBrokerIn(t *testing.T, state string, extra ...string) *ownBroker {
	t.Helper()
	requireOwnBroker(t)
	port := freePortBlock(t)
	b := &ownBroker{brokers: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}

	// The settings of the shared broker, which make test exports, must not
	// reach the script. The jar cache, Kafka version and Java settings may.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "WIFIQ_STATE", "WIFIQ_KAFKA_PORT", "WIFIQ_KAFKA_SASL_SSL_PORT", "WIFIQ_KAFKA_SASL_PLAINTEXT_PORT",
			"WIFIQ_KAFKA_CONTROLLER_PORT", "WIFIQ_KAFKA_SASL_USER":
			continue
		}
		b.env = append(b.env, kv)
	}
	b.env = append(b.env,
		"WIFIQ_STATE="+state,
		"WIFIQ_KAFKA_PORT="+strconv.Itoa(port),
		"WIFIQ_KAFKA_SASL_SSL_PORT="+strconv.Itoa(port+1),
		"WIFIQ_KAFKA_SASL_PLAINTEXT_PORT="+strconv.Itoa(port+2),
		"WIFIQ_KAFKA_CONTROLLER_PORT="+strconv.Itoa(port+3),
	)
	b.env = append(b.env, extra...)

	// The cleanup is registered before the start, so a start that fails
	// halfway still stops the process. It runs before t.TempDir deletes
	// the state directory.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
		defer cancel()
		if out, err := b.command(ctx, "stop").CombinedOutput(); err != nil {
			t.Errorf("scripts/kafka.sh stop of the test broker on %s: %v\n%s", b.brokers, err, out)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	if out, err := b.command(ctx, "start").CombinedOutput(); err != nil {
		t.Fatalf("scripts/kafka.sh start of a test broker on %s: %v\n%s", b.brokers, err, out)
	}
	return b
}

// command returns scripts/kafka.sh COMMAND for this broker.
func (b *ownBroker) command(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, kafkaScript, command)
	cmd.Env = b.env
	// The broker runs detached with its own output files, but a stray
	// child holding the output pipe must not block Wait.
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// freePortBlock returns the first port from firstOwnBrokerPort up, in steps
// of 10, where it and the next three ports are free on 127.0.0.1.
func freePortBlock(t *testing.T) int {
	t.Helper()
	for port := firstOwnBrokerPort; port < firstOwnBrokerPort+1000; port += 10 {
		if portsFree(port, 4) {
			return port
		}
	}
	t.Fatalf("no 4 free ports on 127.0.0.1 between %d and %d", firstOwnBrokerPort, firstOwnBrokerPort+1000)
	return 0
}

func portsFree(first, n int) bool {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for port := first; port < first+n; port++ {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return false
		}
		listeners = append(listeners, l)
	}
	return true
}

// wifiqCommand returns the wifiq binary run with args. Its environment has
// no WIFIQ_KAFKA_* settings, so only the flags choose the broker.
func wifiqCommand(t *testing.T, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := buildWifiq()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WIFIQ_KAFKA_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// sequenceField is the record field that carries a test record's sequence
// number.
const sequenceField = `"wlan_seq":["`

// appendSequenceRecord appends record i of a test sequence and a newline:
// event time base+i milliseconds, and i in wlan_seq.
func appendSequenceRecord(dst []byte, base int64, i int) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = strconv.AppendInt(dst, base+int64(i), 10)
	dst = append(dst, `","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:01"],`...)
	dst = append(dst, sequenceField...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, "\"]}\n"...)
}

// writeSequenceRecords writes records from to to-1 of a test sequence.
func writeSequenceRecords(w io.Writer, base int64, from, to int) error {
	bw := bufio.NewWriterSize(w, 256*1024)
	var line []byte
	for i := from; i < to; i++ {
		line = appendSequenceRecord(line[:0], base, i)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// sequenceNumber returns the sequence number of a test record line.
func sequenceNumber(line []byte) (int, bool) {
	_, rest, found := bytes.Cut(line, []byte(sequenceField))
	if !found {
		return 0, false
	}
	digits, _, found := bytes.Cut(rest, []byte(`"`))
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(string(digits))
	return n, err == nil
}

// sequenceTally counts how often each sequence number 0 to n-1 was seen.
type sequenceTally struct {
	seen    []int32
	invalid int // lines without a sequence number in range
}

func newSequenceTally(n int) *sequenceTally {
	return &sequenceTally{seen: make([]int32, n)}
}

func (s *sequenceTally) add(line []byte) (int, bool) {
	i, ok := sequenceNumber(line)
	if !ok || i < 0 || i >= len(s.seen) {
		s.invalid++
		return 0, false
	}
	s.seen[i]++
	return i, true
}

// missing returns how many sequence numbers were not seen, and the first
// of them.
func (s *sequenceTally) missing() (count, first int) {
	first = -1
	for i, n := range s.seen {
		if n == 0 {
			if first < 0 {
				first = i
			}
			count++
		}
	}
	return count, first
}

// duplicates returns how many extra copies were seen.
func (s *sequenceTally) duplicates() int {
	extra := 0
	for _, n := range s.seen {
		if n > 1 {
			extra += int(n) - 1
		}
	}
	return extra
}

// readTopic passes every record of a topic, from the log start to the end
// offsets at the call, to fn.
func readTopic(t *testing.T, brokers, topic string, fn func(*kgo.Record)) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	admin := kadm.NewClient(client)
	starts, err := admin.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		t.Fatalf("list start offsets of %s: %v", topic, err)
	}
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	want := int64(0)
	ends.Each(func(end kadm.ListedOffset) {
		start, _ := starts.Lookup(topic, end.Partition)
		want += end.Offset - start.Offset
	})
	client.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: startOffsets(ends)})

	read := int64(0)
	for read < want {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s: %v", read, want, topic, ctx.Err())
		}
		for _, fetchErr := range fetches.Errors() {
			t.Fatalf("read topic %s partition %d: %v", fetchErr.Topic, fetchErr.Partition, fetchErr.Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			read++
			fn(r)
		})
	}
	return read
}

// topicRecordCount returns the sum of a topic's end offsets.
func topicRecordCount(ctx context.Context, admin *kadm.Client, topic string) (int64, error) {
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, err
	}
	total := int64(0)
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	return total, nil
}

// committedCount returns the sum of a group's committed offsets in a topic.
func committedCount(ctx context.Context, admin *kadm.Client, group, topic string) (int64, error) {
	offsets, err := admin.FetchOffsetsForTopics(ctx, group, topic)
	if err != nil {
		return 0, err
	}
	total := int64(0)
	offsets.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At > 0 {
			total += o.At
		}
	})
	return total, nil
}

// waitUntil calls check every 20 ms until it returns true, and fails the
// test after reliabilityTimeout or when stop is closed first.
func waitUntil(t *testing.T, what string, stop <-chan struct{}, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(reliabilityTimeout)
	for !check() {
		select {
		case <-stop:
			t.Fatalf("gave up waiting until %s: the process under test ended first", what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", reliabilityTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// producedSummary matches the final line of wifiq produce.
var producedSummary = regexp.MustCompile(`produced (\d+) records? to topic \S+: (\d+) acknowledged, (\d+) not acknowledged`)

// TestProduceSurvivesBrokerRestart sends 1,000,000 records through wifiq
// produce while its broker restarts. It checks that the topic contains each
// record exactly once and that the exit status matches that outcome.
//
// wifiq produce sent 1,000,000 such records from a file to a local broker
// in 1.4 s on a 2-core machine, faster than a restart. So the records come
// through standard input in three parts: the first before the restart, the
// second while the broker shuts down (some of it in flight), and the third
// only once the broker is down. That keeps the command running across the
// restart on any machine.
func TestProduceSurvivesBrokerRestart(t *testing.T) {
	broker := startOwnBroker(t)
	const total = 1_000_000
	const firstPart, secondPart = 200_000, 600_000
	const topic = "reliability-restart"
	base := time.Now().Add(-time.Hour).UnixMilli() // recent, so retention keeps the records
	started := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	produce := wifiqCommand(t, ctx, "produce", "--topic", topic, "--create-topic", "--partitions", "3", "--brokers", broker.brokers)
	stdin, err := produce.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	produce.Stderr = &stderr
	if err := produce.Start(); err != nil {
		t.Fatal(err)
	}
	produceDone := make(chan struct{})
	var produceErr error
	go func() {
		produceErr = produce.Wait()
		close(produceDone)
	}()

	restartBegun, brokerDown := make(chan struct{}), make(chan struct{})
	feedDone := make(chan error, 1)
	go func() {
		defer stdin.Close()
		feedDone <- feedInParts(stdin, base, total, firstPart, secondPart, restartBegun, brokerDown, produceDone)
	}()

	admin, closeAdmin := newAdmin(t, broker.brokers)
	defer closeAdmin()
	var beforeRestart int64
	waitUntil(t, "the topic contains 100,000 acknowledged records", produceDone, func() bool {
		n, err := topicRecordCount(ctx, admin, topic)
		beforeRestart = n
		return err == nil && n >= 100_000
	})

	var restartOutput bytes.Buffer
	restart := broker.command(ctx, "restart")
	restart.Stdout, restart.Stderr = &restartOutput, &restartOutput
	if err := restart.Start(); err != nil {
		t.Fatal(err)
	}
	restartDone := make(chan error, 1)
	go func() { restartDone <- restart.Wait() }()
	close(restartBegun)

	waitUntil(t, "the broker on "+broker.brokers+" refuses connections", produceDone, func() bool {
		conn, err := net.DialTimeout("tcp", broker.brokers, 200*time.Millisecond)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
	close(brokerDown)

	if err := <-restartDone; err != nil {
		t.Fatalf("scripts/kafka.sh restart: %v\n%s", err, restartOutput.String())
	}
	<-produceDone
	if err := <-feedDone; err != nil {
		t.Errorf("feeding records to wifiq produce: %v", err)
	}
	t.Logf("the topic held %d records when the restart began; produce ended after %v with %v and %d warnings:\n%s",
		beforeRestart, time.Since(started).Round(time.Millisecond), produceErr, strings.Count(stderr.String(), "level=WARN"), lastLines(stderr.String(), 3))

	tally := newSequenceTally(total)
	wrongTimestamps := 0
	read := readTopic(t, broker.brokers, topic, func(r *kgo.Record) {
		i, ok := tally.add(r.Value)
		if ok && r.Timestamp.UnixMilli() != base+int64(i) {
			wrongTimestamps++
		}
	})
	missing, firstMissing := tally.missing()
	duplicates := tally.duplicates()
	t.Logf("topic %s contains %d records: %d missing, %d duplicates", topic, read, missing, duplicates)

	if duplicates != 0 {
		t.Errorf("the topic contains %d duplicate records, want 0 (idempotent writes)", duplicates)
	}
	if tally.invalid != 0 {
		t.Errorf("the topic contains %d records without a sequence number from 0 to %d", tally.invalid, total-1)
	}
	if wrongTimestamps != 0 {
		t.Errorf("%d records have a Kafka timestamp other than their event time", wrongTimestamps)
	}

	summary := producedSummary.FindStringSubmatch(stderr.String())
	if summary == nil {
		t.Fatalf("wifiq produce printed no summary line:\n%s", stderr.String())
	}
	unacknowledged, _ := strconv.Atoi(summary[3])
	if summary[1] != strconv.Itoa(total) {
		t.Errorf("wifiq produce reports %s records written, want %d", summary[1], total)
	}

	if produceErr == nil {
		if missing != 0 {
			t.Errorf("wifiq produce exited 0, but %d records are missing from the topic (the first is number %d)", missing, firstMissing)
		}
		if unacknowledged != 0 {
			t.Errorf("wifiq produce exited 0 but reports %d records not acknowledged", unacknowledged)
		}
		return
	}

	// A failed run is an honest outcome only when records really are
	// missing and the command counted at least that many as not
	// acknowledged (a record whose acknowledgement was lost may still be
	// in the topic).
	t.Logf("wifiq produce failed: %v", produceErr)
	if missing == 0 {
		t.Errorf("wifiq produce failed, but every record is in the topic once:\n%s", stderr.String())
	}
	if unacknowledged < missing {
		t.Errorf("wifiq produce reports %d records not acknowledged, but %d are missing from the topic", unacknowledged, missing)
	}
}

// feedInParts writes records 0 to first-1, waits for restartBegun, writes
// up to second-1, waits for brokerDown, then writes the rest. It gives up
// when stop is closed.
func feedInParts(w io.Writer, base int64, total, first, second int, restartBegun, brokerDown, stop <-chan struct{}) error {
	if err := writeSequenceRecords(w, base, 0, first); err != nil {
		return err
	}
	select {
	case <-restartBegun:
	case <-stop:
		return errors.New("wifiq produce ended before the broker restart began")
	}
	if err := writeSequenceRecords(w, base, first, second); err != nil {
		return err
	}
	select {
	case <-brokerDown:
	case <-stop:
		return errors.New("wifiq produce ended before the broker went down")
	}
	return writeSequenceRecords(w, base, second, total)
}

// newAdmin returns an admin client for brokers and a function that closes it.
func newAdmin(t *testing.T, brokers string) (*kadm.Client, func()) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	return kadm.NewClient(client), client.Close
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestConsumeGroupResumesAfterKill kills a wifiq consume group member with
// SIGKILL while it writes records, runs it again, and checks that the
// second run starts at the committed offsets and that the two outputs
// together contain every record at least once.
//
// The first run writes into a pipe that the test stops reading after
// 50,000 records, so the consumer blocks on its output, as behind a slow
// pipeline, and the kill lands mid-topic however fast the machine is.
func TestConsumeGroupResumesAfterKill(t *testing.T) {
	broker := startOwnBroker(t)
	const total = 200_000
	const readBeforeKill = 50_000
	const topic, group = "reliability-kill", "reliability-kill-group"
	base := time.Now().Add(-time.Hour).UnixMilli()
	dir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	input := filepath.Join(dir, "records.jsonl")
	writeSequenceFile(t, input, base, total)
	produce := wifiqCommand(t, ctx, "produce", "--topic", topic, "--create-topic", "--partitions", "3", "--brokers", broker.brokers, input)
	if out, err := produce.CombinedOutput(); err != nil {
		t.Fatalf("wifiq produce: %v\n%s", err, out)
	}

	// First run: read 50,000 lines of its output, wait for a commit, kill.
	//
	// With the default max.partition.fetch.bytes of 1 MiB one fetch holds
	// this whole topic; consume must still commit while a slow reader holds
	// it back. A session timeout of 6 s (the minimum that Kafka's
	// group.min.session.timeout.ms allows by default) instead of 45 s lets
	// the second run take over the killed member's partitions sooner.
	consumeArgs := []string{"consume", "--topic", topic, "--group", group, "--brokers", broker.brokers,
		"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000"}
	first := wifiqCommand(t, ctx, consumeArgs...)
	output, outputWriter, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer output.Close()
	first.Stdout = outputWriter
	var firstStderr lockedBuffer
	first.Stderr = &firstStderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	outputWriter.Close()
	firstDone := make(chan struct{})
	var firstErr error
	go func() {
		firstErr = first.Wait()
		close(firstDone)
	}()

	firstFile := filepath.Join(dir, "first.jsonl")
	firstOut, err := os.Create(firstFile)
	if err != nil {
		t.Fatal(err)
	}
	defer firstOut.Close()
	reader := bufio.NewReader(output)
	for range readBeforeKill {
		line, err := reader.ReadBytes('\n')
		if err != nil {
			t.Fatalf("first consume run ended after fewer than %d records: %v\n%s", readBeforeKill, err, firstStderr.String())
		}
		if _, err := firstOut.Write(line); err != nil {
			t.Fatal(err)
		}
	}

	admin, closeAdmin := newAdmin(t, broker.brokers)
	defer closeAdmin()
	waitUntil(t, "group "+group+" has committed offsets", firstDone, func() bool {
		n, err := committedCount(ctx, admin, group, topic)
		return err == nil && n > 0
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL to consume (pid %d): %v", first.Process.Pid, err)
	}
	<-firstDone
	var exitErr *exec.ExitError
	if !errors.As(firstErr, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("first consume run ended with %v, want death by SIGKILL\n%s", firstErr, firstStderr.String())
	}
	// What the killed process wrote into the pipe is output it delivered.
	if _, err := io.Copy(firstOut, reader); err != nil {
		t.Fatal(err)
	}
	committed, err := committedCount(ctx, admin, group, topic)
	if err != nil {
		t.Fatal(err)
	}

	// Second run: from the committed offsets to the end of the topic.
	secondFile := filepath.Join(dir, "second.jsonl")
	secondOut, err := os.Create(secondFile)
	if err != nil {
		t.Fatal(err)
	}
	defer secondOut.Close()
	second := wifiqCommand(t, ctx, consumeArgs...)
	second.Stdout = secondOut
	var secondStderr bytes.Buffer
	second.Stderr = &secondStderr
	started := time.Now()
	if err := second.Run(); err != nil {
		t.Fatalf("second consume run: %v\n%s", err, secondStderr.String())
	}
	t.Logf("second consume run took %v:\n%s", time.Since(started).Round(time.Millisecond), lastLines(secondStderr.String(), 3))

	tally := newSequenceTally(total)
	firstLines, partial := tallyFile(t, tally, firstFile)
	secondLines, secondPartial := tallyFile(t, tally, secondFile)
	missing, firstMissing := tally.missing()
	duplicates := tally.duplicates()
	t.Logf("first run: %d records (and %d bytes of a cut line) before SIGKILL, %d committed; second run: %d records; %d duplicates",
		firstLines, partial, committed, secondLines, duplicates)

	if committed >= total {
		t.Errorf("group committed %d offsets before the kill, want fewer than %d: the kill came after the end", committed, total)
	}
	if missing != 0 {
		t.Errorf("%d records are in neither output (the first is number %d)", missing, firstMissing)
	}
	if tally.invalid != 0 {
		t.Errorf("the outputs contain %d lines without a sequence number from 0 to %d", tally.invalid, total-1)
	}
	if secondPartial != 0 {
		t.Errorf("the second run's output ends in a cut line of %d bytes", secondPartial)
	}
	if want := total - int(committed); secondLines != want {
		t.Errorf("second run wrote %d records, want %d: the records after the committed offsets", secondLines, want)
	}
	if int64(firstLines) < committed {
		t.Errorf("first run wrote %d records but committed %d offsets: committed records were never written", firstLines, committed)
	}
}

// writeSequenceFile writes records 0 to n-1 of a test sequence to path.
func writeSequenceFile(t *testing.T, path string, base int64, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSequenceRecords(f, base, 0, n); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// tallyFile adds the records of a file to tally and returns how many whole
// lines it had and the length of a last line without a newline, which a
// killed writer can leave.
func tallyFile(t *testing.T, tally *sequenceTally, path string) (lines, partial int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for len(data) > 0 {
		line, rest, found := bytes.Cut(data, []byte("\n"))
		if !found {
			return lines, len(line)
		}
		tally.add(line)
		lines++
		data = rest
	}
	return lines, 0
}
