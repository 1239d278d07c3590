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

// TransformOptions are the settings of TransformTopic beyond its Config.
type TransformOptions struct {
	// InputTopic is read as consumer Group, whose offsets are committed in
	// the same transactions as the records produced from them.
	InputTopic string
	Group      string
	// TransactionalID identifies the producer across restarts: a
	// restarted process with the same ID fences off the old one and
	// aborts its open transaction. Two processes that run at the same
	// time need different IDs.
	TransactionalID string
	// OutputTopics must exist before the first record is read.
	OutputTopics []string
	// Follow keeps reading until the context ends; without it the run
	// stops at the end offsets the input had when it started.
	Follow bool
	// MaxTransactionRecords bounds the input records of one transaction;
	// 0 means 10,000.
	MaxTransactionRecords int
}

// TransformStats counts what TransformTopic did. Only records of committed
// transactions are counted as written.
type TransformStats struct {
	Read      int64            // input records of committed transactions
	Written   map[string]int64 // output records per topic
	Committed int64            // transactions committed
	Aborted   int64            // transactions aborted (after a rebalance)
}

// Emit sends one output record in the running transaction.
type Emit func(topic string, timestampMs int64, value []byte)

// idleStop is how long a bounded run waits without any record, counted
// from the latest partition assignment, before it stops although its input
// end offsets were not reached. That happens when the last offsets of an
// input partition are transaction markers, which no consumer ever
// receives. The time before the first assignment does not count: a run
// restarted after a crash waits there until the group drops the dead
// member, for up to session.timeout.ms (45 s by default).
const idleStop = 30 * time.Second

// TransformTopic reads InputTopic and calls transform for each message in
// offset order per partition. The records transform emits and the input
// offsets are committed in one Kafka transaction per poll of at most
// MaxTransactionRecords input records, so each input record's output
// becomes visible to read_committed consumers exactly once, also when the
// process dies and is restarted with the same group and transactional ID.
// An error from transform aborts the open transaction and ends the run.
func TransformTopic(ctx context.Context, cfg *Config, opts TransformOptions, log *slog.Logger, transform func(Message, Emit) error) (TransformStats, error) {
	stats := TransformStats{Written: map[string]int64{}}
	if opts.MaxTransactionRecords <= 0 {
		opts.MaxTransactionRecords = 10000
	}

	ends, err := checkTransformTopics(ctx, cfg, opts, log)
	if err != nil {
		return stats, err
	}

	connection, err := cfg.ClientOptions(log)
	if err != nil {
		return stats, err
	}
	run := &transformRun{opts: opts, log: log, transform: transform, stats: &stats, ends: ends}
	sessionOpts := append(connection,
		kgo.TransactionalID(opts.TransactionalID),
		kgo.ConsumerGroup(opts.Group),
		kgo.ConsumeTopics(opts.InputTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		// A topic written in transactions ends with a commit marker,
		// which the end offsets count. Its control record marks the
		// end.
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(run.onAssigned),
	)
	if cfg.SessionTimeout > 0 {
		sessionOpts = append(sessionOpts, kgo.SessionTimeout(cfg.SessionTimeout))
	}
	if cfg.HeartbeatInterval > 0 {
		sessionOpts = append(sessionOpts, kgo.HeartbeatInterval(cfg.HeartbeatInterval))
	}
	session, err := kgo.NewGroupTransactSession(sessionOpts...)
	if err != nil {
		return stats, fmt.Errorf("unable to create a transactional Kafka client: %w", err)
	}
	defer session.Close()
	run.session = session

	// Initialising the producer ID fences a previous process with the same
	// transactional ID and aborts its open transaction now. Otherwise the
	// group's offsets stay unstable, and fetching cannot start, until that
	// transaction times out (transaction.timeout.ms, 40 s in franz-go).
	if _, _, err := session.Client().ProducerID(ctx); err != nil {
		return stats, fmt.Errorf("unable to initialise transactional ID %s: %w", opts.TransactionalID, err)
	}
	return stats, run.loop(ctx)
}

// checkTransformTopics checks that the topics exist and returns the input
// partitions that still hold unprocessed records, with their end offsets.
func checkTransformTopics(ctx context.Context, cfg *Config, opts TransformOptions, log *slog.Logger) (map[int32]int64, error) {
	client, err := cfg.NewClient(log)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := Ping(ctx, client, cfg); err != nil {
		return nil, err
	}
	admin := kadm.NewClient(client)

	topics := append([]string{opts.InputTopic}, opts.OutputTopics...)
	details, err := admin.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("unable to list topics: %w", err)
	}
	for _, topic := range topics {
		if d, ok := details[topic]; !ok || d.Err != nil {
			return nil, fmt.Errorf("%w: %s", ErrTopicNotFound, topic)
		}
	}

	endOffsets, err := admin.ListEndOffsets(ctx, opts.InputTopic)
	if err == nil {
		err = endOffsets.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("unable to list the end offsets of %s: %w", opts.InputTopic, err)
	}
	committed, err := fetchGroupOffsets(ctx, admin, opts.Group, opts.InputTopic, log)
	if errors.Is(err, kerr.GroupIDNotFound) {
		// A new group has no offsets yet.
		committed, err = kadm.OffsetResponses{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to fetch the offsets of group %s: %w", opts.Group, err)
	}
	startOffsets, err := admin.ListStartOffsets(ctx, opts.InputTopic)
	if err == nil {
		err = startOffsets.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("unable to list the start offsets of %s: %w", opts.InputTopic, err)
	}

	ends := map[int32]int64{}
	endOffsets.Each(func(end kadm.ListedOffset) {
		next := int64(0)
		if start, ok := startOffsets.Lookup(opts.InputTopic, end.Partition); ok {
			next = start.Offset
		}
		if c, ok := committed.Lookup(opts.InputTopic, end.Partition); ok && c.Err == nil && c.At > next {
			next = c.At
		}
		if next < end.Offset {
			ends[end.Partition] = end.Offset
		}
	})
	return ends, nil
}

// transformRun is the state of one TransformTopic call.
type transformRun struct {
	session   *kgo.GroupTransactSession
	opts      TransformOptions
	log       *slog.Logger
	transform func(Message, Emit) error
	stats     *TransformStats
	// ends are the input partitions not yet read to the end offsets seen
	// at the start; a bounded run stops when it is empty.
	ends map[int32]int64
	// assignedAt is the time of the latest partition assignment in Unix
	// nanoseconds, 0 before the first. Group callbacks set it on franz-go's
	// goroutines.
	assignedAt atomic.Int64
}

func (r *transformRun) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	r.assignedAt.Store(time.Now().UnixNano())
	r.log.Info("partitions assigned", "topic", r.opts.InputTopic, "group", r.opts.Group, "partitions", assigned[r.opts.InputTopic])
}

