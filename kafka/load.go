package kafka

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Environment variables that Load reads. Each maps to one property, except
// EnvConfig, which names a properties file.
const (
	EnvBrokers          = "WIFIQ_KAFKA_BROKERS"
	EnvConfig           = "WIFIQ_KAFKA_CONFIG"
	EnvSecurityProtocol = "WIFIQ_KAFKA_SECURITY_PROTOCOL"
	EnvSASLMechanism    = "WIFIQ_KAFKA_SASL_MECHANISM"
	EnvSASLUsername     = "WIFIQ_KAFKA_SASL_USERNAME"
	EnvSASLPassword     = "WIFIQ_KAFKA_SASL_PASSWORD"
	EnvSSLCALocation    = "WIFIQ_KAFKA_SSL_CA_LOCATION"
	EnvClientID         = "WIFIQ_KAFKA_CLIENT_ID"
)

// EnvProperties lists the environment variables that set properties, in the
// order Load applies them.
var EnvProperties = []struct{ Variable, Property string }{
	{EnvBrokers, "bootstrap.servers"},
	{EnvSecurityProtocol, "security.protocol"},
	{EnvSASLMechanism, "sasl.mechanism"},
	{EnvSASLUsername, "sasl.username"},
	{EnvSASLPassword, "sasl.password"},
	{EnvSSLCALocation, "ssl.ca.location"},
	{EnvClientID, "client.id"},
}

// Property is one key=value setting and where it was read.
type Property struct {
	Key, Value string
	Source     string // for example "client.properties line 4"
}

// LoadOptions are the sources of a Config. Load applies them from the
// lowest precedence to the highest: built-in defaults, the properties file,
// the environment variables, the -X overrides in their order, then Brokers.
type LoadOptions struct {
	// ConfigFile is a Java/librdkafka properties file (--kafka-config). When
	// empty, the file named by WIFIQ_KAFKA_CONFIG is read, if any.
	ConfigFile string
	// Overrides are -X key=value settings.
	Overrides []string
	// Brokers is a comma-separated broker list (--brokers).
	Brokers string
	// Getenv reads environment variables; nil means os.Getenv.
	Getenv func(string) string
}

// Load builds a Config from its sources and validates it. Unknown property
// names do not fail: they come back as warnings, one per key and source.
func Load(opts LoadOptions) (*Config, []string, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	c := DefaultConfig()
	var warnings []string
	apply := func(p Property) error {
		warning, err := c.Set(p.Key, p.Value, p.Source)
		if warning != "" {
			warnings = append(warnings, warning)
		}
		return err
	}

	file := opts.ConfigFile
	if file == "" {
		file = getenv(EnvConfig)
	}
	if file != "" {
		props, err := ReadPropertiesFile(file)
		if err != nil {
			return nil, warnings, err
		}
		for _, p := range props {
			if err := apply(p); err != nil {
				return nil, warnings, err
			}
		}
	}

	for _, e := range EnvProperties {
		if v := getenv(e.Variable); v != "" {
			if err := apply(Property{Key: e.Property, Value: v, Source: "environment variable " + e.Variable}); err != nil {
				return nil, warnings, err
			}
		}
	}

	for _, kv := range opts.Overrides {
		key, value, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(key) == "" {
			return nil, warnings, fmt.Errorf("invalid -X %q: want key=value, for example -X security.protocol=SASL_SSL", kv)
		}
		if err := apply(Property{Key: key, Value: value, Source: "-X"}); err != nil {
			return nil, warnings, err
		}
	}

	if opts.Brokers != "" {
		if err := apply(Property{Key: "bootstrap.servers", Value: opts.Brokers, Source: "--brokers"}); err != nil {
			return nil, warnings, err
		}
	}

	if err := c.Validate(); err != nil {
		return nil, warnings, err
	}
	return c, warnings, nil
}

// ReadPropertiesFile reads a properties file; see ReadProperties.
func ReadPropertiesFile(path string) ([]Property, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("unable to read Kafka config file: %w", err)
	}
	defer f.Close()
	return ReadProperties(f, path)
}

