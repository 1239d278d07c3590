package commands

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/query"
	"github.com/wifiq/wifiq/record"
	"github.com/wifiq/wifiq/replay"
)

// outputParquet writes the result as a Parquet file (--out is required).
const outputParquet = "parquet"

// QueryOptions are the settings of wifiq query.
type QueryOptions struct {
	// SQL is the query text: the first argument, or the contents of --file.
	SQL    string
	Inputs []string
	// Records reads every input as JSON lines; without it only files ending
	// in .json, .jsonl or .ndjson (optionally .gz) are.
	Records bool
	Output  string
	// Out is the file the result is written to; empty means stdout.
	Out string
	// DB is a DuckDB database file that keeps the tables; empty means in
	// memory.
	DB string
	// CacheDir is the directory of decoded files; empty means no cache.
	CacheDir string
	Names    NameOptions
	// Input reads the records of a Kafka topic with --from kafka:TOPIC;
	// topicSkipped counts its messages that are not records.
	Input        InputOptions
	topicSkipped atomic.Int64
}

// NewCmdQuery builds the query command.
func NewCmdQuery(g *Globals) *cobra.Command {
	opts := &QueryOptions{}
	var sqlFile, output, cacheDir string
	var noCache bool
	cmd := &cobra.Command{
		Use:   "query SQL [FILE|DIR|GLOB|-]...",
		Short: "Run SQL over captures or records with DuckDB",
		Long: `Decode capture files (pcap, pcapng, gzip-compressed) or read records (JSON
lines in either style, or tshark -T ek) into DuckDB and run SQL over them.

Tables and views:
  packets      one row per frame: time (TIMESTAMP, UTC), type, type_subtype,
               subtype_name, channel, frequency, signal_dbm, duration,
               frame_len, malformed, ra, da, ta, sa, staa, bssid and their
               *_resolved names, ssid (text) and ssid_bytes (BLOB), vendor_oui,
               vendor_oui_type, vendor_data (lists), country, wps_device_name,
               randomised (locally administered sa, else ta), source_file
  probes, probe_responses, beacons, association_requests,
  association_responses, reassociation_requests, reassociation_responses,
  authentications, deauthentications, disassociations, actions,
  management_frames, control_frames, data_frames
               packets of one kind
  files        each input: format, size, frames, errors, whether it came
               from the cache
  addresses, elements, subtypes, packets_compact
               what packets is built from
docs/query.md describes every column.

Files ending in .json, .jsonl or .ndjson (also .gz), and every input with
--records, are read as records; other files as captures. Standard input (-,
or no input at all) is read as records when it starts with "{".

Decoded files are cached in --cache-dir, keyed by path, size and modification
time: a second query over unchanged ring-buffer files reads the cache and
decodes only the new or changed ones. --db keeps the tables in a DuckDB
database file that the duckdb shell can open; without inputs, the query runs
on that database as it is.

Several statements separated by semicolons run in order and the result of
the last one is printed: a table on a terminal, JSON lines when piped.
TIMESTAMP values print as UTC and BLOB values as hex. A file that cannot be
read is reported and skipped while the others are loaded.`,
		Example: `  wifiq query "SELECT subtype_name, count(*) FROM packets GROUP BY ALL" /pcap_data/
  wifiq query "SELECT time::DATE AS day, count(*) FROM probes GROUP BY day ORDER BY day" '/pcap_data/mon0_*'
  wifiq query -f report.sql --db wifi.duckdb /pcap_data/
  wifiq replay-pcap capture.pcap | wifiq query "SELECT ssid, count(*) FROM probes GROUP BY ssid"
  wifiq query -o parquet --out probes.parquet "SELECT * FROM probes" capture.pcapng`,
		Args: func(cmd *cobra.Command, args []string) error {
			if sqlFile == "" && len(args) == 0 {
				return usagef("missing SQL: give a query as the first argument or a file with --file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if sqlFile != "" {
				text, err := os.ReadFile(sqlFile)
				if err != nil {
					return usagef("unable to read --file: %v", err)
				}
				opts.SQL, opts.Inputs = string(text), args
			} else {
				opts.SQL, opts.Inputs = args[0], args[1:]
			}
			var err error
			if opts.Output, err = resolveQueryOutput(output, opts.Out, g.IO); err != nil {
				return err
			}
			if strings.Contains(opts.DB, "?") {
				return usagef("invalid --db %q: DuckDB reads a ? as the start of its options; use a name without one", opts.DB)
			}
			if !noCache {
				opts.CacheDir = cacheDir
				if opts.CacheDir == "" {
					if opts.CacheDir, err = query.DefaultCacheDir(); err != nil {
						g.Log.Warn("running without a cache", "err", err)
					}
				}
			}
			if err := opts.Input.check(opts.Inputs); err != nil {
				return err
			}
			if opts.Input.Follow {
				return usagef("--follow does not apply to query, which reads a topic to its end and then answers")
			}
			return queryRun(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().StringVarP(&sqlFile, "file", "f", "", "read the SQL from `file` instead of the first argument; every argument is then an input")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: {table|json|csv|parquet} (default table on a terminal, json otherwise, or from the --out file's extension)")
	cmd.Flags().StringVar(&opts.Out, "out", "", "write the result to `file` instead of stdout (required for parquet)")
	cmd.Flags().BoolVar(&opts.Records, "records", false, "read every input as JSON lines records, whatever its name")
	cmd.Flags().StringVar(&opts.DB, "db", "", "keep the tables in this DuckDB database `file` (created if missing) instead of in memory")
	cmd.Flags().StringVar(&cacheDir, "cache-dir", "", "`directory` of decoded files (default wifiq/query in the user cache directory, $XDG_CACHE_HOME or ~/.cache)")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "decode every input, and neither read nor write the cache")
	opts.Names.addFlags(cmd)
	opts.Input.addFlags(cmd)
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(
		[]string{outputTable, outputJSON, outputCSV, outputParquet}, cobra.ShellCompDirectiveNoFileComp))
	cmd.MarkFlagFilename("file", "sql")
	cmd.MarkFlagDirname("cache-dir")
	return cmd
}

// resolveQueryOutput picks the output format: the flag if given, else the
// --out file's extension, else a table on a terminal and JSON lines
// otherwise.
func resolveQueryOutput(flag, out string, io *IO) (string, error) {
	if flag == "" && out != "" {
		switch strings.ToLower(filepath.Ext(out)) {
		case ".parquet":
			return outputParquet, nil
		case ".csv":
			return outputCSV, nil
		case ".txt":
			return outputTable, nil
		}
		return outputJSON, nil
	}
	switch flag {
	case outputParquet:
		if out == "" {
			return "", usagef("--output parquet writes a binary file: name it with --out FILE")
		}
		return flag, nil
	case outputTable, outputJSON, outputCSV:
		return flag, nil
	case "":
		return resolveOutput(flag, io)
	}
	return "", usagef("invalid --output %q: want table, json, csv or parquet", flag)
}

func queryRun(ctx context.Context, g *Globals, opts *QueryOptions) error {
	if len(query.SplitStatements(opts.SQL)) == 0 {
		return usagef("the SQL contains no statement: give a query such as \"SELECT count(*) FROM packets\"")
	}
	inputs, stdin, err := queryInputs(ctx, g, opts)
	if err != nil {
		return err
	}

	db, err := query.Open(ctx, opts.DB)
	if err != nil {
		return err
	}
	results, err := loadAndQuery(ctx, g, db, inputs, stdin, opts)
	// Closing writes a database file out, so its error matters too.
	if closeErr := db.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("unable to close the database: %w", closeErr)
	}
	// A group commits what it read only once the result is written.
	if finishErr := opts.Input.finish(err == nil); err == nil {
		err = finishErr
	}
	if err != nil {
		return err
	}
	if n := opts.topicSkipped.Load(); n > 0 {
		return partialError{skippedMessage(n, "message")}
	}
	return partialLoad(results)
}

// loadAndQuery loads the inputs, if any, then runs the SQL and writes the
// result.
func loadAndQuery(ctx context.Context, g *Globals, db *query.DB, inputs []query.Input, stdin io.Reader, opts *QueryOptions) ([]query.FileResult, error) {
	var results []query.FileResult
	if len(inputs) > 0 {
		var err error
		if results, err = loadQueryInputs(ctx, g, db, inputs, stdin, opts); err != nil {
			return nil, err
		}
	}

	err := writeQueryResult(ctx, g, db, opts)
	var stmtErr *query.StatementError
	switch {
	case err == nil:
		return results, nil
	case errors.As(err, &stmtErr) && stmtErr.Invalid():
		return nil, usageError{fmt.Errorf("invalid SQL: %w", err)}
	case stmtErr != nil:
		return nil, fmt.Errorf("query failed: %w", err)
	}
	return nil, err
}

// queryInputs expands the input arguments into files and decides which are
// records. With no input and no --db, standard input is read, unless it is a
// terminal.
func queryInputs(ctx context.Context, g *Globals, opts *QueryOptions) ([]query.Input, io.Reader, error) {
	if opts.Input.From != "" {
		return []query.Input{{Name: "-", Records: true}}, topicRecordLines(ctx, g, &opts.Input, &opts.topicSkipped), nil
	}
	args := opts.Inputs
	if len(args) == 0 {
		if opts.DB != "" {
			return nil, nil, nil
		}
		if g.IO.InIsTerminal {
			return nil, nil, usagef("no input: name capture or record files, or pipe a capture or records into standard input")
		}
		args = []string{"-"}
	}
	names, err := expandQueryInputs(args, opts.Records)
	if err != nil {
		return nil, nil, usagef("%v: name capture or record files, directories, patterns or - for standard input", err)
	}

	stdin := bufio.NewReaderSize(g.IO.In, 64*1024)
	var inputs []query.Input
	for _, name := range names {
		in := query.Input{Name: name, Records: opts.Records || recordFileName(name)}
		if name == "-" && !in.Records {
			in.Records = looksLikeRecords(stdin)
		}
		inputs = append(inputs, in)
	}
	return inputs, stdin, nil
}

// topicRecordLines reads the --from topic in a goroutine and returns its
// records as JSON lines, for the loader that reads records from standard
// input. An error of the topic ends the lines with that error.
func topicRecordLines(ctx context.Context, g *Globals, in *InputOptions, skippedOut *atomic.Int64) io.Reader {
	r, w := io.Pipe()
	go func() {
		var line []byte
		skipped, err := in.readRecords(ctx, g, nil, func(rec *record.Record) error {
			line = append(appendRecordLine(line[:0], rec), '\n')
			_, err := w.Write(line)
			return err
		})
		skippedOut.Store(int64(skipped))
		if err != nil {
			err = fmt.Errorf("%s: %w", in.From, err)
		}
		w.CloseWithError(err)
	}()
	return r
}

// expandQueryInputs expands the arguments as replay.Expand does, but keeps
// the record files of a directory, which replay.Expand leaves out: every
// file with --records, else the files named like JSON lines.
func expandQueryInputs(args []string, records bool) ([]string, error) {
	var names []string
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil || !info.IsDir() {
			expanded, err := replay.Expand([]string{arg})
			if err != nil {
				return nil, err
			}
			names = append(names, expanded...)
			continue
		}
		inDir, err := directoryInputs(arg, records)
		if err != nil {
			return nil, err
		}
		names = append(names, inDir...)
	}
	return names, nil
}

// directoryInputs returns the capture and record files of a directory,
// sorted by name.
func directoryInputs(dir string, records bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && (records || recordFileName(name)) {
			names = append(names, name)
		}
	}
	if !records {
		// replay.Expand keeps the files that start like a capture. Its
		// error for a directory without one is ignored, because the record
		// files found above may be all the directory has.
		captures, _ := replay.Expand([]string{dir})
		names = append(names, captures...)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("directory %s contains no capture or record files", dir)
	}
	sort.Strings(names)
	return slices.Compact(names), nil
}

