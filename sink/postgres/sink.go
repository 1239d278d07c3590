// Package postgres writes wifiq records into a PostgreSQL table.
//
// The table is created from the records' fields and gains a column for
// every new field (ALTER TABLE ADD COLUMN). Records are written in batches:
// COPY into a temporary staging table, then one INSERT ... SELECT that
// upserts on the primary key (ON CONFLICT DO UPDATE) or plainly inserts.
// Kafka offsets of a batch are stored in the table wifiq_offsets in the same
// transaction, so a restarted consumer starts after them and neither loses
// nor applies a record twice. Records that do not fit their column go to a
// dead-letter file with the reason. Lost connections are retried with
// backoff.
package postgres

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

	"github.com/jackc/pgx/v5"

	"github.com/wifiq/wifiq/record"
)

// TimestampColumn is the column of the record's event time.
const TimestampColumn = "timestamp"

// OffsetsTable stores the next Kafka offset to read per topic, partition
// and target table.
const OffsetsTable = "wifiq_offsets"

// Options are the settings of a Sink.
type Options struct {
	Table string
	// PrimaryKey lists the fields of the primary key. Empty means plain
	// inserts without a key.
	PrimaryKey []string
	// TimestampFields are fields that hold milliseconds since the Unix
	// epoch, stored as timestamptz like the record's timestamp.
	TimestampFields []string
	// ArrayFields are fields stored as text[] even when the first batch
	// has one value for them.
	ArrayFields []string
	// DeadLetter receives one JSON line per rejected record; nil drops them
	// after logging.
	DeadLetter io.Writer
	// RetryFor is how long a batch is retried while the server is
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
	Written  int64 // rows inserted or updated
	Rejected int64 // records sent to the dead letter
	Batches  int64
}

// row is one buffered record.
type row struct {
	timestamp int64
	// noTimestamp marks a row without "timestamp", such as a report row,
	// whose timestamp column stays NULL.
	noTimestamp bool
	fields      []record.Field
	// pos is the Kafka message of the row, nil for other input.
	pos *Position
	// raw is the message value of a Kafka message that is not a record;
	// such a row only goes to the dead letter.
	raw    []byte
	reason string
}

// Sink writes records to one table. It is for one goroutine at a time.
type Sink struct {
	opts    Options
	connect func(context.Context) (*pgx.Conn, error)
	conn    *pgx.Conn
	log     *slog.Logger

	columns map[string]columnType
	order   []string // column names in creation order
	tableOK bool
	pending []row
	offsets map[Position]struct{}
	counts  Counts
	isTs    map[string]bool
	isArray map[string]bool
	isKey   map[string]bool
}

