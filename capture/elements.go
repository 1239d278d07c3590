package capture

import "encoding/binary"

// Information element IDs (IEEE 802.11-2020 9.4.2.1).
const (
	elementSSID            = 0
	elementSupportedRates  = 1
	elementCountry         = 7
	elementHTCapabilities  = 45
	elementExtendedRates   = 50
	elementExtCapabilities = 127
	elementRSN             = 48
	elementMultipleBSSID   = 71
	elementSSIDList        = 84
	elementVendor          = 221
	elementExtension       = 255
)

// Action categories and the public action code whose body starts with an OUI.
const (
	actionPublic         = 4
	actionProtectedDual  = 9
	actionVendorSpecific = 9
)

// Well-known OUIs.
const (
	ouiMicrosoft = 0x0050f2
	ouiWPSType   = 4
)

// vendorDissectedOUIs lists the OUIs that tshark 4.0.17 decodes with a
// dissector of its own, so that it reports no wlan.tag.vendor.data for their
// vendor elements. It was measured by handing tshark a vendor element with
// each registered OUI.
var vendorDissectedOUIs = map[uint32]bool{
	0x00037f: true, // Atheros
	0x000512: true,
	0x00090f: true, // Fortinet
	0x000b86: true, // Aruba
	0x000c42: true, // MikroTik
	0x000ce6: true, // Meru
	0x000fac: true, // IEEE 802.11 (RSN)
	0x001392: true, // Ruckus
	0x001977: true,
	0x001f32: true, // Nintendo
	0x004096: true, // Cisco Aironet
	0x005043: true, // Marvell
	0x0050f2: true, // Microsoft (WPA, WMM, WPS)
	0x00904c: true, // Epigram (pre-standard HT)
	0x00a0f8: true, // Zebra
	0x506f9a: true, // Wi-Fi Alliance
	0x5c5b35: true, // Mist
	0x6a5c35: true,
}

// decodeElements walks a list of information elements. tshark decodes only
// the first SSID element of a list (later ones stay undecoded), so the walk
// tracks that; a nested list, such as a nontransmitted BSSID profile, starts
// afresh.
func (f *Frame) decodeElements(data []byte, b bounds) {
	f.ssidSeen = false
	offset := 0
	for offset < b.reported {
		if offset+2 > len(data) {
			f.fail(b, offset+2)
			return
		}
		id, length := data[offset], int(data[offset+1])
		start, end := offset+2, offset+2+int(length)
		if end > len(data) {
			// The element claims more bytes than were captured (or than the
			// frame has): tshark decodes the part that is there, then stops.
			f.decodeElement(id, data[start:], length)
			f.fail(b, end)
			return
		}
		f.decodeElement(id, data[start:end], length)
		offset = end
	}
}

// decodeElement decodes one element whose declared length is length; body
// is shorter than that when the capture cut the element off.
func (f *Frame) decodeElement(id uint8, body []byte, length int) {
	complete := len(body) == length
	f.TagNumbers = append(f.TagNumbers, id)
	if id != elementExtension {
		// tshark gives an extension element an extension length instead.
		f.TagLengths = append(f.TagLengths, length)
	}
	switch id {
	case elementSupportedRates:
		f.SupportedRates = append(f.SupportedRates, body...)
	case elementExtendedRates:
		f.ExtendedRates = append(f.ExtendedRates, body...)
	case elementExtCapabilities:
		f.ExtCapabilities = append(f.ExtCapabilities, body)
	case elementHTCapabilities:
		if len(body) >= 2 {
			f.HTCapabilities = append(f.HTCapabilities, binary.LittleEndian.Uint16(body))
		}
		if len(body) >= 3 {
			f.HTAMPDUParams = append(f.HTAMPDUParams, body[2])
		}
	case elementExtension:
		if len(body) >= 1 {
			f.ExtTagNumbers = append(f.ExtTagNumbers, body[0])
		}
	}
	switch id {
	case elementSSID:
		if f.ssidSeen {
			return
		}
		f.ssidSeen = true
		if length > 32 {
			f.Malformed = true
		}
		if complete {
			f.SSIDs = append(f.SSIDs, body)
		}
	case elementCountry:
		if length < 6 {
			f.Malformed = true
			return
		}
		if len(body) >= 2 {
			f.Countries = append(f.Countries, body[:2])
		}
	case elementMultipleBSSID:
		if complete {
			f.decodeMultipleBSSID(body)
		}
	case elementSSIDList:
		if complete {
			f.decodeSSIDList(body)
		}
	case elementRSN:
		if lengths := elementMalformedLengths[id]; complete && lengths != nil && lengths.has(length) {
			f.Malformed = true
		}
		if complete && rsnCountsTooLarge(body) {
			f.Malformed = true
		}
	case elementVendor:
		f.decodeVendor(body, length)
	case elementExtension:
		if length == 0 {
			f.Malformed = true
			return
		}
		if complete {
			if lengths := extensionMalformedLengths[body[0]]; lengths != nil && lengths.has(length-1) {
				f.Malformed = true
			}
		}
	default:
		if lengths := elementMalformedLengths[id]; complete && lengths != nil && lengths.has(length) {
			f.Malformed = true
		}
	}
}

