package kafka_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/wifiq/wifiq/kafka"
	"github.com/wifiq/wifiq/record"
)

// The tests in this file run against kfake, franz-go's in-process cluster.

// eventTime0 is 2024-05-01T12:00:00Z, the first event time of test records.
const eventTime0 = 1714564800000

func TestRoundTripKeepsLinesAndEventTimes(t *testing.T) {
	_, cfg := newFakeCluster(t, 3, "pcap")
	records := makeRecords(500, eventTime0, 37)

	stats := produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, records)
	if stats.Written != 500 || stats.Acknowledged != 500 || stats.Failed != 0 {
		t.Errorf("stats = %+v, want 500 written and acknowledged", stats)
	}

	msgs := consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"})
	checkSameRecords(t, msgs, records)
}

func TestRoundTripEveryCompression(t *testing.T) {
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			_, cfg := newFakeCluster(t, 1, "pcap")
			cfg.Compression = codec
			records := makeRecords(200, eventTime0, 1000)
			produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, records)
			checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"}), records)
		})
	}
}

func TestRoundRobinUsesEveryPartition(t *testing.T) {
	_, cfg := newFakeCluster(t, 4, "pcap")
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap", Partitioner: kafka.PartitionerRoundRobin}, makeRecords(400, eventTime0, 1))

	perPartition := map[int32]int{}
	for _, m := range consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"}) {
		perPartition[m.Partition]++
	}
	for p := int32(0); p < 4; p++ {
		if perPartition[p] != 100 {
			t.Errorf("partition %d has %d records, want 100 of 400 with round-robin", p, perPartition[p])
		}
	}
}

func TestStickyPartitionerSpreadsLargeRuns(t *testing.T) {
	_, cfg := newFakeCluster(t, 3, "pcap")
	// 10000 records of about 250 bytes are 2.5 MB, dozens of 64 KiB batches.
	records := makeRecords(10000, eventTime0, 1)
	for i := range records {
		records[i].line = records[i].line[:len(records[i].line)-1] + `,"pad":["` + strings.Repeat("x", 180) + `"]}`
	}
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, records)

	perPartition := map[int32]int{}
	for _, m := range consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"}) {
		perPartition[m.Partition]++
	}
	if len(perPartition) != 3 {
		t.Errorf("records went to partitions %v, want all 3", perPartition)
	}
}

func TestKeyedRecordsStayInOnePartition(t *testing.T) {
	_, cfg := newFakeCluster(t, 6, "pcap")
	records := makeRecords(600, eventTime0, 1)
	for i := range records {
		records[i].key = []byte("02:00:00:00:00:" + string(rune('a'+i%20)))
	}
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, records)

	partitionOfKey := map[string]int32{}
	partitions := map[int32]bool{}
	for _, m := range consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"}) {
		key := string(m.Key)
		if p, ok := partitionOfKey[key]; ok && p != m.Partition {
			t.Errorf("key %s is in partitions %d and %d", key, p, m.Partition)
		}
		partitionOfKey[key] = m.Partition
		partitions[m.Partition] = true
	}
	if len(partitionOfKey) != 20 {
		t.Errorf("read %d keys, want 20", len(partitionOfKey))
	}
	if len(partitions) < 2 {
		t.Errorf("20 keys went to %d partition(s), want them spread", len(partitions))
	}
}

func TestBoundedConsumerOnEmptyTopicEnds(t *testing.T) {
	_, cfg := newFakeCluster(t, 3, "empty")
	consumer, err := kafka.NewConsumer(testContext(t), cfg, kafka.ConsumerOptions{Topic: "empty"}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	if _, err := consumer.Next(testContext(t)); !errors.Is(err, io.EOF) {
		t.Errorf("Next on an empty topic = %v, want io.EOF", err)
	}
}

func TestBoundedConsumerIgnoresLaterRecords(t *testing.T) {
	_, cfg := newFakeCluster(t, 2, "pcap")
	first := makeRecords(50, eventTime0, 1)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, first)

	consumer, err := kafka.NewConsumer(testContext(t), cfg, kafka.ConsumerOptions{Topic: "pcap"}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, makeRecords(50, eventTime0+1000, 1))

	checkSameRecords(t, readMessages(t, consumer, -1), first)
}

