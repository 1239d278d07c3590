package capture

import "encoding/binary"

// Frame types (IEEE 802.11-2020 9.2.4.1.3).
const (
	TypeManagement = 0
	TypeControl    = 1
	TypeData       = 2
	TypeExtension  = 3
)

// Frame control flags (second octet).
const (
	flagToDS      = 0x01
	flagFromDS    = 0x02
	flagProtected = 0x40
	flagOrder     = 0x80
)

// Control frame subtypes that matter for address roles.
const (
	subtypeTrigger         = 2
	subtypeTACK            = 3
	subtypeBeamformingPoll = 4
	subtypeNDPA            = 5
	subtypeControlExt      = 6
	subtypeControlWrapper  = 7
	subtypeBlockAckReq     = 8
	subtypeBlockAck        = 9
	subtypePSPoll          = 10
	subtypeRTS             = 11
	subtypeCFEnd           = 14
	subtypeCFEndAck        = 15
)

// Management subtypes with information elements after fixed fields.
const (
	subtypeAssocRequest   = 0
	subtypeAssocResponse  = 1
	subtypeReassocRequest = 2
	subtypeReassocResp    = 3
	subtypeProbeRequest   = 4
	subtypeProbeResponse  = 5
	subtypeTimingAdvert   = 6
	subtypeBeacon         = 8
	subtypeATIM           = 9
	subtypeDisassoc       = 10
	subtypeAuth           = 11
	subtypeDeauth         = 12
	subtypeAction         = 13
	subtypeActionNoAck    = 14
)

// mgmtFixedLength is the length of the fixed fields before the information
// elements of each management subtype, or -1 when the subtype carries no
// element list that tshark walks generically.
var mgmtFixedLength = [16]int{
	subtypeAssocRequest:   4,
	subtypeAssocResponse:  6,
	subtypeReassocRequest: 10,
	subtypeReassocResp:    6,
	subtypeProbeRequest:   0,
	subtypeProbeResponse:  12,
	subtypeTimingAdvert:   10,
	7:                     -1,
	subtypeBeacon:         12,
	subtypeATIM:           -1,
	subtypeDisassoc:       2,
	subtypeAuth:           6,
	subtypeDeauth:         2,
	subtypeAction:         -1,
	subtypeActionNoAck:    -1,
	15:                    -1,
}

// bounds emulates tshark's two kinds of short reads: past the bytes captured
// but within the frame length (the capture was cut by its snap length) or
// past the frame length itself (the frame is malformed).
type bounds struct {
	captured int // bytes available
	reported int // bytes the frame has on the air
}

// fail records a read that needed bytes up to end and found fewer.
func (f *Frame) fail(b bounds, end int) {
	if end > b.reported {
		f.Malformed = true
	} else {
		f.Short = true
	}
}

func (f *Frame) addTypeSubtype(typ, subtype, fc1 uint8) {
	ts := uint16(typ)<<4 | uint16(subtype)
	if typ == TypeControl && subtype == subtypeControlExt {
		ts = uint16(typ)<<8 | uint16(subtype)<<4 | uint16(fc1&0x0f)
	}
	f.Types = append(f.Types, typ)
	f.TypeSubtypes = append(f.TypeSubtypes, ts)
}

// decodeMAC decodes an 802.11 MAC frame (without FCS). reported is the length
// the frame had on the air, which can exceed len(data) when the capture was
// cut short by the snap length.
func (f *Frame) decodeMAC(data []byte, reported int, dataPad bool) {
	b := bounds{captured: len(data), reported: reported}
	if len(data) < 2 {
		f.fail(b, 2)
		return
	}
	fc0, fc1 := data[0], data[1]
	f.HasFrameControl = true
	f.ProtocolVersion = fc0 & 0x03
	f.Type = (fc0 >> 2) & 0x03
	f.Subtype = fc0 >> 4
	f.Flags = fc1

	if f.ProtocolVersion != 0 {
		f.decodePV1(data, b)
		return
	}
	switch f.Type {
	case TypeManagement:
		f.decodeManagement(data, b)
	case TypeControl:
		f.decodeControl(data, b)
	case TypeData:
		f.decodeData(data, b, dataPad)
	case TypeExtension:
		f.decodeExtension(data, b)
	}
}

// need reports whether data holds end bytes, and records a failed read if not.
func (f *Frame) need(data []byte, b bounds, end int) bool {
	if len(data) >= end {
		return true
	}
	f.fail(b, end)
	return false
}

