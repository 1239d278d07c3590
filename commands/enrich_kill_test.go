package commands

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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

// enrichKillDevices is the device list of the kill test.
const enrichKillDevices = "../testdata/devices/devices.csv"

// enrichKillMACs are the source addresses of the kill test's probe
// requests, in turn: the three devices of enrichKillDevices, a plain
// address and a Ubiquiti address that no device has, and two randomised
// (locally administered) addresses.
var enrichKillMACs = []string{
	"64:bc:0c:50:13:a9", "2c:f0:a2:dd:bc:d0", "00:13:ce:55:98:ef",
	"da:a1:19:63:32:22", "06:80:12:df:e1:85", "02:11:22:33:44:55", "9a:5c:01:7e:20:b3",
}

// enrichKillProbe describes probe request i of the kill test: its source
// address, signal and SSID, which the enriched record must carry.
func enrichKillProbe(i int) (mac, signal, ssid string) {
	return enrichKillMACs[i%len(enrichKillMACs)], strconv.Itoa(-30 - i%61), "net-" + strconv.Itoa(i%50)
}

// appendEnrichKillProbe appends probe request i of the kill test and a
// newline, with the fields of a broadcast probe request from a phone:
// event time base+i milliseconds, which is unique and which enrich keeps.
func appendEnrichKillProbe(dst []byte, base int64, i int) []byte {
	mac, signal, ssid := enrichKillProbe(i)
	dst = append(dst, `{"timestamp":"`...)
	dst = strconv.AppendInt(dst, base+int64(i), 10)
	dst = append(dst, `","wlan_fc_type":["0"],"wlan_fc_type_subtype":["4"],"wlan_radio_channel":["6"],"wlan_radio_signal_dbm":["`...)
	dst = append(dst, signal...)
	dst = append(dst, `"],"wlan_ra":["ff:ff:ff:ff:ff:ff"],"wlan_ra_resolved":["Broadcast"],"wlan_da":["ff:ff:ff:ff:ff:ff"],"wlan_da_resolved":["Broadcast"],"wlan_sa":["`...)
	dst = append(dst, mac...)
	dst = append(dst, `"],"wlan_sa_resolved":["`...)
	dst = append(dst, mac...)
	dst = append(dst, `"],"wlan_tagged_all":["1"],"wlan_tag_vendor_data":["02:00:10:00:00:00","00:10:18:02:00:00"],"wlan_tag_vendor_oui_type":["2","2"],"wlan_tag_oui":["4120","4120"],"wlan_ssid":["`...)
	dst = append(dst, ssid...)
	dst = append(dst, `"],`...)
	dst = append(dst, sequenceField...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, "\"]}\n"...)
}

