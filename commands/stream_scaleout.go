package commands

// Scale-out of stream mode: several instances in one consumer group share
// the work. Each instance reads a share of the input partitions and sends
// each record, keyed by its group key, to the repartition topic. It also
// reads a share of the repartition partitions and aggregates them, one
// engine per partition, so that each key lives in one instance. The
// repartition records, the changelog and the offsets of both topics are
// committed in one Kafka transaction per batch.
//
// A partition's state is rebuilt, when the partition moves to another
// instance or a transaction aborts, by reading the repartition partition
// from offset 0 up to the group's committed offset without emitting
// anything. That needs no store besides the repartition topic, which
// therefore keeps its records forever (retention.ms=-1), and it makes a
// partition's state a function of the partition's records alone.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/kafka"
)

// ScaleOutOptions are the settings of stream mode with --group.
type ScaleOutOptions struct {
	// Repartition is the topic that carries the records keyed by group
	// key; empty means GROUP-repartition.
	Repartition string
	// Partitions of a repartition topic that is created; 0 means as many
	// as the input topic has.
	Partitions      int32
	TransactionalID string
}

// noRepartition is the --repartition value that asks for no repartition
// topic, which scale-out rejects.
const noRepartition = "none"

// scaleOutTransactionTimeout is transaction.timeout.ms of the instances.
// 10 s, the default of Kafka Streams with exactly-once processing, bounds
// how long the open transaction of a killed instance blocks the partitions
// that another instance takes over.
const scaleOutTransactionTimeout = 10 * time.Second

func (o *ScaleOutOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Repartition, "repartition", "", "with --follow --group, the repartition `topic` that carries records keyed by group key (default GROUP-repartition, created when missing)")
	f.Int32Var(&o.Partitions, "partitions", 0, "with --follow --group, the partition `count` of a repartition topic that is created (default: as many as the input topic)")
	f.StringVar(&o.TransactionalID, "transactional-id", "", "with --follow --group, the Kafka transactional.id of this instance; give each instance its own (default wifiq-GROUP- and random text)")
}

// checkScaleOut validates the flags of stream mode with a consumer group
// and fills in the defaults. group is the --group value, or the group.id
// property.
func (o *StreamOptions) checkScaleOut(cmd *cobra.Command, in *InputOptions, group string) error {
	s := &o.ScaleOut
	if group == "" {
		for _, name := range []string{"repartition", "partitions", "transactional-id"} {
			if cmd != nil && cmd.Flags().Changed(name) {
				return usagef("--%s needs --group: it sets how several instances in one consumer group share the work", name)
			}
		}
		return nil
	}
	input, _, _ := kafka.ParseAddress(in.From)
	switch {
	case s.Repartition == noRepartition:
		return usagef("--repartition %s is not supported with --group: each instance would aggregate only the records of its own input partitions, and instances would write conflicting rows for the same key; leave out --repartition to use %s-repartition, or leave out --group to run one instance", noRepartition, group)
	case s.Repartition == "":
		s.Repartition = group + "-repartition"
	}
	if err := kafka.ValidateTopic(s.Repartition); err != nil {
		return usagef("invalid --repartition: %v", err)
	}
	if s.Repartition == input {
		return usagef("invalid --repartition %s: it is the input topic; name another topic", s.Repartition)
	}
	if s.Partitions < 0 {
		return usagef("invalid --partitions %d: want 1 or more, or leave it out to take the input topic's count", s.Partitions)
	}
	output, toKafka, _ := kafka.ParseAddress(o.To)
	switch {
	case o.StateDir != "":
		return usagef("--state-dir and --group cannot be combined: with --group the state is rebuilt from the repartition topic, so leave out --state-dir")
	case !toKafka:
		return usagef("--group needs --to kafka:TOPIC: the changelog is committed in the same Kafka transactions as the offsets, which standard output cannot take part in")
	case output == input || output == s.Repartition:
		return usagef("invalid --to %s: it is the input or the repartition topic; name another topic", o.To)
	case o.Serve != "":
		return usagef("--serve and --group cannot be combined: each instance contains only the rows of its own partitions, so query the changelog topic instead")
	case in.Start != "":
		return usagef("--start does not apply with --group: the run starts at the group's committed offsets, else at the earliest offset")
	}
	if s.TransactionalID == "" {
		s.TransactionalID = "wifiq-" + group + "-" + rand.Text()[:10]
	}
	return nil
}

