package neo4j

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// DefaultURI is the Bolt address of the server that scripts/neo4j.sh starts.
const DefaultURI = "bolt://127.0.0.1:17687"

// DefaultUser is the user name when no environment variable sets one.
const DefaultUser = "neo4j"

// Environment variables that hold the connection settings. The WIFIQ_ ones
// take precedence over the names that Neo4j's own tools read.
const (
	EnvURI           = "WIFIQ_NEO4J_URI"
	EnvUser          = "WIFIQ_NEO4J_USERNAME"
	EnvPassword      = "WIFIQ_NEO4J_PASSWORD"
	EnvUserNeo4j     = "NEO4J_USERNAME"
	EnvPasswordNeo4j = "NEO4J_PASSWORD"
)

// Connection is the address and credentials of a Neo4j server.
type Connection struct {
	URI      string
	User     string
	Password string
	Database string
}

// Describe names the user, server and database for logs, without the
// password.
func (c Connection) Describe() string {
	u, err := url.Parse(c.URI)
	if err != nil {
		return "unknown"
	}
	database := c.Database
	if database == "" {
		database = "(default)"
	}
	return fmt.Sprintf("%s@%s/%s", c.User, u.Host, database)
}

// ResolveConnection fills in the connection from the flags and the
// environment. uri and passwordFile are the flag values, empty when unset.
// The password comes from passwordFile, else WIFIQ_NEO4J_PASSWORD, else
// NEO4J_PASSWORD, never from the URI, because every local user can read a
// command line in the process list.
func ResolveConnection(uri, passwordFile, database string, getenv func(string) string) (Connection, error) {
	c := Connection{URI: uri, Database: database}
	if c.URI == "" {
		c.URI = getenv(EnvURI)
	}
	if c.URI == "" {
		c.URI = DefaultURI
	}
	if err := CheckURI(c.URI); err != nil {
		return Connection{}, err
	}

	c.User = firstSet(getenv(EnvUser), getenv(EnvUserNeo4j), DefaultUser)
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return Connection{}, fmt.Errorf("unable to read the --password-file: %w", err)
		}
		c.Password = strings.TrimRight(string(b), "\r\n")
		if c.Password == "" {
			return Connection{}, fmt.Errorf("invalid --password-file %s: the file is empty; write the password of user %s into it", passwordFile, c.User)
		}
	} else {
		c.Password = firstSet(getenv(EnvPassword), getenv(EnvPasswordNeo4j), "")
	}
	if c.Password == "" {
		return Connection{}, fmt.Errorf("missing Neo4j password: set %s or %s, or give --password-file FILE", EnvPassword, EnvPasswordNeo4j)
	}
	return c, nil
}

func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// CheckURI rejects a URI with another scheme than Bolt's or with user
// information in it.
func CheckURI(uri string) error {
	u, err := url.Parse(uri)
	if err != nil {
		// The error text of url.Parse repeats the URL, which may hold a password.
		return fmt.Errorf("invalid --uri: not a valid URL; want bolt://HOST:PORT or neo4j://HOST:PORT")
	}
	switch u.Scheme {
	case "bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc":
	default:
		return fmt.Errorf("invalid --uri scheme %q: want bolt, bolt+s, bolt+ssc, neo4j, neo4j+s or neo4j+ssc", u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("invalid --uri: it contains user information; remove it and set %s and %s (or give --password-file)", EnvUserNeo4j, EnvPasswordNeo4j)
	}
	if u.Host == "" {
		return fmt.Errorf("invalid --uri %q: missing host; want bolt://HOST:PORT", uri)
	}
	return nil
}
