package kafka

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// property applies one Java/librdkafka client property to a Config. set
// returns the reason a value is invalid; the caller adds the key and where
// the value came from.
type property struct {
	set func(c *Config, value string) error
	// secret properties are never echoed in errors.
	secret bool
}

// properties lists the settings that wifiq applies. Aliases share a setter:
// sasl.mechanisms (librdkafka) and sasl.mechanism (Java) are the same thing.
var properties = map[string]property{
	"bootstrap.servers":                     {set: setBrokers},
	"metadata.broker.list":                  {set: setBrokers},
	"security.protocol":                     {set: setSecurityProtocol},
	"client.id":                             {set: func(c *Config, v string) error { c.ClientID = v; return nil }},
	"client.rack":                           {set: func(c *Config, v string) error { c.ClientRack = v; return nil }},
	"sasl.mechanism":                        {set: setMechanism},
	"sasl.mechanisms":                       {set: setMechanism},
	"sasl.username":                         {set: func(c *Config, v string) error { c.SASLUsername = v; return nil }},
	"sasl.password":                         {set: func(c *Config, v string) error { c.SASLPassword = Secret(v); return nil }, secret: true},
	"sasl.jaas.config":                      {set: setJAAS, secret: true},
	"ssl.ca.location":                       {set: func(c *Config, v string) error { c.SSLCALocation = v; return nil }},
	"ssl.certificate.location":              {set: func(c *Config, v string) error { c.SSLCertificateLocation = v; return nil }},
	"ssl.key.location":                      {set: func(c *Config, v string) error { c.SSLKeyLocation = v; return nil }},
	"ssl.endpoint.identification.algorithm": {set: setEndpointIdentification},
	"enable.ssl.certificate.verification":   {set: boolSetter(func(c *Config, b bool) { c.SSLVerifyCertificates = b })},
	"socket.connection.setup.timeout.ms":    {set: msSetter(func(c *Config, d time.Duration) { c.DialTimeout = d })},
	"metadata.max.age.ms":                   {set: msSetter(func(c *Config, d time.Duration) { c.MetadataMaxAge = d })},
	"allow.auto.create.topics":              {set: boolSetter(func(c *Config, b bool) { c.AllowAutoTopicCreation = b })},
	"acks":                                  {set: setAcks},
	"request.required.acks":                 {set: setAcks},
	"enable.idempotence":                    {set: boolSetter(func(c *Config, b bool) { c.Idempotence = &b })},
	"compression.type":                      {set: setCompression},
	"compression.codec":                     {set: setCompression},
	"linger.ms":                             {set: msSetter(func(c *Config, d time.Duration) { c.Linger = d })},
	"queue.buffering.max.ms":                {set: msSetter(func(c *Config, d time.Duration) { c.Linger = d })},
	"batch.size":                            {set: int32Setter(func(c *Config, n int32) { c.BatchMaxBytes = n })},
	"delivery.timeout.ms":                   {set: msSetter(func(c *Config, d time.Duration) { c.DeliveryTimeout = d })},
	"message.timeout.ms":                    {set: msSetter(func(c *Config, d time.Duration) { c.DeliveryTimeout = d })},
	"retries":                               {set: setRetries},
	"group.id":                              {set: func(c *Config, v string) error { c.GroupID = v; return nil }},
	"auto.offset.reset":                     {set: setAutoOffsetReset},
	"session.timeout.ms":                    {set: msSetter(func(c *Config, d time.Duration) { c.SessionTimeout = d })},
	"heartbeat.interval.ms":                 {set: msSetter(func(c *Config, d time.Duration) { c.HeartbeatInterval = d })},
	"auto.commit.interval.ms":               {set: msSetter(func(c *Config, d time.Duration) { c.AutoCommitInterval = d })},
	"fetch.max.bytes":                       {set: int32Setter(func(c *Config, n int32) { c.FetchMaxBytes = n })},
	"max.partition.fetch.bytes":             {set: int32Setter(func(c *Config, n int32) { c.FetchMaxPartitionBytes = n })},
	"fetch.max.wait.ms":                     {set: msSetter(func(c *Config, d time.Duration) { c.FetchMaxWait = d })},
	"fetch.wait.max.ms":                     {set: msSetter(func(c *Config, d time.Duration) { c.FetchMaxWait = d })},
	"isolation.level":                       {set: setIsolationLevel},
}

