package report

import (
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
)

// Page describes the inputs of a report, for its heading.
type Page struct {
	// Sources are the input files as given, or a Kafka topic.
	Sources []string
}

type section struct {
	Name, Title, Description, SQL string
	SVG                           template.HTML
	Columns                       []string
	Rows                          [][]string
}

var descriptions = map[string]string{
	ChartProbesPerDay:  "Probe requests (subtype 4) per calendar day in $zone.",
	ChartDevicesPerDay: "Distinct source addresses of probe requests per day. The orange part has the locally administered bit set, which phones set when they randomise their address; the percentage above a bar is that share.",
	ChartSignal:        "Mean signal (wlan_radio.signal_dbm) of each device's probe requests per time bucket. Empty cells are buckets without a probe request from that device.",
	ChartSubtypes:      "Every frame of the input, per wlan.fc.type_subtype.",
	ChartSSIDGraph:     "Devices (left) joined to the networks they sent directed probe requests for (right). Wildcard probes, with an empty SSID, are left out. Non-printable SSID bytes are written as \\xNN.",
}

var sqlOf = map[string]string{
	ChartProbesPerDay:  SQLProbesPerDay,
	ChartDevicesPerDay: SQLDevicesPerDay,
	ChartSignal:        SQLSignalDevices + ";\n\n" + SQLSignalCells,
	ChartSubtypes:      SQLSubtypes,
	ChartSSIDGraph:     SQLGraphEdges,
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wifiq report</title>
<style>
body { font-family: sans-serif; margin: 24px auto; max-width: 1240px; color: #222; }
section { margin: 32px 0; }
svg.chart { max-width: 100%; height: auto; border: 1px solid #ddd; }
svg .tick, svg .note { fill: #555; font-size: 11px; }
svg .axis-label { fill: #333; }
svg .empty { fill: #666; font-size: 14px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; }
</style>
</head>
<body>
<h1>wifiq report</h1>
{{if le (len .Sources) 4}}<p class="sources">Inputs: {{range $i, $s := .Sources}}{{if $i}}, {{end}}<code>{{$s}}</code>{{end}}</p>
{{else}}<details class="sources"><summary>{{len .Sources}} inputs</summary><ul>{{range .Sources}}<li><code>{{.}}</code></li>{{end}}</ul></details>
{{end}}
{{range .Sections}}<section id="{{.Name}}" data-chart="{{.Name}}">
<h2>{{.Title}}</h2>
<p>{{.Description}}</p>
{{.SVG}}
<details><summary>Data and SQL ({{len .Rows}} rows)</summary>
<pre>{{.SQL}}</pre>
<table><thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</tbody></table>
</details>
</section>
{{end}}</body>
</html>
`))

// WriteHTML writes one self-contained HTML page with every chart as inline
// SVG and the data behind each chart as a table. It loads nothing from the
// network: no scripts, fonts or images.
func WriteHTML(w io.Writer, d *Data, p Page) error {
	var sections []section
	for _, name := range Charts {
		chart, err := SVG(d, name)
		if err != nil {
			return err
		}
		columns, rows := Table(d, name)
		sections = append(sections, section{
			Name: name, Title: Titles[name],
			Description: strings.ReplaceAll(descriptions[name], "$zone", d.TimeZone),
			SQL:         strings.ReplaceAll(sqlOf[name], "$day", DayExpression(d.TimeZone)),
			// The SVG is built by this package, which escapes every
			// label it writes.
			SVG:     template.HTML(chart),
			Columns: columns, Rows: rows,
		})
	}
	return page.Execute(w, struct {
		Sources  []string
		Sections []section
	}{p.Sources, sections})
}

// Table returns the data behind a chart as column names and text rows.
func Table(d *Data, chart string) ([]string, [][]string) {
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	var rows [][]string
	switch chart {
	case ChartProbesPerDay:
		for _, r := range d.ProbesPerDay {
			rows = append(rows, []string{r.Day.Format(time.DateOnly), itoa(r.Probes)})
		}
		return []string{"day", "probes"}, rows
	case ChartDevicesPerDay:
		for _, r := range d.DevicesPerDay {
			rows = append(rows, []string{r.Day.Format(time.DateOnly), itoa(r.Devices), itoa(r.Randomised),
				fmt.Sprintf("%.1f", randomisedShare(r))})
		}
		return []string{"day", "devices", "randomised", "randomised_pct"}, rows
	case ChartSignal:
		h := d.Signal
		for r, dev := range h.Devices {
			for b := 0; b < h.Buckets; b++ {
				if c, ok := h.Cells[[2]int{r, b}]; ok {
					start := h.Start.Add(time.Duration(b) * h.Width)
					rows = append(rows, []string{dev.Address, dev.Name, start.Format(time.RFC3339), fmt.Sprintf("%.1f", c.MeanDBm), itoa(c.Probes)})
				}
			}
		}
		return []string{"sa", "sa_resolved", "bucket_start", "mean_dbm", "probes"}, rows
	case ChartSubtypes:
		for _, r := range d.Subtypes {
			number := itoa(r.TypeSubtype)
			if r.TypeSubtype < 0 {
				number = ""
			}
			rows = append(rows, []string{number, r.Name, itoa(r.Frames)})
		}
		return []string{"type_subtype", "subtype_name", "frames"}, rows
	case ChartSSIDGraph:
		for _, e := range d.Graph.Edges {
			dev := d.Graph.Devices[e.Device]
			rows = append(rows, []string{dev.Address, dev.Name, d.Graph.SSIDs[e.SSID].Text, itoa(e.Probes)})
		}
		return []string{"sa", "sa_resolved", "ssid", "probes"}, rows
	}
	return nil, nil
}
