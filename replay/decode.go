package replay

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/wifiq/wifiq/capture"
)

// DecodeOptions configures Decode.
type DecodeOptions struct {
	Encoder *capture.Encoder
	// EKIndex writes tshark's Elasticsearch bulk index line before each
	// record.
	EKIndex   bool
	CheckFCS  bool
	AssumeFCS bool
	// Stdin is read for the name "-"; nil means os.Stdin.
	Stdin io.Reader
	// Progress, if set, is called after every record with the index of its
	// file in the summary.
	Progress func(source int)
}

// FileSummary counts what Decode did with one file.
type FileSummary struct {
	Name      string
	Read      int // records read
	Written   int // records written
	Malformed int // records written with the malformed marker
	// Skipped counts records of link types that carry no 802.11 frames.
	Skipped  int
	CutShort bool
	Err      error
}

// Summary is the per-file outcome of Decode.
type Summary struct {
	Files []FileSummary
}

// Totals adds up the per-file counts.
func (s Summary) Totals() FileSummary {
	var t FileSummary
	for _, f := range s.Files {
		t.Read += f.Read
		t.Written += f.Written
		t.Malformed += f.Malformed
		t.Skipped += f.Skipped
	}
	return t
}

// Failed returns the files that could not be read to the end.
func (s Summary) Failed() []FileSummary {
	var failed []FileSummary
	for _, f := range s.Files {
		if f.Err != nil {
			failed = append(failed, f)
		}
	}
	return failed
}

// Decode reads the capture files names in time order, decodes every record
// and writes it to w as a JSON line. It stops early only when ctx is done or
// writing fails; unreadable files are reported in the summary.
func Decode(ctx context.Context, names []string, w io.Writer, opts DecodeOptions) (Summary, error) {
	merger := NewMerger(names, opts.Stdin)
	defer merger.Close()
	summary := Summary{Files: make([]FileSummary, len(names))}

	// Records are appended to one buffer that is written out when full,
	// which saves copying each record into a bufio.Writer.
	const flushAt = 256 * 1024
	buf := make([]byte, 0, flushAt+64*1024)
	decoders := make([]*capture.Decoder, len(names))
	var err, stopped error
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			stopped = ctx.Err()
			break
		}
		packet, source, nextErr := merger.Next()
		if errors.Is(nextErr, io.EOF) {
			break
		}
		file := &summary.Files[source]
		file.Read++
		if !packet.LinkType.Supported() {
			file.Skipped++
			continue
		}
		// Each file gets its own decoder, because tshark's A-MPDU tracking
		// follows consecutive records of one file.
		d := decoders[source]
		if d == nil {
			d = &capture.Decoder{CheckFCS: opts.CheckFCS, AssumeFCS: opts.AssumeFCS}
			decoders[source] = d
		}
		frame, decodeErr := d.Decode(packet.LinkType, packet.Timestamp, packet.Data, packet.Length)
		if decodeErr != nil {
			file.Skipped++
			continue
		}
		if opts.EKIndex {
			buf = opts.Encoder.AppendIndex(buf, frame)
		}
		buf = opts.Encoder.AppendRecord(buf, frame)
		if len(buf) >= flushAt {
			if _, err = w.Write(buf); err != nil {
				break
			}
			buf = buf[:0]
		}
		file.Written++
		if frame.Malformed {
			file.Malformed++
		}
		if opts.Progress != nil {
			opts.Progress(source)
		}
	}
	if err == nil && len(buf) > 0 {
		_, err = w.Write(buf)
	}
	for i, s := range merger.Sources {
		summary.Files[i].Name = s.Name
		summary.Files[i].CutShort = s.CutShort
		summary.Files[i].Err = s.Err
	}
	if err != nil {
		return summary, fmt.Errorf("unable to write records: %w", err)
	}
	return summary, stopped
}
