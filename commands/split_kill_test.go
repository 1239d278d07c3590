package commands

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// splitKillSubtypes are the subtypes of the kill test's records, in turn:
// the six default routes and probe responses (5), which have no route and
// are dropped.
var splitKillSubtypes = []int{4, 8, 27, 28, 29, 36, 5}

// splitKillDropped is the subtype without a route.
const splitKillDropped = 5

// splitKillSubtype returns the subtype of record i of the kill test.
func splitKillSubtype(i int) int {
	return splitKillSubtypes[i%len(splitKillSubtypes)]
}

// appendSplitKillRecord appends record i of the kill test and a newline:
// event time base+i milliseconds, subtype splitKillSubtype(i), and i in
// wlan_seq, the field that sequenceTally reads.
func appendSplitKillRecord(dst []byte, base int64, i int) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = strconv.AppendInt(dst, base+int64(i), 10)
	dst = append(dst, `","wlan_fc_type_subtype":["`...)
	dst = strconv.AppendInt(dst, int64(splitKillSubtype(i)), 10)
	dst = append(dst, `"],"wlan_sa":["02:00:00:00:00:01"],`...)
	dst = append(dst, sequenceField...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, "\"]}\n"...)
}

// splitKillProduce sends records 0 to n-1 to a new topic of 3 partitions
// through wifiq produce.
func splitKillProduce(t *testing.T, ctx context.Context, brokers, topic string, base int64, n int) {
	t.Helper()
	produce := wifiqCommand(t, ctx, "produce", "--topic", topic, "--create-topic", "--partitions", "3", "--brokers", brokers)
	stdin, err := produce.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var output bytes.Buffer
	produce.Stdout, produce.Stderr = &output, &output
	if err := produce.Start(); err != nil {
		t.Fatal(err)
	}
	feedErr := make(chan error, 1)
	go func() {
		defer stdin.Close()
		w := bufio.NewWriterSize(stdin, 256*1024)
		var line []byte
		for i := range n {
			line = appendSplitKillRecord(line[:0], base, i)
			if _, err := w.Write(line); err != nil {
				feedErr <- err
				return
			}
		}
		feedErr <- w.Flush()
	}()
	if err := produce.Wait(); err != nil {
		t.Fatalf("wifiq produce: %v\n%s", err, output.String())
	}
	if err := <-feedErr; err != nil {
		t.Fatalf("feeding records to wifiq produce: %v", err)
	}
}

// splitKillCreateTopics creates topics of 3 partitions each and deletes
// them, with the input topic and the group, when the test ends.
func splitKillCreateTopics(t *testing.T, admin *kadm.Client, group string, input string, topics []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
		defer cancel()
		if _, err := admin.DeleteTopics(ctx, append([]string{input}, topics...)...); err != nil {
			t.Logf("deleting the test topics: %v", err)
		}
		if _, err := admin.DeleteGroup(ctx, group); err != nil {
			t.Logf("deleting group %s: %v", group, err)
		}
	})
	created, err := admin.CreateTopics(ctx, 3, 1, nil, topics...)
	if err == nil {
		err = created.Error()
	}
	if err != nil {
		t.Fatalf("create the route topics: %v", err)
	}
}

// splitKillReadCommitted passes every record that a read_committed
// consumer returns from topic to fn, and returns how many there were. It
// reads each partition up to its last stable offset.
func splitKillReadCommitted(t *testing.T, brokers, topic string, fn func(*kgo.Record)) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	// Control records (transaction markers) are kept, so that the reader
	// sees when it has passed a partition's last offset.
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ends, err := kadm.NewClient(client).ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list the last stable offsets of %s: %v", topic, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	client.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: startOffsets(ends)})

	read := 0
	for len(remaining) > 0 {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records of %s, and partitions %v are not read to their end: %v", read, topic, remaining, ctx.Err())
		}
		for _, fetchErr := range fetches.Errors() {
			t.Fatalf("read topic %s partition %d: %v", fetchErr.Topic, fetchErr.Partition, fetchErr.Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			read++
			fn(r)
		})
	}
	return read
}

// splitSummary matches the line in which wifiq split counts what it read.
var splitSummary = regexp.MustCompile(`kafka: (\d+) records? read from \S+ in (\d+) committed transactions \((\d+) aborted\)`)

