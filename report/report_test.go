package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/wifiq/wifiq/capture/captest"
	"github.com/wifiq/wifiq/query"
)

const corpusDir = "../testdata/corpus/"

// loadDB loads capture files into an in-memory database without a cache.
func loadDB(t *testing.T, files ...string) *query.DB {
	t.Helper()
	ctx := context.Background()
	db, err := query.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var inputs []query.Input
	for _, f := range files {
		inputs = append(inputs, query.Input{Name: f})
	}
	if _, err := db.Load(ctx, inputs, query.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	return db
}

// corpusFiles returns the bundled captures.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.cap", "*.pcap*", "*.dump.gz"} {
		m, err := filepath.Glob(corpusDir + pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d captures in %s", len(files), corpusDir)
	}
	return files
}

// probe describes one probe request of a synthetic capture.
type probe struct {
	sa     []byte
	ssid   []byte
	signal int8
}

// writeProbes writes probe requests to a radiotap capture, one second
// apart, and returns its path.
func writeProbes(t *testing.T, probes []probe) string {
	t.Helper()
	var records []captest.Record
	for _, p := range probes {
		radio := captest.Radiotap{Frequency: 2412, ChannelFlags: 0x00a0, Signals: []int8{p.signal}}
		frame := captest.Management(4, 0, captest.Broadcast, p.sa, captest.Broadcast, captest.Element(0, p.ssid))
		records = append(records, captest.Record{Data: captest.Cat(radio.Bytes(), frame)})
	}
	path := filepath.Join(t.TempDir(), "probes.pcap")
	if err := captest.WritePcap(path, 127, records); err != nil {
		t.Fatal(err)
	}
	return path
}

// scalar runs SQL that returns one integer.
func scalar(t *testing.T, db *query.DB, text string) int {
	t.Helper()
	rows, err := db.Query(context.Background(), text)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	defer rows.Close()
	values, err := rows.Next()
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return int(asInt(values[0]))
}

// renderPage collects the data with opts and parses the HTML page.
func renderPage(t *testing.T, db *query.DB, opts Options) (*Data, *html.Node, string) {
	t.Helper()
	d, err := Collect(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, d, Page{Sources: []string{"test"}}); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("the page does not parse: %v", err)
	}
	return d, doc, buf.String()
}

// findAll returns the elements under n that match.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if n.Type == html.ElementNode && match(n) {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, findAll(c, match)...)
	}
	return out
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}

// chartSVG returns the svg element of a chart.
func chartSVG(t *testing.T, doc *html.Node, chart string) *html.Node {
	t.Helper()
	found := findAll(doc, func(n *html.Node) bool { return n.Data == "svg" && attr(n, "data-chart") == chart })
	if len(found) != 1 {
		t.Fatalf("chart %s: found %d svg elements, want 1", chart, len(found))
	}
	return found[0]
}

// countClass counts the elements of a class under n, with tag tag.
func countClass(n *html.Node, tag, class string) int {
	return len(findAll(n, func(e *html.Node) bool { return e.Data == tag && hasClass(e, class) }))
}

