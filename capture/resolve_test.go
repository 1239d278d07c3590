package capture

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustMAC(t *testing.T, s string) MAC {
	t.Helper()
	m, err := ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestResolverOrderAndFormats(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r := NewResolver()
	if err := r.LoadEthers(write("ethers", "# comment\nf0:18:98:4d:5e:6f  kitchen-phone\n")); err != nil {
		t.Fatal(err)
	}
	if err := r.LoadWKA(write("wka", "ff:ff:ff:ff:ff:ff\tBroadcast\n01:00:5e:00:00:00/25\tIPv4mcast\n33:33:00:00:00:00/16\tIPv6mcast\n")); err != nil {
		t.Fatal(err)
	}
	if err := r.LoadManuf(write("manuf", "F0:18:98\tApple\tApple, Inc.\n70:B3:D5:1F:B0:00/36\tNetio\tNetio Products a.s.\n")); err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"f0:18:98:4d:5e:6f": "kitchen-phone", // ethers before the manufacturer
		"f0:18:98:00:00:01": "Apple_00:00:01",
		"ff:ff:ff:ff:ff:ff": "Broadcast",
		"01:00:5e:7f:00:fb": "IPv4mcast_7f:00:fb",
		"33:33:00:00:00:fb": "IPv6mcast_fb", // leading zero octets left out
		"70:b3:d5:1f:b1:23": "Netio_01:23",
		"02:00:5e:10:00:01": "02:00:5e:10:00:01", // unknown: the address itself
	}
	for in, want := range tests {
		if got := r.Resolve(mustMAC(t, in)); got != want {
			t.Errorf("Resolve(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestBuiltinManufacturers(t *testing.T) {
	r := NewResolver()
	AddBuiltinWellKnown(r)
	if err := AddBuiltinManufacturers(r); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"f0:18:98:4d:5e:6f": "Apple_4d:5e:6f",
		"3c:a6:2f:1a:2b:3c": "AVMAudio_1a:2b:3c",
		"ff:ff:ff:ff:ff:ff": "Broadcast",
	} {
		if got := r.Resolve(mustMAC(t, in)); got != want {
			t.Errorf("Resolve(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestBadNameFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "manuf")
	os.WriteFile(p, []byte("F0:18:98\tApple\nnot-an-address\tX\n"), 0o644)
	err := NewResolver().LoadManuf(p)
	if err == nil || !strings.Contains(err.Error(), "not-an-address") {
		t.Errorf("LoadManuf of a bad line: %v, want an error naming the value", err)
	}
	if err := NewResolver().LoadManuf(filepath.Join(dir, "missing")); err == nil {
		t.Error("LoadManuf of a missing file: no error")
	}
}

func TestEscapeTextRoundTrip(t *testing.T) {
	for _, in := range []string{
		"Kiosk-Guest", "🧊", "F09FA78A", "\xb2\xe2\xca\xd4", "\x00\x00", `Bar "Zum Anker"\` + "\nGast", `\x41`, "",
	} {
		esc := EscapeText([]byte(in))
		back, err := UnescapeText(esc)
		if err != nil || string(back) != in {
			t.Errorf("%q escaped to %q and back to %q (%v)", in, esc, back, err)
		}
	}
	if EscapeText([]byte("🧊")) == EscapeText([]byte("F09FA78A")) {
		t.Error("emoji and its hex spelling escape alike")
	}
}

func TestParseFields(t *testing.T) {
	ids, err := ParseFields("wlan.sa, wlan_ssid,wlan.sa")
	if err != nil || len(ids) != 2 || ids[0] != FieldSA || ids[1] != FieldSSID {
		t.Errorf("ParseFields = %v, %v; want [wlan.sa wlan.ssid]", ids, err)
	}
	ids, err = ParseFields("default")
	if err != nil || len(ids) != 22 {
		t.Errorf("default has %d fields (%v), want 22", len(ids), err)
	}
	if _, err := ParseFields("wlan.nope"); err == nil || !strings.Contains(err.Error(), `"wlan.nope"`) {
		t.Errorf("unknown field: %v, want an error naming it", err)
	}
}

func TestChannelFromMHz(t *testing.T) {
	for mhz, want := range map[uint16]int{2412: 1, 2437: 6, 2472: 13, 2484: 14, 5180: 36, 5825: 165, 5955: 1, 6415: 93, 4920: 184} {
		if got, ok := ChannelFromMHz(mhz); !ok || got != want {
			t.Errorf("ChannelFromMHz(%d) = %d, %v; want %d", mhz, got, ok, want)
		}
	}
	if _, ok := ChannelFromMHz(1000); ok {
		t.Error("ChannelFromMHz(1000) gave a channel")
	}
}
