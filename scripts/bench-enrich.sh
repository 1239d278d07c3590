#!/usr/bin/env bash
# Enrichment throughput: wifiq enrich joins 1,000,000 probe requests (JSON
# values) with a device list, topic to topic through a local Kafka broker
# and from a file, next to reference runs on the same input in the same run:
#
#   a. wifiq enrich --from kafka:IN --to kafka:OUT --group G: exactly once,
#      in Kafka transactions
#   b. wifiq enrich --from kafka:IN --to kafka:OUT: no group, no transactions
#   r1. kcat -C | jq (the same join) | kcat -P: the classic tools. The
#      article's way is ksqlDB, which does not run on this machine.
#   r2. wifiq consume | wifiq produce: the same records moved without a join,
#      the broker's raw throughput for wifiq
#   c. wifiq enrich --devices D FILE > FILE: the join in a pipeline
#   r3. jq -c (the same join) FILE > FILE
#   d. and e.: runs a and b on the same probe requests as Avro values
#      (Confluent wire format, schema in the registry), which wifiq split
#      --format avro copies from the JSON input topic before the runs
#
# The probe requests are the real ones of the decoding benchmark's capture
# (testdata/bench/radiotap-1000000.jsonl, built by scripts/bench-decode.sh
# when missing), repeated with new event times until there are 1,000,000.
# The device list names every other source address; a third of those have
# a hostname too and a quarter are guests. The join of jq and the one of
# wifiq must give the same records, and every output topic is read back
# with wifiq consume to check that it holds one record per probe request.
# The Avro runs must write the same records as their JSON runs, compared
# after sorting because the order across partitions differs between runs.
#
# The topics stay on the broker, because wifiq cannot delete topics; the
# summary prints how to delete them. The schema of the Avro topic stays in
# the registry under the subject TOPIC-value.
#
# Usage: scripts/bench-enrich.sh
# Environment: BENCH_BROKERS (default 127.0.0.1:19092, the broker of
# scripts/kafka.sh start), BENCH_REGISTRY (default the URL in
# /tmp/wifiq-servers/registry/env of scripts/registry.sh start),
# BENCH_PARTITIONS (default 3), BENCH_DIR, where the record files go
# (default /tmp/wifiq-bench-enrich, about 2.6 GB).
# Needs: go, jq, kcat, a running broker and registry, and for a missing
# benchmark capture what scripts/bench-decode.sh needs.
set -euo pipefail

cd "$(dirname "$0")/.."
brokers=${BENCH_BROKERS:-127.0.0.1:19092}
state=${WIFIQ_STATE:-/tmp/wifiq-servers}
partitions=${BENCH_PARTITIONS:-3}
dir=${BENCH_DIR:-/tmp/wifiq-bench-enrich}
records=testdata/bench/radiotap-1000000.jsonl
total=1000000

die() {
	echo "bench-enrich: $*" >&2
	exit 1
}

for tool in go jq kcat; do
	command -v "$tool" >/dev/null || die "$tool is not installed (Debian packages: golang, jq, kcat)"
done
registry=${BENCH_REGISTRY:-}
if [[ -z $registry && -f $state/registry/env ]]; then
	registry=$(sed -n 's/^WIFIQ_SCHEMA_REGISTRY_URL=//p' "$state/registry/env")
fi
[[ -n $registry ]] || die "no schema registry: run scripts/registry.sh start or set BENCH_REGISTRY"
# Only the flags below choose the broker and the registry, not the
# WIFIQ_KAFKA_* and WIFIQ_SCHEMA_REGISTRY_* variables of the shell (such as
# those of scripts/kafka.sh env). enrich has no --registry flag, so its Avro
# runs get $WIFIQ_SCHEMA_REGISTRY_URL from env.
while read -r variable; do
	unset "$variable"
done < <(compgen -e | grep -E '^WIFIQ_(KAFKA|SCHEMA_REGISTRY)_' || true)

mkdir -p "$dir" bin
go build -o bin/wifiq ./cmd/wifiq
if [[ ! -s $records ]]; then
	[[ -s testdata/bench/radiotap-1000000.pcap ]] || scripts/bench-decode.sh 1000000
	bin/wifiq replay-pcap -q testdata/bench/radiotap-1000000.pcap >"$records.tmp"
	mv "$records.tmp" "$records"
fi

# The input: the capture's probe requests with a source address, in turn,
# with event times 10 ms apart that end an hour ago, so that the broker's
# retention keeps them.
probes="$dir/probes.jsonl"
base=$(($(date +%s) * 1000 - 3600000 - total * 10))
grep '"wlan_fc_type_subtype":\["4"\]' "$records" | grep '"wlan_sa":\["' >"$dir/capture-probes.jsonl" ||
	die "$records contains no probe requests"
