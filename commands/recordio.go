package commands

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/kafka"
	"github.com/wifiq/wifiq/record"
)

// OutputOptions choose where a command writes records: standard output, or
// a Kafka topic with --to kafka:TOPIC. Every command that writes records
// takes them.
type OutputOptions struct {
	To    string
	Key   string
	Kafka KafkaOptions

	createTopic       bool
	partitions        int32
	replicationFactor int16
	topicConfigs      []string
	// topic is the spec of a topic to create, from check.
	topic *kafka.TopicSpec
}

func (o *OutputOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.To, "to", "-", "write records to `DEST`: - (standard output) or kafka:TOPIC")
	f.StringVar(&o.Key, "key", "", "with --to kafka:TOPIC, key each Kafka record by the first value of this record `field` (default: no key)")
	f.BoolVar(&o.createTopic, "create-topic", false, "with --to kafka:TOPIC, create the topic if it does not exist, keeping records for ever unless --topic-config sets retention.ms")
	f.Int32Var(&o.partitions, "partitions", 0, "partitions of a created topic (default the broker's num.partitions)")
	f.Int16Var(&o.replicationFactor, "replication-factor", 0, "replicas of a created topic (default the broker's default.replication.factor)")
	f.StringArrayVar(&o.topicConfigs, "topic-config", nil, "setting of a created topic, for example retention.ms=-1 (`key=value`, repeatable)")
	o.Kafka.addFlags(cmd)
}

// check validates the flags before any work starts.
func (o *OutputOptions) check(cmd *cobra.Command) error {
	if o.To == "-" {
		if o.Key != "" || o.createTopic {
			return usagef("--key and --create-topic need --to kafka:TOPIC")
		}
		return nil
	}
	spec, err := topicSpec(cmd, o.createTopic, o.partitions, o.replicationFactor, o.topicConfigs)
	if err != nil {
		return err
	}
	o.topic = spec
	if _, ok, err := kafka.ParseAddress(o.To); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("invalid --to %q: want - or kafka:TOPIC", o.To)
		}
		return usageError{err}
	}
	return nil
}

// kafkaTopic returns the topic of --to kafka:TOPIC, or "".
func (o *OutputOptions) kafkaTopic() string {
	topic, ok, _ := kafka.ParseAddress(o.To)
	if !ok {
		return ""
	}
	return topic
}

// recordOutput is an open destination of records.
type recordOutput struct {
	record.Sink
	producer *kafka.Producer
	pipeline *record.Pipeline
	topic    string
}

// open connects the destination. For Kafka it checks the connection and
// the topic first, so a wrong setting fails before any input is read.
func (o *OutputOptions) open(ctx context.Context, g *Globals) (*recordOutput, error) {
	topic := o.kafkaTopic()
	if topic == "" {
		return &recordOutput{Sink: record.NewLineWriter(g.IO.Out)}, nil
	}
	cfg, err := o.Kafka.config(g)
	if err != nil {
		return nil, err
	}
	p, err := kafka.NewProducer(ctx, cfg, kafka.ProducerOptions{Topic: topic, KeyField: o.Key, CreateTopic: o.topic}, g.Log)
	if errors.Is(err, kafka.ErrTopicNotFound) {
		return nil, fmt.Errorf("%w: create it with --create-topic, or let the broker create it with -X allow.auto.create.topics=true", err)
	}
	if err != nil {
		return nil, err
	}
	g.Log.Info("producing", "topic", topic, "kafka", cfg)
	// The producer runs in a goroutine of its own, so that encoding
	// records and sending them use two cores.
	pipeline := record.NewPipeline(p)
	return &recordOutput{Sink: pipeline, producer: p, pipeline: pipeline, topic: topic}, nil
}

// close flushes the destination. For Kafka it waits for the brokers'
// acknowledgements and fails when any record was not acknowledged.
func (out *recordOutput) close(g *Globals) error {
	if out.producer == nil {
		return out.Flush()
	}
	pipeErr := out.pipeline.Close()
	stats, err := out.producer.Close()
	if err == nil {
		err = pipeErr
	}
	if !g.Quiet {
		fmt.Fprintf(g.IO.ErrOut, "kafka: %s sent to topic %s, %d acknowledged\n",
			plural(stats.Written, "record"), out.topic, stats.Acknowledged)
	}
	return err
}

// InputOptions choose where a command reads records from: files or
// standard input (the arguments), or a Kafka topic with --from kafka:TOPIC.
type InputOptions struct {
	From   string
	Start  string
	Follow bool
	Group  string
	Kafka  KafkaOptions
	// Registry decodes Avro values. Commands that add no --registry flag
	// use $WIFIQ_SCHEMA_REGISTRY_URL.
	Registry RegistryOptions
	// start is the parsed --start.
	start kafka.StartPosition
	// wrapFiles, if set, wraps the reader of each file and of standard
	// input, to leave out lines before they are parsed.
	wrapFiles func(io.Reader) io.Reader
	// idle, if set, is called whenever a read of a topic has handled every
	// record fetched so far, so that a following command can flush what it
	// buffered while the input is quiet.
	idle func() error
	// consumer and lastRead are the open read of a topic and its last
	// message in each partition, until finish.
	consumer *kafka.Consumer
	lastRead map[int32]kafka.Message
}

