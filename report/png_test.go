package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// renderPNG draws a chart as PNG and decodes it.
func renderPNG(t *testing.T, d *Data, chart string, scale float64) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := WritePNG(&buf, d, chart, scale); err != nil {
		t.Fatalf("WritePNG(%s): %v", chart, err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("chart %s: the PNG does not decode: %v", chart, err)
	}
	return img
}

var svgSize = regexp.MustCompile(`^<svg [^>]*width="(\d+)" height="(\d+)"`)

// svgOf renders a chart as SVG and returns it with its width and height.
func svgOf(t *testing.T, d *Data, chart string) (string, int, int) {
	t.Helper()
	s, err := SVG(d, chart)
	if err != nil {
		t.Fatal(err)
	}
	m := svgSize.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("chart %s: no width and height in %.200s", chart, s)
	}
	width, _ := strconv.Atoi(m[1])
	height, _ := strconv.Atoi(m[2])
	return s, width, height
}

// inkPixels counts the pixels that are not the white background.
func inkPixels(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				n++
			}
		}
	}
	return n
}

// isBarColour reports whether a pixel is saturated, as the blue and orange
// bars are, unlike the white background, grey grid lines and black text.
func isBarColour(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	hi := max(r, g, b) >> 8
	lo := min(r, g, b) >> 8
	return hi-lo > 60
}

// countRuns counts the runs of consecutive bar-coloured pixels along a row
// (vertical false) or a column (vertical true) of img.
func countRuns(img image.Image, at int, vertical bool) int {
	b := img.Bounds()
	end := b.Max.X
	if vertical {
		end = b.Max.Y
	}
	runs := 0
	inside := false
	for i := 0; i < end; i++ {
		x, y := i, at
		if vertical {
			x, y = at, i
		}
		bar := isBarColour(img, x, y)
		if bar && !inside {
			runs++
		}
		inside = bar
	}
	return runs
}

// syntheticDays returns n days of data whose smallest bar is a tenth of the
// largest, so every bar is several pixels high. Every third day has only
// randomised addresses, so its bottom segment is orange.
func syntheticDays(n int) ([]DayCount, []DayDevices) {
	var probes []DayCount
	var devices []DayDevices
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		day := start.AddDate(0, 0, i)
		total := int64(10 + (i*37)%91)
		randomised := total / 3
		if i%3 == 0 {
			randomised = total
		}
		probes = append(probes, DayCount{Day: day, Probes: total})
		devices = append(devices, DayDevices{Day: day, Devices: total, Randomised: randomised})
	}
	return probes, devices
}

func TestPNGSizeAndInk(t *testing.T) {
	db := loadDB(t, corpusFiles(t)...)
	d, err := Collect(context.Background(), db, DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	for _, scale := range []float64{1, DefaultPNGScale, 3} {
		for _, chart := range Charts {
			img := renderPNG(t, d, chart, scale)
			_, width, height := svgOf(t, d, chart)
			wantW := int(math.Ceil(float64(width) * scale))
			wantH := int(math.Ceil((float64(height) + pngTitleHeight) * scale))
			if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
				t.Errorf("chart %s at scale %g: %dx%d pixels, want %dx%d", chart, scale, b.Dx(), b.Dy(), wantW, wantH)
			}
			// At least 1% of the image is drawn: bars, cells or lines, and labels.
			if ink, total := inkPixels(img), wantW*wantH; ink < total/100 {
				t.Errorf("chart %s at scale %g: %d of %d pixels are not background, want at least 1%%", chart, scale, ink, total)
			}
		}
	}
}

func TestPNGSizeMatchesPNGSize(t *testing.T) {
	probes, _ := syntheticDays(7)
	d := &Data{ProbesPerDay: probes}
	width, height, err := PNGSize(d, ChartProbesPerDay, 2)
	if err != nil {
		t.Fatal(err)
	}
	img := renderPNG(t, d, ChartProbesPerDay, 2)
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("PNG is %dx%d, PNGSize returned %dx%d", b.Dx(), b.Dy(), width, height)
	}
}