// enrichKillProduce sends probe requests 0 to n-1 to a new topic of 3
// partitions through wifiq produce.
func enrichKillProduce(t *testing.T, ctx context.Context, brokers, topic string, base int64, n int) {
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
			line = appendEnrichKillProbe(line[:0], base, i)
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

// expectedDevice is what the join must give for one source address.
type expectedDevice struct {
	name  string // device_name; "" when no device matches
	known bool   // is_known_device
}

// readExpectedDevices reads a CSV device list with encoding/csv, apart
// from the enrich package, and returns the join's result per MAC address.
// It handles devices with a name or a hostname only, since a name built
// from the manufacturer would need the IEEE registry.
func readExpectedDevices(t *testing.T, path string) map[string]expectedDevice {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	column := map[string]int{}
	for i, name := range rows[0] {
		column[name] = i
	}
	devices := map[string]expectedDevice{}
	for _, row := range rows[1:] {
		name, hostname := row[column["name"]], row[column["hostname"]]
		switch {
		case name != "" && hostname != "":
			name += " (" + hostname + ")"
		case name == "":
			name = hostname
		}
		if name == "" {
			t.Fatalf("%s: device %s has neither a name nor a hostname, which this test cannot name", path, row[column["mac"]])
		}
		devices[strings.ToLower(row[column["mac"]])] = expectedDevice{name: name, known: row[column["is_guest"]] != "true"}
	}
	return devices
}

// enrichedRecord holds the fields of an enriched record that the tests
// check.
type enrichedRecord struct {
	Timestamp     string   `json:"timestamp"`
	SA            []string `json:"wlan_sa"`
	DeviceName    []string `json:"device_name"`
	IsKnownDevice []string `json:"is_known_device"`
	Signal        []string `json:"wlan_radio_signal_dbm"`
	SSID          []string `json:"wlan_ssid"`
	EventTime     []string `json:"event_time"`
}

// one returns the only value of a field, "" when it is absent, and "<n
// values>" when there are several.
func one(values []string) string {
	switch len(values) {
	case 0:
		return ""
	case 1:
		return values[0]
	}
	return fmt.Sprintf("<%d values>", len(values))
}

// enrichSummary matches the line in which an exactly-once wifiq enrich
// counts what it read and wrote.
var enrichSummary = regexp.MustCompile(`kafka: (\d+) records? read from \S+ in (\d+) committed transactions \((\d+) aborted\), (\d+) records? written to \S+`)

// TestEnrichKillExactlyOnce enriches 1,000,000 probe requests from a topic
// of the shared broker into a topic, as a consumer group. It kills wifiq
// enrich with SIGKILL after some of its transactions committed and runs it
// again to the end. Then the output topic, as read_committed consumers
// read it, must contain every probe request exactly once, joined with the
// device that a lookup of its own in the device list gives.
func TestEnrichKillExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 1,000,000 records through wifiq enrich; skipped with -short")
	}
	brokers := realKafka(t)
	const total = 1_000_000
	const killAfter = total / 4 // input records committed before the kill
	started := time.Now()
	devices := readExpectedDevices(t, enrichKillDevices)

	prefix := fmt.Sprintf("wifiq-test-enrichkill-%d", time.Now().UnixNano())
	input, output, group := prefix+"-in", prefix+"-out", prefix+"-group"
	// A short session timeout lets the second run join the group soon
	// after the killed member, as in TestSplitKillExactlyOnce.
	args := []string{"enrich", "--from", "kafka:" + input, "--to", "kafka:" + output, "--group", group,
		"--devices", enrichKillDevices, "--brokers", brokers,
		"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000"}
	admin, closeAdmin := newAdmin(t, brokers)
	t.Cleanup(closeAdmin)
	// The output topic has 3 partitions, as the input topic that wifiq
	// produce creates.
	splitKillCreateTopics(t, admin, group, input, []string{output})

	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	base := time.Now().Add(-time.Hour).UnixMilli() // recent, so retention keeps the records
	enrichKillProduce(t, ctx, brokers, input, base, total)
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
		t.Fatalf("SIGKILL to wifiq enrich (pid %d): %v", first.Process.Pid, err)
	}
	<-firstDone
	var exitErr *exec.ExitError
	if !errors.As(firstErr, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("first enrich run ended with %v, want death by SIGKILL\n%s", firstErr, firstStderr.String())
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
		t.Fatalf("second enrich run: %v\n%s", err, secondStderr.String())
	}
	secondRun := time.Since(started) - killed
	summary := enrichSummary.FindStringSubmatch(secondStderr.String())
	if summary == nil {
		t.Fatalf("the second enrich run printed no summary line:\n%s", secondStderr.String())
	}
	committedAtEnd, err := committedCount(ctx, admin, group, input)
	if err != nil {
		t.Fatal(err)
	}

	// Read the output topic as read_committed consumers do. Each record's
	// timestamp gives the number of its probe request.
	seen := make([]int32, total)
	invalid, wrongContent, wrongJoin, wrongTime := 0, 0, 0, 0
	var firstProblem string
	problem := func(count *int, format string, args ...any) {
		*count++
		if firstProblem == "" {
			firstProblem = fmt.Sprintf(format, args...)
		}
	}
	read := splitKillReadCommitted(t, brokers, output, func(r *kgo.Record) {
		var rec enrichedRecord
		if err := json.Unmarshal(r.Value, &rec); err != nil {
			problem(&invalid, "offset %d: %v: %s", r.Offset, err, r.Value)
			return
		}
		ts, err := strconv.ParseInt(rec.Timestamp, 10, 64)
		i := int(ts - base)
		if err != nil || i < 0 || i >= total {
			problem(&invalid, "offset %d: timestamp %q of no input record", r.Offset, rec.Timestamp)
			return
		}
		seen[i]++
		mac, signal, ssid := enrichKillProbe(i)
		if one(rec.SA) != mac || one(rec.Signal) != signal || one(rec.SSID) != ssid {
			problem(&wrongContent, "record %d has wlan_sa %v, signal %v and SSID %v, want %s, %s and %s", i, rec.SA, rec.Signal, rec.SSID, mac, signal, ssid)
		}
		want := devices[mac]
		if one(rec.DeviceName) != want.name || one(rec.IsKnownDevice) != strconv.FormatBool(want.known) {
			problem(&wrongJoin, "record %d from %s has device_name %v and is_known_device %v, want %q and %v", i, mac, rec.DeviceName, rec.IsKnownDevice, want.name, want.known)
		}
		wantTime := time.UnixMilli(ts).UTC().Format("2006-01-02T15:04:05.000Z")
		if one(rec.EventTime) != wantTime || r.Timestamp.UnixMilli() != ts {
			problem(&wrongTime, "record %d has event_time %v and Kafka timestamp %d, want %s and %d", i, rec.EventTime, r.Timestamp.UnixMilli(), wantTime, ts)
		}
	})
	missing, duplicates, firstMissing := 0, 0, -1
	for i, n := range seen {
		switch {
		case n == 0:
			if firstMissing < 0 {
				firstMissing = i
			}
			missing++
		case n > 1:
			duplicates += int(n) - 1
		}
	}
	t.Logf("%d probe requests produced in %v; first run killed at %v with %d input offsets committed; second run took %v: %s; %d records read_committed from the output; %d duplicates, %d missing; total %v",
		total, produced.Round(time.Millisecond), killed.Round(time.Millisecond), committedAtKill,
		secondRun.Round(time.Millisecond), summary[0], read, duplicates, missing, time.Since(started).Round(time.Millisecond))
	t.Logf("second run's stderr ends:\n%s", lastLines(secondStderr.String(), 10))

	if committedAtKill >= total {
		t.Errorf("the group committed %d input offsets before the kill, want fewer than %d: the kill came after the end", committedAtKill, total)
	}
	if committedAtEnd != total {
		t.Errorf("the group committed %d input offsets after the second run, want %d", committedAtEnd, total)
	}
	if n, _ := strconv.ParseInt(summary[1], 10, 64); n != total-committedAtKill {
		t.Errorf("the second run read %d input records, want the %d after the offsets committed at the kill", n, total-committedAtKill)
	}
	if read != total {
		t.Errorf("the output topic contains %d records, want %d", read, total)
	}
	if duplicates != 0 {
		t.Errorf("the output topic contains %d duplicate records, want 0", duplicates)
	}
	if missing != 0 {
		t.Errorf("%d probe requests are not in the output topic (the first is number %d)", missing, firstMissing)
	}
	for _, c := range []struct {
		n    int
		what string
	}{{invalid, "are not enriched records of an input record"}, {wrongContent, "carry another probe request's values"},
		{wrongJoin, "have a device_name or is_known_device other than the device list gives"},
		{wrongTime, "have an event_time or Kafka timestamp other than their timestamp"}} {
		if c.n != 0 {
			t.Errorf("%d output records %s", c.n, c.what)
		}
	}
	if firstProblem != "" {
		t.Errorf("the first problem: %s", firstProblem)
	}
}

