package commands

// Stream mode of the aggregation commands: with --from kafka:TOPIC
// --follow they emit a keyed changelog instead of a final table, close
// windows at event time plus --grace, checkpoint state and offsets
// together, and can answer pull queries over HTTP.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/kafka"
	"github.com/wifiq/wifiq/ops"
	"github.com/wifiq/wifiq/record"
)

// StreamOptions are the settings of follow mode (--from kafka:TOPIC
// --follow) of the aggregation commands.
type StreamOptions struct {
	To                 string
	Grace              time.Duration
	StateDir           string
	CheckpointInterval time.Duration
	CheckpointRecords  int64
	MaxGroups          int
	Serve              string
	// ScaleOut are the settings of several instances in one consumer
	// group (--group); see stream_scaleout.go.
	ScaleOut ScaleOutOptions

	grace, interval string
}

// Defaults of the stream flags.
const (
	defaultGrace              = "1m"
	defaultCheckpointInterval = "5s"
	defaultCheckpointRecords  = 10000
	defaultMaxGroups          = 1_000_000
)

func (o *StreamOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.To, "to", "-", "with --follow, write the changelog to `DEST`: - (standard output) or kafka:TOPIC, keyed by group key and window")
	f.StringVar(&o.grace, "grace", defaultGrace, "with --follow, grace `period`: a window closes when event time passes its end by this much, and later records are counted as late")
	f.StringVar(&o.StateDir, "state-dir", "", "with --follow, save state and input offsets to this `directory` and resume from them on restart")
	f.StringVar(&o.interval, "checkpoint-interval", defaultCheckpointInterval, "with --state-dir, save a checkpoint at least this often (`duration`) while records arrive, and when input pauses")
	f.Int64Var(&o.CheckpointRecords, "checkpoint-records", defaultCheckpointRecords, "with --state-dir, save a checkpoint after this many records")
	f.IntVar(&o.MaxGroups, "max-groups", defaultMaxGroups, "with --follow, fail when the state contains more than this many groups (keys times open windows)")
	f.StringVar(&o.Serve, "serve", "", "with --follow, answer pull queries over HTTP on this `address` (host:port, such as 127.0.0.1:8088)")
	o.ScaleOut.addFlags(cmd)
}

// check validates the stream flags; they need --follow.
func (o *StreamOptions) check(cmd *cobra.Command, in *InputOptions) error {
	if !in.Follow {
		for _, name := range []string{"to", "grace", "state-dir", "checkpoint-interval", "checkpoint-records", "max-groups", "serve", "repartition", "partitions", "transactional-id"} {
			if cmd.Flags().Changed(name) {
				return usagef("--%s needs --from kafka:TOPIC --follow: without --follow the command prints a final table", name)
			}
		}
		return nil
	}
	var err error
	if o.Grace, err = ops.ParseDuration(o.grace); err != nil {
		return usagef("invalid --grace: %w", err)
	}
	if o.CheckpointInterval, err = ops.ParseDuration(o.interval); err != nil || o.CheckpointInterval <= 0 {
		return usagef("invalid --checkpoint-interval %q: want a positive duration such as 5s", o.interval)
	}
	if o.CheckpointRecords < 1 {
		return usagef("invalid --checkpoint-records %d: want 1 or more", o.CheckpointRecords)
	}
	if o.MaxGroups < 1 {
		return usagef("invalid --max-groups %d: want 1 or more", o.MaxGroups)
	}
	if o.To != "-" {
		if _, ok, err := kafka.ParseAddress(o.To); err != nil || !ok {
			return usagef("invalid --to %q: want - or kafka:TOPIC", o.To)
		}
	}
	if err := o.checkScaleOut(cmd, in, in.Group); err != nil {
		return err
	}
	if o.Serve != "" {
		_, port, err := net.SplitHostPort(o.Serve)
		if n, convErr := strconv.Atoi(port); err != nil || convErr != nil || n < 0 || n > 65535 {
			return usagef("invalid --serve %q: want host:port with a port from 0 to 65535, such as 127.0.0.1:8088", o.Serve)
		}
	}
	if o.StateDir != "" {
		// Found out now, before any changelog record is written.
		if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
			return usagef("unable to create --state-dir: %v", err)
		}
	}
	return nil
}