// Open connects and reads the columns of the table when it exists.
func Open(ctx context.Context, connect func(context.Context) (*pgx.Conn, error), opts Options, log *slog.Logger) (*Sink, error) {
	if err := checkIdentifier("table", opts.Table); err != nil {
		return nil, err
	}
	for _, f := range opts.PrimaryKey {
		if err := checkIdentifier("primary key field", f); err != nil {
			return nil, err
		}
	}
	if opts.RetryFor == 0 {
		opts.RetryFor = 10 * time.Minute
	}
	s := &Sink{
		opts: opts, connect: connect, log: log,
		columns: map[string]columnType{}, offsets: map[Position]struct{}{},
		isTs: set(opts.TimestampFields), isArray: set(opts.ArrayFields), isKey: set(opts.PrimaryKey),
	}
	s.isTs[TimestampColumn] = true
	err := s.retry(ctx, "connect", func(ctx context.Context) error { return s.loadColumns(ctx) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

func set(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func checkIdentifier(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("missing %s name", what)
	case len(name) > maxIdentifierBytes:
		return fmt.Errorf("invalid %s name %q: longer than PostgreSQL's limit of %d bytes", what, truncate(name), maxIdentifierBytes)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("invalid %s name %q: contains a NUL byte", what, name)
	}
	return nil
}

// loadColumns reads the existing columns of the table and creates the
// offsets table.
func (s *Sink) loadColumns(ctx context.Context) error {
	conn, err := s.connection(ctx)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+pgx.Identifier{OffsetsTable}.Sanitize()+` (
		topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL, "table" text NOT NULL,
		PRIMARY KEY ("table", topic, partition))`)
	if err != nil {
		return fmt.Errorf("unable to create table %s: %w", OffsetsTable, err)
	}
	rows, err := conn.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
		pgx.Identifier{s.opts.Table}.Sanitize())
	if err != nil {
		return fmt.Errorf("unable to read the columns of table %s: %w", s.opts.Table, err)
	}
	s.columns, s.order = map[string]columnType{}, nil
	for rows.Next() {
		var name, typeName string
		if err := rows.Scan(&name, &typeName); err != nil {
			return err
		}
		t, ok := parseColumnType(typeName)
		if !ok {
			rows.Close()
			return permanentError{fmt.Errorf("column %q of table %s has type %s, which this sink does not write: use another --table", name, s.opts.Table, typeName)}
		}
		s.columns[name] = t
		s.order = append(s.order, name)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.tableOK = len(s.order) > 0
	return nil
}

// StoredOffsets returns the next offset to read per partition of topic, as
// the last committed batch stored them.
func (s *Sink) StoredOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	offsets := map[int32]int64{}
	err := s.retry(ctx, "read offsets", func(ctx context.Context) error {
		conn, err := s.connection(ctx)
		if err != nil {
			return err
		}
		rows, err := conn.Query(ctx, `SELECT partition, "offset" FROM `+pgx.Identifier{OffsetsTable}.Sanitize()+
			` WHERE "table" = $1 AND topic = $2`, s.opts.Table, topic)
		if err != nil {
			return err
		}
		var partition int32
		var offset int64
		_, err = pgx.ForEachRow(rows, []any{&partition, &offset}, func() error {
			offsets[partition] = offset
			return nil
		})
		return err
	})
	return offsets, err
}

// Add buffers a record. The record is copied, so the caller may reuse it.
// pos is nil for records that do not come from Kafka.
func (s *Sink) Add(rec *record.Record, pos *Position) {
	c := rec.Clone()
	s.pending = append(s.pending, row{timestamp: c.Timestamp, noTimestamp: c.NoTimestamp, fields: c.Fields, pos: pos})
	s.addPosition(pos)
}

// Reject buffers a Kafka message that is not a record: it goes to the dead
// letter with the reason when the batch is written, and its offset counts
// as done.
func (s *Sink) Reject(value []byte, reason string, pos *Position) {
	s.pending = append(s.pending, row{raw: append([]byte(nil), value...), reason: reason, pos: pos})
	s.addPosition(pos)
}

func (s *Sink) addPosition(pos *Position) {
	if pos != nil {
		s.offsets[*pos] = struct{}{}
	}
}

// Pending returns the number of buffered records.
func (s *Sink) Pending() int { return len(s.pending) }

// Counts returns the totals so far.
func (s *Sink) Counts() Counts { return s.counts }

// Flush writes the buffered records and their Kafka offsets in one
// transaction. When it returns nil, the batch is committed.
func (s *Sink) Flush(ctx context.Context) error {
	if len(s.pending) == 0 && len(s.offsets) == 0 {
		return nil
	}
	b, err := s.prepare()
	if err != nil {
		return err
	}
	if err := s.writeDeadLetters(b.rejected); err != nil {
		return err
	}
	attempt := 0
	err = s.retry(ctx, "write batch", func(ctx context.Context) error {
		attempt++
		// A connection lost during COMMIT leaves unknown whether the
		// batch committed. Its stored offsets tell, so a retry does not
		// insert its rows twice.
		// NOTE: a batch without Kafka offsets (file or stdin input) has no
		// such record, so without --pk it may still be written twice here.
		if attempt > 1 {
			committed, err := s.batchCommitted(ctx, b)
			if err != nil {
				return err
			}
			if committed {
				s.log.Warn("the batch was committed before the connection was lost; not writing it again",
					"table", s.opts.Table, "rows", len(b.rows))
				return nil
			}
		}
		return s.writeBatch(ctx, b)
	})
	if err != nil {
		return err
	}
	for _, col := range b.newColumns {
		s.columns[col.name] = col.typ
		s.order = append(s.order, col.name)
	}
	for _, name := range b.arrayColumns {
		s.columns[name] = typeTextArray
	}
	s.tableOK = true
	s.counts.Written += int64(len(b.rows) - len(b.serverRejected))
	s.counts.Rejected += int64(len(b.rejected) + len(b.serverRejected))
	s.counts.Batches++
	s.pending = s.pending[:0]
	s.offsets = map[Position]struct{}{}
	return nil
}

// batchCommitted reports whether wifiq_offsets already stores, for every
// partition of the batch, the batch's next offset or a later one. With one
// sink per table, only the batch's own committed transaction stores it.
// A batch without offsets reports false.
func (s *Sink) batchCommitted(ctx context.Context, b *batch) (bool, error) {
	if len(b.offsets) == 0 {
		return false, nil
	}
	conn, err := s.connection(ctx)
	if err != nil {
		return false, err
	}
	for pos, next := range b.offsets {
		var stored int64
		err := conn.QueryRow(ctx, `SELECT "offset" FROM `+pgx.Identifier{OffsetsTable}.Sanitize()+
			` WHERE "table" = $1 AND topic = $2 AND partition = $3`, s.opts.Table, pos.Topic, pos.Partition).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if stored < next {
			return false, nil
		}
	}
	return true, nil
}

// deadLetter is one line of the dead-letter file.
type deadLetter struct {
	Reason    string          `json:"reason"`
	Table     string          `json:"table"`
	Topic     string          `json:"topic,omitempty"`
	Partition *int32          `json:"partition,omitempty"`
	Offset    *int64          `json:"offset,omitempty"`
	Record    json.RawMessage `json:"record,omitempty"`
	Value     string          `json:"value,omitempty"`
	Timestamp time.Time       `json:"rejected_at"`
}

// writeDeadLetters writes rejected records before their batch commits, so
// that a crash may repeat a dead letter but never lose one.
func (s *Sink) writeDeadLetters(rejected []rejection) error {
	for i, r := range rejected {
		switch {
		case i < 10 && r.row.pos != nil:
			s.log.Warn("rejected a record", "table", s.opts.Table, "reason", r.reason,
				"topic", r.row.pos.Topic, "partition", r.row.pos.Partition, "offset", r.row.pos.Offset)
		case i < 10:
			s.log.Warn("rejected a record", "table", s.opts.Table, "reason", r.reason)
		case i == 10:
			s.log.Warn("more records of this batch were rejected; only the count is reported", "table", s.opts.Table, "rejected", len(rejected))
		}
		if s.opts.DeadLetter == nil {
			continue
		}
		line := deadLetter{Reason: r.reason, Table: s.opts.Table, Timestamp: time.Now().UTC()}
		if pos := r.row.pos; pos != nil {
			line.Topic, line.Partition, line.Offset = pos.Topic, &pos.Partition, &pos.Offset
		}
		if r.row.raw != nil {
			line.Value = string(r.row.raw)
		} else {
			line.Record = recordJSON(r.row)
		}
		b, err := json.Marshal(line)
		if err != nil {
			return fmt.Errorf("unable to encode a dead letter: %w", err)
		}
		if _, err := s.opts.DeadLetter.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("unable to write the dead letter: %w", err)
		}
	}
	if syncer, ok := s.opts.DeadLetter.(interface{ Sync() error }); ok && len(rejected) > 0 {
		if err := syncer.Sync(); err != nil {
			return fmt.Errorf("unable to write the dead letter: %w", err)
		}
	}
	return nil
}

