package postgres

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// passwordSetting finds a password key in a keyword/value connection string.
var passwordSetting = regexp.MustCompile(`(^|\s)password\s*=`)

// CheckDSN rejects a connection string that contains a password, because
// every local user can read a command line in the process list.
func CheckDSN(dsn string) error {
	const fix = "remove it and set PGPASSWORD or put it in a pgpass file (~/.pgpass or PGPASSFILE)"
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// The error text of url.Parse repeats the URL, password included.
			return fmt.Errorf("invalid --dsn: not a valid postgres:// URL")
		}
		if _, ok := u.User.Password(); ok || u.Query().Has("password") {
			return fmt.Errorf("invalid --dsn: it contains a password: %s", fix)
		}
		return nil
	}
	if passwordSetting.MatchString(dsn) {
		return fmt.Errorf("invalid --dsn: it contains a password: %s", fix)
	}
	return nil
}

// Connector checks dsn and returns a function that opens a connection with
// it. Settings missing from dsn come from the PG* environment variables
// and the password from PGPASSWORD or the pgpass file, as in libpq.
func Connector(dsn string) (func(context.Context) (*pgx.Conn, error), error) {
	if err := CheckDSN(dsn); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid --dsn: %w", err)
	}
	return func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.ConnectConfig(ctx, cfg.Copy())
	}, nil
}

// Describe names the server and user of dsn for logs, without secrets.
func Describe(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
