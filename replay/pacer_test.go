package replay

import (
	"context"
	"testing"
	"time"

	"github.com/wifiq/wifiq/record"
)

type nullSink struct{ flushes int }

func (s *nullSink) WriteRecord(int64, []byte) error { return nil }
func (s *nullSink) Flush() error                    { s.flushes++; return nil }

var _ record.Sink = (*nullSink)(nil)

// TestPacerSleeps checks the pauses the pacer asks for, on a clock that
// moves only when it sleeps.
func TestPacerSleeps(t *testing.T) {
	clock := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var slept []time.Duration
	p := newPacer(10)
	p.now = func() time.Time { return clock }
	p.sleep = func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		clock = clock.Add(d)
		return nil
	}
	sink := &nullSink{}
	base := int64(1714564800e9)
	// Records 1 s, 1 s, 0 s (same time) and -2 s (out of order) apart.
	for _, offset := range []int64{0, 1e9, 2e9, 2e9, 0} {
		if err := p.wait(context.Background(), base+offset, sink); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}
	if len(slept) != len(want) || slept[0] != want[0] || slept[1] != want[1] {
		t.Errorf("slept %v, want %v", slept, want)
	}
	if sink.flushes != 2 {
		t.Errorf("flushed %d times, want once before each pause", sink.flushes)
	}
}

func TestPacerStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := newPacer(1)
	p.wait(ctx, 0, &nullSink{})
	if err := p.wait(ctx, 3600e9, &nullSink{}); err != context.Canceled {
		t.Errorf("wait after cancel: %v, want context.Canceled", err)
	}
}
