package live

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/replay"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestRingRotatesAndKeepsNewest(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRing(RingOptions{Prefix: filepath.Join(dir, "mon0.pcapng"), Duration: time.Hour, Files: 3}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2024, 5, 1, 12, 0, 0, 0, time.Local)
	r.now = func() time.Time { return clock }
	frame := []byte{0, 0, 8, 0, 0, 0, 0, 0, 0x80, 0, 0, 0}
	for i := 0; i < 5; i++ {
		ci := gopacket.CaptureInfo{Timestamp: clock, CaptureLength: len(frame), Length: len(frame), InterfaceIndex: 7}
		for j := 0; j < 2; j++ {
			if err := r.Write(capture.LinkTypeIEEE80211Radiotap, 65535, ci, frame); err != nil {
				t.Fatal(err)
			}
		}
		clock = clock.Add(time.Hour)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	want := []string{"mon0_00003_20240501140000.pcapng", "mon0_00004_20240501150000.pcapng", "mon0_00005_20240501160000.pcapng"}
	if len(names) != len(want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	for i, name := range names {
		if filepath.Base(name) != want[i] {
			t.Errorf("file %d is %s, want %s", i, filepath.Base(name), want[i])
		}
		f, err := replay.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for ; ; n++ {
			if _, err := f.Next(); err != nil {
				break
			}
		}
		f.Close()
		if n != 2 {
			t.Errorf("%s holds %d frames, want 2", name, n)
		}
	}
}

func TestRingRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRing(RingOptions{Prefix: filepath.Join(dir, "cap"), MaxBytes: 1000}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 200)
	for i := 0; i < 10; i++ {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1714564800, 0), CaptureLength: len(frame), Length: len(frame)}
		if err := r.Write(capture.LinkTypeIEEE80211, 65535, ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	// 232 bytes per packet block: a file is full after 5 frames.
	if files := r.Files(); len(files) != 2 {
		t.Errorf("%d files, want 2: %v", len(files), files)
	}
}

func TestRingOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for _, opts := range []RingOptions{
		{},
		{Prefix: filepath.Join(dir, "missing", "mon0")},
		{Prefix: filepath.Join(dir, "mon0"), Files: 12},
	} {
		if _, err := NewRing(opts, quietLog()); err == nil {
			t.Errorf("NewRing(%+v) gave no error", opts)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
