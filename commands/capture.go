package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/live"
	"github.com/wifiq/wifiq/record"
)

// CaptureOptions are the settings of wifiq capture.
type CaptureOptions struct {
	Source   live.SourceOptions
	Ring     live.RingOptions
	Fields   []capture.FieldID
	Style    capture.Style
	EKIndex  bool
	Names    NameOptions
	CheckFCS bool
	// Count stops after this many frames; Duration after this long. 0: no
	// limit.
	Count    int
	Duration time.Duration
	Output   OutputOptions
}

// NewCmdCapture builds the capture command.
func NewCmdCapture(g *Globals) *cobra.Command {
	opts := &CaptureOptions{}
	var fields, style, linkType string
	var ringKB int64
	cmd := &cobra.Command{
		Use:   "capture -i IFACE",
		Short: "Capture live from a monitor-mode interface into records and a ring buffer",
		Long: `Capture 802.11 frames from a network interface in monitor mode with libpcap,
write one record per frame, and optionally keep a ring buffer of pcapng files
as tshark -w PREFIX -b duration:S -b files:N does.

Capturing needs the CAP_NET_RAW capability (or root), and CAP_NET_ADMIN with
--monitor, which switches the interface into monitor mode itself:
  sudo setcap cap_net_raw,cap_net_admin=eip $(command -v wifiq)

An interface whose link type carries no 802.11 frames (Ethernet, say) is an
error unless --link-type names the link type to decode its frames with.
libpcap compiles -f for the interface's own link type, so 802.11 filter
words (type mgt subtype probe-req) work on a monitor interface but not on
an interface read with --link-type. When
the interface goes away (a USB adapter unplugged, a driver reset), capture
logs it, waits, and carries on when it comes back.

Records go to standard output as they arrive, or with --to kafka:TOPIC to a
Kafka topic. capture stops on SIGINT or SIGTERM, after --count frames or after
--duration, and prints a summary on stderr.
` + kafkaSettingsHelp,
		Example: `  wifiq capture -i mon0 | wifiq stats
  wifiq capture -i mon0 -w /pcap_data/mon0.pcapng --ring-duration 1h --ring-files 12 --to kafka:pcap
  wifiq capture -i wlan1 --monitor -f 'type mgt subtype probe-req' -e wlan.sa,wlan.ssid`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Fields, err = capture.ParseFields(fields); err != nil {
				return usageError{err}
			}
			if opts.Style, err = capture.ParseStyle(style); err != nil {
				return usageError{err}
			}
			if linkType != "" {
				if opts.Source.LinkType, err = capture.ParseLinkType(linkType); err != nil {
					return usageError{err}
				}
			}
			if opts.Source.Interface == "" {
				return usagef("missing interface: name it with -i, for example -i mon0")
			}
			if ringKB < 0 || opts.Count < 0 || opts.Duration < 0 {
				return usagef("--ring-size, --count and --duration must not be negative")
			}
			if opts.Source.BufferSize <= 0 {
				return usagef("invalid --buffer-size %d: want a size in MiB of 1 or more", opts.Source.BufferSize)
			}
			opts.Source.BufferSize <<= 20
			if err := opts.Output.check(cmd); err != nil {
				return err
			}
			if opts.EKIndex && opts.Output.To != "-" {
				return usagef("--ek-index writes Elasticsearch index lines, which do not belong in a Kafka topic: leave it out with --to %s", opts.Output.To)
			}
			opts.Ring.MaxBytes = ringKB * 1000
			rotates := opts.Ring.Duration > 0 || opts.Ring.Files > 0 || ringKB > 0
			if opts.Ring.Prefix == "" && rotates {
				return usagef("--ring-duration, --ring-size and --ring-files need -w PREFIX")
			}
			opts.Ring.Single = opts.Ring.Prefix != "" && !rotates
			return captureRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Source.Interface, "interface", "i", "", "capture from this network `interface`")
	f.StringVarP(&opts.Source.Filter, "filter", "f", "", "capture only frames matching this BPF `expression` (pcap-filter syntax)")
	f.BoolVar(&opts.Source.Monitor, "monitor", false, "put the interface into monitor mode when opening it")
	f.StringVar(&linkType, "link-type", "", "decode frames as this link `type` (radiotap, 802.11, ppi, prism, avs) whatever the interface reports")
	f.IntVarP(&opts.Source.SnapLen, "snaplen", "s", 262144, "keep at most this many `bytes` of each frame")
	f.IntVarP(&opts.Source.BufferSize, "buffer-size", "B", 32, "kernel buffer for frames not read yet, in `MiB`")
	f.StringVarP(&opts.Ring.Prefix, "write", "w", "", "also write frames to this pcapng `file`; with ring buffer settings, to files named FILE_NNNNN_YYYYMMDDHHMMSS as tshark names them")
	f.DurationVar(&opts.Ring.Duration, "ring-duration", 0, "start a new file after this `duration` (tshark -b duration)")
	f.Int64Var(&ringKB, "ring-size", 0, "start a new file after this many `kilobytes` (1000 bytes; tshark -b filesize)")
	f.IntVar(&opts.Ring.Files, "ring-files", 0, "keep only the newest `N` files (tshark -b files); 0 keeps all")
	f.IntVarP(&opts.Count, "count", "c", 0, "stop after `N` frames")
	f.DurationVarP(&opts.Duration, "duration", "a", 0, "stop after this `duration`")
	f.StringVarP(&fields, "fields", "e", "default", "comma-separated tshark `fields` to write (\"default\" is the 22-field list)")
	f.StringVar(&style, "style", "classic", "value style: {classic|tshark}")
	f.BoolVar(&opts.EKIndex, "ek-index", false, "write tshark's {\"index\":...} line before each record")
	f.BoolVar(&opts.CheckFCS, "check-fcs", false, "verify frame check sequences (wlan.fcs.status 1 good, 0 bad)")
	opts.Names.addFlags(cmd)
	opts.Output.addFlags(cmd)
	return cmd
}

