// Package live captures 802.11 frames from a network interface with libpcap
// and keeps a ring buffer of pcapng files, as tshark -i IFACE -b does.
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcap"

	"github.com/wifiq/wifiq/capture"
)

// SourceOptions configure a live capture.
type SourceOptions struct {
	Interface string
	// Filter is a BPF filter expression in pcap-filter syntax.
	Filter string
	// Monitor puts the interface into monitor mode (rfmon) when it opens.
	Monitor bool
	// SnapLen bounds the bytes kept of each frame; 0 means 262144.
	SnapLen int
	// BufferSize is the kernel buffer for frames not read yet, in bytes;
	// 0 means 32 MiB.
	BufferSize int
	// LinkType, if not zero, decodes every frame with this link type
	// whatever the interface reports. Without it an interface whose link
	// type carries no 802.11 frames is an error.
	LinkType capture.LinkType
	// Retry is the pause between attempts to reopen an interface that went
	// away; 0 means one second.
	Retry time.Duration
	// Idle, if set, is called when no frame arrived for a read timeout
	// (200 ms), so callers can flush what they buffered.
	Idle func()
}

// Packet is one captured frame. Data is valid until the next call to Next.
type Packet struct {
	LinkType capture.LinkType
	SnapLen  int
	Info     gopacket.CaptureInfo
	Data     []byte
}

// LinkTypeError reports an interface whose link type carries no 802.11
// frames.
type LinkTypeError struct {
	Interface string
	LinkType  capture.LinkType
	Name      string
}

func (e *LinkTypeError) Error() string {
	return fmt.Sprintf("interface %s has link type %s (%d), which carries no 802.11 frames: "+
		"put it into monitor mode (iw dev %s set type monitor, or --monitor), "+
		"or force a link type with --link-type", e.Interface, e.Name, e.LinkType, e.Interface)
}

// Source reads frames from an interface. When the interface goes away it
// logs that, waits and opens it again, until the context ends.
type Source struct {
	opts   SourceOptions
	log    *slog.Logger
	handle *pcap.Handle
	lt     capture.LinkType
	// Reopened counts how often the interface came back.
	Reopened int
	// received and dropped add up libpcap's counts of handles closed when
	// the interface went away.
	received, dropped int
}

// Open opens the interface. Errors in the options (a bad filter, a link
// type without 802.11 frames, a missing interface) are returned here, not
// retried.
func Open(opts SourceOptions, log *slog.Logger) (*Source, error) {
	if opts.SnapLen <= 0 {
		opts.SnapLen = 262144
	}
	if opts.BufferSize <= 0 {
		// libpcap's default of 2 MiB holds only a few dozen frames of the
		// default snap length in its memory-mapped ring, so a burst of
		// frames would be dropped.
		opts.BufferSize = 32 << 20
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	s := &Source{opts: opts, log: log}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Source) open() error {
	in, err := pcap.NewInactiveHandle(s.opts.Interface)
	if err != nil {
		return fmt.Errorf("opening interface %s: %w", s.opts.Interface, err)
	}
	defer in.CleanUp()
	for _, set := range []func() error{
		func() error { return in.SetSnapLen(s.opts.SnapLen) },
		func() error { return in.SetBufferSize(s.opts.BufferSize) },
		func() error { return in.SetPromisc(true) },
		func() error { return in.SetImmediateMode(true) },
		// The timeout lets Next notice a cancelled context.
		func() error { return in.SetTimeout(200 * time.Millisecond) },
	} {
		if err := set(); err != nil {
			return fmt.Errorf("configuring interface %s: %w", s.opts.Interface, err)
		}
	}
	if s.opts.Monitor {
		if err := in.SetRFMon(true); err != nil {
			return fmt.Errorf("putting interface %s into monitor mode: %w", s.opts.Interface, err)
		}
	}
	h, err := in.Activate()
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "permit") {
			return fmt.Errorf("opening interface %s: %w (capturing needs CAP_NET_RAW, and CAP_NET_ADMIN for --monitor)", s.opts.Interface, err)
		}
		return fmt.Errorf("opening interface %s: %w", s.opts.Interface, err)
	}
	reported := h.LinkType()
	lt := capture.LinkType(reported)
	if s.opts.LinkType != 0 {
		lt = s.opts.LinkType
	} else if !lt.Supported() {
		h.Close()
		return &LinkTypeError{Interface: s.opts.Interface, LinkType: lt, Name: reported.String()}
	}
	if s.opts.Filter != "" {
		if err := h.SetBPFFilter(s.opts.Filter); err != nil {
			h.Close()
			return fmt.Errorf("invalid capture filter %q: %w", s.opts.Filter, err)
		}
	}
	s.handle, s.lt = h, lt
	return nil
}

// LinkType returns the link type frames are decoded with.
func (s *Source) LinkType() capture.LinkType { return s.lt }

// Next returns the next frame. It returns the context's error when ctx
// ends, and keeps trying to reopen an interface that went away.
func (s *Source) Next(ctx context.Context) (Packet, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Packet{}, err
		}
		if s.handle == nil {
			if !s.reopen(ctx) {
				return Packet{}, ctx.Err()
			}
		}
		data, ci, err := s.handle.ZeroCopyReadPacketData()
		switch {
		case err == nil:
			return Packet{LinkType: s.lt, SnapLen: s.opts.SnapLen, Info: ci, Data: data}, nil
		case errors.Is(err, pcap.NextErrorTimeoutExpired):
			if s.opts.Idle != nil {
				s.opts.Idle()
			}
			continue
		case errors.Is(err, pcap.NextErrorNoMorePackets):
			// A capture that ended (the interface is gone).
		}
		s.log.Warn("interface stopped delivering frames; reopening it", "interface", s.opts.Interface, "err", err)
		if received, dropped, err := s.handleStats(); err == nil {
			s.received += received
			s.dropped += dropped
		}
		s.handle.Close()
		s.handle = nil
	}
}

// reopen waits until the interface can be opened again or ctx ends.
func (s *Source) reopen(ctx context.Context) bool {
	ticker := time.NewTicker(s.opts.Retry)
	defer ticker.Stop()
	attempts := 0
	for {
		select {
		case <-ctx.Done():
			return false
		case <-ticker.C:
		}
		attempts++
		err := s.open()
		if err == nil {
			s.Reopened++
			s.log.Warn("interface is back", "interface", s.opts.Interface, "attempts", attempts)
			return true
		}
		// Log the first failure and then about once a minute.
		if attempts == 1 || attempts%int(max(1, time.Minute/s.opts.Retry)) == 0 {
			s.log.Warn("interface not available yet", "interface", s.opts.Interface, "attempts", attempts, "err", err)
		}
	}
}

// Stats returns libpcap's counts of received and dropped frames, over
// every time the interface was open.
func (s *Source) Stats() (received, dropped int, err error) {
	received, dropped, err = s.handleStats()
	return s.received + received, s.dropped + dropped, err
}

func (s *Source) handleStats() (received, dropped int, err error) {
	if s.handle == nil {
		return 0, 0, nil
	}
	st, err := s.handle.Stats()
	if err != nil {
		return 0, 0, err
	}
	return st.PacketsReceived, st.PacketsDropped + st.PacketsIfDropped, nil
}

// Close closes the interface.
func (s *Source) Close() {
	if s.handle != nil {
		s.handle.Close()
		s.handle = nil
	}
}
