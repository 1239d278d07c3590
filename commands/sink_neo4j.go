package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/kafka"
	"github.com/wifiq/wifiq/record"
	"github.com/wifiq/wifiq/sink/neo4j"
)

// SinkNeo4jOptions are the settings of wifiq sink neo4j.
type SinkNeo4jOptions struct {
	Input        InputOptions
	Sink         neo4j.Options
	Cypher       string
	CypherFile   string
	Graph        string
	URI          string
	PasswordFile string
	Database     string
	DeadLetter   string
	BatchSize    int
	// FlushInterval bounds how long a record waits in a partial batch
	// while more records keep arriving.
	FlushInterval time.Duration
	Inputs        []string
}

// NewCmdSinkNeo4j builds the sink neo4j command.
func NewCmdSinkNeo4j(g *Globals) *cobra.Command {
	opts := &SinkNeo4jOptions{}
	cmd := &cobra.Command{
		Use:   "neo4j (--cypher TEMPLATE | --graph probes) [FILE|-]... | --from kafka:TOPIC",
		Short: "Write records into a Neo4j graph",
		Long: `Write records into a Neo4j graph over Bolt, in batches of one transaction each.

With --cypher (or --cypher-file) each batch runs as
  UNWIND $events AS event <TEMPLATE>
like the Kafka Connect Neo4j sink. event is a map of the record's fields,
each a list of strings (event.wlan_sa[0]), and timestamp, the record time in
milliseconds since the Unix epoch as an integer.

With --graph probes, enriched probe requests (the output of wifiq enrich)
build (:Device {mac, name, resolved, is_known, last_seen})
-[:LOOKED_FOR_SSID {probes, first_seen, last_seen}]->(:SSID {name}), with
uniqueness constraints on Device.mac and SSID.name. Writing the same records
twice leaves the graph unchanged: a probe request counts only when it is
later than the relationship's last_seen, so the probe requests of one device
and SSID must arrive in time order. A wildcard probe request (empty SSID)
updates the Device only.

With --from kafka:TOPIC the next offset of every partition is stored on
WifiqOffset nodes in the transaction of each batch, and a new run starts
after it. With --group the group's offsets are committed after the
transaction is.

When Neo4j rejects a batch (a type error, a constraint violation), its
records are written one per transaction and the rejected ones go to the
--dead-letter file as JSON lines with the reason; the others are written.
While Neo4j is unreachable the batch is retried with backoff for
--retry-for, then the command fails without losing anything.

The server is --uri, else $WIFIQ_NEO4J_URI, else ` + neo4j.DefaultURI + `. The user
comes from WIFIQ_NEO4J_USERNAME or NEO4J_USERNAME (default neo4j); the
password from --password-file, WIFIQ_NEO4J_PASSWORD or NEO4J_PASSWORD, never
from the command line.

It exits with status 3 if records were rejected.
` + kafkaSettingsHelp,
		Example: `  wifiq replay-pcap -q capture.pcap | wifiq enrich --devices devices.csv | wifiq sink neo4j --graph probes
  wifiq sink neo4j --cypher 'MERGE (d:Device {mac: event.wlan_sa[0]})' probes.jsonl
  wifiq sink neo4j --from kafka:pcap_probe_enriched --group neo4j-sink --follow --graph probes --dead-letter rejected.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			if err := opts.check(); err != nil {
				return err
			}
			return sinkNeo4jRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Cypher, "cypher", "", "Cypher `template` run after UNWIND $events AS event, once per batch")
	f.StringVar(&opts.CypherFile, "cypher-file", "", "read the Cypher template from this `file`")
	f.StringVar(&opts.Graph, "graph", "", "write a built-in `graph`: probes (Device and SSID nodes from enriched probe requests)")
	f.StringVar(&opts.URI, "uri", "", "Bolt `URI` of the server, without user or password (default: $WIFIQ_NEO4J_URI, else "+neo4j.DefaultURI+")")
	f.StringVar(&opts.PasswordFile, "password-file", "", "read the password from this `file` (default: $WIFIQ_NEO4J_PASSWORD, else $NEO4J_PASSWORD)")
	f.StringVar(&opts.Database, "database", "", "`database` to write to (default: the server's default database)")
	f.StringVar(&opts.Sink.OffsetsID, "offsets-id", "", "`name` under which Kafka offsets are stored in the graph (default: graph:NAME, or cypher: and a hash of the template)")
	f.StringVar(&opts.DeadLetter, "dead-letter", "", "append rejected records to this `file` as JSON lines with the reason (default: log them only)")
	f.IntVar(&opts.BatchSize, "batch-size", 1000, "records per transaction")
	f.DurationVar(&opts.FlushInterval, "flush-interval", time.Second, "write a partial batch after this long")
	f.DurationVar(&opts.Sink.RetryFor, "retry-for", 10*time.Minute, "how long to retry while Neo4j is unreachable before failing")
	opts.Input.addFlags(cmd)
	return cmd
}

func (o *SinkNeo4jOptions) check() error {
	given := 0
	for _, v := range []string{o.Cypher, o.CypherFile, o.Graph} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		return usagef("give exactly one of --cypher, --cypher-file and --graph (%s)", strings.Join(neo4j.GraphNames, ", "))
	}
	if o.BatchSize < 1 {
		return usagef("invalid --batch-size %d: want 1 or more", o.BatchSize)
	}
	if o.FlushInterval <= 0 {
		return usagef("invalid --flush-interval %s: want a positive duration such as 1s", o.FlushInterval)
	}
	if o.Sink.RetryFor <= 0 {
		return usagef("invalid --retry-for %s: want a positive duration such as 10m", o.Sink.RetryFor)
	}
	if o.URI != "" {
		if err := neo4j.CheckURI(o.URI); err != nil {
			return usageError{err}
		}
	}

	var err error
	switch {
	case o.Graph != "":
		o.Sink.Mode, err = neo4j.GraphMode(o.Graph)
	case o.CypherFile != "":
		var b []byte
		if b, err = os.ReadFile(o.CypherFile); err != nil {
			return usagef("unable to read the --cypher-file: %v", err)
		}
		o.Sink.Mode, err = neo4j.CypherMode(string(b))
	default:
		o.Sink.Mode, err = neo4j.CypherMode(o.Cypher)
	}
	if err != nil {
		return usageError{err}
	}
	return o.Input.check(o.Inputs)
}

func sinkNeo4jRun(ctx context.Context, g *Globals, opts *SinkNeo4jOptions) error {
	conn, err := neo4j.ResolveConnection(opts.URI, opts.PasswordFile, opts.Database, os.Getenv)
	if err != nil {
		return usageError{err}
	}
	deadLetter, err := openDeadLetter(opts.DeadLetter)
	if err != nil {
		return err
	}
	if deadLetter != nil {
		defer deadLetter.Close()
		opts.Sink.DeadLetter = deadLetter
	}
	g.Log.Info("connecting", "neo4j", conn.Describe(), "mode", opts.Sink.Mode.Name)
	s, err := neo4j.Open(ctx, conn, opts.Sink, g.Log)
	if err != nil {
		return err
	}
	defer s.Close()

	skipped := 0
	if opts.Input.From != "" {
		err = sinkNeo4jTopic(ctx, g, opts, s)
	} else {
		skipped, err = sinkFiles(ctx, g, opts.Inputs, opts.BatchSize, s, func(rec *record.Record) { s.Add(rec, nil) })
	}

	counts := s.Counts()
	if !g.Quiet {
		fmt.Fprintf(g.IO.ErrOut, "neo4j: %s written in %s; %s rejected\n",
			plural(counts.Written, "record"), plural(counts.Transactions, "transaction"), plural(counts.Rejected, "record"))
	}
	return sinkResult(err, opts.Input.Follow, counts.Rejected, opts.DeadLetter, skipped)
}

// sinkNeo4jTopic reads the --from topic into the sink. Without a group it
// starts at the offsets stored in the graph. A group starts at its own
// committed offsets, which may lag behind the stored ones when the process
// died between the transaction and the group commit, so messages before
// the stored offsets are skipped.
func sinkNeo4jTopic(ctx context.Context, g *Globals, opts *SinkNeo4jOptions, s *neo4j.Sink) error {
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

	readErr := explainRegistryError(sinkNeo4jMessages(ctx, opts, newRecordReader(consumer, decoder), s, stored))
	if err := consumer.Close(); readErr == nil {
		readErr = err
	}
	return readErr
}

func sinkNeo4jMessages(ctx context.Context, opts *SinkNeo4jOptions, reader *kafka.RecordReader, s *neo4j.Sink, stored map[int32]int64) error {
	consumer := reader.Consumer()
	var pending []kafka.Message
	lastFlush := time.Now()
	flush := func() error {
		if err := s.Flush(ctx); err != nil {
			return err
		}
		// The group commits only what Neo4j has committed.
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
			s.Reject(msg.Value, "not a record: "+valueErr.Reason, &neo4j.Position{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset})
		case err != nil:
			if flushErr := flush(); flushErr != nil {
				return flushErr
			}
			return err
		case msg.Offset < stored[msg.Partition]:
			// Written by an earlier run whose group commit was lost.
		default:
			s.Add(rec, &neo4j.Position{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset})
		}
		pending = append(pending, msg)
		if s.Pending() >= opts.BatchSize || consumer.Buffered() == 0 || time.Since(lastFlush) >= opts.FlushInterval {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}
