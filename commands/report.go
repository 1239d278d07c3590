package commands

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/query"
	reports "github.com/wifiq/wifiq/report"
)

// ReportOptions are the settings of wifiq report.
type ReportOptions struct {
	Inputs []string
	// Out is the HTML, SVG or PNG file written; "-" is standard output.
	Out string
	// Chart selects one chart, written as SVG, or as PNG when Out ends in
	// .png; empty writes the HTML page.
	Chart string
	// Scale is the PNG size as a multiple of the SVG size, and ScaleSet
	// records that --scale was given.
	Scale    float64
	ScaleSet bool
	// Terminal writes small text charts to standard output instead.
	Terminal bool
	Limits   reports.Options
	// Records, CacheDir, Names and Input load the inputs as wifiq query
	// does.
	Records  bool
	CacheDir string
	Names    NameOptions
	Input    InputOptions
}

// NewCmdReport builds the report command.
func NewCmdReport(g *Globals) *cobra.Command {
	opts := &ReportOptions{Limits: reports.DefaultOptions, Scale: reports.DefaultPNGScale}
	var cacheDir string
	var noCache bool
	cmd := &cobra.Command{
		Use:   "report [FILE|DIR|GLOB|-]... (-o report.html | --chart NAME -o chart.svg|chart.png | --terminal)",
		Short: "Chart captures as one HTML page, an SVG or PNG file, or text on the terminal",
		Long: `Load captures or records as wifiq query does and chart them:

  probes-per-day    probe requests per day (UTC, or the --tz zone)
  devices-per-day   distinct source addresses of probe requests per day (UTC,
                    or the --tz zone), and
                    the share with a randomised (locally administered) address
  signal-heatmap    mean signal in dBm of the devices with most probe
                    requests, per time bucket
  subtypes          frames per subtype
  ssid-graph        which devices sent probe requests for which SSIDs

-o FILE.html writes one self-contained page (inline SVG, no scripts, fonts or
network access) with the data and the SQL behind every chart. --chart NAME
-o FILE.svg writes one chart. --chart NAME -o FILE.png draws the same chart as
a PNG image with its title above it, --scale (default 2) times the size of the
SVG in pixels. --terminal prints bar charts of the probe requests per day and
the subtypes; colour only on a terminal without NO_COLOR. docs/report.md shows
the SQL of each chart.`,
		Example: `  wifiq report /pcap_data/ -o report.html
  wifiq report --chart signal-heatmap --top 50 -o signal.svg '/pcap_data/mon0_*'
  wifiq report --chart devices-per-day --tz Europe/Berlin -o devices.png capture.pcapng
  wifiq report --terminal capture.pcapng
  wifiq report --from kafka:pcap -o report.html`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			opts.ScaleSet = cmd.Flags().Changed("scale")
			if !noCache {
				opts.CacheDir = cacheDir
				if opts.CacheDir == "" {
					var err error
					if opts.CacheDir, err = query.DefaultCacheDir(); err != nil {
						g.Log.Warn("running without a cache", "err", err)
					}
				}
			}
			if err := opts.check(); err != nil {
				return err
			}
			if err := opts.Input.check(opts.Inputs); err != nil {
				return err
			}
			if opts.Input.Follow {
				return usagef("--follow does not apply to report, which reads a topic to its end and then draws")
			}
			return reportRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Out, "out", "o", "", "write the HTML page, or the --chart SVG or PNG (by the extension), to `file` (- for standard output, as HTML or SVG)")
	f.StringVar(&opts.Chart, "chart", "", "write only this chart as SVG, or PNG with -o FILE.png: {"+strings.Join(reports.Charts, "|")+"}")
	f.Float64Var(&opts.Scale, "scale", opts.Scale, fmt.Sprintf("PNG pixels per SVG pixel, %g to %g", reports.MinPNGScale, reports.MaxPNGScale))
	f.BoolVar(&opts.Terminal, "terminal", false, "print text charts of probe requests per day and frames per subtype instead")
	f.StringVar(&opts.Limits.TimeZone, "tz", "UTC", "time `zone` of the days in the per-day charts (an IANA name such as Europe/Berlin)")
	f.IntVar(&opts.Limits.TopDevices, "top", opts.Limits.TopDevices, "devices in the signal heatmap, those with most probe requests")
	f.IntVar(&opts.Limits.Buckets, "buckets", opts.Limits.Buckets, "maximum number of time buckets in the signal heatmap")
	f.IntVar(&opts.Limits.GraphDevices, "graph-devices", opts.Limits.GraphDevices, "devices in the SSID graph, those with most directed probe requests")
	f.IntVar(&opts.Limits.GraphSSIDs, "graph-ssids", opts.Limits.GraphSSIDs, "SSIDs in the SSID graph, those probed for by most devices")
	f.BoolVar(&opts.Records, "records", false, "read every input as JSON lines records, whatever its name")
	f.StringVar(&cacheDir, "cache-dir", "", "`directory` of decoded files (default wifiq/query in the user cache directory, $XDG_CACHE_HOME or ~/.cache)")
	f.BoolVar(&noCache, "no-cache", false, "decode every input, and neither read nor write the cache")
	opts.Names.addFlags(cmd)
	opts.Input.addFlags(cmd)
	cmd.RegisterFlagCompletionFunc("chart", cobra.FixedCompletions(reports.Charts, cobra.ShellCompDirectiveNoFileComp))
	cmd.MarkFlagFilename("out", "html", "svg", "png")
	cmd.MarkFlagDirname("cache-dir")
	return cmd
}

