package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/enrich"
	"github.com/wifiq/wifiq/kafka"
	"github.com/wifiq/wifiq/record"
	"github.com/wifiq/wifiq/route"
)

// EnrichOptions are the settings of wifiq enrich.
type EnrichOptions struct {
	Inputs      []string
	Input       InputOptions
	Output      OutputOptions
	DeviceFiles []string
	// DevicesFrom is a compacted topic of device documents keyed by MAC
	// address, as kafka:TOPIC.
	DevicesFrom string
	// TransactionalID is the Kafka transactional.id of an exactly-once
	// run (--from and --to a topic, with --group).
	TransactionalID string
}

// exactlyOnce reports whether the run joins a topic into a topic in Kafka
// transactions: with --from kafka:TOPIC, --to kafka:TOPIC and --group.
func (o *EnrichOptions) exactlyOnce() bool {
	return o.Input.From != "" && o.Input.Group != "" && o.Output.kafkaTopic() != ""
}

// checkExactlyOnce validates the flags of an exactly-once run and sets
// the default transactional ID.
func (o *EnrichOptions) checkExactlyOnce() error {
	if !o.exactlyOnce() {
		if o.TransactionalID != "" {
			return usagef("--transactional-id needs --from kafka:TOPIC, --to kafka:TOPIC and --group")
		}
		return nil
	}
	if o.Input.Start != "" {
		return usagef("--start does not apply with --group and --to kafka:TOPIC: the run starts at the group's committed offsets, else at the earliest offset")
	}
	if o.Output.Key != "" {
		return usagef("--key does not apply with --group and --to kafka:TOPIC yet: leave out --key, or --group to write keyed records without transactions")
	}
	if o.TransactionalID == "" {
		o.TransactionalID = "wifiq-enrich-" + o.Input.Group
	}
	return nil
}

