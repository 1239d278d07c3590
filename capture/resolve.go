package capture

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Resolver turns MAC addresses into the names tshark 4.0 prints in its
// *_resolved fields: an ethers entry, else a well-known address, else a
// manufacturer short name and the rest of the address, else the address.
//
// Names of address ranges follow tshark's two formats. A 24-bit prefix
// (an OUI) is followed by the last three octets ("Apple_6f:3f:a8"). A range
// with any other prefix length is followed by the part of the address
// outside the prefix, with leading zero octets left out ("IPv4mcast_fb",
// "IPv6mcast_ff:11:22:33").
type Resolver struct {
	exact    map[uint64]string
	prefixes []prefixTable // longest prefix first
	cache    map[uint64]string
	// quoted is a small direct-mapped cache of names already written as JSON
	// strings, in front of cache: the encoder asks for the same few
	// addresses frame after frame.
	quoted [quotedSlots]quotedName
}

const quotedSlots = 512

type quotedName struct {
	key  uint64 // address + 1, so the zero entry matches nothing
	json []byte
}

type prefixTable struct {
	bits  int
	names map[uint64]string // keyed by the address shifted right by 48-bits
}

// maxResolverCache bounds the number of resolved names kept.
const maxResolverCache = 1 << 16

// NewResolver returns a resolver with no names: every address resolves to
// itself.
func NewResolver() *Resolver {
	return &Resolver{exact: map[uint64]string{}, cache: map[uint64]string{}}
}

// Resolve returns the name of an address.
func (r *Resolver) Resolve(m MAC) string {
	key := m.uint64()
	if name, ok := r.cache[key]; ok {
		return name
	}
	name := r.lookup(key)
	if len(r.cache) >= maxResolverCache {
		clear(r.cache)
	}
	r.cache[key] = name
	return name
}

// forget drops the cached names after the tables changed.
func (r *Resolver) forget() {
	clear(r.cache)
	r.quoted = [quotedSlots]quotedName{}
}

// appendQuoted appends the name of m as a JSON string.
func (r *Resolver) appendQuoted(dst []byte, m MAC) []byte {
	key := m.uint64()
	slot := &r.quoted[(key^key>>17^key>>31)%quotedSlots]
	if slot.key != key+1 {
		slot.key = key + 1
		slot.json = appendJSONString(slot.json[:0], r.Resolve(m))
	}
	return append(dst, slot.json...)
}

func (r *Resolver) lookup(addr uint64) string {
	if name, ok := r.exact[addr]; ok {
		return name
	}
	for _, table := range r.prefixes {
		name, ok := table.names[addr>>(48-table.bits)]
		if !ok {
			continue
		}
		rest := addr & (1<<(48-table.bits) - 1)
		if table.bits == 24 {
			return fmt.Sprintf("%s_%02x:%02x:%02x", name, byte(rest>>16), byte(rest>>8), byte(rest))
		}
		return name + "_" + trimmedOctets(rest)
	}
	return formatMAC(addr)
}

// trimmedOctets formats v as colon-separated hex octets without leading zero
// octets, keeping at least one.
func trimmedOctets(v uint64) string {
	var b strings.Builder
	started := false
	for shift := 40; shift >= 0; shift -= 8 {
		octet := byte(v >> shift)
		if octet == 0 && !started && shift > 0 {
			continue
		}
		if started {
			b.WriteByte(':')
		}
		started = true
		fmt.Fprintf(&b, "%02x", octet)
	}
	return b.String()
}

func formatMAC(addr uint64) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x",
		byte(addr>>40), byte(addr>>32), byte(addr>>24), byte(addr>>16), byte(addr>>8), byte(addr))
}

// AddExact names one address; an earlier name for it is kept, so load the
// ethers file before the well-known addresses.
func (r *Resolver) AddExact(addr uint64, name string) {
	if _, ok := r.exact[addr]; !ok {
		r.exact[addr] = name
	}
	r.forget()
}

// AddPrefix names every address whose first bits bits equal those of addr.
func (r *Resolver) AddPrefix(addr uint64, bits int, name string) {
	if bits >= 48 {
		r.AddExact(addr, name)
		return
	}
	i := sort.Search(len(r.prefixes), func(i int) bool { return r.prefixes[i].bits <= bits })
	if i == len(r.prefixes) || r.prefixes[i].bits != bits {
		r.prefixes = append(r.prefixes, prefixTable{})
		copy(r.prefixes[i+1:], r.prefixes[i:])
		r.prefixes[i] = prefixTable{bits: bits, names: map[uint64]string{}}
	}
	key := addr >> (48 - bits)
	if _, ok := r.prefixes[i].names[key]; !ok {
		r.prefixes[i].names[key] = name
	}
	r.forget()
}