// streamTable is one aggregation as stream mode runs it.
type streamTable struct {
	// name identifies the command in checkpoints and logs.
	name string
	// settings are the flags that shape the query; a checkpoint restores
	// only under the same settings.
	settings string
	engine   *ops.Engine
	// report turns rows into the rows of the command's batch report.
	report func(iter.Seq[ops.Row]) (*report, error)
	// keyColumns are the report's columns that are the group key.
	keyColumns []string
	windowed   bool
	// sessions marks session windows, whose end is inclusive.
	sessions bool
	location *time.Location
	// extra, when set, keeps state next to engine that one engine cannot
	// (the device estimate of stats probes-per-day).
	extra streamExtra
}

// streamExtra is state that a stream table keeps next to its engine and
// saves with it in checkpoints.
type streamExtra interface {
	// add aggregates a record that the engine was given, from source as
	// streamTable.add takes it.
	add(rec *record.Record, source int32) error
	// waitForSource and removeSource change the sources of the stream
	// time, as ops.Engine's methods of the same names do.
	waitForSource(source int32)
	removeSource(source int32)
	// closed returns the changes for the rows of the windows that closed.
	closed(rows []ops.Row) []ops.Change
	// Encode and Decode save and restore the engine and the extra state.
	Encode(w io.Writer) error
	Decode(r io.Reader) error
}

// state returns what a checkpoint saves: the engine, with the extra state
// when there is one.
func (t *streamTable) state() engineState {
	if t.extra != nil {
		return t.extra
	}
	return t.engine
}

// changelogEntry is one change in its output form.
type changelogEntry struct {
	key        orderedObject
	keyJSON    []byte
	value      []byte // nil for a tombstone
	start, end int64  // the window, when windowed
	keyText    map[string]string
}

// render turns a change into its key and value.
func (t *streamTable) render(c ops.Change) (changelogEntry, error) {
	if c.Deleted && c.Row.Values == nil {
		// A tombstone has a key and window only; NULL values let the
		// report's functions make its key cells.
		c.Row.Values = make([]ops.Value, len(t.engine.Columns())-len(c.Row.Key))
	}
	rep, err := t.report(func(yield func(ops.Row) bool) { yield(c.Row) })
	if err != nil {
		return changelogEntry{}, err
	}
	if len(rep.Rows) != 1 {
		return changelogEntry{}, fmt.Errorf("report of one change has %d rows", len(rep.Rows))
	}
	row := rep.Rows[0]
	entry := changelogEntry{keyText: map[string]string{}, start: c.Row.Window.Start, end: c.Row.Window.End}
	if t.sessions {
		entry.end++ // as if exclusive, like the ends of tumbling windows
	}
	if t.windowed {
		for _, kv := range []keyValue{
			{"window_start", timeCell{c.Row.Window.Start, t.location}.String()},
			{"window_end", timeCell{c.Row.Window.End, t.location}.String()},
		} {
			entry.key = append(entry.key, kv)
		}
		// Pull queries compare window times as milliseconds, so that any
		// form of the time matches.
		entry.keyText["window_start"] = strconv.FormatInt(c.Row.Window.Start, 10)
		entry.keyText["window_end"] = strconv.FormatInt(c.Row.Window.End, 10)
	}
	for _, name := range t.keyColumns {
		for i, col := range rep.Columns {
			if col == name {
				entry.key = append(entry.key, keyValue{name, row[i]})
				entry.keyText[name] = cellText(row[i])
			}
		}
	}
	if entry.keyJSON, err = json.Marshal(entry.key); err != nil {
		return changelogEntry{}, err
	}
	if !c.Deleted {
		obj := make(orderedObject, 0, len(row))
		for i, v := range row {
			if tc, ok := v.(timeCell); ok {
				v = tc.String()
			}
			obj = append(obj, keyValue{rep.Columns[i], v})
		}
		if entry.value, err = json.Marshal(obj); err != nil {
			return changelogEntry{}, err
		}
	}
	return entry, nil
}

