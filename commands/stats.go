package commands

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/ops"
	"github.com/wifiq/wifiq/record"
)

// StatsOptions are the settings of wifiq stats.
type StatsOptions struct {
	Inputs   []string
	Window   time.Duration // 0: no windows
	Hop      time.Duration // 0: tumbling windows
	Location *time.Location
	Output   string
	Input    InputOptions
	Stream   StreamOptions
}

// NewCmdStats builds the stats command.
func NewCmdStats(g *Globals) *cobra.Command {
	opts := &StatsOptions{}
	var windows windowFlags
	var output string
	cmd := &cobra.Command{
		Use:   "stats [FILE|-]...",
		Short: "Count frames per subtype, with their earliest and latest time",
		Long: `Read records (JSON lines in classic or tshark 4.0 style, or tshark's own
-T ek output) and print the frames of each 802.11 subtype with its name and
the earliest and latest event time.

--window splits the counts into tumbling windows of event time: 1d windows
are calendar days in UTC, or in the --tz zone (23 or 25 hours long on the days
daylight saving time changes), and other sizes are aligned to the zone's wall
clock. --hop makes them hopping windows that start every hop, so that each
record counts in window/hop overlapping windows.

The subcommands print other reports over the same input: devices (a table of
every device that sent probe requests) and probes-per-day (probe requests,
source addresses and an estimate of the devices behind them, per day).

The output is a table on a terminal and JSON lines when piped; --output
chooses. Lines that are not records are reported on stderr with their line
number and skipped.
` + streamHelp + scaleOutHelp,
		Example: `  wifiq replay-pcap testdata/corpus/ | wifiq stats
  wifiq stats --window 1d --tz Europe/Berlin records.jsonl
  wifiq stats --window 1h --hop 15m records.jsonl
  tshark -r capture.pcapng -T ek -e wlan.fc.type_subtype | wifiq stats --output csv`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Window, opts.Hop, opts.Location, err = windows.parse(); err != nil {
				return err
			}
			if opts.Output, err = checkReportFlags(cmd, g, args, output, &opts.Input, &opts.Stream); err != nil {
				return err
			}
			opts.Inputs = args
			return statsRun(cmd.Context(), g, opts)
		},
	}
	windows.addFlags(cmd, "", "split counts into tumbling windows of this `size` (90s, 15m, 1h, 1d, 1w)")
	opts.Input.addFlags(cmd)
	opts.Stream.addFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: {table|json|csv} (default table on a terminal, json otherwise)")
	cmd.AddCommand(newCmdStatsDevices(g), newCmdStatsProbes(g))
	return cmd
}

// windowFlags are the --window, --hop and --tz flags of the reports.
type windowFlags struct {
	window, hop, tz string
}

func (w *windowFlags) addFlags(cmd *cobra.Command, defaultWindow, windowHelp string) {
	f := cmd.Flags()
	f.StringVar(&w.window, "window", defaultWindow, windowHelp)
	f.StringVar(&w.hop, "hop", "", "with --window, start a window every `hop` (a whole fraction of the window size): hopping windows that overlap")
	f.StringVar(&w.tz, "tz", "UTC", "time `zone` for window boundaries and printed times (an IANA name such as Europe/Berlin)")
}

// parse checks the flags and returns the window size and hop (0 when not
// given) and the zone.
func (w *windowFlags) parse() (size, hop time.Duration, loc *time.Location, err error) {
	if w.window != "" {
		if size, err = ops.ParseDuration(w.window); err != nil {
			return 0, 0, nil, usagef("invalid --window: %w", err)
		}
	}
	if w.hop != "" {
		if size == 0 {
			return 0, 0, nil, usagef("--hop %s needs --window: give the size of the hopping windows", w.hop)
		}
		if hop, err = ops.ParseDuration(w.hop); err != nil {
			return 0, 0, nil, usagef("invalid --hop: %w", err)
		}
		if err := (ops.Hopping{Size: size, Advance: hop}).Validate(); err != nil {
			return 0, 0, nil, usagef("invalid --window %s with --hop %s: %w", w.window, w.hop, err)
		}
	}
	if loc, err = time.LoadLocation(w.tz); err != nil || w.tz == "" {
		return 0, 0, nil, usagef("invalid --tz %q: want an IANA zone name such as UTC or Europe/Berlin", w.tz)
	}
	return size, hop, loc, nil
}

