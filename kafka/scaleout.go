package kafka

// Scale-out of stateful stream processors: a repartition topic keyed by
// group key, a transactional group session over the input and the
// repartition topic, and the replay that rebuilds one partition's state.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// keyPartitioner places keyed records as Kafka's default partitioner does.
var keyPartitioner = kgo.StickyKeyPartitioner(nil).ForTopic("")

// KeyPartition returns the partition of key among n partitions, as the
// Java client's default partitioner and franz-go's key partitioner place
// it: the murmur2 hash of the key with the sign bit cleared, modulo n.
// key must not be nil, because a nil key is placed at random.
func KeyPartition(key []byte, n int32) int32 {
	if key == nil {
		key = []byte{}
	}
	return int32(keyPartitioner.Partition(&kgo.Record{Key: key}, int(n)))
}

// Settings that a repartition topic needs when a partition's state is
// rebuilt by reading the partition from its first offset: records are
// never deleted by age or size, and never compacted away.
var repartitionConfigs = map[string]string{
	"cleanup.policy":  "delete",
	"retention.ms":    "-1",
	"retention.bytes": "-1",
}

// EnsureRepartitionTopic creates the repartition topic when it is missing,
// with partitions partitions (0: as many as the input topic) and the
// settings of repartitionConfigs. An existing topic must have these
// settings, and partitions partitions when partitions is not 0. It returns
// the topic's partition count.
func EnsureRepartitionTopic(ctx context.Context, cfg *Config, log *slog.Logger, topic, input string, partitions int32) (int32, error) {
	client, err := cfg.NewClient(log)
	if err != nil {
		return 0, err
	}
	defer client.Close()
	if err := Ping(ctx, client, cfg); err != nil {
		return 0, err
	}

	existing, err := partitionsOf(ctx, client, topic)
	if errors.Is(err, ErrTopicNotFound) {
		want := partitions
		if want == 0 {
			inputPartitions, err := partitionsOf(ctx, client, input)
			if err != nil {
				return 0, err
			}
			want = int32(len(inputPartitions))
		}
		created, createErr := CreateTopic(ctx, client, topic, TopicSpec{Partitions: want, Configs: repartitionConfigs})
		if createErr != nil {
			return 0, createErr
		}
		if created {
			log.Info("created the repartition topic", "topic", topic, "partitions", want, "configs", repartitionConfigs)
		}
		// Another instance may have created it a moment ago, with another
		// count, and brokers learn of a new topic asynchronously.
		existing, err = waitForTopic(ctx, client, topic)
	}
	if err != nil {
		return 0, err
	}
	count := int32(len(existing))
	if partitions != 0 && count != partitions {
		return 0, fmt.Errorf("repartition topic %s has %d partitions, not the %d that --partitions asks for: leave out --partitions, or use another repartition topic", topic, count, partitions)
	}
	if err := checkRepartitionConfigs(ctx, kadm.NewClient(client), topic); err != nil {
		return 0, err
	}
	return count, nil
}

// Retries of waitForTopic: about 10 s in all.
const (
	newTopicTries = 20
	newTopicDelay = 500 * time.Millisecond
)

// waitForTopic returns the partitions of a topic that was just created,
// once the broker's metadata has it.
func waitForTopic(ctx context.Context, client *kgo.Client, topic string) ([]int32, error) {
	for try := 1; ; try++ {
		partitions, err := partitionsOf(ctx, client, topic)
		if !errors.Is(err, ErrTopicNotFound) || try == newTopicTries {
			return partitions, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(newTopicDelay):
		}
	}
}

// checkRepartitionConfigs rejects a repartition topic that may lose
// records, because the state of its partitions could then not be rebuilt.
func checkRepartitionConfigs(ctx context.Context, admin *kadm.Client, topic string) error {
	described, err := admin.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return fmt.Errorf("unable to read the settings of topic %s: %w", topic, err)
	}
	rc, err := described.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return fmt.Errorf("unable to read the settings of topic %s: %w", topic, err)
	}
	for _, c := range rc.Configs {
		want, ok := repartitionConfigs[c.Key]
		if !ok || c.Value == nil || *c.Value == want {
			continue
		}
		return fmt.Errorf("invalid repartition topic %s: %s is %s, want %s, because a partition's state is rebuilt by reading the partition from its first offset: set %s=%s on the topic, or name another topic with --repartition",
			topic, c.Key, *c.Value, want, c.Key, want)
	}
	return nil
}

