package kafka_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wifiq/wifiq/kafka"
)

// noEnv is a Getenv that returns no variables, so tests do not depend on the
// environment of the machine that runs them.
func noEnv(string) string { return "" }

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const testPassword = "s3cret-Pa55word"

// confluentJava has the shape of the client.properties file that Confluent
// Cloud offers for Java clients.
const confluentJava = `# Required connection configs for Kafka producer, consumer, and admin
bootstrap.servers=pkc-12345.europe-west1.gcp.confluent.cloud:9092
security.protocol=SASL_SSL
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username='APIKEY123' password='` + testPassword + `';
sasl.mechanism=PLAIN
# Required for correctness in Apache Kafka clients prior to 2.6
client.dns.lookup=use_all_dns_ips

# Best practice for higher availability in Apache Kafka clients prior to 3.0
session.timeout.ms=45000

# Best practice for Kafka producer to prevent data loss
acks=all

# Required connection configs for Confluent Cloud Schema Registry
schema.registry.url=https://psrc-12345.europe-west3.gcp.confluent.cloud
basic.auth.credentials.source=USER_INFO
basic.auth.user.info=SRKEY:SRSECRET
`

// confluentLibrdkafka has the shape of the librdkafka variant of that file.
const confluentLibrdkafka = `bootstrap.servers=pkc-12345.europe-west1.gcp.confluent.cloud:9092
security.protocol=SASL_SSL
sasl.mechanisms=PLAIN
sasl.username=APIKEY123
sasl.password=` + testPassword + `
session.timeout.ms=45000
`

