package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumerOptions are the settings of one consumer beyond its Config.
type ConsumerOptions struct {
	Topic string
	// Start picks the first offset in each partition. Unset means
	// Config.AutoOffsetReset: earliest unless auto.offset.reset sets
	// latest. With a group it applies only to partitions without a
	// committed offset.
	Start StartPosition
	// Follow keeps reading new records forever. Without it the consumer
	// stops at the end offsets that each partition had when it started.
	Follow bool
	// Group is the consumer group; empty means Config.GroupID, and both
	// empty means no group: offsets are not committed.
	Group string
	// StartOffsets, when set, are the first offsets to read by partition,
	// such as those a checkpoint saved; they override Start for the
	// partitions they list and are clamped to each partition's range. They
	// need a consumer without a group, because a group has offsets of its
	// own.
	StartOffsets map[int32]int64
}

// Message is one Kafka record of the topic.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64 // milliseconds since the Unix epoch
	Key       []byte
	Value     []byte

	record *kgo.Record
}

// pollInterval bounds one wait for records in bounded mode, after which the
// consumer checks again whether every partition has reached its end.
const pollInterval = 500 * time.Millisecond

// commitTimeout bounds the final commit of a group consumer.
const commitTimeout = 10 * time.Second

// Consumer reads a topic's messages in offset order per partition.
//
// Bounded (the default): it reads every partition up to the end offset it
// had at the start, then Next returns io.EOF. Records produced after the
// start are left for the next run, and a topic with nothing to read ends at
// once.
//
// Isolation (isolation.level, read_committed unless set): with
// read_committed it skips the records of aborted transactions, reads only
// up to the last stable offset, and a bounded run's end offsets and the
// "latest" start position are last stable offsets too. So records of a
// transaction that is open at the start are left for the next run. With
// read_uncommitted it returns every record up to the high watermark.
//
// Follow: it reads until the context is cancelled. Without a group it reads
// the partitions that existed at the start; a group member also gets
// partitions added later.
//
// Group: offsets are committed only for messages passed to MarkProcessed,
// every 5 seconds (auto.commit.interval.ms) and at Close, so a restarted
// consumer resumes after the last message it finished and skips none. A
// message that was written out but not yet committed when the process died
// is read again.
//
// A Consumer is for one goroutine at a time.
type Consumer struct {
	// client fetches the records. With a group it is groupClient, else
	// adminClient, which also serves the offset listings.
	client      *kgo.Client
	adminClient *kgo.Client
	groupClient *kgo.Client
	admin       *kadm.Client
	topic       string
	group       string
	start       StartPosition
	offsets     map[int32]int64 // ConsumerOptions.StartOffsets
	log         *slog.Logger
	bounds      *bounds // nil when following
	// backlogged are the partitions that had records to read when a
	// consumer without a group started.
	backlogged []int32
	// readCommitted is isolation.level=read_committed.
	readCommitted bool

	fetched []*kgo.Record
	next    int

	// startsToCommit are the start positions of a group's partitions that
	// had no committed offset and whose messages were not marked. Close
	// commits them, so a run from latest that reads nothing still records
	// where it started.
	startsMu       sync.Mutex
	startsToCommit map[int32]int64
}

// NewConsumer connects, checks that the topic exists, works out the start
// and end offsets and, with a group, starts joining it, unless a bounded
// run finds nothing left to read. log receives the client library's
// messages; nil discards them.
func NewConsumer(ctx context.Context, cfg *Config, opts ConsumerOptions, log *slog.Logger) (*Consumer, error) {
	if err := ValidateTopic(opts.Topic); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Consumer{topic: opts.Topic, group: opts.Group, start: opts.Start, offsets: opts.StartOffsets, log: log, readCommitted: cfg.ReadCommitted()}
	if c.group == "" {
		c.group = cfg.GroupID
	}
	if c.group != "" && len(c.offsets) > 0 {
		return nil, fmt.Errorf("start offsets by partition need a consumer without a group, but group %q is set", c.group)
	}
	if c.start.Kind == PositionUnset {
		c.start = StartPosition{Kind: PositionEarliest}
		if cfg.AutoOffsetReset == "latest" {
			c.start = StartPosition{Kind: PositionLatest}
		}
	}
	if !opts.Follow {
		c.bounds = newBounds(c.group != "")
	}

	consumeOpts := c.consumeOptions(cfg)
	client, err := cfg.NewClient(log, consumeOpts...)
	if err != nil {
		return nil, err
	}
	c.client, c.adminClient, c.admin = client, client, kadm.NewClient(client)
	if err := c.prepare(ctx, cfg); err != nil {
		client.Close()
		return nil, err
	}

	// The group client starts joining as soon as it exists and calls
	// adjustStarts, which needs the admin client, so it comes last.
	if c.group != "" && !c.bounds.done() {
		groupClient, err := cfg.NewClient(log, append(consumeOpts, c.groupOptions(cfg)...)...)
		if err != nil {
			client.Close()
			return nil, err
		}
		c.client, c.groupClient = groupClient, groupClient
	}
	return c, nil
}

