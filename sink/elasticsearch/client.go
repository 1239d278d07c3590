package elasticsearch

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/opensearch-project/opensearch-go/v4"
)

// Environment variables of the server URL and the credentials. The
// credentials never come from flags, so they stay out of the process list
// and the shell history.
const (
	EnvURL      = "ELASTICSEARCH_URL"
	EnvUsername = "ELASTICSEARCH_USERNAME"
	EnvPassword = "ELASTICSEARCH_PASSWORD"
	EnvAPIKey   = "ELASTICSEARCH_API_KEY"
)

// DefaultURL is the server address when neither --url nor
// ELASTICSEARCH_URL names one.
const DefaultURL = "http://127.0.0.1:9200"

// Connection describes how to reach the server.
type Connection struct {
	URL string
	// Username and Password are for HTTP basic authentication.
	Username string
	Password string
	// APIKey is the encoded API key that Elasticsearch returns as
	// "encoded" (base64 of id:key), sent as "Authorization: ApiKey ...".
	APIKey string
	// CACert is the PEM file of the certificate authorities to trust for
	// an https URL; empty means the system's.
	CACert string
}

// Credentials reads the username, password and API key from a file of
// NAME=VALUE lines (the names of the environment variables; blank lines
// and lines starting with # are skipped) when file is not empty, then from
// the environment variables, which take precedence.
func (c *Connection) Credentials(file string) error {
	if file != "" {
		values, err := readCredentialsFile(file)
		if err != nil {
			return err
		}
		c.Username, c.Password, c.APIKey = values[EnvUsername], values[EnvPassword], values[EnvAPIKey]
	}
	if v := os.Getenv(EnvUsername); v != "" {
		c.Username = v
	}
	if v := os.Getenv(EnvPassword); v != "" {
		c.Password = v
	}
	if v := os.Getenv(EnvAPIKey); v != "" {
		c.APIKey = v
	}
	if c.APIKey != "" && (c.Username != "" || c.Password != "") {
		return fmt.Errorf("both an API key (%s) and a username or password are set: keep one way to authenticate", EnvAPIKey)
	}
	if c.Password != "" && c.Username == "" {
		return fmt.Errorf("a password is set but %s is missing: set the username too", EnvUsername)
	}
	return nil
}

func readCredentialsFile(name string) (map[string]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("unable to read the credentials file: %w", err)
	}
	defer f.Close()
	values := map[string]string{}
	scanner := bufio.NewScanner(f)
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		key = strings.TrimSpace(strings.TrimPrefix(key, "export "))
		switch {
		case !ok:
			return nil, fmt.Errorf("invalid line %d in credentials file %s: want NAME=VALUE", line, name)
		case key != EnvUsername && key != EnvPassword && key != EnvAPIKey:
			// The value may be a secret, so only the name is shown.
			return nil, fmt.Errorf("invalid name %q on line %d of credentials file %s: want %s, %s or %s", key, line, name, EnvUsername, EnvPassword, EnvAPIKey)
		}
		values[key] = strings.TrimSpace(value)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("unable to read credentials file %s: %w", name, err)
	}
	return values, nil
}

// CheckURL validates a server URL: http or https, a host, and no user or
// password in it.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid --url: %w", err)
	}
	if u.User != nil {
		return fmt.Errorf("invalid --url: it contains a user name or password; put them in %s and %s (or a --credentials-file) instead", EnvUsername, EnvPassword)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid --url %q: want http://HOST:PORT or https://HOST:PORT", raw)
	}
	return nil
}

// newClient builds the HTTP client. Retries are off in the client because
// the sink retries whole bulk requests and single items itself, with
// backoff and logging.
func newClient(c Connection) (*opensearch.Client, error) {
	if err := CheckURL(c.URL); err != nil {
		return nil, err
	}
	cfg := opensearch.Config{
		Addresses:    []string{c.URL},
		Username:     c.Username,
		Password:     c.Password,
		DisableRetry: true,
	}
	if c.APIKey != "" {
		cfg.Header = http.Header{"Authorization": []string{"ApiKey " + c.APIKey}}
	}
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return nil, fmt.Errorf("unable to read the --ca-cert file: %w", err)
		}
		if !strings.Contains(string(pem), "-----BEGIN CERTIFICATE-----") {
			return nil, fmt.Errorf("invalid --ca-cert %s: no PEM certificate in it", c.CACert)
		}
		cfg.CACert = pem
	}
	client, err := opensearch.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("unable to create the client for %s: %w", c.URL, err)
	}
	return client, nil
}

// errPermanent marks an error that a retry cannot fix.
var errPermanent = errors.New("permanent")

type permanentError struct{ err error }

func (e permanentError) Error() string            { return e.err.Error() }
func (e permanentError) Unwrap() []error          { return []error{e.err, errPermanent} }
func permanentf(format string, args ...any) error { return permanentError{fmt.Errorf(format, args...)} }
