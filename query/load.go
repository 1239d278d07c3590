package query

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/record"
	"github.com/wifiq/wifiq/replay"
)

// Input is one file to load.
type Input struct {
	// Name is the path as given, or "-" for standard input.
	Name string
	// Records reads the input as JSON lines (wifiq records or tshark -T ek)
	// instead of a capture.
	Records bool
}

// FileResult is the outcome of loading one input.
type FileResult struct {
	// Name is the path as given; Path is the absolute path that the
	// source_file column carries ("-" for standard input).
	Name, Path string
	// Format is pcap, pcapng or records; empty when the file could not be
	// read.
	Format   string
	Size     int64
	Modified time.Time
	// Frames counts the rows loaded and Malformed those marked malformed.
	Frames, Malformed int
	// Skipped counts capture records of link types that carry no 802.11
	// frames, or lines of a record file that are not records.
	Skipped int
	// LineErrors describes the first lines that were not records.
	LineErrors []string
	// CutShort is set when a capture ends in the middle of a record.
	CutShort bool
	// Err is the error that stopped reading the file; the frames before it
	// are loaded.
	Err       error
	FromCache bool
}

// maxLineErrors bounds the bad record lines described one by one.
const maxLineErrors = 10

// batchRows is the number of rows handed from the decoding goroutine to the
// appending one at a time: a DuckDB vector's worth.
const batchRows = 2048

// loadInput decodes one input into the load tables frames and elements,
// which it creates on conn. Decoding runs in one goroutine and appending in
// another, so the two overlap on a machine with more than one core.
func loadInput(ctx context.Context, conn *sql.Conn, frames, elementsTable string, in Input, stdin io.Reader, result *FileResult) error {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s (%s); CREATE OR REPLACE TEMP TABLE %s (%s)",
		frames, loadFramesColumns, elementsTable, elementsColumns)); err != nil {
		return fmt.Errorf("unable to create load tables: %w", err)
	}

	batches := make(chan []frameRow, 4)
	free := make(chan []frameRow, 6)
	appendDone := make(chan struct{})
	appendErr := make(chan error, 1)
	go func() {
		defer close(appendDone)
		appendErr <- appendFrames(conn, frames, batches, free)
	}()

	dict := newElementDict()
	emit := func(batch []frameRow) bool {
		select {
		case batches <- batch:
			return true
		case <-appendDone:
			return false
		}
	}
	var decodeErr error
	if in.Records {
		decodeErr = readRecordRows(ctx, in, stdin, dict, result, free, emit)
	} else {
		decodeErr = readCaptureRows(ctx, in, stdin, dict, result, free, emit)
	}
	close(batches)
	if err := <-appendErr; err != nil {
		return fmt.Errorf("unable to append frames of %s: %w", in.Name, err)
	}
	if decodeErr != nil {
		return decodeErr
	}
	if err := appendElements(conn, elementsTable, dict.rows); err != nil {
		return fmt.Errorf("unable to append information elements of %s: %w", in.Name, err)
	}
	return nil
}

// newBatch takes a recycled batch, or makes one.
func newBatch(free chan []frameRow) []frameRow {
	select {
	case b := <-free:
		return b[:0]
	default:
		return make([]frameRow, 0, batchRows)
	}
}

// readCaptureRows decodes a capture file into batches of rows. A file that
// cannot be opened or read to the end is noted in result.Err and is not an
// error of the load: the frames before the failure are kept.
func readCaptureRows(ctx context.Context, in Input, stdin io.Reader, dict *elementDict, result *FileResult,
	free chan []frameRow, emit func([]frameRow) bool) error {
	var file *replay.File
	var err error
	if in.Name == "-" {
		file, err = replay.OpenReader(in.Name, stdin)
	} else {
		file, err = replay.Open(in.Name)
	}
	if err != nil {
		result.Err = err
		return nil
	}
	defer file.Close()
	result.Format = file.Format()

	decoder := &capture.Decoder{}
	batch := newBatch(free)
	for n := 1; ; n++ {
		if n&8191 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		packet, err := file.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, replay.ErrCutShort) {
			result.CutShort = true
			break
		}
		if err != nil {
			result.Err = err
			break
		}
		if !packet.LinkType.Supported() {
			result.Skipped++
			continue
		}
		frame, err := decoder.Decode(packet.LinkType, packet.Timestamp, packet.Data, packet.Length)
		if err != nil {
			result.Skipped++
			continue
		}
		batch = append(batch, rowFromFrame(frame, n, dict))
		result.Frames++
		if frame.Malformed {
			result.Malformed++
		}
		if len(batch) == batchRows {
			if !emit(batch) {
				return nil // the appender failed and reports why
			}
			batch = newBatch(free)
		}
	}
	if len(batch) > 0 {
		emit(batch)
	}
	return nil
}