# Every record starts with its timestamp, so the rest of the line follows
# the first '","'.
awk -v total="$total" -v base="$base" '
	{ rest[n++] = substr($0, index($0, "\",\"")) }
	END {
		for (i = 0; i < total; i++) {
			printf "{\"timestamp\":\"%.0f%s\n", base + i * 10, rest[i % n]
		}
	}' "$dir/capture-probes.jsonl" >"$probes"

# The device list, as CSV for wifiq and as JSON lines for jq: every other
# source address of the capture's probe requests, and 1,000 addresses that
# send none, so that the lookups search a table larger than a few entries.
devices_csv="$dir/devices.csv"
devices_json="$dir/devices.jsonl"
grep -o '"wlan_sa":\["[^"]*"' "$dir/capture-probes.jsonl" | cut -d '"' -f 4 | sort -u |
	awk -v csv="$devices_csv" -v json="$devices_json" '
	BEGIN { print "mac,name,hostname,is_guest" >csv }
	NR % 2 == 0 {
		d++
		name = "device-" d
		hostname = (d % 3 == 0) ? "host-" d : ""
		guest = (d % 4 == 0) ? "true" : "false"
		print $0 "," name "," hostname "," guest >csv
		printf "{\"mac\":\"%s\",\"name\":\"%s\",\"hostname\":\"%s\",\"is_guest\":%s}\n", $0, name, hostname, guest >json
	}
	END {
		for (i = 0; i < 1000; i++) {
			mac = sprintf("0a:00:00:00:%02x:%02x", int(i / 256), i % 256)
			print mac ",absent-" i ",,false" >csv
			printf "{\"mac\":\"%s\",\"name\":\"absent-%d\",\"hostname\":\"\",\"is_guest\":false}\n", mac, i >json
		}
	}'
macs=$(grep -o '"wlan_sa":\["[^"]*"' "$dir/capture-probes.jsonl" | sort -u | wc -l)
listed=$(($(wc -l <"$devices_json") - 1000))

# The join in jq: the fields, their order and the device name as wifiq
# enrich writes them (docs/split-enrich.md).
cat >"$dir/enrich.jq" <<'EOF'
(reduce $devices[] as $d ({}; .[$d.mac] = $d)) as $table
| inputs
| select(.wlan_fc_type_subtype[0] == "4" and .wlan_sa != null)
| . as $r
| $table[$r.wlan_sa[0]] as $d
| (.timestamp | tonumber) as $ms
| {timestamp: $r.timestamp, wlan_sa: $r.wlan_sa}
  + (if $d == null then {}
     elif $d.name != "" and $d.hostname != "" then {device_name: ["\($d.name) (\($d.hostname))"]}
     elif $d.name != "" then {device_name: [$d.name]}
     else {device_name: [$d.hostname]} end)
  + {is_known_device: [if $d != null and ($d.is_guest | not) then "true" else "false" end]}
  + (reduce ("wlan_sa_resolved", "wlan_da", "wlan_da_resolved", "wlan_radio_signal_dbm", "wlan_ssid",
             "wlan_tag_vendor_data", "wlan_tag_vendor_oui_type", "wlan_tag_oui") as $k
       ({}; if $r[$k] != null then . + {($k): $r[$k]} else . end))
  + {event_time: [((($ms / 1000) | floor | todate)[:19]) + "." + ((1000 + $ms % 1000) | tostring | .[1:]) + "Z"]}
EOF
jq_enrich() {
	jq -nc --slurpfile devices "$devices_json" -f "$dir/enrich.jq" "$@"
}

prefix="bench-enrich-$(date -u +%Y%m%dT%H%M%SZ)-$$"
input=$prefix-in
out_a=$prefix-wifiq-group
out_b=$prefix-wifiq
out_r1=$prefix-kcat-jq-kcat
out_r2=$prefix-consume-produce
avro_input=$prefix-in-avro
out_d=$prefix-wifiq-group-avro
out_e=$prefix-wifiq-avro
for topic in "$avro_input" "$out_a" "$out_b" "$out_r1" "$out_r2" "$out_d" "$out_e"; do
	bin/wifiq produce -q --brokers "$brokers" --topic "$topic" --create-topic --partitions "$partitions" /dev/null ||
		die "unable to create topic $topic on $brokers (is the broker running? scripts/kafka.sh start)"
done
bin/wifiq produce -q --brokers "$brokers" --topic "$input" --create-topic --partitions "$partitions" "$probes" ||
	die "unable to send the probe requests to topic $input"

