// Package neo4j writes wifiq records into a Neo4j graph over Bolt.
//
// A Mode turns records into Cypher: a user's template, run as
// UNWIND $events AS event followed by the template (the convention of the
// Kafka Connect Neo4j sink), or a built-in graph. Records are written in
// batches, one transaction per batch. Kafka offsets of a batch are stored
// on WifiqOffset nodes in the same transaction, so a restarted consumer
// starts after them. When the server rejects a batch, its records are
// written one per transaction to find the ones it rejects, which go to a
// dead-letter file with the reason. Lost connections and transient server
// errors are retried with backoff.
package neo4j

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/wifiq/wifiq/record"
)

// Options are the settings of a Sink.
type Options struct {
	Mode Mode
	// OffsetsID names the sink in the stored Kafka offsets; empty means the
	// mode's name.
	OffsetsID string
	// DeadLetter receives one JSON line per rejected record; nil drops them
	// after logging.
	DeadLetter io.Writer
	// RetryFor is how long a transaction is retried while the server is
	// unreachable before Flush fails. Zero means 10 minutes.
	RetryFor time.Duration
}

// Position is the topic, partition and offset of a record read from Kafka.
type Position struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Counts are the totals of a Sink.
type Counts struct {
	Written      int64 // records written
	Rejected     int64 // records sent to the dead letter
	Transactions int64 // committed transactions
}

// item is one buffered record or rejected message.
type item struct {
	rec   *record.Record
	event map[string]any
	pos   *Position
	// raw is the value of a Kafka message that is not a record. reason is
	// set for every item that goes to the dead letter without being sent.
	raw    []byte
	reason string
}

// offsetRow is the next offset to read in one partition.
type offsetRow struct {
	topic     string
	partition int32
	next      int64
}

// transaction runs queries and stores offsets in one transaction and
// commits it. Tests replace it to run without a server.
type transaction func(ctx context.Context, queries []Query, offsets []offsetRow) error

// Sink writes records to a graph. It is for one goroutine at a time.
type Sink struct {
	opts    Options
	log     *slog.Logger
	server  *server
	write   transaction
	pending []item
	counts  Counts
}

// Open connects, creates the constraints and checks the mode's statement.
func Open(ctx context.Context, conn Connection, opts Options, log *slog.Logger) (*Sink, error) {
	srv, err := newServer(conn)
	if err != nil {
		return nil, err
	}
	s := newSink(opts, log, nil)
	s.server = srv
	s.write = func(ctx context.Context, queries []Query, offsets []offsetRow) error {
		return srv.write(ctx, queries, s.offsetsQuery(offsets))
	}
	err = s.retry(ctx, "connect", func(ctx context.Context) error { return srv.setup(ctx, opts.Mode) })
	if err != nil {
		srv.close()
		return nil, err
	}
	return s, nil
}

func newSink(opts Options, log *slog.Logger, write transaction) *Sink {
	if opts.RetryFor == 0 {
		opts.RetryFor = 10 * time.Minute
	}
	if opts.OffsetsID == "" {
		opts.OffsetsID = opts.Mode.Name
	}
	return &Sink{opts: opts, log: log, write: write}
}

// StoredOffsets returns the next offset to read per partition of topic, as
// the last committed transaction of this sink stored them.
func (s *Sink) StoredOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	var offsets map[int32]int64
	err := s.retry(ctx, "read offsets", func(ctx context.Context) error {
		var err error
		offsets, err = s.server.storedOffsets(ctx, s.opts.OffsetsID, topic)
		return err
	})
	return offsets, err
}

// Add buffers a record. The record is copied, so the caller may reuse it.
// pos is nil for records that do not come from Kafka. A record that the
// mode cannot use goes to the dead letter at the next Flush.
func (s *Sink) Add(rec *record.Record, pos *Position) {
	c := rec.Clone()
	it := item{rec: c, pos: copyPosition(pos)}
	event, err := s.opts.Mode.Event(c)
	if err != nil {
		it.reason = err.Error()
	} else {
		it.event = event
	}
	s.pending = append(s.pending, it)
}