// windowSpec returns the windows of size (none when 0), hopping by hop
// when it is not 0.
func windowSpec(size, hop time.Duration, loc *time.Location) ops.WindowSpec {
	switch {
	case size == 0:
		return nil
	case hop == 0 || hop == size:
		return ops.Tumbling{Size: size, Location: loc}
	}
	return ops.Hopping{Size: size, Advance: hop, Location: loc}
}

func statsRun(ctx context.Context, g *Globals, opts *StatsOptions) error {
	if opts.Input.Follow {
		return statsStreamRun(ctx, g, opts)
	}
	summary := &ops.SubtypeSummary{Window: windowSpec(opts.Window, opts.Hop, opts.Location)}
	var missing, invalid int
	skipped, err := opts.Input.readRecords(ctx, g, opts.Inputs, func(rec *record.Record) error {
		if v, ok := rec.First("wlan_fc_type_subtype"); !ok {
			missing++
		} else if _, err := record.ParseNumber(v); err != nil {
			invalid++
			if invalid <= maxReportedLineErrors {
				g.Log.Warn("record has an invalid wlan_fc_type_subtype; counted under (no frame control)", "value", v, "offset", rec.Offset)
			}
		}
		summary.Add(rec)
		return summary.Err()
	})
	var unreadable *unreadableInputsError
	if err != nil && !errors.As(err, &unreadable) {
		return err
	}
	if missing > 0 {
		g.Log.Warn("records without wlan_fc_type_subtype are counted under (no frame control); with tshark -e, add -e wlan.fc.type_subtype",
			"records", missing)
	}

	rep := subtypeReport(summary.Rows(), opts)
	// A group commits what it read only once the table is written.
	err = rep.write(g.IO.Out, opts.Output)
	if finishErr := opts.Input.finish(err == nil); err == nil {
		err = finishErr
	}
	if err != nil {
		return err
	}
	if unreadable != nil {
		return partialError{unreadable.Error()}
	}
	if skipped > 0 {
		return partialError{skippedInputs(skipped)}
	}
	return nil
}

func subtypeReport(rows []ops.SubtypeRow, opts *StatsOptions) *report {
	rep := &report{Columns: []string{"type_subtype", "name", "frames", "earliest", "latest"}}
	if opts.Window > 0 {
		rep.Columns = append([]string{"window_start", "window_end"}, rep.Columns...)
	}
	for _, r := range rows {
		var subtype any = int64(r.TypeSubtype)
		if r.TypeSubtype == ops.NoSubtype {
			subtype = nil
		}
		row := []any{subtype, r.Name, r.Frames, timeCell{r.Earliest, opts.Location}, timeCell{r.Latest, opts.Location}}
		if opts.Window > 0 {
			row = append([]any{timeCell{r.Window.Start, opts.Location}, timeCell{r.Window.End, opts.Location}}, row...)
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep
}

// maxReportedLineErrors bounds the bad input lines printed one by one.
const maxReportedLineErrors = 10

// statsStreamRun runs the subtype summary in follow mode.
func statsStreamRun(ctx context.Context, g *Globals, opts *StatsOptions) error {
	window := windowSpec(opts.Window, opts.Hop, opts.Location)
	engine, err := ops.NewEngine(ops.SubtypeQuery(window))
	if err != nil {
		return err
	}
	return streamRun(ctx, g, &opts.Input, &opts.Stream, &streamTable{
		name:     "stats",
		settings: fmt.Sprintf("window=%v hop=%v tz=%s", opts.Window, opts.Hop, opts.Location),
		engine:   engine,
		report: func(rows iter.Seq[ops.Row]) (*report, error) {
			var summary []ops.SubtypeRow
			for r := range rows {
				summary = append(summary, subtypeRowOf(r))
			}
			return subtypeReport(summary, opts), nil
		},
		keyColumns: []string{"type_subtype"},
		windowed:   window != nil,
		location:   opts.Location,
	}, &probeCounter{})
}

// subtypeRowOf returns a row of ops.SubtypeQuery as an ops.SubtypeRow, as
// ops.SubtypeSummary.Rows makes them. A tombstone, which has no values,
// gives zero counts and times.
func subtypeRowOf(r ops.Row) ops.SubtypeRow {
	row := ops.SubtypeRow{
		Window:      r.Window,
		TypeSubtype: ops.NoSubtype,
		Name:        "(no frame control)",
		Frames:      r.Get("frames").Int,
		Earliest:    r.Get("earliest").Int,
		Latest:      r.Get("latest").Int,
	}
	if !r.Key[0].IsNull() {
		row.TypeSubtype = int(r.Key[0].Int)
		row.Name = ops.SubtypeName(row.TypeSubtype)
	}
	return row
}