// captureCounts is what a capture did, for the summary.
type captureCounts struct {
	captured, written, malformed, undecoded int
}

func captureRun(ctx context.Context, g *Globals, opts *CaptureOptions) error {
	resolver, err := opts.Names.resolver()
	if err != nil {
		return err
	}
	var ring *live.Ring
	if opts.Ring.Prefix != "" {
		opts.Ring.Interface, opts.Ring.Filter = opts.Source.Interface, opts.Source.Filter
		if ring, err = live.NewRing(opts.Ring, g.Log); err != nil {
			return usageError{err}
		}
		defer ring.Close()
	}

	out, err := opts.Output.open(ctx, g)
	if err != nil {
		return err
	}
	w := &captureWriter{sink: out, ring: ring}
	opts.Source.Idle = w.flush
	src, err := live.Open(opts.Source, g.Log)
	if err != nil {
		out.close(g)
		var lt *live.LinkTypeError
		if errors.As(err, &lt) {
			return usageError{err}
		}
		return err
	}
	defer src.Close()
	g.Log.Info("capturing", "interface", opts.Source.Interface, "link_type", src.LinkType().String(), "filter", opts.Source.Filter)

	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	counts, err := captureLoop(ctx, src, w, opts, resolver)
	if closeErr := out.close(g); err == nil && closeErr != nil {
		err = closeErr
	}
	if ring != nil {
		if closeErr := ring.Close(); err == nil && closeErr != nil {
			err = closeErr
		}
	}
	printCaptureSummary(g, src, ring, counts)
	return err
}

// captureWriter hands records to the sink and frames to the ring buffer,
// and flushes both at least every flushInterval, so that records of a slow
// trickle of frames do not wait in a buffer.
type captureWriter struct {
	sink      record.Sink
	ring      *live.Ring
	lastFlush time.Time
	err       error // the first flush error
}

const flushInterval = 200 * time.Millisecond

func (w *captureWriter) flush() {
	w.lastFlush = time.Now()
	if err := w.sink.Flush(); err != nil && w.err == nil {
		w.err = fmt.Errorf("unable to write records: %w", err)
	}
	if w.ring != nil {
		if err := w.ring.Flush(); err != nil && w.err == nil {
			w.err = err
		}
	}
}

func (w *captureWriter) write(ts int64, line []byte) error {
	if err := w.sink.WriteRecord(ts, line); err != nil {
		return fmt.Errorf("unable to write records: %w", err)
	}
	if time.Since(w.lastFlush) >= flushInterval {
		w.flush()
	}
	return w.err
}

func captureLoop(ctx context.Context, src *live.Source, w *captureWriter, opts *CaptureOptions, resolver *capture.Resolver) (captureCounts, error) {
	var counts captureCounts
	enc := capture.NewEncoder(opts.Fields, opts.Style, resolver)
	dec := &capture.Decoder{CheckFCS: opts.CheckFCS}
	buf := make([]byte, 0, 4096)
	for opts.Count == 0 || counts.captured < opts.Count {
		p, err := src.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return counts, nil // stopped by a signal or --duration
			}
			return counts, err
		}
		counts.captured++
		if w.ring != nil {
			if err := w.ring.Write(p.LinkType, p.SnapLen, p.Info, p.Data); err != nil {
				return counts, err
			}
		}
		frame, err := dec.Decode(p.LinkType, p.Info.Timestamp.UnixNano(), p.Data, p.Info.Length)
		if err != nil {
			counts.undecoded++
			continue
		}
		buf = buf[:0]
		if opts.EKIndex {
			buf = enc.AppendIndex(buf, frame)
		}
		buf = enc.AppendRecord(buf, frame)
		if err := w.write(p.Info.Timestamp.UnixMilli(), buf); err != nil {
			return counts, err
		}
		counts.written++
		if frame.Malformed {
			counts.malformed++
		}
	}
	return counts, nil
}

func printCaptureSummary(g *Globals, src *live.Source, ring *live.Ring, c captureCounts) {
	received, dropped, err := src.Stats()
	if err != nil {
		g.Log.Debug("no capture statistics", "err", err)
	}
	if g.Quiet {
		return
	}
	fmt.Fprintf(g.IO.ErrOut, "capture: %s captured, %d written, %d malformed, %d not decoded; libpcap: %d received, %d dropped; interface reopened %s\n",
		plural(int64(c.captured), "frame"), c.written, c.malformed, c.undecoded, received, dropped, plural(int64(src.Reopened), "time"))
	if ring != nil {
		files := ring.Files()
		fmt.Fprintf(g.IO.ErrOut, "capture files: %s kept\n", plural(int64(len(files)), "file"))
	}
}
