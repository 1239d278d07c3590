package report

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Chart names, as --chart takes them and as the data-chart attribute of
// each SVG carries them.
const (
	ChartProbesPerDay  = "probes-per-day"
	ChartDevicesPerDay = "devices-per-day"
	ChartSignal        = "signal-heatmap"
	ChartSubtypes      = "subtypes"
	ChartSSIDGraph     = "ssid-graph"
)

// Charts lists the chart names in the order the HTML page shows them.
var Charts = []string{ChartProbesPerDay, ChartDevicesPerDay, ChartSignal, ChartSubtypes, ChartSSIDGraph}

// Titles are the charts' headings.
var Titles = map[string]string{
	ChartProbesPerDay:  "Probe requests per day",
	ChartDevicesPerDay: "Devices per day, with randomised addresses",
	ChartSignal:        "Signal strength of the most active devices over time",
	ChartSubtypes:      "Frames per subtype",
	ChartSSIDGraph:     "Which devices probed for which networks",
}

// SVG renders one chart of d. It returns an error for an unknown name.
func SVG(d *Data, chart string) (string, error) {
	var s *svg
	err := drawChart(d, chart, func(width, height int, chart string) canvas {
		s = newSVG(width, height, chart, Titles[chart])
		return s
	})
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

// drawChart draws one chart of d on the canvas that newCanvas creates. It
// returns an error for an unknown name.
func drawChart(d *Data, chart string, newCanvas newCanvasFunc) error {
	switch chart {
	case ChartProbesPerDay:
		drawProbesPerDay(newCanvas, d.ProbesPerDay, d.TimeZone)
	case ChartDevicesPerDay:
		drawDevicesPerDay(newCanvas, d.DevicesPerDay, d.TimeZone)
	case ChartSignal:
		drawSignal(newCanvas, d.Signal)
	case ChartSubtypes:
		drawSubtypes(newCanvas, d.Subtypes)
	case ChartSSIDGraph:
		drawGraph(newCanvas, d.Graph)
	default:
		return fmt.Errorf("unknown chart %q", chart)
	}
	return nil
}

const (
	noProbes      = "No probe requests in the input."
	maxLabelRunes = 28
)

// drawEmpty draws a chart without data as its frame and a note explaining why.
func drawEmpty(newCanvas newCanvasFunc, chart, note string) {
	s := newCanvas(640, 120, chart)
	s.text(320, 64, "middle", "empty", note, 0, 0)
}

// bar is one column of a bar chart: its label and the heights of its
// stacked segments, bottom first.
type bar struct {
	label    string
	segments []float64
	tooltip  string
	// note is written above the column when there is room.
	note string
}

// columnChart draws vertical, possibly stacked bars over a category axis.
func columnChart(newCanvas newCanvasFunc, chart, xLabel, yLabel string, bars []bar, colours, legend []string) {
	const left, right, top, bottom = 64.0, 16.0, 40.0, 96.0
	width := math.Min(1200, math.Max(520, left+right+float64(len(bars))*28))
	plotW := width - left - right
	plotH := 260.0
	height := top + plotH + bottom
	s := newCanvas(int(width), int(height), chart)

	maxV := 0.0
	for _, b := range bars {
		sum := 0.0
		for _, v := range b.segments {
			sum += v
		}
		maxV = math.Max(maxV, sum)
	}
	ticks := niceTicks(maxV, 5)
	scale := plotH / ticks[len(ticks)-1]
	base := top + plotH
	for _, t := range ticks {
		y := base - t*scale
		s.line(left, y, left+plotW, y, "#e0e0e0")
		s.text(left-6, y+4, "end", "tick", strconv.FormatFloat(t, 'f', -1, 64), 0, 0)
	}
	s.line(left, base, left+plotW, base, "#333333")
	s.line(left, top, left, base, "#333333")
	s.text(16, top+plotH/2, "middle", "axis-label", yLabel, 0, -90)
	s.text(left+plotW/2, height-8, "middle", "axis-label", xLabel, 0, 0)

	slot := plotW / float64(len(bars))
	barW := math.Max(1, slot*0.8)
	every := int(math.Ceil(float64(len(bars)) / 40)) // at most 40 day labels
	for i, b := range bars {
		x := left + float64(i)*slot + (slot-barW)/2
		s.group("bar", b.label)
		y := base
		for k, v := range b.segments {
			if v <= 0 {
				continue
			}
			h := v * scale
			y -= h
			s.rect(x, y, barW, h, "segment", colours[k], b.tooltip)
		}
		if b.note != "" && slot >= 30 {
			s.text(x+barW/2, y-4, "middle", "bar-note", b.note, 0, 0)
		}
		s.endGroup()
		if i%every == 0 {
			lx, ly := x+barW/2, base+12
			s.text(lx, ly, "end", "tick", b.label, 0, -45)
		}
	}

	for k, name := range legend {
		x := left + 8 + float64(k)*180
		s.rect(x, 12, 12, 12, "legend", colours[k], name)
		s.text(x+18, 22, "start", "legend-label", name, 0, 0)
	}
}

// dayAxisLabel is the category axis label of the per-day charts.
func dayAxisLabel(zone string) string {
	return "day (" + zone + "; days without probe requests are left out)"
}

func drawProbesPerDay(newCanvas newCanvasFunc, days []DayCount, zone string) {
	if len(days) == 0 {
		drawEmpty(newCanvas, ChartProbesPerDay, noProbes)
		return
	}
	bars := make([]bar, len(days))
	for i, d := range days {
		day := d.Day.Format(time.DateOnly)
		bars[i] = bar{label: day, segments: []float64{float64(d.Probes)},
			tooltip: fmt.Sprintf("%s: %d probe requests", day, d.Probes)}
	}
	columnChart(newCanvas, ChartProbesPerDay, dayAxisLabel(zone), "probe requests", bars, []string{"#3b75af"}, nil)
}

func drawDevicesPerDay(newCanvas newCanvasFunc, days []DayDevices, zone string) {
	if len(days) == 0 {
		drawEmpty(newCanvas, ChartDevicesPerDay, noProbes)
		return
	}
	bars := make([]bar, len(days))
	for i, d := range days {
		day := d.Day.Format(time.DateOnly)
		share := randomisedShare(d)
		bars[i] = bar{
			label:    day,
			segments: []float64{float64(d.Devices - d.Randomised), float64(d.Randomised)},
			tooltip:  fmt.Sprintf("%s: %d devices, %d randomised (%.0f%%)", day, d.Devices, d.Randomised, share),
			note:     fmt.Sprintf("%.0f%%", share),
		}
	}
	columnChart(newCanvas, ChartDevicesPerDay, dayAxisLabel(zone), "distinct source addresses", bars,
		[]string{"#3b75af", "#ef8636"}, []string{"globally unique address", "randomised address"})
}

// randomisedShare is the percentage of a day's devices with a randomised
// address.
func randomisedShare(d DayDevices) float64 {
	if d.Devices == 0 {
		return 0
	}
	return 100 * float64(d.Randomised) / float64(d.Devices)
}

func drawSubtypes(newCanvas newCanvasFunc, subtypes []SubtypeCount) {
	if len(subtypes) == 0 {
		drawEmpty(newCanvas, ChartSubtypes, "No frames in the input.")
		return
	}
	const left, right, top, rowH = 240.0, 80.0, 24.0, 22.0
	width := 900.0
	plotW := width - left - right
	height := top + float64(len(subtypes))*rowH + 40
	s := newCanvas(int(width), int(height), ChartSubtypes)

	maxV := float64(subtypes[0].Frames)
	for _, st := range subtypes {
		maxV = math.Max(maxV, float64(st.Frames))
	}
	for i, st := range subtypes {
		y := top + float64(i)*rowH
		label := subtypeLabel(st)
		w := math.Max(1, float64(st.Frames)/maxV*plotW)
		s.text(left-8, y+rowH/2+4, "end", "category", label, 36, 0)
		s.group("bar", "")
		s.rect(left, y+3, w, rowH-6, "segment", "#3b75af", fmt.Sprintf("%s: %d frames", label, st.Frames))
		s.endGroup()
		s.text(left+w+6, y+rowH/2+4, "start", "value", strconv.FormatInt(st.Frames, 10), 0, 0)
	}
	base := top + float64(len(subtypes))*rowH
	s.line(left, top, left, base, "#333333")
	s.text(left+plotW/2, base+28, "middle", "axis-label", "frames (bar length relative to the most frequent subtype)", 0, 0)
}

func drawSignal(newCanvas newCanvasFunc, h Heatmap) {
	if len(h.Devices) == 0 {
		drawEmpty(newCanvas, ChartSignal, "No probe requests with a signal strength in the input.")
		return
	}
	const left, right, top, rowH = 200.0, 24.0, 56.0, 18.0
	width := 1000.0
	plotW := width - left - right
	cellW := plotW / float64(h.Buckets)
	plotH := float64(len(h.Devices)) * rowH
	height := top + plotH + 70
	s := newCanvas(int(width), int(height), ChartSignal)

	note := fmt.Sprintf("%d devices; bucket width %s; colour: mean signal in dBm", len(h.Devices), formatWidth(h.Width))
	if h.TotalDevices > int64(len(h.Devices)) {
		note = fmt.Sprintf("top %d of %d devices by probe requests; bucket width %s; colour: mean signal in dBm",
			len(h.Devices), h.TotalDevices, formatWidth(h.Width))
	}
	s.text(left, 16, "start", "note", note, 0, 0)
	for i := 0; i <= 4; i++ {
		dbm := signalWeak + float64(i)*(signalStrong-signalWeak)/4
		x := left + float64(i)*70
		s.rect(x, 26, 70, 10, "legend", signalColour(dbm), fmt.Sprintf("%.0f dBm", dbm))
		s.text(x, 48, "start", "tick", fmt.Sprintf("%.0f", dbm), 0, 0)
	}
	s.text(left+360, 36, "start", "tick", "dBm (weak → strong)", 0, 0)

	for r, d := range h.Devices {
		y := top + float64(r)*rowH
		s.text(left-6, y+rowH/2+4, "end", "category", d.Name, maxLabelRunes, 0)
		s.rect(left, y, plotW, rowH-1, "row", "#f4f4f4", fmt.Sprintf("%s (%s): %d probe requests", d.Name, d.Address, d.Probes))
		for b := 0; b < h.Buckets; b++ {
			c, ok := h.Cells[[2]int{r, b}]
			if !ok {
				continue
			}
			start := h.Start.Add(time.Duration(b) * h.Width)
			s.rect(left+float64(b)*cellW, y, math.Max(1, cellW), rowH-1, "cell", signalColour(c.MeanDBm),
				fmt.Sprintf("%s, from %s: %.1f dBm over %d probe requests", d.Address, start.Format(time.RFC3339), c.MeanDBm, c.Probes))
		}
	}

	base := top + plotH
	s.line(left, base, left+plotW, base, "#333333")
	every := max(1, int(math.Ceil(float64(h.Buckets)/6)))
	for b := 0; b < h.Buckets; b += every {
		x := left + float64(b)*cellW
		s.line(x, base, x, base+4, "#333333")
		s.text(x, base+16, "start", "tick", h.Start.Add(time.Duration(b)*h.Width).Format("2006-01-02 15:04:05"), 0, 0)
	}
	s.text(left+plotW/2, base+40, "middle", "axis-label", "time (UTC), from the first probe request of these devices", 0, 0)
}

// formatWidth writes a bucket width in the largest whole unit.
func formatWidth(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d d", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}

func drawGraph(newCanvas newCanvasFunc, g Graph) {
	if len(g.Edges) == 0 {
		drawEmpty(newCanvas, ChartSSIDGraph, "No probe requests for a named network (only wildcard probes, or none).")
		return
	}
	const top, rowH, deviceX, ssidX = 48.0, 20.0, 260.0, 640.0
	rows := max(len(g.Devices), len(g.SSIDs))
	width, height := 960.0, top+float64(rows)*rowH+24
	s := newCanvas(int(width), int(height), ChartSSIDGraph)

	note := fmt.Sprintf("%d devices, %d networks; line width grows with the number of probe requests", len(g.Devices), len(g.SSIDs))
	if g.TotalDevices > len(g.Devices) || g.TotalSSIDs > len(g.SSIDs) {
		note = fmt.Sprintf("%d of %d devices and %d of %d networks (the most active); line width grows with the number of probe requests",
			len(g.Devices), g.TotalDevices, len(g.SSIDs), g.TotalSSIDs)
	}
	s.text(16, 16, "start", "note", note, 0, 0)
	s.text(deviceX, 36, "end", "axis-label", "device (source address)", 0, 0)
	s.text(ssidX, 36, "start", "axis-label", "network (SSID)", 0, 0)

	// Devices and SSIDs are centred in the height, so a short column
	// lines up with the middle of a long one.
	deviceY := func(i int) float64 {
		return top + (float64(rows-len(g.Devices))/2+float64(i))*rowH + rowH/2
	}
	ssidY := func(i int) float64 {
		return top + (float64(rows-len(g.SSIDs))/2+float64(i))*rowH + rowH/2
	}
	for _, e := range g.Edges {
		w := 1 + math.Log10(float64(e.Probes))
		s.edge(deviceX, deviceY(e.Device), ssidX, ssidY(e.SSID), w, "#7a9cc6", 0.7,
			fmt.Sprintf("%s → %s: %d probe requests", g.Devices[e.Device].Address, g.SSIDs[e.SSID].Text, e.Probes))
	}
	for i, d := range g.Devices {
		y := deviceY(i)
		s.circle(deviceX, y, 5, "node device", "#3b75af", fmt.Sprintf("%s (%s): %d directed probe requests", d.Name, d.Address, d.Probes))
		s.text(deviceX-10, y+4, "end", "category", d.Name, maxLabelRunes, 0)
	}
	for i, n := range g.SSIDs {
		y := ssidY(i)
		s.circle(ssidX, y, 5, "node ssid", "#ef8636", fmt.Sprintf("%s: %d devices", n.Text, n.Devices))
		s.text(ssidX+10, y+4, "start", "category", n.Text, 40, 0)
	}
}

// subtypeLabel is a subtype's name and number.
func subtypeLabel(st SubtypeCount) string {
	if st.TypeSubtype < 0 {
		return st.Name
	}
	return fmt.Sprintf("%s (%d)", st.Name, st.TypeSubtype)
}
