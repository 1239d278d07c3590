package commands

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/kafka"
)

// KafkaOptions are the Kafka connection flags that every command reading
// or writing a topic shares. A command adds them with addFlags and turns
// them into settings with config before it connects, so that invalid
// settings fail as usage errors. kafka.ParseAddress reads the topic of a
// "kafka:TOPIC" input or output.
type KafkaOptions struct {
	Brokers    string
	ConfigFile string
	Properties []string
}

// kafkaSettingsHelp explains the connection flags in a command's long help.
const kafkaSettingsHelp = `
Connection settings use the property names of Java and librdkafka clients,
so a Confluent Cloud client.properties file works unchanged. Later sources
override earlier ones: built-in defaults, the --kafka-config file (or
$WIFIQ_KAFKA_CONFIG), the environment variables WIFIQ_KAFKA_BROKERS,
WIFIQ_KAFKA_SECURITY_PROTOCOL, WIFIQ_KAFKA_SASL_MECHANISM,
WIFIQ_KAFKA_SASL_USERNAME, WIFIQ_KAFKA_SASL_PASSWORD,
WIFIQ_KAFKA_SSL_CA_LOCATION and WIFIQ_KAFKA_CLIENT_ID, then -X key=value in
order, then --brokers. This command's own flags override the matching
properties. Unknown properties are reported and ignored. Passwords are never
printed: give them in the file or in $WIFIQ_KAFKA_SASL_PASSWORD rather than
with -X, where other users of the machine can see the command line.
`

func (o *KafkaOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Brokers, "brokers", "", "Kafka brokers as comma-separated `host:port` (overrides bootstrap.servers and $WIFIQ_KAFKA_BROKERS)")
	f.StringVar(&o.ConfigFile, "kafka-config", "", "read Kafka client properties from `file`, such as a Confluent Cloud client.properties (default $WIFIQ_KAFKA_CONFIG)")
	f.StringArrayVarP(&o.Properties, "kafka-property", "X", nil, "set a Kafka client property, for example -X security.protocol=SASL_SSL (`key=value`, repeatable)")
}

// config builds the connection settings, logging a warning for each unknown
// property. Invalid settings are usage errors.
func (o *KafkaOptions) config(g *Globals) (*kafka.Config, error) {
	cfg, warnings, err := kafka.Load(kafka.LoadOptions{
		ConfigFile: o.ConfigFile,
		Overrides:  o.Properties,
		Brokers:    o.Brokers,
	})
	for _, w := range warnings {
		g.Log.Warn(w)
	}
	if err != nil {
		return nil, usageError{err}
	}
	g.Log.Debug("Kafka settings", "kafka", cfg)
	return cfg, nil
}

// logValueError reports a message whose value is not a record, the first
// maxReportedLineErrors times, then once that only the count follows.
func logValueError(g *Globals, err *kafka.ValueError, skipped int) {
	switch {
	case skipped <= maxReportedLineErrors:
		g.Log.Warn("skipped a message that is not a record", "topic", err.Topic, "partition", err.Partition, "offset", err.Offset, "reason", err.Reason)
	case skipped == maxReportedLineErrors+1:
		g.Log.Warn("more messages are not records; only the count is reported from now on", "topic", err.Topic)
	}
}

// plural returns "1 record" or "2 records".
func plural(n int64, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// skippedMessage returns the message of a partial success: n inputs were
// skipped because they are not records.
func skippedMessage(n int64, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s was not a record and was skipped", noun)
	}
	return fmt.Sprintf("%d %ss were not records and were skipped", n, noun)
}

// skippedInputs returns the message of a partial success over files or a
// topic: n lines or messages were not records.
func skippedInputs(n int) string {
	if n == 1 {
		return "1 input line or message was not a record and was skipped"
	}
	return fmt.Sprintf("%d input lines or messages were not records and were skipped", n)
}
