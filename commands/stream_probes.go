package commands

// Stream mode of stats probes-per-day. The counts of a window (probes,
// distinct and randomised addresses) change with every probe and go to
// the changelog at once. The device estimate needs all the window's
// addresses, so it stays null until the window closes, and the window's
// last entry carries it.

import (
	"context"
	"fmt"
	"io"
	"iter"
	"math"
	"time"

	"github.com/wifiq/wifiq/ops"
	"github.com/wifiq/wifiq/record"
)

// probesStream keeps, next to the engine of ProbesQuery, the engine of
// ActivityQuery that the device estimate reads when a window closes.
type probesStream struct {
	probes   *ops.Engine
	activity *ops.Engine
	estimate ops.EstimateOptions
	// maxGroups bounds the activity engine's groups, as --max-groups
	// bounds the probes engine's.
	maxGroups int
	// estimates holds the estimates of the windows that are closing, for
	// the report function of their last changelog entry.
	estimates map[ops.Window]int
}

func (s *probesStream) add(rec *record.Record, source int32) error {
	if source == noSource {
		s.activity.Add(rec)
	} else {
		s.activity.AddFrom(rec, source)
	}
	if groups := s.activity.Groups(); groups > s.maxGroups {
		return fmt.Errorf("too many groups: the device estimate keeps %d addresses of open windows, more than --max-groups %d: raise --max-groups if the memory allows, or shorten --grace or --window so that windows close sooner", groups, s.maxGroups)
	}
	return nil
}

func (s *probesStream) waitForSource(source int32) { s.activity.WaitForSource(source) }
func (s *probesStream) removeSource(source int32)  { s.activity.RemoveSource(source) }

// closed estimates the devices of the windows whose rows the probes
// engine just closed, and returns those rows again, now with the estimate.
// Both engines see the same probe requests, so they have the same stream
// time, and the activity engine's windows are among the probes engine's.
// So when the probes engine closes none, the activity engine has none to
// close either, and its groups need no scan.
func (s *probesStream) closed(rows []ops.Row) []ops.Change {
	if len(rows) == 0 {
		return nil
	}
	acts := ops.Activities(s.activity.CloseExpired())
	s.estimates = ops.EstimateByWindow(acts, s.estimate)
	changes := make([]ops.Change, len(rows))
	for i, r := range rows {
		if _, ok := s.estimates[r.Window]; !ok {
			// Every closed row counted probes with a source address or
			// none; a window of only the latter has no device.
			s.estimates[r.Window] = 0
		}
		changes[i] = ops.Change{Row: r}
	}
	return changes
}

// Encode saves both engines, the probes engine first.
func (s *probesStream) Encode(w io.Writer) error {
	if err := s.probes.Encode(w); err != nil {
		return err
	}
	return s.activity.Encode(w)
}

// Decode restores both engines from what Encode wrote.
func (s *probesStream) Decode(r io.Reader) error {
	if err := s.probes.Decode(r); err != nil {
		return err
	}
	if err := s.activity.Decode(r); err != nil {
		return fmt.Errorf("device estimate: %w", err)
	}
	return nil
}

// probesReport is the table of stats probes-per-day. estimates gives the
// estimated_devices of a window; a window without one has a null estimate.
func probesReport(rows iter.Seq[ops.Row], estimates map[ops.Window]int, loc *time.Location) *report {
	rep := &report{Columns: []string{"window_start", "window_end", "probes", "macs", "randomised_macs", "randomised_pct", "estimated_devices"}}
	for r := range rows {
		macs, randomised := r.Get("macs").Int, r.Get("randomised_macs").Int
		var share any
		if macs > 0 {
			share = math.Round(1000*float64(randomised)/float64(macs)) / 10
		}
		var devices any
		if n, ok := estimates[r.Window]; ok {
			devices = int64(n)
		}
		rep.Rows = append(rep.Rows, []any{
			timeCell{r.Window.Start, loc}, timeCell{r.Window.End, loc},
			r.Get("probes").Int, macs, randomised, share, devices,
		})
	}
	return rep
}

// statsProbesStream runs stats probes-per-day in follow mode.
func statsProbesStream(ctx context.Context, g *Globals, opts *StatsProbesOptions, probes, activity *ops.Engine, seen *probeCounter) error {
	// A group given with --group or -X group.id would make streamRun share
	// the work between instances, which the estimate cannot.
	group, err := opts.Stream.scaleOutGroup(g, &opts.Input)
	if err != nil {
		return err
	}
	if group != "" {
		return usagef("stats probes-per-day --follow cannot read as a consumer group (%s): the device estimate of a window needs all its probes in one instance, so leave out --group and the group.id setting", group)
	}
	activity.SetGrace(opts.Stream.Grace)
	extra := &probesStream{
		probes: probes, activity: activity, maxGroups: opts.Stream.MaxGroups,
		estimate: ops.EstimateOptions{MaxPause: opts.MaxPause},
	}
	return streamRun(ctx, g, &opts.Input, &opts.Stream, &streamTable{
		name: "stats probes-per-day",
		settings: fmt.Sprintf("window=%v hop=%v tz=%s signature=%s gap=%v",
			opts.Window, opts.Hop, opts.Location, opts.Signature.Name, opts.MaxPause),
		engine: probes,
		report: func(rows iter.Seq[ops.Row]) (*report, error) {
			return probesReport(rows, extra.estimates, opts.Location), nil
		},
		windowed: true,
		location: opts.Location,
		extra:    extra,
	}, seen)
}
