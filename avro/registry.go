package avro

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"

	hamba "github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/registry"
)

// Environment variables of the registry settings. Credentials are read only
// from the environment or a file, never from the command line, where other
// users of the machine can see them.
const (
	EnvURL          = "WIFIQ_SCHEMA_REGISTRY_URL"
	EnvUser         = "WIFIQ_SCHEMA_REGISTRY_USER"
	EnvPassword     = "WIFIQ_SCHEMA_REGISTRY_PASSWORD"
	EnvPasswordFile = "WIFIQ_SCHEMA_REGISTRY_PASSWORD_FILE"
)

// Confluent's error code for a subject or version that does not exist, and
// for a schema ID that does not exist.
const (
	codeSubjectNotFound = 40401
	codeVersionNotFound = 40402
	codeSchemaNotFound  = 40403
)

// RegistrySettings locate a schema registry.
type RegistrySettings struct {
	URL      string
	User     string
	Password string
}

// LoadRegistrySettings returns the settings with the URL flag (empty for
// none) over $WIFIQ_SCHEMA_REGISTRY_URL, and basic auth from
// $WIFIQ_SCHEMA_REGISTRY_USER with $WIFIQ_SCHEMA_REGISTRY_PASSWORD or the
// first line of the file $WIFIQ_SCHEMA_REGISTRY_PASSWORD_FILE. An empty URL
// in the result means no registry is set.
func LoadRegistrySettings(flagURL string) (RegistrySettings, error) {
	s := RegistrySettings{URL: flagURL, User: os.Getenv(EnvUser), Password: os.Getenv(EnvPassword)}
	source := "--registry"
	if s.URL == "" {
		s.URL, source = os.Getenv(EnvURL), "$"+EnvURL
	}
	if file := os.Getenv(EnvPasswordFile); file != "" && s.Password == "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return s, fmt.Errorf("unable to read the registry password from $%s: %w", EnvPasswordFile, err)
		}
		s.Password, _, _ = strings.Cut(strings.TrimRight(string(data), "\r\n"), "\n")
	}
	if s.URL == "" {
		return s, nil
	}
	u, err := url.Parse(s.URL)
	switch {
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return s, fmt.Errorf("invalid %s %q: want an http:// or https:// URL such as http://127.0.0.1:8081", source, s.URL)
	case u.User != nil:
		return s, fmt.Errorf("invalid %s: remove the credentials from the URL and set $%s and $%s (or $%s) instead", source, EnvUser, EnvPassword, EnvPasswordFile)
	}
	return s, nil
}

// RegistryError is an error response of the registry, with Confluent's
// error code and message.
type RegistryError struct {
	Op      string
	Status  int
	Code    int
	Message string
}

func (e *RegistryError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	return fmt.Sprintf("schema registry failed to %s: HTTP %d, error code %d: %s", e.Op, e.Status, e.Code, msg)
}

// Registry is a schema registry client that caches the schemas it reads,
// including the IDs that do not exist. It is safe for concurrent use.
type Registry struct {
	client *registry.Client
	url    string

	mu      sync.Mutex
	missing map[int]error
}

// NewRegistry returns a client of the registry at settings.URL.
func NewRegistry(settings RegistrySettings) (*Registry, error) {
	var opts []registry.ClientFunc
	if settings.User != "" || settings.Password != "" {
		opts = append(opts, registry.WithBasicAuth(settings.User, settings.Password))
	}
	client, err := registry.NewClient(settings.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid schema registry URL %q: %w", settings.URL, err)
	}
	return &Registry{client: client, url: settings.URL, missing: map[int]error{}}, nil
}

// URL returns the registry's base URL.
func (r *Registry) URL() string { return r.url }

// Register registers schema under subject, or finds it registered, and
// returns its ID. A rejected schema gives a *RegistryError.
func (r *Registry) Register(ctx context.Context, subject, schema string) (int, error) {
	id, _, err := r.client.CreateSchema(ctx, subject, schema)
	if err != nil {
		return 0, r.wrap("register a schema under subject "+subject, err)
	}
	return id, nil
}

// Latest returns the latest schema registered under subject and its ID, or
// ok false when the subject has none.
func (r *Registry) Latest(ctx context.Context, subject string) (schema hamba.Schema, id int, ok bool, err error) {
	info, err := r.client.GetLatestSchemaInfo(ctx, subject)
	var regErr registry.Error
	if errors.As(err, &regErr) && (regErr.Code == codeSubjectNotFound || regErr.Code == codeVersionNotFound || regErr.StatusCode == 404) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, r.wrap("read the latest schema of subject "+subject, err)
	}
	return info.Schema, info.ID, true, nil
}

// SetCompatibility sets the compatibility level of subject, such as FULL.
func (r *Registry) SetCompatibility(ctx context.Context, subject, level string) error {
	if err := r.client.SetCompatibilityLevel(ctx, subject, level); err != nil {
		return r.wrap("set the compatibility of subject "+subject, err)
	}
	return nil
}

// wrap turns the registry's error responses into *RegistryError, and names
// the registry in connection errors.
func (r *Registry) wrap(op string, err error) error {
	var regErr registry.Error
	if errors.As(err, &regErr) {
		return &RegistryError{Op: op, Status: regErr.StatusCode, Code: regErr.Code, Message: regErr.Message}
	}
	return fmt.Errorf("unable to %s at schema registry %s: %w", op, r.url, err)
}

// isNotFound reports whether err is the registry's answer that a schema ID
// does not exist.
func isNotFound(err error) bool {
	var regErr *RegistryError
	return errors.As(err, &regErr) && (regErr.Code == codeSchemaNotFound || regErr.Status == 404)
}