// enrichTopicRun is an exactly-once wifiq enrich --follow that takes its
// devices from a compacted topic, with the topics it reads and writes on
// the shared broker.
type enrichTopicRun struct {
	t              *testing.T
	producer       *kgo.Client
	reader         *kgo.Client // reads the output topic read_committed
	input, devices string
	base           int64 // event time of probe request 0
	next           int   // number of the next probe request
	mac            string
}

// produce writes one record and waits for its acknowledgement.
func (r *enrichTopicRun) produce(topic string, key, value []byte) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	if err := r.producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: key, Value: value}).FirstErr(); err != nil {
		r.t.Fatalf("produce to %s: %v", topic, err)
	}
}

// setDevice writes a device document for r.mac, or a tombstone when doc
// is "".
func (r *enrichTopicRun) setDevice(doc string) {
	r.t.Helper()
	var value []byte
	if doc != "" {
		value = []byte(doc)
	}
	r.produce(r.devices, []byte(r.mac), value)
}

// probe sends the next probe request from r.mac and returns its enriched
// record, once a read_committed consumer can read it.
func (r *enrichTopicRun) probe() enrichedRecord {
	r.t.Helper()
	i := r.next
	r.next++
	line := fmt.Sprintf(`{"timestamp":"%d","wlan_fc_type_subtype":["4"],"wlan_sa":["%s"],"wlan_ssid":["home"]}`, r.base+int64(i), r.mac)
	r.produce(r.input, nil, []byte(line))

	want := strconv.FormatInt(r.base+int64(i), 10)
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	for {
		fetches := r.reader.PollFetches(ctx)
		if ctx.Err() != nil {
			r.t.Fatalf("no enriched record for probe request %d (timestamp %s): %v", i, want, ctx.Err())
		}
		for _, fetchErr := range fetches.Errors() {
			r.t.Fatalf("read the output topic: %v", fetchErr.Err)
		}
		var found *enrichedRecord
		fetches.EachRecord(func(rec *kgo.Record) {
			var row enrichedRecord
			if err := json.Unmarshal(rec.Value, &row); err != nil {
				r.t.Fatalf("enriched record %q: %v", rec.Value, err)
			}
			if row.Timestamp != want {
				r.t.Fatalf("enriched record with timestamp %s, want %s (the records of earlier probe requests were already read)", row.Timestamp, want)
			}
			found = &row
		})
		if found != nil {
			return *found
		}
	}
}

