package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/ops"
)

// DB is a DuckDB database with the packets schema.
type DB struct {
	sql  *sql.DB
	conn *sql.Conn // runs the user's statements, so settings they make persist
	// persistent is set for a database file: the tables are materialised
	// there instead of being views over the cache.
	persistent bool
}

// Open opens a DuckDB database: in memory when path is empty, else the
// database file at path, created if missing.
func Open(ctx context.Context, path string) (*DB, error) {
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("invalid database path %q: DuckDB reads a ? as the start of its options; use a name without one", path)
	}
	// Extensions that are not built in are not downloaded: a query must not
	// wait on the network. Installed ones still load automatically. Without
	// temp_directory, DuckDB would spill to .tmp in the working directory.
	settings := url.Values{}
	settings.Set("autoinstall_known_extensions", "false")
	settings.Set("temp_directory", filepath.Join(os.TempDir(), fmt.Sprintf("wifiq-duckdb-%d", os.Getpid())))
	dsn := path + "?" + settings.Encode()
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		if path == "" {
			return nil, fmt.Errorf("unable to start DuckDB: %w", err)
		}
		return nil, fmt.Errorf("unable to open database %s: %w", path, err)
	}
	db := sql.OpenDB(connector)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("unable to connect to DuckDB: %w", err)
	}
	return &DB{sql: db, conn: conn, persistent: path != ""}, nil
}

// Close closes the database; a database file is written out.
func (db *DB) Close() error {
	return errors.Join(db.conn.Close(), db.sql.Close())
}

// LoadOptions configures Load.
type LoadOptions struct {
	// Cache keeps decoded files between runs; nil decodes every input.
	Cache *Cache
	// Resolver names the addresses (the *_resolved columns).
	Resolver *capture.Resolver
	// Stdin is read for the input "-".
	Stdin io.Reader
	// Workers is the number of files decoded at once; 0 means GOMAXPROCS.
	Workers int
	// Decoded, if set, is called (from several goroutines) each time an
	// input has been decoded, for a progress line.
	Decoded func()
}

// Load decodes the inputs, or takes them from the cache, and creates the
// packets view and its companions, replacing what an earlier load created.
// Inputs that cannot be read are noted in their FileResult; the error is
// for failures of DuckDB or of the context.
func (db *DB) Load(ctx context.Context, inputs []Input, opts LoadOptions) ([]FileResult, error) {
	if opts.Resolver == nil {
		opts.Resolver = capture.NewResolver()
	}
	if _, err := db.conn.ExecContext(ctx, fmt.Sprintf(
		"CREATE OR REPLACE TABLE loaded_compact (%s); CREATE OR REPLACE TABLE loaded_elements (%s)",
		compactColumns, elementsColumns)); err != nil {
		return nil, fmt.Errorf("unable to create tables: %w", err)
	}

	results := make([]FileResult, len(inputs))
	entries := make([]*cacheEntry, len(inputs)) // the cache entry that contains each input's frames
	var jobs []loadJob
	for i, in := range inputs {
		job, hit := db.prepareInput(in, opts.Cache, &results[i])
		if hit != nil {
			entries[i] = hit
			continue
		}
		if job != nil {
			job.index = i
			jobs = append(jobs, *job)
		}
	}
	if err := db.runJobs(ctx, inputs, jobs, opts, results, entries); err != nil {
		return results, err
	}

	var framesFiles, elementsFiles []string
	for _, e := range entries {
		if e != nil {
			framesFiles = append(framesFiles, e.framesPath())
			elementsFiles = append(elementsFiles, e.elementsPath())
		}
	}
	if err := db.createTables(ctx, framesFiles, elementsFiles, results, opts.Resolver); err != nil {
		return results, err
	}
	return results, nil
}

// loadJob is an input to decode, and the cache entry to store it in (nil:
// keep it in memory only).
type loadJob struct {
	index int
	entry *cacheEntry
}

// prepareInput fills in what os.Stat returns for an input and looks
// it up in the cache. It returns the cache entry on a hit, a job when the
// input must be decoded, or neither when the file cannot be read.
func (db *DB) prepareInput(in Input, cache *Cache, result *FileResult) (*loadJob, *cacheEntry) {
	result.Name, result.Path = in.Name, in.Name
	if in.Name == "-" {
		return &loadJob{}, nil
	}
	if abs, err := filepath.Abs(in.Name); err == nil {
		result.Path = abs
	}
	info, err := os.Stat(in.Name)
	if err != nil {
		result.Err = err
		return nil, nil
	}
	if info.IsDir() {
		result.Err = fmt.Errorf("%s is a directory", in.Name)
		return nil, nil
	}
	result.Size, result.Modified = info.Size(), info.ModTime()
	if cache == nil {
		return &loadJob{}, nil
	}
	entry := cache.entry(result.Path, in.Records, info)
	if hit, ok := cache.lookup(entry); ok {
		result.Format, result.Frames = hit.manifest.Format, hit.manifest.Frames
		result.Malformed, result.Skipped = hit.manifest.Malformed, hit.manifest.Skipped
		result.FromCache = true
		return nil, &hit
	}
	return &loadJob{entry: &entry}, nil
}