// TestSplitKillExactlyOnce splits 1,000,000 records from a topic of the
// shared broker into route topics. It kills wifiq split with SIGKILL after
// some of its transactions committed and runs it again to the end. Then
// the route topics, as read_committed consumers read them, must contain
// every routed input record exactly once and in its own route.
//
// The whole test took 41 s on a 2-core machine against the shared Kafka
// 4.4 broker (about 5 s to produce, 16 s to the kill, 25 s for the second
// run including the 6 s session timeout).
func TestSplitKillExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 1,000,000 records through wifiq split; skipped with -short")
	}
	brokers := realKafka(t)
	const total = 1_000_000
	const killAfter = total / 4 // input records committed before the kill
	started := time.Now()

	prefix := fmt.Sprintf("wifiq-test-splitkill-%d", time.Now().UnixNano())
	input, group := prefix+"-in", prefix+"-group"
	routeTopics := map[int]string{}
	var topics []string
	// The second run joins the group only once the broker has dropped the
	// killed member, after its session timeout. 6 s (the minimum that
	// Kafka's group.min.session.timeout.ms allows by default) instead of
	// 45 s keeps that wait short.
	args := []string{"split", "--from", "kafka:" + input, "--to", "kafka", "--group", group, "--brokers", brokers,
		"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000"}
	for _, subtype := range splitKillSubtypes {
		if subtype == splitKillDropped {
			continue
		}
		topic := prefix + "-" + strconv.Itoa(subtype)
		routeTopics[subtype] = topic
		topics = append(topics, topic)
		args = append(args, "--route", strconv.Itoa(subtype)+"="+topic)
	}
	// The admin client closes after splitKillCreateTopics's cleanup has
	// deleted the topics with it.
	admin, closeAdmin := newAdmin(t, brokers)
	t.Cleanup(closeAdmin)
	splitKillCreateTopics(t, admin, group, input, topics)

	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	base := time.Now().Add(-time.Hour).UnixMilli() // recent, so retention keeps the records
	splitKillProduce(t, ctx, brokers, input, base, total)
	produced := time.Since(started)

	// First run: kill it once a quarter of the input is committed.
	first := wifiqCommand(t, ctx, args...)
	var firstStderr lockedBuffer
	first.Stderr = &firstStderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	firstDone := make(chan struct{})
	var firstErr error
	go func() {
		firstErr = first.Wait()
		close(firstDone)
	}()
	waitUntil(t, fmt.Sprintf("group %s has committed %d input offsets", group, killAfter), firstDone, func() bool {
		n, err := committedCount(ctx, admin, group, input)
		return err == nil && n >= killAfter
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL to wifiq split (pid %d): %v", first.Process.Pid, err)
	}
	<-firstDone
	var exitErr *exec.ExitError
	if !errors.As(firstErr, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("first split run ended with %v, want death by SIGKILL\n%s", firstErr, firstStderr.String())
	}
	committedAtKill, err := committedCount(ctx, admin, group, input)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Since(started)

	// Second run: same group and transactional ID, to the end of the input.
	second := wifiqCommand(t, ctx, args...)
	var secondStderr bytes.Buffer
	second.Stderr = &secondStderr
	if err := second.Run(); err != nil {
		t.Fatalf("second split run: %v\n%s", err, secondStderr.String())
	}
	secondRun := time.Since(started) - killed
	summary := splitSummary.FindStringSubmatch(secondStderr.String())
	if summary == nil {
		t.Fatalf("the second split run printed no summary line:\n%s", secondStderr.String())
	}
	committedAtEnd, err := committedCount(ctx, admin, group, input)
	if err != nil {
		t.Fatal(err)
	}

	// Read every route topic as read_committed consumers do.
	tally := newSequenceTally(total)
	wrongRoute, wrongTimestamp := 0, 0
	perRoute := map[int]int{}
	for subtype, topic := range routeTopics {
		perRoute[subtype] = splitKillReadCommitted(t, brokers, topic, func(r *kgo.Record) {
			i, ok := tally.add(r.Value)
			if !ok {
				return
			}
			if splitKillSubtype(i) != subtype {
				wrongRoute++
			}
			if r.Timestamp.UnixMilli() != base+int64(i) {
				wrongTimestamp++
			}
		})
	}

	wantPerSubtype := map[int]int{}
	for i := range total {
		wantPerSubtype[splitKillSubtype(i)]++
	}
	missingRouted, firstMissing, presentDropped := 0, -1, 0
	for i, n := range tally.seen {
		switch {
		case splitKillSubtype(i) == splitKillDropped && n != 0:
			presentDropped++
		case splitKillSubtype(i) != splitKillDropped && n == 0:
			if firstMissing < 0 {
				firstMissing = i
			}
			missingRouted++
		}
	}
	duplicates := tally.duplicates()
	t.Logf("%d input records produced in %v; first run killed at %v with %d input offsets committed; second run took %v: %s; read_committed routes %v; %d duplicates, %d routed records missing; total %v",
		total, produced.Round(time.Millisecond), killed.Round(time.Millisecond), committedAtKill,
		secondRun.Round(time.Millisecond), summary[0], perRoute, duplicates, missingRouted, time.Since(started).Round(time.Millisecond))
	t.Logf("second run's stderr ends:\n%s", lastLines(secondStderr.String(), 10))

	if committedAtKill >= total {
		t.Errorf("the group committed %d input offsets before the kill, want fewer than %d: the kill came after the end", committedAtKill, total)
	}
	if committedAtEnd != total {
		t.Errorf("the group committed %d input offsets after the second run, want %d", committedAtEnd, total)
	}
	if read, _ := strconv.ParseInt(summary[1], 10, 64); read != total-committedAtKill {
		t.Errorf("the second run read %d input records, want the %d after the offsets committed at the kill", read, total-committedAtKill)
	}
	for subtype, topic := range routeTopics {
		if perRoute[subtype] != wantPerSubtype[subtype] {
			t.Errorf("route topic %s contains %d records, want the %d input records of subtype %d", topic, perRoute[subtype], wantPerSubtype[subtype], subtype)
		}
	}
	if duplicates != 0 {
		t.Errorf("the route topics contain %d duplicate records, want 0", duplicates)
	}
	if missingRouted != 0 {
		t.Errorf("%d routed input records are in no route topic (the first is number %d)", missingRouted, firstMissing)
	}
	if presentDropped != 0 {
		t.Errorf("%d records of subtype %d, which has no route, are in a route topic", presentDropped, splitKillDropped)
	}
	if tally.invalid != 0 {
		t.Errorf("the route topics contain %d records without a sequence number from 0 to %d", tally.invalid, total-1)
	}
	if wrongRoute != 0 {
		t.Errorf("%d records are in the route topic of another subtype", wrongRoute)
	}
	if wrongTimestamp != 0 {
		t.Errorf("%d records have a Kafka timestamp other than their event time", wrongTimestamp)
	}
}