# timed NAME COMMAND...: runs COMMAND with stderr to $dir/stderr-NAME and
# prints its wall-clock seconds. A failure prints that stderr and exits.
timed() {
	local name=$1 start end
	shift
	start=$(date +%s.%N)
	if ! "$@" 2>"$dir/stderr-$name"; then
		echo "bench-enrich: $name failed:" >&2
		cat "$dir/stderr-$name" >&2
		exit 1
	fi
	end=$(date +%s.%N)
	awk -v start="$start" -v end="$end" 'BEGIN { printf "%.2f\n", end - start }'
}
kcat_jq_kcat() {
	kcat -C -b "$brokers" -t "$input" -o beginning -e -q | jq_enrich | kcat -P -b "$brokers" -t "$out_r1"
}
enrich_file() {
	bin/wifiq enrich --devices "$devices_csv" "$probes" >"$dir/enriched-wifiq.jsonl"
}
jq_file() {
	jq_enrich "$probes" >"$dir/enriched-jq.jsonl"
}
consume_produce() {
	bin/wifiq consume -q --brokers "$brokers" --topic "$input" | bin/wifiq produce -q --brokers "$brokers" --topic "$out_r2"
}
# count TOPIC [FILE]: prints the number of records in a topic, from the
# summary line of wifiq consume, and writes the records to FILE.
count() {
	local summary
	summary=$({ bin/wifiq consume --brokers "$brokers" --registry "$registry" --topic "$1" 2>&1 >"${2:-/dev/null}" || true; } | grep '^consumed ') ||
		die "unable to read topic $1 back with wifiq consume"
	sed -E 's/^consumed ([0-9]+) records? from topic .*/\1/' <<<"$summary"
}

# The Avro input: split copies the probe requests to a topic of their own
# as Avro values. Every default route also goes there, because split needs
# each route's topic to exist, and the input holds only probe requests.
# shellcheck disable=SC2046 # the routes are separate arguments.
seconds_avro_copy=$(timed split-avro bin/wifiq split -q --brokers "$brokers" --registry "$registry" \
	--from "kafka:$input" --to kafka --group "$prefix-split-avro" --format avro \
	$(printf -- "--route %s=$avro_input " 4 8 27 28 29 36))
count_avro_input=$(count "$avro_input")
((count_avro_input == total)) || die "split --format avro wrote $count_avro_input records to topic $avro_input, want $total"

echo "input: $total probe requests ($(wc -l <"$dir/capture-probes.jsonl") of the capture, repeated) in $probes, $(du -m "$probes" | cut -f1) MB; $macs source addresses, $listed of them among the $(wc -l <"$devices_json") devices of the list"
echo "broker: $brokers, topics with $partitions partitions; $(kcat -V | grep -o 'librdkafka [0-9.]*' || echo 'librdkafka of unknown version'); $(jq --version)"
echo "Avro input: topic $avro_input, written by wifiq split --format avro in $seconds_avro_copy s, schema registry $registry"
echo "machine: $(nproc) cores, load average before the runs: $(cut -d ' ' -f 1-3 /proc/loadavg)"
# Each Avro run follows its JSON run, so that both see about the same load.
seconds_a=$(timed wifiq-group bin/wifiq enrich --brokers "$brokers" --from "kafka:$input" --to "kafka:$out_a" --group "$prefix" --devices "$devices_csv")
seconds_d=$(timed wifiq-group-avro env WIFIQ_SCHEMA_REGISTRY_URL="$registry" \
	bin/wifiq enrich --brokers "$brokers" --from "kafka:$avro_input" --to "kafka:$out_d" --group "$prefix-avro" --devices "$devices_csv")
seconds_b=$(timed wifiq bin/wifiq enrich --brokers "$brokers" --from "kafka:$input" --to "kafka:$out_b" --devices "$devices_csv")
seconds_e=$(timed wifiq-avro env WIFIQ_SCHEMA_REGISTRY_URL="$registry" \
	bin/wifiq enrich --brokers "$brokers" --from "kafka:$avro_input" --to "kafka:$out_e" --devices "$devices_csv")
seconds_r1=$(timed kcat-jq-kcat kcat_jq_kcat)
seconds_r2=$(timed consume-produce consume_produce)
seconds_c=$(timed wifiq-file enrich_file)
seconds_r3=$(timed jq-file jq_file)

count_a=$(count "$out_a" "$dir/topic-wifiq-group.jsonl")
count_b=$(count "$out_b" "$dir/topic-wifiq.jsonl")
count_d=$(count "$out_d" "$dir/topic-wifiq-group-avro.jsonl")
count_e=$(count "$out_e" "$dir/topic-wifiq-avro.jsonl")
count_r1=$(count "$out_r1")
count_r2=$(count "$out_r2")
count_c=$(wc -l <"$dir/enriched-wifiq.jsonl")
count_r3=$(wc -l <"$dir/enriched-jq.jsonl")

