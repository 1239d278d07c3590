package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wifiq/wifiq/record"
)

// RecordSink receives records for one topic; --to kafka:TOPIC writes
// through it. It is a record.Sink that also reports delivery: WriteRecord
// may return before the record is acknowledged, Flush waits for the
// acknowledgements of everything written so far, and Close flushes, closes
// the connections and returns the final counts.
type RecordSink interface {
	record.Sink
	// Close returns an error when a record was not acknowledged.
	Close() (Stats, error)
}

var _ RecordSink = (*Producer)(nil)

// Stats counts the records of a producer. Written minus Acknowledged is the
// number of records whose delivery is not confirmed.
type Stats struct {
	Written      int64 // records handed to the producer
	Acknowledged int64 // records the brokers confirmed
	Failed       int64 // records that failed for good
}

// Unacknowledged returns the records written but not confirmed.
func (s Stats) Unacknowledged() int64 { return s.Written - s.Acknowledged }

// Partitioners for records without a key.
const (
	// PartitionerSticky fills one batch of up to 64 KiB for a partition,
	// then moves on to the partition with the least data waiting (Kafka's
	// KIP-794 "uniform sticky" partitioner). Records still spread evenly over
	// a run, but batches stay large, which keeps compression effective and
	// requests few. Keyed records go to murmur2(key) mod partitions, as in the
	// Java client.
	PartitionerSticky = "sticky"
	// PartitionerRoundRobin sends each record to the next partition. Batches
	// are smaller, and keys are ignored.
	PartitionerRoundRobin = "round-robin"
)

// ProducerOptions are the settings of one producer beyond its Config.
type ProducerOptions struct {
	Topic string
	// Partitioner is PartitionerSticky (the default when empty) or
	// PartitionerRoundRobin.
	Partitioner string
	// KeyField names the record field whose first value keys the records
	// that WriteRecord sends; empty sends them without a key. WriteKeyed
	// takes its key from the caller instead.
	KeyField string
	// CreateTopic creates the topic first when it does not exist; nil means
	// the topic must exist (or the broker must create it, see
	// Config.AllowAutoTopicCreation).
	CreateTopic *TopicSpec
}

// maxLoggedFailures bounds the failed records logged one by one.
const maxLoggedFailures = 10

// Producer writes record lines to a topic. The value of each Kafka record is
// the line and its timestamp is the event time. Writes are idempotent unless
// acks or enable.idempotence turn that off, so a retried request does not
// duplicate records. It is safe for use by one goroutine at a time.
type Producer struct {
	client          *kgo.Client
	topic           string
	keyPattern      []byte // `"FIELD":["` for KeyField, or nil
	log             *slog.Logger
	deliveryTimeout time.Duration

	// produceCtx is the context of every record. It is not the caller's
	// context, so an interrupted run still flushes what it has written, and
	// only the delivery watchdog cancels it.
	produceCtx    context.Context
	cancelProduce context.CancelFunc
	stopWatchdog  chan struct{}
	watchdogDone  chan struct{}

	closeOnce  sync.Once
	closeStats Stats
	closeErr   error

	// byteBlock and recordBlock are the unused rest of the blocks that
	// WriteKeyed copies records into.
	byteBlock   []byte
	recordBlock []kgo.Record

	written, acknowledged, failed atomic.Int64
	// lastProgress is when a record was last acknowledged or failed, or
	// when the watchdog last saw no record waiting, in nanoseconds since
	// the Unix epoch.
	lastProgress atomic.Int64

	mu sync.Mutex
	// firstErr is the first delivery error. stopErr is the first error that
	// fails every later record too, unlike an error of a single record such
	// as a record too large for the topic.
	firstErr, stopErr error
}

