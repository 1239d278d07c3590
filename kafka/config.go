package kafka

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Security protocols, as Kafka's security.protocol names them.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// SASL mechanisms that wifiq supports.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Compression codecs of produced record batches.
const (
	CompressionNone   = "none"
	CompressionGzip   = "gzip"
	CompressionSnappy = "snappy"
	CompressionLZ4    = "lz4"
	CompressionZstd   = "zstd"
)

// DefaultCompression is the codec used when neither a flag nor
// compression.type chooses one. LZ4 costs little CPU, which matters on a
// small capture box, and still shrinks JSON record batches several times.
const DefaultCompression = CompressionLZ4

// DefaultPort is the port added to a broker address that has none.
const DefaultPort = "9092"

// Isolation levels of consumers, as Kafka's isolation.level names them.
const (
	// IsolationReadCommitted returns only records of committed
	// transactions and records written outside transactions, up to the
	// last stable offset (the first offset of the oldest open transaction).
	IsolationReadCommitted = "read_committed"
	// IsolationReadUncommitted also returns the records of open and of
	// aborted transactions, up to the high watermark.
	IsolationReadUncommitted = "read_uncommitted"
)

// DefaultIsolationLevel is the consumers' isolation.level unless a property
// sets it. wifiq split writes its topics in transactions. A split run that
// dies leaves an open transaction, which the next run aborts before it
// writes those records again, so only read_committed reads each record
// once. librdkafka (since 1.2.0) has the same default, and Java clients
// default to read_uncommitted.
const DefaultIsolationLevel = IsolationReadCommitted

// Secret is a setting that must not be printed: every fmt verb, slog and
// JSON show "[redacted]" (or "" when it is empty). Reveal returns the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value, for the code that authenticates.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format applies to every verb, so %x or %q cannot leak the value either.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON keeps the value out of JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// Config holds the settings of a Kafka client in the terms of the Java and
// librdkafka properties they come from. Zero durations and sizes mean "the
// client library's default". Build one with Load or DefaultConfig and Set.
type Config struct {
	Brokers          []string // bootstrap.servers, each host:port
	SecurityProtocol string   // security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	ClientID         string   // client.id
	ClientRack       string   // client.rack

	SASLMechanism string // sasl.mechanism(s): PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	SASLUsername  string // sasl.username, or username in sasl.jaas.config
	SASLPassword  Secret // sasl.password, or password in sasl.jaas.config

	SSLCALocation          string // ssl.ca.location: PEM file of trusted CAs; empty uses the system pool
	SSLCertificateLocation string // ssl.certificate.location: PEM client certificate for mutual TLS
	SSLKeyLocation         string // ssl.key.location: PEM unencrypted private key of that certificate
	// SSLVerifyHostname is ssl.endpoint.identification.algorithm=https (the
	// default of Java clients since Kafka 2.0 and of librdkafka since 2.0).
	SSLVerifyHostname bool
	// SSLVerifyCertificates is enable.ssl.certificate.verification; false
	// accepts any broker certificate.
	SSLVerifyCertificates bool

	DialTimeout    time.Duration // socket.connection.setup.timeout.ms
	MetadataMaxAge time.Duration // metadata.max.age.ms
	// AllowAutoTopicCreation is allow.auto.create.topics: lets the broker
	// create a missing topic on first use, if the broker allows that too.
	AllowAutoTopicCreation bool

	// Acks is acks: -1 (all in-sync replicas), 0 or 1.
	Acks int16
	// Idempotence is enable.idempotence; nil means on unless acks is 0 or 1,
	// as Java clients decide since Kafka 3.0.
	Idempotence     *bool
	Compression     string        // compression.type / compression.codec; empty means DefaultCompression
	Linger          time.Duration // linger.ms / queue.buffering.max.ms
	BatchMaxBytes   int32         // batch.size: the maximum bytes of one record batch
	DeliveryTimeout time.Duration // delivery.timeout.ms / message.timeout.ms
	RecordRetries   int           // retries; 0 means retry until the delivery timeout

	GroupID                string        // group.id: the default consumer group
	AutoOffsetReset        string        // auto.offset.reset: earliest or latest, where a group without committed offsets starts
	SessionTimeout         time.Duration // session.timeout.ms
	HeartbeatInterval      time.Duration // heartbeat.interval.ms
	AutoCommitInterval     time.Duration // auto.commit.interval.ms
	FetchMaxBytes          int32         // fetch.max.bytes
	FetchMaxPartitionBytes int32         // max.partition.fetch.bytes
	FetchMaxWait           time.Duration // fetch.max.wait.ms / fetch.wait.max.ms
	// IsolationLevel is isolation.level: read_committed or
	// read_uncommitted; empty means DefaultIsolationLevel.
	IsolationLevel string

	// jaasModule is "plain" or "scram" once sasl.jaas.config named one.
	jaasModule string
}

// Defaults that differ from the client library's.
const (
	defaultClientID = "wifiq"
	// defaultDeliveryTimeout bounds how long a record may wait for its
	// acknowledgement, as Java's delivery.timeout.ms default of 120000 does.
	// The client library's default is to wait forever.
	defaultDeliveryTimeout = 2 * time.Minute
)

// DefaultConfig returns the built-in settings: PLAINTEXT, no brokers, full
// certificate and hostname verification, acks=all, client.id "wifiq" and
// isolation.level read_committed.
func DefaultConfig() *Config {
	return &Config{
		SecurityProtocol:      ProtocolPlaintext,
		ClientID:              defaultClientID,
		SSLVerifyHostname:     true,
		SSLVerifyCertificates: true,
		Acks:                  -1,
		DeliveryTimeout:       defaultDeliveryTimeout,
		AutoOffsetReset:       "earliest",
		IsolationLevel:        DefaultIsolationLevel,
	}
}