func TestFollowingConsumerReadsNewRecords(t *testing.T) {
	_, cfg := newFakeCluster(t, 2, "pcap")
	before := makeRecords(10, eventTime0, 1)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, before)

	consumer, err := kafka.NewConsumer(testContext(t), cfg, kafka.ConsumerOptions{Topic: "pcap", Follow: true}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	after := makeRecords(10, eventTime0+1000, 1)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, after)

	checkSameRecords(t, readMessages(t, consumer, 20), append(before, after...))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := consumer.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestConsumerStartPositions(t *testing.T) {
	_, cfg := newFakeCluster(t, 1, "pcap")
	records := makeRecords(10, eventTime0, 1000)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, records)

	tests := []struct {
		from string
		want []testRecord
	}{
		{"earliest", records},
		{"latest", nil},
		{"@1714564805000", records[5:]},
		{"2024-05-01T12:00:04.500Z", records[5:]},
		{"2030-01-01T00:00:00Z", nil},
		{"3", records[3:]},
		{"999", nil},
		{"-2", records[8:]},
		{"-50", records},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			start, err := kafka.ParseStartPosition(tt.from)
			if err != nil {
				t.Fatal(err)
			}
			checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap", Start: start}), tt.want)
		})
	}
}

func TestGroupResumesAfterCommittedOffsets(t *testing.T) {
	_, cfg := newFakeCluster(t, 3, "pcap")
	records := makeRecords(90, eventTime0, 1)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, records)
	opts := kafka.ConsumerOptions{Topic: "pcap", Group: "resume"}

	first, err := kafka.NewConsumer(testContext(t), cfg, opts, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	part1 := readMessages(t, first, 40)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	part2 := consumeAll(t, cfg, opts)
	checkSameRecords(t, append(part1, part2...), records)

	if rest := consumeAll(t, cfg, opts); len(rest) != 0 {
		t.Errorf("a third run read %d messages, want none after everything was committed", len(rest))
	}
}

func TestGroupRereadsUnmarkedMessages(t *testing.T) {
	_, cfg := newFakeCluster(t, 1, "pcap")
	records := makeRecords(10, eventTime0, 1)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, records)
	opts := kafka.ConsumerOptions{Topic: "pcap", Group: "unmarked"}

	consumer, err := kafka.NewConsumer(testContext(t), cfg, opts, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	for i := 0; i < 5; i++ {
		m, err := consumer.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			consumer.MarkProcessed(m)
		}
	}
	if err := consumer.Close(); err != nil {
		t.Fatal(err)
	}

	checkSameRecords(t, consumeAll(t, cfg, opts), records[3:])
}

func TestGroupStartPositionWithoutCommits(t *testing.T) {
	_, cfg := newFakeCluster(t, 1, "pcap")
	records := makeRecords(10, eventTime0, 1000)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, records)

	start, err := kafka.ParseStartPosition("@1714564807000")
	if err != nil {
		t.Fatal(err)
	}
	opts := kafka.ConsumerOptions{Topic: "pcap", Group: "from-time", Start: start}
	checkSameRecords(t, consumeAll(t, cfg, opts), records[7:])
	// The committed offsets decide from now on, not the start position.
	more := makeRecords(3, eventTime0-5000, 1)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, more)
	checkSameRecords(t, consumeAll(t, cfg, opts), more)
}