// Reject buffers a Kafka message that is not a record: it goes to the dead
// letter with the reason at the next Flush, and its offset counts as done.
func (s *Sink) Reject(value []byte, reason string, pos *Position) {
	s.pending = append(s.pending, item{raw: append([]byte(nil), value...), reason: reason, pos: copyPosition(pos)})
}

func copyPosition(pos *Position) *Position {
	if pos == nil {
		return nil
	}
	p := *pos
	return &p
}

// Pending returns the number of buffered records.
func (s *Sink) Pending() int { return len(s.pending) }

// Counts returns the totals so far.
func (s *Sink) Counts() Counts { return s.counts }

// Flush writes the buffered records and their Kafka offsets in one
// transaction. When it returns nil, every record is committed or in the
// dead letter. When the server rejects the batch, Flush writes its records
// one per transaction, each with the offsets up to it. Only the rejected
// ones go to the dead letter, and a crash in between neither loses nor
// repeats a record read from Kafka.
func (s *Sink) Flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	batch := s.pending

	// Records that never reach the server go to the dead letter before the
	// transaction that moves their offsets past them commits.
	var events []map[string]any
	for i := range batch {
		if batch[i].reason != "" {
			if err := s.deadLetter(&batch[i], batch[i].reason); err != nil {
				return err
			}
			continue
		}
		events = append(events, batch[i].event)
	}

	err := s.retry(ctx, "write batch", func(ctx context.Context) error {
		return s.write(ctx, s.queries(events), offsetsOf(batch))
	})
	var rejected *recordError
	switch {
	case err == nil:
		s.counts.Written += int64(len(events))
		s.counts.Transactions++
	case errors.As(err, &rejected):
		s.log.Warn("Neo4j rejected a batch, writing its records one per transaction", "mode", s.opts.Mode.Name, "records", len(events), "err", rejected.err)
		if err := s.writeOneByOne(ctx, batch); err != nil {
			return err
		}
	default:
		return err
	}
	s.pending = s.pending[:0]
	return nil
}

func (s *Sink) queries(events []map[string]any) []Query {
	if len(events) == 0 {
		return nil
	}
	return s.opts.Mode.Queries(events)
}

// writeOneByOne writes each record of a batch in its own transaction. The
// offsets of items before it (rejected ones included) go with it, and a
// last transaction stores the offsets of trailing rejected items.
func (s *Sink) writeOneByOne(ctx context.Context, batch []item) error {
	done := 0 // items whose offsets are committed
	for i := range batch {
		it := &batch[i]
		if it.reason != "" {
			continue
		}
		err := s.retry(ctx, "write record", func(ctx context.Context) error {
			return s.write(ctx, s.queries([]map[string]any{it.event}), offsetsOf(batch[done:i+1]))
		})
		var rejected *recordError
		switch {
		case err == nil:
			s.counts.Written++
			s.counts.Transactions++
			done = i + 1
		case errors.As(err, &rejected):
			it.reason = "rejected by Neo4j: " + rejected.Error()
			if err := s.deadLetter(it, it.reason); err != nil {
				return err
			}
		default:
			return err
		}
	}
	rest := offsetsOf(batch[done:])
	if len(rest) == 0 {
		return nil
	}
	err := s.retry(ctx, "store offsets", func(ctx context.Context) error { return s.write(ctx, nil, rest) })
	if err == nil {
		s.counts.Transactions++
	}
	return err
}

// offsetsOf returns the next offset per partition after the items.
func offsetsOf(items []item) []offsetRow {
	var rows []offsetRow
	index := map[Position]int{} // partition (Offset unused) to its row
	for _, it := range items {
		if it.pos == nil {
			continue
		}
		key := Position{Topic: it.pos.Topic, Partition: it.pos.Partition}
		i, ok := index[key]
		if !ok {
			index[key] = len(rows)
			rows = append(rows, offsetRow{topic: it.pos.Topic, partition: it.pos.Partition, next: it.pos.Offset + 1})
			continue
		}
		rows[i].next = max(rows[i].next, it.pos.Offset+1)
	}
	return rows
}

