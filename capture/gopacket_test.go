package capture_test

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/replay"
)

// readCase returns the records of one file in testdata/cases.
func readCase(t testing.TB, name string) []replay.Packet {
	t.Helper()
	f, err := replay.Open("../testdata/cases/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var packets []replay.Packet
	for {
		p, err := f.Next()
		if err != nil {
			return packets
		}
		p.Data = append([]byte(nil), p.Data...)
		packets = append(packets, p)
	}
}

// TestWhyNotGopacket shows where gopacket's radiotap and 802.11 layers give
// other answers than tshark, which is why capture decodes radio headers and
// 802.11 frames itself (gopacket's pcapgo still reads the files). If this
// test fails, gopacket has changed and the choice deserves a second look.
func TestWhyNotGopacket(t *testing.T) {
	t.Run("fields claimed past the radiotap header", func(t *testing.T) {
		// CASES.md V3: an 8-byte radiotap header claims TSFT, Channel, MCS
		// and VHT. tshark reports no radio fields.
		p := readCase(t, "V3_radiotap_short_header_claims_fields.pcap")[0]
		pkt := gopacket.NewPacket(p.Data, layers.LayerTypeRadioTap, gopacket.Default)
		rt, ok := pkt.Layer(layers.LayerTypeRadioTap).(*layers.RadioTap)
		if !ok || len(rt.RadioTapValues) == 0 || rt.RadioTapValues[0].ChannelFrequency == 0 {
			t.Fatalf("gopacket no longer reads a channel out of the bytes after the header")
		}
		t.Logf("gopacket reads channel frequency %d MHz out of the 802.11 frame", rt.RadioTapValues[0].ChannelFrequency)

		frame, err := new(capture.Decoder).Decode(p.LinkType, p.Timestamp, p.Data, p.Length)
		if err != nil {
			t.Fatal(err)
		}
		if frame.Radio.HasFrequency || !frame.Malformed || frame.Subtype != 4 {
			t.Errorf("capture: frequency present %v, malformed %v, subtype %d; want no frequency, malformed, probe request (4)",
				frame.Radio.HasFrequency, frame.Malformed, frame.Subtype)
		}
	})
	t.Run("control frame extension", func(t *testing.T) {
		// CASES.md V12 frame 7: FC 64 02, a DMG Poll (type_subtype 0x0162).
		p := readCase(t, "V12_data_and_control_frames.pcap")[6]
		pkt := gopacket.NewPacket(p.Data, layers.LayerTypeRadioTap, gopacket.Default)
		if pkt.ErrorLayer() == nil {
			t.Fatalf("gopacket now decodes control frame extensions")
		}
		t.Logf("gopacket: %v", pkt.ErrorLayer().Error())

		frame, err := new(capture.Decoder).Decode(p.LinkType, p.Timestamp, p.Data, p.Length)
		if err != nil {
			t.Fatal(err)
		}
		if len(frame.TypeSubtypes) != 1 || frame.TypeSubtypes[0] != 0x0162 {
			t.Errorf("capture: type_subtype %#x, want 0x0162", frame.TypeSubtypes)
		}
	})
	t.Run("which antenna signal", func(t *testing.T) {
		// CASES.md V1: three dBm antenna signals (-52 combined, -54, -57);
		// tshark prints the last one.
		p := readCase(t, "V1_radiotap_three_presence_words.pcap")[0]
		pkt := gopacket.NewPacket(p.Data, layers.LayerTypeRadioTap, gopacket.Default)
		rt := pkt.Layer(layers.LayerTypeRadioTap).(*layers.RadioTap)
		if got := rt.RadioTapValues[0].DBMAntennaSignal; got != -52 {
			t.Fatalf("gopacket's first namespace signal is %d, was -52", got)
		}
		frame, err := new(capture.Decoder).Decode(p.LinkType, p.Timestamp, p.Data, p.Length)
		if err != nil {
			t.Fatal(err)
		}
		if !frame.Radio.HasSignalDBm || frame.Radio.SignalDBm != -57 {
			t.Errorf("capture: signal %d, want -57 as tshark prints", frame.Radio.SignalDBm)
		}
	})
}
