#!/usr/bin/env bash
# Records per second into Neo4j with `wifiq sink neo4j --graph probes`: one
# UNWIND transaction per batch of 1000 records, next to one transaction per
# record (--batch-size 1), which is what a connector without batching does.
# Both runs write the same graph shape from the same generated enriched probe
# requests. The per-record run takes a sample of SAMPLE records, because it
# is slow, and its rate is extrapolated to the full input.
#
# Usage: scripts/bench-neo4j.sh [RECORDS] [SAMPLE]   (default 1000000 and 5000)
# Needs: Java 17 and mvn for a Neo4j server of its own, which this script
# starts in a temporary state directory on port 27687 and stops at the end.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
records=${1:-1000000}
sample=${2:-5000}
if ((sample > records)); then
	sample=$records
fi
mkdir -p bin testdata/bench
go build -o bin/wifiq ./cmd/wifiq

state=$(mktemp -d /tmp/wifiq-bench-neo4j.XXXXXX)
export WIFIQ_STATE=$state WIFIQ_NEO4J_BOLT_PORT=${WIFIQ_BENCH_NEO4J_PORT:-27687}
cleanup() {
	scripts/neo4j.sh stop >/dev/null 2>&1 || true
	rm -rf "$state"
}
trap cleanup EXIT
scripts/neo4j.sh start
# shellcheck disable=SC1091
. "$state/neo4j/env"
export WIFIQ_NEO4J_URI NEO4J_USERNAME NEO4J_PASSWORD

# gen PREFIX N: N enriched probe requests from 10,000 devices, each looking
# for up to 20 SSIDs, one millisecond apart. PREFIX keeps the devices of the
# two runs apart.
gen() {
	awk -v prefix="$1" -v n="$2" 'BEGIN {
		for (i = 0; i < n; i++) {
			d = i % 10000
			mac = sprintf("%s:%02x:%02x:%02x", prefix, int(d / 65536) % 256, int(d / 256) % 256, d % 256)
			printf "{\"timestamp\":\"%.0f\",\"wlan_sa\":[\"%s\"],\"device_name\":[\"device %d\"],\"is_known_device\":[\"%s\"],\"wlan_sa_resolved\":[\"%s\"],\"wlan_ssid\":[\"net-%d\"]}\n",
				1714564800000 + i, mac, d, (d % 3 == 0) ? "true" : "false", mac, int(i / 10000) % 20
		}
	}'
}
batched_input=testdata/bench/neo4j-batched-$records.jsonl
single_input=testdata/bench/neo4j-single-$sample.jsonl
gen 02:00:00 "$records" >"$batched_input"
gen 02:00:01 "$sample" >"$single_input"

# run_sink N INPUT ARGS...: wall-clock seconds of one sink run over INPUT,
# which must write all N records.
run_sink() {
	local n=$1 input=$2 start end log
	shift 2
	log=$(mktemp)
	start=$(date +%s.%N)
	if ! bin/wifiq sink neo4j --graph probes "$@" "$input" 2>"$log"; then
		cat "$log" >&2
		echo "bench-neo4j.sh: wifiq sink neo4j $* failed (output above)" >&2
		return 1
	fi
	end=$(date +%s.%N)
	if ! grep -q "^neo4j: $n records written" "$log"; then
		cat "$log" >&2
		echo "bench-neo4j.sh: the sink did not write all $n records (output above)" >&2
		return 1
	fi
	rm -f "$log"
	echo "$end - $start" | bc
}

t_batched=$(run_sink "$records" "$batched_input" --batch-size 1000)
t_single=$(run_sink "$sample" "$single_input" --batch-size 1)
rm -f "$batched_input" "$single_input"

awk -v n="$records" -v s="$sample" -v tb="$t_batched" -v ts="$t_single" 'BEGIN {
	rb = n / tb; rs = s / ts
	printf "UNWIND, 1000 records per transaction: %d records in %.1f s = %.0f records/s\n", n, tb, rb
	printf "one transaction per record:           %d records in %.1f s = %.0f records/s (%d records would take about %.0f s)\n", s, ts, rs, n, n / rs
	printf "ratio: %.1fx\n", rb / rs
}'
