package record

import (
	"errors"
	"fmt"
	"testing"
)

type collectSink struct {
	lines   []string
	times   []int64
	flushes int
	failAt  int
}

func (s *collectSink) WriteRecord(ts int64, line []byte) error {
	if s.failAt > 0 && len(s.lines) == s.failAt {
		return errors.New("broker gone")
	}
	s.lines = append(s.lines, string(line))
	s.times = append(s.times, ts)
	return nil
}

func (s *collectSink) Flush() error { s.flushes++; return nil }

func TestPipelineKeepsOrder(t *testing.T) {
	next := &collectSink{}
	p := NewPipeline(next)
	const n = 20000 // several chunks
	for i := range n {
		if err := p.WriteRecord(int64(i), []byte(fmt.Sprintf(`{"timestamp":"%d","n":["%0200d"]}`+"\n", i, i))); err != nil {
			t.Fatal(err)
		}
		if i == 7 {
			if err := p.Flush(); err != nil || len(next.lines) != 8 {
				t.Fatalf("after Flush: %v, %d lines written, want 8", err, len(next.lines))
			}
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if len(next.lines) != n || next.flushes != 2 {
		t.Fatalf("%d lines and %d flushes, want %d and 2", len(next.lines), next.flushes, n)
	}
	for i, line := range next.lines {
		if want := fmt.Sprintf(`{"timestamp":"%d","n":["%0200d"]}`+"\n", i, i); line != want || next.times[i] != int64(i) {
			t.Fatalf("line %d is %.40q at %d", i, line, next.times[i])
		}
	}
}

func TestPipelineReportsError(t *testing.T) {
	next := &collectSink{failAt: 10}
	p := NewPipeline(next)
	var err error
	for i := 0; i < 100000 && err == nil; i++ {
		err = p.WriteRecord(int64(i), []byte(fmt.Sprintf("%0100d\n", i)))
	}
	if closeErr := p.Close(); err == nil {
		err = closeErr
	}
	if err == nil || err.Error() != "broker gone" {
		t.Errorf("error %v, want the next sink's error", err)
	}
}
