#!/usr/bin/env bash
# Throughput of the exactly-once wifiq split through a local Kafka broker,
# with JSON values and with Avro values (Confluent wire format, schemas in
# the registry of scripts/registry.sh), on the same records in the same run.
#
# The first N records (default 1,000,000) of the JSON lines that
# scripts/bench-kafka.sh and scripts/bench-decode.sh build are produced once
# into an input topic. Then split reads that topic twice, as two consumer
# groups, and writes JSON routes and Avro routes to topics of their own.
# Each run is timed from start to exit, which includes the group join and
# the last transaction commit. Afterwards every route topic is read back
# with wifiq consume, which decodes the Avro values, and the record counts
# of both runs must match.
#
# The topics stay on the broker, because wifiq cannot delete topics; the
# summary prints their prefix.
#
# Usage: scripts/bench-split.sh [RECORDS]
# Environment: BENCH_BROKERS (default 127.0.0.1:19092, the broker of
# scripts/kafka.sh start), BENCH_REGISTRY (default the URL in
# /tmp/wifiq-servers/registry/env of scripts/registry.sh start).
# Needs: go, a running broker and registry.
set -euo pipefail

cd "$(dirname "$0")/.."
records=${1:-1000000}
brokers=${BENCH_BROKERS:-127.0.0.1:19092}
state=${WIFIQ_STATE:-/tmp/wifiq-servers}
dir=testdata/bench
source_file=$dir/radiotap-1000000.jsonl

die() {
	echo "bench-split: $*" >&2
	exit 1
}

[[ $records =~ ^[1-9][0-9]*$ ]] || die "invalid record count '$records': want a positive number"
registry=${BENCH_REGISTRY:-}
if [[ -z $registry && -f $state/registry/env ]]; then
	registry=$(sed -n 's/^WIFIQ_SCHEMA_REGISTRY_URL=//p' "$state/registry/env")
fi
[[ -n $registry ]] || die "no schema registry: run scripts/registry.sh start or set BENCH_REGISTRY"
# Only the flags below choose the broker and registry.
while read -r variable; do
	unset "$variable"
done < <(compgen -e | grep -E '^WIFIQ_(KAFKA|SCHEMA_REGISTRY)_' || true)

if [[ ! -s $source_file ]]; then
	echo "bench-split: $source_file is missing; building it from the capture of scripts/bench-decode.sh" >&2
	[[ -s $dir/radiotap-1000000.pcap ]] || scripts/bench-decode.sh 1000000
	mkdir -p bin
	go build -o bin/wifiq ./cmd/wifiq
	bin/wifiq replay-pcap -q "$dir/radiotap-1000000.pcap" >"$source_file"
fi
mkdir -p bin
go build -o bin/wifiq ./cmd/wifiq

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -n "$records" "$source_file" >"$work/records.jsonl"
have=$(wc -l <"$work/records.jsonl")
((have == records)) || die "$source_file has only $have records, want $records"

prefix=bench_split_$(date +%s)
kind_routes() {
	local kind="$1"
	printf -- '--route 4=%s_%s_probe --route 8=%s_%s_beacon ' "$prefix" "$kind" "$prefix" "$kind"
	local subtype
	for subtype in 27 28 29 36; do
		printf -- '--route %s=%s_%s_control ' "$subtype" "$prefix" "$kind"
	done
	printf -- '--other %s_%s_other' "$prefix" "$kind"
}
create_topic() {
	bin/wifiq produce -q --brokers "$brokers" --topic "$1" --create-topic --partitions 1 </dev/null
}

echo "bench-split: producing $records records into ${prefix}_in" >&2
bin/wifiq produce -q --brokers "$brokers" --topic "${prefix}_in" --create-topic --partitions 1 "$work/records.jsonl"
for kind in json avro; do
	for route in probe beacon control other; do
		create_topic "${prefix}_${kind}_${route}"
	done
done

# timed KIND: runs split with KIND values and prints its wall seconds.
timed() {
	local kind="$1" start end
	start=$(date +%s.%N)
	# shellcheck disable=SC2046 # the routes are separate arguments.
	bin/wifiq split -q --brokers "$brokers" --from "kafka:${prefix}_in" --to kafka \
		--group "${prefix}_$kind" --format "$kind" --registry "$registry" $(kind_routes "$kind") \
		2>"$work/split-$kind.err" || { cat "$work/split-$kind.err" >&2; die "split --format $kind failed"; }
	end=$(date +%s.%N)
	awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }'
}

# count KIND: the records in KIND's route topics, read back with consume.
count() {
	local kind="$1" total=0 n route
	for route in probe beacon control other; do
		n=$(bin/wifiq consume -q --brokers "$brokers" --registry "$registry" --topic "${prefix}_${kind}_${route}" | wc -l)
		total=$((total + n))
	done
	echo "$total"
}

json_seconds=$(timed json)
avro_seconds=$(timed avro)
json_count=$(count json)
avro_count=$(count avro)
((json_count == records && avro_count == records)) ||
	die "records read back: $json_count (json) and $avro_count (avro), want $records each"

printf '\n%-22s %10s %12s %10s\n' "split --to kafka" "seconds" "records/s" "vs json"
awk -v n="$records" -v j="$json_seconds" -v a="$avro_seconds" 'BEGIN {
	printf "%-22s %10.2f %12.0f %10s\n", "--format json", j, n / j, "1.00"
	printf "%-22s %10.2f %12.0f %10.2f\n", "--format avro", a, n / a, (n / a) / (n / j)
}'
echo
echo "$records records, $(nproc) cores; topics ${prefix}_* stay on the broker $brokers"