func TestLoadConfluentJavaProperties(t *testing.T) {
	path := writeFile(t, "client.properties", confluentJava)
	cfg, warnings, err := kafka.Load(kafka.LoadOptions{ConfigFile: path, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	if got, want := strings.Join(cfg.Brokers, ","), "pkc-12345.europe-west1.gcp.confluent.cloud:9092"; got != want {
		t.Errorf("Brokers = %s, want %s", got, want)
	}
	if cfg.SecurityProtocol != kafka.ProtocolSASLSSL {
		t.Errorf("SecurityProtocol = %s, want SASL_SSL", cfg.SecurityProtocol)
	}
	if cfg.SASLMechanism != kafka.MechanismPlain {
		t.Errorf("SASLMechanism = %s, want PLAIN", cfg.SASLMechanism)
	}
	if cfg.SASLUsername != "APIKEY123" {
		t.Errorf("SASLUsername = %s, want APIKEY123", cfg.SASLUsername)
	}
	if cfg.SASLPassword.Reveal() != testPassword {
		t.Error("SASLPassword is not the password of sasl.jaas.config")
	}
	if cfg.SessionTimeout != 45*time.Second {
		t.Errorf("SessionTimeout = %v, want 45s", cfg.SessionTimeout)
	}
	if cfg.Acks != -1 {
		t.Errorf("Acks = %d, want -1", cfg.Acks)
	}
}

func TestLoadConfluentLibrdkafkaProperties(t *testing.T) {
	path := writeFile(t, "client.properties", confluentLibrdkafka)
	cfg, warnings, err := kafka.Load(kafka.LoadOptions{ConfigFile: path, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	if cfg.SASLMechanism != kafka.MechanismPlain || cfg.SASLUsername != "APIKEY123" || cfg.SASLPassword.Reveal() != testPassword {
		t.Errorf("SASL settings = %s %s, want PLAIN APIKEY123 and the file's password", cfg.SASLMechanism, cfg.SASLUsername)
	}
}

func TestLoadPrecedence(t *testing.T) {
	path := writeFile(t, "client.properties", "bootstrap.servers=file:1\nclient.id=from-file\nsasl.username=file-user\ncompression.type=gzip\n")
	env := envOf(map[string]string{
		kafka.EnvBrokers:      "env:2",
		kafka.EnvClientID:     "from-env",
		kafka.EnvSASLUsername: "env-user",
	})

	tests := []struct {
		name              string
		opts              kafka.LoadOptions
		brokers, id, user string
		compression       string
	}{
		{"file only", kafka.LoadOptions{ConfigFile: path, Getenv: noEnv}, "file:1", "from-file", "file-user", "gzip"},
		{"environment over file", kafka.LoadOptions{ConfigFile: path, Getenv: env}, "env:2", "from-env", "env-user", "gzip"},
		{"-X over environment", kafka.LoadOptions{ConfigFile: path, Getenv: env, Overrides: []string{"client.id=from-x", "compression.type=zstd"}}, "env:2", "from-x", "env-user", "zstd"},
		{"later -X wins", kafka.LoadOptions{Getenv: env, Overrides: []string{"client.id=first", "client.id=second"}}, "env:2", "second", "env-user", ""},
		{"--brokers over -X", kafka.LoadOptions{ConfigFile: path, Getenv: env, Overrides: []string{"bootstrap.servers=x:3"}, Brokers: "flag:4"}, "flag:4", "from-env", "env-user", "gzip"},
		{"defaults", kafka.LoadOptions{Getenv: noEnv, Brokers: "flag:4"}, "flag:4", "wifiq", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := kafka.Load(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.Brokers, ","); got != tt.brokers {
				t.Errorf("Brokers = %s, want %s", got, tt.brokers)
			}
			if cfg.ClientID != tt.id {
				t.Errorf("ClientID = %s, want %s", cfg.ClientID, tt.id)
			}
			if cfg.SASLUsername != tt.user {
				t.Errorf("SASLUsername = %s, want %s", cfg.SASLUsername, tt.user)
			}
			if cfg.Compression != tt.compression {
				t.Errorf("Compression = %s, want %s", cfg.Compression, tt.compression)
			}
		})
	}
}

func TestLoadConfigFileFromEnvironment(t *testing.T) {
	path := writeFile(t, "client.properties", "bootstrap.servers=file:1\n")
	cfg, _, err := kafka.Load(kafka.LoadOptions{Getenv: envOf(map[string]string{kafka.EnvConfig: path})})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Brokers, ","); got != "file:1" {
		t.Errorf("Brokers = %s, want file:1 from the file named by %s", got, kafka.EnvConfig)
	}

	other := writeFile(t, "other.properties", "bootstrap.servers=other:2\n")
	cfg, _, err = kafka.Load(kafka.LoadOptions{ConfigFile: other, Getenv: envOf(map[string]string{kafka.EnvConfig: path})})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Brokers, ","); got != "other:2" {
		t.Errorf("Brokers = %s, want other:2 from the ConfigFile, which replaces %s", got, kafka.EnvConfig)
	}
}

func TestLoadUnknownKeyWarns(t *testing.T) {
	path := writeFile(t, "client.properties", "bootstrap.servers=b:1\nfrobnicate.level=3\n")
	cfg, warnings, err := kafka.Load(kafka.LoadOptions{ConfigFile: path, Getenv: noEnv, Overrides: []string{"made.up=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg == nil {
		t.Fatal("Load returned no config")
	}
	if len(warnings) != 2 {
		t.Fatalf("warnings = %q, want two", warnings)
	}
	if !strings.Contains(warnings[0], `"frobnicate.level"`) || !strings.Contains(warnings[0], path+" line 2") {
		t.Errorf("warning %q does not name the key and its file line", warnings[0])
	}
	if !strings.Contains(warnings[1], `"made.up"`) || !strings.Contains(warnings[1], "-X") {
		t.Errorf("warning %q does not name the key and -X", warnings[1])
	}
}

func TestLoadInvalidValues(t *testing.T) {
	tests := []struct {
		override string
		want     []string
	}{
		{"security.protocol=FOO", []string{`security.protocol "FOO"`, "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"}},
		{"sasl.mechanism=GSSAPI", []string{"GSSAPI", "not supported", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"}},
		{"compression.type=brotli", []string{`"brotli"`, "none, gzip, snappy, lz4, zstd"}},
		{"acks=2", []string{`acks "2"`, "all, -1, 0 or 1"}},
		{"linger.ms=soon", []string{`linger.ms "soon"`, "milliseconds"}},
		{"enable.idempotence=yes", []string{"true or false"}},
		{"auto.offset.reset=none", []string{"earliest or latest"}},
		{"ssl.endpoint.identification.algorithm=dns", []string{"https or none"}},
		{"ssl.truststore.location=/etc/kafka.jks", []string{"not supported", "ssl.ca.location"}},
		{"bootstrap.servers=host:99999", []string{"port", "1 to 65535"}},
		{"no-equals-sign", []string{"want key=value"}},
	}
	for _, tt := range tests {
		t.Run(tt.override, func(t *testing.T) {
			_, _, err := kafka.Load(kafka.LoadOptions{Getenv: noEnv, Brokers: "b:1", Overrides: []string{tt.override}})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadInconsistentSettings(t *testing.T) {
	tests := []struct {
		name      string
		overrides []string
		want      string
	}{
		{"no brokers", nil, "no Kafka brokers"},
		{"SASL without mechanism", []string{"bootstrap.servers=b:1", "security.protocol=SASL_SSL", "sasl.username=u", "sasl.password=p"}, "needs sasl.mechanism"},
		{"SASL without password", []string{"bootstrap.servers=b:1", "security.protocol=SASL_PLAINTEXT", "sasl.mechanism=PLAIN", "sasl.username=u"}, "needs sasl.username and sasl.password"},
		{"SCRAM module without mechanism", []string{"bootstrap.servers=b:1", "security.protocol=SASL_SSL",
			`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";`}, "sasl.mechanism is not set"},
		{"PLAIN module with SCRAM mechanism", []string{"bootstrap.servers=b:1", "security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512",
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`}, "does not match the PlainLoginModule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := kafka.Load(kafka.LoadOptions{Getenv: noEnv, Overrides: tt.overrides})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadScramJAAS(t *testing.T) {
	cfg, _, err := kafka.Load(kafka.LoadOptions{Getenv: noEnv, Overrides: []string{
		"bootstrap.servers=b:1",
		"security.protocol=sasl_ssl",
		"sasl.mechanism=SCRAM-SHA-512",
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p\"w;d";`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SecurityProtocol != kafka.ProtocolSASLSSL {
		t.Errorf("SecurityProtocol = %s, want SASL_SSL from the lower-case value", cfg.SecurityProtocol)
	}
	if cfg.SASLUsername != "alice" {
		t.Errorf("SASLUsername = %s, want alice", cfg.SASLUsername)
	}
	if cfg.SASLPassword.Reveal() != `p"w;d` {
		t.Error(`SASLPassword is not p"w;d: escapes and ';' inside quotes are not read as JAAS does`)
	}
}

func TestLoadJAASErrorHidesPassword(t *testing.T) {
	_, _, err := kafka.Load(kafka.LoadOptions{Getenv: noEnv, Brokers: "b:1", Overrides: []string{
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="` + testPassword,
	}})
	if err == nil {
		t.Fatal("Load succeeded on an unterminated sasl.jaas.config")
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("error %q contains the password", err)
	}
	if !strings.Contains(err.Error(), "sasl.jaas.config") {
		t.Errorf("error %q does not name sasl.jaas.config", err)
	}
}

func TestConfigRedactsPassword(t *testing.T) {
	path := writeFile(t, "client.properties", confluentLibrdkafka)
	cfg, _, err := kafka.Load(kafka.LoadOptions{ConfigFile: path, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("connecting", "kafka", cfg, "password", cfg.SASLPassword)
	jsonConfig, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String":  cfg.String(),
		"%v":      fmt.Sprintf("%v", cfg),
		"%+v":     fmt.Sprintf("%+v", *cfg),
		"%#v":     fmt.Sprintf("%#v", *cfg),
		"%x":      fmt.Sprintf("%x", cfg.SASLPassword),
		"%q":      fmt.Sprintf("%q", cfg.SASLPassword),
		"slog":    logged.String(),
		"JSON":    string(jsonConfig),
		"Secret":  cfg.SASLPassword.String(),
		"Secret%": fmt.Sprint(cfg.SASLPassword),
	}
	for name, out := range outputs {
		if strings.Contains(out, testPassword) {
			t.Errorf("%s output contains the password: %s", name, out)
		}
	}
	if !strings.Contains(cfg.String(), "sasl.password=[redacted]") {
		t.Errorf("String() = %q, want sasl.password=[redacted]", cfg.String())
	}
	if !strings.Contains(logged.String(), `"sasl_password":"[redacted]"`) {
		t.Errorf("slog output %s does not show the redacted password", logged.String())
	}
}

func TestReadProperties(t *testing.T) {
	input := "# comment\n" +
		"! also a comment\n" +
		"\n" +
		"  a.key = spaced value  \n" +
		"colon.key:value\n" +
		"space.key value with spaces\n" +
		"long.key=first \\\n" +
		"    second\n" +
		"escaped\\=key=tab\\there\\u0041\n" +
		"windows.line=crlf\r\n" +
		"empty.key=\n"
	props, err := kafka.ReadProperties(strings.NewReader(input), "test.properties")
	if err != nil {
		t.Fatal(err)
	}
	want := []kafka.Property{
		{Key: "a.key", Value: "spaced value  ", Source: "test.properties line 4"},
		{Key: "colon.key", Value: "value", Source: "test.properties line 5"},
		{Key: "space.key", Value: "value with spaces", Source: "test.properties line 6"},
		{Key: "long.key", Value: "first second", Source: "test.properties line 7"},
		{Key: "escaped=key", Value: "tab\thereA", Source: "test.properties line 9"},
		{Key: "windows.line", Value: "crlf", Source: "test.properties line 10"},
		{Key: "empty.key", Value: "", Source: "test.properties line 11"},
	}
	if len(props) != len(want) {
		t.Fatalf("got %d properties %q, want %d", len(props), props, len(want))
	}
	for i := range want {
		if props[i] != want[i] {
			t.Errorf("property %d = %q, want %q", i, props[i], want[i])
		}
	}
}

func TestReadPropertiesInvalidEscape(t *testing.T) {
	_, err := kafka.ReadProperties(strings.NewReader("sasl.password=xyzzy\\u12\n"), "bad.properties")
	if err == nil {
		t.Fatal("ReadProperties accepted an incomplete \\u escape")
	}
	if !strings.Contains(err.Error(), "bad.properties line 1") {
		t.Errorf("error %q does not name the file and line", err)
	}
	if strings.Contains(err.Error(), "xyzzy") {
		t.Errorf("error %q quotes the value, which may be a password", err)
	}
}

func TestLoadMissingConfigFile(t *testing.T) {
	_, _, err := kafka.Load(kafka.LoadOptions{ConfigFile: filepath.Join(t.TempDir(), "absent.properties"), Getenv: noEnv})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestParseBrokers(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"127.0.0.1:19092", "127.0.0.1:19092"},
		{"a:1, b:2,", "a:1,b:2"},
		{"broker", "broker:9092"},
		{"SASL_SSL://broker:9093", "broker:9093"},
		{"[::1]:19092", "[::1]:19092"},
		{"[::1]", "[::1]:9092"},
	}
	for _, tt := range tests {
		got, err := kafka.ParseBrokers(tt.in)
		if err != nil {
			t.Errorf("ParseBrokers(%q): %v", tt.in, err)
			continue
		}
		if strings.Join(got, ",") != tt.want {
			t.Errorf("ParseBrokers(%q) = %q, want %s", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", " , ", "host:port", "host:0", "a b:1"} {
		if _, err := kafka.ParseBrokers(bad); err == nil {
			t.Errorf("ParseBrokers(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseStartPosition(t *testing.T) {
	tests := []struct {
		in   string
		want kafka.StartPosition
	}{
		{"earliest", kafka.StartPosition{Kind: kafka.PositionEarliest}},
		{"LATEST", kafka.StartPosition{Kind: kafka.PositionLatest}},
		{"2024-05-01T12:00:00Z", kafka.StartPosition{Kind: kafka.PositionTime, Millis: 1714564800000}},
		{"2024-05-01T14:00:00.250+02:00", kafka.StartPosition{Kind: kafka.PositionTime, Millis: 1714564800250}},
		{"@1714564800000", kafka.StartPosition{Kind: kafka.PositionTime, Millis: 1714564800000}},
		{"1500", kafka.StartPosition{Kind: kafka.PositionOffset, Offset: 1500}},
		{"0", kafka.StartPosition{Kind: kafka.PositionOffset, Offset: 0}},
		{"-10", kafka.StartPosition{Kind: kafka.PositionFromEnd, Offset: 10}},
	}
	for _, tt := range tests {
		got, err := kafka.ParseStartPosition(tt.in)
		if err != nil {
			t.Errorf("ParseStartPosition(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseStartPosition(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "@-5", "@soon", "2024-05-01"} {
		_, err := kafka.ParseStartPosition(bad)
		if err == nil {
			t.Errorf("ParseStartPosition(%q) succeeded, want an error", bad)
			continue
		}
		if !strings.Contains(err.Error(), "earliest, latest") {
			t.Errorf("error %q does not list the valid forms", err)
		}
	}
}

func TestParseAddress(t *testing.T) {
	topic, ok, err := kafka.ParseAddress("kafka:pcap")
	if err != nil || !ok || topic != "pcap" {
		t.Errorf(`ParseAddress("kafka:pcap") = %q, %v, %v; want pcap, true, nil`, topic, ok, err)
	}
	if _, ok, err := kafka.ParseAddress("records.jsonl"); ok || err != nil {
		t.Errorf(`ParseAddress("records.jsonl") = %v, %v; want false, nil`, ok, err)
	}
	if _, ok, err := kafka.ParseAddress("kafka:bad/topic"); !ok || err == nil {
		t.Errorf(`ParseAddress("kafka:bad/topic") = %v, %v; want true and an error`, ok, err)
	}
	if _, ok, err := kafka.ParseAddress("kafka:"); !ok || err == nil {
		t.Errorf(`ParseAddress("kafka:") = %v, %v; want true and an error`, ok, err)
	}
}