func TestMissingTopicIsReported(t *testing.T) {
	_, cfg := newFakeCluster(t, 1)
	_, err := kafka.NewProducer(testContext(t), cfg, kafka.ProducerOptions{Topic: "absent"}, testLog(t))
	if !errors.Is(err, kafka.ErrTopicNotFound) || err.Error() != "topic absent does not exist" {
		t.Errorf("NewProducer error = %v, want ErrTopicNotFound naming the topic", err)
	}
	_, err = kafka.NewConsumer(testContext(t), cfg, kafka.ConsumerOptions{Topic: "absent"}, testLog(t))
	if !errors.Is(err, kafka.ErrTopicNotFound) {
		t.Errorf("NewConsumer error = %v, want ErrTopicNotFound", err)
	}
}

func TestProducerCreatesTopic(t *testing.T) {
	cluster, cfg := newFakeCluster(t, 1)
	spec := &kafka.TopicSpec{Partitions: 5, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "-1"}}
	records := makeRecords(20, eventTime0, 1)
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "created", CreateTopic: spec}, records)
	// A second run finds the topic and leaves it as it is.
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "created", CreateTopic: spec}, nil)

	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topics, err := kadm.NewClient(client).ListTopics(testContext(t), "created")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(topics["created"].Partitions); n != 5 {
		t.Errorf("topic has %d partitions, want 5", n)
	}
	checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "created"}), records)
}