// runJobs decodes the inputs of jobs, several files at once, each on a
// connection of its own.
func (db *DB) runJobs(ctx context.Context, inputs []Input, jobs []loadJob, opts LoadOptions,
	results []FileResult, entries []*cacheEntry) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(jobs))
	queue := make(chan loadJob)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			conn, err := db.sql.Conn(ctx)
			if err != nil {
				errs[w] = err
				for range queue {
				}
				return
			}
			defer conn.Close()
			for job := range queue {
				if errs[w] != nil {
					continue // drain the queue after a failure
				}
				entry, err := db.decodeJob(ctx, conn, inputs[job.index], job, opts, &results[job.index])
				errs[w] = err
				entries[job.index] = entry
				if opts.Decoded != nil {
					opts.Decoded()
				}
			}
		})
	}
	for _, job := range jobs {
		queue <- job
	}
	close(queue)
	wg.Wait()
	return errors.Join(errs...)
}

// CacheError is a FileResult.Err note for an input that was loaded but could
// not be stored in the cache; the query still reads its frames.
type CacheError struct{ Err error }

func (e *CacheError) Error() string { return "unable to store in the cache: " + e.Err.Error() }
func (e *CacheError) Unwrap() error { return e.Err }

// decodeJob decodes one input on conn and stores it in the cache, or in the
// loaded_* tables when it is not to be cached. It returns the cache entry
// that contains the input.
func (db *DB) decodeJob(ctx context.Context, conn *sql.Conn, in Input, job loadJob, opts LoadOptions, result *FileResult) (*cacheEntry, error) {
	frames := fmt.Sprintf("load_frames_%d", job.index)
	elems := fmt.Sprintf("load_elements_%d", job.index)
	defer conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("DROP TABLE IF EXISTS %s; DROP TABLE IF EXISTS %s", frames, elems))

	if err := loadInput(ctx, conn, frames, elems, in, opts.Stdin, result); err != nil {
		return nil, err
	}
	if job.entry != nil && result.Err == nil && !result.CutShort && unchanged(in.Name, job.entry.manifest) {
		entry := *job.entry
		err := db.store(ctx, conn, frames, elems, &entry, opts.Cache, result)
		if err == nil {
			return &entry, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		result.Err = &CacheError{err}
	}
	_, err := conn.ExecContext(ctx, fmt.Sprintf("INSERT INTO loaded_compact %s; INSERT INTO loaded_elements SELECT * FROM %s",
		compactSelect(frames, result.Path), elems))
	if err != nil {
		return nil, fmt.Errorf("unable to load frames of %s: %w", in.Name, err)
	}
	return nil, nil
}

// unchanged reports whether a file still has the size and modification time
// it had before decoding; a ring file still being written has not.
func unchanged(name string, m manifest) bool {
	info, err := os.Stat(name)
	return err == nil && info.Size() == m.Size && info.ModTime().UnixNano() == m.ModifiedNS
}

// store writes the decoded frames of an input to its cache entry.
func (db *DB) store(ctx context.Context, conn *sql.Conn, frames, elems string, entry *cacheEntry, cache *Cache, result *FileResult) error {
	if err := os.MkdirAll(cache.Dir, 0o755); err != nil {
		return err
	}
	copies := []struct{ query, path string }{
		{compactSelect(frames, result.Path), entry.framesPath()},
		{"SELECT * FROM " + elems, entry.elementsPath()},
	}
	for _, c := range copies {
		tmp := tempPath(c.path)
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION lz4)", c.query, quoteString(tmp))); err != nil {
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, c.path); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	entry.manifest.Format, entry.manifest.Frames = result.Format, result.Frames
	entry.manifest.Malformed, entry.manifest.Skipped = result.Malformed, result.Skipped
	return cache.commit(*entry)
}

