package commands

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceValues writes raw values with the given timestamps to partition 0
// of a topic with a plain franz-go client, bypassing wifiq's checks.
func produceValues(t *testing.T, brokers, topic string, values []string, timestamps []int64) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	records := make([]*kgo.Record, len(values))
	for i, v := range values {
		records[i] = &kgo.Record{Value: []byte(v), Timestamp: time.UnixMilli(timestamps[i])}
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// recordLines returns n record lines with event times one second apart
// from 2024-05-01T12:00:00Z, and their timestamps.
func recordLines(n int) ([]string, []int64) {
	lines := make([]string, n)
	timestamps := make([]int64, n)
	for i := range lines {
		timestamps[i] = 1714564800000 + int64(i)*1000
		lines[i] = `{"timestamp":"` + strconv.FormatInt(timestamps[i], 10) + `","wlan_seq":["` + strconv.Itoa(i) + `"]}`
	}
	return lines, timestamps
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestConsumeEmptyTopicEnds(t *testing.T) {
	brokers := fakeKafka(t, 3, "empty")
	code, stdout, stderr := wifiqKafka(t, "", "consume", "--brokers", brokers, "--topic", "empty")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	if !strings.Contains(stderr, "consumed 0 records from topic empty") {
		t.Errorf("stderr does not report 0 records:\n%s", stderr)
	}
}

func TestConsumeSkipsValuesThatAreNotRecords(t *testing.T) {
	brokers := fakeKafka(t, 1, "mixed")
	values := []string{
		`{"timestamp":"1714564800000","wlan_fc_type_subtype":["4"]}`,
		`garbage`,
		`{"timestamp":"1714564800002","wlan_fc_type_subtype":["8"]}`,
		`{"index":{"_index":"packets-2024-05-01"}}`,
		`{"timestamp":"1714564800004","wlan_fc_type_subtype":["5"]}`,
	}
	produceValues(t, brokers, "mixed", values, []int64{1714564800000, 1714564800001, 1714564800002, 1714564800003, 1714564800004})

	code, stdout, stderr := wifiqKafka(t, "", "consume", "--brokers", brokers, "--topic", "mixed")
	if code != ExitPartial {
		t.Errorf("exit %d, want %d for skipped messages: %s", code, ExitPartial, stderr)
	}
	if want := joinLines([]string{values[0], values[2], values[4]}); stdout != want {
		t.Errorf("stdout = %q, want the three records %q", stdout, want)
	}
	for _, want := range []string{"partition=0 offset=1", "partition=0 offset=3", "2 messages were not records and were skipped", "consumed 3 records"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr)
		}
	}
}

func TestConsumeGroupResumes(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	lines, timestamps := recordLines(10)
	produceValues(t, brokers, "pcap", lines, timestamps)
	args := []string{"consume", "--brokers", brokers, "--topic", "pcap", "--group", "reports"}

	code, first, stderr := wifiqKafka(t, "", append(args, "--limit", "4")...)
	if code != ExitOK {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	code, second, stderr := wifiqKafka(t, "", args...)
	if code != ExitOK {
		t.Fatalf("second run: exit %d: %s", code, stderr)
	}
	code, third, stderr := wifiqKafka(t, "", args...)
	if code != ExitOK {
		t.Fatalf("third run: exit %d: %s", code, stderr)
	}

	if want := joinLines(lines[:4]); first != want {
		t.Errorf("first run wrote %q, want %q", first, want)
	}
	if want := joinLines(lines[4:]); second != want {
		t.Errorf("second run wrote %q, want the rest %q", second, want)
	}
	if third != "" {
		t.Errorf("third run wrote %q, want nothing", third)
	}
}

func TestConsumeFrom(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	lines, timestamps := recordLines(10)
	produceValues(t, brokers, "pcap", lines, timestamps)

	tests := []struct {
		from string
		want []string
	}{
		{"earliest", lines},
		{"latest", nil},
		{"2024-05-01T12:00:06Z", lines[6:]},
		{"@1714564808000", lines[8:]},
		{"5", lines[5:]},
		{"-3", lines[7:]},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			code, stdout, stderr := wifiqKafka(t, "", "consume", "--brokers", brokers, "--topic", "pcap", "--from", tt.from)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if want := joinLines(tt.want); stdout != want {
				t.Errorf("stdout = %q, want %q", stdout, want)
			}
		})
	}
}

