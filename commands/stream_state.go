package commands

// Checkpoints and pull queries of stream mode.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// checkpointVersion is the version of the checkpoint file format.
const checkpointVersion = 1

// checkpointFile is the name of the checkpoint in --state-dir.
const checkpointFile = "checkpoint"

// checkpoint is the header of a checkpoint file: one JSON line, followed
// by the engine state as ops.Engine.Encode writes it. The offsets are the
// next offset to read in each partition, so the state holds exactly the
// records before them.
type checkpoint struct {
	Version  int             `json:"version"`
	Command  string          `json:"command"`
	Settings string          `json:"settings"`
	Topic    string          `json:"topic"`
	Offsets  map[int32]int64 `json:"offsets"`
	Records  int64           `json:"records"`
	Late     int64           `json:"late"`
	Skipped  int64           `json:"skipped"`
	SavedAt  string          `json:"saved_at"`
}

// engineState is the state a checkpoint saves after its header: an
// *ops.Engine, or a streamExtra with its engine.
type engineState interface {
	Encode(w io.Writer) error
	Decode(r io.Reader) error
}

// saveCheckpoint writes the checkpoint and the engine state to a temporary
// file, syncs it and renames it over the previous one, so that a crash
// leaves either the old or the new checkpoint, never a mix.
func saveCheckpoint(dir string, c *checkpoint, engine engineState) error {
	c.Version, c.SavedAt = checkpointVersion, time.Now().UTC().Format(time.RFC3339Nano)
	err := writeStateFile(dir, checkpointFile, func(w io.Writer) error {
		header, err := json.Marshal(c)
		if err != nil {
			return err
		}
		w.Write(append(header, '\n'))
		return engine.Encode(w)
	})
	if err != nil {
		return fmt.Errorf("unable to write a checkpoint to %s: %w", dir, err)
	}
	return nil
}

// writeStateFile writes the file name in dir with write, through a
// temporary file that it syncs and renames over the previous one, so that
// a crash leaves either the old or the new file, never a mix.
func writeStateFile(dir, name string, write func(io.Writer) error) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	w := bufio.NewWriter(tmp)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		return err
	}
	// Syncing the directory makes the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// loadCheckpoint reads the checkpoint in dir into c and engine. It returns
// false when dir has none yet. c carries the command, settings and topic
// of this run, which must match the saved ones.
func loadCheckpoint(dir string, c *checkpoint, engine engineState) (bool, error) {
	path := filepath.Join(dir, checkpointFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("unable to read the checkpoint: %w", err)
	}
	line, state, ok := bytes.Cut(data, []byte{'\n'})
	var saved checkpoint
	if !ok || json.Unmarshal(line, &saved) != nil {
		return false, fmt.Errorf("invalid checkpoint %s: no JSON header line; remove the file to start over", path)
	}
	if saved.Version != checkpointVersion {
		return false, fmt.Errorf("checkpoint %s has format version %d, this wifiq reads version %d; remove it to start over", path, saved.Version, checkpointVersion)
	}
	if saved.Command != c.Command || saved.Settings != c.Settings || saved.Topic != c.Topic {
		return false, fmt.Errorf("checkpoint %s was saved by %q over topic %s with settings %q, not by %q over topic %s with settings %q: use another --state-dir, or the same command and flags",
			path, saved.Command, saved.Topic, saved.Settings, c.Command, c.Topic, c.Settings)
	}
	if err := engine.Decode(bytes.NewReader(state)); err != nil {
		return false, fmt.Errorf("invalid checkpoint %s: %w; remove it to start over", path, err)
	}
	if saved.Offsets == nil {
		saved.Offsets = map[int32]int64{}
	}
	*c = saved
	return true, nil
}

// servedTable is the changelog materialized for --serve: the latest row of
// every key, with tombstones removing keys. Only --serve fills it.
type servedTable struct {
	mu      sync.Mutex
	enabled bool
	rows    map[string]changelogEntry
}

func newServedTable() *servedTable { return &servedTable{rows: map[string]changelogEntry{}} }

func (s *servedTable) apply(e changelogEntry) {
	if !s.enabled {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.value == nil {
		delete(s.rows, string(e.keyJSON))
		return
	}
	s.rows[string(e.keyJSON)] = e
}

func (s *servedTable) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rows)
}

// servedFile holds the rows of --serve in --state-dir, next to the
// checkpoint, because rows of closed windows are no longer in the engine.
const servedFile = "served.json"

