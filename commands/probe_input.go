package commands

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/wifiq/wifiq/record"
)

// The reports on probe requests (stats devices, stats probes-per-day,
// fingerprint) read files through probeFilter: most frames of a capture
// are not probe requests, and parsing their records would take most of the
// time.

// feedRecords passes every record of the input to seen and to add: from
// --from kafka:TOPIC as every command reads it, from files and standard
// input through probeFilter, whose left-out records seen counts too. It
// returns a partialError to return after the report is printed when some
// input was skipped, or err when reading failed.
func feedRecords(ctx context.Context, g *Globals, in *InputOptions, inputs []string, seen *probeCounter, add func(*record.Record)) (partial, err error) {
	return feedProjected(ctx, g, in, inputs, seen, nil, add)
}

// feedProjected is feedRecords with the record reader of files projected
// onto fields (an ops.Engine's Fields), so that it skips the values of the
// others. Nil fields keep every field.
func feedProjected(ctx context.Context, g *Globals, in *InputOptions, inputs []string, seen *probeCounter, fields []string, add func(*record.Record)) (partial, err error) {
	fn := func(rec *record.Record) error {
		seen.add(rec)
		add(rec)
		return nil
	}
	in.wrapFiles = func(r io.Reader) io.Reader {
		return &probeFilter{in: bufio.NewReaderSize(r, recordBufferSize), leftOut: &seen.records, fields: fields}
	}
	skipped, err := in.readRecords(ctx, g, inputs, fn)
	var unreadable *unreadableInputsError
	if err != nil && !errors.As(err, &unreadable) {
		return nil, err
	}
	if unreadable != nil {
		return partialError{unreadable.Error()}, nil
	}
	if skipped > 0 {
		return partialError{skippedInputs(skipped)}, nil
	}
	return nil, nil
}

// probeFilter passes the lines of a record file on, but replaces each line
// that is certainly a record of another subtype with an empty line, which
// the record reader skips without parsing while its line numbers stay
// right. A line is left out only when it is a JSON object whose first
// "wlan_fc_type_subtype":["N"] holds a number N other than 4, so lines that
// are not records still reach the reader, which reports them. A record of
// another subtype that is broken inside (a bad escape, a timestamp in
// seconds) is left out without that report.
type probeFilter struct {
	in       *bufio.Reader
	leftOut  *int64 // counts the lines left out
	pending  []byte // what is left to hand out of the current line
	longLine bool   // in a line longer than the buffer, which passes unchanged
	// fields are the record fields the reader of the filtered lines needs;
	// nil means every field.
	fields []string
}

// RecordFields makes record.NewReader parse only the fields the report
// reads.
func (f *probeFilter) RecordFields() []string { return f.fields }

// Unfiltered and KeepLine let record.NewReader apply the filter to the
// lines it reads itself, which spares copying them through Read.
func (f *probeFilter) Unfiltered() io.Reader { return f.in }

// KeepLine reports whether line may be a probe request, and counts it
// when it is left out.
func (f *probeFilter) KeepLine(line []byte) bool {
	if !mayBeProbeRequest(line) {
		*f.leftOut++
		return false
	}
	return true
}

// FilterField and KeepValue let record.NewReader apply the filter while it
// parses a line in wifiq's own shape, instead of searching the line first.
func (f *probeFilter) FilterField() string { return "wlan_fc_type_subtype" }

// KeepValue reports whether a record whose first wlan_fc_type_subtype
// value is v may be a probe request, and counts it when it is left out.
func (f *probeFilter) KeepValue(v []byte) bool {
	if n, ok := parseSubtype(v); ok && n != 0x04 {
		*f.leftOut++
		return false
	}
	return true
}

var emptyLine = []byte{'\n'}

func (f *probeFilter) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		line, err := f.in.ReadSlice('\n')
		switch {
		case f.longLine:
			f.longLine = err == bufio.ErrBufferFull
		case err == bufio.ErrBufferFull:
			f.longLine = true
		case err == nil && !mayBeProbeRequest(line):
			line = emptyLine
			*f.leftOut++
		}
		f.pending = line
		if err != nil && err != bufio.ErrBufferFull && len(line) == 0 {
			return 0, err
		}
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

var subtypeKey = []byte(`"wlan_fc_type_subtype":["`)

// mayBeProbeRequest reports whether line could be a probe request's record,
// or is no record at all. It returns false only for a JSON object whose
// first wlan_fc_type_subtype value is a number other than 4.
func mayBeProbeRequest(line []byte) bool {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) < 2 || trimmed[0] != '{' || trimmed[len(trimmed)-1] != '}' {
		return true
	}
	i := bytes.Index(trimmed, subtypeKey)
	if i < 0 {
		return true
	}
	value := trimmed[i+len(subtypeKey):]
	end := bytes.IndexByte(value, '"')
	if end < 0 {
		return true
	}
	n, ok := parseSubtype(value[:end])
	return !ok || n == 0x04
}

// parseSubtype reads a decimal or 0x-prefixed hexadecimal type_subtype
// value, as record.ParseNumber does, without allocating.
func parseSubtype(b []byte) (int, bool) {
	base := 10
	if len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		base, b = 16, b[2:]
	}
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		var digit int
		switch {
		case c >= '0' && c <= '9':
			digit = int(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			digit = int(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			digit = int(c-'A') + 10
		default:
			return 0, false
		}
		n = n*base + digit
	}
	return n, true
}