// scaleOutGroup returns the consumer group of a scale-out run, or "" for
// one instance. A group set by the group.id property counts too.
func (o *StreamOptions) scaleOutGroup(g *Globals, in *InputOptions) (string, error) {
	if in.Group != "" {
		return in.Group, nil
	}
	cfg, err := in.Kafka.config(g)
	if err != nil {
		return "", err
	}
	if cfg.GroupID == "" {
		return "", nil
	}
	if err := o.checkScaleOut(nil, in, cfg.GroupID); err != nil {
		return "", err
	}
	return cfg.GroupID, nil
}

// scaleOutStats counts what an instance did in committed transactions.
type scaleOutStats struct {
	read          int64 // input records
	repartitioned int64 // input records sent to the repartition topic
	filtered      int64 // input records that the query leaves out
	skipped       int64 // messages that are not records
	aggregated    int64 // repartition records aggregated
	late          int64 // of those, late and not counted
	changes       int64 // changelog records
}

func (s *scaleOutStats) add(other scaleOutStats) {
	s.read += other.read
	s.repartitioned += other.repartitioned
	s.filtered += other.filtered
	s.skipped += other.skipped
	s.aggregated += other.aggregated
	s.late += other.late
	s.changes += other.changes
}

// partitionState is the aggregation of one repartition partition.
type partitionState struct {
	table *streamTable
	// next is the offset after the last record aggregated.
	next int64
	// counts holds the partition's record and late counts for add.
	counts checkpoint
}

// scaleOut is one instance of a scale-out run.
type scaleOut struct {
	g       *Globals
	opts    *StreamOptions
	t       *streamTable
	seen    *probeCounter
	cfg     *kafka.Config
	session *kafka.ScaleOutSession

	input, repartition, output              string
	repartitionPartitions, outputPartitions int32

	partitions map[int32]*partitionState
	out        *changelogWriter
	served     *servedTable
	// inputParser and parser parse the values of the two topics.
	inputParser, parser valueParser
	keyBuf              []byte

	// ctx is the context of Produce calls: an interrupt lets the open
	// transaction finish.
	ctx       context.Context
	stats     scaleOutStats
	pending   scaleOutStats // of the open transaction
	committed int64
	aborted   int64
	rebuilt   int64 // records read to rebuild state
}

// scaleOutRun runs t as one instance of consumer group until ctx ends.
func scaleOutRun(ctx context.Context, g *Globals, in *InputOptions, opts *StreamOptions, t *streamTable, seen *probeCounter, group string) error {
	cfg, err := in.Kafka.config(g)
	if err != nil {
		return err
	}
	s := &scaleOut{g: g, opts: opts, t: t, seen: seen, cfg: cfg, ctx: context.WithoutCancel(ctx),
		repartition: opts.ScaleOut.Repartition, partitions: map[int32]*partitionState{}, served: newServedTable()}
	s.input, _, _ = kafka.ParseAddress(in.From)
	s.output, _, _ = kafka.ParseAddress(opts.To)

	if err := s.prepareTopics(ctx); err != nil {
		return err
	}
	s.session, err = kafka.NewScaleOutSession(ctx, cfg, kafka.ScaleOutOptions{
		Topics:             []string{s.input, s.repartition},
		Group:              group,
		TransactionalID:    opts.ScaleOut.TransactionalID,
		TransactionTimeout: scaleOutTransactionTimeout,
		StateTopic:         s.repartition,
	}, g.Log)
	if err != nil {
		return err
	}
	s.out = &changelogWriter{emit: s.emitChange}
	g.Log.Info("following as one instance of a consumer group", "command", t.name, "topic", s.input, "group", group,
		"repartition_topic", s.repartition, "repartition_partitions", s.repartitionPartitions, "changelog_topic", s.output,
		"transactional_id", opts.ScaleOut.TransactionalID, "grace", opts.Grace)

	runErr := s.loop(ctx)
	s.session.Close()

	owned := slices.Sorted(maps.Keys(s.partitions))
	groups := 0
	for _, ps := range s.partitions {
		groups += ps.table.engine.Groups()
	}
	fmt.Fprintf(g.IO.ErrOut, "%s: %s read from %s, %s sent to %s (%s left out by the query, %s not records); %s aggregated from %s, %s late (older than the grace period %v) and not counted; %s to %s in %d committed transactions (%d aborted); %s read to rebuild state; %s open in partitions %v\n",
		t.name, plural(s.stats.read, "record"), s.input, plural(s.stats.repartitioned, "record"), s.repartition,
		plural(s.stats.filtered, "record"), plural(s.stats.skipped, "message"),
		plural(s.stats.aggregated, "record"), s.repartition, plural(s.stats.late, "record"), opts.Grace,
		plural(s.stats.changes, "changelog record"), s.output, s.committed, s.aborted,
		plural(s.rebuilt, "record"), plural(int64(groups), "group"), owned)
	return runErr
}

