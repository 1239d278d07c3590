package report

// canvas is the drawing surface that every chart draws on. The SVG writer
// and the PNG renderer implement it, so both formats share one layout.
// Coordinates are in SVG user units (pixels at scale 1), and colours are
// "#rrggbb".
type canvas interface {
	// rect fills a rectangle. The SVG writer keeps class and tooltip.
	rect(x, y, w, h float64, class, fill, tooltip string)
	// line strokes a 1-unit-wide line.
	line(x1, y1, x2, y2 float64, stroke string)
	// edge strokes a line of the SSID graph with a width and an opacity
	// from 0 to 1.
	edge(x1, y1, x2, y2, width float64, stroke string, opacity float64, tooltip string)
	// circle fills a circle.
	circle(cx, cy, r float64, class, fill, tooltip string)
	// text writes a label with its baseline at y. anchor is start, middle
	// or end. rotate turns the label by that many degrees about (x, y),
	// clockwise. A label longer than maxRunes is cut with an ellipsis.
	text(x, y float64, anchor, class, label string, maxRunes int, rotate float64)
	// group starts a group of the shapes of one bar, and endGroup ends it.
	// label is empty for a bar without a category label.
	group(class, label string)
	endGroup()
}

// newCanvasFunc creates the canvas of a chart after the chart has computed
// its size.
type newCanvasFunc func(width, height int, chart string) canvas

// textStyle is the size in pixels and the colour of the labels of a class.
type textStyle struct {
	size   float64
	colour string
}

// textStyles mirror the CSS of the HTML page, which standalone SVG files
// do not have. Classes not listed use defaultTextStyle.
var textStyles = map[string]textStyle{
	"tick":       {11, "#555555"},
	"note":       {11, "#555555"},
	"axis-label": {12, "#333333"},
	"empty":      {14, "#666666"},
}

var defaultTextStyle = textStyle{12, "#000000"}

func styleOf(class string) textStyle {
	if s, ok := textStyles[class]; ok {
		return s
	}
	return defaultTextStyle
}