// changelogWriter writes changelog entries to standard output as JSON lines
// or to a Kafka topic as keyed records.
type changelogWriter struct {
	// out takes the lines of standard output from buf, whole lines only,
	// so that a process killed between two writes leaves no cut line.
	out      io.Writer
	buf      []byte
	producer *kafka.Producer
	topic    string
	// emit, when set, takes every entry instead: the key's JSON, the
	// value (nil for a tombstone) and the stream time.
	emit func(key, value []byte, timestamp int64) error
}

func openChangelog(ctx context.Context, g *Globals, in *InputOptions, to string) (*changelogWriter, error) {
	topic, ok, _ := kafka.ParseAddress(to)
	if !ok {
		return &changelogWriter{out: g.IO.Out}, nil
	}
	cfg, err := in.Kafka.config(g)
	if err != nil {
		return nil, err
	}
	p, err := kafka.NewProducer(ctx, cfg, kafka.ProducerOptions{Topic: topic}, g.Log)
	if errors.Is(err, kafka.ErrTopicNotFound) {
		return nil, fmt.Errorf("%w: create the changelog topic first (with cleanup.policy=compact to keep the latest row per key), or let the broker create it with -X allow.auto.create.topics=true", err)
	}
	if err != nil {
		return nil, err
	}
	g.Log.Info("producing changelog", "topic", topic)
	return &changelogWriter{producer: p, topic: topic}, nil
}

// write sends one entry: on standard output a line
// {"key":{...},"value":{...}}, with "value":null for a tombstone.
func (w *changelogWriter) write(e changelogEntry, timestamp int64) error {
	if w.emit != nil {
		return w.emit(e.keyJSON, e.value, timestamp)
	}
	if w.producer != nil {
		if e.value == nil {
			return w.producer.WriteTombstone(timestamp, e.keyJSON)
		}
		return w.producer.WriteKeyed(timestamp, e.keyJSON, e.value)
	}
	value := e.value
	if value == nil {
		value = []byte("null")
	}
	w.buf = append(w.buf, `{"key":`...)
	w.buf = append(w.buf, e.keyJSON...)
	w.buf = append(w.buf, `,"value":`...)
	w.buf = append(w.buf, value...)
	w.buf = append(w.buf, "}\n"...)
	if len(w.buf) >= changelogFlushSize {
		return w.writeLines()
	}
	return nil
}

// changelogFlushSize is how many bytes of lines the writer of standard
// output collects before it writes them.
const changelogFlushSize = 64 << 10

// writeLines writes the collected lines in one call.
func (w *changelogWriter) writeLines() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// flush makes what was written safe: written out, or acknowledged by the
// brokers.
func (w *changelogWriter) flush() error {
	if w.producer != nil {
		return w.producer.Flush()
	}
	return w.writeLines()
}

func (w *changelogWriter) close(g *Globals) error {
	if w.producer == nil {
		return w.writeLines()
	}
	stats, err := w.producer.Close()
	if !g.Quiet {
		fmt.Fprintf(g.IO.ErrOut, "kafka: %s sent to topic %s, %d acknowledged\n", plural(stats.Written, "changelog record"), w.topic, stats.Acknowledged)
	}
	return err
}

