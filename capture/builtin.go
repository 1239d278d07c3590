package capture

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"sync"
)

// manufData is the manufacturer table built from the IEEE registry (MA-L,
// MA-M, MA-S and IAB assignments): one "prefix<TAB>short name" line per
// assignment. `make manuf` regenerates it.
//
//go:embed manuf.txt.gz
var manufData []byte

var (
	manufOnce  sync.Once
	manufTable *Resolver
	manufErr   error
)

// AddBuiltinManufacturers adds the built-in manufacturer table to r.
func AddBuiltinManufacturers(r *Resolver) error {
	manufOnce.Do(func() {
		manufTable = NewResolver()
		zr, err := gzip.NewReader(bytes.NewReader(manufData))
		if err != nil {
			manufErr = fmt.Errorf("built-in manufacturer table: %w", err)
			return
		}
		text, err := io.ReadAll(zr)
		if err != nil {
			manufErr = fmt.Errorf("built-in manufacturer table: %w", err)
			return
		}
		manufErr = manufTable.load(bytes.NewReader(text), kindManuf)
	})
	if manufErr != nil {
		return manufErr
	}
	for _, table := range manufTable.prefixes {
		for key, name := range table.names {
			r.AddPrefix(key<<(48-table.bits), table.bits, name)
		}
	}
	return nil
}

// builtinWellKnown lists the group addresses most seen on Wi-Fi, named as
// Wireshark's wka file names them. Wireshark's full list is read with --wka.
var builtinWellKnown = []struct {
	prefix string
	name   string
}{
	{"ff:ff:ff:ff:ff:ff", "Broadcast"},
	{"01:00:5e/25", "IPv4mcast"},
	{"33:33:00:00:00:00", "IPv6-Neighbor-Discovery"},
	{"33:33/16", "IPv6mcast"},
	{"01:80:c2:00:00:00/44", "Spanning-tree-(for-bridges)"},
	{"01:80:c2:00:00:03", "Nearest-non-TPMR-bridge"},
	{"01:80:c2:00:00:0e", "LLDP_Multicast"},
	{"01:00:0c:cc:cc:cc", "CDP/VTP/DTP/PAgP/UDLD"},
	{"01:00:0c:cc:cc:cd", "PVST+"},
}

// AddBuiltinWellKnown adds the built-in well-known addresses to r.
func AddBuiltinWellKnown(r *Resolver) {
	for _, w := range builtinWellKnown {
		addr, bits, err := parseAddressPrefix(w.prefix)
		if err != nil {
			panic(err) // the list above is fixed and tested
		}
		r.AddPrefix(addr, bits, w.name)
	}
}
