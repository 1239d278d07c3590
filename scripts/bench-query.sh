#!/usr/bin/env bash
# Frames per subtype of a 1,000,000-frame capture: wifiq query cold (decode,
# load into DuckDB, write the cache, run the SQL) and warm (read the cache),
# next to the tshark way of answering the same question:
#   tshark -r FILE -T fields -e wlan.fc.type_subtype | sort | uniq -c
# Prints seconds, the ratios, and checks that both count the same frames.
#
# Usage: scripts/bench-query.sh [MIN_FRAMES]
# Needs: go, gcc (cgo for DuckDB), tshark, GNU time; scripts/bench-decode.sh
# builds the capture when it is missing (tshark, mergecap, capinfos).
# WIFIQ=path runs that wifiq binary instead of building bin/wifiq.
set -euo pipefail

cd "$(dirname "$0")/.."
min_frames=${1:-1000000}
dir=testdata/bench
big="$dir/radiotap-${min_frames}.pcap"

for tool in tshark /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench-query: $tool is not installed" >&2; exit 1; }
done
if [[ ! -s $big ]]; then
	echo "bench-query: $big is missing; building it with scripts/bench-decode.sh (about a minute)" >&2
	scripts/bench-decode.sh "$min_frames" >&2
fi

wifiq=${WIFIQ:-}
if [[ -z $wifiq ]]; then
	mkdir -p bin
	go build -o bin/wifiq ./cmd/wifiq
	wifiq=bin/wifiq
fi
if ! "$wifiq" query --help 2>&1 | grep -q -- --cache-dir; then
	echo "bench-query: $wifiq has no query command" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One row per subtype, written as tshark writes wlan.fc.type_subtype (hex),
# and an empty value for frames without one.
sql="SELECT count(*) AS frames, coalesce(printf('0x%04x', type_subtype), '') AS type_subtype
FROM packets GROUP BY ALL ORDER BY type_subtype"

# seconds NAME CMD...: runs CMD with stdout to $work/NAME.out and prints the
# elapsed seconds.
seconds() {
	local name=$1; shift
	/usr/bin/time -o "$work/$name.time" -f '%e' "$@" >"$work/$name.out" 2>"$work/$name.err" || {
		echo "bench-query: $name failed:" >&2; cat "$work/$name.err" >&2; exit 1
	}
	tail -1 "$work/$name.time"
}

cold=$(seconds cold "$wifiq" query -o csv --cache-dir "$work/cache" "$sql" "$big")
warm=$(seconds warm "$wifiq" query -o csv --cache-dir "$work/cache" "$sql" "$big")
tshark=$(seconds tshark bash -c 'tshark -r "$1" -T fields -e wlan.fc.type_subtype | sort | uniq -c' _ "$big")

# Both results as "count subtype" lines, sorted.
tail -n +2 "$work/warm.out" | tr ',' ' ' | sort >"$work/wifiq.counts"
awk '{ print $1, ($2 == "" ? "" : $2) }' "$work/tshark.out" | sort >"$work/tshark.counts"
if ! cmp -s "$work/wifiq.counts" "$work/tshark.counts"; then
	echo "bench-query: wifiq and tshark count different frames per subtype:" >&2
	diff "$work/wifiq.counts" "$work/tshark.counts" >&2 || true
	exit 1
fi
cmp -s "$work/cold.out" "$work/warm.out" || { echo "bench-query: the cold and warm results differ" >&2; exit 1; }

frames=$(awk '{ n += $1 } END { print n }' "$work/wifiq.counts")
echo "capture: $big, $frames frames, $(wc -l <"$work/wifiq.counts") subtypes (wifiq and tshark agree)"
awk -v c="$cold" -v w="$warm" -v t="$tshark" 'BEGIN {
	if (c <= 0) c = 0.01
	if (w <= 0) w = 0.01
	printf "%-34s %8s\n", "run", "seconds"
	printf "%-34s %8.2f\n", "wifiq query, cold (decode + load)", c
	printf "%-34s %8.2f\n", "wifiq query, warm (cached)", w
	printf "%-34s %8.2f\n", "tshark -T fields | sort | uniq -c", t
	printf "ratio: cold is %.1f times faster than tshark, warm %.1f times\n", t / c, t / w
}'
