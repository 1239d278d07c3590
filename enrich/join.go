package enrich

import (
	"time"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/record"
)

// Keys of the enriched record, in order. The wlan_* keys carry the probe
// request's own values; the others are added by the join.
const (
	KeyDeviceName    = "device_name"     // the device's DisplayName; absent when no device matched
	KeyIsKnownDevice = "is_known_device" // "true" when a device matched and is not a guest
	KeyEventTime     = "event_time"      // the timestamp in RFC 3339 UTC with milliseconds
)

// probeKeys are the probe request fields copied into the enriched record,
// in the order of the ksqlDB enrichment's SELECT list.
var probeKeys = []string{
	"wlan_sa", KeyDeviceName, KeyIsKnownDevice, "wlan_sa_resolved", "wlan_da", "wlan_da_resolved",
	"wlan_radio_signal_dbm", "wlan_ssid", "wlan_tag_vendor_data", "wlan_tag_vendor_oui_type", "wlan_tag_oui",
	KeyEventTime,
}

// probeRequest is wlan.fc.type_subtype of a probe request.
const probeRequest = 4

// Joiner left-joins probe requests on their source address to a Table.
// It is for one goroutine at a time; the table may change meanwhile.
type Joiner struct {
	table        *Table
	manufacturer func(capture.MAC) string
	out          record.Record

	Joined  int64 // probe requests written
	Known   int64 // of those, with is_known_device true
	Matched int64 // of those, with a device in the table
	Dropped int64 // records of other subtypes, or without a source address
}

// NewJoiner returns a joiner on table; manufacturer names a device's
// manufacturer for names built from it (see ManufacturerNames).
func NewJoiner(table *Table, manufacturer func(capture.MAC) string) *Joiner {
	return &Joiner{table: table, manufacturer: manufacturer}
}

// Join returns the enriched record of a probe request, or nil for any
// other record, which is counted in Dropped. The result is valid until
// the next call.
func (j *Joiner) Join(rec *record.Record) *record.Record {
	if subtype, ok := rec.TypeSubtype(); !ok || subtype != probeRequest {
		j.Dropped++
		return nil
	}
	sa, ok := rec.First("wlan_sa")
	if !ok {
		j.Dropped++
		return nil
	}

	out := &j.out
	out.Timestamp, out.Style, out.Offset = rec.Timestamp, rec.Style, rec.Offset
	out.Fields = out.Fields[:0]
	device, matched := Device{}, false
	if mac, err := capture.ParseMAC(sa); err == nil {
		device, matched = j.table.Lookup(mac)
	}
	known := matched && !device.IsGuest

	for _, key := range probeKeys {
		switch key {
		case KeyDeviceName:
			if matched {
				out.Fields = append(out.Fields, record.Field{Key: key, Values: []string{device.DisplayName(j.manufacturer)}})
			}
		case KeyIsKnownDevice:
			out.Fields = append(out.Fields, record.Field{Key: key, Values: []string{boolText(known)}})
		case KeyEventTime:
			t := time.UnixMilli(rec.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z")
			out.Fields = append(out.Fields, record.Field{Key: key, Values: []string{t}})
		default:
			if values := rec.Get(key); values != nil {
				out.Fields = append(out.Fields, record.Field{Key: key, Values: values})
			}
		}
	}

	j.Joined++
	if matched {
		j.Matched++
	}
	if known {
		j.Known++
	}
	return out
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