// NewCmdEnrich builds the enrich command.
func NewCmdEnrich(g *Globals) *cobra.Command {
	opts := &EnrichOptions{}
	cmd := &cobra.Command{
		Use:   "enrich (--devices FILE | --devices-from kafka:TOPIC)... [FILE|-]...",
		Short: "Join probe requests to a device list by source address",
		Long: `Left-join each probe request (wlan.fc.type_subtype 4) on its source address
to a table of known devices, as a ksqlDB LEFT JOIN of the probe stream on a
device table does, and write one enriched record per probe request:

  wlan_sa, device_name, is_known_device, wlan_sa_resolved, wlan_da,
  wlan_da_resolved, wlan_radio_signal_dbm, wlan_ssid, wlan_tag_vendor_data,
  wlan_tag_vendor_oui_type, wlan_tag_oui, event_time

device_name is absent when no device matched. is_known_device is "true" when a
device matched and is not a guest. event_time is the timestamp in RFC 3339 UTC.
Records of other subtypes are dropped and counted.

A device's name is its name; "name (hostname)" when it has both; its hostname;
else guest_ or nonguest_ and its manufacturer (the oui field, else the short
name of the IEEE registry).

--devices FILE reads a device list: CSV with a header of mac, name, hostname,
is_guest and oui (mac required), or JSON lines: device documents such as the
UniFi controller's ace.user and ace.device collections as mongoexport writes
them, or Debezium MongoDB change events whose "after" contains the document.
A line that cannot be used (invalid JSON or CSV, a malformed MAC address, a
MAC address listed twice) is reported with its line number and the rest is
used; an unknown CSV column is reported and ignored.

--devices-from kafka:TOPIC reads a compacted topic of such documents keyed by
MAC address: the latest value per key counts, and a tombstone deletes the
device. With --follow the topic is followed too, so later updates change later
joins. Only probe requests produce output; table updates change state.

With --from kafka:TOPIC --to kafka:TOPIC --group GROUP the run is exactly once,
as split's is: the enriched records and the group's input offsets are
committed in one Kafka transaction per batch of input, so a run killed at any
point and started again with the same group writes each probe request once,
as consumers with isolation.level=read_committed see it. The output topic
must exist. Two runs at the same time need different --transactional-id
values. With --group and --to -, the group's offsets are committed once the
run has written everything.

Ubiquiti infrastructure is left out of the table: ace.device documents (type
uap, usw, ugw, udm, uxg or ubb, or an "adopted" field) and ace.user documents
whose oui names Ubiquiti, as a mesh access point's uplink appears.
` + kafkaSettingsHelp,
		Example: `  wifiq replay-pcap capture.pcapng | wifiq enrich --devices devices.csv
  mongoexport -d ace -c user | wifiq replay-pcap capture.pcapng | wifiq enrich --devices /dev/stdin
  wifiq enrich --from kafka:pcap_probe --follow --devices-from kafka:devices --to kafka:pcap_probe_enriched`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Input.check(args); err != nil {
				return err
			}
			if err := opts.Output.check(cmd); err != nil {
				return err
			}
			if len(opts.DeviceFiles) == 0 && opts.DevicesFrom == "" {
				return usagef("missing device data: give --devices FILE or --devices-from kafka:TOPIC")
			}
			if opts.DevicesFrom != "" {
				if _, ok, err := kafka.ParseAddress(opts.DevicesFrom); err != nil || !ok {
					return usagef("invalid --devices-from %q: want kafka:TOPIC", opts.DevicesFrom)
				}
			}
			if err := opts.checkExactlyOnce(); err != nil {
				return err
			}
			opts.Inputs = args
			return enrichRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.DeviceFiles, "devices", nil, "read devices from a CSV or JSON lines `file` (repeatable; later files add to earlier ones)")
	f.StringVar(&opts.DevicesFrom, "devices-from", "", "read devices from a compacted topic keyed by MAC address, kafka:`TOPIC`")
	f.StringVar(&opts.TransactionalID, "transactional-id", "", "with --group and --to kafka:TOPIC, the Kafka transactional.id (default wifiq-enrich-GROUP)")
	opts.Input.addFlags(cmd)
	// Input and output share one set of connection flags.
	opts.Output.To = "-"
	f.StringVar(&opts.Output.To, "to", "-", "write records to `DEST`: - (standard output) or kafka:TOPIC")
	f.StringVar(&opts.Output.Key, "key", "", "with --to kafka:TOPIC, key each Kafka record by the first value of this record `field` (default: no key)")
	return cmd
}

