package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/record"
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
	// Speed paces the records by their timestamps: 1 replays them at the
	// pace they were captured, 10 ten times faster. 0 means no pacing.
	Speed float64
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
	// Skipped counts records of link types that carry no 802.11 frames;
	// SkippedLinkType is the first such link type.
	Skipped         int
	SkippedLinkType capture.LinkType
	CutShort        bool
	Err             error
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
// and writes it to sink as a JSON line. It stops early only when ctx is done
// or writing fails; unreadable files are reported in the summary.
func Decode(ctx context.Context, names []string, sink record.Sink, opts DecodeOptions) (Summary, error) {
	merger := NewMerger(names, opts.Stdin)
	defer merger.Close()
	summary := Summary{Files: make([]FileSummary, len(names))}

	buf := make([]byte, 0, 4096)
	decoders := make([]*capture.Decoder, len(names))
	pacer := newPacer(opts.Speed)
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
		if pacer != nil {
			if err = pacer.wait(ctx, packet.Timestamp, sink); err != nil {
				if ctx.Err() != nil {
					stopped, err = ctx.Err(), nil
				}
				break
			}
		}
		file := &summary.Files[source]
		file.Read++
		if !packet.LinkType.Supported() {
			if file.Skipped == 0 {
				file.SkippedLinkType = packet.LinkType
			}
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
		buf = buf[:0]
		if opts.EKIndex {
			buf = opts.Encoder.AppendIndex(buf, frame)
		}
		buf = opts.Encoder.AppendRecord(buf, frame)
		if err = sink.WriteRecord(floorDiv(frame.Timestamp, 1e6), buf); err != nil {
			break
		}
		file.Written++
		if frame.Malformed {
			file.Malformed++
		}
		if opts.Progress != nil {
			opts.Progress(source)
		}
	}
	if flushErr := sink.Flush(); err == nil {
		err = flushErr
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

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// pacer holds records back until their time has come: the time since the
// first record, divided by the speed, measured on the wall clock.
type pacer struct {
	speed float64
	first int64 // timestamp of the first record, ns
	start time.Time
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func newPacer(speed float64) *pacer {
	if speed <= 0 {
		return nil
	}
	return &pacer{speed: speed, now: time.Now, sleep: sleepContext}
}

func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// wait sleeps until the record at timestamp ts (ns) is due. It flushes the
// sink before sleeping, so records are not held back in a buffer.
func (p *pacer) wait(ctx context.Context, ts int64, sink record.Sink) error {
	if p.start.IsZero() {
		p.first, p.start = ts, p.now()
		return nil
	}
	due := p.start.Add(time.Duration(float64(ts-p.first) / p.speed))
	delay := due.Sub(p.now())
	if delay <= 0 {
		return nil
	}
	if err := sink.Flush(); err != nil {
		return err
	}
	return p.sleep(ctx, delay)
}