// idleSince returns the start of the current wait for records: the later
// of the last record and the latest assignment. It returns false before
// the first assignment.
func (r *transformRun) idleSince(lastRecord time.Time) (time.Time, bool) {
	at := r.assignedAt.Load()
	if at == 0 {
		return time.Time{}, false
	}
	assigned := time.Unix(0, at)
	if assigned.After(lastRecord) {
		return assigned, true
	}
	return lastRecord, true
}

func (r *transformRun) loop(ctx context.Context) error {
	var lastRecord time.Time
	for r.opts.Follow || len(r.ends) > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fetches := r.session.PollRecords(pollCtx, r.opts.MaxTransactionRecords)
		cancel()
		if ctx.Err() != nil {
			return r.stopped(ctx)
		}
		if err := fetchError(fetches); err != nil {
			return err
		}
		if fetches.NumRecords() == 0 {
			if since, assigned := r.idleSince(lastRecord); !r.opts.Follow && assigned && time.Since(since) > idleStop {
				r.log.Warn("stopping: no records arrived although the input end offsets were not reached", "topic", r.opts.InputTopic, "idle", idleStop)
				return nil
			}
			continue
		}
		lastRecord = time.Now()

		if err := r.transaction(ctx, fetches); err != nil {
			return err
		}
	}
	return nil
}

// fetchError returns the first fetch error other than the end of a poll's
// own time limit.
func fetchError(fetches kgo.Fetches) error {
	for _, e := range fetches.Errors() {
		if errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, context.Canceled) {
			continue
		}
		return fmt.Errorf("unable to read topic %s partition %d: %w", e.Topic, e.Partition, e.Err)
	}
	return nil
}