// prepareTopics creates the repartition topic when it is missing and
// checks the changelog topic.
func (s *scaleOut) prepareTopics(ctx context.Context) error {
	var err error
	s.repartitionPartitions, err = kafka.EnsureRepartitionTopic(ctx, s.cfg, s.g.Log, s.repartition, s.input, s.opts.ScaleOut.Partitions)
	if errors.Is(err, kafka.ErrTopicNotFound) {
		return fmt.Errorf("%w: create the input topic first", err)
	}
	if err != nil {
		return err
	}
	s.outputPartitions, err = kafka.PartitionCount(ctx, s.cfg, s.g.Log, s.output)
	if errors.Is(err, kafka.ErrTopicNotFound) {
		return fmt.Errorf("%w: create the changelog topic first (with cleanup.policy=compact to keep the latest row per key)", err)
	}
	return err
}

// endTimeout bounds the commit of the last transaction after an interrupt.
const endTimeout = 30 * time.Second

// loop polls batches and processes each in one transaction until ctx ends.
func (s *scaleOut) loop(ctx context.Context) error {
	for {
		msgs, err := s.session.Poll(ctx, int(s.opts.CheckpointRecords), s.opts.CheckpointInterval)
		if ctx.Err() != nil {
			return nil // interrupted: the normal end of follow mode
		}
		if err != nil {
			return err
		}
		for _, partition := range s.session.Revoked() {
			delete(s.partitions, partition)
		}
		if len(msgs) == 0 {
			continue
		}
		// Rebuilding comes before the transaction starts, so that its time
		// does not count against the transaction timeout.
		if err := s.rebuildStale(ctx, msgs); err != nil {
			return err
		}

		if err := s.session.Begin(); err != nil {
			return err
		}
		s.pending = scaleOutStats{}
		processErr := s.process(msgs)
		endCtx, cancel := context.WithTimeout(context.Background(), endTimeout)
		committed, endErr := s.session.End(endCtx, processErr != nil)
		cancel()
		switch {
		case processErr != nil:
			return processErr
		case endErr != nil:
			return endErr
		case !committed:
			// The group rebalanced. The consumer rewinds to the committed
			// offsets, so every state that saw the aborted records is stale.
			s.aborted++
			s.g.Log.Warn("transaction aborted after a rebalance; its records are read again and the state of every partition is rebuilt", "records", len(msgs))
			clear(s.partitions)
			continue
		}
		s.committed++
		s.stats.add(s.pending)
	}
}

// rebuildStale makes sure that every repartition partition in msgs has a
// state that holds exactly the records before its first message: it drops
// a state that is ahead, after the consumer rewound, and rebuilds missing
// ones.
func (s *scaleOut) rebuildStale(ctx context.Context, msgs []kafka.Message) error {
	checked := map[int32]bool{}
	for _, m := range msgs {
		if m.Topic != s.repartition || checked[m.Partition] {
			continue
		}
		checked[m.Partition] = true
		if ps := s.partitions[m.Partition]; ps != nil {
			if m.Offset >= ps.next {
				continue
			}
			delete(s.partitions, m.Partition)
		}
		ps, err := s.rebuild(ctx, m.Partition, m.Offset)
		if err != nil {
			return err
		}
		s.partitions[m.Partition] = ps
	}
	return nil
}

