// Package replay reads capture files (pcap and pcapng, plain or
// gzip-compressed) and hands their records out in time order.
package replay

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wifiq/wifiq/capture"
)

// Packet is one capture record. Data is valid until the next call to Next
// on the File (or Merger) that returned it.
type Packet struct {
	LinkType  capture.LinkType
	Timestamp int64 // nanoseconds since the Unix epoch
	Data      []byte
	Length    int // bytes the frame had on the air
}

// ErrCutShort is returned by File.Next when the file ends in the middle of a
// record, as a ring-buffer file still being written does.
var ErrCutShort = errors.New("file ends in the middle of a record")

// File reads the records of one capture file.
type File struct {
	// Name is the path given, or "-" for standard input.
	Name string

	closer   io.Closer
	next     func() ([]byte, gopacket.CaptureInfo, error)
	linkType func(gopacket.CaptureInfo) capture.LinkType
	format   string
}

// Magic numbers of the formats File reads.
const (
	magicPcapMicro   = 0xa1b2c3d4
	magicPcapNano    = 0xa1b23c4d
	magicPcapngBlock = 0x0a0d0d0a
)

// Open opens a capture file; name "-" reads standard input.
func Open(name string) (*File, error) {
	if name == "-" {
		return newFile(name, os.Stdin, nil)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	file, err := newFile(name, f, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return file, nil
}

// OpenReader reads a capture from r, which the caller closes; name labels
// it in errors.
func OpenReader(name string, r io.Reader) (*File, error) {
	return newFile(name, r, nil)
}

func newFile(name string, r io.Reader, closer io.Closer) (*File, error) {
	br := bufio.NewReaderSize(r, 256*1024)
	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty or shorter than a capture file header", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var src io.Reader = br
	if magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid gzip data: %w", name, err)
		}
		gzbuf := bufio.NewReaderSize(gz, 256*1024)
		if magic, err = gzbuf.Peek(4); err != nil {
			return nil, fmt.Errorf("%s: gzip data holds no capture file: %w", name, err)
		}
		src = gzbuf
	}

	f := &File{Name: name, closer: closer}
	le := binary.LittleEndian.Uint32(magic)
	be := binary.BigEndian.Uint32(magic)
	switch {
	case le == magicPcapngBlock:
		ng, err := pcapgo.NewNgReader(src, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, fmt.Errorf("%s: invalid pcapng file: %w", name, err)
		}
		f.format = "pcapng"
		f.next = ng.ZeroCopyReadPacketData
		f.linkType = func(ci gopacket.CaptureInfo) capture.LinkType {
			if len(ci.AncillaryData) > 0 {
				if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
					return capture.LinkType(lt)
				}
			}
			return capture.LinkType(ng.LinkType())
		}
	case le == magicPcapMicro || be == magicPcapMicro || le == magicPcapNano || be == magicPcapNano:
		pr, err := pcapgo.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid pcap file: %w", name, err)
		}
		f.format = "pcap"
		lt := capture.LinkType(pr.LinkType())
		f.next = pr.ZeroCopyReadPacketData
		f.linkType = func(gopacket.CaptureInfo) capture.LinkType { return lt }
	default:
		return nil, fmt.Errorf("%s: not a pcap or pcapng file (it starts with %x); wifiq reads pcap, pcapng and their gzip-compressed forms", name, magic)
	}
	return f, nil
}

// Format returns "pcap" or "pcapng".
func (f *File) Format() string { return f.format }

// Next returns the next record, io.EOF at the end of the file, or
// ErrCutShort when the last record is incomplete.
func (f *File) Next() (Packet, error) {
	data, ci, err := f.next()
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Packet{}, ErrCutShort
		}
		if errors.Is(err, io.EOF) {
			return Packet{}, io.EOF
		}
		return Packet{}, fmt.Errorf("%s: %w", f.Name, err)
	}
	return Packet{
		LinkType:  f.linkType(ci),
		Timestamp: ci.Timestamp.UnixNano(),
		Data:      data,
		Length:    ci.Length,
	}, nil
}

// Close closes the underlying file.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}