func enrichRun(ctx context.Context, g *Globals, opts *EnrichOptions) error {
	manufacturer, err := enrich.ManufacturerNames()
	if err != nil {
		return err
	}
	table := enrich.NewTable()
	problems := 0
	for _, path := range opts.DeviceFiles {
		n, err := loadDeviceFile(g, path, table)
		if err != nil {
			return err
		}
		problems += n
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var follower sync.WaitGroup
	if opts.DevicesFrom != "" {
		n, err := readDeviceTopic(ctx, g, opts, table, &follower)
		if err != nil {
			return err
		}
		problems += n
	}
	g.Log.Info("device table loaded", "devices", table.Len())

	joiner := enrich.NewJoiner(table, manufacturer)
	if opts.exactlyOnce() {
		err := enrichKafka(ctx, g, opts, joiner)
		cancel()
		follower.Wait()
		if err == nil && problems > 0 {
			err = partialError{unusedEntriesMessage(problems)}
		}
		return err
	}

	opts.Output.Kafka = opts.Input.Kafka
	out, err := opts.Output.open(ctx, g)
	if err != nil {
		return err
	}
	var line []byte
	// A following read hands on what it joined whenever the input is quiet.
	opts.Input.idle = out.Flush
	skipped, readErr := opts.Input.readRecords(ctx, g, opts.Inputs, func(rec *record.Record) error {
		joined := joiner.Join(rec)
		if joined == nil {
			return nil
		}
		line = append(route.AppendRecord(line[:0], joined, nil), '\n')
		return out.WriteRecord(joined.Timestamp, line)
	})
	if err := out.close(g); readErr == nil {
		readErr = err
	}
	// A group commits the offsets of what was read once the output is
	// written, not before.
	if err := opts.Input.finish(readErr == nil); readErr == nil {
		readErr = err
	}
	cancel()
	follower.Wait()

	if !g.Quiet {
		fmt.Fprintf(g.IO.ErrOut, "enrich: %s joined (%d matched a device, %d known), %s of other subtypes dropped\n",
			plural(joiner.Joined, "probe request"), joiner.Matched, joiner.Known, plural(joiner.Dropped, "record"))
	}
	var unreadable *unreadableInputsError
	switch {
	case errors.As(readErr, &unreadable):
		return partialError{unreadable.Error()}
	case readErr != nil:
		return readErr
	case skipped > 0:
		return partialError{skippedMessage(int64(skipped), "input line")}
	case problems > 0:
		return partialError{unusedEntriesMessage(problems)}
	}
	return nil
}

// enrichKafka runs the exactly-once consume-transform-produce loop from the
// --from topic to the --to topic.
func enrichKafka(ctx context.Context, g *Globals, opts *EnrichOptions, joiner *enrich.Joiner) error {
	cfg, err := opts.Input.Kafka.config(g)
	if err != nil {
		return err
	}
	input, _, _ := kafka.ParseAddress(opts.Input.From)
	output := opts.Output.kafkaTopic()
	tOpts := kafka.TransformOptions{
		InputTopic:      input,
		Group:           opts.Input.Group,
		TransactionalID: opts.TransactionalID,
		OutputTopics:    []string{output},
		Follow:          opts.Input.Follow,
	}
	g.Log.Info("enriching", "topic", input, "to", output, "group", tOpts.Group, "transactional_id", tOpts.TransactionalID, "kafka", cfg)

	decoder, err := opts.Input.Registry.decoder()
	if err != nil {
		return err
	}
	var parser valueParser
	var line, decoded []byte
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
		if joined := joiner.Join(rec); joined != nil {
			line = route.AppendRecord(line[:0], joined, nil)
			emit(output, joined.Timestamp, line)
		}
		return nil
	})
	if errors.Is(err, kafka.ErrTopicNotFound) {
		err = fmt.Errorf("%w: create the input topic and the output topic %s first", err, output)
	}
	if !g.Quiet {
		// The join counts include the input of aborted transactions, which
		// is read again; the Kafka counts are of committed ones only.
		fmt.Fprintf(g.IO.ErrOut, "enrich: %s joined (%d matched a device, %d known), %s of other subtypes dropped\n",
			plural(joiner.Joined, "probe request"), joiner.Matched, joiner.Known, plural(joiner.Dropped, "record"))
		fmt.Fprintf(g.IO.ErrOut, "kafka: %s read from %s in %d committed transactions (%d aborted), %s written to %s\n",
			plural(stats.Read, "record"), input, stats.Committed, stats.Aborted, plural(stats.Written[output], "record"), output)
	}
	if err != nil {
		return err
	}
	if skipped > 0 {
		return partialError{skippedMessage(skipped, "message")}
	}
	return nil
}

// loadDeviceFile loads one --devices file and logs its problems, returning
// their number.
func loadDeviceFile(g *Globals, path string, table *enrich.Table) (int, error) {
	loaded, skipped, problems, err := enrich.LoadFile(path, table)
	for _, p := range problems {
		g.Log.Warn("device list entry not used", "file", p.File, "line", p.Line, "reason", p.Reason)
	}
	if err != nil {
		return 0, err
	}
	g.Log.Info("device list read", "file", path, "devices", loaded, "infrastructure_skipped", skipped, "problems", len(problems))
	if loaded == 0 && skipped == 0 && len(problems) == 0 {
		g.Log.Warn("device list holds no devices; every probe request comes out unmatched", "file", path)
	}
	return len(problems), nil
}

