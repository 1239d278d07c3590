package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RecordSink receives records for one topic; --to kafka:TOPIC writes
// through it. WriteRecord may return before the record is acknowledged, and
// Close waits for every acknowledgement.
type RecordSink interface {
	// WriteRecord sends one record line (without its newline) with its event
	// time in milliseconds since the Unix epoch. A nil key spreads records
	// over the partitions. The sink copies line and key.
	WriteRecord(timestampMs int64, key, line []byte) error
	// Close flushes the records written so far, waits for their
	// acknowledgements and returns the final counts. The error is non-nil
	// when a record was not acknowledged.
	Close() (Stats, error)
}

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
	// CreateTopic creates the topic first when it does not exist; nil means
	// the topic must exist (or the broker must create it, see
	// Config.AllowAutoTopicCreation).
	CreateTopic *TopicSpec
}

// maxLoggedFailures bounds the failed records logged one by one.
const maxLoggedFailures = 10

// Producer writes record lines to a topic. The value of each Kafka record is
// the line and its timestamp is the event time. Writes are idempotent unless
// acks or enable.idempotence say otherwise, so a retried request does not
// duplicate records. It is safe for use by one goroutine at a time.
type Producer struct {
	client       *kgo.Client
	topic        string
	log          *slog.Logger
	produceCtx   context.Context
	flushTimeout time.Duration

	written, acknowledged, failed atomic.Int64

	mu sync.Mutex
	// firstErr is the first delivery error; stopErr is set by the first
	// error that will fail every later record too (not one that belongs to
	// a single record, such as a record too large for the topic).
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

	flushTimeout := time.Duration(0)
	if cfg.DeliveryTimeout > 0 {
		// Records fail after the delivery timeout; the margin covers a
		// request that was in flight when the timeout passed.
		flushTimeout = cfg.DeliveryTimeout + 30*time.Second
	}
	return &Producer{
		client: client,
		topic:  opts.Topic,
		log:    log,
		// Records are not tied to the caller's context: an interrupted run
		// still flushes what it has written.
		produceCtx:   context.WithoutCancel(ctx),
		flushTimeout: flushTimeout,
	}, nil
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
	if cfg.DeliveryTimeout > 0 {
		result = append(result, kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout))
	}
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
	_, err := partitionsOf(ctx, kadm.NewClient(client), opts.Topic)
	if errors.Is(err, ErrTopicNotFound) {
		return fmt.Errorf("%w: create it with --create-topic, or allow the broker to create it with -X allow.auto.create.topics=true", err)
	}
	return err
}

// WriteRecord implements RecordSink. It blocks while the producer buffers
// its maximum of records, and returns an error once a failure has happened
// that every later record would share (an unknown topic, a denied
// authorization, a broken connection that outlasted the delivery timeout).
func (p *Producer) WriteRecord(timestampMs int64, key, line []byte) error {
	if err := p.stopError(); err != nil {
		return err
	}
	// One allocation holds both copies; franz-go keeps them until the
	// record is acknowledged, while the caller reuses its buffers.
	buf := make([]byte, len(key)+len(line))
	copy(buf, key)
	copy(buf[len(key):], line)
	r := &kgo.Record{
		Value:     buf[len(key):],
		Timestamp: time.UnixMilli(timestampMs),
	}
	if key != nil {
		r.Key = buf[:len(key):len(key)]
	}
	p.written.Add(1)
	p.client.Produce(p.produceCtx, r, p.promise)
	return nil
}

func (p *Producer) promise(r *kgo.Record, err error) {
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

// Flush waits until every record written so far is acknowledged or failed.
func (p *Producer) Flush(ctx context.Context) error {
	return p.client.Flush(ctx)
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

// Close implements RecordSink: it flushes, waiting at most the delivery
// timeout plus 30 seconds, and closes the client. The error is a
// *DeliveryError when a record was not acknowledged.
func (p *Producer) Close() (Stats, error) {
	ctx := context.Background()
	if p.flushTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.flushTimeout)
		defer cancel()
	}
	flushErr := p.client.Flush(ctx)
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
