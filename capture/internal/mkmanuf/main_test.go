package main

import "testing"

// TestShorten checks the short names against the ones Wireshark's manuf
// file (4.0) gives the same organisations.
func TestShorten(t *testing.T) {
	tests := map[string]string{
		"Apple, Inc.":             "Apple",
		"Cisco-Linksys, LLC":      "Cisco-Li",
		"Converging Systems Inc.": "Convergi",
		"AVM Audiovisuelles Marketing und Computersysteme GmbH": "AVMAudio",
		"Raspberry Pi Trading Ltd":                              "Raspberr",
		"Ubiquiti Inc":                                          "Ubiquiti",
		"NETGEAR":                                               "Netgear",
		"  Texas   Instruments  ":                               "TexasIns",
		"Procter & Gamble Co.":                                  "ProcterG",
	}
	for in, want := range tests {
		if got := Shorten(in); got != want {
			t.Errorf("Shorten(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatPrefix(t *testing.T) {
	tests := []struct {
		hex  string
		bits int
		want string
	}{
		{"F01898", 24, "F0:18:98"},
		{"001BC5000", 36, "00:1B:C5:00:00:00/36"},
		{"70B3D51FB", 36, "70:B3:D5:1F:B0:00/36"},
		{"0050C2A", 28, "00:50:C2:A0:00:00/28"},
	}
	for _, tt := range tests {
		if got := formatPrefix(tt.hex, tt.bits); got != tt.want {
			t.Errorf("formatPrefix(%q, %d) = %q, want %q", tt.hex, tt.bits, got, tt.want)
		}
	}
}