func (o *InputOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.From, "from", "", "read records from `SOURCE` kafka:TOPIC instead of files or standard input")
	f.StringVar(&o.Start, "start", "", "with --from kafka:TOPIC, where to start: earliest (default), latest, a time (RFC 3339 or @ms) or an offset")
	f.BoolVar(&o.Follow, "follow", false, "with --from kafka:TOPIC, keep reading new records until interrupted, instead of stopping at the end")
	f.StringVar(&o.Group, "group", "", "with --from kafka:TOPIC, read as this consumer `group` and commit its offsets")
	o.Kafka.addFlags(cmd)
}

// check validates the flags against the file arguments.
func (o *InputOptions) check(args []string) error {
	if o.From == "" {
		if o.Start != "" || o.Follow || o.Group != "" {
			return usagef("--start, --follow and --group need --from kafka:TOPIC")
		}
		return nil
	}
	if _, ok, err := kafka.ParseAddress(o.From); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("invalid --from %q: want kafka:TOPIC", o.From)
		}
		return usageError{err}
	}
	if len(args) > 0 {
		return usagef("--from kafka:TOPIC reads no files, but %d were given", len(args))
	}
	if o.Start != "" {
		start, err := kafka.ParseStartPosition(o.Start)
		if err != nil {
			return usageError{err}
		}
		o.start = start
	}
	return nil
}

// readRecords calls fn for every record of the input and returns the
// number of lines or messages that were not records. Files are read in
// argument order, standard input when there are none.
func (o *InputOptions) readRecords(ctx context.Context, g *Globals, inputs []string, fn func(*record.Record) error) (int, error) {
	if o.From != "" {
		return o.readTopic(ctx, g, fn)
	}
	return readRecordFiles(ctx, g, inputs, o.wrapFiles, fn)
}

// readTopic reads the --from topic. With --follow it ends when ctx does,
// which is the normal end of a following read.
func (o *InputOptions) readTopic(ctx context.Context, g *Globals, fn func(*record.Record) error) (int, error) {
	topic, _, _ := kafka.ParseAddress(o.From)
	cfg, err := o.Kafka.config(g)
	if err != nil {
		return 0, err
	}
	decoder, err := o.Registry.decoder()
	if err != nil {
		return 0, err
	}
	consumer, err := kafka.NewConsumer(ctx, cfg, kafka.ConsumerOptions{Topic: topic, Start: o.start, Follow: o.Follow, Group: o.Group}, g.Log)
	if err != nil {
		return 0, err
	}
	g.Log.Info("consuming", "topic", topic, "group", o.Group, "follow", o.Follow, "kafka", cfg)
	reader := kafka.NewRecordReader(consumer)
	reader.SetValueDecoder(decoder)
	skipped := 0
	var readErr error
	// The offsets are committed by finish, once the command has written
	// its result: a group must not skip records whose result was lost.
	last := map[int32]kafka.Message{}
	for {
		rec, msg, err := reader.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if valueErr, ok := errors.AsType[*kafka.ValueError](err); ok {
			skipped++
			logValueError(g, valueErr, skipped)
			last[msg.Partition] = msg
			continue
		}
		if err != nil {
			if o.Follow && ctx.Err() != nil {
				break // interrupted: the end of a following read
			}
			readErr = explainRegistryError(err)
			break
		}
		if err := fn(rec); err != nil {
			readErr = err
			break
		}
		last[msg.Partition] = msg
		if o.idle != nil && consumer.Buffered() == 0 {
			if err := o.idle(); err != nil {
				readErr = err
				break
			}
		}
	}
	o.consumer, o.lastRead = consumer, last
	return skipped, readErr
}

// finish ends a read of a topic: when the command's result was written
// (ok), the group commits the offsets of the records read; then the
// consumer closes. It does nothing for files.
func (o *InputOptions) finish(ok bool) error {
	if o.consumer == nil {
		return nil
	}
	if ok {
		for _, msg := range o.lastRead {
			o.consumer.MarkProcessed(msg)
		}
	}
	err := o.consumer.Close()
	o.consumer, o.lastRead = nil, nil
	return err
}

// unreadableInputsError reports input files that could not be opened; the
// other files were read.
type unreadableInputsError struct {
	failed []error
	total  int
}