// servedSnapshot is a row of servedFile.
type servedSnapshot struct {
	Key     json.RawMessage   `json:"key"`
	Value   json.RawMessage   `json:"value"`
	Start   int64             `json:"start,omitempty"`
	End     int64             `json:"end,omitempty"`
	KeyText map[string]string `json:"key_text"`
}

// save writes the rows to servedFile in dir. Call it before the
// checkpoint: rows newer than the checkpoint are written again with the
// same values when the records after it are read again.
func (s *servedTable) save(dir string) error {
	s.mu.Lock()
	rows := make([]servedSnapshot, 0, len(s.rows))
	for _, e := range s.rows {
		rows = append(rows, servedSnapshot{Key: e.keyJSON, Value: e.value, Start: e.start, End: e.end, KeyText: e.keyText})
	}
	s.mu.Unlock()
	err := writeStateFile(dir, servedFile, func(w io.Writer) error { return json.NewEncoder(w).Encode(rows) })
	if err != nil {
		return fmt.Errorf("unable to write the rows of --serve to %s: %w", dir, err)
	}
	return nil
}

// load reads the rows that save wrote to dir, if any.
func (s *servedTable) load(dir string) error {
	path := filepath.Join(dir, servedFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var rows []servedSnapshot
	if err == nil {
		err = json.Unmarshal(data, &rows)
	}
	if err != nil {
		return fmt.Errorf("unable to read the rows of --serve from %s: %w; remove it to start --serve with no rows", path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rows {
		s.rows[string(r.Key)] = changelogEntry{keyJSON: r.Key, value: r.Value, start: r.Start, end: r.End, keyText: r.KeyText}
	}
	return nil
}

// servedRow is one row of a pull query's response.
type servedRow struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

// query returns the rows whose key columns equal filter's values and,
// when from or to are set, whose window overlaps [from, to), ordered by
// key. Rows without windows match only when from and to are left out.
func (s *servedTable) query(filter map[string]string, from, to int64) []servedRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := []servedRow{}
	for _, e := range s.rows {
		match := e.end > from && e.start < to
		for name, want := range filter {
			if got, ok := e.keyText[name]; !ok || got != want {
				match = false
			}
		}
		if match {
			rows = append(rows, servedRow{Key: e.keyJSON, Value: e.value})
		}
	}
	slices.SortFunc(rows, func(a, b servedRow) int { return bytes.Compare(a.Key, b.Key) })
	return rows
}

// serveTable serves pull queries on addr until the returned function is
// called:
//
//	GET /rows                          every row
//	GET /rows?COLUMN=VALUE...          the rows whose key columns have these values
//	GET /rows?...&from=TIME&to=TIME    and whose window overlaps [from, to)
//
// TIME is RFC 3339 or milliseconds since the Unix epoch. The answer is a
// JSON array of {"key":{...},"value":{...}} objects.
//
// keyColumns are the columns a request may filter on; another name gets
// HTTP 400.
func serveTable(g *Globals, addr string, table *servedTable, keyColumns []string) (func(), error) {
	table.enabled = true
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("unable to listen on --serve %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rows", func(w http.ResponseWriter, r *http.Request) {
		filter := map[string]string{}
		from, to := int64(-1<<63), int64(1<<63-1)
		for name, values := range r.URL.Query() {
			value := values[len(values)-1]
			switch name {
			case "from", "to":
				ms, err := parseServeTime(value)
				if err != nil {
					http.Error(w, fmt.Sprintf("invalid %s %q: want an RFC 3339 time or milliseconds since the Unix epoch", name, value), http.StatusBadRequest)
					return
				}
				if name == "from" {
					from = ms
				} else {
					to = ms
				}
			case "window_start", "window_end":
				ms, err := parseServeTime(value)
				if err != nil || !slices.Contains(keyColumns, name) {
					http.Error(w, fmt.Sprintf("invalid %s %q: want an RFC 3339 time or milliseconds since the Unix epoch, of a windowed table", name, value), http.StatusBadRequest)
					return
				}
				filter[name] = strconv.FormatInt(ms, 10)
			default:
				if !slices.Contains(keyColumns, name) {
					http.Error(w, fmt.Sprintf("unknown column %q: filter on a key column (%s), from or to", name, strings.Join(keyColumns, ", ")), http.StatusBadRequest)
					return
				}
				filter[name] = value
			}
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.Encode(table.query(filter, from, to))
	})
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.Log.Error("pull query server stopped", "address", addr, "err", err)
		}
	}()
	g.Log.Info("serving pull queries", "address", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		server.Shutdown(ctx)
	}, nil
}

func parseServeTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}
