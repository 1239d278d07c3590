package commands

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/replay"
)

// ReplayPcapOptions are the settings of wifiq replay-pcap.
type ReplayPcapOptions struct {
	Inputs    []string
	Fields    []capture.FieldID
	Style     capture.Style
	EKIndex   bool
	Names     NameOptions
	CheckFCS  bool
	AssumeFCS bool
	// Speed paces the records: 0 as fast as possible, 1 at capture pace.
	Speed  float64
	Output OutputOptions
}

// NameOptions select the files that name MAC addresses.
type NameOptions struct {
	Manuf, WKA, Ethers string
}

func (o *NameOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Manuf, "manuf", "", "read manufacturer names from a Wireshark manuf `file` instead of the built-in IEEE table")
	cmd.Flags().StringVar(&o.WKA, "wka", "", "read well-known addresses from a Wireshark wka `file` instead of the built-in list")
	cmd.Flags().StringVar(&o.Ethers, "ethers", "", "read names of single addresses from an ethers `file`")
}

// resolver builds the address resolver: ethers first, then well-known
// addresses, then manufacturers, as tshark looks them up.
func (o *NameOptions) resolver() (*capture.Resolver, error) {
	r := capture.NewResolver()
	if o.Ethers != "" {
		if err := r.LoadEthers(o.Ethers); err != nil {
			return nil, usagef("--ethers: %v", err)
		}
	}
	if o.WKA != "" {
		if err := r.LoadWKA(o.WKA); err != nil {
			return nil, usagef("--wka: %v", err)
		}
	} else {
		capture.AddBuiltinWellKnown(r)
	}
	if o.Manuf != "" {
		if err := r.LoadManuf(o.Manuf); err != nil {
			return nil, usagef("--manuf: %v", err)
		}
	} else if err := capture.AddBuiltinManufacturers(r); err != nil {
		return nil, err
	}
	return r, nil
}