// ScaleOutOptions are the settings of a ScaleOutSession.
type ScaleOutOptions struct {
	// Topics are read as consumer Group: the input topic and the
	// repartition topic.
	Topics []string
	Group  string
	// TransactionalID must differ between instances that run at the same
	// time. An instance restarted with the same ID fences its predecessor
	// and aborts its open transaction at once; under a new ID that
	// transaction blocks its partitions until TransactionTimeout.
	TransactionalID    string
	TransactionTimeout time.Duration
	// StateTopic is the topic whose partitions hold state: their
	// revocation is reported by Revoked.
	StateTopic string
}

// ScaleOutSession reads several topics as one member of a consumer group
// and commits the records it produces together with the offsets of the
// records it read, in one Kafka transaction per batch.
type ScaleOutSession struct {
	session *kgo.GroupTransactSession
	opts    ScaleOutOptions
	log     *slog.Logger

	produceMu  sync.Mutex
	produceErr error

	revokedMu sync.Mutex
	revoked   []int32
}

// NewScaleOutSession joins the group. The partitions of StateTopic that
// the group takes away are reported by Revoked.
func NewScaleOutSession(ctx context.Context, cfg *Config, opts ScaleOutOptions, log *slog.Logger) (*ScaleOutSession, error) {
	s := &ScaleOutSession{opts: opts, log: log}
	connection, err := cfg.ClientOptions(log)
	if err != nil {
		return nil, err
	}
	sessionOpts := append(connection,
		kgo.TransactionalID(opts.TransactionalID),
		kgo.ConsumerGroup(opts.Group),
		kgo.ConsumeTopics(opts.Topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Every record carries its partition, chosen by KeyPartition.
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// Round robin over the sorted partitions of both topics gives each
		// member a share of each topic when the counts divide evenly, so
		// that every instance aggregates. The sticky balancers balance only
		// the total, and may leave all repartition partitions to one
		// member. Round robin is eager: a rebalance revokes every
		// partition, and the states are rebuilt.
		kgo.Balancers(kgo.RoundRobinBalancer()),
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onRevoked),
	)
	if opts.TransactionTimeout > 0 {
		sessionOpts = append(sessionOpts, kgo.TransactionTimeout(opts.TransactionTimeout))
	}
	if cfg.SessionTimeout > 0 {
		sessionOpts = append(sessionOpts, kgo.SessionTimeout(cfg.SessionTimeout))
	}
	if cfg.HeartbeatInterval > 0 {
		sessionOpts = append(sessionOpts, kgo.HeartbeatInterval(cfg.HeartbeatInterval))
	}
	session, err := kgo.NewGroupTransactSession(sessionOpts...)
	if err != nil {
		return nil, fmt.Errorf("unable to create a transactional Kafka client: %w", err)
	}
	s.session = session
	// Initialising the producer ID fences a previous process with the same
	// transactional ID and aborts its open transaction now.
	if _, _, err := session.Client().ProducerID(ctx); err != nil {
		session.Close()
		return nil, fmt.Errorf("unable to initialise transactional ID %s: %w", opts.TransactionalID, err)
	}
	return s, nil
}

func (s *ScaleOutSession) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	for _, topic := range s.opts.Topics {
		if len(assigned[topic]) > 0 {
			s.log.Info("partitions assigned", "topic", topic, "group", s.opts.Group, "partitions", assigned[topic])
		}
	}
}

func (s *ScaleOutSession) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	for _, topic := range s.opts.Topics {
		if len(revoked[topic]) > 0 {
			s.log.Info("partitions revoked", "topic", topic, "group", s.opts.Group, "partitions", revoked[topic])
		}
	}
	s.revokedMu.Lock()
	s.revoked = append(s.revoked, revoked[s.opts.StateTopic]...)
	s.revokedMu.Unlock()
}

// Revoked returns the partitions of StateTopic revoked or lost since the
// last call. Their state must be dropped: when a partition comes back,
// another member may have processed it in between.
func (s *ScaleOutSession) Revoked() []int32 {
	s.revokedMu.Lock()
	defer s.revokedMu.Unlock()
	revoked := s.revoked
	s.revoked = nil
	return revoked
}

// Poll returns up to max messages, waiting at most wait for the first.
func (s *ScaleOutSession) Poll(ctx context.Context, max int, wait time.Duration) ([]Message, error) {
	pollCtx, cancel := context.WithTimeout(ctx, wait)
	fetches := s.session.PollRecords(pollCtx, max)
	cancel()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := fetchError(fetches); err != nil {
		return nil, err
	}
	msgs := make([]Message, 0, fetches.NumRecords())
	fetches.EachRecord(func(r *kgo.Record) {
		msgs = append(msgs, Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value, record: r})
	})
	return msgs, nil
}

