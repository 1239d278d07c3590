// Package report computes the charts of wifiq report from the packets view
// of a query.DB and renders them as SVG, as one self-contained HTML page, or
// as small charts for a terminal. Every figure is one SQL statement over the
// views that package query creates. The statements are exported, so the
// documentation and the tests can show and rerun them.
package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wifiq/wifiq/query"
	"github.com/wifiq/wifiq/record"
)

// Statements behind the charts. $day is the calendar day of a probe's time:
// time::DATE in UTC, or DayExpression's result for another time zone.
const (
	// SQLProbesPerDay counts probe requests per day.
	SQLProbesPerDay = `SELECT $day AS day, count(*) AS probes
FROM probes GROUP BY day ORDER BY day`

	// SQLDevicesPerDay counts the distinct source addresses of probe
	// requests per day, and those with the locally administered bit set.
	SQLDevicesPerDay = `SELECT $day AS day,
       count(DISTINCT sa) AS devices,
       count(DISTINCT sa) FILTER (WHERE randomised) AS randomised
FROM probes WHERE sa IS NOT NULL GROUP BY day ORDER BY day`

	// SQLSubtypes counts every frame per subtype.
	SQLSubtypes = `SELECT type_subtype, subtype_name, count(*) AS frames
FROM packets GROUP BY ALL ORDER BY frames DESC, type_subtype`

	// SQLSignalDevices ranks the devices whose probe requests carry a
	// signal by the number of those probes ($top is the limit).
	SQLSignalDevices = `SELECT sa, any_value(sa_resolved) AS name, count(*) AS probes
FROM probes WHERE sa IS NOT NULL AND signal_dbm IS NOT NULL
GROUP BY sa ORDER BY probes DESC, sa LIMIT $top`

	// SQLSignalCount counts the devices whose probe requests carry a
	// signal.
	SQLSignalCount = `SELECT count(DISTINCT sa)
FROM probes WHERE sa IS NOT NULL AND signal_dbm IS NOT NULL`

	// SQLSignalRange is the time span of the top devices' probes that
	// carry a signal ($devices is the list of their addresses).
	SQLSignalRange = `SELECT min(time), max(time)
FROM probes WHERE sa IN ($devices) AND signal_dbm IS NOT NULL`

	// SQLSignalCells averages the signal of each top device per time
	// bucket. $start is the first probe's time in microseconds since the
	// epoch and $width the bucket width in microseconds.
	SQLSignalCells = `SELECT sa, (epoch_us(time) - $start) // $width AS bucket,
       avg(signal_dbm) AS dbm, count(*) AS probes
FROM probes WHERE sa IN ($devices) AND signal_dbm IS NOT NULL
GROUP BY ALL ORDER BY sa, bucket`

	// SQLGraphEdges lists which device probed for which network, leaving
	// out wildcard probes (the empty SSID).
	SQLGraphEdges = `SELECT sa, any_value(sa_resolved) AS name, ssid_bytes, count(*) AS probes
FROM probes WHERE sa IS NOT NULL AND ssid <> ''
GROUP BY sa, ssid_bytes ORDER BY sa, ssid_bytes`
)

// DayExpression returns the SQL expression for the calendar day of a
// probe's time (a UTC TIMESTAMP) in the IANA time zone zone. It reads the
// time as UTC whatever DuckDB's TimeZone setting is.
func DayExpression(zone string) string {
	if zone == "" || zone == "UTC" {
		return "time::DATE"
	}
	return "timezone('" + strings.ReplaceAll(zone, "'", "''") + "', timezone('UTC', time))::DATE"
}

// Options sets the limits of the charts that could grow with the data.
type Options struct {
	// TimeZone is the IANA zone of the days in the per-day charts; empty
	// means UTC.
	TimeZone string
	// TopDevices is the number of devices in the signal heatmap.
	TopDevices int
	// Buckets is the number of time buckets in the signal heatmap.
	Buckets int
	// GraphDevices and GraphSSIDs cap the device-to-SSID graph.
	GraphDevices, GraphSSIDs int
}

// DefaultOptions are the limits wifiq report uses without flags.
var DefaultOptions = Options{TopDevices: 20, Buckets: 48, GraphDevices: 40, GraphSSIDs: 40}

// Data is everything the charts show.
type Data struct {
	// TimeZone is the IANA zone of the days, "UTC" when none was set.
	TimeZone      string
	ProbesPerDay  []DayCount
	DevicesPerDay []DayDevices
	Subtypes      []SubtypeCount
	Signal        Heatmap
	Graph         Graph
}

// DayCount is the number of probe requests of one calendar day.
type DayCount struct {
	Day    time.Time
	Probes int64
}

// DayDevices is the number of distinct source addresses of one calendar day.
type DayDevices struct {
	Day                 time.Time
	Devices, Randomised int64
}

