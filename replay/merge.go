package replay

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Expand turns command-line arguments into capture file names: a directory
// stands for the capture files in it (files that do not start like a pcap,
// pcapng or gzip file are left out, so a README next to the ring buffer does
// no harm), a pattern with *, ? or [ for the files it matches, and "-" for
// standard input. Names are returned in argument order, each directory's and
// pattern's files sorted by name. A name that does not exist is returned as
// it is, so that opening it reports the error next to the other files.
func Expand(args []string) ([]string, error) {
	var names []string
	for _, arg := range args {
		if arg == "-" {
			names = append(names, arg)
			continue
		}
		info, err := os.Stat(arg)
		switch {
		case err == nil && info.IsDir():
			entries, err := os.ReadDir(arg)
			if err != nil {
				return nil, err
			}
			found := 0
			for _, e := range entries {
				name := filepath.Join(arg, e.Name())
				if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && looksLikeCapture(name) {
					names = append(names, name)
					found++
				}
			}
			if found == 0 {
				return nil, fmt.Errorf("no capture files (pcap, pcapng, or gzip-compressed) found in directory %s", arg)
			}
		case err == nil:
			names = append(names, arg)
		case strings.ContainsAny(arg, "*?["):
			matches, err := filepath.Glob(arg)
			if err != nil {
				return nil, fmt.Errorf("invalid pattern %q: %w", arg, err)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("pattern %q matches no file", arg)
			}
			sort.Strings(matches)
			names = append(names, matches...)
		case errors.Is(err, os.ErrNotExist):
			names = append(names, arg)
		default:
			return nil, err
		}
	}
	return names, nil
}

// looksLikeCapture reports whether a file starts with the magic number of a
// pcap file (either byte order, micro- or nanoseconds), a pcapng section
// header block or gzip.
func looksLikeCapture(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return true // let opening it report the error
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false
	}
	switch {
	case magic[0] == 0x1f && magic[1] == 0x8b: // gzip
		return true
	case magic == [4]byte{0x0a, 0x0d, 0x0d, 0x0a}: // pcapng
		return true
	}
	switch binary.LittleEndian.Uint32(magic[:]) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		return true
	}
	return false
}

// SourceStats counts what was read from one file.
type SourceStats struct {
	Name    string
	Records int
	// CutShort is set when the file ended in the middle of a record.
	CutShort bool
	// Err is the error that stopped reading the file early, if any.
	Err error
}

// Merger reads several capture files as one stream in time order. It opens a
// file only when the stream reaches the time of its first record, so a
// directory of rotated ring-buffer files is read one file at a time, while
// files whose times overlap (several sensors) are interleaved.
type Merger struct {
	Sources []SourceStats

	pending []pendingFile // not yet opened, by first timestamp
	active  mergeHeap
	last    *activeFile // the file of the record returned last, to advance
}

type pendingFile struct {
	index int
	first int64
}

type activeFile struct {
	index  int
	file   *File
	packet Packet
}

// NewMerger prepares reading names. It reads the first record of every file
// to order them; a file that cannot be opened is recorded in Sources with its
// error and skipped. "-" names stdin (os.Stdin when nil), which is read as
// it comes.
func NewMerger(names []string, stdin io.Reader) *Merger {
	if stdin == nil {
		stdin = os.Stdin
	}
	m := &Merger{Sources: make([]SourceStats, len(names))}
	for i, name := range names {
		m.Sources[i].Name = name
		if name == "-" {
			f, err := OpenReader(name, stdin)
			if err != nil {
				m.Sources[i].Err = err
				continue
			}
			m.push(i, f)
			continue
		}
		first, err := firstTimestamp(name)
		if err != nil {
			if errors.Is(err, io.EOF) {
				continue // a file without records
			}
			m.Sources[i].Err = err
			if !errors.Is(err, ErrCutShort) {
				continue
			}
			m.Sources[i].Err = nil
		}
		m.pending = append(m.pending, pendingFile{index: i, first: first})
	}
	sort.SliceStable(m.pending, func(a, b int) bool { return m.pending[a].first < m.pending[b].first })
	return m
}

func firstTimestamp(name string) (int64, error) {
	f, err := Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	p, err := f.Next()
	if err != nil {
		return 0, err
	}
	return p.Timestamp, nil
}

// Next returns the next record in time order and the index of its file in
// Sources, or io.EOF after the last one.
func (m *Merger) Next() (Packet, int, error) {
	if m.last != nil {
		m.advance(m.last)
		m.last = nil
	}
	for len(m.pending) > 0 && (len(m.active) == 0 || m.pending[0].first <= m.active[0].packet.Timestamp) {
		p := m.pending[0]
		m.pending = m.pending[1:]
		f, err := Open(m.Sources[p.index].Name)
		if err != nil {
			m.Sources[p.index].Err = err
			continue
		}
		m.push(p.index, f)
	}
	if len(m.active) == 0 {
		return Packet{}, 0, io.EOF
	}
	top := m.active[0]
	m.last = top
	m.Sources[top.index].Records++
	return top.packet, top.index, nil
}

// push reads the first record of a newly opened file and adds it.
func (m *Merger) push(index int, f *File) {
	a := &activeFile{index: index, file: f}
	if m.read(a) {
		heap.Push(&m.active, a)
	}
}

// advance moves the file of the last record on to its next record.
func (m *Merger) advance(a *activeFile) {
	if m.read(a) {
		heap.Fix(&m.active, 0)
		return
	}
	heap.Pop(&m.active)
}

// read loads the next record of a; it returns false at the end of the file.
func (m *Merger) read(a *activeFile) bool {
	p, err := a.file.Next()
	if err == nil {
		a.packet = p
		return true
	}
	switch {
	case errors.Is(err, ErrCutShort):
		m.Sources[a.index].CutShort = true
	case !errors.Is(err, io.EOF):
		m.Sources[a.index].Err = err
	}
	a.file.Close()
	return false
}

// Close closes every open file.
func (m *Merger) Close() {
	for _, a := range m.active {
		a.file.Close()
	}
	m.active = nil
	m.pending = nil
}

// mergeHeap orders open files by the time of their current record, then by
// their position on the command line.
type mergeHeap []*activeFile

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].packet.Timestamp != h[j].packet.Timestamp {
		return h[i].packet.Timestamp < h[j].packet.Timestamp
	}
	return h[i].index < h[j].index
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*activeFile)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
