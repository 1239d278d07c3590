package live

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wifiq/wifiq/capture"
)

// RingOptions configure a ring buffer of capture files, as tshark's
// -w PREFIX -b duration:S -b filesize:KB -b files:N.
type RingOptions struct {
	// Prefix is the path given with -w. Files are named as tshark names
	// them: the prefix, a five-digit file number and the local start time,
	// then the prefix's extension ("/pcap_data/mon0.pcapng" gives
	// "/pcap_data/mon0_00001_20240501120000.pcapng").
	Prefix string
	// Duration starts a new file when the current one is this old; 0 never.
	Duration time.Duration
	// MaxBytes starts a new file when the current one is this large; 0 never.
	MaxBytes int64
	// Files is the number of files kept; older ones are deleted. 0 keeps
	// all of them.
	Files int
	// Single writes one file named Prefix, without rotation, as tshark -w
	// does without -b.
	Single bool
	// Interface and Filter are written into each file's interface block.
	Interface string
	Filter    string
}

// Ring writes packets into a rotating set of pcapng files. A Ring is not
// safe for concurrent use.
type Ring struct {
	opts   RingOptions
	log    *slog.Logger
	now    func() time.Time
	number int
	kept   []string

	file     *os.File
	writer   *pcapgo.NgWriter
	linkType capture.LinkType
	snapLen  int
	opened   time.Time
	written  int64
}

// NewRing checks the options and prepares the ring; the first file is
// created with the first packet.
func NewRing(opts RingOptions, log *slog.Logger) (*Ring, error) {
	if opts.Prefix == "" {
		return nil, fmt.Errorf("ring buffer needs a file prefix (-w)")
	}
	if opts.Files < 0 || opts.Duration < 0 || opts.MaxBytes < 0 {
		return nil, fmt.Errorf("ring buffer settings must not be negative")
	}
	if opts.Single && (opts.Files > 0 || opts.Duration > 0 || opts.MaxBytes > 0) {
		return nil, fmt.Errorf("a single capture file does not rotate: leave out the ring buffer settings")
	}
	if opts.Files > 0 && opts.Duration == 0 && opts.MaxBytes == 0 {
		return nil, fmt.Errorf("a ring of %d files needs a rule that starts new files: set --ring-duration or --ring-size", opts.Files)
	}
	dir := filepath.Dir(opts.Prefix)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("directory %q for the ring buffer files does not exist: create it or change -w", dir)
	}
	return &Ring{opts: opts, log: log, now: time.Now}, nil
}

// Write appends one packet, starting a new file when the current one is old
// or large enough, or when the link type or snap length changed (after the
// interface came back).
func (r *Ring) Write(lt capture.LinkType, snapLen int, ci gopacket.CaptureInfo, data []byte) error {
	if r.writer == nil || lt != r.linkType || snapLen != r.snapLen || r.due() {
		if err := r.rotate(lt, snapLen); err != nil {
			return err
		}
	}
	// The file has one interface, whatever the capturing interface's index.
	ci.InterfaceIndex = 0
	if err := r.writer.WritePacket(ci, data); err != nil {
		return fmt.Errorf("writing %s: %w", r.file.Name(), err)
	}
	// An enhanced packet block is 32 bytes plus the data padded to 4.
	r.written += 32 + int64(len(data)+3)&^3
	return nil
}

func (r *Ring) due() bool {
	if r.opts.Duration > 0 && r.now().Sub(r.opened) >= r.opts.Duration {
		return true
	}
	return r.opts.MaxBytes > 0 && r.written >= r.opts.MaxBytes
}

// Flush writes buffered packets to the current file.
func (r *Ring) Flush() error {
	if r.writer == nil {
		return nil
	}
	return r.writer.Flush()
}

// Close flushes and closes the current file.
func (r *Ring) Close() error {
	if r.writer == nil {
		return nil
	}
	err := r.writer.Flush()
	if cerr := r.file.Close(); err == nil {
		err = cerr
	}
	r.writer, r.file = nil, nil
	return err
}

// Files returns the files of the ring that still exist, oldest first.
func (r *Ring) Files() []string { return append([]string(nil), r.kept...) }

func (r *Ring) rotate(lt capture.LinkType, snapLen int) error {
	if err := r.Close(); err != nil {
		return err
	}
	r.number++
	r.opened = r.now()
	name := r.fileName(r.number, r.opened)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("creating ring buffer file: %w", err)
	}
	w, err := pcapgo.NewNgWriterInterface(f, pcapgo.NgInterface{
		Name:                r.opts.Interface,
		Filter:              r.opts.Filter,
		LinkType:            layers.LinkType(lt),
		SnapLength:          uint32(snapLen),
		TimestampResolution: 9,
	}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "wifiq"}})
	if err != nil {
		f.Close()
		os.Remove(name)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	r.file, r.writer, r.linkType, r.snapLen, r.written = f, w, lt, snapLen, 0
	r.kept = append(r.kept, name)
	r.log.Info("ring buffer file started", "file", name)

	for r.opts.Files > 0 && len(r.kept) > r.opts.Files {
		old := r.kept[0]
		r.kept = r.kept[1:]
		if err := os.Remove(old); err != nil && !os.IsNotExist(err) {
			r.log.Warn("could not delete old ring buffer file", "file", old, "err", err)
		}
	}
	return nil
}

// fileName builds tshark's ring buffer file name, or returns the prefix for
// a single file.
func (r *Ring) fileName(number int, start time.Time) string {
	if r.opts.Single {
		if number == 1 {
			return r.opts.Prefix
		}
		// The link type changed (the interface came back as another kind):
		// a pcapng file could hold both, but this writer holds one.
		ext := filepath.Ext(r.opts.Prefix)
		return fmt.Sprintf("%s_%05d%s", strings.TrimSuffix(r.opts.Prefix, ext), number, ext)
	}
	ext := filepath.Ext(r.opts.Prefix)
	base := strings.TrimSuffix(r.opts.Prefix, ext)
	return fmt.Sprintf("%s_%05d_%s%s", base, number, start.Format("20060102150405"), ext)
}