func (f *Frame) decodeManagement(data []byte, b bounds) {
	f.addTypeSubtype(f.Type, f.Subtype, f.Flags)
	if !f.need(data, b, 10) {
		return
	}
	f.addAddress(RoleRA, data[4:10])
	headerLen := 24
	if f.Flags&flagOrder != 0 {
		headerLen = 28
	}
	if !f.need(data, b, 24) {
		return
	}
	f.addAddress(RoleDA, data[4:10])
	f.addAddress(RoleTA, data[10:16])
	f.addAddress(RoleSA, data[10:16])
	f.addAddress(RoleBSSID, data[16:22])
	f.setSequence(data[22:24])
	// tshark names a station address in management frames too when exactly
	// one of To DS and From DS is set.
	switch f.Flags & (flagToDS | flagFromDS) {
	case flagToDS:
		f.addAddress(RoleSTA, data[10:16])
	case flagFromDS:
		f.addAddress(RoleSTA, data[4:10])
	}
	if !f.need(data, b, headerLen) {
		return
	}
	if f.Flags&flagProtected != 0 {
		return
	}
	body := data[headerLen:]
	bodyBounds := bounds{captured: len(body), reported: b.reported - headerLen}
	switch f.Subtype {
	case subtypeAction, subtypeActionNoAck:
		f.decodeAction(body, bodyBounds)
		return
	case subtypeAuth:
		f.decodeAuth(body, bodyBounds)
		return
	}
	fixed := mgmtFixedLength[f.Subtype]
	if fixed < 0 {
		return
	}
	if !f.need(body, bodyBounds, fixed) {
		return
	}
	elements := body[fixed:]
	elementBounds := bounds{captured: len(body) - fixed, reported: bodyBounds.reported - fixed}
	switch f.Subtype {
	case subtypeProbeRequest:
		// tshark always adds a tagged parameter list to a probe request,
		// even an empty one.
		f.TaggedParameters++
		f.decodeElements(elements, elementBounds)
	case subtypeAssocRequest, subtypeAssocResponse, subtypeReassocRequest, subtypeReassocResp,
		subtypeProbeResponse, subtypeTimingAdvert, subtypeBeacon:
		// These subtypes must carry elements: tshark reads the first element
		// header even when there is none.
		if elementBounds.reported <= 0 {
			f.fail(elementBounds, 1)
			return
		}
		f.decodeTaggedParameters(elements, elementBounds)
	default:
		f.decodeTaggedParameters(elements, elementBounds)
	}
}

// decodeTaggedParameters walks an element list that follows fixed fields, if
// any bytes follow them. tshark reads the first element header before it adds
// the list, so a list cut off before its first byte is not reported.
func (f *Frame) decodeTaggedParameters(elements []byte, b bounds) {
	if b.reported <= 0 {
		return
	}
	if len(elements) == 0 {
		f.fail(b, 1)
		return
	}
	f.TaggedParameters++
	f.decodeElements(elements, b)
}

func (f *Frame) decodeControl(data []byte, b bounds) {
	if f.Subtype == subtypeControlWrapper {
		f.decodeControlWrapper(data, b)
		return
	}
	f.addTypeSubtype(f.Type, f.Subtype, f.Flags)
	if !f.need(data, b, 10) {
		return
	}
	f.addAddress(RoleRA, data[4:10])
	f.addControlAddresses(f.Subtype, data, b, 10)
	if end := controlBodyEnd(f.Subtype, data); end > 0 {
		f.need(data, b, end)
	}
}

// controlBodyEnd returns the length a control frame needs for the fixed
// fields tshark reads, or 0 when it does not check.
func controlBodyEnd(subtype uint8, data []byte) int {
	switch subtype {
	case subtypeControlExt:
		// DMG control frame extensions (IEEE 802.11-2020 9.3.1.11-19).
		switch data[1] & 0x0f {
		case 2: // Poll: response offset
			return 18
		case 3, 4, 7: // SPR, Grant, Grant Ack
			return 23
		case 8: // SSW
			return 22
		case 9, 10: // SSW-Feedback, SSW-Ack
			return 24
		}
	case subtypeBeamformingPoll:
		return 17
	case subtypeNDPA:
		return 19
	case subtypeBlockAckReq:
		return 20
	case subtypeBlockAck:
		if len(data) < 18 {
			return 18
		}
		switch (binary.LittleEndian.Uint16(data[16:]) >> 1) & 0x0f {
		case 0: // basic: starting sequence control and a 128-byte bitmap
			return 20 + 128
		case 2: // compressed: an 8-byte bitmap
			return 20 + 8
		}
	}
	return 0
}