// maxLimit bounds the chart limits: beyond it a chart is too dense to read.
const maxLimit = 1000

// check validates the flags before any input is read.
func (o *ReportOptions) check() error {
	if o.Chart != "" && !slices.Contains(reports.Charts, o.Chart) {
		return usagef("invalid --chart %q: want one of %s", o.Chart, strings.Join(reports.Charts, ", "))
	}
	switch {
	case o.Terminal && (o.Out != "" || o.Chart != ""):
		return usagef("--terminal prints to standard output: leave out -o and --chart")
	case !o.Terminal && o.Out == "":
		return usagef("missing -o: name the HTML file (-o report.html), the SVG or PNG file with --chart, or use --terminal")
	}
	ext := strings.ToLower(filepath.Ext(o.Out))
	if o.Chart == "" && ext == ".svg" {
		return usagef("-o %q is an SVG file: choose its chart with --chart {%s}", o.Out, strings.Join(reports.Charts, "|"))
	}
	if o.Chart == "" && ext == ".png" {
		return usagef("missing --chart for -o %q: a PNG file contains one chart, so choose it with --chart {%s}, or write the HTML page with -o %s.html",
			o.Out, strings.Join(reports.Charts, "|"), strings.TrimSuffix(o.Out, filepath.Ext(o.Out)))
	}
	if o.ScaleSet && ext != ".png" {
		return usagef("--scale applies only to PNG output: use --chart NAME -o FILE.png, or leave out --scale")
	}
	if o.Scale < reports.MinPNGScale || o.Scale > reports.MaxPNGScale || math.IsNaN(o.Scale) {
		return usagef("invalid --scale %g: want %g to %g", o.Scale, reports.MinPNGScale, reports.MaxPNGScale)
	}
	if _, err := time.LoadLocation(o.Limits.TimeZone); err != nil || o.Limits.TimeZone == "" || o.Limits.TimeZone == "Local" {
		return usagef("invalid --tz %q: want an IANA zone name such as UTC or Europe/Berlin", o.Limits.TimeZone)
	}
	limits := []struct {
		flag  string
		value int
	}{
		{"--top", o.Limits.TopDevices}, {"--buckets", o.Limits.Buckets},
		{"--graph-devices", o.Limits.GraphDevices}, {"--graph-ssids", o.Limits.GraphSSIDs},
	}
	for _, l := range limits {
		if l.value < 1 || l.value > maxLimit {
			return usagef("invalid %s %d: want 1 to %d", l.flag, l.value, maxLimit)
		}
	}
	return nil
}

func reportRun(ctx context.Context, g *Globals, opts *ReportOptions) error {
	qopts := &QueryOptions{Inputs: opts.Inputs, Records: opts.Records, CacheDir: opts.CacheDir, Names: opts.Names, Input: opts.Input}
	inputs, stdin, err := queryInputs(ctx, g, qopts)
	if err != nil {
		return err
	}

	db, err := query.Open(ctx, "")
	if err != nil {
		return err
	}
	defer db.Close()
	results, err := loadQueryInputs(ctx, g, db, inputs, stdin, qopts)
	if err != nil {
		return err
	}

	data, err := reports.Collect(ctx, db, opts.Limits)
	if err != nil {
		return err
	}
	if err := writeReport(g, opts, data, reportSources(opts, inputs)); err != nil {
		return err
	}
	return partialLoad(results)
}

// reportSources names the inputs for the page heading.
func reportSources(opts *ReportOptions, inputs []query.Input) []string {
	if opts.Input.From != "" {
		return []string{opts.Input.From}
	}
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	return names
}

// writeReport writes the terminal charts, one SVG or PNG chart, or the HTML
// page.
func writeReport(g *Globals, opts *ReportOptions, data *reports.Data, sources []string) error {
	if opts.Terminal {
		colour := g.IO.OutIsTerminal && os.Getenv("NO_COLOR") == ""
		return reports.WriteTerminal(g.IO.Out, data, reports.TerminalOptions{Width: 40, Colour: colour})
	}
	write := func(w io.Writer) error {
		if opts.Chart == "" {
			return reports.WriteHTML(w, data, reports.Page{Sources: sources})
		}
		if strings.EqualFold(filepath.Ext(opts.Out), ".png") {
			return reports.WritePNG(w, data, opts.Chart, opts.Scale)
		}
		chart, err := reports.SVG(data, opts.Chart)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, chart+"\n")
		return err
	}
	if opts.Out == "-" {
		bw := bufio.NewWriter(g.IO.Out)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	return writeReportFile(opts.Out, write)
}

// writeReportFile writes to a temporary file beside path and renames it,
// so a failed run leaves no half-written report.
func writeReportFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("unable to write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("unable to write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("unable to write %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("unable to write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("unable to write %s: %w", path, err)
	}
	return nil
}
