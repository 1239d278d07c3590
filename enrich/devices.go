// Package enrich joins probe requests to a table of known devices, as the
// ksqlDB stream-table LEFT JOIN of a probe stream on a device table keyed
// by MAC address does. The table comes from a device list (CSV or JSON
// lines), from the UniFi controller's MongoDB collections (mongoexport
// documents or Debezium change events) or from a compacted Kafka topic.
package enrich

import (
	"fmt"
	"strings"
	"sync"

	"github.com/wifiq/wifiq/capture"
)

// Device is one entry of the device table, in the terms of the UniFi
// controller's ace.user collection.
type Device struct {
	MAC      capture.MAC
	Name     string // the name given in the controller, if any
	Hostname string // the name the device sent in DHCP, if any
	IsGuest  bool
	// OUI is the manufacturer name the controller stored; empty means the
	// manufacturer is looked up in the IEEE registry.
	OUI string
}

// DisplayName returns the device's name by the rule of the ksqlDB device
// table: the name; "name (hostname)" when both are set; the hostname;
// else "guest_" or "nonguest_" and the manufacturer.
func (d Device) DisplayName(manufacturer func(capture.MAC) string) string {
	switch {
	case d.Name != "" && d.Hostname != "":
		return d.Name + " (" + d.Hostname + ")"
	case d.Name != "":
		return d.Name
	case d.Hostname != "":
		return d.Hostname
	}
	oui := d.OUI
	if oui == "" {
		oui = manufacturer(d.MAC)
	}
	if d.IsGuest {
		return "guest_" + oui
	}
	return "nonguest_" + oui
}

// Table is the device table keyed by MAC address. It is safe for
// concurrent use, so that a following table reader can update it while
// the stream is joined.
type Table struct {
	mu      sync.RWMutex
	devices map[capture.MAC]Device
	// ids maps MongoDB document ids to MAC addresses, because a Debezium
	// delete event may carry only the id of the deleted document.
	ids map[string]capture.MAC
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{devices: map[capture.MAC]Device{}, ids: map[string]capture.MAC{}}
}

// Lookup returns the device with a MAC address.
func (t *Table) Lookup(mac capture.MAC) (Device, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d, ok := t.devices[mac]
	return d, ok
}

// Len returns the number of devices.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.devices)
}

// Apply makes one change to the table: an upsert, or a delete by MAC or by
// document id. It returns an error for a delete of an unknown document id.
func (t *Table) Apply(c Change) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.Delete {
		mac, ok := c.Device.MAC, c.HasMAC
		if !ok {
			mac, ok = t.ids[c.ID]
		}
		if !ok {
			return fmt.Errorf("delete of document %q, whose MAC address was never seen: nothing to delete", c.ID)
		}
		delete(t.devices, mac)
		return nil
	}
	if c.ID != "" {
		t.ids[c.ID] = c.Device.MAC
	}
	if c.Skip != "" {
		// An update may turn a client entry into infrastructure.
		delete(t.devices, c.Device.MAC)
		return nil
	}
	t.devices[c.Device.MAC] = c.Device
	return nil
}

// Change is one update of the device table.
type Change struct {
	Device Device
	HasMAC bool
	// Delete removes the device; a Debezium delete may name only ID.
	Delete bool
	// ID is the MongoDB document id, if the source has one.
	ID string
	// FromEvent marks a change event, which may update a device that an
	// earlier line of the same file listed.
	FromEvent bool
	// Skip, when set, is why the document is not a client device: it
	// describes Ubiquiti infrastructure (see isInfrastructure).
	Skip string
}

// ManufacturerNames returns a function that names the manufacturer of an
// address by its OUI: the short name of the built-in IEEE registry
// ("Apple"), else the OUI itself ("02:1a:11").
func ManufacturerNames() (func(capture.MAC) string, error) {
	resolver := capture.NewResolver()
	if err := capture.AddBuiltinManufacturers(resolver); err != nil {
		return nil, err
	}
	return func(m capture.MAC) string {
		suffix := fmt.Sprintf("_%02x:%02x:%02x", m[3], m[4], m[5])
		if name, found := strings.CutSuffix(resolver.Resolve(m), suffix); found {
			return name
		}
		return fmt.Sprintf("%02x:%02x:%02x", m[0], m[1], m[2])
	}, nil
}
