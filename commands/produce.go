package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/kafka"
	"github.com/wifiq/wifiq/record"
)

// ProduceOptions are the settings of wifiq produce.
type ProduceOptions struct {
	Inputs   []string
	Kafka    *kafka.Config
	Producer kafka.ProducerOptions
	// KeyField is the record field whose first value keys each Kafka
	// record; empty sends records without a key.
	KeyField string
	// Strict stops at the first line that is not a record.
	Strict bool
}

// NewCmdProduce builds the produce command.
func NewCmdProduce(g *Globals) *cobra.Command {
	opts := &ProduceOptions{}
	var kafkaOpts KafkaOptions
	var compression string
	var linger time.Duration
	var createTopic bool
	var partitions int32
	var replicationFactor int16
	var topicConfigs []string
	cmd := &cobra.Command{
		Use:   "produce --topic TOPIC [FILE|-]...",
		Short: "Send records to a Kafka topic",
		Long: `Read records (JSON lines in classic or tshark 4.0 style, or tshark's own
-T ek output) from the files or standard input and send each one to a Kafka
topic. The value of a Kafka record is the record as one line of JSON in
wifiq's flat form (tshark -T ek output is flattened, and a line that wifiq
wrote goes out byte for byte); the Kafka timestamp is the record's event
time. Without --key the records spread evenly over the partitions; with
--key FIELD all records with the same first value of FIELD go to one
partition.

Writes are idempotent, so retries never duplicate a record. At the end of
the input, or on SIGINT or SIGTERM, the command waits until the brokers
acknowledge every record sent, then prints how many were acknowledged. It
exits with status 1 if any record was not acknowledged, 130 if it was
interrupted, and 3 if input lines that are not records were skipped. On a
terminal a progress line is drawn on stderr.

Kafka deletes records by their timestamp, which is the capture time: with
the broker's default retention.ms of 7 days, the records of an older capture
are deleted at the next retention check. --create-topic therefore creates
topics with retention.ms=-1 (keep for ever) unless --topic-config sets it;
give an existing topic that setting before you send old captures to it.
` + kafkaSettingsHelp,
		Example: `  wifiq replay-pcap capture.pcapng | wifiq produce --brokers 127.0.0.1:9092 --topic pcap
  wifiq produce --kafka-config client.properties --topic pcap --key wlan_sa records.jsonl
  wifiq produce --topic pcap --create-topic --partitions 6 --topic-config retention.ms=604800000 live.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Producer.Topic == "" {
				return usagef("missing --topic: name the Kafka topic to write to")
			}
			if err := kafka.ValidateTopic(opts.Producer.Topic); err != nil {
				return usagef("invalid --topic: %v", err)
			}
			cfg, err := kafkaOpts.config(g)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("compression") {
				if cfg.Compression, err = kafka.ParseCompression(compression); err != nil {
					return usagef("invalid --compression %q: want one of none, gzip, snappy, lz4, zstd", compression)
				}
			}
			if cmd.Flags().Changed("linger") {
				if linger < 0 {
					return usagef("invalid --linger %v: want 0 or more", linger)
				}
				cfg.Linger = linger
			}
			opts.Kafka = cfg

			switch opts.Producer.Partitioner {
			case kafka.PartitionerSticky:
			case kafka.PartitionerRoundRobin:
				if opts.KeyField != "" {
					return usagef("--partitioner round-robin ignores keys: drop --key or use --partitioner sticky")
				}
			default:
				return usagef("invalid --partitioner %q: want sticky or round-robin", opts.Producer.Partitioner)
			}
			opts.KeyField = strings.ReplaceAll(opts.KeyField, ".", "_")

			if opts.Producer.CreateTopic, err = topicSpec(cmd, createTopic, partitions, replicationFactor, topicConfigs); err != nil {
				return err
			}
			opts.Inputs = args
			return produceRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Producer.Topic, "topic", "t", "", "Kafka `topic` to write to (required)")
	f.StringVarP(&opts.KeyField, "key", "k", "", "key records by the first value of this record `field` (wlan_sa or wlan.sa); records without it get no key")
	f.StringVar(&compression, "compression", "", "batch compression: {none|gzip|snappy|lz4|zstd} (default compression.type, else lz4)")
	f.DurationVar(&linger, "linger", 0, "wait this long for more records before sending a batch (default linger.ms, else 10ms)")
	f.StringVar(&opts.Producer.Partitioner, "partitioner", kafka.PartitionerSticky, "how records without a key spread: {sticky|round-robin}")
	f.BoolVar(&createTopic, "create-topic", false, "create the topic if it does not exist, keeping records for ever unless --topic-config sets retention.ms")
	f.Int32Var(&partitions, "partitions", 0, "partitions of a created topic (default the broker's num.partitions)")
	f.Int16Var(&replicationFactor, "replication-factor", 0, "replicas of a created topic (default the broker's default.replication.factor)")
	f.StringArrayVar(&topicConfigs, "topic-config", nil, "setting of a created topic, for example retention.ms=-1 (`key=value`, repeatable)")
	f.BoolVar(&opts.Strict, "strict", false, "stop at the first input line that is not a record instead of skipping it")
	kafkaOpts.addFlags(cmd)
	return cmd
}

// topicSpec turns the topic creation flags into a spec, or nil without
// --create-topic.
func topicSpec(cmd *cobra.Command, create bool, partitions int32, replicationFactor int16, configs []string) (*kafka.TopicSpec, error) {
	if !create {
		for _, name := range []string{"partitions", "replication-factor", "topic-config"} {
			if cmd.Flags().Changed(name) {
				return nil, usagef("--%s applies only with --create-topic", name)
			}
		}
		return nil, nil
	}
	if partitions < 0 {
		return nil, usagef("invalid --partitions %d: want 1 or more", partitions)
	}
	if replicationFactor < 0 {
		return nil, usagef("invalid --replication-factor %d: want 1 or more", replicationFactor)
	}
	// Kafka deletes records by their timestamp, which is the capture time:
	// with the broker's default retention, the records of a capture older
	// than a week would be deleted at the next retention check. A created
	// topic keeps its records unless --topic-config sets retention.ms.
	spec := &kafka.TopicSpec{Partitions: partitions, ReplicationFactor: replicationFactor, Configs: map[string]string{"retention.ms": "-1"}}
	for _, kv := range configs {
		key, value, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return nil, usagef("invalid --topic-config %q: want key=value, for example retention.ms=-1", kv)
		}
		spec.Configs[key] = value
	}
	return spec, nil
}

// produceCounts are the input counts of a produce run. The reading
// goroutine updates them while the progress line and an interrupted run
// read them.
type produceCounts struct {
	records atomic.Int64 // records read and handed to the producer
	skipped atomic.Int64 // input lines that are not records
	keyless atomic.Int64 // records without the key field
}

func produceRun(ctx context.Context, g *Globals, opts *ProduceOptions) error {
	if err := checkInputs(opts.Inputs); err != nil {
		return err
	}

	producer, err := kafka.NewProducer(ctx, opts.Kafka, opts.Producer, g.Log)
	if errors.Is(err, kafka.ErrTopicNotFound) {
		return fmt.Errorf("%w: create it with --create-topic, or let the broker create it with -X allow.auto.create.topics=true", err)
	}
	if err != nil {
		return err
	}
	g.Log.Info("producing", "topic", opts.Producer.Topic, "kafka", opts.Kafka)

	counts := &produceCounts{}
	progress := startProgress(g, func() string { return produceProgress(producer.Stats(), counts) })

	// Reading runs on its own goroutine, so that SIGINT or SIGTERM stops a
	// run whose input blocks (a pipe from a live capture) and the records
	// sent so far are flushed.
	done := make(chan error, 1)
	go func() { done <- sendInputs(ctx, g, opts, producer, counts) }()
	var readErr error
	select {
	case readErr = <-done:
	case <-ctx.Done():
		readErr = ctx.Err()
	}

	stats, closeErr := producer.Close()
	progress.stop()
	return produceResult(g, opts, stats, counts, readErr, closeErr)
}

// checkInputs fails before connecting when an input file cannot be opened.
func checkInputs(inputs []string) error {
	for _, name := range inputs {
		if name == "-" {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}

// sendInputs reads every input (standard input when there is none) and
// writes its records to the producer.
func sendInputs(ctx context.Context, g *Globals, opts *ProduceOptions, producer *kafka.Producer, counts *produceCounts) error {
	inputs := opts.Inputs
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	var line []byte
	for _, name := range inputs {
		r, source, closeInput, err := openInput(g, name)
		if err != nil {
			return err
		}
		reader := record.NewReader(r, source)
		for {
			rec, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if lineErr, ok := errors.AsType[*record.LineError](err); ok {
				if stop := skipLine(g, opts, counts, lineErr); stop != nil {
					closeInput()
					return stop
				}
				continue
			}
			if err != nil {
				closeInput()
				return fmt.Errorf("unable to read %s: %w", source, err)
			}
			if err := ctx.Err(); err != nil {
				closeInput()
				return err
			}

			var key []byte
			if opts.KeyField != "" {
				if v, ok := rec.First(opts.KeyField); ok {
					key = []byte(v)
				} else {
					counts.keyless.Add(1)
				}
			}
			line = appendRecordLine(line[:0], rec)
			if err := producer.WriteKeyed(rec.Timestamp, key, line); err != nil {
				closeInput()
				return err
			}
			counts.records.Add(1)
		}
		closeInput()
	}
	return nil
}

// openInput opens a named input, or returns standard input for "-".
func openInput(g *Globals, name string) (io.Reader, string, func(), error) {
	if name == "-" {
		return g.IO.In, "stdin", func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, "", nil, err
	}
	return f, name, func() { f.Close() }, nil
}

// skipLine counts and reports a line that is not a record. With --strict
// it returns the error that stops the run.
func skipLine(g *Globals, opts *ProduceOptions, counts *produceCounts, lineErr *record.LineError) error {
	if opts.Strict {
		return fmt.Errorf("%w (stopped by --strict)", lineErr)
	}
	skipped := counts.skipped.Add(1)
	switch {
	case skipped <= maxReportedLineErrors:
		g.Log.Warn("skipped a line that is not a record", "source", lineErr.Source, "line", lineErr.Line, "reason", lineErr.Reason)
	case skipped == maxReportedLineErrors+1:
		g.Log.Warn("more lines are not records; only the count is reported from now on", "source", lineErr.Source)
	}
	return nil
}

// produceResult prints the final counts and turns the outcome into the
// command's error: unacknowledged records and interruptions are failures,
// skipped lines make a partial success.
func produceResult(g *Globals, opts *ProduceOptions, stats kafka.Stats, counts *produceCounts, readErr, closeErr error) error {
	skipped := counts.skipped.Load()
	if !g.Quiet {
		fmt.Fprintf(g.IO.ErrOut, "produced %s to topic %s: %d acknowledged, %d not acknowledged; %s skipped\n",
			plural(stats.Written, "record"), opts.Producer.Topic, stats.Acknowledged, stats.Unacknowledged(), plural(skipped, "input line"))
	}
	if keyless := counts.keyless.Load(); keyless > 0 {
		g.Log.Warn("records without the key field were sent without a key", "field", opts.KeyField, "records", keyless)
	}

	var delivery *kafka.DeliveryError
	switch {
	case errors.Is(readErr, context.Canceled) || errors.Is(readErr, context.DeadlineExceeded):
		return interruptedError{fmt.Sprintf("interrupted after %s; %d not acknowledged", plural(stats.Written, "record"), stats.Unacknowledged())}
	case readErr != nil && errors.As(closeErr, &delivery):
		return fmt.Errorf("%w; %v", readErr, closeErr)
	case readErr != nil:
		return readErr
	case closeErr != nil:
		return closeErr
	case skipped > 0:
		return partialError{skippedMessage(skipped, "input line")}
	}
	return nil
}

func produceProgress(stats kafka.Stats, counts *produceCounts) string {
	return fmt.Sprintf("produced %s: %d acknowledged, %d failed, %s skipped",
		plural(stats.Written, "record"), stats.Acknowledged, stats.Failed, plural(counts.skipped.Load(), "input line"))
}

// progressInterval is how often the progress line is redrawn.
const progressInterval = 500 * time.Millisecond

// progressLine redraws a status line on stderr while a command runs, only
// when stderr is a terminal and -q is not given.
type progressLine struct {
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
}

func startProgress(g *Globals, status func() string) *progressLine {
	p := &progressLine{stopCh: make(chan struct{}), done: make(chan struct{})}
	if !g.IO.ErrIsTerminal || g.Quiet {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		ticker := time.NewTicker(progressInterval)
		defer ticker.Stop()
		for {
			select {
			case <-p.stopCh:
				// Erase the line, so that the final report starts clean.
				fmt.Fprint(g.IO.ErrOut, "\r\033[K")
				return
			case <-ticker.C:
				fmt.Fprint(g.IO.ErrOut, "\r\033[K"+status())
			}
		}
	}()
	return p
}

func (p *progressLine) stop() {
	p.stopOnce.Do(func() { close(p.stopCh) })
	<-p.done
}

// appendRecordLine appends rec as one line of JSON in wifiq's flat form,
// without the newline: the timestamp as a string, then each field's array
// of strings, in the record's order.
func appendRecordLine(dst []byte, rec *record.Record) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = strconv.AppendInt(dst, rec.Timestamp, 10)
	dst = append(dst, '"')
	for _, field := range rec.Fields {
		dst = append(dst, ',')
		dst = capture.AppendJSONString(dst, field.Key)
		dst = append(dst, ':', '[')
		for i, v := range field.Values {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = capture.AppendJSONString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}