// ignoredProperties are settings that Java or librdkafka clients (or the
// Confluent Cloud client.properties file) carry but that change nothing for
// wifiq. They are accepted without a warning.
var ignoredProperties = map[string]string{
	"client.dns.lookup":        "addresses are resolved by Go's resolver",
	"key.serializer":           "keys and values are bytes",
	"value.serializer":         "keys and values are bytes",
	"key.deserializer":         "keys and values are bytes",
	"value.deserializer":       "keys and values are bytes",
	"enable.auto.commit":       "a consumer group commits the offsets of records written out",
	"max.poll.records":         "records are read as they arrive",
	"max.poll.interval.ms":     "records are read as they arrive",
	"retry.backoff.ms":         "the client library backs off on its own",
	"retry.backoff.max.ms":     "the client library backs off on its own",
	"reconnect.backoff.ms":     "the client library backs off on its own",
	"reconnect.backoff.max.ms": "the client library backs off on its own",
	"request.timeout.ms":       "the client library derives request timeouts itself",
	"socket.keepalive.enable":  "connections always use TCP keepalive",
	"api.version.request":      "API versions are always requested",
	"broker.version.fallback":  "API versions are always requested",
	"ssl.protocol":             "TLS 1.2 or newer is negotiated",
	"ssl.enabled.protocols":    "TLS 1.2 or newer is negotiated",
	"statistics.interval.ms":   "wifiq does not export client statistics",
	"debug":                    "use -vv for debug output",
	"log_level":                "use -v or -vv",
}

// ignoredPrefixes are families of settings for other components, such as
// the schema registry settings in a Confluent Cloud client.properties.
var ignoredPrefixes = []string{"schema.registry.", "basic.auth.", "confluent."}

// unsupportedProperties are settings wifiq cannot honour; ignoring them
// would connect with weaker security or fail later with an obscure error.
var unsupportedProperties = map[string]string{
	"ssl.truststore.location": "Java key stores are not read: export the CA certificate as PEM (keytool -exportcert -rfc) and set ssl.ca.location",
	"ssl.keystore.location":   "Java key stores are not read: export the certificate and key as PEM and set ssl.certificate.location and ssl.key.location",
	"ssl.key.password":        "encrypted private keys are not read: decrypt the key (openssl pkey -in KEY -out KEY.pem) and set ssl.key.location",
	"ssl.key.pem":             "in-line PEM is not read: save it to a file and set ssl.key.location",
	"ssl.certificate.pem":     "in-line PEM is not read: save it to a file and set ssl.certificate.location",
	"ssl.ca.pem":              "in-line PEM is not read: save it to a file and set ssl.ca.location",
}

// ConfigError is an invalid property value. It never contains the value of
// a secret property.
type ConfigError struct {
	Key    string
	Value  string // "[redacted]" for secrets
	Source string // origin of the value: a file and line, -X, or an environment variable
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("invalid %s %q (%s): %s", e.Key, e.Value, e.Source, e.Reason)
}

