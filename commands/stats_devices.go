package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/ops"
	"github.com/wifiq/wifiq/record"
)

// StatsDevicesOptions are the settings of wifiq stats devices.
type StatsDevicesOptions struct {
	Inputs      []string
	Window      time.Duration // 0: one row per device over the whole input
	Hop         time.Duration
	Location    *time.Location
	DeviceField string
	Output      string
	Input       InputOptions
	Stream      StreamOptions
}

func newCmdStatsDevices(g *Globals) *cobra.Command {
	opts := &StatsDevicesOptions{}
	var windows windowFlags
	var output string
	cmd := &cobra.Command{
		Use:   "devices [FILE|-]...",
		Short: "Print every device that sent probe requests: how often, when, how strongly, for which networks",
		Long: `Read records and print one row per device that sent probe requests: the
probes, the first and last probe, the weakest, strongest and mean signal in
dBm, the networks it asked for by name (SSIDs, rendered losslessly: bytes that
are not printable UTF-8 as \xNN), how many, and how many distinct destination
addresses the probes had.

A device is named by the --device-field field when a record carries it (a
name that enrichment added), else by wlan.sa_resolved (the manufacturer and
the end of the address, as tshark names it), else by the source address.
Wildcard probes (the empty SSID) count as probes but add no SSID.

--window splits the table into tumbling windows of event time (1d: a table per
calendar day in the --tz zone), and --hop into hopping windows.
` + streamHelp + scaleOutHelp,
		Example: `  wifiq replay-pcap /pcap_data/ | wifiq stats devices
  wifiq stats devices --window 1d --tz Europe/Berlin -o csv records.jsonl
  wifiq stats devices --from kafka:pcap`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Window, opts.Hop, opts.Location, err = windows.parse(); err != nil {
				return err
			}
			if opts.Output, err = checkReportFlags(cmd, g, args, output, &opts.Input, &opts.Stream); err != nil {
				return err
			}
			opts.Inputs = args
			return statsDevicesRun(cmd.Context(), g, opts)
		},
	}
	windows.addFlags(cmd, "", "split the table into tumbling windows of this `size` (90s, 15m, 1h, 1d, 1w)")
	cmd.Flags().StringVar(&opts.DeviceField, "device-field", "device_name", "record `field` that names a device when present, as enrichment adds it; the resolved source address otherwise")
	opts.Input.addFlags(cmd)
	opts.Stream.addFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: {table|json|csv} (default table on a terminal, json otherwise)")
	return cmd
}

func statsDevicesRun(ctx context.Context, g *Globals, opts *StatsDevicesOptions) error {
	window := windowSpec(opts.Window, opts.Hop, opts.Location)
	engine, err := ops.NewEngine(ops.DeviceQuery(opts.DeviceField, window))
	if err != nil {
		return err
	}

	var seen probeCounter
	if opts.Input.Follow {
		return streamRun(ctx, g, &opts.Input, &opts.Stream, &streamTable{
			name:     "stats devices",
			settings: fmt.Sprintf("window=%v hop=%v tz=%s device-field=%s", opts.Window, opts.Hop, opts.Location, opts.DeviceField),
			engine:   engine,
			report: func(rows iter.Seq[ops.Row]) (*report, error) {
				return deviceReport(rows, window != nil, opts.Location), nil
			},
			keyColumns: []string{"device"},
			windowed:   window != nil,
			location:   opts.Location,
		}, &seen)
	}
	partial, err := feedProjected(ctx, g, &opts.Input, opts.Inputs, &seen, engine.Fields(), func(rec *record.Record) {
		engine.Add(rec)
	})
	if err != nil {
		return err
	}
	seen.warn(g)

	// A group commits what it read only once the table is written.
	err = writeDeviceReport(g.IO.Out, opts.Output, engine.Drain(), window != nil, opts.Location)
	if finishErr := opts.Input.finish(err == nil); err == nil {
		err = finishErr
	}
	if err != nil {
		return err
	}
	return partial
}

// writeDeviceReport writes the device table in format. It writes JSON
// lines as the engine drains its rows, so that the rows of many devices are
// never all in memory next to the engine's state. A table or CSV needs
// every row first, for its column widths or its one header.
func writeDeviceReport(w io.Writer, format string, rows iter.Seq[ops.Row], windowed bool, loc *time.Location) error {
	if format != outputJSON {
		return deviceReport(rows, windowed, loc).write(w, format)
	}
	return writeDeviceJSON(w, rows, windowed, loc)
}