// SubtypeCount is the number of frames of one subtype.
type SubtypeCount struct {
	// TypeSubtype is wlan.fc.type_subtype, or -1 for frames without one.
	TypeSubtype int64
	Name        string
	Frames      int64
}

// Heatmap is the mean signal of the top devices per time bucket.
type Heatmap struct {
	// Devices are the rows, the device with most probes first.
	Devices []Device
	// Start is the time of the first probe and Width the bucket width, so
	// bucket i covers [Start+i*Width, Start+(i+1)*Width).
	Start   time.Time
	Width   time.Duration
	Buckets int
	// Cells maps a row and a bucket to its mean signal in dBm.
	Cells map[[2]int]Cell
	// TotalDevices counts every device that has a probe with a signal,
	// also those left out of Devices.
	TotalDevices int64
}

// Cell is one device's signal in one time bucket.
type Cell struct {
	MeanDBm float64
	Probes  int64
}

// Device is a source address with its resolved name.
type Device struct {
	Address, Name string
	Probes        int64
}

// Graph is the bipartite graph of devices and the SSIDs they probed for.
type Graph struct {
	Devices []Device
	// SSIDs are the networks as record.SSIDText renders their bytes.
	SSIDs []SSID
	Edges []Edge
	// TotalDevices and TotalSSIDs count the nodes before the caps.
	TotalDevices, TotalSSIDs int
}

// SSID is a network name with the number of devices that probed for it.
type SSID struct {
	Text    string
	Devices int
}

// Edge joins Devices[Device] and SSIDs[SSID].
type Edge struct {
	Device, SSID int
	Probes       int64
}

// Collect runs the statements behind every chart on db, which must have
// been loaded.
func Collect(ctx context.Context, db *query.DB, opts Options) (*Data, error) {
	d := &Data{TimeZone: opts.TimeZone}
	if d.TimeZone == "" {
		d.TimeZone = "UTC"
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"probes per day", func() (err error) { d.ProbesPerDay, err = probesPerDay(ctx, db, opts.TimeZone); return err }},
		{"devices per day", func() (err error) { d.DevicesPerDay, err = devicesPerDay(ctx, db, opts.TimeZone); return err }},
		{"subtypes", func() (err error) { d.Subtypes, err = subtypes(ctx, db); return err }},
		{"signal heatmap", func() (err error) { d.Signal, err = signalHeatmap(ctx, db, opts); return err }},
		{"device-to-SSID graph", func() (err error) { d.Graph, err = ssidGraph(ctx, db, opts); return err }},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return nil, fmt.Errorf("unable to compute the %s: %w", s.name, err)
		}
	}
	return d, nil
}

// eachRow runs text and calls fn with the values of every row.
func eachRow(ctx context.Context, db *query.DB, text string, fn func(values []any) error) error {
	rows, err := db.Query(ctx, text)
	if err != nil {
		return err
	}
	defer rows.Close()
	for {
		values, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(values); err != nil {
			return err
		}
	}
}

func probesPerDay(ctx context.Context, db *query.DB, zone string) ([]DayCount, error) {
	var out []DayCount
	err := eachRow(ctx, db, strings.ReplaceAll(SQLProbesPerDay, "$day", DayExpression(zone)), func(v []any) error {
		out = append(out, DayCount{Day: asTime(v[0]), Probes: asInt(v[1])})
		return nil
	})
	return out, err
}

func devicesPerDay(ctx context.Context, db *query.DB, zone string) ([]DayDevices, error) {
	var out []DayDevices
	err := eachRow(ctx, db, strings.ReplaceAll(SQLDevicesPerDay, "$day", DayExpression(zone)), func(v []any) error {
		out = append(out, DayDevices{Day: asTime(v[0]), Devices: asInt(v[1]), Randomised: asInt(v[2])})
		return nil
	})
	return out, err
}

func subtypes(ctx context.Context, db *query.DB) ([]SubtypeCount, error) {
	var out []SubtypeCount
	err := eachRow(ctx, db, SQLSubtypes, func(v []any) error {
		st := SubtypeCount{TypeSubtype: asInt(v[0]), Name: asString(v[1]), Frames: asInt(v[2])}
		if v[0] == nil {
			// A frame too short for its frame control field has no
			// subtype.
			st.TypeSubtype, st.Name = -1, "no subtype (frame too short)"
		}
		out = append(out, st)
		return nil
	})
	return out, err
}

func asInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case uint64:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

func asFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	}
	return 0
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func asTime(v any) time.Time {
	t, _ := v.(time.Time)
	return t.UTC()
}

// ssidText renders an SSID's bytes as the ssid column does.
func ssidText(v any) string {
	b, _ := v.([]byte)
	return record.SSIDText(b)
}