func (e *unreadableInputsError) Error() string {
	msgs := make([]string, len(e.failed))
	for i, err := range e.failed {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("%d of %d inputs could not be read: %s", len(e.failed), e.total, strings.Join(msgs, "; "))
}

// readRecordFiles reads record lines from files, or standard input for "-"
// or no files at all. A file that cannot be opened is reported and the
// others are read; the error is then an *unreadableInputsError, or a plain
// error when no input could be read at all.
func readRecordFiles(ctx context.Context, g *Globals, inputs []string, wrap func(io.Reader) io.Reader, fn func(*record.Record) error) (int, error) {
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	skipped := 0
	var failed []error
	for _, name := range inputs {
		n, err := readRecordFile(ctx, g, name, skipped, wrap, fn)
		skipped += n
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) && pathErr.Op == "open" {
			g.Log.Error("cannot open input", "file", name, "err", pathErr.Err)
			failed = append(failed, err)
			continue
		}
		if err != nil {
			return skipped, err
		}
	}
	if len(failed) == len(inputs) {
		return skipped, (&unreadableInputsError{failed, len(inputs)}).asFatal()
	}
	if len(failed) > 0 {
		return skipped, &unreadableInputsError{failed, len(inputs)}
	}
	return skipped, nil
}

// recordBufferSize is the read buffer of record input, as record.NewReader
// and the probe filter size theirs, so that wrapping one in another adds no
// copy.
const recordBufferSize = 256 * 1024

// checkRecordFile rejects a directory, a capture and a compressed file,
// which would otherwise give an error for every line, with what to do
// instead.
func checkRecordFile(f *os.File) error {
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return errors.New("is a directory, and this command reads files of records: decode the captures in it with wifiq replay-pcap DIR and pipe the records here, or run SQL over them with wifiq query")
	}
	head := make([]byte, 4)
	if n, _ := f.ReadAt(head, 0); n < len(head) {
		return nil // empty, short or not seekable (a pipe): the reader decides
	}
	return checkRecordStart(head, "FILE")
}

// checkRecordStart rejects input whose first four bytes, head, start a
// capture or a gzip file. name is how the advice names the input.
func checkRecordStart(head []byte, name string) error {
	switch binary.BigEndian.Uint32(head) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a:
		return fmt.Errorf("is a capture, not records: decode it with wifiq replay-pcap %s and pipe the records here, or run SQL over it with wifiq query", name)
	}
	if head[0] == 0x1f && head[1] == 0x8b {
		return errors.New("is compressed with gzip: decompress it with gzip -dc and pipe the records here, or a compressed capture to wifiq replay-pcap -")
	}
	return nil
}

// asFatal turns the report into a plain error: nothing was read.
func (e *unreadableInputsError) asFatal() error { return errors.New(e.Error()) }

func readRecordFile(ctx context.Context, g *Globals, name string, skippedBefore int, wrap func(io.Reader) io.Reader, fn func(*record.Record) error) (int, error) {
	var r io.Reader = g.IO.In
	source := "stdin"
	if name == "-" {
		// Standard input cannot be read twice, so its start is peeked at
		// through the buffer that the record reader then reads from.
		in := bufio.NewReaderSize(g.IO.In, recordBufferSize)
		if head, err := in.Peek(4); err == nil {
			if err := checkRecordStart(head, "-"); err != nil {
				return 0, fmt.Errorf("standard input %w", err)
			}
		}
		r = in
	} else {
		f, err := os.Open(name)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := checkRecordFile(f); err != nil {
			return 0, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		r, source = f, name
	}
	if wrap != nil {
		r = wrap(r)
	}
	reader := record.NewReader(r, source)
	skipped := 0
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return skipped, ctx.Err()
		}
		rec, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return skipped, nil
		}
		if lineErr, ok := errors.AsType[*record.LineError](err); ok {
			skipped++
			logLineError(g, lineErr, skippedBefore+skipped)
			continue
		}
		if err != nil {
			return skipped, fmt.Errorf("unable to read %s: %w", source, err)
		}
		if err := fn(rec); err != nil {
			return skipped, err
		}
	}
}

// logLineError reports a line that is not a record, the first
// maxReportedLineErrors times, then once that only the count follows.
func logLineError(g *Globals, err *record.LineError, skipped int) {
	switch {
	case skipped <= maxReportedLineErrors:
		g.Log.Warn("skipped a line that is not a record", "source", err.Source, "line", err.Line, "reason", err.Reason)
	case skipped == maxReportedLineErrors+1:
		g.Log.Warn("more lines are not records; only the count is reported from now on")
	}
}

// sinkInput is an input of a sink: its lines may be report rows without a
// "timestamp", which the sinks write like any record.
type sinkInput struct{ io.Reader }

// TimestampOptional makes record.NewReader pass lines without a timestamp.
func (sinkInput) TimestampOptional() bool { return true }

// readSinkInputs is readRecordFiles for the sinks, which also take lines
// without a timestamp, such as the rows of wifiq stats devices -o json.
func readSinkInputs(ctx context.Context, g *Globals, inputs []string, fn func(*record.Record) error) (int, error) {
	return readRecordFiles(ctx, g, inputs, func(r io.Reader) io.Reader { return sinkInput{r} }, fn)
}