// NewProducer connects to the cluster, creates the topic if asked, checks
// that the topic exists and returns a producer for it. log receives the
// client library's messages and failed deliveries; nil discards them.
func NewProducer(ctx context.Context, cfg *Config, opts ProducerOptions, log *slog.Logger) (*Producer, error) {
	if err := ValidateTopic(opts.Topic); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	producerOpts, err := producerOptions(cfg, opts)
	if err != nil {
		return nil, err
	}
	client, err := cfg.NewClient(log, producerOpts...)
	if err != nil {
		return nil, err
	}
	if err := prepareTopic(ctx, client, cfg, opts, log); err != nil {
		client.Close()
		return nil, err
	}

	p := &Producer{
		client:          client,
		topic:           opts.Topic,
		log:             log,
		keyPattern:      keyPattern(opts.KeyField),
		deliveryTimeout: cfg.DeliveryTimeout,
		stopWatchdog:    make(chan struct{}),
		watchdogDone:    make(chan struct{}),
	}
	p.produceCtx, p.cancelProduce = context.WithCancel(context.WithoutCancel(ctx))
	p.lastProgress.Store(time.Now().UnixNano())
	go p.watchDelivery()
	return p, nil
}

func producerOptions(cfg *Config, opts ProducerOptions) ([]kgo.Opt, error) {
	codec := cfg.Compression
	if codec == "" {
		codec = DefaultCompression
	}
	compression, err := compressionCodec(codec)
	if err != nil {
		return nil, err
	}
	result := []kgo.Opt{
		kgo.DefaultProduceTopic(opts.Topic),
		kgo.ProducerBatchCompression(compression),
	}

	switch opts.Partitioner {
	case "", PartitionerSticky:
		result = append(result, kgo.RecordPartitioner(kgo.UniformBytesPartitioner(64<<10, true, true, nil)))
	case PartitionerRoundRobin:
		result = append(result, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	default:
		return nil, fmt.Errorf("invalid partitioner %q: want %s or %s", opts.Partitioner, PartitionerSticky, PartitionerRoundRobin)
	}

	if cfg.IdempotentWrites() {
		if cfg.Acks != -1 {
			return nil, fmt.Errorf("enable.idempotence=true needs acks=all, but acks is %d", cfg.Acks)
		}
	} else {
		result = append(result, kgo.DisableIdempotentWrite())
		switch cfg.Acks {
		case 0:
			result = append(result, kgo.RequiredAcks(kgo.NoAck()))
		case 1:
			result = append(result, kgo.RequiredAcks(kgo.LeaderAck()))
		}
	}

	if cfg.Linger > 0 {
		result = append(result, kgo.ProducerLinger(cfg.Linger))
	}
	if cfg.BatchMaxBytes > 0 {
		result = append(result, kgo.ProducerBatchMaxBytes(cfg.BatchMaxBytes))
	}
	// NOTE: franz-go's RecordDeliveryTimeout counts from each record's
	// timestamp, which is the event time here, so replayed captures would
	// time out at once. watchDelivery enforces the delivery timeout instead.
	if cfg.RecordRetries > 0 {
		result = append(result, kgo.RecordRetries(cfg.RecordRetries))
	}
	return result, nil
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case CompressionNone:
		return kgo.NoCompression(), nil
	case CompressionGzip:
		return kgo.GzipCompression(), nil
	case CompressionSnappy:
		return kgo.SnappyCompression(), nil
	case CompressionLZ4:
		return kgo.Lz4Compression(), nil
	case CompressionZstd:
		return kgo.ZstdCompression(), nil
	}
	_, err := ParseCompression(name)
	return kgo.CompressionCodec{}, err
}

// prepareTopic checks the connection, then creates the topic or checks that
// it exists, so that a wrong address, password or topic fails before the
// first record instead of once per record.
func prepareTopic(ctx context.Context, client *kgo.Client, cfg *Config, opts ProducerOptions, log *slog.Logger) error {
	if err := Ping(ctx, client, cfg); err != nil {
		return err
	}
	if opts.CreateTopic != nil {
		created, err := CreateTopic(ctx, client, opts.Topic, *opts.CreateTopic)
		if err != nil {
			return err
		}
		if created {
			log.Info("created topic", "topic", opts.Topic, "partitions", opts.CreateTopic.Partitions, "replication_factor", opts.CreateTopic.ReplicationFactor)
		} else {
			log.Info("topic exists already; its settings are unchanged", "topic", opts.Topic)
		}
		return nil
	}
	if cfg.AllowAutoTopicCreation {
		return nil
	}
	_, err := partitionsOf(ctx, client, opts.Topic)
	return err
}

