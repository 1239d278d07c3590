package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

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

On stderr split prints the records per route and the number dropped.
` + kafkaSettingsHelp,
		Example: `  wifiq replay-pcap capture.pcapng | wifiq split --out-dir split/
  wifiq split --out-dir split/ --route 4=probes --other rest -e wlan.sa,wlan.ssid records.jsonl
  wifiq split --from kafka:pcap --to kafka --group split`,
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

	var parser valueParser
	skipped := int64(0)
	stats, err := kafka.TransformTopic(ctx, cfg, tOpts, g.Log, func(m kafka.Message, emit kafka.Emit) error {
		rec, reason := parser.parse(m.Value)
		if rec == nil {
			skipped++
			logValueError(g, &kafka.ValueError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Reason: reason}, int(skipped))
			return nil
		}
		if dest, line, ok := splitter.Route(rec); ok {
			emit(dest, rec.Timestamp, line[:len(line)-1])
		}
		return nil
	})
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
	line []byte
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
	p.line = append(append(p.line[:0], value...), '\n')
	rec, err := record.NewReader(bytes.NewReader(p.line), "kafka").Read()
	var lineErr *record.LineError
	switch {
	case errors.As(err, &lineErr):
		return nil, lineErr.Reason
	case errors.Is(err, io.EOF):
		return nil, `tshark {"index":...} line, not a record`
	case err != nil:
		return nil, err.Error()
	}
	return rec, ""
}