// recordJSON encodes a row as a wifiq record line, fields in their order.
func recordJSON(r row) json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	if !r.noTimestamp {
		b.WriteString(`"timestamp":"`)
		b.WriteString(strconv.FormatInt(r.timestamp, 10))
		b.WriteByte('"')
	}
	for i, f := range r.fields {
		key, _ := json.Marshal(f.Key)
		values, _ := json.Marshal(f.Values)
		if i > 0 || !r.noTimestamp {
			b.WriteByte(',')
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(values)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}

// retry runs fn until it succeeds, fails with an error that a new attempt
// cannot fix, or opts.RetryFor passes. Between attempts it waits 0.5 s,
// doubling up to 30 s, and reconnects.
func (s *Sink) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	deadline := time.Now().Add(s.opts.RetryFor)
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			if attempt > 1 {
				s.log.Warn("PostgreSQL is reachable again", "table", s.opts.Table, "attempts", attempt)
			}
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
		s.dropConnection()
		if !time.Now().Before(deadline) {
			return fmt.Errorf("unable to %s after retrying for %s: %w", what, s.opts.RetryFor, err)
		}
		// The last wait ends at the deadline, so the last attempt comes then.
		wait = min(wait, time.Until(deadline))
		s.log.Warn("PostgreSQL unreachable, will retry", "table", s.opts.Table, "attempt", attempt, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (s *Sink) connection(ctx context.Context) (*pgx.Conn, error) {
	if s.conn != nil && !s.conn.IsClosed() {
		return s.conn, nil
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	s.conn = conn
	return conn, nil
}

func (s *Sink) dropConnection() {
	if s.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.conn.Close(ctx)
		cancel()
		s.conn = nil
	}
}

// Close closes the connection. It does not flush.
func (s *Sink) Close() {
	s.dropConnection()
}