// parseAddressPrefix parses "00:1B:C5:00:00:00/36", "01-00-5E/25" or
// "00:50:f2": octets separated by colons, hyphens or dots, and an optional
// prefix length (default 8 bits per octet given, 48 for six octets).
func parseAddressPrefix(s string) (addr uint64, bits int, err error) {
	text, maskText, hasMask := strings.Cut(s, "/")
	octets := strings.FieldsFunc(text, func(r rune) bool { return r == ':' || r == '-' || r == '.' })
	if len(octets) < 1 || len(octets) > 6 {
		return 0, 0, fmt.Errorf("invalid address %.40q: want 1 to 6 hex octets", s)
	}
	for _, o := range octets {
		v, err := strconv.ParseUint(o, 16, 8)
		if err != nil || len(o) > 2 {
			return 0, 0, fmt.Errorf("invalid address %.40q: octet %.20q is not hex", s, o)
		}
		addr = addr<<8 | v
	}
	addr <<= 8 * uint(6-len(octets))
	bits = 8 * len(octets)
	if hasMask {
		n, err := strconv.Atoi(maskText)
		if err != nil || n < 1 || n > 48 {
			return 0, 0, fmt.Errorf("invalid prefix length in %q: want 1 to 48", s)
		}
		bits = n
	}
	return addr, bits, nil
}

// ParseMAC parses a MAC address written with colons, hyphens or dots.
func ParseMAC(s string) (MAC, error) {
	addr, bits, err := parseAddressPrefix(s)
	if err != nil {
		return MAC{}, err
	}
	if bits != 48 || strings.Contains(s, "/") {
		return MAC{}, fmt.Errorf("invalid MAC address %q: want six hex octets such as 3c:a6:2f:1a:2b:3c", s)
	}
	var m MAC
	for i := range m {
		m[i] = byte(addr >> (40 - 8*i))
	}
	return m, nil
}

// nameFileKind selects how a name file's lines are read.
type nameFileKind int

const (
	kindManuf  nameFileKind = iota // address, short name, optional long name
	kindWKA                        // address, name
	kindEthers                     // address, name; exact addresses only
)

// LoadManuf reads a Wireshark manuf file: a prefix, a tab and a short name
// per line (a long name and comments may follow).
func (r *Resolver) LoadManuf(path string) error { return r.loadFile(path, kindManuf) }

// LoadWKA reads a Wireshark wka (well-known addresses) file.
func (r *Resolver) LoadWKA(path string) error { return r.loadFile(path, kindWKA) }

// LoadEthers reads an ethers file: a full MAC address and a name per line.
func (r *Resolver) LoadEthers(path string) error { return r.loadFile(path, kindEthers) }

func (r *Resolver) loadFile(path string, kind nameFileKind) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("unable to read name file: %w", err)
	}
	if info, err := f.Stat(); err == nil && info.IsDir() {
		f.Close()
		return fmt.Errorf("unable to read name file %s: it is a directory", path)
	}
	defer f.Close()
	if err := r.load(f, kind); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func (r *Resolver) load(rd io.Reader, kind nameFileKind) error {
	scanner := bufio.NewScanner(rd)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	line, entries := 0, 0
	for scanner.Scan() {
		line++
		text := scanner.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		var fields []string
		if kind == kindManuf {
			fields = strings.Split(strings.TrimSpace(text), "\t")
		} else {
			fields = strings.Fields(text)
		}
		if len(fields) < 2 || fields[0] == "" {
			continue
		}
		name := strings.TrimSpace(fields[1])
		if name == "" {
			continue
		}
		addr, bits, err := parseAddressPrefix(fields[0])
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if kind == kindEthers && bits != 48 {
			return fmt.Errorf("line %d: %q is not a full MAC address", line, fields[0])
		}
		r.AddPrefix(addr, bits, name)
		entries++
	}
	if err := scanner.Err(); err != nil {
		return err
	}
	if entries == 0 {
		return fmt.Errorf("no entries found: want lines of an address (or prefix) and a name, separated by %s", map[bool]string{true: "a tab", false: "spaces"}[kind == kindManuf])
	}
	return nil
}