// consumeOptions are the fetch settings of every consumer.
func (c *Consumer) consumeOptions(cfg *Config) []kgo.Opt {
	opts := []kgo.Opt{
		// Control records (transaction markers) take offsets too. Keeping
		// them lets a bounded consumer see that it passed the end offset.
		kgo.KeepControlRecords(),
		// After data loss, reading again from the log start repeats
		// records, which is better than skipping some.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if c.readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if cfg.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(cfg.FetchMaxBytes))
	}
	if cfg.FetchMaxPartitionBytes > 0 {
		opts = append(opts, kgo.FetchMaxPartitionBytes(cfg.FetchMaxPartitionBytes))
	}
	switch {
	case cfg.FetchMaxWait > 0:
		opts = append(opts, kgo.FetchMaxWait(cfg.FetchMaxWait))
	case c.bounds != nil:
		// A fetch that includes partitions already at their end waits this
		// long for new data before it returns, which delays a bounded run
		// (franz-go's default is 5 s; Java's fetch.max.wait.ms is 500 ms).
		opts = append(opts, kgo.FetchMaxWait(pollInterval))
	}
	return opts
}

// groupOptions make a client a member of the consumer group.
func (c *Consumer) groupOptions(cfg *Config) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(c.group),
		kgo.ConsumeTopics(c.topic),
		// A partition without a committed offset starts "at the start" here,
		// which adjustStarts recognises and replaces with the start position.
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.AutoCommitMarks(),
		kgo.OnPartitionsAssigned(c.onAssigned),
		kgo.AdjustFetchOffsetsFn(c.adjustStarts),
		kgo.OnPartitionsRevoked(c.onRevoked),
		kgo.OnPartitionsLost(c.onLost),
	}
	if cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(cfg.SessionTimeout))
	}
	if cfg.HeartbeatInterval > 0 {
		opts = append(opts, kgo.HeartbeatInterval(cfg.HeartbeatInterval))
	}
	if cfg.AutoCommitInterval > 0 {
		opts = append(opts, kgo.AutoCommitInterval(cfg.AutoCommitInterval))
	}
	return opts
}

// prepare checks the connection and the topic, records the end offsets of a
// bounded run and, without a group, assigns the partitions at their start
// offsets.
func (c *Consumer) prepare(ctx context.Context, cfg *Config) error {
	if err := Ping(ctx, c.client, cfg); err != nil {
		return err
	}
	partitions, err := partitionsOf(ctx, c.adminClient, c.topic)
	if err != nil {
		return err
	}

	var ends map[int32]int64
	if c.bounds != nil || c.group == "" {
		if ends, err = c.endOffsets(ctx); err != nil {
			return err
		}
	}
	if c.bounds != nil {
		c.bounds.setEnds(ends)
	}

	if c.group != "" {
		return c.checkGroupProgress(ctx)
	}

	starts, err := c.resolveStart(ctx)
	if err != nil {
		return err
	}
	if len(c.offsets) > 0 {
		if starts, err = clampOffsets(ctx, c.admin, c.topic, starts, c.offsets); err != nil {
			return err
		}
	}
	assign := make(map[int32]kgo.Offset, len(partitions))
	for _, partition := range partitions {
		start := starts[partition]
		if start < ends[partition] {
			c.backlogged = append(c.backlogged, partition)
		}
		if c.bounds != nil {
			c.bounds.setPosition(partition, start)
			if !c.bounds.partitionDone(partition) {
				assign[partition] = kgo.NewOffset().At(start)
			}
			continue
		}
		assign[partition] = kgo.NewOffset().At(start)
	}
	c.bounds.assignAll(partitions)
	if len(assign) > 0 {
		c.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: assign})
	}
	c.log.Debug("consuming", "topic", c.topic, "start", c.start.String(), "partitions", len(partitions), "reading", len(assign))
	return nil
}

// Backlogged returns the partitions that had records to read when the
// consumer started, for a consumer without a group; nil with a group.
func (c *Consumer) Backlogged() []int32 { return c.backlogged }

