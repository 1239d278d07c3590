package capture

import (
	"bytes"
	"encoding/binary"
)

var llcSNAPEAPOL = []byte{0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x88, 0x8e}

// EAPOL-Key descriptor types and key information bits (IEEE 802.11-2020
// 12.7.2).
const (
	eapolTypeKey          = 3
	keyDescriptorRSN      = 2
	keyDescriptorWPA      = 254
	keyInfoPairwise       = 0x0008
	keyInfoEncryptedData  = 0x1000
	eapolKeyDataLenOffset = 93 // from the descriptor type, with a 16-byte MIC
)

// decodeLLC decodes the LLC/SNAP header of a data frame body and, for EAPOL
// key frames, the information elements and KDEs of the key data, which
// tshark reports with the same fields as elements of management frames.
func (f *Frame) decodeLLC(body []byte, b bounds) {
	if !bytes.HasPrefix(body, llcSNAPEAPOL) {
		return
	}
	eapol := body[len(llcSNAPEAPOL):]
	if len(eapol) < 4 || eapol[1] != eapolTypeKey {
		return
	}
	key := eapol[4:]
	if len(key) < eapolKeyDataLenOffset+2 {
		return
	}
	descriptor := key[0]
	if descriptor != keyDescriptorRSN && descriptor != keyDescriptorWPA {
		return
	}
	keyInfo := binary.BigEndian.Uint16(key[1:])
	dataLen := int(binary.BigEndian.Uint16(key[eapolKeyDataLenOffset:]))
	if dataLen == 0 {
		return
	}
	encrypted := keyInfo&keyInfoEncryptedData != 0 ||
		(descriptor == keyDescriptorWPA && keyInfo&keyInfoPairwise == 0)
	if encrypted {
		return
	}
	keyData := key[eapolKeyDataLenOffset+2:]
	if len(keyData) > dataLen {
		keyData = keyData[:dataLen]
	}
	f.decodeElements(keyData, bounds{captured: len(keyData), reported: dataLen})
}
