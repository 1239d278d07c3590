#!/usr/bin/env bash
# Decoding throughput of wifiq replay-pcap next to tshark -T ek on the same
# capture of at least 1,000,000 frames, both on one CPU core.
#
# Usage: scripts/bench-decode.sh [MIN_FRAMES]
# Needs: go, tshark, mergecap, capinfos (Debian: tshark, wireshark-common),
# GNU time and taskset.
set -euo pipefail

cd "$(dirname "$0")/.."
min_frames=${1:-1000000}
dir=testdata/bench
mkdir -p "$dir" bin

for tool in tshark mergecap capinfos /usr/bin/time taskset; do
	command -v "$tool" >/dev/null || { echo "bench-decode: $tool is not installed" >&2; exit 1; }
done

go build -o bin/wifiq ./cmd/wifiq

# The corpus's radiotap captures, concatenated, then doubled until the file
# holds min_frames frames.
big="$dir/radiotap-${min_frames}.pcap"
if [[ ! -s $big ]]; then
	radiotap=()
	for f in testdata/corpus/*; do
		if capinfos -T -E "$f" 2>/dev/null | tail -1 | grep -q 'ieee-802-11-radiotap$'; then
			radiotap+=("$f")
		fi
	done
	mergecap -F pcap -a -w "$dir/round-0.pcap" "${radiotap[@]}"
	round=0
	while (( $(capinfos -T -r -c "$dir/round-$round.pcap" | cut -f2) < min_frames )); do
		mergecap -F pcap -a -w "$dir/round-$((round + 1)).pcap" "$dir/round-$round.pcap" "$dir/round-$round.pcap"
		rm "$dir/round-$round.pcap"
		round=$((round + 1))
	done
	mv "$dir/round-$round.pcap" "$big"
fi
frames=$(capinfos -T -r -c "$big" | cut -f2)
# A file four times as large shows whether memory grows with the input.
bigger="$dir/radiotap-${min_frames}x4.pcap"
[[ -s $bigger ]] || mergecap -F pcap -a -w "$bigger" "$big" "$big" "$big" "$big"

# measure NAME CMD...: prints seconds and peak resident memory (KiB).
measure() {
	local name=$1; shift
	local stats="$dir/time-$name"
	/usr/bin/time -o "$stats" -f '%e %M' taskset -c 0 "$@" >/dev/null 2>"$dir/stderr-$name" || {
		echo "bench-decode: $name failed:" >&2; cat "$dir/stderr-$name" >&2; exit 1
	}
	echo "$name $(tail -1 "$stats")"
}

tshark_args=(-r "$big" -T ek)
for f in wlan.fc.type wlan.fc.type_subtype wlan_radio.channel wlan_radio.signal_dbm wlan_radio.duration \
	wlan.ra wlan.ra_resolved wlan.da wlan.da_resolved wlan.ta wlan.ta_resolved wlan.sa wlan.sa_resolved \
	wlan.staa wlan.staa_resolved wlan.tagged.all wlan.tag.vendor.data wlan.tag.vendor.oui.type \
	wlan.tag.oui wlan.ssid wlan.country_info.code wps.device_name; do
	tshark_args+=(-e "$f")
done

echo "capture: $big, $frames frames"
read -r _ w_sec w_kib < <(GOMAXPROCS=1 measure wifiq bin/wifiq replay-pcap -q "$big")
read -r _ t_sec t_kib < <(measure tshark tshark "${tshark_args[@]}")
read -r _ x_sec x_kib < <(GOMAXPROCS=1 measure wifiq bin/wifiq replay-pcap -q "$bigger")

awk -v n="$frames" -v ws="$w_sec" -v wk="$w_kib" -v ts="$t_sec" -v tk="$t_kib" 'BEGIN {
	if (ws <= 0) ws = 0.01
	printf "%-8s %10s %14s %12s\n", "tool", "seconds", "frames/s", "max RSS MiB"
	printf "%-8s %10.2f %14.0f %12.1f\n", "wifiq", ws, n / ws, wk / 1024
	printf "%-8s %10.2f %14.0f %12.1f\n", "tshark", ts, n / ts, tk / 1024
	printf "ratio: wifiq decodes %.1f times as many frames per second as tshark\n", ts / ws
}'
awk -v n="$frames" -v xs="$x_sec" -v xk="$x_kib" -v wk="$w_kib" 'BEGIN {
	printf "wifiq on 4 x %d frames: %.2f s, max RSS %.1f MiB (%.1f MiB on 1 x)\n", n, xs, xk / 1024, wk / 1024
}'