// addControlAddresses adds the roles of the second address of a control
// frame, which starts at offset addr2 (10, or 16 in a control wrapper).
func (f *Frame) addControlAddresses(subtype uint8, data []byte, b bounds, addr2 int) {
	switch subtype {
	case subtypePSPoll:
		f.addAddress(RoleBSSID, data[4:10])
		if f.need(data, b, addr2+6) {
			f.addAddress(RoleTA, data[addr2:addr2+6])
		}
	case subtypeCFEnd:
		if f.need(data, b, addr2+6) {
			f.addAddress(RoleBSSID, data[addr2:addr2+6])
		}
	case subtypeTrigger, subtypeTACK, subtypeBeamformingPoll, subtypeNDPA, subtypeControlExt,
		subtypeBlockAckReq, subtypeBlockAck, subtypeRTS, subtypeCFEndAck:
		if f.need(data, b, addr2+6) {
			f.addAddress(RoleTA, data[addr2:addr2+6])
		}
	}
}

// decodeControlWrapper decodes a Control Wrapper frame: frame control,
// duration, address 1, the carried frame's frame control, an HT Control field
// and the rest of the carried control frame.
func (f *Frame) decodeControlWrapper(data []byte, b bounds) {
	if !f.need(data, b, 12) {
		return
	}
	f.addTypeSubtype(f.Type, f.Subtype, f.Flags)
	carried0, carried1 := data[10], data[11]
	carriedType := (carried0 >> 2) & 0x03
	carriedSubtype := carried0 >> 4
	f.addTypeSubtype(carriedType, carriedSubtype, carried1)
	f.addAddress(RoleRA, data[4:10])
	if carriedType == TypeControl {
		f.addControlAddresses(carriedSubtype, data, b, 16)
	}
}

// dataHeaderLength returns the length of a data frame's MAC header.
func dataHeaderLength(subtype, flags uint8) int {
	n := 24
	if flags&(flagToDS|flagFromDS) == flagToDS|flagFromDS {
		n += 6
	}
	if subtype&0x08 != 0 {
		n += 2
		if flags&flagOrder != 0 {
			n += 4
		}
	}
	return n
}

// setSequence reads a Sequence Control field.
func (f *Frame) setSequence(field []byte) {
	control := binary.LittleEndian.Uint16(field)
	f.HasSequence, f.Sequence, f.Fragment = true, control>>4, uint8(control&0x0f)
}

func (f *Frame) decodeData(data []byte, b bounds, dataPad bool) {
	headerLen := dataHeaderLength(f.Subtype, f.Flags)
	qos := f.Subtype&0x08 != 0
	qosEnd := 26
	if f.Flags&(flagToDS|flagFromDS) == flagToDS|flagFromDS {
		qosEnd = 32
	}
	if qos && !f.need(data, b, qosEnd) {
		// tshark reads the QoS Control field before it adds any field.
		return
	}
	f.addTypeSubtype(f.Type, f.Subtype, f.Flags)
	if !f.need(data, b, 10) {
		return
	}
	f.addAddress(RoleRA, data[4:10])
	addrEnd := 24
	fourAddress := f.Flags&(flagToDS|flagFromDS) == flagToDS|flagFromDS
	if fourAddress {
		addrEnd = 30
	}
	if !f.need(data, b, addrEnd) {
		return
	}
	f.setSequence(data[22:24])
	// In an A-MSDU the source and destination travel in each subframe, so
	// the header address that would carry them is not reported as such.
	amsdu := qos && data[qosEnd-2]&0x80 != 0
	a1, a2, a3 := data[4:10], data[10:16], data[16:22]
	switch f.Flags & (flagToDS | flagFromDS) {
	case 0:
		f.addAddress(RoleDA, a1)
		f.addAddress(RoleTA, a2)
		f.addAddress(RoleSA, a2)
		f.addAddress(RoleBSSID, a3)
	case flagToDS:
		f.addAddress(RoleBSSID, a1)
		f.addAddress(RoleTA, a2)
		f.addAddress(RoleSA, a2)
		f.addAddress(RoleSTA, a2)
		if !amsdu {
			f.addAddress(RoleDA, a3)
		}
	case flagFromDS:
		f.addAddress(RoleDA, a1)
		f.addAddress(RoleTA, a2)
		f.addAddress(RoleBSSID, a2)
		f.addAddress(RoleSTA, a1)
		if !amsdu {
			f.addAddress(RoleSA, a3)
		}
	default:
		f.addAddress(RoleTA, a2)
		if amsdu {
			f.addAddress(RoleBSSID, a3)
			f.addAddress(RoleBSSID, data[24:30])
		} else {
			f.addAddress(RoleDA, a3)
			f.addAddress(RoleSA, data[24:30])
		}
	}
	if !f.need(data, b, headerLen) {
		return
	}
	if f.Flags&flagProtected != 0 || f.Subtype&0x04 != 0 {
		// Encrypted payload, or a subtype without a frame body (null data).
		return
	}
	bodyStart := headerLen
	if dataPad {
		bodyStart = (headerLen + 3) &^ 3
	}
	if bodyStart > len(data) {
		f.fail(b, bodyStart)
		return
	}
	body := data[bodyStart:]
	bodyBounds := bounds{captured: len(body), reported: b.reported - bodyStart}
	if !f.need(body, bodyBounds, 3) {
		// The LLC header (DSAP, SSAP, control) is missing.
		return
	}
	if body[0] == 0xaa && body[1] == 0xaa && body[2] == 0x03 && !f.need(body, bodyBounds, 8) {
		// The SNAP header (OUI and EtherType) is missing.
		return
	}
	if amsdu {
		f.decodeAMSDU(body, bodyBounds)
		return
	}
	f.decodeLLC(body, bodyBounds)
}

