package report

import (
	"encoding/xml"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// svg builds an SVG document. Every text and attribute value passes through
// escape, so labels taken from frames (SSIDs, names) cannot add markup.
type svg struct {
	b strings.Builder
}

func newSVG(width, height int, chart, title string) *svg {
	s := &svg{}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" class="chart" data-chart="%s" font-family="sans-serif" font-size="12">`,
		width, height, width, height, escape(chart))
	fmt.Fprintf(&s.b, `<title>%s</title>`, escape(title))
	fmt.Fprintf(&s.b, `<rect width="%d" height="%d" fill="#ffffff"/>`, width, height)
	return s
}

// escape makes text safe as XML character data and attribute values:
// it escapes &, <, >, quotes, and replaces characters that XML does not
// allow with U+FFFD.
func escape(text string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(text))
	return b.String()
}

func (s *svg) text(x, y float64, anchor, class, label string, maxRunes int, rotate float64) {
	visible := truncate(label, maxRunes)
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s" class="%s"`, x, y, anchor, class)
	if rotate != 0 {
		fmt.Fprintf(&s.b, ` transform="rotate(%g %.1f %.1f)"`, rotate, x, y)
	}
	s.b.WriteString(`>`)
	// A cut label keeps its full text in a tooltip.
	if visible != label {
		fmt.Fprintf(&s.b, `<title>%s</title>`, escape(label))
	}
	s.b.WriteString(escape(visible))
	s.b.WriteString(`</text>`)
}

func (s *svg) rect(x, y, w, h float64, class, fill, tooltip string) {
	fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s" fill="%s"><title>%s</title></rect>`,
		x, y, w, h, class, fill, escape(tooltip))
}

func (s *svg) line(x1, y1, x2, y2 float64, stroke string) {
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`, x1, y1, x2, y2, stroke)
}

func (s *svg) edge(x1, y1, x2, y2, width float64, stroke string, opacity float64, tooltip string) {
	fmt.Fprintf(&s.b, `<line class="edge" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-opacity="%g" stroke-width="%.1f"><title>%s</title></line>`,
		x1, y1, x2, y2, stroke, opacity, width, escape(tooltip))
}

func (s *svg) circle(cx, cy, r float64, class, fill, tooltip string) {
	fmt.Fprintf(&s.b, `<circle class="%s" cx="%.1f" cy="%.1f" r="%g" fill="%s"><title>%s</title></circle>`,
		class, cx, cy, r, fill, escape(tooltip))
}

func (s *svg) group(class, label string) {
	fmt.Fprintf(&s.b, `<g class="%s"`, class)
	if label != "" {
		fmt.Fprintf(&s.b, ` data-label="%s"`, escape(label))
	}
	s.b.WriteString(`>`)
}

func (s *svg) endGroup() { s.b.WriteString(`</g>`) }

func (s *svg) String() string { return s.b.String() + `</svg>` }

// truncate cuts text to maxRunes runes, the last one an ellipsis. The width
// of a label is estimated by its rune count, which is close for the
// sans-serif Latin text of most labels and too small for wide scripts.
func truncate(text string, maxRunes int) string {
	if maxRunes <= 0 || utf8.RuneCountInString(text) <= maxRunes {
		return text
	}
	runes := []rune(text)
	return string(runes[:maxRunes-1]) + "…"
}

// niceTicks returns tick values from 0 to at least max, at 1, 2 or 5 times
// a power of ten, about count of them.
func niceTicks(max float64, count int) []float64 {
	if max <= 0 {
		return []float64{0, 1}
	}
	raw := max / float64(count)
	power := math.Pow(10, math.Floor(math.Log10(raw)))
	step := power
	for _, m := range []float64{1, 2, 5, 10} {
		if m*power >= raw {
			step = m * power
			break
		}
	}
	step = math.Max(step, 1) // counts are whole numbers
	var ticks []float64
	for v := 0.0; ; v += step {
		ticks = append(ticks, v)
		if v >= max {
			return ticks
		}
	}
}

// signalColour maps a signal in dBm onto a sequential scale from pale
// yellow (-90 dBm and weaker) to dark blue (-30 dBm and stronger).
func signalColour(dbm float64) string {
	stops := [][3]float64{{255, 247, 188}, {127, 205, 187}, {44, 127, 184}, {37, 52, 148}, {8, 29, 88}}
	t := (dbm - signalWeak) / (signalStrong - signalWeak)
	t = math.Min(1, math.Max(0, t))
	pos := t * float64(len(stops)-1)
	i := min(int(pos), len(stops)-2)
	f := pos - float64(i)
	var c [3]int
	for k := range c {
		c[k] = int(math.Round(stops[i][k] + f*(stops[i+1][k]-stops[i][k])))
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

// The ends of the heatmap's colour scale, in dBm.
const (
	signalWeak   = -90.0
	signalStrong = -30.0
)