// textContent joins the text nodes under n.
func textContent(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func TestCorpusChartsMatchSQL(t *testing.T) {
	db := loadDB(t, corpusFiles(t)...)
	opts := Options{TopDevices: 5, Buckets: 30, GraphDevices: 1000, GraphSSIDs: 1000}
	d, doc, _ := renderPage(t, db, opts)

	for _, chart := range Charts {
		chartSVG(t, doc, chart)
	}

	days := scalar(t, db, "SELECT count(DISTINCT time::DATE) FROM probes")
	if days < 2 {
		t.Fatalf("the corpus has probe requests on %d days, want several", days)
	}
	if got := countClass(chartSVG(t, doc, ChartProbesPerDay), "g", "bar"); got != days {
		t.Errorf("probes per day: %d bars, want %d", got, days)
	}
	if got := countClass(chartSVG(t, doc, ChartDevicesPerDay), "g", "bar"); got != days {
		t.Errorf("devices per day: %d bars, want %d", got, days)
	}
	subtypes := scalar(t, db, "SELECT count(*) FROM (SELECT DISTINCT type_subtype FROM packets)")
	if got := countClass(chartSVG(t, doc, ChartSubtypes), "g", "bar"); got != subtypes {
		t.Errorf("subtypes: %d bars, want %d", got, subtypes)
	}

	signalDevices := scalar(t, db, "SELECT count(DISTINCT sa) FROM probes WHERE signal_dbm IS NOT NULL AND sa IS NOT NULL")
	heatmap := chartSVG(t, doc, ChartSignal)
	if got, want := countClass(heatmap, "rect", "row"), min(signalDevices, opts.TopDevices); got != want {
		t.Errorf("signal heatmap: %d rows, want %d", got, want)
	}
	cells := scalar(t, db, fmt.Sprintf(`WITH top AS (
  SELECT sa, count(*) AS n FROM probes WHERE signal_dbm IS NOT NULL AND sa IS NOT NULL
  GROUP BY sa ORDER BY n DESC, sa LIMIT %d)
SELECT count(DISTINCT (sa, (epoch_us(time) - %d) // %d)) FROM probes
WHERE signal_dbm IS NOT NULL AND sa IN (SELECT sa FROM top)`,
		opts.TopDevices, d.Signal.Start.UnixMicro(), d.Signal.Width.Microseconds()))
	if got := countClass(heatmap, "rect", "cell"); got != cells {
		t.Errorf("signal heatmap: %d cells, want %d", got, cells)
	}
	if d.Signal.Buckets > opts.Buckets {
		t.Errorf("signal heatmap: %d buckets, want at most %d", d.Signal.Buckets, opts.Buckets)
	}

	graph := chartSVG(t, doc, ChartSSIDGraph)
	devices := scalar(t, db, "SELECT count(DISTINCT sa) FROM probes WHERE ssid <> '' AND sa IS NOT NULL")
	ssids := scalar(t, db, "SELECT count(DISTINCT ssid_bytes) FROM probes WHERE ssid <> '' AND sa IS NOT NULL")
	edges := scalar(t, db, "SELECT count(DISTINCT (sa, ssid_bytes)) FROM probes WHERE ssid <> '' AND sa IS NOT NULL")
	if got := countClass(graph, "circle", "device"); got != devices {
		t.Errorf("SSID graph: %d device nodes, want %d", got, devices)
	}
	if got := countClass(graph, "circle", "ssid"); got != ssids {
		t.Errorf("SSID graph: %d SSID nodes, want %d", got, ssids)
	}
	if got := countClass(graph, "line", "edge"); got != edges {
		t.Errorf("SSID graph: %d edges, want %d", got, edges)
	}

	for _, chart := range Charts {
		section := findAll(doc, func(n *html.Node) bool { return n.Data == "section" && attr(n, "id") == chart })
		if len(section) != 1 || len(findAll(section[0], func(n *html.Node) bool { return n.Data == "details" })) != 1 {
			t.Errorf("chart %s: no section with a details table", chart)
		}
	}
}

func TestPageLoadsNothingExternal(t *testing.T) {
	db := loadDB(t, corpusDir+"aircrack-ng__n-02.cap")
	_, doc, page := renderPage(t, db, DefaultOptions)
	if n := len(findAll(doc, func(n *html.Node) bool { return n.Data == "script" })); n != 0 {
		t.Errorf("found %d script elements, want none", n)
	}
	for _, ref := range []string{"http://", "https://", "src=", "@import", "url("} {
		rest := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
		if strings.Contains(rest, ref) {
			t.Errorf("the page contains %q, a reference to another resource", ref)
		}
	}
}

func TestSSIDLabelsEscaped(t *testing.T) {
	hostile := []byte(`<script>alert("x")</script>'&`)
	path := writeProbes(t, []probe{
		{sa: captest.AddrSTA, ssid: hostile, signal: -40},
		{sa: captest.AddrRand, ssid: []byte("line\nbreak\x00"), signal: -70},
	})
	db := loadDB(t, path, "../testdata/cases/V9_ssid_bytes.pcap")
	_, doc, _ := renderPage(t, db, DefaultOptions)

	if n := len(findAll(doc, func(n *html.Node) bool { return n.Data == "script" })); n != 0 {
		t.Fatalf("an SSID became %d script elements", n)
	}
	graph := textContent(chartSVG(t, doc, ChartSSIDGraph))
	if !strings.Contains(graph, string(hostile)) {
		t.Errorf("the graph does not show the SSID %q as text:\n%s", hostile, graph)
	}
	if !strings.Contains(graph, `line\x0abreak\x00`) {
		t.Errorf("the graph does not show the newline and NUL of an SSID as \\xNN:\n%s", graph)
	}
}

func TestEmptyInputNotes(t *testing.T) {
	var records []captest.Record
	beacon := captest.Management(8, 0, captest.Broadcast, captest.AddrAP, captest.AddrAP, make([]byte, 12))
	records = append(records, captest.Record{Data: captest.Cat(captest.Radiotap{Frequency: 2412, ChannelFlags: 0x00a0}.Bytes(), beacon)})
	path := filepath.Join(t.TempDir(), "beacon.pcap")
	if err := captest.WritePcap(path, 127, records); err != nil {
		t.Fatal(err)
	}
	db := loadDB(t, path)
	_, doc, _ := renderPage(t, db, DefaultOptions)

	for _, chart := range []string{ChartProbesPerDay, ChartDevicesPerDay, ChartSignal, ChartSSIDGraph} {
		svg := chartSVG(t, doc, chart)
		if countClass(svg, "text", "empty") != 1 {
			t.Errorf("chart %s: no note about missing data", chart)
		}
		if !strings.Contains(strings.ToLower(textContent(svg)), "no probe requests") {
			t.Errorf("chart %s: the note does not say there are no probe requests: %q", chart, textContent(svg))
		}
	}
	if got := countClass(chartSVG(t, doc, ChartSubtypes), "g", "bar"); got != 1 {
		t.Errorf("subtypes: %d bars, want 1 for the beacon", got)
	}
}

func TestOneProbe(t *testing.T) {
	db := loadDB(t, writeProbes(t, []probe{{sa: captest.AddrSTA, ssid: []byte("home"), signal: -55}}))
	_, doc, _ := renderPage(t, db, DefaultOptions)

	checks := []struct {
		chart, tag, class string
	}{
		{ChartProbesPerDay, "g", "bar"},
		{ChartDevicesPerDay, "g", "bar"},
		{ChartSignal, "rect", "cell"},
		{ChartSSIDGraph, "line", "edge"},
		{ChartSSIDGraph, "circle", "device"},
		{ChartSSIDGraph, "circle", "ssid"},
	}
	for _, c := range checks {
		if got := countClass(chartSVG(t, doc, c.chart), c.tag, c.class); got != 1 {
			t.Errorf("chart %s: %d %s.%s, want 1", c.chart, got, c.tag, c.class)
		}
	}
}

func TestManyDevicesCapped(t *testing.T) {
	var probes []probe
	for i := range 300 {
		sa := []byte{0x00, 0x11, 0x22, 0x00, byte(i >> 8), byte(i)}
		probes = append(probes, probe{sa: sa, ssid: fmt.Appendf(nil, "net-%03d", i%120), signal: int8(-30 - i%60)})
	}
	db := loadDB(t, writeProbes(t, probes))
	opts := Options{TopDevices: 20, Buckets: 48, GraphDevices: 40, GraphSSIDs: 25}
	_, doc, _ := renderPage(t, db, opts)

	heatmap := chartSVG(t, doc, ChartSignal)
	if got := countClass(heatmap, "rect", "row"); got != 20 {
		t.Errorf("signal heatmap: %d rows, want 20", got)
	}
	if !strings.Contains(textContent(heatmap), "top 20 of 300 devices") {
		t.Errorf("signal heatmap: no note about the cap: %q", textContent(heatmap))
	}
	graph := chartSVG(t, doc, ChartSSIDGraph)
	if got := countClass(graph, "circle", "ssid"); got > 25 {
		t.Errorf("SSID graph: %d SSID nodes, want at most 25", got)
	}
	if got := countClass(graph, "circle", "device"); got > 40 || got == 0 {
		t.Errorf("SSID graph: %d device nodes, want 1 to 40", got)
	}
	if !strings.Contains(textContent(graph), "of 300 devices") {
		t.Errorf("SSID graph: no note about the cap: %q", textContent(graph))
	}
}

func TestLongSSIDTruncated(t *testing.T) {
	long := "a-network-name-of-32-characters!"
	db := loadDB(t, writeProbes(t, []probe{{sa: captest.AddrSTA, ssid: []byte(long), signal: -60}}))
	_, doc, _ := renderPage(t, db, Options{TopDevices: 1, Buckets: 1, GraphDevices: 1, GraphSSIDs: 1})

	graph := chartSVG(t, doc, ChartSSIDGraph)
	labels := findAll(graph, func(n *html.Node) bool { return n.Data == "text" && hasClass(n, "category") })
	var found bool
	for _, l := range labels {
		titles := findAll(l, func(n *html.Node) bool { return n.Data == "title" })
		if len(titles) == 1 && textContent(titles[0]) == long {
			found = true
		}
	}
	if truncate(long, 20) != "a-network-name-of-3…" {
		t.Errorf("truncate(%q, 20) = %q", long, truncate(long, 20))
	}
	if len(long) > 40 && !found {
		t.Errorf("no truncated label keeps %q in its title", long)
	}
	if !strings.Contains(textContent(graph), long) {
		t.Errorf("the graph does not contain the SSID %q", long)
	}
}

func TestSVGUnknownChart(t *testing.T) {
	_, err := SVG(&Data{}, "pie")
	if err == nil || !strings.Contains(err.Error(), `"pie"`) {
		t.Errorf("SVG(pie) = %v, want an error naming the chart", err)
	}
}

func TestTerminalCharts(t *testing.T) {
	db := loadDB(t, corpusDir+"aircrack-ng__n-02.cap", corpusDir+"libwifi__probe_req.pcap")
	d, err := Collect(context.Background(), db, DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}

	var plain, coloured bytes.Buffer
	if err := WriteTerminal(&plain, d, TerminalOptions{Width: 30}); err != nil {
		t.Fatal(err)
	}
	if err := WriteTerminal(&coloured, d, TerminalOptions{Width: 30, Colour: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("output without colour contains escape sequences:\n%s", plain.String())
	}
	if !strings.Contains(coloured.String(), ansiBar) {
		t.Errorf("output with colour contains no colour:\n%s", coloured.String())
	}
	bars := strings.Count(plain.String(), "│")
	if want := len(d.ProbesPerDay) + len(d.Subtypes); bars != want {
		t.Errorf("%d bars, want %d:\n%s", bars, want, plain.String())
	}
	if !strings.ContainsAny(plain.String(), string(sparks)) {
		t.Errorf("no sparkline:\n%s", plain.String())
	}
}

func TestBlockBarScales(t *testing.T) {
	cases := []struct {
		v, maxV int64
		want    string
	}{
		{10, 10, "████"},
		{5, 10, "██"},
		{1, 80, "▏"},
		{0, 10, ""},
	}
	for _, c := range cases {
		if got := blockBar(c.v, c.maxV, 4); got != c.want {
			t.Errorf("blockBar(%d, %d, 4) = %q, want %q", c.v, c.maxV, got, c.want)
		}
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteHTMLReportsWriteError(t *testing.T) {
	err := WriteHTML(errWriter{}, &Data{}, Page{})
	if err == nil {
		t.Fatal("WriteHTML to a failing writer returned no error")
	}
	var _ io.Writer = errWriter{}
}

// The per-day charts count a probe on its calendar day in Options.TimeZone,
// whatever DuckDB's own TimeZone setting (from $TZ) is.
func TestDaysInTimeZone(t *testing.T) {
	t.Setenv("TZ", "Asia/Tokyo")
	// Three probes from 2024-05-01T00:00:00Z, which is 17:00 on
	// 30 April in Los Angeles (UTC-7 in May).
	db := loadDB(t, writeProbes(t, []probe{
		{sa: captest.AddrSTA, ssid: []byte("home"), signal: -50},
		{sa: captest.AddrSTA, ssid: []byte("home"), signal: -51},
		{sa: captest.AddrAP, ssid: []byte("work"), signal: -52},
	}))
	cases := []struct {
		zone, day string
	}{
		{"", "2024-05-01"},
		{"UTC", "2024-05-01"},
		{"America/Los_Angeles", "2024-04-30"},
		{"Asia/Tokyo", "2024-05-01"},
	}
	for _, c := range cases {
		opts := DefaultOptions
		opts.TimeZone = c.zone
		d, err := Collect(context.Background(), db, opts)
		if err != nil {
			t.Fatalf("zone %q: %v", c.zone, err)
		}
		if len(d.ProbesPerDay) != 1 || d.ProbesPerDay[0].Day.Format(time.DateOnly) != c.day || d.ProbesPerDay[0].Probes != 3 {
			t.Errorf("zone %q: probes per day %+v, want 3 on %s", c.zone, d.ProbesPerDay, c.day)
		}
		if len(d.DevicesPerDay) != 1 || d.DevicesPerDay[0].Day.Format(time.DateOnly) != c.day || d.DevicesPerDay[0].Devices != 2 {
			t.Errorf("zone %q: devices per day %+v, want 2 on %s", c.zone, d.DevicesPerDay, c.day)
		}
	}

	opts := DefaultOptions
	opts.TimeZone = "America/Los_Angeles"
	_, doc, page := renderPage(t, db, opts)
	if !strings.Contains(textContent(chartSVG(t, doc, ChartProbesPerDay)), "day (America/Los_Angeles;") {
		t.Errorf("probes-per-day axis label does not name the zone")
	}
	if !strings.Contains(page, "timezone(&#39;America/Los_Angeles&#39;, timezone(&#39;UTC&#39;, time))::DATE") {
		t.Errorf("the page does not show the SQL with the zone's day expression")
	}
}