// WriteRecord implements record.Sink: it sends one record line with its
// event time in milliseconds since the Unix epoch, keyed by
// ProducerOptions.KeyField if that is set. A trailing newline and any
// tshark {"index":...} line before the record are dropped. The producer
// copies line.
func (p *Producer) WriteRecord(timestampMs int64, line []byte) error {
	line = lastLine(line)
	var key []byte
	if p.keyPattern != nil {
		key = recordKey(line, p.keyPattern)
	}
	return p.WriteKeyed(timestampMs, key, line)
}

// WriteKeyed sends one record line, without its newline, with its event
// time and a key; a nil key spreads records over the partitions. It copies
// key and line. It blocks while the producer buffers its maximum of
// records, and returns an error once a failure has happened that every
// later record would share (an unknown topic, a denied authorization, or
// brokers that stopped responding for the delivery timeout).
func (p *Producer) WriteKeyed(timestampMs int64, key, line []byte) error {
	if err := p.stopError(); err != nil {
		return err
	}
	// franz-go keeps key, value and record until the record is
	// acknowledged, while the caller reuses its buffers, so they are copied
	// into blocks shared by many records: fewer allocations, and a block is
	// freed once all of its records are acknowledged.
	buf := p.alloc(len(key) + len(line))
	copy(buf, key)
	copy(buf[len(key):], line)
	if len(p.recordBlock) == 0 {
		p.recordBlock = make([]kgo.Record, recordBlockSize)
	}
	r := &p.recordBlock[0]
	p.recordBlock = p.recordBlock[1:]
	r.Value = buf[len(key):]
	r.Timestamp = time.UnixMilli(timestampMs)
	if key != nil {
		r.Key = buf[:len(key):len(key)]
	}
	p.written.Add(1)
	p.client.Produce(p.produceCtx, r, p.promise)
	return nil
}

// Sizes of the blocks that WriteKeyed copies records into.
const (
	byteBlockSize   = 256 * 1024
	recordBlockSize = 512
)

// alloc returns n bytes from the current byte block, starting a new block
// when it is full. Larger requests get their own allocation.
func (p *Producer) alloc(n int) []byte {
	if n > byteBlockSize/4 {
		return make([]byte, n)
	}
	if len(p.byteBlock) < n {
		p.byteBlock = make([]byte, byteBlockSize)
	}
	b := p.byteBlock[:n:n]
	p.byteBlock = p.byteBlock[n:]
	return b
}

func (p *Producer) promise(r *kgo.Record, err error) {
	p.lastProgress.Store(time.Now().UnixNano())
	if err == nil {
		p.acknowledged.Add(1)
		return
	}
	n := p.failed.Add(1)
	p.mu.Lock()
	if p.firstErr == nil {
		p.firstErr = err
	}
	if p.stopErr == nil && !recordSpecific(err) {
		p.stopErr = err
	}
	p.mu.Unlock()

	switch {
	case n <= maxLoggedFailures:
		p.log.Warn("record not acknowledged", "topic", p.topic, "partition", r.Partition, "timestamp", r.Timestamp.UnixMilli(), "err", err)
	case n == maxLoggedFailures+1:
		p.log.Warn("more records not acknowledged; only the count is reported from now on", "topic", p.topic)
	}
}

// recordSpecific reports whether err concerns one record only, so that the
// records after it may still succeed.
func recordSpecific(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) ||
		errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) ||
		errors.Is(err, kerr.CorruptMessage) ||
		errors.Is(err, kerr.InvalidTimestamp)
}

// watchdogInterval is how often watchDelivery checks for progress.
const watchdogInterval = time.Second