// readDeviceTopic reads the device topic to its current end, and with
// --follow keeps applying its updates in a goroutine until ctx ends.
func readDeviceTopic(ctx context.Context, g *Globals, opts *EnrichOptions, table *enrich.Table, follower *sync.WaitGroup) (int, error) {
	topic, _, _ := kafka.ParseAddress(opts.DevicesFrom)
	cfg, err := opts.Input.Kafka.config(g)
	if err != nil {
		return 0, err
	}
	consumer, err := kafka.NewConsumer(ctx, cfg, kafka.ConsumerOptions{Topic: topic, Start: kafka.StartPosition{Kind: kafka.PositionEarliest}}, g.Log)
	if err != nil {
		return 0, fmt.Errorf("unable to read --devices-from: %w", err)
	}
	next := map[int32]int64{}
	problems, err := applyDeviceMessages(ctx, g, consumer, table, next)
	if closeErr := consumer.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return problems, err
	}
	if !opts.Input.Follow {
		return problems, nil
	}

	consumer, err = kafka.NewConsumer(ctx, cfg, kafka.ConsumerOptions{Topic: topic, Follow: true, Start: kafka.StartPosition{Kind: kafka.PositionLatest}, StartOffsets: next}, g.Log)
	if err != nil {
		return problems, fmt.Errorf("unable to follow --devices-from: %w", err)
	}
	follower.Add(1)
	go func() {
		defer follower.Done()
		defer consumer.Close()
		if _, err := applyDeviceMessages(ctx, g, consumer, table, next); err != nil && ctx.Err() == nil {
			g.Log.Error("stopped following the device topic", "topic", topic, "err", err)
		}
	}()
	return problems, nil
}

// applyDeviceMessages applies every message of consumer to table and
// records the next offset of each partition in next.
func applyDeviceMessages(ctx context.Context, g *Globals, consumer *kafka.Consumer, table *enrich.Table, next map[int32]int64) (int, error) {
	problems := 0
	for {
		m, err := consumer.Next(ctx)
		if errors.Is(err, io.EOF) {
			return problems, nil
		}
		if err != nil {
			return problems, err
		}
		next[m.Partition] = m.Offset + 1
		c, err := deviceChange(m)
		if err == nil {
			err = table.Apply(c)
		}
		if err != nil {
			problems++
			g.Log.Warn("device topic record not used", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", err)
		}
	}
}

// deviceChange turns a device topic record into a table change: a null
// value is a tombstone for the MAC address in the key, and a document
// without a "mac" field takes the key's.
func deviceChange(m kafka.Message) (enrich.Change, error) {
	key := strings.Trim(strings.TrimSpace(string(m.Key)), `"`)
	if len(m.Value) == 0 {
		mac, err := capture.ParseMAC(key)
		if err != nil {
			return enrich.Change{}, fmt.Errorf("tombstone key: %w", err)
		}
		return enrich.Change{Delete: true, HasMAC: true, Device: enrich.Device{MAC: mac}}, nil
	}
	if key != "" && !bytes.Contains(m.Value, []byte(`"mac"`)) && bytes.HasPrefix(bytes.TrimSpace(m.Value), []byte("{")) {
		// Give the document the key's MAC address as its "mac" field.
		value := bytes.TrimSpace(m.Value)
		withKey := append([]byte(`{"mac":`), strconv.Quote(key)...)
		if rest := bytes.TrimSpace(value[1:]); !bytes.HasPrefix(rest, []byte("}")) {
			withKey = append(withKey, ',')
		}
		return enrich.ParseDocument(append(withKey, value[1:]...))
	}
	return enrich.ParseDocument(m.Value)
}

// unusedEntriesMessage returns the summary of a device list with problems.
func unusedEntriesMessage(problems int) string {
	if problems == 1 {
		return "1 device list entry could not be used; the others were"
	}
	return fmt.Sprintf("%d device list entries could not be used; the others were", problems)
}