// probeUntil sends probe requests until one joins with device name want
// ("" for no match), and returns how many it took. Device updates reach
// the joins a little after they are written, so the first probe requests
// may still join with the previous state.
func (r *enrichTopicRun) probeUntil(want string) int {
	r.t.Helper()
	deadline := time.Now().Add(kafkaTestTimeout)
	for n := 1; ; n++ {
		row := r.probe()
		if one(row.DeviceName) == want {
			return n
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after %d probe requests and %v, the joins still give device_name %q, want %q", n, kafkaTestTimeout, one(row.DeviceName), want)
		}
		time.Sleep(enrichFollowProbePause)
	}
}

// TestEnrichDevicesTopicExactlyOnce runs an exactly-once enrich --follow
// on the shared broker with its devices in a compacted topic. While it
// runs, the device is renamed and made a guest, and then deleted with a
// tombstone. Probe requests after each change must join with the new state
// and none after them with the old one. At the end the output topic must
// hold each probe request once, and in event time order the device names
// must go from the first state to the last without going back.
func TestEnrichDevicesTopicExactlyOnce(t *testing.T) {
	brokers := realKafka(t)
	prefix := fmt.Sprintf("wifiq-test-enrichdevices-%d", time.Now().UnixNano())
	input, output, devices, group := prefix+"-in", prefix+"-out", prefix+"-devices", prefix+"-group"

	admin, closeAdmin := newAdmin(t, brokers)
	t.Cleanup(closeAdmin)
	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
		defer cancel()
		if _, err := admin.DeleteTopics(ctx, input, output, devices); err != nil {
			t.Logf("deleting the test topics: %v", err)
		}
		if _, err := admin.DeleteGroup(ctx, group); err != nil {
			t.Logf("deleting group %s: %v", group, err)
		}
	})
	// One input partition, so that enrich joins the probe requests in the
	// order they are sent.
	created, err := admin.CreateTopics(ctx, 1, 1, nil, input, output)
	if err == nil {
		err = created.Error()
	}
	if err == nil {
		created, err = admin.CreateTopics(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, devices)
	}
	if err == nil {
		err = created.Error()
	}
	if err != nil {
		t.Fatalf("create the test topics: %v", err)
	}

	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic(input))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	reader, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(output),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	r := &enrichTopicRun{t: t, producer: producer, reader: reader, input: input, devices: devices,
		base: time.Now().Add(-time.Hour).UnixMilli(), mac: "3c:22:fb:12:34:56"}
	r.setDevice(`{"name":"Kitchen tablet","is_guest":false}`)

	run := wifiqCommand(t, ctx, "enrich", "--from", "kafka:"+input, "--to", "kafka:"+output, "--group", group, "--follow",
		"--devices-from", "kafka:"+devices, "--brokers", brokers)
	var stderr lockedBuffer
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	defer func() {
		if run.ProcessState == nil {
			_ = run.Process.Kill()
			<-done
		}
	}()

	// The device topic read at the start joins the first probe request.
	row := r.probe()
	if one(row.DeviceName) != "Kitchen tablet" || one(row.IsKnownDevice) != "true" {
		t.Fatalf("the first probe request joins with device_name %v and is_known_device %v, want Kitchen tablet and true\n%s", row.DeviceName, row.IsKnownDevice, stderr.String())
	}

	// A renamed device that became a guest.
	r.setDevice(`{"name":"Hall tablet","is_guest":true}`)
	renamed := r.next
	renameProbes := r.probeUntil("Hall tablet")
	for range 5 {
		row := r.probe()
		if one(row.DeviceName) != "Hall tablet" || one(row.IsKnownDevice) != "false" {
			t.Errorf("a probe request after the update joins with device_name %v and is_known_device %v, want Hall tablet and false", row.DeviceName, row.IsKnownDevice)
		}
	}

	// A tombstone deletes the device.
	r.setDevice("")
	deleted := r.next
	deleteProbes := r.probeUntil("")
	for range 5 {
		row := r.probe()
		if len(row.DeviceName) != 0 || one(row.IsKnownDevice) != "false" {
			t.Errorf("a probe request after the tombstone joins with device_name %v and is_known_device %v, want none and false", row.DeviceName, row.IsKnownDevice)
		}
	}
	t.Logf("the update reached the joins after %d probe requests, the tombstone after %d", renameProbes, deleteProbes)

	if err := run.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("interrupt wifiq enrich: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("enrich --follow ended with %v after an interrupt, want exit status 0\n%s", err, stderr.String())
	}
	summary := enrichSummary.FindStringSubmatch(stderr.String())
	if summary == nil {
		t.Fatalf("enrich printed no summary line:\n%s", stderr.String())
	}
	if n, _ := strconv.Atoi(summary[4]); n != r.next {
		t.Errorf("enrich reports %s records written, want the %d probe requests sent", summary[4], r.next)
	}

	// The whole output, read again: each probe request once, and the
	// states in order. Device states are numbered 0 (Kitchen tablet), 1
	// (Hall tablet) and 2 (deleted).
	state := map[string]int{"Kitchen tablet": 0, "Hall tablet": 1, "": 2}
	states := make([]int, r.next)
	for i := range states {
		states[i] = -1
	}
	duplicates := 0
	read := splitKillReadCommitted(t, brokers, output, func(rec *kgo.Record) {
		var row enrichedRecord
		if err := json.Unmarshal(rec.Value, &row); err != nil {
			t.Fatalf("enriched record %q: %v", rec.Value, err)
		}
		ts, _ := strconv.ParseInt(row.Timestamp, 10, 64)
		i := int(ts - r.base)
		if i < 0 || i >= r.next {
			t.Fatalf("enriched record %s of no probe request", rec.Value)
		}
		if states[i] >= 0 {
			duplicates++
		}
		s, ok := state[one(row.DeviceName)]
		if !ok {
			t.Fatalf("probe request %d joins with device_name %v, which the device topic never held", i, row.DeviceName)
		}
		states[i] = s
	})
	if read != r.next || duplicates != 0 {
		t.Errorf("the output topic holds %d records (%d duplicates), want the %d probe requests once each", read, duplicates, r.next)
	}
	for i := 1; i < len(states); i++ {
		if states[i] < states[i-1] {
			t.Errorf("probe request %d joins with device state %d after probe request %d joined with the later state %d", i, states[i], i-1, states[i-1])
		}
	}
	if states[renamed-1] != 0 || states[deleted-1] != 1 {
		t.Errorf("the probe requests before the update and before the tombstone have states %d and %d, want 0 and 1", states[renamed-1], states[deleted-1])
	}
}