// readRecordRows reads JSON lines into batches of rows. Lines that are not
// records are counted in result.Skipped.
func readRecordRows(ctx context.Context, in Input, stdin io.Reader, dict *elementDict, result *FileResult,
	free chan []frameRow, emit func([]frameRow) bool) error {
	r := stdin
	source := "stdin"
	if in.Name != "-" {
		f, err := os.Open(in.Name)
		if err != nil {
			result.Err = err
			return nil
		}
		defer f.Close()
		r, source = f, in.Name
	}
	r, err := gunzipIfCompressed(r)
	if err != nil {
		result.Err = fmt.Errorf("%s: %w", source, err)
		return nil
	}
	result.Format = "records"

	reader := record.NewReader(r, source)
	batch := newBatch(free)
	for n := 0; ; n++ {
		if n&8191 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var lineErr *record.LineError
		if errors.As(err, &lineErr) {
			result.Skipped++
			if len(result.LineErrors) < maxLineErrors {
				result.LineErrors = append(result.LineErrors, lineErr.Error())
			}
			continue
		}
		if err != nil {
			result.Err = fmt.Errorf("unable to read %s: %w", source, err)
			break
		}
		row := rowFromRecord(rec, dict)
		batch = append(batch, row)
		result.Frames++
		if row.malformed {
			result.Malformed++
		}
		if len(batch) == batchRows {
			if !emit(batch) {
				return nil
			}
			batch = newBatch(free)
		}
	}
	if len(batch) > 0 {
		emit(batch)
	}
	return nil
}

// gunzipIfCompressed returns a reader of the decompressed data when r starts
// with the gzip magic number, else r.
func gunzipIfCompressed(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64*1024)
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		return gzip.NewReader(br)
	}
	return br, nil
}

// appendFrames appends the batches to table until the channel closes, then
// hands each batch back on free.
func appendFrames(conn *sql.Conn, table string, batches <-chan []frameRow, free chan<- []frameRow) error {
	return conn.Raw(func(driverConn any) error {
		appender, err := duckdb.NewAppender(driverConn.(driver.Conn), "temp", "main", table)
		if err != nil {
			return err
		}
		values := make([]driver.Value, 17)
		var boxes [14]boxCache // columns 2 to 8 and 10 to 16; time and frame number differ in every row
		for batch := range batches {
			for i := range batch {
				r := &batch[i]
				values[0] = r.timeUS
				values[1] = r.frameNumber
				values[2] = boxes[0].box(int64(r.fcType))
				values[3] = boxes[1].box(int64(r.typeSubtype))
				values[4] = boxes[2].box(int64(r.channel))
				values[5] = boxes[3].box(int64(r.frequency))
				values[6] = boxes[4].box(int64(r.signalDBm))
				values[7] = boxes[5].box(int64(r.duration))
				values[8] = boxes[6].box(int64(r.frameLen))
				values[9] = r.malformed
				for j, a := range r.addresses {
					values[10+j] = boxes[7+j].box(a)
				}
				values[16] = boxes[13].boxUnsigned(r.elements)
				if err := appender.AppendRow(values...); err != nil {
					appender.Close()
					return err
				}
			}
			select {
			case free <- batch:
			default:
			}
		}
		return appender.Close()
	})
}

// boxCache keeps the interface values of the numbers a column had lately.
// Putting a number into an interface allocates, and most columns repeat a
// few values (subtypes, channels, the addresses of busy stations), so reusing
// the boxes saves most of the allocations of appending a row.
type boxCache struct {
	keys   [256]uint64
	values [256]driver.Value
}

func (c *boxCache) box(v int64) driver.Value {
	slot := uint64(v) * 0x9e3779b97f4a7c15 >> 56
	if c.values[slot] != nil && c.keys[slot] == uint64(v) {
		return c.values[slot]
	}
	c.keys[slot], c.values[slot] = uint64(v), v
	return c.values[slot]
}

func (c *boxCache) boxUnsigned(v uint64) driver.Value {
	slot := v * 0x9e3779b97f4a7c15 >> 56
	if c.values[slot] != nil && c.keys[slot] == v {
		return c.values[slot]
	}
	c.keys[slot], c.values[slot] = v, v
	return c.values[slot]
}

// appendElements appends the rows of an information element dictionary.
func appendElements(conn *sql.Conn, table string, rows []elementRow) error {
	return conn.Raw(func(driverConn any) error {
		appender, err := duckdb.NewAppender(driverConn.(driver.Conn), "temp", "main", table)
		if err != nil {
			return err
		}
		for _, r := range rows {
			var ssid, ssidText any
			if r.hasSSID {
				ssid, ssidText = r.ssid, capture.EscapeText(r.ssid)
			}
			var country, wps any
			if r.hasCountry {
				country = r.country
			}
			if r.hasWPS {
				wps = r.wps
			}
			ouis := make([]any, len(r.ouis))
			for i, v := range r.ouis {
				ouis[i] = v
			}
			types := make([]any, len(r.types))
			for i, v := range r.types {
				types[i] = v
			}
			data := make([]any, len(r.data))
			for i, v := range r.data {
				data[i] = v
			}
			if err := appender.AppendRow(r.id, ssidText, ssid, ouis, types, data, country, wps); err != nil {
				appender.Close()
				return err
			}
		}
		return appender.Close()
	})
}
