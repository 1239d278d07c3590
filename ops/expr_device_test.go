package ops

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wifiq/wifiq/record"
)

// TestSourceDeviceOrder checks SourceDevice's single pass against the
// rule it implements: the first of its keys whose first value, as
// Record.First reads it, is not empty. The records have the keys in random
// order, some twice, some empty and some without values.
func TestSourceDeviceOrder(t *testing.T) {
	long := strings.Repeat("enrichment_", 7) + "name" // longer than SourceDevice's length table
	keys := []string{"device_name", "wlan_sa_resolved", "wlan_sa", "wlan_ta_resolved", "wlan_ta", "wlan_da", long}
	rng := rand.New(rand.NewPCG(3, 5))
	for _, deviceField := range []string{"device_name", "", "wlan_sa", long} {
		expr := SourceDevice(deviceField)
		order := []string{deviceField, "wlan_sa_resolved", "wlan_sa", "wlan_ta_resolved", "wlan_ta"}
		for n := range 2000 {
			rec := &record.Record{}
			for range rng.IntN(8) {
				var values []string
				switch rng.IntN(3) {
				case 0:
					values = []string{""}
				case 1:
					values = []string{keys[rng.IntN(len(keys))] + "-value", "second"}
				}
				rec.Fields = append(rec.Fields, record.Field{Key: keys[rng.IntN(len(keys))], Values: values})
			}
			want := Null
			for _, key := range order {
				if key == "" {
					continue
				}
				if v, ok := rec.First(key); ok && v != "" {
					want = StringValue(v)
					break
				}
			}
			if got := expr.Eval(rec); Compare(got, want) != 0 {
				t.Fatalf("device field %q, record %d %v: got %v, want %v", deviceField, n, rec.Fields, got, want)
			}
		}
	}
}

// TestFieldIntShortDecimal checks that the fast decimal path of FieldInt
// gives what record.ParseNumber gives, and NULL where it fails.
func TestFieldIntShortDecimal(t *testing.T) {
	for _, v := range []string{"0", "-0", "7", "-40", "007", "+5", "-", "", "1a", " 1", "0x1f", "0X1F",
		"123456789012345678", "-123456789012345678", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "99999999999999999999", "1_000", "--1"} {
		rec := &record.Record{Fields: []record.Field{{Key: "n", Values: []string{v}}}}
		got := FieldInt("n").Eval(rec)
		want := Null
		if n, err := record.ParseNumber(v); err == nil {
			want = IntValue(n)
		}
		if Compare(got, want) != 0 || got.Kind != want.Kind {
			t.Errorf("FieldInt of %q = %+v, want %+v", v, got, want)
		}
	}
}
