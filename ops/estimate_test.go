package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/record"
)

func TestChainsLinkAddressesInTurn(t *testing.T) {
	minute := int64(60_000)
	act := func(first, last, firstSeq, lastSeq int64) MACActivity {
		return MACActivity{Randomised: true, Address: fmt.Sprint(first), First: first, Last: last,
			FirstSeq: firstSeq, LastSeq: lastSeq, HasSeq: firstSeq >= 0}
	}
	tests := []struct {
		name string
		acts []MACActivity
		opts EstimateOptions
		want int
	}{
		{"one after the other", []MACActivity{act(0, minute, -1, -1), act(2*minute, 3*minute, -1, -1)}, EstimateOptions{MaxPause: 5 * time.Minute}, 1},
		{"at the same time", []MACActivity{act(0, 2*minute, -1, -1), act(minute, 3*minute, -1, -1)}, EstimateOptions{MaxPause: 5 * time.Minute}, 2},
		{"a longer pause", []MACActivity{act(0, minute, -1, -1), act(7*minute, 8*minute, -1, -1)}, EstimateOptions{MaxPause: 5 * time.Minute}, 2},
		{"no pause limit", []MACActivity{act(0, minute, -1, -1), act(70*minute, 80*minute, -1, -1)}, EstimateOptions{}, 1},
		{"sequence numbers continue", []MACActivity{act(0, minute, 10, 40), act(2*minute, 3*minute, 45, 60)}, EstimateOptions{MaxPause: 5 * time.Minute}, 1},
		{"sequence numbers wrap", []MACActivity{act(0, minute, 4000, 4090), act(2*minute, 3*minute, 3, 60)}, EstimateOptions{MaxPause: 5 * time.Minute}, 1},
		// One jump looks like a model that starts a new sequence number
		// with every address.
		{"sequence numbers jump", []MACActivity{act(0, minute, 10, 40), act(2*minute, 3*minute, 1500, 1600)}, EstimateOptions{MaxPause: 5 * time.Minute}, 1},
		{
			// Two devices that take a new address for every burst, taking
			// turns: without sequence numbers they look like one device.
			"interleaved, with sequence numbers",
			[]MACActivity{act(0, 0, 100, 101), act(minute, minute, 2000, 2001), act(2*minute, 2*minute, 104, 105), act(3*minute, 3*minute, 2003, 2004)},
			EstimateOptions{MaxPause: 5 * time.Minute}, 2,
		},
		{
			"interleaved, without sequence numbers",
			[]MACActivity{act(0, 0, -1, -1), act(minute, minute, -1, -1), act(2*minute, 2*minute, -1, -1), act(3*minute, 3*minute, -1, -1)},
			EstimateOptions{MaxPause: 5 * time.Minute}, 1,
		},
	}
	for _, tt := range tests {
		if got := EstimateDevices(tt.acts, tt.opts); got != tt.want {
			t.Errorf("%s: %d devices, want %d", tt.name, got, tt.want)
		}
	}
}

func TestEstimateCountsStableAddressesAndSignatures(t *testing.T) {
	acts := []MACActivity{
		{Address: "00:11:22:00:00:01", First: 0, Last: 10},
		{Address: "00:11:22:00:00:02", First: 0, Last: 10},
		{Address: "02:00:00:00:00:01", Randomised: true, Signature: "a", First: 0, Last: 10},
		{Address: "02:00:00:00:00:02", Randomised: true, Signature: "b", First: 20, Last: 30}, // another model: not linked to the first
		{Address: "02:00:00:00:00:03", Randomised: true, Signature: "a", First: 20, Last: 30}, // the first one's next address
	}
	if got := EstimateDevices(acts, EstimateOptions{MaxPause: time.Minute}); got != 4 {
		t.Errorf("%d devices, want 4: two stable addresses, and one device of each signature", got)
	}
}

// simModel is a device model of the simulated population.
type simModel struct {
	name       string
	signature  int // models with the same signature send the same vendor elements
	randomises bool
	rotate     time.Duration // address lifetime while present; 0: a new address every burst
	interval   time.Duration // mean time between probe bursts
	resetsSeq  bool          // a new address starts a new sequence number
	weight     float64
}

