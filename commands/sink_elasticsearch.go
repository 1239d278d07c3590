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
	"github.com/wifiq/wifiq/sink/elasticsearch"
)

// SinkElasticsearchOptions are the settings of wifiq sink elasticsearch.
type SinkElasticsearchOptions struct {
	Input           InputOptions
	Sink            elasticsearch.Options
	Connection      elasticsearch.Connection
	CredentialsFile string
	Template        bool
	IgnoreKey       bool
	DeadLetter      string
	BatchSize       int
	// FlushInterval bounds how long a record waits in a partial batch
	// while more records keep arriving.
	FlushInterval time.Duration
	Inputs        []string
}

// NewCmdSinkElasticsearch builds the sink elasticsearch command.
func NewCmdSinkElasticsearch(g *Globals) *cobra.Command {
	opts := &SinkElasticsearchOptions{}
	var idFields, tsFields string
	cmd := &cobra.Command{
		Use:     "elasticsearch --index NAME [--id-fields A,B] [FILE|-]... | --from kafka:TOPIC",
		Aliases: []string{"opensearch"},
		Short:   "Write records into an Elasticsearch or OpenSearch index",
		Long: `Write records into an Elasticsearch (7 or 8) or OpenSearch (1 or 2) index
over the bulk API. Each record becomes one document: "timestamp" (milliseconds
since the Unix epoch, as a string) and one array of strings per field.

The document id is the values of --id-fields (the values of one field joined
with ",", the fields with "|"; "timestamp" names the event time), or else the
Kafka key of the message (unless --ignore-key), or else none. With an id each
record replaces the document with the same id, so writing the same records
again, for example after a restart, leaves one document each; without one
the server assigns ids and every write adds a document.

--template installs the composable index template wifiq-INDEX for the index
and INDEX-*, before writing: "timestamp", every field that ends in _TS and
the --timestamp-fields are mapped as date (epoch_millis or ISO 8601), so
that Kibana and OpenSearch Dashboards can use them as time fields. A template
applies only to indices created after it: install it before the first write.

Records are sent in bulk requests of --batch-size records with refresh=false.
Whole requests that fail with a network error, 429 or 5xx, and single
documents that fail with 429 or 5xx, are sent again with exponential backoff
(0.5 s doubling up to 30 s) for --retry-for, then the command fails. A
document that the server rejects for its content (status 400, for example a
mapper_parsing_exception, or 409 or 413) goes to the --dead-letter file as a
JSON line with the reason; the others are written. Status 401, 403 or 404
for a document (missing privileges, an index that is closed, read-only or
not created automatically) stops the command.

With --from kafka:TOPIC and --group the group's offsets are committed only
after every document of a batch is written or dead-lettered. Without
--group a new run starts at --start (default earliest).

The server is --url, else $ELASTICSEARCH_URL, else http://127.0.0.1:9200.
Credentials come from $ELASTICSEARCH_USERNAME and $ELASTICSEARCH_PASSWORD
(basic authentication) or $ELASTICSEARCH_API_KEY (the encoded API key), or
from a --credentials-file with the same NAME=VALUE lines; the environment
overrides the file. They are never taken from flags and never logged.

It exits with status 3 if records were rejected.
` + kafkaSettingsHelp,
		Example: `  wifiq replay-pcap capture.pcap | wifiq sink elasticsearch --index frames --template
  wifiq sink elasticsearch --index devices --id-fields wlan_sa --timestamp-fields first_seen devices.jsonl
  wifiq sink elasticsearch --from kafka:pcap --group es-sink --follow --dead-letter rejected.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			opts.Sink.IDFields = splitList(idFields)
			opts.Sink.TimestampFields = splitList(tsFields)
			if err := opts.check(); err != nil {
				return err
			}
			return sinkElasticsearchRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Sink.Index, "index", "", "target `index` (default: the --from topic in lower case; required for files)")
	f.StringVar(&idFields, "id-fields", "", "`fields` whose values make the document id, comma-separated: replace by id (default: the Kafka key)")
	f.BoolVar(&opts.IgnoreKey, "ignore-key", false, "with --from kafka:TOPIC, do not use the message key as document id (append instead)")
	f.StringVar(&tsFields, "timestamp-fields", "", "with --template, more `fields` to map as date (milliseconds since the Unix epoch or ISO 8601)")
	f.BoolVar(&opts.Template, "template", false, "install the index template wifiq-INDEX that maps timestamp, *_TS and --timestamp-fields as date")
	f.StringVar(&opts.Connection.URL, "url", "", "server `URL` http(s)://HOST:PORT without credentials (default: $ELASTICSEARCH_URL or "+elasticsearch.DefaultURL+")")
	f.StringVar(&opts.CredentialsFile, "credentials-file", "", "`file` of ELASTICSEARCH_USERNAME=, ELASTICSEARCH_PASSWORD= or ELASTICSEARCH_API_KEY= lines")
	f.StringVar(&opts.Connection.CACert, "ca-cert", "", "PEM `file` of the certificate authorities to trust for https (default: the system's)")
	f.StringVar(&opts.DeadLetter, "dead-letter", "", "append rejected records to this `file` as JSON lines with the reason (default: log them only)")
	f.IntVar(&opts.BatchSize, "batch-size", 5000, "records per bulk request")
	f.DurationVar(&opts.FlushInterval, "flush-interval", time.Second, "send a partial batch after this long")
	f.DurationVar(&opts.Sink.RetryFor, "retry-for", 10*time.Minute, "how long to retry a failing bulk request before failing")
	opts.Input.addFlags(cmd)
	return cmd
}

func (o *SinkElasticsearchOptions) check() error {
	if err := o.Input.check(o.Inputs); err != nil {
		return err
	}
	if o.Sink.Index == "" {
		topic, _, _ := kafka.ParseAddress(o.Input.From)
		if o.Input.From == "" || topic == "" {
			return usagef("missing --index: name the index to write (required when reading files or standard input)")
		}
		o.Sink.Index = strings.ToLower(topic)
	}
	if err := elasticsearch.CheckIndex(o.Sink.Index); err != nil {
		return usageError{fmt.Errorf("%w (set --index)", err)}
	}
	if o.IgnoreKey && o.Input.From == "" {
		return usagef("--ignore-key needs --from kafka:TOPIC")
	}
	if len(o.Sink.TimestampFields) > 0 && !o.Template {
		return usagef("--timestamp-fields takes effect through the index template: add --template")
	}
	o.Sink.UseKey = o.Input.From != "" && !o.IgnoreKey
	if o.BatchSize < 1 {
		return usagef("invalid --batch-size %d: want 1 or more", o.BatchSize)
	}
	if o.FlushInterval <= 0 {
		return usagef("invalid --flush-interval %s: want a positive duration such as 1s", o.FlushInterval)
	}
	if o.Sink.RetryFor <= 0 {
		return usagef("invalid --retry-for %s: want a positive duration such as 10m", o.Sink.RetryFor)
	}
	if o.Connection.URL == "" {
		o.Connection.URL = os.Getenv(elasticsearch.EnvURL)
	}
	if o.Connection.URL == "" {
		o.Connection.URL = elasticsearch.DefaultURL
	}
	if err := elasticsearch.CheckURL(o.Connection.URL); err != nil {
		return usageError{err}
	}
	if err := o.Connection.Credentials(o.CredentialsFile); err != nil {
		return usageError{err}
	}
	return nil
}

func sinkElasticsearchRun(ctx context.Context, g *Globals, opts *SinkElasticsearchOptions) error {
	deadLetter, err := openDeadLetter(opts.DeadLetter)
	if err != nil {
		return err
	}
	if deadLetter != nil {
		defer deadLetter.Close()
		opts.Sink.DeadLetter = deadLetter
	}
	g.Log.Info("connecting", "url", opts.Connection.URL, "index", opts.Sink.Index)
	s, err := elasticsearch.Open(ctx, opts.Connection, opts.Sink, g.Log)
	if err != nil {
		return err
	}
	if opts.Template {
		if err := s.InstallTemplate(ctx); err != nil {
			return err
		}
	}

	skipped := 0
	if opts.Input.From != "" {
		err = sinkElasticsearchTopic(ctx, g, opts, s)
	} else {
		skipped, err = sinkFiles(ctx, g, opts.Inputs, opts.BatchSize, s, func(rec *record.Record) { s.Add(rec, nil, nil) })
	}

	counts := s.Counts()
	if !g.Quiet {
		fmt.Fprintf(g.IO.ErrOut, "elasticsearch: %s written to index %s in %s; %s rejected\n",
			plural(counts.Written, "document"), opts.Sink.Index, plural(counts.Requests, "bulk request"), plural(counts.Rejected, "record"))
	}
	return sinkResult(err, opts.Input.Follow, counts.Rejected, opts.DeadLetter, skipped)
}

// sinkElasticsearchTopic reads the --from topic into the sink and, with a
// group, commits the offsets of each batch once it is written.
func sinkElasticsearchTopic(ctx context.Context, g *Globals, opts *SinkElasticsearchOptions, s *elasticsearch.Sink) error {
	topic, _, _ := kafka.ParseAddress(opts.Input.From)
	cfg, err := opts.Input.Kafka.config(g)
	if err != nil {
		return err
	}
	decoder, err := opts.Input.Registry.decoder()
	if err != nil {
		return err
	}
	consumer, err := kafka.NewConsumer(ctx, cfg, kafka.ConsumerOptions{Topic: topic, Start: opts.Input.start, Follow: opts.Input.Follow, Group: opts.Input.Group}, g.Log)
	if err != nil {
		return err
	}
	g.Log.Info("consuming", "topic", topic, "group", opts.Input.Group, "kafka", cfg)

	readErr := explainRegistryError(sinkElasticsearchMessages(ctx, opts, newRecordReader(consumer, decoder), s))
	if err := consumer.Close(); readErr == nil {
		readErr = err
	}
	return readErr
}

func sinkElasticsearchMessages(ctx context.Context, opts *SinkElasticsearchOptions, reader *kafka.RecordReader, s *elasticsearch.Sink) error {
	consumer := reader.Consumer()
	var pending []kafka.Message
	lastFlush := time.Now()
	flush := func() error {
		if err := s.Flush(ctx); err != nil {
			return err
		}
		// The group commits only what the server has accepted.
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
		pos := &elasticsearch.Position{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset}
		valueErr, _ := errors.AsType[*kafka.ValueError](err)
		switch {
		case valueErr != nil:
			s.Reject(msg.Value, "not a record: "+valueErr.Reason, pos)
		case err != nil:
			if flushErr := flush(); flushErr != nil {
				return flushErr
			}
			return err
		default:
			s.Add(rec, msg.Key, pos)
		}
		pending = append(pending, msg)
		if s.Pending() >= opts.BatchSize || consumer.Buffered() == 0 || time.Since(lastFlush) >= opts.FlushInterval {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}