// transaction transforms one poll's records and commits them with their
// offsets.
func (r *transformRun) transaction(ctx context.Context, fetches kgo.Fetches) error {
	if r.onlyMarkers(fetches) {
		return nil
	}
	if err := r.session.Begin(); err != nil {
		return fmt.Errorf("unable to begin a transaction: %w", err)
	}

	written := map[string]int64{}
	next := map[int32]int64{}
	var produceMu sync.Mutex
	var produceErr error
	emit := func(topic string, timestampMs int64, value []byte) {
		rec := &kgo.Record{Topic: topic, Value: append([]byte(nil), value...), Timestamp: time.UnixMilli(timestampMs)}
		written[topic]++
		r.session.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			produceMu.Lock()
			if err != nil && produceErr == nil {
				produceErr = err
			}
			produceMu.Unlock()
		})
	}
	var transformErr error
	read := int64(0)
	fetches.EachRecord(func(rec *kgo.Record) {
		if transformErr != nil {
			return
		}
		if rec.Attrs.IsControl() {
			next[rec.Partition] = rec.Offset + 1
			return
		}
		msg := Message{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp.UnixMilli(), Key: rec.Key, Value: rec.Value, record: rec}
		transformErr = r.transform(msg, emit)
		read++
		next[rec.Partition] = rec.Offset + 1
	})

	if transformErr != nil {
		r.abort()
		return transformErr
	}
	committed, err := r.session.End(ctx, kgo.TryCommit)
	if err != nil {
		return fmt.Errorf("unable to commit a transaction of %d input records: %w", read, err)
	}
	if !committed {
		// The group rebalanced or a record failed: the session aborted
		// and the records are read again from the committed offsets.
		r.stats.Aborted++
		produceMu.Lock()
		r.log.Warn("transaction aborted; its input is read again", "topic", r.opts.InputTopic, "records", read, "produce_err", produceErr)
		produceMu.Unlock()
		return nil
	}

	r.stats.Committed++
	r.stats.Read += read
	for topic, n := range written {
		r.stats.Written[topic] += n
	}
	for partition, offset := range next {
		if end, ok := r.ends[partition]; ok && offset >= end {
			delete(r.ends, partition)
		}
	}
	return nil
}

// onlyMarkers reports whether the poll contains transaction markers only, as
// at the end of a topic written in transactions. Such a poll needs no
// transaction: an empty one would abort. It still counts for the ends.
func (r *transformRun) onlyMarkers(fetches kgo.Fetches) bool {
	next := map[int32]int64{}
	only := true
	fetches.EachRecord(func(rec *kgo.Record) {
		if !rec.Attrs.IsControl() {
			only = false
		}
		next[rec.Partition] = rec.Offset + 1
	})
	if !only {
		return false
	}
	for partition, offset := range next {
		if end, ok := r.ends[partition]; ok && offset >= end {
			delete(r.ends, partition)
		}
	}
	return true
}

// abort ends the open transaction without committing it.
func (r *transformRun) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.session.End(ctx, kgo.TryAbort); err != nil {
		r.log.Error("unable to abort the transaction", "topic", r.opts.InputTopic, "err", err)
	}
}

// stopped ends a run whose context ended between transactions.
func (r *transformRun) stopped(ctx context.Context) error {
	if r.opts.Follow {
		return nil // interrupted: the normal end of a following run
	}
	return ctx.Err()
}

// coordinatorWait bounds how long fetchGroupOffsets waits for a group
// coordinator. A new cluster creates its offsets topic at the first group
// request, and its coordinators are not available for a few seconds.
const coordinatorWait = time.Minute

// fetchGroupOffsets returns the committed offsets of group in topic. It
// retries while the group coordinator is not available yet.
func fetchGroupOffsets(ctx context.Context, admin *kadm.Client, group, topic string, log *slog.Logger) (kadm.OffsetResponses, error) {
	deadline := time.Now().Add(coordinatorWait)
	wait := 250 * time.Millisecond
	for {
		committed, err := admin.FetchOffsetsForTopics(ctx, group, topic)
		if err == nil || !kerr.IsRetriable(err) || time.Now().After(deadline) {
			return committed, err
		}
		log.Info("group coordinator not available yet, will retry", "group", group, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return committed, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