// writeDeviceJSON writes the rows as report.writeJSON writes the rows of
// deviceReport, byte for byte, but from the engine's values straight to
// the output buffer, without a report and the boxing of its cells.
func writeDeviceJSON(w io.Writer, rows iter.Seq[ops.Row], windowed bool, loc *time.Location) error {
	// key returns a column's key with the comma before it.
	key := func(name string) []byte { return appendJSONKey([]byte{','}, name) }
	windowStart, windowEnd := appendJSONKey([]byte{'{'}, "window_start"), key("window_end")
	device := key("device")
	if !windowed {
		device = appendJSONKey([]byte{'{'}, "device")
	}
	probes, earliest, latest := key("probes"), key("earliest"), key("latest")
	minDBm, maxDBm, avgDBm := key("min_dbm"), key("max_dbm"), key("avg_dbm")
	ssids, distinctSSIDs, distinctDestinations := key("ssids"), key("distinct_ssids"), key("distinct_destinations")

	buf := make([]byte, 0, jsonFlushSize+4096)
	for r := range rows {
		lineStart := len(buf)
		if windowed {
			buf = appendJSONTime(append(buf, windowStart...), timeCell{r.Window.Start, loc})
			buf = appendJSONTime(append(buf, windowEnd...), timeCell{r.Window.End, loc})
		}
		var err error
		buf, err = appendValueJSON(append(buf, device...), r.Key[0])
		if err == nil {
			buf = strconv.AppendInt(append(buf, probes...), r.Get("probes").Int, 10)
			buf = appendJSONTime(append(buf, earliest...), timeCell{r.Get("earliest").Int, loc})
			buf = appendJSONTime(append(buf, latest...), timeCell{r.Get("latest").Int, loc})
			buf, err = appendValueJSON(append(buf, minDBm...), r.Get("min_dbm"))
		}
		if err == nil {
			buf, err = appendValueJSON(append(buf, maxDBm...), r.Get("max_dbm"))
		}
		if err == nil {
			buf, err = appendJSONValue(append(buf, avgDBm...), roundedCell(r.Get("avg_dbm")))
		}
		if err != nil {
			// As report.writeJSON, write the rows before the invalid one.
			if _, writeErr := w.Write(buf[:lineStart]); writeErr != nil {
				return writeErr
			}
			return err
		}
		buf = appendJSONStrings(append(buf, ssids...), listCell(r.Get("ssids")))
		buf = strconv.AppendInt(append(buf, distinctSSIDs...), r.Get("distinct_ssids").Int, 10)
		buf = strconv.AppendInt(append(buf, distinctDestinations...), r.Get("distinct_destinations").Int, 10)
		buf = append(buf, '}', '\n')
		if len(buf) >= jsonFlushSize {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) == 0 {
		return nil
	}
	_, err := w.Write(buf)
	return err
}

// appendValueJSON appends the cell that valueCell makes of v, as
// appendJSONValue does, without boxing strings and integers.
func appendValueJSON(buf []byte, v ops.Value) ([]byte, error) {
	switch v.Kind {
	case ops.KindString:
		return appendJSONString(buf, v.Str), nil
	case ops.KindInt:
		return strconv.AppendInt(buf, v.Int, 10), nil
	}
	return appendJSONValue(buf, valueCell(v))
}

func deviceReport(rows iter.Seq[ops.Row], windowed bool, loc *time.Location) *report {
	rep := &report{Columns: []string{"device", "probes", "earliest", "latest", "min_dbm", "max_dbm", "avg_dbm",
		"ssids", "distinct_ssids", "distinct_destinations"}}
	if windowed {
		rep.Columns = append([]string{"window_start", "window_end"}, rep.Columns...)
	}
	for r := range rows {
		row := []any{
			valueCell(r.Key[0]),
			r.Get("probes").Int,
			timeCell{r.Get("earliest").Int, loc},
			timeCell{r.Get("latest").Int, loc},
			valueCell(r.Get("min_dbm")),
			valueCell(r.Get("max_dbm")),
			roundedCell(r.Get("avg_dbm")),
			listCell(r.Get("ssids")),
			r.Get("distinct_ssids").Int,
			r.Get("distinct_destinations").Int,
		}
		if windowed {
			row = append([]any{timeCell{r.Window.Start, loc}, timeCell{r.Window.End, loc}}, row...)
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep
}

// StatsProbesOptions are the settings of wifiq stats probes-per-day.
type StatsProbesOptions struct {
	Inputs    []string
	Window    time.Duration
	Hop       time.Duration
	Location  *time.Location
	Signature ops.Signature
	MaxPause  time.Duration
	Output    string
	Input     InputOptions
	Stream    StreamOptions
}

func newCmdStatsProbes(g *Globals) *cobra.Command {
	opts := &StatsProbesOptions{}
	var windows windowFlags
	var output, signature, maxPause string
	cmd := &cobra.Command{
		Use:   "probes-per-day [FILE|-]...",
		Short: "Count probe requests, source addresses and the devices behind them per day",
		Long: `Read records and print, per calendar day in the --tz zone (or per --window),
the probe requests, their distinct source addresses (macs), how many of those
are locally administered (randomised_macs: bit 0x02 of the first octet set,
which is how randomised addresses show) and their share in percent, and an
estimate of the devices that sent them.

The estimate counts every address that is not randomised as one device, and
links randomised addresses with the same --signature (see wifiq fingerprint)
into one device when one address stops probing before the next starts, within
--gap. When the records carry wlan.seq (tshark -T ek -e wlan.seq), an address
is linked to the one whose sequence numbers it continues, and for a model
that keeps counting across addresses, an address that continues none counts
as another device. It is an estimate: devices of one model that probe at
different times count once, and a device that pauses longer than --gap, or
comes back later in the day, counts again.
` + streamHelp + `

In follow mode a window's estimated_devices is null until the window closes;
its last changelog entry, written when it closes, carries the estimate. The
estimate needs all the probes of a window in one instance, so probes-per-day
does not take --group in follow mode.`,
		Example: `  wifiq replay-pcap /pcap_data/ | wifiq stats probes-per-day --tz Europe/Berlin
  wifiq stats probes-per-day --window 1h --signature vendor-wps records.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Window, opts.Hop, opts.Location, err = windows.parse(); err != nil {
				return err
			}
			if opts.Window == 0 {
				return usagef("probes-per-day needs a --window: 1d (the default) for days, or another size")
			}
			if opts.Signature, err = ops.SignatureByName(signature); err != nil {
				return usagef("invalid --signature: %w", err)
			}
			if opts.MaxPause, err = parseGap("--gap", maxPause); err != nil {
				return err
			}
			if opts.Output, err = checkReportFlags(cmd, g, args, output, &opts.Input, &opts.Stream); err != nil {
				return err
			}
			opts.Inputs = args
			return statsProbesRun(cmd.Context(), g, opts)
		},
	}
	windows.addFlags(cmd, "1d", "count per tumbling window of this `size` (90s, 15m, 1h, 1d, 1w)")
	cmd.Flags().StringVar(&signature, "signature", "vendor", "probe request `signature` that groups randomised addresses for the estimate: "+signatureNames())
	cmd.Flags().StringVar(&maxPause, "gap", "5m", "longest `pause` between one randomised address's last probe and the next address's first that the estimate takes for one device")
	opts.Input.addFlags(cmd)
	opts.Stream.addFlags(cmd)
	// The device estimate needs all of a window's probes in one instance,
	// so probes-per-day has no scale-out.
	for _, name := range []string{"repartition", "partitions", "transactional-id"} {
		cmd.Flags().MarkHidden(name)
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: {table|json|csv} (default table on a terminal, json otherwise)")
	return cmd
}

func statsProbesRun(ctx context.Context, g *Globals, opts *StatsProbesOptions) error {
	window := windowSpec(opts.Window, opts.Hop, opts.Location)
	probes, err := ops.NewEngine(ops.ProbesQuery(window))
	if err != nil {
		return err
	}
	activity, err := ops.NewEngine(ops.ActivityQuery(opts.Signature, window))
	if err != nil {
		return err
	}

	var seen probeCounter
	seen.signature = &opts.Signature
	if opts.Input.Follow {
		return statsProbesStream(ctx, g, opts, probes, activity, &seen)
	}
	partial, err := feedProjected(ctx, g, &opts.Input, opts.Inputs, &seen, probesFields(probes, activity, opts.Signature), func(rec *record.Record) {
		probes.Add(rec)
		activity.Add(rec)
	})
	if err != nil {
		return err
	}
	seen.warn(g)

	estimates := ops.EstimateByWindow(ops.Activities(activity.Flush()), ops.EstimateOptions{MaxPause: opts.MaxPause})
	rows := probes.Flush()
	for _, r := range rows {
		if _, ok := estimates[r.Window]; !ok {
			estimates[r.Window] = 0 // probes without a source address only
		}
	}
	rep := probesReport(slices.Values(rows), estimates, opts.Location)
	// A group commits what it read only once the table is written.
	err = rep.write(g.IO.Out, opts.Output)
	if finishErr := opts.Input.finish(err == nil); err == nil {
		err = finishErr
	}
	if err != nil {
		return err
	}
	return partial
}

// probesFields returns the record fields that probes-per-day reads: those
// of both engines and of the signature's check in probeCounter. It returns
// nil, every field, when an engine does not name its fields.
func probesFields(probes, activity *ops.Engine, sig ops.Signature) []string {
	a, b := probes.Fields(), activity.Fields()
	if a == nil || b == nil {
		return nil
	}
	return slices.Concat(a, b, sig.Fields)
}

// parseGap parses a --gap value.
func parseGap(flag, value string) (time.Duration, error) {
	d, err := ops.ParseDuration(value)
	if err != nil {
		return 0, usagef("invalid %s: %w", flag, err)
	}
	return d, nil
}

func signatureNames() string {
	names := "{"
	for i, s := range ops.Signatures() {
		if i > 0 {
			names += "|"
		}
		names += s.Name
	}
	return names + "}"
}

// probeCounter counts what a probe report saw, to explain an empty or
// partial report on stderr.
type probeCounter struct {
	records, probes, noSubtype int64
	// signature, when set, is checked for the extra fields it reads.
	signature        *ops.Signature
	withoutSignature int64
}

func (c *probeCounter) add(rec *record.Record) {
	c.records++
	subtype, ok := rec.First("wlan_fc_type_subtype")
	if !ok {
		c.noSubtype++
		return
	}
	// As ops.IsProbeRequest, with the field looked up once.
	if n, err := record.ParseNumber(subtype); err != nil || n != ops.ProbeRequest {
		return
	}
	c.probes++
	if c.signature != nil && !c.signature.HasFields(rec) {
		c.withoutSignature++
	}
}

func (c *probeCounter) warn(g *Globals) {
	if c.noSubtype > 0 {
		g.Log.Warn("records without wlan_fc_type_subtype are left out, because they cannot be identified as probe requests; with tshark -e, add -e wlan.fc.type_subtype",
			"records", c.noSubtype)
	}
	if c.records > 0 && c.probes == 0 {
		g.Log.Warn("the input has no probe requests (wlan.fc.type_subtype 4), so the report is empty", "records", c.records)
	}
	if c.signature != nil && c.withoutSignature > 0 {
		g.Log.Warn(fmt.Sprintf("probe requests without the fields of --signature %s get the signature of the fields they have", c.signature.Name),
			"probes", c.withoutSignature, "fields", c.signature.Fields)
	}
}

// valueCell turns an aggregate's value into a report cell.
func valueCell(v ops.Value) any {
	switch v.Kind {
	case ops.KindString:
		return v.Str
	case ops.KindInt:
		return v.Int
	case ops.KindFloat:
		return v.Float
	case ops.KindBool:
		return v.Bool()
	case ops.KindList:
		return listCell(v)
	case ops.KindCounts:
		return histogramCell(v.Counts)
	}
	return nil
}

// listCell is a list value as a cell; NULL is the empty list.
func listCell(v ops.Value) []string {
	if v.List == nil {
		return []string{}
	}
	return v.List
}

// roundedCell rounds a float to one decimal, as SQL's round(x, 1) does.
func roundedCell(v ops.Value) any {
	if v.Kind != ops.KindFloat {
		return valueCell(v)
	}
	return math.Round(v.Float*10) / 10
}

// histogramCell is a HISTOGRAM result: a JSON object from each value to
// its count, in the histogram's order.
type histogramCell []ops.Bucket

func (h histogramCell) MarshalJSON() ([]byte, error) {
	obj := make(orderedObject, len(h))
	for i, b := range h {
		obj[i] = keyValue{b.Value, b.N}
	}
	return obj.MarshalJSON()
}

func (h histogramCell) String() string {
	b, err := h.MarshalJSON()
	if err != nil {
		return fmt.Sprint([]ops.Bucket(h))
	}
	return string(b)
}

var _ json.Marshaler = histogramCell(nil)