var simModels = []simModel{
	{name: "phone A1", signature: 1, randomises: true, rotate: 12 * time.Minute, interval: time.Minute, resetsSeq: true, weight: 4},
	{name: "phone A2", signature: 1, randomises: true, rotate: 12 * time.Minute, interval: 90 * time.Second, resetsSeq: true, weight: 2},
	{name: "phone B", signature: 2, randomises: true, rotate: 5 * time.Minute, interval: 30 * time.Second, weight: 3},
	{name: "tablet B", signature: 2, randomises: true, rotate: 15 * time.Minute, interval: 2 * time.Minute, weight: 1},
	{name: "phone C", signature: 3, randomises: true, rotate: 0, interval: time.Minute, resetsSeq: false, weight: 2},
	{name: "phone D", signature: 4, randomises: true, rotate: 20 * time.Minute, interval: 45 * time.Second, resetsSeq: true, weight: 2},
	{name: "laptop E", signature: 5, interval: 2 * time.Minute, weight: 2},
	{name: "old phone F", signature: 6, interval: 45 * time.Second, weight: 2},
	{name: "sensor G", signature: 7, interval: 5 * time.Minute, weight: 1},
}

// simProbe is one captured probe request, with the device that sent it.
type simProbe struct {
	device int
	rec    *record.Record
}

// simulateDay generates the captured probe requests of one day from
// `devices` devices, in time order. Each device is present for one to
// maxVisits visits: short passes, stays of an hour or two, or most of the
// day.
func simulateDay(rng *rand.Rand, day int64, devices, maxVisits int) []simProbe {
	var weights float64
	for _, m := range simModels {
		weights += m.weight
	}
	var probes []simProbe
	for d := range devices {
		pick, model := rng.Float64()*weights, simModels[0]
		for _, m := range simModels {
			if pick -= m.weight; pick < 0 {
				model = m
				break
			}
		}
		stable := simAddress(rng, false)
		seq := rng.Int64N(seqModulus)
		rssi := -40 - rng.IntN(50)
		for range 1 + rng.IntN(maxVisits) {
			var stay time.Duration
			switch r := rng.Float64(); {
			case r < 0.5:
				stay = time.Duration(1+rng.IntN(10)) * time.Minute
			case r < 0.85:
				stay = time.Duration(20+rng.IntN(100)) * time.Minute
			default:
				stay = time.Duration(6+rng.IntN(6)) * time.Hour
			}
			start := day + rng.Int64N(86_400_000-stay.Milliseconds())
			address, addressSince := stable, start
			if model.randomises {
				address = simAddress(rng, true)
			}
			for ts := start; ts < start+stay.Milliseconds(); ts += int64(float64(model.interval.Milliseconds()) * (0.5 + rng.Float64())) {
				if model.randomises && ts-addressSince >= model.rotate.Milliseconds() {
					address, addressSince = simAddress(rng, true), ts
					if model.resetsSeq {
						seq = rng.Int64N(seqModulus)
					}
				}
				for i := range 1 + rng.IntN(3) {
					seq = (seq + 1) % seqModulus
					if rng.Float64() < 0.2 {
						continue // not captured
					}
					probes = append(probes, simProbe{device: d, rec: simRecord(ts+int64(20*i), address, model, seq, rssi+rng.IntN(9)-4)})
				}
				seq = (seq + rng.Int64N(30)) % seqModulus // frames that are not probes
			}
		}
	}
	slices.SortStableFunc(probes, func(a, b simProbe) int { return int(a.rec.Timestamp - b.rec.Timestamp) })
	return probes
}

func simAddress(rng *rand.Rand, randomised bool) string {
	b := make([]byte, 6)
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	b[0] &^= 0x03 // unicast, globally administered
	if randomised {
		b[0] |= 0x02
	}
	return FormatColonHex(b)
}

func simRecord(ts int64, address string, m simModel, seq int64, dbm int) *record.Record {
	rec := &record.Record{Timestamp: ts, Style: capture.StyleClassic}
	rec.Set("wlan_fc_type_subtype", "4")
	rec.Set("wlan_radio_signal_dbm", fmt.Sprint(dbm))
	rec.Set("wlan_da", "ff:ff:ff:ff:ff:ff")
	rec.Set("wlan_sa", address)
	rec.Set("wlan_tag_vendor_data", fmt.Sprintf("02:00:00:%02x:00:00", m.signature))
	rec.Set("wlan_tag_vendor_oui_type", "2", fmt.Sprint(m.signature%3+8))
	rec.Set("wlan_tag_oui", "4120", "20722")
	rec.Set("wlan_ssid", "")
	rec.Set("wlan_seq", fmt.Sprint(seq))
	return rec
}