// NewCmdReplayPcap builds the replay-pcap command.
func NewCmdReplayPcap(g *Globals) *cobra.Command {
	opts := &ReplayPcapOptions{}
	var fields, style, rate string
	cmd := &cobra.Command{
		Use:   "replay-pcap FILE|DIR|GLOB|- ...",
		Short: "Decode capture files into tshark-style JSON records",
		Long: `Decode pcap and pcapng files, plain or gzip-compressed, into one JSON record per
frame, in the shape tshark -T ek -e FIELD writes after flattening its layers:
{"timestamp":"<ms since epoch>","wlan_fc_type":["0"],...}.

Files are read in time order: a directory or pattern of rotated ring-buffer
files (tshark -b) becomes one stream, and files whose times overlap are
interleaved. "-" reads a capture from standard input. A file cut off in the
middle of a record yields every whole record before the cut, with a warning.

A frame that is shorter than its own fields say still gives a record with what
could be decoded, marked with "_ws_malformed". At the end a summary on stderr
counts the frames read, written and malformed per file.

--to kafka:TOPIC sends the records to a Kafka topic instead of standard
output, each with its event time as the Kafka timestamp, and fails unless the
brokers acknowledged every record. --rate realtime replays the records at the
pace they were captured (10x: ten times faster); records keep their original
event time.
` + kafkaSettingsHelp,
		Example: `  wifiq replay-pcap /pcap_data/ | wifiq stats
  wifiq replay-pcap --to kafka:pcap --rate realtime /pcap_data/
  wifiq replay-pcap --style tshark --fields wlan.sa,wlan.ssid capture.pcapng.gz
  tcpdump -i mon0 -w - | wifiq replay-pcap -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Fields, err = capture.ParseFields(fields); err != nil {
				return usageError{err}
			}
			if opts.Style, err = capture.ParseStyle(style); err != nil {
				return usageError{err}
			}
			if opts.Speed, err = parseRate(rate); err != nil {
				return usageError{err}
			}
			if err := opts.Output.check(cmd); err != nil {
				return err
			}
			if opts.EKIndex && opts.Output.To != "-" {
				return usagef("--ek-index writes Elasticsearch index lines, which do not belong in a Kafka topic: leave it out with --to %s", opts.Output.To)
			}
			opts.Inputs = args
			return replayPcapRun(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().StringVarP(&fields, "fields", "e", "default", "comma-separated tshark `fields` to write (\"default\" is the 22-field list)")
	cmd.Flags().StringVar(&style, "style", "classic", "value style: {classic|tshark}")
	cmd.Flags().StringVar(&rate, "rate", "max", "replay pace: max (as fast as possible), realtime (as captured) or a factor such as 10x")
	cmd.Flags().BoolVar(&opts.EKIndex, "ek-index", false, "write tshark's {\"index\":...} line before each record")
	cmd.Flags().BoolVar(&opts.CheckFCS, "check-fcs", false, "verify frame check sequences (wlan.fcs.status 1 good, 0 bad) instead of reporting them unverified (2)")
	cmd.Flags().BoolVar(&opts.AssumeFCS, "assume-fcs", false, "treat frames as ending in a 4-byte FCS when their radio header does not say whether they do")
	opts.Names.addFlags(cmd)
	opts.Output.addFlags(cmd)
	return cmd
}

func replayPcapRun(ctx context.Context, g *Globals, opts *ReplayPcapOptions) error {
	names, err := replay.Expand(opts.Inputs)
	if err != nil {
		return usageError{err}
	}

	resolver, err := opts.Names.resolver()
	if err != nil {
		return err
	}

	decodeOpts := replay.DecodeOptions{
		Encoder:   capture.NewEncoder(opts.Fields, opts.Style, resolver),
		EKIndex:   opts.EKIndex,
		CheckFCS:  opts.CheckFCS,
		AssumeFCS: opts.AssumeFCS,
		Stdin:     g.IO.In,
		Speed:     opts.Speed,
	}
	out, err := opts.Output.open(ctx, g)
	if err != nil {
		return err
	}
	var frames, file atomic.Int64
	if g.IO.ErrIsTerminal && !g.Quiet {
		decodeOpts.Progress = func(source int) {
			frames.Add(1)
			file.Store(int64(source))
		}
	}
	progress := startProgress(g, func() string {
		return fmt.Sprintf("decoded %s; file %d of %d: %s", plural(frames.Load(), "frame"),
			file.Load()+1, len(names), names[file.Load()])
	})
	summary, err := replay.Decode(ctx, names, out, decodeOpts)
	progress.stop()
	printDecodeSummary(g, summary)
	if closeErr := out.close(g); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}

	if failed := summary.Failed(); len(failed) > 0 {
		var msgs []string
		for _, f := range failed {
			msgs = append(msgs, f.Err.Error())
		}
		msg := fmt.Sprintf("%d of %d files could not be read completely: %s",
			len(failed), len(summary.Files), strings.Join(msgs, "; "))
		if summary.Totals().Read == 0 {
			return errors.New(msg) // nothing at all was read
		}
		return partialError{msg}
	}
	return nil
}

// parseRate parses --rate: "max", "realtime" or a factor "10x" (also
// "0.5x"), and returns the speed factor, 0 for max.
func parseRate(s string) (float64, error) {
	switch s {
	case "max":
		return 0, nil
	case "realtime":
		return 1, nil
	}
	factor, err := strconv.ParseFloat(strings.TrimSuffix(s, "x"), 64)
	if err != nil || !strings.HasSuffix(s, "x") || factor <= 0 || math.IsInf(factor, 0) {
		return 0, fmt.Errorf("invalid --rate %q: want max, realtime or a positive factor such as 10x", s)
	}
	return factor, nil
}

// printDecodeSummary writes the per-file counts and warnings to stderr.
func printDecodeSummary(g *Globals, s replay.Summary) {
	for _, f := range s.Files {
		if f.CutShort {
			g.Log.Warn("file ends in the middle of a record; every whole record before the cut was written",
				"file", f.Name, "records", f.Read)
		}
		if f.Skipped > 0 {
			g.Log.Warn("skipped records of a link type that carries no 802.11 frames", "file", f.Name, "skipped", f.Skipped,
				"link_type", fmt.Sprintf("%s (%d)", f.SkippedLinkType, uint32(f.SkippedLinkType)))
		}
	}
	if g.Quiet {
		return
	}
	w := g.IO.ErrOut
	total := s.Totals()
	if len(s.Files) > 1 {
		for _, f := range s.Files {
			fmt.Fprintf(w, "%s: %d frames read, %d written, %d malformed%s\n",
				f.Name, f.Read, f.Written, f.Malformed, fileNote(f))
		}
	}
	files := "files"
	if len(s.Files) == 1 {
		files = "file"
	}
	fmt.Fprintf(w, "total: %d frames read, %d written, %d malformed, %d skipped in %d %s\n",
		total.Read, total.Written, total.Malformed, total.Skipped, len(s.Files), files)
}

func fileNote(f replay.FileSummary) string {
	switch {
	case f.Err != nil:
		return " (stopped: " + f.Err.Error() + ")"
	case f.CutShort:
		return " (cut short)"
	}
	return ""
}