// streamRun runs t in follow mode until ctx ends.
func streamRun(ctx context.Context, g *Globals, in *InputOptions, opts *StreamOptions, t *streamTable, seen *probeCounter) error {
	t.engine.SetGrace(opts.Grace)
	t.engine.TrackChanges()
	if scaleOut, err := opts.scaleOutGroup(g, in); err != nil || scaleOut != "" {
		if err != nil {
			return err
		}
		return scaleOutRun(ctx, g, in, opts, t, seen, scaleOut)
	}

	topic, _, _ := kafka.ParseAddress(in.From)
	// The grace period decides which records are late, so a checkpoint
	// restores only under the same one.
	settings := fmt.Sprintf("%s grace=%v", t.settings, opts.Grace)
	ckpt := &checkpoint{Command: t.name, Settings: settings, Topic: topic, Offsets: map[int32]int64{}}
	restored := false
	if opts.StateDir != "" {
		var err error
		if restored, err = loadCheckpoint(opts.StateDir, ckpt, t.state()); err != nil {
			return err
		}
		if restored && !g.Quiet {
			fmt.Fprintf(g.IO.ErrOut, "%s: resuming from the checkpoint in %s (saved %s): %s read before, %s open\n",
				t.name, opts.StateDir, ckpt.SavedAt, plural(ckpt.Records, "record"), plural(int64(t.engine.Groups()), "group"))
			g.Log.Debug("checkpoint offsets", "offsets", ckpt.Offsets, "late", ckpt.Late)
		}
	}

	out, err := openChangelog(ctx, g, in, opts.To)
	if err != nil {
		return err
	}
	table := newServedTable()
	if opts.Serve != "" && restored {
		if err := table.load(opts.StateDir); err != nil {
			out.close(g)
			return err
		}
	}
	if opts.Serve != "" {
		columns := t.keyColumns
		if t.windowed {
			columns = append([]string{"window_start", "window_end"}, columns...)
		}
		stop, err := serveTable(g, opts.Serve, table, columns)
		if err != nil {
			out.close(g)
			return err
		}
		defer stop()
	}

	runErr := streamLoop(ctx, g, in, opts, t, ckpt, out, table, seen)
	if closeErr := out.close(g); runErr == nil {
		runErr = closeErr
	}
	if runErr == nil && opts.StateDir != "" && opts.Serve != "" {
		runErr = table.save(opts.StateDir)
	}
	if runErr == nil && opts.StateDir != "" {
		runErr = saveCheckpoint(opts.StateDir, ckpt, t.state())
	}
	fmt.Fprintf(g.IO.ErrOut, "%s: %s read, %s late (older than the grace period %v) and not counted, %s open\n",
		t.name, plural(ckpt.Records, "record"), plural(ckpt.Late, "record"), opts.Grace, plural(int64(t.engine.Groups()), "group"))
	return runErr
}

