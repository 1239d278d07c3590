package ops

import (
	"fmt"
	"strings"
	"time"

	"github.com/wifiq/wifiq/record"
)

// Signature is the part of a probe request that fingerprints the model of
// the device that sent it. Devices that randomise their address still send
// the same information elements, so the probes of one phone share a
// signature while its address changes.
type Signature struct {
	Name        string
	Description string
	// Exprs are the signature's columns: the GROUP BY of the fingerprint.
	Exprs []Expr
	// Fields are record fields, beyond the default ones, that the
	// signature reads. A record without them gets the signature of the
	// fields it has.
	Fields []string
}

// elementFields are the tshark fields of the elements signature: the
// element IDs in frame order and the capabilities that tell chipsets and
// drivers apart.
var elementFields = []string{
	"wlan_tag_number", "wlan_ext_tag_number", "wlan_supported_rates", "wlan_extended_supported_rates",
	"wlan_ht_capabilities", "wlan_ht_ampduparam", "wlan_vht_capabilities", "wlan_extcap", "wlan_ext_tag_he_mac_caps",
}

// vendorExprs group by the vendor specific elements, as the ksqlDB
// fingerprint query that FingerprintQuery restates does.
func vendorExprs() []Expr {
	return []Expr{VendorData(), FieldValues("wlan_tag_vendor_oui_type").As("vendor_oui_types"), FieldValues("wlan_tag_oui").As("vendor_ouis")}
}

// Signatures lists the signatures `wifiq fingerprint --signature` offers,
// the default first.
func Signatures() []Signature {
	wps := Field("wps_device_name").As("wps_device_name")
	elements := []Expr{ElementLengths()}
	for _, f := range elementFields {
		elements = append(elements, FieldValues(f))
	}
	return []Signature{
		{
			Name:        "vendor",
			Description: "the vendor specific elements: their data, OUI types and OUIs (wlan.tag.vendor.data, wlan.tag.vendor.oui.type, wlan.tag.oui)",
			Exprs:       vendorExprs(),
		},
		{
			Name:        "vendor-wps",
			Description: "vendor, and the WPS device name (wps.device_name), which some phones and laptops send with their model name",
			Exprs:       append(vendorExprs(), wps),
		},
		{
			Name: "length",
			Description: "vendor-wps, and the frame length less the SSID (frame.len: decode with replay-pcap -e default,frame.len), " +
				"which differs with the set of elements; it assumes one capture interface, whose radio header has one length",
			Exprs:  append(append(vendorExprs(), wps), LengthWithoutSSID()),
			Fields: []string{"frame_len"},
		},
		{
			Name: "elements",
			Description: "vendor-wps, the element IDs in frame order with their lengths (the SSID's left out), the supported rates, " +
				"HT, VHT and HE capabilities and extended capabilities; wifiq's decoder does not write these fields yet, " +
				"tshark -T ek -e wlan.tag.number -e wlan.tag.length -e wlan.supported_rates ... does",
			Exprs:  append(append(vendorExprs(), wps), elements...),
			Fields: append([]string{"wlan_tag_length"}, elementFields...),
		},
	}
}

// SignatureByName returns the signature called name.
func SignatureByName(name string) (Signature, error) {
	var names []string
	for _, s := range Signatures() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Signature{}, fmt.Errorf("unknown signature %q: want one of %s", name, strings.Join(names, ", "))
}

// HasFields reports whether rec carries any of the signature's extra
// fields, or the signature needs none.
func (s Signature) HasFields(rec *record.Record) bool {
	if len(s.Fields) == 0 {
		return true
	}
	for _, f := range s.Fields {
		if len(rec.Get(f)) > 0 {
			return true
		}
	}
	return false
}

// LengthWithoutSSID is frame.len less the bytes of the frame's SSIDs: a
// device sends the same elements in a wildcard and a directed probe, so
// this stays the same while the SSID changes.
func LengthWithoutSSID() Expr {
	return Expr{Name: "length_without_ssid", Kind: KindInt, id: "LengthWithoutSSID()", eval: func(rec *record.Record, _ *[]string) Value {
		n := parseInt(rec, "frame_len")
		if n.IsNull() {
			return Null
		}
		for _, v := range rec.Get("wlan_ssid") {
			n.Int -= int64(len(record.DecodeSSID(v, rec.Style)))
		}
		return n
	}}
}

// ElementLengths pairs wlan.tag.number with wlan.tag.length as "ID/length"
// in frame order, with the SSID element's length left out because it
// changes from probe to probe. NULL when either field is missing or they
// do not line up.
func ElementLengths() Expr {
	return Expr{Name: "element_lengths", Kind: KindList, id: "ElementLengths()", eval: func(rec *record.Record, scratch *[]string) Value {
		ids, lengths := rec.Get("wlan_tag_number"), rec.Get("wlan_tag_length")
		if len(ids) == 0 || len(ids) != len(lengths) {
			return Null
		}
		start := len(*scratch)
		for i, id := range ids {
			if id == "0" {
				*scratch = append(*scratch, "0")
				continue
			}
			*scratch = append(*scratch, id+"/"+lengths[i])
		}
		return ListValue((*scratch)[start:len(*scratch):len(*scratch)])
	}}
}

// DefaultSessionGap is the fingerprint's session gap, as in the article's
// ksqlDB query: WINDOW SESSION (5 MINUTES).
const DefaultSessionGap = 5 * time.Minute

// FingerprintQuery groups probe requests by signature into session windows
// with the given gap, and keeps the sessions that saw at least minMACs
// distinct source addresses: one device model, probing with changing
// addresses, or several devices of one model. In ksqlDB, for the vendor
// signature:
//
//	SELECT wlan_tag_vendor_data, wlan_tag_vendor_oui_type, wlan_tag_oui,
//	  COUNT(*), COUNT_DISTINCT(wlan_sa[1]), COLLECT_SET(wlan_sa[1]), MIN(ROWTIME), MAX(ROWTIME),
//	  MIN(signal_dbm), MAX(signal_dbm), HISTOGRAM(CAST(signal_dbm AS STRING))
//	FROM probes WINDOW SESSION (5 MINUTES)
//	GROUP BY wlan_tag_vendor_data, wlan_tag_vendor_oui_type, wlan_tag_oui
//	HAVING COUNT_DISTINCT(wlan_sa[1]) > 2
func FingerprintQuery(sig Signature, gap time.Duration, minMACs int64) Query {
	return Query{
		Where:   IsProbeRequest,
		GroupBy: sig.Exprs,
		Window:  Session{Gap: gap},
		Aggregates: []Aggregate{
			{Name: "probes", Func: Count},
			{Name: "macs", Func: CountDistinct, Arg: SourceAddress()},
			{Name: "mac_list", Func: CollectSet, Arg: SourceAddress()},
			{Name: "first", Func: Min, Arg: EventTime()},
			{Name: "last", Func: Max, Arg: EventTime()},
			{Name: "min_dbm", Func: Min, Arg: SignalDBm()},
			{Name: "max_dbm", Func: Max, Arg: SignalDBm()},
			{Name: "dbm_histogram", Func: Histogram, Arg: SignalDBm()},
		},
		Having: func(r Row) bool { return r.Get("macs").Int >= minMACs },
	}
}