// Set applies one property. An unknown key is not an error: Set returns a
// warning naming it, and the caller decides how to show that. source names
// the origin of the setting in the error or warning.
func (c *Config) Set(key, value, source string) (warning string, err error) {
	key = strings.TrimSpace(key)
	if p, ok := properties[key]; ok {
		if err := p.set(c, value); err != nil {
			reported := value
			if p.secret {
				reported = redacted
			}
			return "", &ConfigError{Key: key, Value: reported, Source: source, Reason: err.Error()}
		}
		return "", nil
	}
	if reason, ok := unsupportedProperties[key]; ok {
		return "", &ConfigError{Key: key, Value: redacted, Source: source, Reason: "not supported: " + reason}
	}
	if _, ok := ignoredProperties[key]; ok {
		return "", nil
	}
	for _, prefix := range ignoredPrefixes {
		if strings.HasPrefix(key, prefix) {
			return "", nil
		}
	}
	return fmt.Sprintf("unknown Kafka property %q (%s) is ignored", key, source), nil
}

func setBrokers(c *Config, v string) error {
	brokers, err := ParseBrokers(v)
	if err != nil {
		return err
	}
	c.Brokers = brokers
	return nil
}

func setSecurityProtocol(c *Config, v string) error {
	switch p := strings.ToUpper(strings.TrimSpace(v)); p {
	case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
		c.SecurityProtocol = p
		return nil
	}
	return fmt.Errorf("want one of %s, %s, %s, %s", ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL)
}

func setMechanism(c *Config, v string) error {
	switch m := strings.ToUpper(strings.TrimSpace(v)); m {
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		c.SASLMechanism = m
		return nil
	case "GSSAPI", "OAUTHBEARER", "AWS_MSK_IAM":
		return fmt.Errorf("mechanism %s is not supported: want one of %s, %s, %s", m, MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
	}
	return fmt.Errorf("want one of %s, %s, %s", MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
}

func setEndpointIdentification(c *Config, v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "https":
		c.SSLVerifyHostname = true
	case "", "none":
		c.SSLVerifyHostname = false
	default:
		return fmt.Errorf("want https or none (an empty value also means none)")
	}
	return nil
}

func setAcks(c *Config, v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "all", "-1":
		c.Acks = -1
	case "1":
		c.Acks = 1
	case "0":
		c.Acks = 0
	default:
		return fmt.Errorf("want all, -1, 0 or 1")
	}
	return nil
}

func setCompression(c *Config, v string) error {
	codec, err := ParseCompression(v)
	if err != nil {
		return fmt.Errorf("want one of none, gzip, snappy, lz4, zstd")
	}
	c.Compression = codec
	return nil
}

func setRetries(c *Config, v string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("want a whole number of 0 or more")
	}
	// Java's default of 2147483647 means "until the delivery timeout", which
	// is what 0 means here.
	if n >= 1<<31-1 {
		n = 0
	}
	c.RecordRetries = int(n)
	return nil
}

func setAutoOffsetReset(c *Config, v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "earliest", "smallest", "beginning":
		c.AutoOffsetReset = "earliest"
	case "latest", "largest", "end":
		c.AutoOffsetReset = "latest"
	default:
		return fmt.Errorf("want earliest or latest")
	}
	return nil
}

func setIsolationLevel(c *Config, v string) error {
	switch level := strings.ToLower(strings.TrimSpace(v)); level {
	case IsolationReadCommitted, IsolationReadUncommitted:
		c.IsolationLevel = level
		return nil
	}
	return fmt.Errorf("want %s or %s", IsolationReadCommitted, IsolationReadUncommitted)
}

func boolSetter(apply func(*Config, bool)) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			apply(c, true)
		case "false":
			apply(c, false)
		default:
			return fmt.Errorf("want true or false")
		}
		return nil
	}
}

func msSetter(apply func(*Config, time.Duration)) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 || n > int64(24*time.Hour/time.Millisecond)*365 {
			return fmt.Errorf("want a whole number of milliseconds from 0 to 31536000000")
		}
		apply(c, time.Duration(n)*time.Millisecond)
		return nil
	}
}

func int32Setter(apply func(*Config, int32)) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil || n <= 0 {
			return fmt.Errorf("want a whole number of bytes from 1 to 2147483647")
		}
		apply(c, int32(n))
		return nil
	}
}
