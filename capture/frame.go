package capture

// MAC is a 48-bit IEEE 802 address.
type MAC [6]byte

// LocallyAdministered reports whether bit 0x02 of the first octet is set, the
// mark of a randomised client address.
func (m MAC) LocallyAdministered() bool { return m[0]&0x02 != 0 }

// Group reports whether the address is a multicast or broadcast address.
func (m MAC) Group() bool { return m[0]&0x01 != 0 }

func (m MAC) uint64() uint64 {
	return uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 | uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5])
}

// Role is the part an address plays in a frame, named as tshark names the
// field that carries it (wlan.ra, wlan.ta, ...).
type Role uint8

// Address roles, in the order tshark's default field list names them.
const (
	RoleRA Role = iota
	RoleDA
	RoleTA
	RoleSA
	RoleSTA
	RoleBSSID
	roleCount
)

// FCSStatus is the value of tshark's wlan.fcs.status field.
type FCSStatus uint8

// FCS status values, numbered as tshark numbers them.
const (
	FCSBad        FCSStatus = 0
	FCSGood       FCSStatus = 1
	FCSUnverified FCSStatus = 2
)

// VendorElement is one Vendor Specific information element (ID 221).
type VendorElement struct {
	OUI     uint32
	HasType bool
	Type    uint8
	// Data is the element body from the OUI type on, or nil when tshark
	// decodes this OUI with a dissector of its own and reports no
	// wlan.tag.vendor.data.
	Data []byte
}

// Frame is one decoded capture record. Decoder reuses a Frame for every
// record it decodes, and its byte slices point into the record data, so a
// Frame is valid only until the next call to Decode.
type Frame struct {
	// Timestamp is the capture time in nanoseconds since the Unix epoch.
	Timestamp int64
	// CaptureLength is the number of bytes captured, Length the number of
	// bytes the frame had on the air (pcap's orig_len).
	CaptureLength, Length int
	LinkType              LinkType

	Radio       Radio
	HasDuration bool
	Duration    int // microseconds of airtime

	// HasFrameControl is true once the two frame control bytes were read.
	HasFrameControl bool
	ProtocolVersion uint8
	Type, Subtype   uint8
	// TypeSubtypes holds wlan.fc.type_subtype, and Types wlan.fc.type: more
	// than one value for a control wrapper, which carries a second frame.
	TypeSubtypes []uint16
	Types        []uint8
	Flags        uint8 // second frame control byte (To DS, From DS, ...)

	addrs [roleCount][]MAC

	HasFCS    bool
	FCS       uint32
	FCSStatus FCSStatus

	// HasSequence is set when the frame has a Sequence Control field:
	// Sequence is its sequence number (wlan.seq), Fragment its fragment
	// number (wlan.frag).
	HasSequence bool
	Sequence    uint16
	Fragment    uint8

	// TaggedParameters counts the tagged parameter lists (wlan.tagged.all).
	TaggedParameters int
	// TagNumbers and TagLengths hold the ID and length of every element,
	// in frame order (wlan.tag.number, wlan.tag.length); ExtTagNumbers the
	// extension ID of every Element ID Extension element.
	TagNumbers    []uint8
	TagLengths    []int
	ExtTagNumbers []uint8
	// SupportedRates and ExtendedRates hold the rate octets of the
	// Supported Rates and Extended Supported Rates elements; ExtCapabilities
	// the bodies of Extended Capabilities elements.
	SupportedRates  []byte
	ExtendedRates   []byte
	ExtCapabilities [][]byte
	// HTCapabilities and HTAMPDUParams hold the HT Capability Information
	// and A-MPDU Parameters of HT Capabilities elements.
	HTCapabilities []uint16
	HTAMPDUParams  []uint8
	SSIDs          [][]byte
	Vendors        []VendorElement
	Countries      [][]byte
	WPSDeviceNames [][]byte

	// Malformed is set when the frame is shorter than its own fields say, or
	// breaks a length rule of the standard (tshark's _ws.malformed).
	Malformed bool
	// Short is set when decoding needed bytes that the capture cut off
	// (snap length), as tshark's _ws.short.
	Short bool

	ssidSeen     bool
	unresolvedSA bool
}

// Addresses returns the addresses the frame carries in a role, in frame order.
func (f *Frame) Addresses(role Role) []MAC { return f.addrs[role] }

func (f *Frame) addAddress(role Role, data []byte) {
	var m MAC
	copy(m[:], data)
	f.addrs[role] = append(f.addrs[role], m)
}

func (f *Frame) reset() {
	radio := f.Radio
	radio.reset()
	*f = Frame{
		Radio:           radio,
		TypeSubtypes:    f.TypeSubtypes[:0],
		Types:           f.Types[:0],
		SSIDs:           f.SSIDs[:0],
		Vendors:         f.Vendors[:0],
		Countries:       f.Countries[:0],
		WPSDeviceNames:  f.WPSDeviceNames[:0],
		TagNumbers:      f.TagNumbers[:0],
		TagLengths:      f.TagLengths[:0],
		ExtTagNumbers:   f.ExtTagNumbers[:0],
		SupportedRates:  f.SupportedRates[:0],
		ExtendedRates:   f.ExtendedRates[:0],
		ExtCapabilities: f.ExtCapabilities[:0],
		HTCapabilities:  f.HTCapabilities[:0],
		HTAMPDUParams:   f.HTAMPDUParams[:0],
		addrs:           f.addrs,
	}
	for i := range f.addrs {
		f.addrs[i] = f.addrs[i][:0]
	}
}