// rebuild returns the state of a repartition partition after its records
// before offset until, emitting nothing.
func (s *scaleOut) rebuild(ctx context.Context, partition int32, until int64) (*partitionState, error) {
	started := time.Now()
	engine, err := s.t.engine.NewEmpty()
	if err != nil {
		return nil, err
	}
	engine.SetGrace(s.opts.Grace)
	engine.TrackChanges()
	table := *s.t
	table.engine = engine
	ps := &partitionState{table: &table, next: until}

	// The records were counted, and their warnings logged, when they were
	// first aggregated.
	quiet := *s.g
	quiet.Log = slog.New(slog.DiscardHandler)
	discard := &changelogWriter{emit: func([]byte, []byte, int64) error { return nil }}
	var parser valueParser
	read, err := kafka.ReplayPartition(ctx, s.cfg, s.g.Log, s.repartition, partition, until, func(m kafka.Message) error {
		rec, _ := parser.parse(m.Value)
		if rec == nil {
			return nil
		}
		rec.Offset = m.Offset
		return table.add(&quiet, rec, noSource, &ps.counts, discard, s.served)
	})
	if err != nil {
		return nil, fmt.Errorf("unable to rebuild the state of topic %s partition %d: %w", s.repartition, partition, err)
	}
	s.rebuilt += read
	s.g.Log.Info("rebuilt the state of a partition", "topic", s.repartition, "partition", partition,
		"records", read, "groups", engine.Groups(), "seconds", time.Since(started).Seconds())
	return ps, nil
}

// process handles one batch inside the open transaction.
func (s *scaleOut) process(msgs []kafka.Message) error {
	for _, m := range msgs {
		var err error
		switch m.Topic {
		case s.input:
			s.repartitionMessage(m)
		case s.repartition:
			err = s.aggregate(m)
		}
		if err != nil {
			return err
		}
	}
	groups := 0
	for _, ps := range s.partitions {
		groups += ps.table.engine.Groups()
	}
	if groups > s.opts.MaxGroups {
		return fmt.Errorf("too many groups: the state of this instance contains %d (keys times open windows), more than --max-groups %d: raise --max-groups if the memory allows, start more instances, or shorten --grace or --window so that windows close sooner", groups, s.opts.MaxGroups)
	}
	return nil
}

// repartitionMessage sends an input record to the repartition partition of
// its group key. Records that the query leaves out are not sent.
func (s *scaleOut) repartitionMessage(m kafka.Message) {
	s.pending.read++
	rec, reason := s.inputParser.parse(m.Value)
	if rec == nil {
		s.pending.skipped++
		logValueError(s.g, &kafka.ValueError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Reason: reason}, int(s.stats.skipped+s.pending.skipped))
		return
	}
	s.seen.add(rec)
	key, ok := s.t.engine.AppendGroupKey(s.keyBuf[:0], rec)
	s.keyBuf = key
	if !ok {
		s.pending.filtered++
		return
	}
	partition := kafka.KeyPartition(key, s.repartitionPartitions)
	s.session.Produce(s.ctx, s.repartition, partition, rec.Timestamp, key, m.Value)
	s.pending.repartitioned++
}

// aggregate adds a repartition record to its partition's state and emits
// the changes.
func (s *scaleOut) aggregate(m kafka.Message) error {
	ps := s.partitions[m.Partition]
	if ps == nil {
		return fmt.Errorf("internal error: no state for topic %s partition %d", m.Topic, m.Partition)
	}
	ps.next = m.Offset + 1
	rec, reason := s.parser.parse(m.Value)
	if rec == nil {
		s.pending.skipped++
		logValueError(s.g, &kafka.ValueError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Reason: reason}, int(s.stats.skipped+s.pending.skipped))
		return nil
	}
	rec.Offset = m.Offset
	lateBefore := ps.table.engine.Late()
	// NOTE: the input partition does not travel with the record, so the
	// stream time here is the largest timestamp of the repartition
	// partition, and a backlog over several input partitions makes records
	// late unless --grace covers it.
	if err := ps.table.add(s.g, rec, noSource, &ps.counts, s.out, s.served); err != nil {
		return err
	}
	s.pending.aggregated++
	s.pending.late += ps.table.engine.Late() - lateBefore
	return nil
}

// emitChange sends a changelog entry in the open transaction, to the
// partition of its key.
func (s *scaleOut) emitChange(key, value []byte, timestamp int64) error {
	s.session.Produce(s.ctx, s.output, kafka.KeyPartition(key, s.outputPartitions), timestamp, key, value)
	s.pending.changes++
	return nil
}