// streamLoop reads the topic and emits the changes until ctx ends.
func streamLoop(ctx context.Context, g *Globals, in *InputOptions, opts *StreamOptions, t *streamTable,
	ckpt *checkpoint, out *changelogWriter, table *servedTable, seen *probeCounter) error {
	cfg, err := in.Kafka.config(g)
	if err != nil {
		return err
	}
	consumer, err := kafka.NewConsumer(ctx, cfg, kafka.ConsumerOptions{
		Topic: ckpt.Topic, Start: in.start, Follow: true, Group: in.Group, StartOffsets: ckpt.Offsets,
	}, g.Log)
	if err != nil {
		return err
	}
	defer consumer.Close()
	g.Log.Info("following", "topic", ckpt.Topic, "command", t.name, "grace", opts.Grace, "state_dir", opts.StateDir)

	reader := kafka.NewRecordReader(consumer)
	var clock partitionClock
	for _, p := range consumer.Backlogged() {
		t.waitForSource(p)
		clock.seen(p, time.Now(), false)
	}
	var sinceCheckpoint int64
	lastCheckpoint := time.Now()
	checkpointNow := func() error {
		if err := out.flush(); err != nil {
			return err
		}
		if opts.StateDir != "" && sinceCheckpoint > 0 {
			if opts.Serve != "" {
				if err := table.save(opts.StateDir); err != nil {
					return err
				}
			}
			if err := saveCheckpoint(opts.StateDir, ckpt, t.state()); err != nil {
				return err
			}
		}
		sinceCheckpoint, lastCheckpoint = 0, time.Now()
		return nil
	}

	for {
		readCtx, cancel := context.WithTimeout(ctx, opts.CheckpointInterval)
		rec, msg, err := reader.Read(readCtx)
		cancel()
		valueErr, _ := errors.AsType[*kafka.ValueError](err)
		switch {
		case ctx.Err() != nil:
			return nil // interrupted: the normal end of follow mode
		case errors.Is(err, context.DeadlineExceeded):
			// The input paused: save what there is.
			t.removeIdle(g, clock.seen(noSource, time.Now(), true))
			if err := checkpointNow(); err != nil {
				return err
			}
			continue
		case valueErr != nil:
			ckpt.Skipped++
			logValueError(g, valueErr, int(ckpt.Skipped))
			ckpt.Offsets[msg.Partition] = msg.Offset + 1
			continue
		case err != nil:
			return err
		}

		seen.add(rec)
		// Only a consumer with nothing left of its fetched records looks
		// for idle partitions: records that wait to be processed are not
		// idleness, however slow the processing.
		t.removeIdle(g, clock.seen(msg.Partition, time.Now(), consumer.Buffered() == 0))
		if err := t.add(g, rec, msg.Partition, ckpt, out, table); err != nil {
			return err
		}
		ckpt.Offsets[msg.Partition] = msg.Offset + 1
		sinceCheckpoint++
		if groups := t.engine.Groups(); groups > opts.MaxGroups {
			return fmt.Errorf("too many groups: the state contains %d (keys times open windows), more than --max-groups %d: raise --max-groups if the memory allows, or shorten --grace or --window so that windows close sooner", groups, opts.MaxGroups)
		}
		if n := table.len(); n > opts.MaxGroups {
			return fmt.Errorf("too many rows: --serve keeps %d, more than --max-groups %d: raise --max-groups if the memory allows, or leave out --serve and query the changelog topic instead", n, opts.MaxGroups)
		}
		if consumer.Buffered() == 0 && (sinceCheckpoint >= opts.CheckpointRecords || time.Since(lastCheckpoint) >= opts.CheckpointInterval) {
			if err := checkpointNow(); err != nil {
				return err
			}
		}
	}
}

// add aggregates one record and emits the changes it makes. source is the
// input partition the record came from (ops.Engine.AddFrom), or
// noSource when one input feeds the table.
func (t *streamTable) add(g *Globals, rec *record.Record, source int32, ckpt *checkpoint, out *changelogWriter, table *servedTable) error {
	lateBefore := t.engine.Late()
	if source == noSource {
		t.engine.Add(rec)
	} else {
		t.engine.AddFrom(rec, source)
	}
	if t.extra != nil {
		if err := t.extra.add(rec, source); err != nil {
			return err
		}
	}
	changes := t.engine.Changes()
	closed := t.engine.CloseExpired() // their rows are in the changelog already
	if t.extra != nil {
		changes = append(changes, t.extra.closed(closed)...)
	}
	ckpt.Records++
	if late := t.engine.Late(); late > lateBefore {
		ckpt.Late = late
		if late <= maxReportedLineErrors || late%1000 == 0 {
			attrs := []any{"timestamp", rec.Timestamp, "offset", rec.Offset, "late_records", late}
			if source != noSource {
				attrs = append(attrs, "partition", source)
			}
			g.Log.Warn("late record not counted: its windows closed", attrs...)
		}
	}

	stream, _ := t.engine.StreamTime()
	for _, c := range changes {
		entry, err := t.render(c)
		if err != nil {
			return err
		}
		if err := out.write(entry, stream); err != nil {
			return err
		}
		table.apply(entry)
	}
	return nil
}

// noSource is streamTable.add's source for a table fed by one input.
const noSource int32 = -1