// TestEnrichGroupToStdoutCommitsOffsets runs enrich --from --group with
// standard output as its destination twice on a kfake cluster: the first
// run must commit the group's offsets once it has written its records, so
// that the second run writes nothing.
func TestEnrichGroupToStdoutCommitsOffsets(t *testing.T) {
	brokers := fakeKafka(t, 2, "probes")
	const n = 20
	var lines strings.Builder
	for i := range n {
		lines.Write(appendEnrichKillProbe(nil, 1_700_000_000_000, i))
	}
	if code, _, stderr := wifiqKafka(t, lines.String(), "produce", "--brokers", brokers, "--topic", "probes"); code != ExitOK {
		t.Fatalf("produce exited %d\n%s", code, stderr)
	}
	args := []string{"enrich", "--brokers", brokers, "--from", "kafka:probes", "--group", "g", "--devices", enrichKillDevices}
	code, stdout, stderr := wifiqKafka(t, "", args...)
	if code != ExitOK {
		t.Fatalf("first enrich run exited %d\n%s", code, stderr)
	}
	if got := strings.Count(stdout, "\n"); got != n {
		t.Fatalf("first enrich run wrote %d records, want %d\n%s", got, n, stderr)
	}

	admin, closeAdmin := newAdmin(t, brokers)
	defer closeAdmin()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	committed, err := committedCount(ctx, admin, "g", "probes")
	if err != nil {
		t.Fatal(err)
	}
	if committed != n {
		t.Errorf("group g committed %d offsets after the first run, want %d", committed, n)
	}
	code, stdout, stderr = wifiqKafka(t, "", args...)
	if code != ExitOK || stdout != "" {
		t.Errorf("second enrich run exited %d and wrote %q, want 0 and nothing: the group read its records again\n%s", code, stdout, stderr)
	}
}

// TestEnrichExactlyOnceFlagErrors checks the flags that do not combine
// with an exactly-once run.
func TestEnrichExactlyOnceFlagErrors(t *testing.T) {
	isolateKafkaEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "kafka:in", "--to", "kafka:out", "--group", "g", "--key", "wlan_sa"}, "--key does not apply with --group"},
		{[]string{"--from", "kafka:in", "--to", "kafka:out", "--group", "g", "--start", "latest"}, "--start does not apply with --group"},
		{[]string{"--from", "kafka:in", "--to", "kafka:out", "--transactional-id", "x"}, "--transactional-id needs"},
	} {
		args := append([]string{"enrich", "--brokers", "127.0.0.1:1", "--devices", enrichKillDevices}, c.args...)
		code, _, stderr := wifiqKafka(t, "", args...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("wifiq %s: exit %d, want %d and an error with %q\n%s", strings.Join(args, " "), code, ExitUsage, c.want, stderr)
		}
	}
}
