package capture

import (
	"fmt"
	"sort"
	"strings"
)

// Style selects how field values are written.
type Style uint8

const (
	// StyleClassic writes values the way tshark 3.x did and existing
	// consumers parse them: type_subtype in decimal, SSIDs and WPS device
	// names as text, vendor data as colon-separated hex.
	StyleClassic Style = iota
	// StyleTshark writes values byte for byte as tshark 4.0 -T ek -e does:
	// type_subtype in hex, SSIDs as hex bytes, vendor data as unseparated hex.
	StyleTshark
)

// ParseStyle parses a style name as the --style flag takes it.
func ParseStyle(s string) (Style, error) {
	switch s {
	case "classic":
		return StyleClassic, nil
	case "tshark":
		return StyleTshark, nil
	}
	return 0, fmt.Errorf("invalid style %q: want classic or tshark", s)
}

func (s Style) String() string {
	if s == StyleTshark {
		return "tshark"
	}
	return "classic"
}

// FieldID identifies a field that the decoder can write.
type FieldID uint8

// Fields the decoder writes, by tshark field name.
const (
	FieldFCType FieldID = iota
	FieldFCTypeSubtype
	FieldRadioChannel
	FieldRadioSignalDBm
	FieldRadioDuration
	FieldRA
	FieldRAResolved
	FieldDA
	FieldDAResolved
	FieldTA
	FieldTAResolved
	FieldSA
	FieldSAResolved
	FieldSTAA
	FieldSTAAResolved
	FieldTaggedAll
	FieldVendorData
	FieldVendorOUIType
	FieldTagOUI
	FieldSSID
	FieldCountryCode
	FieldWPSDeviceName
	FieldBSSID
	FieldBSSIDResolved
	FieldRadioFrequency
	FieldFCSStatus
	FieldFCS
	FieldRadioPHY
	FieldRadioDataRate
	FieldRadioNoiseDBm
	FieldRadioTimestamp
	FieldRadiotapAntSignal
	FieldFCSubtype
	FieldFCDS
	FieldFCProtected
	FieldFCRetry
	FieldFrameLen
	FieldFrameCapLen
	FieldFrameTimeEpoch
	FieldMalformed
	FieldSeq
	FieldFrag
	FieldTagNumber
	FieldTagLength
	FieldExtTagNumber
	FieldSupportedRates
	FieldExtendedRates
	FieldHTCapabilities
	FieldHTAMPDUParam
	FieldExtCap
	fieldCount
)

// fieldNames maps each field to its tshark name.
var fieldNames = [fieldCount]string{
	FieldFCType:            "wlan.fc.type",
	FieldFCTypeSubtype:     "wlan.fc.type_subtype",
	FieldRadioChannel:      "wlan_radio.channel",
	FieldRadioSignalDBm:    "wlan_radio.signal_dbm",
	FieldRadioDuration:     "wlan_radio.duration",
	FieldRA:                "wlan.ra",
	FieldRAResolved:        "wlan.ra_resolved",
	FieldDA:                "wlan.da",
	FieldDAResolved:        "wlan.da_resolved",
	FieldTA:                "wlan.ta",
	FieldTAResolved:        "wlan.ta_resolved",
	FieldSA:                "wlan.sa",
	FieldSAResolved:        "wlan.sa_resolved",
	FieldSTAA:              "wlan.staa",
	FieldSTAAResolved:      "wlan.staa_resolved",
	FieldTaggedAll:         "wlan.tagged.all",
	FieldVendorData:        "wlan.tag.vendor.data",
	FieldVendorOUIType:     "wlan.tag.vendor.oui.type",
	FieldTagOUI:            "wlan.tag.oui",
	FieldSSID:              "wlan.ssid",
	FieldCountryCode:       "wlan.country_info.code",
	FieldWPSDeviceName:     "wps.device_name",
	FieldBSSID:             "wlan.bssid",
	FieldBSSIDResolved:     "wlan.bssid_resolved",
	FieldRadioFrequency:    "wlan_radio.frequency",
	FieldFCSStatus:         "wlan.fcs.status",
	FieldFCS:               "wlan.fcs",
	FieldRadioPHY:          "wlan_radio.phy",
	FieldRadioDataRate:     "wlan_radio.data_rate",
	FieldRadioNoiseDBm:     "wlan_radio.noise_dbm",
	FieldRadioTimestamp:    "wlan_radio.timestamp",
	FieldRadiotapAntSignal: "radiotap.dbm_antsignal",
	FieldFCSubtype:         "wlan.fc.subtype",
	FieldFCDS:              "wlan.fc.ds",
	FieldFCProtected:       "wlan.fc.protected",
	FieldFCRetry:           "wlan.fc.retry",
	FieldFrameLen:          "frame.len",
	FieldFrameCapLen:       "frame.cap_len",
	FieldFrameTimeEpoch:    "frame.time_epoch",
	FieldMalformed:         "_ws.malformed",
	FieldSeq:               "wlan.seq",
	FieldFrag:              "wlan.frag",
	FieldTagNumber:         "wlan.tag.number",
	FieldTagLength:         "wlan.tag.length",
	FieldExtTagNumber:      "wlan.ext_tag.number",
	FieldSupportedRates:    "wlan.supported_rates",
	FieldExtendedRates:     "wlan.extended_supported_rates",
	FieldHTCapabilities:    "wlan.ht.capabilities",
	FieldHTAMPDUParam:      "wlan.ht.ampduparam",
	FieldExtCap:            "wlan.extcap",
}

// DefaultFields is the field list of the capture wifiq replaces.
var DefaultFields = []FieldID{
	FieldFCType, FieldFCTypeSubtype, FieldRadioChannel, FieldRadioSignalDBm, FieldRadioDuration,
	FieldRA, FieldRAResolved, FieldDA, FieldDAResolved, FieldTA, FieldTAResolved,
	FieldSA, FieldSAResolved, FieldSTAA, FieldSTAAResolved, FieldTaggedAll,
	FieldVendorData, FieldVendorOUIType, FieldTagOUI, FieldSSID, FieldCountryCode, FieldWPSDeviceName,
}

// Name returns the tshark name of the field ("wlan.fc.type").
func (id FieldID) Name() string { return fieldNames[id] }

// Key returns the record key of the field: its name with dots replaced by
// underscores, as tshark -T ek writes it.
func (id FieldID) Key() string { return strings.ReplaceAll(fieldNames[id], ".", "_") }

var fieldsByName = func() map[string]FieldID {
	m := make(map[string]FieldID, fieldCount)
	for id, name := range fieldNames {
		m[name] = FieldID(id)
	}
	return m
}()

// FieldNames returns the names of all fields the decoder writes, sorted.
func FieldNames() []string {
	names := make([]string, 0, fieldCount)
	for _, name := range fieldNames {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ParseFields parses a comma-separated list of tshark field names, or the
// word "default" for DefaultFields. Record keys (wlan_fc_type) are accepted
// too.
func ParseFields(list string) ([]FieldID, error) {
	var ids []FieldID
	seen := map[FieldID]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == "default" {
			for _, id := range DefaultFields {
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
			continue
		}
		id, ok := fieldsByName[name]
		if !ok {
			id, ok = fieldByKey(name)
		}
		if !ok {
			return nil, fmt.Errorf("unknown field %q; wifiq writes these fields: %s", name, strings.Join(FieldNames(), ", "))
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("empty field list: name at least one field, or use \"default\"")
	}
	return ids, nil
}

func fieldByKey(key string) (FieldID, bool) {
	for id := FieldID(0); id < fieldCount; id++ {
		if id.Key() == key {
			return id, true
		}
	}
	return 0, false
}
