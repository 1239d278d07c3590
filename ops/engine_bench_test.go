package ops

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/wifiq/wifiq/record"
)

// benchProbeLines returns n probe request record lines from devices
// distinct randomised addresses, in the shape scripts/bench-stats.sh
// generates: one probe every 100 ms from a device drawn at random.
func benchProbeLines(n, devices int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for i := range n {
		device := rng.IntN(devices)
		mac := fmt.Sprintf("02:%02x:%02x:%02x:%02x:00", device>>24&0xff, device>>16&0xff, device>>8&0xff, device&0xff)
		signature := device % 50
		fmt.Fprintf(&b, `{"timestamp":"%d","wlan_fc_type_subtype":["4"],"wlan_radio_signal_dbm":["%d"],`, 1714521600000+int64(i)*100, -40-rng.IntN(50))
		fmt.Fprintf(&b, `"wlan_da":["ff:ff:ff:ff:ff:ff"],"wlan_sa":["%s"],"wlan_sa_resolved":["%s"],`, mac, mac)
		fmt.Fprintf(&b, `"wlan_tag_vendor_data":["02:00:%02x:%02x:%02x:00"],"wlan_tag_vendor_oui_type":["2"],"wlan_tag_oui":["4120"],`,
			signature>>16&0xff, signature>>8&0xff, signature&0xff)
		fmt.Fprintf(&b, `"wlan_ssid":["net-%d"]}`+"\n", device%50)
	}
	return b.Bytes()
}

// benchDeviceTable reads lines with a record.Reader into the device table
// and drains it, b.N times, and reports the time and allocations per
// record.
func benchDeviceTable(b *testing.B, devices int) {
	const records = 100_000
	lines := benchProbeLines(records, devices)
	b.SetBytes(int64(len(lines)))
	b.ReportAllocs()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	cpuBefore := cpuTime()
	b.ResetTimer()
	for range b.N {
		engine, err := NewEngine(DeviceQuery("device_name", nil))
		if err != nil {
			b.Fatal(err)
		}
		r := record.NewReader(bytes.NewReader(lines), "bench")
		r.Project(engine.Fields())
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			engine.Add(rec)
		}
		rows := 0
		for range engine.Drain() {
			rows++
		}
		if rows == 0 {
			b.Fatal("the device table is empty")
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpuBefore
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*records), "allocs/record")
	// CPU time is steadier than wall time on a machine that other work
	// shares.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*records), "cpu-ns/record")
}

// cpuTime returns the user and system CPU time the process used so far.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// BenchmarkDeviceTable1000 is the device table with 1,000 devices.
func BenchmarkDeviceTable1000(b *testing.B) { benchDeviceTable(b, 1000) }

// BenchmarkDeviceTable100000 is the device table with 100,000 devices,
// where most records create or find one of many groups.
func BenchmarkDeviceTable100000(b *testing.B) { benchDeviceTable(b, 100_000) }