// Begin starts a transaction.
func (s *ScaleOutSession) Begin() error {
	s.produceMu.Lock()
	s.produceErr = nil
	s.produceMu.Unlock()
	if err := s.session.Begin(); err != nil {
		return fmt.Errorf("unable to begin a transaction: %w", err)
	}
	return nil
}

// Produce sends a record in the running transaction. A nil value is a
// tombstone. The slices are copied.
func (s *ScaleOutSession) Produce(ctx context.Context, topic string, partition int32, timestampMs int64, key, value []byte) {
	rec := &kgo.Record{Topic: topic, Partition: partition, Key: slices.Clone(key), Timestamp: time.UnixMilli(timestampMs)}
	if value != nil {
		rec.Value = slices.Clone(value)
	}
	s.session.Produce(ctx, rec, func(r *kgo.Record, err error) {
		if err == nil {
			return
		}
		s.produceMu.Lock()
		if s.produceErr == nil {
			s.produceErr = fmt.Errorf("unable to produce to topic %s partition %d: %w", r.Topic, r.Partition, err)
		}
		s.produceMu.Unlock()
	})
}

// End commits the transaction with the offsets of the messages polled
// since the last End, or aborts it when abort is set. It returns false when
// the transaction was aborted: the group rebalanced, or abort was set. The
// consumer then rewinds to the committed offsets, so the caller must drop
// the state that the aborted messages changed. A record that failed to be
// produced aborts the transaction and is returned as the error.
func (s *ScaleOutSession) End(ctx context.Context, abort bool) (bool, error) {
	try := kgo.TryCommit
	if abort {
		try = kgo.TryAbort
	}
	committed, err := s.session.End(ctx, try)
	s.produceMu.Lock()
	produceErr := s.produceErr
	s.produceMu.Unlock()
	if produceErr != nil && !abort {
		return false, produceErr
	}
	if err != nil {
		return false, fmt.Errorf("unable to end a transaction: %w", err)
	}
	return committed, nil
}

// Close leaves the group and closes the connections.
func (s *ScaleOutSession) Close() { s.session.Close() }

// ErrPartitionTruncated matches the error of ReplayPartition for a
// partition whose first records were deleted.
var ErrPartitionTruncated = errors.New("partition truncated")

// ReplayPartition passes the committed records of one partition, from
// offset 0 up to but not including until, to fn in offset order. until
// must be the offset of a committed record or a last stable offset, so
// that every record before it is decided. It fails with
// ErrPartitionTruncated when the partition no longer starts at offset 0.
func ReplayPartition(ctx context.Context, cfg *Config, log *slog.Logger, topic string, partition int32, until int64, fn func(Message) error) (int64, error) {
	if until <= 0 {
		return 0, nil
	}
	client, err := cfg.NewClient(log,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers take offsets too: keeping them shows when the
		// replay has passed until although its last records were aborted.
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(0)}}),
	)
	if err != nil {
		return 0, err
	}
	defer client.Close()

	starts, err := kadm.NewClient(client).ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("unable to list the start offsets of %s: %w", topic, err)
	}
	if start, ok := starts.Lookup(topic, partition); ok && start.Offset > 0 {
		return 0, fmt.Errorf("%w: topic %s partition %d starts at offset %d, so the records before it that its state was computed from are gone: reset the consumer group and the changelog topic, or use a new --group", ErrPartitionTruncated, topic, partition, start.Offset)
	}

	read := int64(0)
	for {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return read, err
		}
		if err := fetchError(fetches); err != nil {
			return read, err
		}
		done := false
		var fnErr error
		fetches.EachRecord(func(r *kgo.Record) {
			if done || fnErr != nil {
				return
			}
			if r.Offset >= until {
				done = true
				return
			}
			if r.Attrs.IsControl() {
				return
			}
			read++
			fnErr = fn(Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value, record: r})
		})
		if fnErr != nil {
			return read, fnErr
		}
		if done {
			return read, nil
		}
	}
}

// PartitionCount returns the number of partitions of topic.
func PartitionCount(ctx context.Context, cfg *Config, log *slog.Logger, topic string) (int32, error) {
	client, err := cfg.NewClient(log)
	if err != nil {
		return 0, err
	}
	defer client.Close()
	partitions, err := partitionsOf(ctx, client, topic)
	if err != nil {
		return 0, err
	}
	return int32(len(partitions)), nil
}
