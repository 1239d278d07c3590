package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"sync"

	"github.com/fogleman/gg"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
)

// PNG scales that --scale accepts. The default draws two pixels per SVG
// pixel, which keeps 11-pixel labels sharp on high-density screens.
const (
	DefaultPNGScale = 2.0
	MinPNGScale     = 1.0
	MaxPNGScale     = 4.0
)

// maxPNGPixels bounds the raster, which takes 4 bytes a pixel in memory.
// The largest SSID graph (--graph-devices 1000) is 960×20072 SVG pixels
// plus the title band: 77 million pixels at scale 2, too many at scale 3.
const maxPNGPixels = 100_000_000

// pngTitleHeight is the height, in SVG pixels, of the band above the chart
// where the PNG shows the chart's title. An SVG has its title in a <title>
// element instead, and the HTML page in a heading.
const pngTitleHeight = 28.0

// PNGSize returns the width and height in pixels of a chart drawn as PNG at
// scale, without drawing it. It returns an error for an unknown chart.
func PNGSize(d *Data, chart string, scale float64) (int, int, error) {
	var width, height int
	err := drawChart(d, chart, func(w, h int, _ string) canvas {
		width, height = w, h
		return discard{}
	})
	if err != nil {
		return 0, 0, err
	}
	return pngPixels(width, scale), pngPixels(height+pngTitleHeight, scale), nil
}

func pngPixels[N int | float64](svgPixels N, scale float64) int {
	return int(math.Ceil(float64(svgPixels) * scale))
}

// WritePNG draws one chart of d as PNG at scale times the size of its SVG.
// It returns an error for an unknown chart, a scale outside MinPNGScale to
// MaxPNGScale, or an image of more than maxPNGPixels.
func WritePNG(w io.Writer, d *Data, chart string, scale float64) error {
	if scale < MinPNGScale || scale > MaxPNGScale || math.IsNaN(scale) {
		return fmt.Errorf("invalid PNG scale %g: want %g to %g", scale, MinPNGScale, MaxPNGScale)
	}
	width, height, err := PNGSize(d, chart, scale)
	if err != nil {
		return err
	}
	if width*height > maxPNGPixels {
		return fmt.Errorf("chart %s at scale %g is %d×%d pixels, more than the PNG limit of %d pixels: lower the scale or the chart limits, or write SVG",
			chart, scale, width, height, maxPNGPixels)
	}

	var r *raster
	if err := drawChart(d, chart, func(w, h int, chart string) canvas {
		r = newRaster(w, h, chart, scale)
		return r
	}); err != nil {
		return err
	}
	return r.dc.EncodePNG(w)
}

// raster draws a chart with gg. It multiplies every coordinate by scale
// itself, instead of setting a scale transform, because gg resamples text
// drawn under a transform and the labels would come out blurred.
type raster struct {
	dc    *gg.Context
	scale float64
	// top is the height of the title band, in SVG pixels.
	top   float64
	faces map[float64]font.Face
}

func newRaster(width, height int, chart string, scale float64) *raster {
	r := &raster{scale: scale, top: pngTitleHeight, faces: map[float64]font.Face{}}
	r.dc = gg.NewContext(pngPixels(width, scale), pngPixels(float64(height)+pngTitleHeight, scale))
	r.dc.SetColor(color.White)
	r.dc.Clear()
	r.dc.SetLineCap(gg.LineCapButt)
	// The title band lies above the chart's origin, at negative y.
	r.drawText(8, 19-pngTitleHeight, 0, 0, Titles[chart], textStyle{15, "#222222"})
	return r
}

// x and y convert SVG coordinates to pixels.
func (r *raster) x(v float64) float64 { return v * r.scale }
func (r *raster) y(v float64) float64 { return (v + r.top) * r.scale }

func (r *raster) rect(x, y, w, h float64, _, fill, _ string) {
	r.dc.SetColor(parseColour(fill, 1))
	r.dc.DrawRectangle(r.x(x), r.y(y), w*r.scale, h*r.scale)
	r.dc.Fill()
}