// ReadProperties parses Java properties syntax, which librdkafka's
// key=value files also fit: "#" and "!" start comment lines, the key ends at
// the first unescaped "=", ":" or white space, a line ending in a backslash
// continues on the next, and \t, \n, \r, \f and \uXXXX escapes are decoded.
// As in Java, white space before a value is dropped and after it is kept.
// name labels the source in Property.Source.
func ReadProperties(r io.Reader, name string) ([]Property, error) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64*1024), 1<<20)
	var props []Property
	var logical strings.Builder
	lineNumber, startLine := 0, 0
	for scanner.Scan() {
		lineNumber++
		line := strings.TrimRight(scanner.Text(), "\r")
		if logical.Len() == 0 {
			line = strings.TrimLeft(line, " \t\f")
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
			startLine = lineNumber
		} else {
			line = strings.TrimLeft(line, " \t\f")
		}
		if endsWithContinuation(line) {
			logical.WriteString(line[:len(line)-1])
			continue
		}
		logical.WriteString(line)
		p, err := parsePropertyLine(logical.String())
		if err != nil {
			return nil, fmt.Errorf("unable to parse %s line %d: %w", name, startLine, err)
		}
		p.Source = fmt.Sprintf("%s line %d", name, startLine)
		props = append(props, p)
		logical.Reset()
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("unable to read %s: %w", name, err)
	}
	if logical.Len() > 0 {
		p, err := parsePropertyLine(logical.String())
		if err != nil {
			return nil, fmt.Errorf("unable to parse %s line %d: %w", name, startLine, err)
		}
		p.Source = fmt.Sprintf("%s line %d", name, startLine)
		props = append(props, p)
	}
	return props, nil
}

// endsWithContinuation reports whether a line ends in an odd number of
// backslashes, which joins it with the next line.
func endsWithContinuation(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func parsePropertyLine(line string) (Property, error) {
	keyEnd := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			keyEnd = i
			break
		}
	}
	rest := strings.TrimLeft(line[keyEnd:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	key, err := unescapeProperty(line[:keyEnd])
	if err != nil {
		return Property{}, err
	}
	value, err := unescapeProperty(rest)
	if err != nil {
		// The value may be a password, so the error does not quote it.
		return Property{}, fmt.Errorf("value of %s: %w", key, err)
	}
	return Property{Key: key, Value: value}, nil
}

func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", errors.New(`incomplete \u escape`)
			}
			v, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", errors.New(`invalid \u escape: want four hexadecimal digits`)
			}
			b.WriteRune(rune(v))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	if !utf8.ValidString(b.String()) {
		return "", errors.New("invalid UTF-8")
	}
	return b.String(), nil
}

// setJAAS reads the login module and credentials from a Java
// sasl.jaas.config value such as
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";
//
// Option values may be quoted with ' or ", as Kafka's JAAS parser allows.
// Errors never quote the value, because it contains the password.
func setJAAS(c *Config, v string) error {
	fields, err := splitJAAS(v)
	if err != nil {
		return err
	}
	if len(fields) < 2 {
		return errors.New("want LoginModuleClass required username=\"...\" password=\"...\";")
	}
	module := fields[0]
	switch {
	case strings.HasSuffix(module, ".PlainLoginModule"):
		c.jaasModule = "plain"
	case strings.HasSuffix(module, ".ScramLoginModule"):
		c.jaasModule = "scram"
	default:
		return fmt.Errorf("login module %s is not supported: want PlainLoginModule or ScramLoginModule", module)
	}
	switch fields[1] {
	case "required", "requisite", "sufficient", "optional":
	default:
		return errors.New("the login module class must be followed by a control flag such as required")
	}
	for _, option := range fields[2:] {
		name, value, ok := strings.Cut(option, "=")
		if !ok {
			return errors.New("login module options must have the form name=\"value\"")
		}
		switch name {
		case "username":
			c.SASLUsername = value
		case "password":
			c.SASLPassword = Secret(value)
		}
	}
	return nil
}

// splitJAAS splits one JAAS login module entry into the class, the control
// flag and name=value options with quotes removed. The entry ends at ";".
func splitJAAS(s string) ([]string, error) {
	var fields []string
	var current strings.Builder
	inField := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			end, value, err := readJAASQuoted(s, i)
			if err != nil {
				return nil, err
			}
			current.WriteString(value)
			inField = true
			i = end
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inField {
				fields = append(fields, current.String())
				current.Reset()
				inField = false
			}
		case c == ';':
			if inField {
				fields = append(fields, current.String())
			}
			if strings.TrimSpace(s[i+1:]) != "" {
				return nil, errors.New("only one login module entry is supported")
			}
			return fields, nil
		default:
			current.WriteByte(c)
			inField = true
		}
	}
	return nil, errors.New("the login module entry must end with ';'")
}

// readJAASQuoted reads the quoted string that starts at s[start] and returns
// the index of its closing quote and its content with backslash escapes
// decoded.
func readJAASQuoted(s string, start int) (int, string, error) {
	quote := s[start]
	var b strings.Builder
	for i := start + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == quote:
			return i, b.String(), nil
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return 0, "", errors.New("a quoted option value is not closed")
}