printf '%-44s %9s %11s %10s\n' run seconds records/s output
row() {
	awk -v name="$1" -v n="$total" -v s="$2" -v c="$3" \
		'BEGIN { if (s <= 0) s = 0.01; printf "%-44s %9.2f %11.0f %10d\n", name, s, n / s, c }'
}
row "a. wifiq enrich topic to topic, --group" "$seconds_a" "$count_a"
row "b. wifiq enrich topic to topic" "$seconds_b" "$count_b"
row "d. wifiq enrich Avro topic to topic, --group" "$seconds_d" "$count_d"
row "e. wifiq enrich Avro topic to topic" "$seconds_e" "$count_e"
row "r1. kcat -C | jq (join) | kcat -P" "$seconds_r1" "$count_r1"
row "r2. wifiq consume | wifiq produce (no join)" "$seconds_r2" "$count_r2"
row "c. wifiq enrich FILE" "$seconds_c" "$count_c"
row "r3. jq (join) FILE" "$seconds_r3" "$count_r3"
awk -v a="$seconds_a" -v b="$seconds_b" -v d="$seconds_d" -v e="$seconds_e" -v r1="$seconds_r1" -v r2="$seconds_r2" -v c="$seconds_c" -v r3="$seconds_r3" 'BEGIN {
	if (a <= 0) a = 0.01
	if (b <= 0) b = 0.01
	if (c <= 0) c = 0.01
	if (d <= 0) d = 0.01
	if (e <= 0) e = 0.01
	printf "ratio a/r1: exactly-once wifiq enrich joins %.1f times as many records per second as kcat | jq | kcat\n", r1 / a
	printf "ratio a/r2: it runs at %.2f of the rate of wifiq consume | wifiq produce without a join\n", r2 / a
	printf "ratio a/b: with transactions it runs at %.2f of the rate without\n", b / a
	printf "ratio d/a: on Avro input, exactly-once enrich runs at %.2f of its rate on JSON input\n", a / d
	printf "ratio e/b: on Avro input, enrich without a group runs at %.2f of its rate on JSON input\n", b / e
	printf "ratio c/r3: from a file, wifiq enrich joins %.1f times as many records per second as jq\n", r3 / c
}'
# The Avro input ends with the commit markers of split's transactions. A
# wifiq that does not take a marker as the end of its partition waits 30 s
# for records after the last one, which this note reports.
if grep -q 'no records arrived although the input end offsets were not reached' "$dir/stderr-wifiq-group-avro"; then
	awk -v n="$total" -v d="$seconds_d" 'BEGIN {
		if (d > 30.5) printf "note: run d waited 30 s for records after the last one; without that wait it ran at about %.0f records/s, an estimate\n", n / (d - 30)
		else print "note: run d waited 30 s for records after the last one"
	}'
fi
echo "topics left on $brokers: $input $avro_input $out_a $out_b $out_r1 $out_r2 $out_d $out_e"
echo "delete them with Kafka's topic tool (org.apache.kafka.tools.TopicCommand in the jars of scripts/kafka.sh):"
echo "  kafka-topics.sh --bootstrap-server $brokers --delete --topic '$prefix-.*'"
echo "the schema of $avro_input stays in $registry under the subject $avro_input-value"

status=0
# jq re-encodes wifiq's output, so that both use the same JSON escapes.
if ! jq -c . "$dir/enriched-wifiq.jsonl" | cmp -s - "$dir/enriched-jq.jsonl"; then
	echo "bench-enrich: wifiq enrich and the jq join differ; compare $dir/enriched-wifiq.jsonl with $dir/enriched-jq.jsonl" >&2
	status=1
fi
# The Avro runs must write the records of their JSON runs, in any order.
for pair in wifiq-group:wifiq-group-avro wifiq:wifiq-avro; do
	json_file="$dir/topic-${pair%:*}.jsonl"
	avro_file="$dir/topic-${pair#*:}.jsonl"
	LC_ALL=C sort -o "$json_file" "$json_file"
	LC_ALL=C sort -o "$avro_file" "$avro_file"
	if ! cmp -s "$json_file" "$avro_file"; then
		echo "bench-enrich: the records of enrich on Avro input and on JSON input differ; compare $json_file with $avro_file" >&2
		status=1
	fi
done
for pair in "$out_a:$count_a" "$out_b:$count_b" "$out_d:$count_d" "$out_e:$count_e" "$out_r1:$count_r1" "$out_r2:$count_r2" "file:$count_c" "jq-file:$count_r3"; do
	if [[ ${pair##*:} != "$total" ]]; then
		echo "bench-enrich: ${pair%:*} contains ${pair##*:} records, want $total" >&2
		status=1
	fi
done
exit "$status"
