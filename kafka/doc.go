// Package kafka connects wifiq to Apache Kafka through franz-go: connection
// settings in the property names that Java and librdkafka clients use, a
// producer that writes record lines to a topic, and a consumer that reads
// them back.
//
// # Settings
//
// Load builds a Config from, in increasing precedence:
//
//  1. built-in defaults (DefaultConfig: PLAINTEXT, acks=all, idempotent
//     writes, lz4 compression, a 2 minute delivery timeout);
//  2. a properties file (--kafka-config FILE, else $WIFIQ_KAFKA_CONFIG),
//     such as a Confluent Cloud client.properties, unchanged;
//  3. the environment variables in EnvProperties (WIFIQ_KAFKA_BROKERS,
//     WIFIQ_KAFKA_SECURITY_PROTOCOL, WIFIQ_KAFKA_SASL_MECHANISM,
//     WIFIQ_KAFKA_SASL_USERNAME, WIFIQ_KAFKA_SASL_PASSWORD,
//     WIFIQ_KAFKA_SSL_CA_LOCATION, WIFIQ_KAFKA_CLIENT_ID);
//  4. -X key=value settings, in command-line order;
//  5. --brokers.
//
// Command flags for producer and consumer settings (--compression, --group,
// --from, ...) override all of these. Properties of other components, such
// as the schema registry settings of a client.properties file, and client
// settings that do not matter here (client.dns.lookup, serializers) are
// accepted quietly. An unknown key gives a warning that names it. An
// invalid value is an error that names the key, the value and the valid
// choices. The SASL password is a Secret, which fmt, slog and JSON print as
// "[redacted]".
//
// # Writing: RecordSink and Producer
//
// A Producer sends each record line as the value of one Kafka record whose
// timestamp is the record's event time. Records without a key spread over
// the partitions with the sticky partitioner (PartitionerSticky); a key
// sends all records with that key to one partition. Close flushes and
// reports how many records were acknowledged. A Producer is a record.Sink,
// so "--to kafka:TOPIC" writes to it as to standard output:
//
//	sink, err := kafka.NewProducer(ctx, cfg, kafka.ProducerOptions{Topic: topic, KeyField: "wlan_sa"}, log)
//	...
//	err = sink.WriteRecord(timestamp, line) // the line an encoder wrote
//	...
//	stats, err := sink.Close() // stats.Unacknowledged() records were lost
//
// # Reading: Consumer and RecordReader
//
// A Consumer returns Messages (value, key, partition, offset, timestamp). It
// stops at the end offsets seen at its start unless it follows the topic,
// starts at a StartPosition, and with a consumer group commits the offsets
// of the messages passed to MarkProcessed. A RecordReader parses the values
// as records, so "--from kafka:TOPIC" reads:
//
//	consumer, err := kafka.NewConsumer(ctx, cfg, kafka.ConsumerOptions{Topic: topic}, log)
//	...
//	reader := kafka.NewRecordReader(consumer)
//	for {
//		rec, msg, err := reader.Read(ctx) // io.EOF at the end; *ValueError for a bad value
//		...
//		consumer.MarkProcessed(msg) // once the record's result is safe
//	}
//	err = consumer.Close()
package kafka