func (f *Frame) decodeExtension(data []byte, b bounds) {
	f.addTypeSubtype(f.Type, f.Subtype, f.Flags)
	if !f.need(data, b, 10) {
		return
	}
	switch f.Subtype {
	case 0: // DMG Beacon: BSSID, then 20 bytes of fixed fields.
		f.addAddress(RoleRA, data[4:10])
		f.addAddress(RoleBSSID, data[4:10])
		if f.need(data, b, 30) {
			f.decodeTaggedParameters(data[30:], bounds{captured: len(data) - 30, reported: b.reported - 30})
		}
	case 1: // S1G Beacon: source address, timestamp (4), change sequence (1).
		f.addAddress(RoleRA, data[4:10])
		f.addAddress(RoleSA, data[4:10])
		// tshark gives this source address no resolved name.
		f.unresolvedSA = true
		if f.need(data, b, 15) {
			f.decodeTaggedParameters(data[15:], bounds{captured: len(data) - 15, reported: b.reported - 15})
		}
	default:
		f.addAddress(RoleRA, data[4:10])
	}
}

// decodePV1 decodes the little of a protocol version 1 (802.11ah short) frame
// header that tshark 4.0 reports: the type and, without the From DS bit, the
// receiver (address 1 at offset 2) and destination (address 3 at offset 12,
// after the 2-byte address 2 and sequence control).
//
// NOTE: with the From DS bit set tshark 4.0 reports other addresses; wifiq
// reports none. 802.11ah frames are not seen in 2.4/5/6 GHz captures.
func (f *Frame) decodePV1(data []byte, b bounds) {
	f.Types = append(f.Types, f.Type)
	if f.Flags&flagToDS != 0 {
		return
	}
	if f.need(data, b, 8) {
		f.addAddress(RoleRA, data[2:8])
	}
	if f.need(data, b, 18) {
		f.addAddress(RoleDA, data[12:18])
	}
}

// decodeAMSDU walks the subframes of an A-MSDU: destination (6), source (6),
// length (2, big-endian), an LLC payload of that length and padding to a
// multiple of 4 bytes before the next subframe.
func (f *Frame) decodeAMSDU(body []byte, b bounds) {
	offset := 0
	for offset < b.reported {
		if !f.need(body, b, offset+14) {
			return
		}
		f.addAddress(RoleDA, body[offset:offset+6])
		f.addAddress(RoleSA, body[offset+6:offset+12])
		length := int(binary.BigEndian.Uint16(body[offset+12:]))
		end := offset + 14 + length
		if !f.need(body, b, end) {
			return
		}
		f.decodeLLC(body[offset+14:end], bounds{captured: length, reported: length})
		offset = (end + 3) &^ 3
	}
}