// simEstimate runs the estimate over probes as stats probes-per-day does,
// with and without the sequence numbers.
func simEstimate(t *testing.T, probes []simProbe) (estimate, seqEstimate, macs, truth int) {
	t.Helper()
	activity := mustEngine(t, ActivityQuery(Signatures()[0], nil))
	devices := map[int]bool{}
	for _, p := range probes {
		activity.Add(p.rec)
		devices[p.device] = true
	}
	acts := Activities(activity.Flush())
	opts := EstimateOptions{MaxPause: DefaultSessionGap}
	seqEstimate = EstimateDevices(acts, opts)
	for i := range acts {
		acts[i].HasSeq = false
	}
	return EstimateDevices(acts, opts), seqEstimate, len(acts), len(devices)
}

// TestSimulatedPopulation measures the device estimate on days of
// simulated probe requests whose senders are known: stable and
// randomising devices, several models sharing a signature, one model that
// takes a new address for every burst. It logs the error of counting
// distinct addresses and of the estimate, with and without sequence
// numbers, for devices that come once a day and for devices that come up
// to three times (go test -run TestSimulatedPopulation -v ./ops/).
func TestSimulatedPopulation(t *testing.T) {
	type sample struct{ truth, macs, estimate, seqEstimate int }
	relative := func(samples []sample, get func(sample) int) (bias, meanAbs float64) {
		for _, s := range samples {
			e := float64(get(s)-s.truth) / float64(s.truth)
			bias += e
			meanAbs += math.Abs(e)
		}
		return 100 * bias / float64(len(samples)), 100 * meanAbs / float64(len(samples))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "simulated days of 30, 100 and 300 devices, 4 seeds each; error = mean of |estimate - truth| / truth\n")
	fmt.Fprintf(&b, "  %-8s %-32s %8s %8s\n", "visits", "devices per day from", "bias %", "error %")
	for _, maxVisits := range []int{1, 3} {
		var samples []sample
		for seed := range uint64(4) {
			rng := rand.New(rand.NewPCG(seed, uint64(maxVisits)))
			for _, devices := range []int{30, 100, 300} {
				probes := simulateDay(rng, ms("2024-05-01T00:00:00Z"), devices, maxVisits)
				estimate, seqEstimate, macs, truth := simEstimate(t, probes)
				samples = append(samples, sample{truth, macs, estimate, seqEstimate})
			}
		}
		macBias, macErr := relative(samples, func(s sample) int { return s.macs })
		estBias, estErr := relative(samples, func(s sample) int { return s.estimate })
		seqBias, seqErr := relative(samples, func(s sample) int { return s.seqEstimate })
		visits := fmt.Sprintf("1 to %d", maxVisits)
		if maxVisits == 1 {
			visits = "1"
		}
		fmt.Fprintf(&b, "  %-8s %-32s %+8.1f %8.1f\n", visits, "distinct source addresses", macBias, macErr)
		fmt.Fprintf(&b, "  %-8s %-32s %+8.1f %8.1f\n", visits, "estimate, vendor signature", estBias, estErr)
		fmt.Fprintf(&b, "  %-8s %-32s %+8.1f %8.1f\n", visits, "estimate, with sequence numbers", seqBias, seqErr)
		for _, s := range samples[:3] {
			fmt.Fprintf(&b, "           e.g. %d devices: %d addresses, estimate %d, with sequence numbers %d\n", s.truth, s.macs, s.estimate, s.seqEstimate)
		}

		if estErr >= macErr {
			t.Errorf("%s visits: the estimate's mean error %.1f%% is not below that of counting addresses, %.1f%%", visits, estErr, macErr)
		}
		if maxVisits == 1 && seqErr >= estErr {
			t.Errorf("one visit: sequence numbers did not improve the estimate: %.1f%% against %.1f%%", seqErr, estErr)
		}
	}
	t.Log(b.String())
}