// offsetsQuery stores the offsets on WifiqOffset nodes. An offset only
// moves forward, so a repeated transaction cannot move it back.
func (s *Sink) offsetsQuery(rows []offsetRow) *Query {
	if len(rows) == 0 {
		return nil
	}
	list := make([]any, len(rows))
	for i, r := range rows {
		list[i] = map[string]any{
			"id":        s.opts.OffsetsID + "|" + r.topic + "|" + strconv.Itoa(int(r.partition)),
			"topic":     r.topic,
			"partition": int64(r.partition),
			"next":      r.next,
		}
	}
	return &Query{
		Text: `UNWIND $offsets AS o
MERGE (n:` + OffsetLabel + ` {id: o.id})
SET n.sink = $sink, n.topic = o.topic, n.partition = o.partition,
    n.offset = CASE WHEN n.offset IS NULL OR o.next > n.offset THEN o.next ELSE n.offset END`,
		Params: map[string]any{"offsets": list, "sink": s.opts.OffsetsID},
	}
}

// deadLetterLine is one line of the dead-letter file.
type deadLetterLine struct {
	Reason    string          `json:"reason"`
	Mode      string          `json:"mode"`
	Topic     string          `json:"topic,omitempty"`
	Partition *int32          `json:"partition,omitempty"`
	Offset    *int64          `json:"offset,omitempty"`
	Record    json.RawMessage `json:"record,omitempty"`
	Value     string          `json:"value,omitempty"`
	Timestamp time.Time       `json:"rejected_at"`
}

// deadLetter writes one rejected item and counts it.
func (s *Sink) deadLetter(it *item, reason string) error {
	s.counts.Rejected++
	attrs := []any{"mode", s.opts.Mode.Name, "reason", reason}
	if it.pos != nil {
		attrs = append(attrs, "topic", it.pos.Topic, "partition", it.pos.Partition, "offset", it.pos.Offset)
	}
	s.log.Warn("rejected a record", attrs...)

	if s.opts.DeadLetter == nil {
		return nil
	}
	line := deadLetterLine{Reason: reason, Mode: s.opts.Mode.Name, Timestamp: time.Now().UTC()}
	if it.pos != nil {
		line.Topic, line.Partition, line.Offset = it.pos.Topic, &it.pos.Partition, &it.pos.Offset
	}
	if it.raw != nil {
		line.Value = string(it.raw)
	} else {
		line.Record = recordJSON(it.rec)
	}

	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("unable to encode a dead letter: %w", err)
	}
	if _, err := s.opts.DeadLetter.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("unable to write the dead letter: %w", err)
	}
	if syncer, ok := s.opts.DeadLetter.(interface{ Sync() error }); ok {
		if err := syncer.Sync(); err != nil {
			return fmt.Errorf("unable to write the dead letter: %w", err)
		}
	}
	return nil
}

// recordJSON encodes a record as a wifiq record line, fields in order.
func recordJSON(rec *record.Record) json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	if !rec.NoTimestamp {
		b.WriteString(`"timestamp":"`)
		b.WriteString(strconv.FormatInt(rec.Timestamp, 10))
		b.WriteByte('"')
	}
	for i, f := range rec.Fields {
		key, _ := json.Marshal(f.Key)
		values, _ := json.Marshal(f.Values)
		if i > 0 || !rec.NoTimestamp {
			b.WriteByte(',')
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(values)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}

// attemptTimeout bounds one transaction, so that a server that stops
// responding without closing the connection is retried like a lost one.
const attemptTimeout = 2 * time.Minute

// retry runs fn until it succeeds, fails with an error that a new attempt
// cannot fix, or opts.RetryFor passes. Between attempts it waits 0.5 s,
// doubling up to 30 s.
func (s *Sink) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	deadline := time.Now().Add(s.opts.RetryFor)
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		attemptCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := fn(attemptCtx)
		cancel()
		if err == nil {
			if attempt > 1 {
				s.log.Warn("Neo4j is reachable again", "mode", s.opts.Mode.Name, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryable(err) {
			return err
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("unable to %s after retrying for %s: %w", what, s.opts.RetryFor, err)
		}
		// The last wait ends at the deadline, so the last attempt comes then.
		wait = min(wait, time.Until(deadline))
		s.log.Warn("Neo4j unreachable, will retry", "mode", s.opts.Mode.Name, "attempt", attempt, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// Close closes the driver. It does not flush.
func (s *Sink) Close() {
	if s.server != nil {
		s.server.close()
	}
}
