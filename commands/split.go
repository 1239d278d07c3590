package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/avro"
	"github.com/wifiq/wifiq/kafka"
	"github.com/wifiq/wifiq/record"
	"github.com/wifiq/wifiq/route"
)

// SplitOptions are the settings of wifiq split.
type SplitOptions struct {
	Inputs []string
	Input  InputOptions
	// Routes maps wlan.fc.type_subtype to a route name: a file name
	// without .jsonl under OutDir, or a topic with --to kafka.
	Routes map[int]string
	Other  string
	Fields []string
	OutDir string
	// ToKafka writes each route to the topic of its name, in Kafka
	// transactions; it needs --from kafka:TOPIC.
	ToKafka         bool
	TransactionalID string
	// Format is the encoding of the values written: json, or avro in the
	// Confluent wire format with schemas in Input.Registry.
	Format string
}

// NewCmdSplit builds the split command.
func NewCmdSplit(g *Globals) *cobra.Command {
	opts := &SplitOptions{}
	var routes []string
	var to string
	cmd := &cobra.Command{
		Use:   "split (--out-dir DIR | --from kafka:TOPIC --to kafka) [FILE|-]...",
		Short: "Route records into one file or topic per frame subtype",
		Long: `Route each record by its wlan.fc.type_subtype, as the ksqlDB statements
CREATE STREAM pcap_probe AS SELECT * FROM pcap WHERE wlan_fc_type_subtype[1]=4
do for each frame kind. The default routes are:

  4 (probe request) -> pcap_probe    27 (RTS) -> pcap_rts    29 (ACK) -> pcap_ack
  8 (beacon)        -> pcap_beacon   28 (CTS) -> pcap_cts    36 (null data) -> pcap_null

--route SUBTYPE=NAME changes a route or adds one. Records of other subtypes go
to --other, or are dropped and counted. --fields keeps only the fields named.

With --out-dir DIR each route is written to DIR/NAME.jsonl (created or
truncated at the start), so split works in a plain pipeline.

With --from kafka:TOPIC --to kafka each route is the topic of its name, and the
run is exactly once: records are read as consumer --group (default
wifiq-split-TOPIC), and the records written and the input offsets are
committed together in one Kafka transaction per batch of input. A run killed
at any point and started again with the same group writes every input record
once, as consumers with isolation.level=read_committed see it. Every output
topic must exist. Two runs at the same time need different
--transactional-id values.

With --to kafka, --format avro writes each value as Avro in the Confluent
wire format instead of JSON: a zero byte, the 4-byte schema ID, then the
Avro binary encoding. The schema of each topic is derived from its records
and registered under the subject TOPIC-value: a record wifiq.TOPIC with
"timestamp" as a long (timestamp-millis) and every other key as an array of
strings that is null by default, so the values keep both value styles
exactly. A record with a key the schema lacks registers a new version with
that field added. When the registry rejects a version, for example because
a user set the subject's compatibility to FULL and changed a field's type,
split stops with the registry's error code and message, and the open
transaction is aborted, so read_committed consumers see none of its
records. Avro input values are decoded in any case.

On stderr split prints the records per route and the number dropped.
` + registryHelp + kafkaSettingsHelp,
		Example: `  wifiq replay-pcap capture.pcapng | wifiq split --out-dir split/
  wifiq split --out-dir split/ --route 4=probes --other rest -e wlan.sa,wlan.ssid records.jsonl
  wifiq split --from kafka:pcap --to kafka --group split
  wifiq split --from kafka:pcap --to kafka --format avro --registry http://127.0.0.1:8081`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Input.check(args); err != nil {
				return err
			}
			opts.Inputs = args
			if err := opts.setRoutes(routes); err != nil {
				return err
			}
			if err := opts.setDestination(to); err != nil {
				return err
			}
			return splitRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&routes, "route", nil, "send records of a subtype to a route, for example 4=probes (`SUBTYPE=NAME`, repeatable; changes or adds to the defaults)")
	f.StringVar(&opts.Other, "other", "", "route `NAME` for records of every other subtype (default: drop and count them)")
	f.StringSliceVarP(&opts.Fields, "fields", "e", nil, "keep only these record `fields` (tshark names or record keys, comma-separated; default all)")
	f.StringVar(&opts.OutDir, "out-dir", "", "write each route to `DIR`/NAME.jsonl")
	f.StringVar(&to, "to", "", "with --from kafka:TOPIC, `kafka` writes each route to the topic of its name, exactly once")
	f.StringVar(&opts.TransactionalID, "transactional-id", "", "with --to kafka, the Kafka transactional.id (default wifiq-split-GROUP)")
	f.StringVar(&opts.Format, "format", "json", "with --to kafka, the value encoding: {json|avro} (avro registers schemas in --registry)")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json", "avro"}, cobra.ShellCompDirectiveNoFileComp))
	opts.Input.Registry.addFlags(cmd)
	opts.Input.addFlags(cmd)
	return cmd
}