func TestPNGColumnsMatchSVGBars(t *testing.T) {
	db := loadDB(t, corpusFiles(t)...)
	corpus, err := Collect(context.Background(), db, DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	probes, devices := syntheticDays(60)
	cases := []struct {
		name string
		data *Data
	}{
		{"corpus", corpus},
		{"60 days", &Data{ProbesPerDay: probes, DevicesPerDay: devices}},
		{"1 day", &Data{ProbesPerDay: probes[:1], DevicesPerDay: devices[:1]}},
	}
	const scale = DefaultPNGScale
	// columnChart puts the base of the bars 300 SVG pixels below the top
	// of the chart, and the PNG adds its title band above. The row two
	// SVG pixels above the base crosses every bar and no grid line.
	row := int((300 - 2 + pngTitleHeight) * scale)
	for _, c := range cases {
		for _, chart := range []string{ChartProbesPerDay, ChartDevicesPerDay} {
			s, _, _ := svgOf(t, c.data, chart)
			want := strings.Count(s, `<g class="bar"`)
			if want == 0 {
				t.Fatalf("%s, chart %s: the SVG has no bars", c.name, chart)
			}
			img := renderPNG(t, c.data, chart, scale)
			if got := countRuns(img, row, false); got != want {
				t.Errorf("%s, chart %s: %d bar columns in pixel row %d, want %d as in the SVG", c.name, chart, got, row, want)
			}
		}
	}

	// The subtype bars are horizontal and start at x = 240. The pixel
	// column just right of the y axis crosses every bar.
	s, _, _ := svgOf(t, corpus, ChartSubtypes)
	want := strings.Count(s, `<g class="bar"`)
	img := renderPNG(t, corpus, ChartSubtypes, scale)
	column := int(240*scale) + 1
	if got := countRuns(img, column, true); got != want {
		t.Errorf("subtypes: %d bars in pixel column %d, want %d as in the SVG", got, column, want)
	}
}

func TestPNGEmptyChartHasNote(t *testing.T) {
	img := renderPNG(t, &Data{}, ChartSignal, 2)
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != int((120+pngTitleHeight)*2) {
		t.Errorf("empty chart is %dx%d pixels, want 1280x%d", b.Dx(), b.Dy(), int((120+pngTitleHeight)*2))
	}
	// The note is at y = 64 of the chart, below the title band.
	noteBand := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(0, int((40+pngTitleHeight)*2), 1280, int((80+pngTitleHeight)*2)))
	if inkPixels(noteBand) == 0 {
		t.Error("the empty chart does not draw its note")
	}
}

func TestWritePNGErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePNG(&buf, &Data{}, "pie", 2); err == nil || !strings.Contains(err.Error(), `"pie"`) {
		t.Errorf("WritePNG(pie) = %v, want an error naming the chart", err)
	}
	for _, scale := range []float64{0.5, 5, math.NaN()} {
		err := WritePNG(&buf, &Data{}, ChartSubtypes, scale)
		if err == nil || !strings.Contains(err.Error(), "invalid PNG scale") {
			t.Errorf("WritePNG at scale %g = %v, want an invalid scale error", scale, err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("WritePNG wrote %d bytes before failing", buf.Len())
	}
}

func TestPNGTooLargeRejected(t *testing.T) {
	var g Graph
	for i := range 1000 {
		g.Devices = append(g.Devices, Device{Address: strconv.Itoa(i), Name: strconv.Itoa(i)})
		g.Edges = append(g.Edges, Edge{Device: i, SSID: 0, Probes: 1})
	}
	g.SSIDs = []SSID{{Text: "net", Devices: 1000}}
	err := WritePNG(&bytes.Buffer{}, &Data{Graph: g}, ChartSSIDGraph, 4)
	if err == nil || !strings.Contains(err.Error(), "more than the PNG limit") {
		t.Errorf("WritePNG of a 1000-device graph at scale 4 = %v, want a size error", err)
	}
}