func (r *raster) line(x1, y1, x2, y2 float64, stroke string) {
	r.edge(x1, y1, x2, y2, 1, stroke, 1, "")
}

func (r *raster) edge(x1, y1, x2, y2, width float64, stroke string, opacity float64, _ string) {
	r.dc.SetColor(parseColour(stroke, opacity))
	r.dc.SetLineWidth(width * r.scale)
	r.dc.DrawLine(r.x(x1), r.y(y1), r.x(x2), r.y(y2))
	r.dc.Stroke()
}

func (r *raster) circle(cx, cy, radius float64, _, fill, _ string) {
	r.dc.SetColor(parseColour(fill, 1))
	r.dc.DrawCircle(r.x(cx), r.y(cy), radius*r.scale)
	r.dc.Fill()
}

func (r *raster) text(x, y float64, anchor, class, label string, maxRunes int, rotate float64) {
	align := 0.0
	switch anchor {
	case "middle":
		align = 0.5
	case "end":
		align = 1
	}
	r.drawText(x, y, align, rotate, truncate(label, maxRunes), styleOf(class))
}

// drawText draws label with its baseline at y. align is the fraction of
// the label's width that lies left of x.
func (r *raster) drawText(x, y, align, rotate float64, label string, style textStyle) {
	px, py := r.x(x), r.y(y)
	r.dc.Push()
	defer r.dc.Pop()
	if rotate != 0 {
		r.dc.RotateAbout(gg.Radians(rotate), px, py)
	}
	r.dc.SetFontFace(r.fontFace(style.size * r.scale))
	r.dc.SetColor(parseColour(style.colour, 1))
	r.dc.DrawStringAnchored(label, px, py, align, 0)
}

func (r *raster) group(string, string) {}
func (r *raster) endGroup()            {}

// discard is a canvas that draws nothing, for measuring a chart.
type discard struct{}

func (discard) rect(float64, float64, float64, float64, string, string, string) {}
func (discard) line(float64, float64, float64, float64, string)                 {}
func (discard) edge(float64, float64, float64, float64, float64, string, float64, string) {
}
func (discard) circle(float64, float64, float64, string, string, string)    {}
func (discard) text(float64, float64, string, string, string, int, float64) {}
func (discard) group(string, string)                                        {}
func (discard) endGroup()                                                   {}

// parseColour converts "#rrggbb", the only form the charts use, and an
// opacity from 0 to 1. Any other text is drawn black.
func parseColour(hex string, opacity float64) color.Color {
	var rgb uint64
	if len(hex) == 7 && hex[0] == '#' {
		rgb, _ = strconv.ParseUint(hex[1:], 16, 32)
	}
	return color.NRGBA{R: uint8(rgb >> 16), G: uint8(rgb >> 8), B: uint8(rgb), A: uint8(math.Round(opacity * 255))}
}

// goRegular is Go Regular, compiled into the binary, so a PNG looks the
// same on every machine and needs no system fonts. It covers Latin, Greek
// and Cyrillic letters and common symbols.
// NOTE: it has no glyphs for other scripts, so CJK SSIDs, for example, come
// out as the font's missing-glyph shape in a PNG.
var goRegular = sync.OnceValues(func() (*opentype.Font, error) { return opentype.Parse(goregular.TTF) })

// fontFace returns Go Regular at size pixels. A font.Face is not safe for
// concurrent use, so each raster keeps its own.
func (r *raster) fontFace(size float64) font.Face {
	if face, ok := r.faces[size]; ok {
		return face
	}
	f, err := goRegular()
	if err != nil {
		// The font is part of the build, so this is a broken build.
		panic(fmt.Sprintf("parse the embedded Go Regular font: %v", err))
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		panic(fmt.Sprintf("open Go Regular at %g pixels: %v", size, err))
	}
	r.faces[size] = face
	return face
}
