package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/kafka"
	"github.com/wifiq/wifiq/record"
	"github.com/wifiq/wifiq/sink/postgres"
)

// SinkPostgresOptions are the settings of wifiq sink postgres.
type SinkPostgresOptions struct {
	Input      InputOptions
	Sink       postgres.Options
	DSN        string
	DeadLetter string
	BatchSize  int
	// FlushInterval bounds how long a record waits in a partial batch
	// while more records keep arriving.
	FlushInterval time.Duration
	Inputs        []string
}

// NewCmdSinkPostgres builds the sink postgres command.
func NewCmdSinkPostgres(g *Globals) *cobra.Command {
	opts := &SinkPostgresOptions{}
	var pk, tsFields, arrayFields string
	cmd := &cobra.Command{
		Use:   "postgres --table NAME [--pk A,B] [FILE|-]... | --from kafka:TOPIC",
		Short: "Write records into a PostgreSQL table",
		Long: `Write records into a PostgreSQL table, creating it from the records' fields
and adding a column for every new field. Column types are chosen from the
values of the first batch that has the field: bigint, double precision,
boolean or text, timestamptz for the record timestamp and the fields named
by --timestamp-fields (milliseconds since the Unix epoch or RFC 3339 times),
and text[] for fields with other than one value (every value is kept). A
text column turns into text[] when a later record has several values for it.

Besides records, it takes the rows that reports print with -o json (wifiq
stats devices -o json, for example), which have no "timestamp": a table of
such rows has no timestamp column, and a table with one gets NULL there.
From Kafka, a value without "timestamp" (a changelog row) takes the
message's timestamp.

With --pk each record replaces the row with the same key (INSERT ... ON
CONFLICT DO UPDATE), so writing the same records twice gives the same rows;
without it, records are appended. Records are written in batches: COPY into
a temporary table, then one INSERT ... SELECT per batch.

With --from kafka:TOPIC the next offset of every partition is stored in the
table wifiq_offsets in the transaction of each batch, and a new run starts
after it, so a restart neither loses nor repeats a record. With --group the
group's offsets are committed after the batch is.

A record that does not fit its columns (a value of the wrong type, a NUL
byte, a value over 1 MiB, a row the server refuses) goes to the
--dead-letter file as a JSON line with the reason; the others are written.
While PostgreSQL is unreachable the batch is retried with backoff for
--retry-for, then the command fails without losing anything.

The connection comes from --dsn and the PG* environment variables (PGHOST,
PGPORT, PGUSER, PGDATABASE, ...); the password from PGPASSWORD or a pgpass
file (PGPASSFILE, default ~/.pgpass), never from --dsn.

It exits with status 3 if records were rejected.
` + kafkaSettingsHelp,
		Example: `  wifiq replay-pcap capture.pcap | wifiq sink postgres --table frames
  wifiq sink postgres --table devices --pk wlan_sa --timestamp-fields first_seen,last_seen devices.jsonl
  wifiq stats devices -o json records.jsonl | wifiq sink postgres --table devices --pk device --timestamp-fields earliest,latest
  wifiq sink postgres --from kafka:pcap --group pg-sink --follow --table frames --dead-letter rejected.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			opts.Sink.PrimaryKey = splitList(pk)
			opts.Sink.TimestampFields = splitList(tsFields)
			opts.Sink.ArrayFields = splitList(arrayFields)
			if err := opts.check(); err != nil {
				return err
			}
			return sinkPostgresRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Sink.Table, "table", "", "target `table` (required), created when missing")
	f.StringVar(&pk, "pk", "", "primary key `fields`, comma-separated: upsert by them (default: plain inserts)")
	f.StringVar(&tsFields, "timestamp-fields", "", "`fields` holding milliseconds since the Unix epoch or RFC 3339 times, stored as timestamptz")
	f.StringVar(&arrayFields, "array-fields", "", "`fields` stored as text[] even when the first batch has one value each")
	f.StringVar(&opts.DSN, "dsn", "", "connection string without password, keyword=value or postgres:// URL (default: the PG* environment variables)")
	f.StringVar(&opts.DeadLetter, "dead-letter", "", "append rejected records to this `file` as JSON lines with the reason (default: log them only)")
	f.IntVar(&opts.BatchSize, "batch-size", 5000, "records per transaction")
	f.DurationVar(&opts.FlushInterval, "flush-interval", time.Second, "write a partial batch after this long")
	f.DurationVar(&opts.Sink.RetryFor, "retry-for", 10*time.Minute, "how long to retry while PostgreSQL is unreachable before failing")
	opts.Input.addFlags(cmd)
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (o *SinkPostgresOptions) check() error {
	if o.Sink.Table == "" {
		return usagef("missing --table: name the PostgreSQL table to write")
	}
	if o.BatchSize < 1 {
		return usagef("invalid --batch-size %d: want 1 or more", o.BatchSize)
	}
	if o.FlushInterval <= 0 || o.Sink.RetryFor <= 0 {
		if o.FlushInterval <= 0 {
			return usagef("invalid --flush-interval %s: want a positive duration such as 1s", o.FlushInterval)
		}
		return usagef("invalid --retry-for %s: want a positive duration such as 10m", o.Sink.RetryFor)
	}
	if err := postgres.CheckDSN(o.DSN); err != nil {
		return usageError{err}
	}
	return o.Input.check(o.Inputs)
}

func sinkPostgresRun(ctx context.Context, g *Globals, opts *SinkPostgresOptions) error {
	deadLetter, err := openDeadLetter(opts.DeadLetter)
	if err != nil {
		return err
	}
	if deadLetter != nil {
		defer deadLetter.Close()
		opts.Sink.DeadLetter = deadLetter
	}
	connect, err := postgres.Connector(opts.DSN)
	if err != nil {
		return usageError{err}
	}
	g.Log.Info("connecting", "postgres", postgres.Describe(opts.DSN), "table", opts.Sink.Table)
	s, err := postgres.Open(ctx, connect, opts.Sink, g.Log)
	if err != nil {
		return err
	}
	defer s.Close()

	skipped := 0
	if opts.Input.From != "" {
		err = sinkTopic(ctx, g, opts, s)
	} else {
		skipped, err = sinkFiles(ctx, g, opts.Inputs, opts.BatchSize, s, func(rec *record.Record) { s.Add(rec, nil) })
	}

	counts := s.Counts()
	if !g.Quiet {
		fmt.Fprintf(g.IO.ErrOut, "postgres: %s written to table %s in %s; %s rejected\n",
			plural(counts.Written, "row"), opts.Sink.Table, plural(counts.Batches, "transaction"), plural(counts.Rejected, "record"))
	}
	return sinkResult(err, opts.Input.Follow, counts.Rejected, opts.DeadLetter, skipped)
}

// sinkTopic reads the --from topic into the sink. Without a group it
// starts at the offsets stored with the table. A group starts at its own
// committed offsets, which may lag behind the stored ones when the process
// died between the database commit and the group commit, so messages
// before the stored offsets are skipped.
func sinkTopic(ctx context.Context, g *Globals, opts *SinkPostgresOptions, s *postgres.Sink) error {
	topic, _, _ := kafka.ParseAddress(opts.Input.From)
	stored, err := s.StoredOffsets(ctx, topic)
	if err != nil {
		return err
	}
	cfg, err := opts.Input.Kafka.config(g)
	if err != nil {
		return err
	}
	decoder, err := opts.Input.Registry.decoder()
	if err != nil {
		return err
	}
	consumerOpts := kafka.ConsumerOptions{Topic: topic, Start: opts.Input.start, Follow: opts.Input.Follow, Group: opts.Input.Group}
	if opts.Input.Group == "" && len(stored) > 0 {
		consumerOpts.StartOffsets = stored
	}
	consumer, err := kafka.NewConsumer(ctx, cfg, consumerOpts, g.Log)
	if err != nil {
		return err
	}
	g.Log.Info("consuming", "topic", topic, "group", opts.Input.Group, "stored_offsets", stored, "kafka", cfg)

	readErr := explainRegistryError(sinkMessages(ctx, opts, newRecordReader(consumer, decoder), s, stored))
	if err := consumer.Close(); readErr == nil {
		readErr = err
	}
	return readErr
}

func sinkMessages(ctx context.Context, opts *SinkPostgresOptions, reader *kafka.RecordReader, s *postgres.Sink, stored map[int32]int64) error {
	consumer := reader.Consumer()
	var pending []kafka.Message
	lastFlush := time.Now()
	flush := func() error {
		if err := s.Flush(ctx); err != nil {
			return err
		}
		// The group commits only what the database has committed.
		consumer.MarkProcessed(pending...)
		pending = pending[:0]
		lastFlush = time.Now()
		return nil
	}
	for {
		rec, msg, err := reader.Read(ctx)
		if errors.Is(err, io.EOF) {
			return flush()
		}
		valueErr, _ := errors.AsType[*kafka.ValueError](err)
		switch {
		case valueErr != nil:
			s.Reject(msg.Value, "not a record: "+valueErr.Reason, &postgres.Position{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset})
		case err != nil:
			if flushErr := flush(); flushErr != nil {
				return flushErr
			}
			return err
		case msg.Offset < stored[msg.Partition]:
			// Written by an earlier run whose group commit was lost.
		default:
			s.Add(rec, &postgres.Position{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset})
		}
		pending = append(pending, msg)
		if s.Pending() >= opts.BatchSize || consumer.Buffered() == 0 || time.Since(lastFlush) >= opts.FlushInterval {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}