// endOffsets returns the offset after the last record that this consumer
// can read in each partition: the last stable offset with read_committed,
// else the high watermark.
func (c *Consumer) endOffsets(ctx context.Context) (map[int32]int64, error) {
	if c.readCommitted {
		return listOffsets(c.admin.ListCommittedOffsets(ctx, c.topic))
	}
	return listOffsets(c.admin.ListEndOffsets(ctx, c.topic))
}

// resolveStart returns the start offset of each partition. With
// read_committed the latest position is the last stable offset, as Java
// and librdkafka consumers resolve it, so that the records of a
// transaction that commits later are not skipped.
func (c *Consumer) resolveStart(ctx context.Context) (map[int32]int64, error) {
	if c.readCommitted && c.start.Kind == PositionLatest {
		return c.endOffsets(ctx)
	}
	return c.start.resolve(ctx, c.admin, c.topic)
}

// checkGroupProgress lets a bounded group consumer with nothing left to
// read finish without joining the group: every partition's committed
// offset, or its start position where there is none, is at its end.
func (c *Consumer) checkGroupProgress(ctx context.Context) error {
	if c.bounds == nil {
		return nil
	}
	committed, err := c.admin.FetchOffsetsForTopics(ctx, c.group, c.topic)
	if errors.Is(err, kerr.GroupIDNotFound) {
		// A group that never committed has no offsets. Kafka returns
		// offsets of -1 for it, and kfake returns this error.
		committed, err = nil, nil
	}
	if err != nil {
		// Joining finds out too, with retries: a new cluster may still be
		// creating its offsets topic, and the coordinator is then not
		// available for a few seconds.
		c.log.Info("unable to fetch committed offsets before joining the group; the member finds them on joining", "group", c.group, "err", err)
		return nil
	}
	var starts map[int32]int64
	for partition, end := range c.bounds.ends() {
		offset, ok := committed.Lookup(c.topic, partition)
		if ok && offset.Err == nil && offset.At >= 0 {
			if offset.At < end {
				return nil
			}
			continue
		}
		if starts == nil {
			if starts, err = c.resolveStart(ctx); err != nil {
				return err
			}
		}
		if starts[partition] < end {
			return nil
		}
		c.noteStart(partition, starts[partition])
	}
	c.bounds.finishEarly()
	return nil
}

// noteStart records the start of a partition without a committed offset.
func (c *Consumer) noteStart(partition int32, offset int64) {
	c.startsMu.Lock()
	defer c.startsMu.Unlock()
	if c.startsToCommit == nil {
		c.startsToCommit = map[int32]int64{}
	}
	c.startsToCommit[partition] = offset
}

func (c *Consumer) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	c.bounds.assign(assigned[c.topic])
	c.log.Info("partitions assigned", "topic", c.topic, "group", c.group, "partitions", assigned[c.topic])
}

// adjustStarts replaces the start offset of partitions without a committed
// offset by the consumer's start position, and records every partition's
// first offset for the end check.
func (c *Consumer) adjustStarts(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	var starts map[int32]int64
	for partition, offset := range offsets[c.topic] {
		at := offset.EpochOffset().Offset
		if at < 0 {
			if starts == nil {
				var err error
				if starts, err = c.resolveStart(ctx); err != nil {
					return nil, err
				}
			}
			at = starts[partition]
			offsets[c.topic][partition] = kgo.NewOffset().At(at)
			c.noteStart(partition, at)
		}
		c.bounds.setPosition(partition, at)
	}
	return offsets, nil
}

func (c *Consumer) onRevoked(ctx context.Context, client *kgo.Client, revoked map[string][]int32) {
	// Replacing franz-go's default callback means committing here, as the
	// default does, before another member takes the partitions over.
	if err := client.CommitMarkedOffsets(ctx); err != nil {
		c.log.Warn("unable to commit offsets before giving up partitions; their new owner reads the uncommitted messages again",
			"topic", c.topic, "group", c.group, "partitions", revoked[c.topic], "err", err)
	}
	c.bounds.unassign(revoked[c.topic])
	// Another member owns these now; its commits must not be overwritten.
	c.startsMu.Lock()
	for _, partition := range revoked[c.topic] {
		delete(c.startsToCommit, partition)
	}
	c.startsMu.Unlock()
}

func (c *Consumer) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.log.Warn("partitions lost from the group without a commit; their new owner reads the uncommitted messages again",
		"topic", c.topic, "group", c.group, "partitions", lost[c.topic])
	c.bounds.unassign(lost[c.topic])
}

