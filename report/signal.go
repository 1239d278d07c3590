package report

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wifiq/wifiq/query"
)

// niceWidths are the bucket widths the heatmap picks from, so that bucket
// boundaries read well on the time axis.
var niceWidths = []time.Duration{
	time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour,
	91 * 24 * time.Hour, 365 * 24 * time.Hour,
}

// bucketWidth returns the smallest nice width that splits span into at
// most buckets buckets, or the exact width when no nice width is that
// large.
func bucketWidth(span time.Duration, buckets int) time.Duration {
	need := span/time.Duration(buckets) + 1
	for _, w := range niceWidths {
		if w >= need {
			return w
		}
	}
	return need
}

// sqlStrings renders values as a list of SQL string literals.
func sqlStrings(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return strings.Join(quoted, ", ")
}

func signalHeatmap(ctx context.Context, db *query.DB, opts Options) (Heatmap, error) {
	h := Heatmap{Cells: map[[2]int]Cell{}}
	err := eachRow(ctx, db, SQLSignalCount, func(v []any) error {
		h.TotalDevices = asInt(v[0])
		return nil
	})
	if err != nil || h.TotalDevices == 0 {
		return h, err
	}

	top := strings.ReplaceAll(SQLSignalDevices, "$top", strconv.Itoa(opts.TopDevices))
	row := map[string]int{}
	var addresses []string
	err = eachRow(ctx, db, top, func(v []any) error {
		d := Device{Address: asString(v[0]), Name: asString(v[1]), Probes: asInt(v[2])}
		row[d.Address] = len(h.Devices)
		h.Devices = append(h.Devices, d)
		addresses = append(addresses, d.Address)
		return nil
	})
	if err != nil {
		return h, err
	}

	devices := sqlStrings(addresses)
	var end time.Time
	err = eachRow(ctx, db, strings.ReplaceAll(SQLSignalRange, "$devices", devices), func(v []any) error {
		h.Start, end = asTime(v[0]), asTime(v[1])
		return nil
	})
	if err != nil {
		return h, err
	}
	h.Width = bucketWidth(end.Sub(h.Start), opts.Buckets)
	h.Buckets = int(end.Sub(h.Start)/h.Width) + 1

	cells := strings.NewReplacer(
		"$devices", devices,
		"$start", strconv.FormatInt(h.Start.UnixMicro(), 10),
		"$width", strconv.FormatInt(h.Width.Microseconds(), 10),
	).Replace(SQLSignalCells)
	err = eachRow(ctx, db, cells, func(v []any) error {
		key := [2]int{row[asString(v[0])], int(asInt(v[1]))}
		h.Cells[key] = Cell{MeanDBm: asFloat(v[2]), Probes: asInt(v[3])}
		return nil
	})
	return h, err
}

func ssidGraph(ctx context.Context, db *query.DB, opts Options) (Graph, error) {
	type edge struct {
		device, ssid string
		probes       int64
	}
	var edges []edge
	names := map[string]string{}
	deviceProbes := map[string]int64{}
	ssidDevices := map[string]int{}
	err := eachRow(ctx, db, SQLGraphEdges, func(v []any) error {
		e := edge{device: asString(v[0]), ssid: ssidText(v[2]), probes: asInt(v[3])}
		names[e.device] = asString(v[1])
		deviceProbes[e.device] += e.probes
		ssidDevices[e.ssid]++
		edges = append(edges, e)
		return nil
	})
	if err != nil {
		return Graph{}, err
	}
	g := Graph{TotalDevices: len(deviceProbes), TotalSSIDs: len(ssidDevices)}

	// The SSIDs probed for by most devices come first, and so do the
	// devices with most directed probes. Ties go by text, so the layout is the
	// same on every run.
	ssids := make([]string, 0, len(ssidDevices))
	for s := range ssidDevices {
		ssids = append(ssids, s)
	}
	sort.Slice(ssids, func(i, j int) bool {
		if ssidDevices[ssids[i]] != ssidDevices[ssids[j]] {
			return ssidDevices[ssids[i]] > ssidDevices[ssids[j]]
		}
		return ssids[i] < ssids[j]
	})
	ssids = ssids[:min(len(ssids), opts.GraphSSIDs)]
	ssidIndex := map[string]int{}
	for i, s := range ssids {
		ssidIndex[s] = i
		g.SSIDs = append(g.SSIDs, SSID{Text: s, Devices: ssidDevices[s]})
	}

	devices := make([]string, 0, len(deviceProbes))
	for d := range deviceProbes {
		devices = append(devices, d)
	}
	sort.Slice(devices, func(i, j int) bool {
		if deviceProbes[devices[i]] != deviceProbes[devices[j]] {
			return deviceProbes[devices[i]] > deviceProbes[devices[j]]
		}
		return devices[i] < devices[j]
	})
	devices = devices[:min(len(devices), opts.GraphDevices)]
	selected := map[string]bool{}
	for _, d := range devices {
		selected[d] = true
	}

	// Each device sits at the mean row of its SSIDs (a barycentre order),
	// which keeps most edges short. Devices whose SSIDs were all left out
	// are dropped.
	rowSum := map[string]float64{}
	rowCount := map[string]int{}
	for _, e := range edges {
		if s, ok := ssidIndex[e.ssid]; ok && selected[e.device] {
			rowSum[e.device] += float64(s)
			rowCount[e.device]++
		}
	}
	devices = slices.DeleteFunc(devices, func(d string) bool { return rowCount[d] == 0 })
	sort.SliceStable(devices, func(i, j int) bool {
		return rowSum[devices[i]]/float64(rowCount[devices[i]]) < rowSum[devices[j]]/float64(rowCount[devices[j]])
	})
	deviceIndex := map[string]int{}
	for i, d := range devices {
		deviceIndex[d] = i
		g.Devices = append(g.Devices, Device{Address: d, Name: names[d], Probes: deviceProbes[d]})
	}

	for _, e := range edges {
		s, okS := ssidIndex[e.ssid]
		d, okD := deviceIndex[e.device]
		if okS && okD {
			g.Edges = append(g.Edges, Edge{Device: d, SSID: s, Probes: e.probes})
		}
	}
	return g, nil
}