// setRoutes applies --route values to the default routes.
func (o *SplitOptions) setRoutes(values []string) error {
	o.Routes = route.DefaultRoutes()
	for _, v := range values {
		subtype, name, err := route.ParseRoute(v)
		if err != nil {
			return usageError{err}
		}
		o.Routes[subtype] = name
	}
	return nil
}

// setDestination checks --out-dir, --to and the names of the routes.
func (o *SplitOptions) setDestination(to string) error {
	switch {
	case to == "kafka":
		o.ToKafka = true
	case to != "":
		return usagef("invalid --to %q: want kafka (each route is the topic of its name), or --out-dir DIR for files", to)
	}
	if o.ToKafka == (o.OutDir != "") {
		return usagef("name one destination: --out-dir DIR for files, or --to kafka with --from kafka:TOPIC")
	}
	if o.TransactionalID != "" && !o.ToKafka {
		return usagef("--transactional-id needs --to kafka")
	}
	if err := o.checkFormat(); err != nil {
		return err
	}
	if !o.ToKafka {
		return nil
	}
	if o.Input.From == "" {
		return usagef("--to kafka needs --from kafka:TOPIC: exactly-once writes commit the input offsets, which files do not have")
	}
	if o.Input.Start != "" {
		return usagef("--start does not apply with --to kafka: the run starts at the group's committed offsets, else at the earliest offset")
	}
	for _, name := range splitDestinations(o) {
		if err := kafka.ValidateTopic(name); err != nil {
			return usagef("invalid route topic %q: %v", name, err)
		}
	}
	topic, _, _ := kafka.ParseAddress(o.Input.From)
	if o.Input.Group == "" {
		o.Input.Group = "wifiq-split-" + topic
	}
	if o.TransactionalID == "" {
		o.TransactionalID = "wifiq-split-" + o.Input.Group
	}
	return nil
}

// checkFormat checks --format and that avro has its registry.
func (o *SplitOptions) checkFormat() error {
	switch o.Format {
	case "json":
		return nil
	case "avro":
	default:
		return usagef("invalid --format %q: want json or avro", o.Format)
	}
	if !o.ToKafka {
		return usagef("--format avro needs --to kafka: route files are JSON lines")
	}
	settings, err := avro.LoadRegistrySettings(o.Input.Registry.URL)
	if err != nil {
		return usageError{err}
	}
	if settings.URL == "" {
		return usagef("--format avro needs a schema registry: set --registry URL or $%s", avro.EnvURL)
	}
	return nil
}

// splitDestinations returns the route names, sorted.
func splitDestinations(o *SplitOptions) []string {
	return route.NewSplitter(o.Routes, o.Other, nil).Destinations()
}

func splitRun(ctx context.Context, g *Globals, opts *SplitOptions) error {
	splitter := route.NewSplitter(opts.Routes, opts.Other, opts.Fields)
	if opts.ToKafka {
		return splitKafka(ctx, g, opts, splitter)
	}

	files, err := route.CreateFiles(opts.OutDir, splitter.Destinations())
	var badName *route.InvalidNameError
	if errors.As(err, &badName) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	skipped, readErr := opts.Input.readRecords(ctx, g, opts.Inputs, func(rec *record.Record) error {
		dest, line, ok := splitter.Route(rec)
		if !ok {
			return nil
		}
		return files.Write(dest, line)
	})
	if err := files.Close(); readErr == nil && err != nil {
		readErr = fmt.Errorf("unable to write the route files: %w", err)
	}
	printSplitCounts(g, splitter.Counts(), splitter.Destinations(), splitter.Dropped())

	var unreadable *unreadableInputsError
	switch {
	case errors.As(readErr, &unreadable):
		return partialError{unreadable.Error()}
	case readErr != nil:
		return readErr
	case skipped > 0:
		return partialError{skippedMessage(int64(skipped), "input line")}
	}
	return nil
}

