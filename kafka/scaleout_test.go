package kafka_test

import (
	"testing"

	"github.com/wifiq/wifiq/kafka"
)

// TestKeyPartitionMatchesKafka checks key placement against the murmur2
// values of Kafka's own test vectors (UtilsTest.testMurmur2 in Apache Kafka's
// clients module): the partition is the hash with the sign bit cleared,
// modulo the partition count, as the Java producer places keyed records.
func TestKeyPartitionMatchesKafka(t *testing.T) {
	vectors := []struct {
		key  string
		hash int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	}
	for _, v := range vectors {
		for _, n := range []int32{1, 3, 4, 7, 16, 100} {
			want := int32(uint32(v.hash)&0x7fffffff) % n
			if got := kafka.KeyPartition([]byte(v.key), n); got != want {
				t.Errorf("KeyPartition(%q, %d) = %d, want %d", v.key, n, got, want)
			}
		}
	}
}

// TestKeyPartitionIsStable checks that one key always gets one partition,
// and that a nil key is placed like the empty key instead of at random.
func TestKeyPartitionIsStable(t *testing.T) {
	key := []byte("\x03\x11Apple_6f:3f:a8")
	first := kafka.KeyPartition(key, 4)
	for range 100 {
		if got := kafka.KeyPartition(key, 4); got != first {
			t.Fatalf("KeyPartition returned %d, then %d for the same key", first, got)
		}
	}
	empty := kafka.KeyPartition([]byte{}, 7)
	for range 100 {
		if got := kafka.KeyPartition(nil, 7); got != empty {
			t.Fatalf("KeyPartition(nil, 7) = %d, want %d as for the empty key", got, empty)
		}
	}
}