func TestConsumeInvalidFlags(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"from", []string{"--topic", "pcap", "--from", "yesterday"}, "earliest, latest, an RFC 3339 time"},
		{"limit", []string{"--topic", "pcap", "--limit", "-1"}, "invalid --limit"},
		{"topic name", []string{"--topic", "bad/name"}, "invalid topic name"},
		{"missing topic", nil, "missing --topic"},
		{"arguments", []string{"--topic", "pcap", "extra"}, "unknown command"},
		{"sasl mechanism", []string{"--topic", "pcap", "-X", "sasl.mechanism=KERBEROS"}, "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := wifiqKafka(t, "", append([]string{"consume", "--brokers", brokers}, tt.args...)...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d: %s", code, ExitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.want)
			}
		})
	}
}

func TestConsumeMissingTopicFails(t *testing.T) {
	brokers := fakeKafka(t, 1)
	code, _, stderr := wifiqKafka(t, "", "consume", "--brokers", brokers, "--topic", "absent")
	if code != ExitFailure || !strings.Contains(stderr, "topic absent does not exist") {
		t.Errorf("exit %d, stderr %q; want %d and topic absent does not exist", code, stderr, ExitFailure)
	}
}

func TestConsumeFollowStopsOnInterrupt(t *testing.T) {
	brokers := fakeKafka(t, 2, "pcap")
	lines, timestamps := recordLines(6)
	produceValues(t, brokers, "pcap", lines[:3], timestamps[:3])

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &kafkaRun{ctx: ctx}
	done := make(chan int, 1)
	go func() {
		done <- r.run(t, "consume", "--brokers", brokers, "--topic", "pcap", "--follow", "--group", "live")
	}()
	waitForOutput(t, &r.stdout, joinLines(lines[:3]))
	produceValues(t, brokers, "pcap", lines[3:], timestamps[3:])
	waitForOutput(t, &r.stdout, joinLines(lines))
	cancel()

	if code := <-done; code != ExitOK {
		t.Errorf("exit %d after an interrupt with --follow, want %d: %s", code, ExitOK, r.stderr.String())
	}
	// The group committed everything written, so a new run reads nothing.
	code, stdout, stderr := wifiqKafka(t, "", "consume", "--brokers", brokers, "--topic", "pcap", "--group", "live")
	if code != ExitOK || stdout != "" {
		t.Errorf("run after the interrupt: exit %d, stdout %q, want nothing left: %s", code, stdout, stderr)
	}
}

// waitForOutput waits until out holds want.
func waitForOutput(t *testing.T, out *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(kafkaTestTimeout)
	for out.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("output is %q, want %q", out.String(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsumeGroupFromLatestRemembersTheEnd checks that a group's first run
// from latest, which reads nothing, still commits where it started, so the
// next run reads the records produced in between.
func TestConsumeGroupFromLatestRemembersTheEnd(t *testing.T) {
	brokers := fakeKafka(t, 2, "pcap")
	lines, times := recordLines(10)
	produceValues(t, brokers, "pcap", lines[:7], times[:7])
	args := []string{"consume", "--brokers", brokers, "--topic", "pcap", "--group", "tail", "--from", "latest"}
	if code, out, stderr := wifiqKafka(t, "", args...); code != ExitOK || out != "" {
		t.Fatalf("first run: exit %d, %d lines\n%s", code, strings.Count(out, "\n"), stderr)
	}
	produceValues(t, brokers, "pcap", lines[7:], times[7:])
	code, out, stderr := wifiqKafka(t, "", args...)
	if code != ExitOK || out != joinLines(lines[7:]) {
		t.Errorf("second run: exit %d\n%s%s\nwant the 3 records produced after the first run", code, out, stderr)
	}
}