// createTables creates packets_compact from the cached files and the frames
// loaded in memory, then elements, addresses, subtypes, files and the views.
func (db *DB) createTables(ctx context.Context, framesFiles, elementsFiles []string, results []FileResult, resolver *capture.Resolver) error {
	union := func(files []string, table string) string {
		if len(files) == 0 {
			return "SELECT * FROM " + table
		}
		return fmt.Sprintf("SELECT * FROM read_parquet(%s) UNION ALL SELECT * FROM %s", quoteList(files), table)
	}
	kind := "VIEW"
	if db.persistent {
		kind = "TABLE"
	}
	statements := []string{
		fmt.Sprintf("CREATE OR REPLACE %s packets_compact AS %s", kind, union(framesFiles, "loaded_compact")),
		fmt.Sprintf("CREATE OR REPLACE TABLE elements AS SELECT DISTINCT ON (id) * FROM (%s)", union(elementsFiles, "loaded_elements")),
	}
	if db.persistent {
		statements = append(statements, "DROP TABLE loaded_compact", "DROP TABLE loaded_elements")
	}
	for _, s := range statements {
		if _, err := db.conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("unable to create the packets tables: %w", err)
		}
	}

	if err := db.createAddresses(ctx, resolver); err != nil {
		return err
	}
	if err := db.createSubtypes(ctx); err != nil {
		return err
	}
	if err := db.createFiles(ctx, results); err != nil {
		return err
	}

	views := []string{packetsView()}
	for _, v := range kindViews {
		views = append(views, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS SELECT * FROM packets WHERE %s", v.name, v.where))
	}
	for _, v := range views {
		if _, err := db.conn.ExecContext(ctx, v); err != nil {
			return fmt.Errorf("unable to create the views: %w", err)
		}
	}
	return nil
}

// createAddresses fills the addresses table with every address of
// packets_compact, its text form and its resolved name.
func (db *DB) createAddresses(ctx context.Context, resolver *capture.Resolver) error {
	var selects []string
	for _, role := range roles {
		selects = append(selects, fmt.Sprintf("SELECT %s AS mac FROM packets_compact", role))
	}
	rows, err := db.conn.QueryContext(ctx, fmt.Sprintf("SELECT mac FROM (%s) WHERE mac IS NOT NULL", strings.Join(selects, " UNION ")))
	if err != nil {
		return fmt.Errorf("unable to collect addresses: %w", err)
	}
	var macs []uint64
	for rows.Next() {
		var mac uint64
		if err := rows.Scan(&mac); err != nil {
			rows.Close()
			return fmt.Errorf("unable to collect addresses: %w", err)
		}
		macs = append(macs, mac)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("unable to collect addresses: %w", err)
	}

	if _, err := db.conn.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE addresses (%s)", addressesColumns)); err != nil {
		return fmt.Errorf("unable to create the addresses table: %w", err)
	}
	return db.appendRows("addresses", len(macs), func(i int) []driver.Value {
		var m capture.MAC
		for j := range m {
			m[j] = byte(macs[i] >> (40 - 8*j))
		}
		return []driver.Value{macs[i], formatMAC(macs[i]), resolver.Resolve(m)}
	})
}

// maxTypeSubtype bounds the wlan.fc.type_subtype values named in the
// subtypes table: control frame extensions reach (1 << 8) + (6 << 4) + 15.
const maxTypeSubtype = 0x1ff

// createSubtypes fills the subtypes table with the subtype names tshark
// uses.
func (db *DB) createSubtypes(ctx context.Context) error {
	if _, err := db.conn.ExecContext(ctx, "CREATE OR REPLACE TABLE subtypes (type_subtype INTEGER PRIMARY KEY, name VARCHAR)"); err != nil {
		return fmt.Errorf("unable to create the subtypes table: %w", err)
	}
	var known []int
	for ts := 0; ts <= maxTypeSubtype; ts++ {
		if !strings.HasPrefix(ops.SubtypeName(ts), "Unknown (") {
			known = append(known, ts)
		}
	}
	return db.appendRows("subtypes", len(known), func(i int) []driver.Value {
		return []driver.Value{int32(known[i]), ops.SubtypeName(known[i])}
	})
}

// createFiles fills the files table with the outcome of each input.
func (db *DB) createFiles(ctx context.Context, results []FileResult) error {
	if _, err := db.conn.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE files (%s)", filesColumns)); err != nil {
		return fmt.Errorf("unable to create the files table: %w", err)
	}
	return db.appendRows("files", len(results), func(i int) []driver.Value {
		r := results[i]
		var format, modified, errText driver.Value
		if r.Format != "" {
			format = r.Format
		}
		if !r.Modified.IsZero() {
			modified = r.Modified.UTC()
		}
		if r.Err != nil {
			errText = r.Err.Error()
		}
		return []driver.Value{r.Path, format, r.Size, modified, int64(r.Frames), int64(r.Malformed), int64(r.Skipped), r.CutShort, errText, r.FromCache}
	})
}

// appendRows appends n rows to a table of the main schema with DuckDB's
// Appender.
func (db *DB) appendRows(table string, n int, row func(int) []driver.Value) error {
	err := db.conn.Raw(func(driverConn any) error {
		appender, err := duckdb.NewAppender(driverConn.(driver.Conn), "", "main", table)
		if err != nil {
			return err
		}
		for i := range n {
			if err := appender.AppendRow(row(i)...); err != nil {
				appender.Close()
				return err
			}
		}
		return appender.Close()
	})
	if err != nil {
		return fmt.Errorf("unable to fill the %s table: %w", table, err)
	}
	return nil
}
