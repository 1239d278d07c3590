package report

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// TerminalOptions sets how WriteTerminal draws.
type TerminalOptions struct {
	// Width is the number of columns a bar may take at most.
	Width int
	// Colour adds ANSI colours; callers set it only for a terminal without
	// NO_COLOR.
	Colour bool
}

const (
	ansiBar   = "\x1b[36m"
	ansiReset = "\x1b[0m"
)

// eighths are the block characters for 1/8 to 8/8 of a cell.
var eighths = []rune("▏▎▍▌▋▊▉█")

// sparks are the levels of a sparkline, lowest first.
var sparks = []rune("▁▂▃▄▅▆▇█")

// WriteTerminal writes bar charts of the probe requests per day and the
// frames per subtype, and a sparkline of the probe requests per day.
func WriteTerminal(w io.Writer, d *Data, opts TerminalOptions) error {
	width := max(opts.Width, 10)
	var b strings.Builder

	b.WriteString("Probe requests per day (" + d.TimeZone + ")\n")
	if len(d.ProbesPerDay) == 0 {
		b.WriteString("  " + noProbes + "\n")
	} else {
		counts := make([]int64, len(d.ProbesPerDay))
		labels := make([]string, len(d.ProbesPerDay))
		for i, r := range d.ProbesPerDay {
			counts[i], labels[i] = r.Probes, r.Day.Format(time.DateOnly)
		}
		fmt.Fprintf(&b, "  %s\n", sparkline(counts))
		writeBars(&b, labels, counts, width, opts.Colour)
	}

	b.WriteString("\nFrames per subtype\n")
	if len(d.Subtypes) == 0 {
		b.WriteString("  No frames in the input.\n")
	} else {
		counts := make([]int64, len(d.Subtypes))
		labels := make([]string, len(d.Subtypes))
		for i, r := range d.Subtypes {
			counts[i], labels[i] = r.Frames, truncate(subtypeLabel(r), 32)
		}
		writeBars(&b, labels, counts, width, opts.Colour)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeBars writes one labelled bar per value, scaled so the largest value
// takes width cells, in eighths of a cell.
func writeBars(b *strings.Builder, labels []string, values []int64, width int, colour bool) {
	labelW := 0
	var maxV int64
	for i, l := range labels {
		labelW = max(labelW, utf8.RuneCountInString(l))
		maxV = max(maxV, values[i])
	}
	for i, l := range labels {
		fmt.Fprintf(b, "  %s%s │", l, strings.Repeat(" ", labelW-utf8.RuneCountInString(l)))
		bar := blockBar(values[i], maxV, width)
		if colour && bar != "" {
			bar = ansiBar + bar + ansiReset
		}
		fmt.Fprintf(b, "%s %d\n", bar, values[i])
	}
}

// blockBar is a bar of v/maxV times width cells; a value above zero gets
// at least one eighth, so it stays visible.
func blockBar(v, maxV int64, width int) string {
	if v <= 0 || maxV <= 0 {
		return ""
	}
	units := max(1, int(v*int64(width)*8/maxV))
	return strings.Repeat(string(eighths[7]), units/8) + func() string {
		if units%8 == 0 {
			return ""
		}
		return string(eighths[units%8-1])
	}()
}

// sparkline draws each value as one of eight levels between 0 and the
// maximum.
func sparkline(values []int64) string {
	var maxV int64
	for _, v := range values {
		maxV = max(maxV, v)
	}
	var b strings.Builder
	for _, v := range values {
		level := 0
		if maxV > 0 {
			level = int(v * int64(len(sparks)-1) / maxV)
		}
		b.WriteRune(sparks[level])
	}
	return b.String()
}