// watchDelivery fails the buffered records, as Java's delivery.timeout.ms
// does, when records are waiting and none was acknowledged or failed for
// the delivery timeout. That ends a run against brokers that went away
// instead of blocking it forever. Records already sent in an idempotent
// request are not failed until their request ends (franz-go keeps them to
// avoid duplicates), so the wait can be longer than the timeout.
func (p *Producer) watchDelivery() {
	defer close(p.watchdogDone)
	if p.deliveryTimeout <= 0 {
		<-p.stopWatchdog
		return
	}
	ticker := time.NewTicker(watchdogInterval)
	defer ticker.Stop()
	for {
		select {
		case <-p.stopWatchdog:
			return
		case <-ticker.C:
		}
		stats := p.Stats()
		waiting := stats.Written - stats.Acknowledged - stats.Failed
		if waiting == 0 {
			// An idle producer is not stalled: the wait of the next record
			// starts now, not at the last acknowledgement.
			p.lastProgress.Store(time.Now().UnixNano())
			continue
		}
		if time.Since(time.Unix(0, p.lastProgress.Load())) < p.deliveryTimeout {
			continue
		}
		timeout := fmt.Errorf("no record acknowledged for %v (delivery.timeout.ms) with %d records waiting", p.deliveryTimeout, waiting)
		p.mu.Lock()
		if p.stopErr == nil {
			p.stopErr = timeout
		}
		if p.firstErr == nil {
			p.firstErr = timeout
		}
		p.mu.Unlock()
		p.log.Warn("giving up on buffered records", "topic", p.topic, "waiting", waiting, "err", timeout)
		p.cancelProduce()
		return
	}
}

func (p *Producer) stopError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopErr == nil {
		return nil
	}
	return fmt.Errorf("unable to produce to topic %s: %w", p.topic, p.stopErr)
}

// Stats returns the counts so far; it is safe to call from any goroutine.
func (p *Producer) Stats() Stats {
	// Acknowledged and failed are read before written, so that a record
	// acknowledged in between is never counted as acknowledged but not
	// written.
	acknowledged, failed := p.acknowledged.Load(), p.failed.Load()
	return Stats{Written: p.written.Load(), Acknowledged: acknowledged, Failed: failed}
}

// Flush implements record.Sink: it waits until every record written so far
// is acknowledged or failed, which takes a round trip to the brokers, so
// call it at checkpoints rather than after each record. It returns the
// first delivery error, if any.
func (p *Producer) Flush() error {
	if err := p.client.Flush(context.Background()); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.firstErr != nil {
		return fmt.Errorf("unable to produce to topic %s: %w", p.topic, p.firstErr)
	}
	return nil
}

// DeliveryError reports records that a producer could not deliver.
type DeliveryError struct {
	Topic          string
	Unacknowledged int64
	Written        int64
	First          error // the first delivery error, if any record failed
}

func (e *DeliveryError) Error() string {
	msg := fmt.Sprintf("%d of %d records were not acknowledged by topic %s", e.Unacknowledged, e.Written, e.Topic)
	if e.First != nil {
		msg += "; first error: " + e.First.Error()
	}
	return msg
}

func (e *DeliveryError) Unwrap() error { return e.First }

// Close implements RecordSink: it flushes and closes the client. The flush
// ends when every record is acknowledged or failed; the delivery watchdog
// fails records when the brokers stop responding. The error is a
// *DeliveryError when a record was not acknowledged. Later calls return
// the result of the first.
func (p *Producer) Close() (Stats, error) {
	p.closeOnce.Do(func() { p.closeStats, p.closeErr = p.close() })
	return p.closeStats, p.closeErr
}

func (p *Producer) close() (Stats, error) {
	flushErr := p.client.Flush(context.Background())
	close(p.stopWatchdog)
	<-p.watchdogDone
	p.cancelProduce()
	p.client.Close()

	stats := p.Stats()
	if stats.Unacknowledged() == 0 {
		return stats, nil
	}
	p.mu.Lock()
	first := p.firstErr
	p.mu.Unlock()
	if first == nil {
		first = flushErr
	}
	return stats, &DeliveryError{Topic: p.topic, Unacknowledged: stats.Unacknowledged(), Written: stats.Written, First: first}
}