// recordFileName reports whether a file name ends in an extension of JSON lines.
func recordFileName(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".gz")
	for _, ext := range []string{".json", ".jsonl", ".ndjson"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// looksLikeRecords reports whether standard input contains records: its first
// byte after blanks is "{", which no capture format starts with, or it is
// empty, which is no records rather than a broken capture.
func looksLikeRecords(r *bufio.Reader) bool {
	for n := 1; n <= r.Size(); n++ {
		b, _ := r.Peek(n)
		if len(b) < n {
			return true // only blanks, or nothing at all
		}
		switch b[n-1] {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// loadQueryInputs loads the inputs into db and logs what happened to each.
func loadQueryInputs(ctx context.Context, g *Globals, db *query.DB, inputs []query.Input, stdin io.Reader, opts *QueryOptions) ([]query.FileResult, error) {
	resolver, err := opts.Names.resolver()
	if err != nil {
		return nil, usageError{err}
	}
	loadOpts := query.LoadOptions{Resolver: resolver, Stdin: stdin}
	if opts.CacheDir != "" {
		loadOpts.Cache = &query.Cache{Dir: opts.CacheDir}
	}

	var decoded atomic.Int64
	if g.IO.ErrIsTerminal && !g.Quiet {
		loadOpts.Decoded = func() { decoded.Add(1) }
	}
	progress := startProgress(g, func() string {
		return fmt.Sprintf("loading %d inputs: %d decoded so far", len(inputs), decoded.Load())
	})
	start := time.Now()
	results, err := db.Load(ctx, inputs, loadOpts)
	progress.stop()
	if err != nil {
		return nil, err
	}
	logLoad(g, results, time.Since(start))
	if nothingRead(results) {
		// A result over no frames would only mislead.
		return nil, fmt.Errorf("no input could be read: %s", strings.Join(unreadInputs(results), "; "))
	}

	if loadOpts.Cache != nil {
		removed, err := loadOpts.Cache.Prune(time.Now())
		if err != nil {
			g.Log.Warn("unable to prune the cache", "dir", opts.CacheDir, "err", err)
		} else if removed > 0 {
			g.Log.Info("pruned the cache", "dir", opts.CacheDir, "entries", removed)
		}
	}
	return results, nil
}

// logLoad reports each input's problems on stderr, and with -v what was
// loaded from where.
func logLoad(g *Globals, results []query.FileResult, took time.Duration) {
	frames, cached := 0, 0
	for _, r := range results {
		frames += r.Frames
		if r.FromCache {
			cached++
		}
		var cacheErr *query.CacheError
		switch {
		case errors.As(r.Err, &cacheErr):
			g.Log.Warn("loaded, but not cached", "file", r.Name, "err", cacheErr.Err)
		case r.Err != nil && r.Frames == 0:
			g.Log.Warn("skipped a file that could not be read", "file", r.Name, "err", r.Err)
		case r.Err != nil:
			g.Log.Warn("file could not be read to the end; the frames before the error are loaded", "file", r.Name, "frames", r.Frames, "err", r.Err)
		}
		if r.CutShort {
			g.Log.Warn("file ends in the middle of a record; every whole record before the cut is loaded", "file", r.Name, "frames", r.Frames)
		}
		for _, line := range r.LineErrors {
			g.Log.Warn("skipped a line that is not a record", "line", line)
		}
		switch {
		case r.Format == "records" && r.Skipped > len(r.LineErrors):
			g.Log.Warn("lines that are not records were skipped", "file", r.Name, "skipped", r.Skipped)
		case r.Format != "records" && r.Skipped > 0:
			g.Log.Warn("skipped records of a link type that carries no 802.11 frames", "file", r.Name, "skipped", r.Skipped)
		}
		g.Log.Debug("loaded", "file", r.Name, "format", r.Format, "frames", r.Frames, "from_cache", r.FromCache)
	}
	g.Log.Info("loaded", "files", len(results), "from_cache", cached, "frames", frames, "seconds", fmt.Sprintf("%.3f", took.Seconds()))
}

// partialLoad returns the exit status 3 error when an input could not be
// read, or contained lines that are not records.
func partialLoad(results []query.FileResult) error {
	msgs := unreadInputs(results)
	if len(msgs) == 0 {
		return nil
	}
	return partialError{fmt.Sprintf("%d of %d inputs were skipped in part or whole: %s", len(msgs), len(results), strings.Join(msgs, "; "))}
}

// nothingRead reports whether every input failed before giving a frame.
func nothingRead(results []query.FileResult) bool {
	for _, r := range results {
		var cacheErr *query.CacheError
		if r.Frames > 0 || r.Err == nil || errors.As(r.Err, &cacheErr) {
			return false
		}
	}
	return len(results) > 0
}

// unreadInputs describes each input that could not be read, in part or
// whole, or contained lines that are not records. A file that was loaded
// but not cached is not one of them.
func unreadInputs(results []query.FileResult) []string {
	var msgs []string
	for _, r := range results {
		var cacheErr *query.CacheError
		switch {
		case r.Err != nil && !errors.As(r.Err, &cacheErr):
			msg := r.Err.Error()
			if !strings.Contains(msg, r.Name) {
				msg = r.Name + ": " + msg
			}
			msgs = append(msgs, msg)
		case r.Format == "records" && r.Skipped > 0:
			msgs = append(msgs, fmt.Sprintf("%s: skipped lines that are not records: %d", r.Name, r.Skipped))
		}
	}
	return msgs
}

// writeQueryResult runs the SQL and writes its result to --out or stdout.
func writeQueryResult(ctx context.Context, g *Globals, db *query.DB, opts *QueryOptions) error {
	if opts.Output == outputParquet {
		return db.CopyParquet(ctx, opts.SQL, opts.Out)
	}
	rows, err := db.Query(ctx, opts.SQL)
	if err != nil {
		return err
	}
	defer rows.Close()

	w := g.IO.Out
	if opts.Out != "" {
		f, err := os.Create(opts.Out)
		if err != nil {
			return fmt.Errorf("unable to write the result: %w", err)
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		if err := writeRows(bw, rows, opts.Output); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("unable to write the result to %s: %w", opts.Out, err)
		}
		return f.Close()
	}
	bw := bufio.NewWriter(w)
	if err := writeRows(bw, rows, opts.Output); err != nil {
		return err
	}
	return bw.Flush()
}

// writeRows writes a query result as a table, CSV or JSON lines. CSV and
// JSON lines are written as the rows arrive; a table needs every row first.
func writeRows(w io.Writer, rows *query.Rows, format string) error {
	if len(rows.Columns) == 0 {
		return nil // the last statement returns no rows, as CREATE TABLE does
	}
	names := make([]string, len(rows.Columns))
	for i, c := range rows.Columns {
		names[i] = c.Name
	}
	var write func(values []any) error
	finish := func() error { return nil }
	switch format {
	case outputJSON:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		write = func(values []any) error {
			obj := make(orderedObject, len(values))
			for i, v := range values {
				obj[i] = keyValue{names[i], query.JSONValue(rows.Columns[i].Type, v)}
			}
			return enc.Encode(obj)
		}
	case outputCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(names); err != nil {
			return err
		}
		write = func(values []any) error {
			return cw.Write(textCells(rows.Columns, values))
		}
		finish = func() error {
			cw.Flush()
			return cw.Error()
		}
	default:
		rep := &report{Columns: names}
		write = func(values []any) error {
			cells := textCells(rows.Columns, values)
			row := make([]any, len(cells))
			for i, c := range cells {
				row[i] = c
			}
			rep.Rows = append(rep.Rows, row)
			return nil
		}
		finish = func() error { return rep.writeTable(w) }
	}

	for {
		values, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return finish()
		}
		if err != nil {
			return fmt.Errorf("query failed: %w", err)
		}
		if err := write(values); err != nil {
			return err
		}
	}
}

func textCells(columns []query.Column, values []any) []string {
	cells := make([]string, len(values))
	for i, v := range values {
		cells[i] = query.TextValue(columns[i].Type, v)
	}
	return cells
}