// splitKafka runs the exactly-once consume-transform-produce loop.
func splitKafka(ctx context.Context, g *Globals, opts *SplitOptions, splitter *route.Splitter) error {
	cfg, err := opts.Input.Kafka.config(g)
	if err != nil {
		return err
	}
	topic, _, _ := kafka.ParseAddress(opts.Input.From)
	tOpts := kafka.TransformOptions{
		InputTopic:      topic,
		Group:           opts.Input.Group,
		TransactionalID: opts.TransactionalID,
		OutputTopics:    splitter.Destinations(),
		Follow:          opts.Input.Follow,
	}
	g.Log.Info("splitting", "topic", topic, "group", tOpts.Group, "transactional_id", tOpts.TransactionalID, "kafka", cfg)

	registry, err := opts.Input.Registry.open()
	if err != nil {
		return err
	}
	var decoder kafka.ValueDecoder
	var encoder *avro.Encoder
	if registry != nil {
		decoder = avro.NewDecoder(registry)
		g.Log.Info("schema registry", "url", registry.URL())
	}
	if opts.Format == "avro" {
		encoder = avro.NewEncoder(registry)
	}
	keep := splitKeepFields(opts.Fields)

	var parser valueParser
	var decoded, value []byte
	skipped := int64(0)
	stats, err := kafka.TransformTopic(ctx, cfg, tOpts, g.Log, func(m kafka.Message, emit kafka.Emit) error {
		if skip, err := decodeTransformValue(ctx, g, decoder, &m, &decoded, &skipped); skip || err != nil {
			return err
		}
		rec, reason := parser.parse(m.Value)
		if rec == nil {
			skipped++
			logValueError(g, &kafka.ValueError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Reason: reason}, int(skipped))
			return nil
		}
		dest, line, ok := splitter.Route(rec)
		if !ok {
			return nil
		}
		if encoder == nil {
			emit(dest, rec.Timestamp, line[:len(line)-1])
			return nil
		}
		var err error
		if value, err = encoder.Encode(ctx, dest, rec, keep, value[:0]); err != nil {
			return fmt.Errorf("split stopped at topic %s partition %d offset %d and aborted the open transaction: %w", m.Topic, m.Partition, m.Offset, err)
		}
		emit(dest, rec.Timestamp, value)
		return nil
	})
	err = explainRegistryError(err)
	if encoder != nil {
		for _, topic := range slices.Sorted(maps.Keys(encoder.Registered)) {
			g.Log.Info("schema versions registered or found", "subject", avro.Subject(topic), "count", encoder.Registered[topic])
		}
	}
	if errors.Is(err, kafka.ErrTopicNotFound) {
		err = fmt.Errorf("%w: create the input topic and every route topic (%s) first", err, strings.Join(splitter.Destinations(), ", "))
	}
	printSplitCounts(g, stats.Written, slices.Sorted(maps.Keys(stats.Written)), -1)
	if !g.Quiet {
		fmt.Fprintf(g.IO.ErrOut, "kafka: %s read from %s in %d committed transactions (%d aborted)\n",
			plural(stats.Read, "record"), topic, stats.Committed, stats.Aborted)
	}
	if err != nil {
		return err
	}
	if skipped > 0 {
		return partialError{skippedMessage(skipped, "message")}
	}
	return nil
}

// splitKeepFields returns the record keys of --fields, or nil for all, as
// route.NewSplitter reads them.
func splitKeepFields(fields []string) map[string]bool {
	if len(fields) == 0 {
		return nil
	}
	keep := map[string]bool{}
	for _, f := range fields {
		keep[strings.ReplaceAll(f, ".", "_")] = true
	}
	return keep
}

// printSplitCounts prints the records per route, and the dropped ones
// unless dropped is negative.
func printSplitCounts(g *Globals, counts map[string]int64, destinations []string, dropped int64) {
	if g.Quiet {
		return
	}
	for _, name := range destinations {
		fmt.Fprintf(g.IO.ErrOut, "split: %s to %s\n", plural(counts[name], "record"), name)
	}
	if dropped >= 0 {
		fmt.Fprintf(g.IO.ErrOut, "split: %s without a route dropped\n", plural(dropped, "record"))
	}
}

// valueParser parses Kafka record values as records, with the rules of
// record.Reader for one line of a file.
type valueParser struct {
	reader *record.Reader
}

// parse returns the record of value, or nil and the reason it is not one.
// The record is valid until the next call.
func (p *valueParser) parse(value []byte) (*record.Record, string) {
	if len(bytes.TrimSpace(value)) == 0 {
		return nil, "empty value"
	}
	if bytes.IndexByte(value, '\n') >= 0 {
		return nil, "value spans several lines; a record is one line of JSON"
	}
	if p.reader == nil {
		p.reader = record.NewReader(nil, "kafka")
	}
	rec, err := p.reader.ReadLine(value)
	lineErr, _ := errors.AsType[*record.LineError](err)
	switch {
	case lineErr != nil:
		return nil, lineErr.Reason
	case err != nil:
		return nil, err.Error()
	case rec == nil:
		return nil, `tshark {"index":...} line, not a record`
	}
	return rec, ""
}