// ReadCommitted reports whether consumers read with isolation.level
// read_committed.
func (c *Config) ReadCommitted() bool {
	if c.IsolationLevel == "" {
		return DefaultIsolationLevel == IsolationReadCommitted
	}
	return c.IsolationLevel == IsolationReadCommitted
}

// UsesTLS reports whether connections are encrypted.
func (c *Config) UsesTLS() bool {
	return c.SecurityProtocol == ProtocolSSL || c.SecurityProtocol == ProtocolSASLSSL
}

// UsesSASL reports whether connections authenticate with SASL.
func (c *Config) UsesSASL() bool {
	return c.SecurityProtocol == ProtocolSASLPlaintext || c.SecurityProtocol == ProtocolSASLSSL
}

// IdempotentWrites reports whether the producer writes idempotently.
func (c *Config) IdempotentWrites() bool {
	if c.Idempotence != nil {
		return *c.Idempotence
	}
	return c.Acks == -1
}

// String describes the settings for people, with the password redacted.
func (c *Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bootstrap.servers=%s security.protocol=%s", strings.Join(c.Brokers, ","), c.SecurityProtocol)
	if c.UsesSASL() {
		fmt.Fprintf(&b, " sasl.mechanism=%s sasl.username=%s sasl.password=%s", c.SASLMechanism, c.SASLUsername, c.SASLPassword)
	}
	if c.UsesTLS() && c.SSLCALocation != "" {
		fmt.Fprintf(&b, " ssl.ca.location=%s", c.SSLCALocation)
	}
	fmt.Fprintf(&b, " client.id=%s", c.ClientID)
	return b.String()
}

// LogValue implements slog.LogValuer with the password redacted.
func (c *Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("bootstrap_servers", strings.Join(c.Brokers, ",")),
		slog.String("security_protocol", c.SecurityProtocol),
		slog.String("client_id", c.ClientID),
	}
	if c.UsesSASL() {
		attrs = append(attrs,
			slog.String("sasl_mechanism", c.SASLMechanism),
			slog.String("sasl_username", c.SASLUsername),
			slog.Any("sasl_password", c.SASLPassword))
	}
	if c.UsesTLS() {
		attrs = append(attrs, slog.String("ssl_ca_location", c.SSLCALocation))
	}
	return slog.GroupValue(attrs...)
}

// Validate checks that the settings fit together: brokers are given, SASL
// has a mechanism and credentials, and a login module in sasl.jaas.config
// agrees with sasl.mechanism.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("no Kafka brokers given: use --brokers, bootstrap.servers in --kafka-config, or %s", EnvBrokers)
	}
	if !c.UsesSASL() {
		return nil
	}
	switch {
	case c.jaasModule == "plain" && c.SASLMechanism == "":
		c.SASLMechanism = MechanismPlain
	case c.jaasModule == "plain" && c.SASLMechanism != MechanismPlain:
		return fmt.Errorf("sasl.mechanism %s does not match the PlainLoginModule in sasl.jaas.config: set sasl.mechanism=PLAIN or use ScramLoginModule", c.SASLMechanism)
	case c.jaasModule == "scram" && c.SASLMechanism == "":
		return fmt.Errorf("sasl.jaas.config uses ScramLoginModule but sasl.mechanism is not set: set it to %s or %s", MechanismSCRAMSHA256, MechanismSCRAMSHA512)
	case c.jaasModule == "scram" && c.SASLMechanism == MechanismPlain:
		return fmt.Errorf("sasl.mechanism PLAIN does not match the ScramLoginModule in sasl.jaas.config: set sasl.mechanism to %s or %s", MechanismSCRAMSHA256, MechanismSCRAMSHA512)
	case c.SASLMechanism == "":
		return fmt.Errorf("security.protocol %s needs sasl.mechanism: one of %s, %s, %s", c.SecurityProtocol, MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
	}
	if c.SASLUsername == "" || c.SASLPassword == "" {
		return fmt.Errorf("security.protocol %s needs sasl.username and sasl.password (or sasl.jaas.config with username and password)", c.SecurityProtocol)
	}
	return nil
}

// ParseBrokers splits a comma-separated broker list into host:port
// addresses. It adds the default port 9092 where none is given and drops a
// listener prefix such as "SASL_SSL://".
func ParseBrokers(list string) ([]string, error) {
	var brokers []string
	for _, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if i := strings.Index(entry, "://"); i >= 0 {
			entry = entry[i+3:]
		}
		host, port, err := net.SplitHostPort(entry)
		if err != nil {
			// No port: a plain host name or address, or a bracketed IPv6 one.
			host, port = strings.Trim(entry, "[]"), DefaultPort
		}
		if host == "" || strings.ContainsAny(host, " /") {
			return nil, fmt.Errorf("invalid broker address %q: want host:port", entry)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("invalid port in broker address %q: want a number from 1 to 65535", entry)
		}
		brokers = append(brokers, net.JoinHostPort(host, port))
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("empty broker list: want host:port[,host:port...]")
	}
	return brokers, nil
}

// ParseCompression checks a codec name (case does not matter) and returns it
// in lower case.
func ParseCompression(s string) (string, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd:
		return v, nil
	}
	return "", fmt.Errorf("invalid compression %q: want one of none, gzip, snappy, lz4, zstd", s)
}