// waitForSource makes an input partition with a backlog hold back the
// stream time until its first record.
func (t *streamTable) waitForSource(source int32) {
	t.engine.WaitForSource(source)
	if t.extra != nil {
		t.extra.waitForSource(source)
	}
}

// removeSource stops an input partition from holding back the stream time.
func (t *streamTable) removeSource(source int32) {
	t.engine.RemoveSource(source)
	if t.extra != nil {
		t.extra.removeSource(source)
	}
}

// removeIdle stops the idle partitions from holding back the stream time,
// and logs each.
func (t *streamTable) removeIdle(g *Globals, partitions []int32) {
	for _, p := range partitions {
		g.Log.Info("partition idle: event time no longer waits for it until its next record", "partition", p, "idle_for", idlePartitionAfter)
		t.removeSource(p)
	}
}

// idlePartitionAfter is how long a partition may deliver no record before
// it stops holding back the stream time, so that windows still close when
// some partitions of a topic receive no more records.
const idlePartitionAfter = 30 * time.Second

// partitionClock keeps when each input partition last delivered a record,
// to find the idle ones.
type partitionClock struct {
	last    map[int32]time.Time
	checked time.Time
}

// seen notes that partition delivered a record at now. With check set, it
// also returns the partitions idle for longer than idlePartitionAfter and
// stops tracking them. It looks for them at most once a second.
func (c *partitionClock) seen(partition int32, now time.Time, check bool) []int32 {
	if c.last == nil {
		c.last = map[int32]time.Time{}
	}
	if partition != noSource {
		c.last[partition] = now
	}
	if !check || now.Sub(c.checked) < time.Second {
		return nil
	}
	c.checked = now
	var idle []int32
	for p, last := range c.last {
		if now.Sub(last) > idlePartitionAfter {
			idle = append(idle, p)
			delete(c.last, p)
		}
	}
	return idle
}

// streamHelp explains follow mode in the help of the aggregation commands.
const streamHelp = `
With --from kafka:TOPIC --follow the command runs as a stream processor: it
prints no table but a changelog, one JSON line {"key":{...},"value":{...}} per
changed row ("value":null deletes the key), or with --to kafka:TOPIC Kafka
records keyed by the key's JSON, so that a compacted topic or an upserting sink
keeps the latest row per key. A window closes when event time passes its end
by --grace; records for closed windows are counted as late and reported on
stderr. Event time is the largest timestamp read from the partition that is
furthest behind, so that a backlog read faster from one partition than from
another makes no record late; a partition that delivers nothing for 30s stops
holding it back until its next record. --state-dir saves state and input
offsets together, so a restart continues without counting a record twice.
--serve answers pull queries over HTTP (GET /rows?COLUMN=VALUE&from=&to=).`

// scaleOutHelp explains scale-out in the help of the aggregation commands
// that have it.
const scaleOutHelp = `

With --group G several instances share the work: each reads a share of the
input partitions, sends each record keyed by its group key to the repartition
topic (--repartition, default G-repartition, created when missing), and
aggregates a share of that topic's partitions, so each key lives in one
instance. Records, offsets and the changelog (--to kafka:TOPIC) are committed
in one Kafka transaction, and a partition that moves to another instance is
rebuilt there by reading the repartition partition from its start. Each
repartition partition keeps its own event time, the largest timestamp read
from it, so give --grace at least the span of event time that a backlog over
several input partitions covers, or its records are late.`

// checkReportFlags validates the flags that the report commands share: the
// output format, the input and stream mode. It returns the output format.
func checkReportFlags(cmd *cobra.Command, g *Globals, args []string, output string, in *InputOptions, stream *StreamOptions) (string, error) {
	format, err := resolveOutput(output, g.IO)
	if err != nil {
		return "", err
	}
	if err := in.check(args); err != nil {
		return "", err
	}
	if err := stream.check(cmd, in); err != nil {
		return "", err
	}
	return format, nil
}
