package commands

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/kafka"
)

// ConsumeOptions are the settings of wifiq consume.
type ConsumeOptions struct {
	Kafka    *kafka.Config
	Consumer kafka.ConsumerOptions
	Registry RegistryOptions
	// Limit stops after this many records; 0 means no limit.
	Limit int64
}

// NewCmdConsume builds the consume command.
func NewCmdConsume(g *Globals) *cobra.Command {
	opts := &ConsumeOptions{}
	var kafkaOpts KafkaOptions
	var from string
	cmd := &cobra.Command{
		Use:   "consume --topic TOPIC",
		Short: "Write the records of a Kafka topic to standard output",
		Long: `Read the records of a Kafka topic and write them to standard output, one JSON
line each, as they are stored. Messages whose value is not a record are
reported on stderr with their partition and offset, counted and skipped.

By default the command reads every partition up to the end offset it had at
the start and then exits, which suits pipes and cron jobs; an empty topic
ends at once. --follow keeps reading new records until SIGINT or SIGTERM.

--from sets where reading starts in every partition: earliest (the default,
or auto.offset.reset), latest, a time in RFC 3339 such as
2024-05-01T12:00:00Z or as @ and milliseconds since the Unix epoch (the
first record stamped at or after it; later records with earlier event times
are still read), an offset such as 1500, or -N for the last N records of
each partition.

With --group the command joins that consumer group and commits the offsets
of the records it has written out, so the next run resumes after them;
--from then applies only to partitions without a committed offset. A record
written out but not yet committed when the process dies is written again by
the next run; none is skipped.

It exits with status 3 if messages that are not records were skipped, and
130 if it was interrupted before the end of a bounded read (--follow ends
with status 0 when interrupted).

Avro values are written out as the same JSON records that wifiq split
--format avro read. A value whose schema ID the registry does not have, or
that does not decode with its schema, is reported, counted and skipped.
` + registryHelp + kafkaSettingsHelp,
		Example: `  wifiq consume --brokers 127.0.0.1:9092 --topic pcap | wifiq stats
  wifiq consume --kafka-config client.properties --topic pcap --group nightly-report
  wifiq consume --topic pcap --from 2024-05-01T00:00:00Z --follow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Consumer.Topic == "" {
				return usagef("missing --topic: name the Kafka topic to read")
			}
			if err := kafka.ValidateTopic(opts.Consumer.Topic); err != nil {
				return usagef("invalid --topic: %v", err)
			}
			if from != "" {
				start, err := kafka.ParseStartPosition(from)
				if err != nil {
					return usagef("invalid --from: %v", err)
				}
				opts.Consumer.Start = start
			}
			if opts.Limit < 0 {
				return usagef("invalid --limit %d: want 0 (no limit) or more", opts.Limit)
			}
			cfg, err := kafkaOpts.config(g)
			if err != nil {
				return err
			}
			opts.Kafka = cfg
			return consumeRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Consumer.Topic, "topic", "t", "", "Kafka `topic` to read (required)")
	f.BoolVarP(&opts.Consumer.Follow, "follow", "f", false, "keep reading new records until interrupted")
	f.StringVar(&from, "from", "", "start `position`: earliest, latest, an RFC 3339 time, @MILLISECONDS, an offset or -N (default earliest)")
	f.StringVarP(&opts.Consumer.Group, "group", "g", "", "consumer `group` that commits offsets and resumes where it stopped (default group.id)")
	f.Int64Var(&opts.Limit, "limit", 0, "stop after this many records (default no limit)")
	opts.Registry.addFlags(cmd)
	kafkaOpts.addFlags(cmd)
	return cmd
}

// consumeCounts are the counts of a consume run.
type consumeCounts struct {
	records, skipped int64
}

func consumeRun(ctx context.Context, g *Globals, opts *ConsumeOptions) error {
	decoder, err := opts.Registry.decoder()
	if err != nil {
		return err
	}
	consumer, err := kafka.NewConsumer(ctx, opts.Kafka, opts.Consumer, g.Log)
	if err != nil {
		return err
	}
	g.Log.Info("consuming", "topic", opts.Consumer.Topic, "group", opts.Consumer.Group, "follow", opts.Consumer.Follow, "kafka", opts.Kafka)

	reader := kafka.NewRecordReader(consumer)
	reader.SetValueDecoder(decoder)
	counts, readErr := writeMessages(ctx, g, opts, reader)
	closeErr := consumer.Close()

	if !g.Quiet {
		fmt.Fprintf(g.IO.ErrOut, "consumed %s from topic %s; %s skipped\n",
			plural(counts.records, "record"), opts.Consumer.Topic, plural(counts.skipped, "message"))
	}
	interrupted := errors.Is(readErr, context.Canceled) || errors.Is(readErr, context.DeadlineExceeded)
	switch {
	case interrupted && !opts.Consumer.Follow:
		return interruptedError{fmt.Sprintf("interrupted before the end of topic %s after %s", opts.Consumer.Topic, plural(counts.records, "record"))}
	case readErr != nil && !interrupted:
		return explainRegistryError(readErr)
	case closeErr != nil:
		return closeErr
	case counts.skipped > 0:
		return partialError{skippedMessage(counts.skipped, "message")}
	}
	return nil
}

// How often consume hands written records to the group's offset commits.
const (
	commitEvery    = 10_000
	commitInterval = time.Second
)

// writeMessages writes the record values to standard output. It flushes
// whenever the consumer has no more fetched records at hand, and at least
// every commitEvery records or commitInterval (one fetch can hold a whole
// topic, and a slow reader of the output must not hold back every commit),
// and only then marks the messages written so far as processed, so that a
// group never commits an offset whose record might still sit in the output
// buffer.
func writeMessages(ctx context.Context, g *Globals, opts *ConsumeOptions, reader *kafka.RecordReader) (consumeCounts, error) {
	consumer := reader.Consumer()
	out := bufio.NewWriterSize(g.IO.Out, 64*1024)
	var counts consumeCounts
	var pending []kafka.Message
	lastCommit := time.Now()

	commit := func() error {
		if err := out.Flush(); err != nil {
			return fmt.Errorf("unable to write to standard output: %w", err)
		}
		consumer.MarkProcessed(pending...)
		pending = pending[:0]
		lastCommit = time.Now()
		return nil
	}

	for opts.Limit == 0 || counts.records < opts.Limit {
		_, msg, err := reader.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		valueErr, _ := errors.AsType[*kafka.ValueError](err)
		switch {
		case valueErr != nil:
			counts.skipped++
			logValueError(g, valueErr, int(counts.skipped))
		case err != nil:
			if flushErr := commit(); flushErr != nil {
				return counts, flushErr
			}
			return counts, err
		default:
			out.Write(msg.Value)
			out.WriteByte('\n')
			counts.records++
		}
		pending = append(pending, msg)
		if consumer.Buffered() == 0 || len(pending) >= commitEvery || time.Since(lastCommit) >= commitInterval {
			if err := commit(); err != nil {
				return counts, err
			}
		}
	}
	if counts.skipped > maxReportedLineErrors {
		g.Log.Warn("messages skipped in total", "topic", opts.Consumer.Topic, "skipped", counts.skipped)
	}
	return counts, commit()
}
