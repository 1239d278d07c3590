package commands

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// enrichFollowMAC is the source address of the follow test's probe
// requests.
const enrichFollowMAC = "02:00:00:00:00:01"

// enrichFollowVendorData is the vendor data of each probe request. The
// records are small, so the test sees each join only because enrich flushes
// its output whenever its input is quiet.
var enrichFollowVendorData = "00:50:f2:04"

// enrichFollowProbeLine returns probe request i: event time base+i
// milliseconds, enrichFollowMAC as its source and enrichFollowVendorData.
func enrichFollowProbeLine(base int64, i int) []byte {
	line := []byte(`{"timestamp":"`)
	line = strconv.AppendInt(line, base+int64(i), 10)
	line = append(line, `","wlan_fc_type_subtype":["4"],"wlan_sa":["`+enrichFollowMAC+`"],"wlan_tag_vendor_data":["`...)
	line = append(line, enrichFollowVendorData...)
	return append(line, `"]}`...)
}

// enrichFollowProbePause is the pause between two probe requests while the
// test waits for a device update to reach the joins. It bounds the load,
// and nothing depends on its length.
const enrichFollowProbePause = 20 * time.Millisecond

// enrichFollowRun is a following wifiq enrich with the topics it reads and
// writes on a kfake cluster.
type enrichFollowRun struct {
	t        *testing.T
	producer *kgo.Client
	reader   *kgo.Client // reads the enriched topic
	base     int64       // event time of probe request 0
	next     int         // number of the next probe request
}

// produce writes one record and waits for its acknowledgement.
func (r *enrichFollowRun) produce(topic, key string, value []byte) {
	r.t.Helper()
	rec := &kgo.Record{Topic: topic, Key: []byte(key), Value: value}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	if err := r.producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		r.t.Fatalf("produce to %s: %v", topic, err)
	}
}

// setDevice writes a device document, or a tombstone when doc is "".
func (r *enrichFollowRun) setDevice(doc string) {
	r.t.Helper()
	var value []byte
	if doc != "" {
		value = []byte(doc)
	}
	r.produce("devices", enrichFollowMAC, value)
}

// probe sends the next probe request and returns the enriched record that
// enrich writes for it.
func (r *enrichFollowRun) probe() map[string]any {
	r.t.Helper()
	i := r.next
	r.next++
	r.produce("probes", "", enrichFollowProbeLine(r.base, i))

	want := strconv.FormatInt(r.base+int64(i), 10)
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	for {
		fetches := r.reader.PollFetches(ctx)
		if ctx.Err() != nil {
			r.t.Fatalf("no enriched record for probe request %d (timestamp %s): %v", i, want, ctx.Err())
		}
		for _, fetchErr := range fetches.Errors() {
			r.t.Fatalf("read the enriched topic: %v", fetchErr.Err)
		}
		var found map[string]any
		fetches.EachRecord(func(rec *kgo.Record) {
			var row map[string]any
			if err := json.Unmarshal(rec.Value, &row); err != nil {
				r.t.Fatalf("enriched record %q: %v", rec.Value, err)
			}
			if row["timestamp"] != want {
				r.t.Fatalf("enriched record with timestamp %v, want %s (the records of earlier probe requests were already read)", row["timestamp"], want)
			}
			found = row
		})
		if found != nil {
			return found
		}
	}
}

// probeUntil sends probe requests until one joins with device name want
// ("" for no match), and returns how many it took.
func (r *enrichFollowRun) probeUntil(want string) int {
	r.t.Helper()
	deadline := time.Now().Add(kafkaTestTimeout)
	for n := 1; ; n++ {
		row := r.probe()
		if first(row, "device_name") == want {
			return n
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after %d probe requests and %v, the joins still give device_name %q, want %q", n, kafkaTestTimeout, first(row, "device_name"), want)
		}
		time.Sleep(enrichFollowProbePause)
	}
}

// TestEnrichFollowAppliesDeviceUpdates runs enrich --from --follow with
// --devices-from, changes the device's name and then deletes it, and
// checks that later probe requests join with the new state and none
// after it with the old one.
func TestEnrichFollowAppliesDeviceUpdates(t *testing.T) {
	brokers := fakeKafka(t, 1, "probes", "devices", "enriched")
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	reader, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("enriched"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	r := &enrichFollowRun{t: t, producer: producer, reader: reader, base: time.Now().Add(-time.Hour).UnixMilli()}
	r.setDevice(`{"name":"Kitchen tablet","is_guest":false}`)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := &kafkaRun{ctx: ctx}
	done := make(chan int, 1)
	go func() {
		done <- run.run(t, "enrich", "--brokers", brokers, "--from", "kafka:probes", "--follow",
			"--devices-from", "kafka:devices", "--to", "kafka:enriched")
	}()

	// The device list read at the start joins the first probe request.
	row := r.probe()
	if got := first(row, "device_name"); got != "Kitchen tablet" {
		t.Fatalf("first probe request joins with device_name %q, want Kitchen tablet\n%s", got, run.stderr.String())
	}
	if got := first(row, "is_known_device"); got != "true" {
		t.Errorf("first probe request has is_known_device %q, want true", got)
	}

	// A renamed device: once a join shows the new name, later ones do too.
	r.setDevice(`{"name":"Hall tablet","is_guest":false}`)
	probes := r.probeUntil("Hall tablet")
	for range 5 {
		if got := first(r.probe(), "device_name"); got != "Hall tablet" {
			t.Errorf("a probe request after the rename showed joins with device_name %q, want Hall tablet", got)
		}
	}

	// A tombstone deletes the device: later joins match nothing.
	r.setDevice("")
	deleteProbes := r.probeUntil("")
	for range 5 {
		row := r.probe()
		if got := first(row, "device_name"); got != "" {
			t.Errorf("a probe request after the tombstone joins with device_name %q, want none", got)
		}
		if got := first(row, "is_known_device"); got != "false" {
			t.Errorf("a probe request after the tombstone has is_known_device %q, want false", got)
		}
	}
	t.Logf("the rename reached the joins after %d probe requests, the tombstone after %d", probes, deleteProbes)

	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("enrich --follow exited %d after an interrupt, want %d\n%s", code, ExitOK, run.stderr.String())
	}
}