// rsnCountsTooLarge reports whether an RSN element's pairwise cipher suite
// count or AKM suite count promises more 4-byte suites than the element has
// room for, which tshark marks as malformed (IEEE 802.11-2020 9.4.2.24).
func rsnCountsTooLarge(body []byte) bool {
	const suitesStart = 2 + 4 + 2 // version, group cipher suite, pairwise count
	if len(body) < suitesStart {
		return false
	}
	pairwise := int(binary.LittleEndian.Uint16(body[6:8]))
	if 4*pairwise > len(body)-suitesStart {
		return true
	}
	offset := suitesStart + 4*pairwise
	if offset+2 > len(body) {
		return false
	}
	akm := int(binary.LittleEndian.Uint16(body[offset : offset+2]))
	return 4*akm > len(body)-offset-2
}

// decodeMultipleBSSID walks the subelements of a Multiple BSSID element: a
// MaxBSSID Indicator octet, then subelements whose ID 0 (Nontransmitted BSSID
// Profile) holds a list of elements of its own.
func (f *Frame) decodeMultipleBSSID(body []byte) {
	if len(body) < 1 {
		f.Malformed = true
		return
	}
	offset := 1
	for offset < len(body) {
		if offset+2 > len(body) {
			f.Malformed = true
			return
		}
		id, length := body[offset], int(body[offset+1])
		end := offset + 2 + length
		if end > len(body) {
			f.Malformed = true
			return
		}
		if id == 0 {
			profile := body[offset+2 : end]
			f.decodeElements(profile, bounds{captured: len(profile), reported: len(profile)})
		}
		offset = end
	}
}

// decodeSSIDList reports every SSID element inside an SSID List element.
func (f *Frame) decodeSSIDList(body []byte) {
	offset := 0
	for offset < len(body) {
		if offset+2 > len(body) {
			f.Malformed = true
			return
		}
		length := int(body[offset+1])
		end := offset + 2 + length
		if end > len(body) {
			f.Malformed = true
			return
		}
		f.SSIDs = append(f.SSIDs, body[offset+2:end])
		// tshark lists the SSIDs of the list as elements.
		f.TagNumbers = append(f.TagNumbers, elementSSID)
		f.TagLengths = append(f.TagLengths, length)
		offset = end
	}
}

// decodeVendor decodes a Vendor Specific element: OUI (3), OUI type (1) and
// vendor data. body may be cut short of length by the capture.
func (f *Frame) decodeVendor(body []byte, length int) {
	if length < 3 {
		f.Malformed = true
		return
	}
	if len(body) < 3 {
		return
	}
	v := VendorElement{OUI: uint32(body[0])<<16 | uint32(body[1])<<8 | uint32(body[2])}
	if length < 4 {
		f.Vendors = append(f.Vendors, v)
		f.Malformed = true
		return
	}
	if len(body) < 4 {
		f.Vendors = append(f.Vendors, v)
		return
	}
	v.HasType, v.Type = true, body[3]
	if !vendorDissectedOUIs[v.OUI] && len(body) == length {
		v.Data = body[3:]
	}
	f.Vendors = append(f.Vendors, v)
	if v.OUI == ouiMicrosoft && v.Type == ouiWPSType {
		f.decodeWPS(body[4:])
	}
}

// WPS attribute types (Wi-Fi Simple Configuration Technical Specification).
const wpsDeviceName = 0x1011

// decodeWPS walks the type-length-value attributes of a Wi-Fi Protected Setup
// element and keeps every Device Name.
func (f *Frame) decodeWPS(data []byte) {
	offset := 0
	for offset < len(data) {
		if offset+4 > len(data) {
			f.Malformed = true
			return
		}
		typ := binary.BigEndian.Uint16(data[offset:])
		length := int(binary.BigEndian.Uint16(data[offset+2:]))
		end := offset + 4 + length
		if end > len(data) {
			f.Malformed = true
			return
		}
		if typ == wpsDeviceName {
			f.WPSDeviceNames = append(f.WPSDeviceNames, data[offset+4:end])
		}
		offset = end
	}
}

// decodeAction decodes the body of an Action frame: the category, the
// action's fixed fields and, for most actions, an element list.
func (f *Frame) decodeAction(body []byte, b bounds) {
	if !f.need(body, b, 1) {
		return
	}
	action := uint8(0)
	if len(body) >= 2 {
		action = body[1]
	}
	offset, ok := actionElementsOffset(body[0], action)
	if !ok {
		return
	}
	category := body[0] & 0x7f
	if (category == actionPublic || category == actionProtectedDual) && action == actionVendorSpecific && len(body) >= 5 {
		// tshark reports the OUI of a vendor-specific public action as
		// wlan.tag.oui.
		f.Vendors = append(f.Vendors, VendorElement{OUI: uint32(body[2])<<16 | uint32(body[3])<<8 | uint32(body[4])})
	}
	if !f.need(body, b, offset) {
		return
	}
	f.decodeTaggedParameters(body[offset:], bounds{captured: len(body) - offset, reported: b.reported - offset})
}

// decodeAuth decodes the body of an Authentication frame: algorithm,
// transaction sequence number, status code, then elements, except for SAE
// (algorithm 3), whose body holds SAE fields first.
func (f *Frame) decodeAuth(body []byte, b bounds) {
	if !f.need(body, b, 6) {
		return
	}
	algorithm := binary.LittleEndian.Uint16(body)
	if algorithm == 3 {
		return
	}
	f.decodeTaggedParameters(body[6:], bounds{captured: len(body) - 6, reported: b.reported - 6})
}