func TestOversizedRecordFailsAlone(t *testing.T) {
	_, cfg := newFakeCluster(t, 1, "pcap")
	cfg.BatchMaxBytes = 2000
	producer, err := kafka.NewProducer(testContext(t), cfg, kafka.ProducerOptions{Topic: "pcap"}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	records := makeRecords(3, eventTime0, 1)
	records[1].line = `{"timestamp":"1714564800001","pad":["` + strings.Repeat("x", 5000) + `"]}`
	for _, r := range records {
		if err := producer.WriteKeyed(r.timestamp, nil, []byte(r.line)); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := producer.Close()
	var delivery *kafka.DeliveryError
	if !errors.As(err, &delivery) {
		t.Fatalf("Close error = %v, want a *DeliveryError", err)
	}
	if delivery.Unacknowledged != 1 || delivery.Written != 3 {
		t.Errorf("DeliveryError = %v, want 1 of 3 records unacknowledged", delivery)
	}
	if stats.Acknowledged != 2 || stats.Failed != 1 {
		t.Errorf("stats = %+v, want 2 acknowledged and 1 failed", stats)
	}
	checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"}), []testRecord{records[0], records[2]})
}

func TestSASLAgainstFakeCluster(t *testing.T) {
	for _, mechanism := range []string{kafka.MechanismPlain, kafka.MechanismSCRAMSHA256, kafka.MechanismSCRAMSHA512} {
		t.Run(mechanism, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
				kfake.Superuser(mechanism, "sensor", testPassword), kfake.SeedTopics(1, "pcap"))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			cfg, _, err := kafka.Load(kafka.LoadOptions{Getenv: noEnv, Overrides: []string{
				"bootstrap.servers=" + strings.Join(cluster.ListenAddrs(), ","),
				"security.protocol=SASL_PLAINTEXT",
				"sasl.mechanism=" + mechanism,
				"sasl.username=sensor",
				"sasl.password=" + testPassword,
			}})
			if err != nil {
				t.Fatal(err)
			}
			records := makeRecords(5, eventTime0, 1)
			produceRecords(t, cfg, kafka.ProducerOptions{Topic: "pcap"}, records)
			checkSameRecords(t, consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"}), records)

			cfg.SASLPassword = "wrong"
			_, err = kafka.NewProducer(testContext(t), cfg, kafka.ProducerOptions{Topic: "pcap"}, testLog(t))
			if err == nil {
				t.Fatal("NewProducer with a wrong password succeeded")
			}
			if !strings.Contains(err.Error(), "unable to reach Kafka") {
				t.Errorf("error %q does not say that the connection failed", err)
			}
		})
	}
}

func TestUnreachableBrokerFailsEarly(t *testing.T) {
	cluster, cfg := newFakeCluster(t, 1, "pcap")
	cluster.Close()
	cfg.DialTimeout = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := kafka.NewProducer(ctx, cfg, kafka.ProducerOptions{Topic: "pcap"}, testLog(t))
	if err == nil || !strings.Contains(err.Error(), cfg.Brokers[0]) {
		t.Errorf("NewProducer error = %v, want one naming the broker %s", err, cfg.Brokers[0])
	}
}

func TestRecordReaderSkipsValuesThatAreNotRecords(t *testing.T) {
	_, cfg := newFakeCluster(t, 1, "mixed")
	values := []string{
		`{"timestamp":"1714564800000","wlan_fc_type_subtype":["4"]}`,
		`not json`,
		`{"index":{"_index":"packets-2024-05-01","_type":"doc"}}`,
		`{"timestamp":"1714564800001","wlan_fc_type_subtype":["8"]}`,
		``,
		"{\"timestamp\":\"1714564800002\",\n\"wlan_fc_type_subtype\":[\"5\"]}",
		`{"wlan_fc_type_subtype":["4"]}`,
		`{"timestamp":"1714564800003","layers":{"wlan_fc_type_subtype":["0x0005"]}}`,
	}
	records := make([]testRecord, len(values))
	for i, v := range values {
		records[i] = testRecord{timestamp: eventTime0 + int64(i), line: v}
	}
	cfg.Compression = kafka.CompressionNone
	produceRecords(t, cfg, kafka.ProducerOptions{Topic: "mixed"}, records)

	consumer, err := kafka.NewConsumer(testContext(t), cfg, kafka.ConsumerOptions{Topic: "mixed"}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	reader := kafka.NewRecordReader(consumer)
	ctx := testContext(t)

	var good []int64
	var bad []string
	for {
		rec, msg, err := reader.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		var valueErr *kafka.ValueError
		if errors.As(err, &valueErr) {
			if valueErr.Offset != msg.Offset {
				t.Errorf("ValueError offset %d, message offset %d", valueErr.Offset, msg.Offset)
			}
			bad = append(bad, valueErr.Reason)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Offset != msg.Offset {
			t.Errorf("record offset %d, message offset %d", rec.Offset, msg.Offset)
		}
		good = append(good, rec.Timestamp)
	}
	// The value without "timestamp" takes its message's timestamp.
	wantGood := []int64{1714564800000, 1714564800001, eventTime0 + 6, 1714564800003}
	if len(good) != len(wantGood) {
		t.Fatalf("read records with timestamps %v, want %v", good, wantGood)
	}
	for i := range wantGood {
		if good[i] != wantGood[i] {
			t.Errorf("record %d has timestamp %d, want %d", i, good[i], wantGood[i])
		}
	}
	if len(bad) != 4 {
		t.Fatalf("skipped %d values (%q), want 4", len(bad), bad)
	}
	for i, want := range []string{"invalid record", "index", "empty value", "several lines"} {
		if !strings.Contains(bad[i], want) {
			t.Errorf("reason %d = %q, want it to contain %q", i, bad[i], want)
		}
	}
}

func TestWriteRecordAsRecordSink(t *testing.T) {
	_, cfg := newFakeCluster(t, 3, "pcap")
	producer, err := kafka.NewProducer(testContext(t), cfg, kafka.ProducerOptions{Topic: "pcap", KeyField: "wlan_sa"}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	var sink record.Sink = producer
	lines := []string{
		// An encoder's line ends in a newline and may follow tshark's index line.
		`{"index":{"_index":"packets-2024-05-01","_type":"doc"}}` + "\n" +
			`{"timestamp":"1714564800000","wlan_sa":["02:00:00:00:00:01"]}` + "\n",
		`{"timestamp":"1714564800001","wlan_sa":["02:00:00:00:00:02","02:00:00:00:00:03"]}` + "\n",
		// The field name inside a string value is not the field.
		`{"timestamp":"1714564800002","wlan_ssid":["\"wlan_sa\":[\"x\""]}` + "\n",
		`{"timestamp":"1714564800003","wlan_ssid":["a"],"wlan_sa":["caf\u00e9\\"]}` + "\n",
	}
	for i, line := range lines {
		if err := sink.WriteRecord(eventTime0+int64(i), []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Close(); err != nil {
		t.Fatal(err)
	}

	wantKeys := map[int64]string{
		eventTime0:     "02:00:00:00:00:01",
		eventTime0 + 1: "02:00:00:00:00:02",
		eventTime0 + 2: "",
		eventTime0 + 3: `café\`,
	}
	msgs := consumeAll(t, cfg, kafka.ConsumerOptions{Topic: "pcap"})
	if len(msgs) != len(lines) {
		t.Fatalf("read %d messages, want %d", len(msgs), len(lines))
	}
	for _, m := range msgs {
		if want := wantKeys[m.Timestamp]; string(m.Key) != want {
			t.Errorf("message stamped %d has key %q, want %q", m.Timestamp, m.Key, want)
		}
		if strings.Contains(string(m.Value), "\n") || strings.Contains(string(m.Value), `"index"`) {
			t.Errorf("message stamped %d has value %q, want the record line alone", m.Timestamp, m.Value)
		}
	}
}

func TestProducerGivesUpWhenBrokerIsGone(t *testing.T) {
	cluster, cfg := newFakeCluster(t, 1, "pcap")
	cfg.DeliveryTimeout = 2 * time.Second
	producer, err := kafka.NewProducer(testContext(t), cfg, kafka.ProducerOptions{Topic: "pcap"}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	cluster.Close()
	for _, r := range makeRecords(5, eventTime0, 1) {
		if err := producer.WriteKeyed(r.timestamp, nil, []byte(r.line)); err != nil {
			t.Fatal(err)
		}
	}

	stats, err := producer.Close()
	var delivery *kafka.DeliveryError
	if !errors.As(err, &delivery) {
		t.Fatalf("Close error = %v, want a *DeliveryError", err)
	}
	if stats.Acknowledged != 0 || stats.Unacknowledged() != 5 {
		t.Errorf("stats = %+v, want 5 records unacknowledged", stats)
	}
	if !strings.Contains(err.Error(), "delivery.timeout.ms") {
		t.Errorf("error %q does not name the delivery timeout", err)
	}
	if again, _ := producer.Close(); again != stats {
		t.Errorf("second Close returned %+v, want the first result %+v", again, stats)
	}
	if err := producer.WriteKeyed(eventTime0, nil, []byte("{}")); err == nil {
		t.Error("WriteKeyed after the delivery timeout succeeded, want the timeout error")
	}
}

func TestProducerIdleTimeIsNotAStall(t *testing.T) {
	cluster, cfg := newFakeCluster(t, 1, "pcap")
	cfg.DeliveryTimeout = 3 * time.Second
	producer, err := kafka.NewProducer(testContext(t), cfg, kafka.ProducerOptions{Topic: "pcap"}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	// A live capture may send nothing for longer than the delivery timeout.
	time.Sleep(cfg.DeliveryTimeout + 500*time.Millisecond)
	// Each produce request then waits longer than the watchdog's check
	// interval, so the watchdog looks at records in flight.
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		time.Sleep(1100 * time.Millisecond)
		return nil, nil, false
	})

	records := makeRecords(3, eventTime0, 1)
	for _, r := range records {
		if err := producer.WriteKeyed(r.timestamp, nil, []byte(r.line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := producer.Flush(); err != nil {
		t.Errorf("Flush after an idle time: %v", err)
	}
	stats, err := producer.Close()
	if err != nil {
		t.Errorf("Close after an idle time: %v", err)
	}
	if stats.Acknowledged != 3 {
		t.Errorf("stats = %+v, want 3 acknowledged", stats)
	}
}