// Next returns the next message. It returns io.EOF when a bounded consumer
// has read every partition to its end offset, and the context's error when
// ctx is cancelled.
func (c *Consumer) Next(ctx context.Context) (Message, error) {
	for {
		for c.next < len(c.fetched) {
			r := c.fetched[c.next]
			c.fetched[c.next] = nil
			c.next++
			if c.bounds != nil && !c.bounds.accept(r.Partition, r.Offset) {
				continue
			}
			if r.Attrs.IsControl() {
				continue
			}
			return Message{
				Topic:     r.Topic,
				Partition: r.Partition,
				Offset:    r.Offset,
				Timestamp: r.Timestamp.UnixMilli(),
				Key:       r.Key,
				Value:     r.Value,
				record:    r,
			}, nil
		}
		if c.bounds != nil && c.bounds.done() {
			return Message{}, io.EOF
		}
		if err := c.poll(ctx); err != nil {
			return Message{}, err
		}
	}
}

// Buffered returns the number of fetched records that Next returns without
// waiting. A caller that batches its output can flush when it reaches 0.
func (c *Consumer) Buffered() int { return len(c.fetched) - c.next }

func (c *Consumer) poll(ctx context.Context) error {
	pollCtx := ctx
	if c.bounds != nil {
		var cancel context.CancelFunc
		pollCtx, cancel = context.WithTimeout(ctx, pollInterval)
		defer cancel()
	}
	fetches := c.client.PollFetches(pollCtx)
	// Records fetched as ctx ended are returned, not dropped: the client
	// has moved past them, so the next poll would not return them again.
	if err := ctx.Err(); err != nil && fetches.NumRecords() == 0 {
		return err
	}
	for _, fetchErr := range fetches.Errors() {
		var dataLoss *kgo.ErrDataLoss
		switch {
		case errors.Is(fetchErr.Err, context.DeadlineExceeded), errors.Is(fetchErr.Err, context.Canceled):
			// The wait of this poll ended; the caller checks the bounds again.
		case errors.As(fetchErr.Err, &dataLoss):
			c.log.Warn("the broker lost records; reading continues at the offset the broker reports", "topic", fetchErr.Topic, "partition", fetchErr.Partition, "err", fetchErr.Err)
		case errors.Is(fetchErr.Err, kgo.ErrClientClosed):
			return fmt.Errorf("unable to consume topic %s: %w", c.topic, fetchErr.Err)
		default:
			return fmt.Errorf("unable to consume topic %s partition %d: %w", fetchErr.Topic, fetchErr.Partition, fetchErr.Err)
		}
	}
	c.fetched = c.fetched[:0]
	c.next = 0
	fetches.EachRecord(func(r *kgo.Record) {
		c.fetched = append(c.fetched, r)
	})
	return nil
}

// MarkProcessed marks messages as finished, so that a group commits their
// offsets; it does nothing without a group. Call it only once the messages'
// output is safe (written and flushed), or a crash loses them.
func (c *Consumer) MarkProcessed(msgs ...Message) {
	if c.groupClient == nil || len(msgs) == 0 {
		return
	}
	records := make([]*kgo.Record, 0, len(msgs))
	c.startsMu.Lock()
	for _, m := range msgs {
		if m.record != nil {
			records = append(records, m.record)
			delete(c.startsToCommit, m.Partition)
		}
	}
	c.startsMu.Unlock()
	c.client.MarkCommitRecords(records...)
}

// Close commits the offsets of processed messages (with a group), leaves
// the group and closes the connections.
func (c *Consumer) Close() error {
	var err error
	if c.groupClient != nil {
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		if commitErr := c.groupClient.CommitMarkedOffsets(ctx); commitErr != nil {
			err = fmt.Errorf("unable to commit the offsets of group %s: %w", c.group, commitErr)
		}
		cancel()
		c.groupClient.Close()
	}
	if c.group != "" {
		if commitErr := c.commitStarts(); commitErr != nil {
			// Only start positions were to be committed, so the failure
			// skips nothing: the next run starts from the same place.
			c.log.Warn("the group's start offsets were not committed", "topic", c.topic, "group", c.group, "err", commitErr)
		}
	}
	c.adminClient.Close()
	return err
}

// commitStarts commits the start positions of partitions that had no
// committed offset and read nothing. It runs after the member left the
// group, when a commit from outside the group is allowed.
func (c *Consumer) commitStarts() error {
	c.startsMu.Lock()
	starts := c.startsToCommit
	c.startsToCommit = nil
	c.startsMu.Unlock()
	if len(starts) == 0 {
		return nil
	}
	offsets := kadm.Offsets{}
	for partition, at := range starts {
		offsets.Add(kadm.Offset{Topic: c.topic, Partition: partition, At: at, LeaderEpoch: -1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	committed, err := c.admin.CommitOffsets(ctx, c.group, offsets)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return fmt.Errorf("unable to commit the start offsets of group %s: %w", c.group, err)
	}
	return nil
}
