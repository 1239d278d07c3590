#!/usr/bin/env bash
# End-to-end producing throughput into a local Kafka broker, on the capture
# that scripts/bench-decode.sh builds (at least 1,000,000 radiotap frames):
#
#   a. wifiq replay-pcap --to kafka:TOPIC CAPTURE
#   b. the classic pipeline: tshark -T ek -e <22 default fields> | jq | kcat -P
#   c. ready JSON lines: wifiq produce next to kcat -P -l on the same file
#
# Each run goes to a topic of its own, created beforehand with the same
# partitions. Afterwards every topic is read back with wifiq consume to
# prove that all records arrived. Producer settings are each tool's
# defaults: wifiq sends LZ4-compressed batches with idempotent writes and
# acks=all, and kcat (librdkafka 2.0.2 in Debian 12) sends uncompressed
# batches with acks=all.
#
# The topics stay on the broker, because wifiq cannot delete topics. One run
# on the 1,704,960-frame capture left 1.9 GB in the broker's data directory,
# 0.87 GB in each of the two uncompressed kcat topics. The summary prints
# how to delete them.
#
# Usage: scripts/bench-kafka.sh [CAPTURE]
# Environment: BENCH_BROKERS (default 127.0.0.1:19092, the broker of
# scripts/kafka.sh start), BENCH_PARTITIONS (default 3).
# Needs: go, tshark and capinfos (Debian: tshark, wireshark-common), jq, kcat.
set -euo pipefail

cd "$(dirname "$0")/.."
brokers=${BENCH_BROKERS:-127.0.0.1:19092}
partitions=${BENCH_PARTITIONS:-3}
dir=testdata/bench
capture=${1:-$dir/radiotap-1000000.pcap}

die() {
	echo "bench-kafka: $*" >&2
	exit 1
}

for tool in go tshark capinfos jq kcat; do
	command -v "$tool" >/dev/null || die "$tool is not installed (Debian packages: golang, tshark, wireshark-common, jq, kcat)"
done
# Only the flags below choose the broker and its settings, not the
# WIFIQ_KAFKA_* variables of the shell (such as those of scripts/kafka.sh env).
while read -r variable; do
	unset "$variable"
done < <(compgen -e | grep '^WIFIQ_KAFKA_' || true)

mkdir -p "$dir" bin
if [[ ! -s $capture ]]; then
	[[ $capture == "$dir/radiotap-1000000.pcap" ]] || die "capture $capture not found"
	echo "bench-kafka: $capture is missing; building it with scripts/bench-decode.sh (about a minute, and it runs its own benchmark)" >&2
	scripts/bench-decode.sh 1000000
fi
go build -o bin/wifiq ./cmd/wifiq

# capinfos exits with an error on a capture cut off in the middle of a
# frame, but still counts the whole frames, as wifiq and tshark read them.
frames=$(capinfos -T -r -c "$capture" 2>/dev/null | cut -f2 || true)
[[ $frames =~ ^[0-9]+$ ]] || die "capinfos failed to count the frames of $capture"
records_file="$dir/$(basename "${capture%.*}").jsonl"
bin/wifiq replay-pcap -q "$capture" >"$records_file"
# Write the 0.9 GB of JSON lines to disk now, so that the writeback does not
# slow down the first timed run.
sync

fields=(wlan.fc.type wlan.fc.type_subtype wlan_radio.channel wlan_radio.signal_dbm wlan_radio.duration
	wlan.ra wlan.ra_resolved wlan.da wlan.da_resolved wlan.ta wlan.ta_resolved wlan.sa wlan.sa_resolved
	wlan.staa wlan.staa_resolved wlan.tagged.all wlan.tag.vendor.data wlan.tag.vendor.oui.type
	wlan.tag.oui wlan.ssid wlan.country_info.code wps.device_name)
tshark_args=(-r "$capture" -T ek)
for field in "${fields[@]}"; do
	tshark_args+=(-e "$field")
done

# Topic names unique to this run. The records carry the capture's event
# times, which are years old, so with the default retention.ms of 7 days
# Kafka could delete them at its next retention check, before they are
# counted. retention.ms=-1 keeps them.
prefix="bench-kafka-$(date -u +%Y%m%dT%H%M%SZ)-$$"
topic_replay=$prefix-replay-pcap
topic_pipeline=$prefix-tshark-jq-kcat
topic_produce=$prefix-wifiq-produce
topic_kcat=$prefix-kcat
for topic in "$topic_replay" "$topic_pipeline" "$topic_produce" "$topic_kcat"; do
	bin/wifiq produce -q --brokers "$brokers" --topic "$topic" --create-topic --partitions "$partitions" \
		--topic-config retention.ms=-1 /dev/null ||
		die "unable to create topic $topic on $brokers (is the broker running? scripts/kafka.sh start)"
done

# timed NAME COMMAND...: runs COMMAND with stderr to $dir/kafka-stderr-NAME
# and prints its wall-clock seconds. A failure prints that stderr and exits.
timed() {
	local name=$1 start end
	shift
	start=$(date +%s.%N)
	if ! "$@" 2>"$dir/kafka-stderr-$name"; then
		echo "bench-kafka: $name failed:" >&2
		cat "$dir/kafka-stderr-$name" >&2
		exit 1
	fi
	end=$(date +%s.%N)
	awk -v start="$start" -v end="$end" 'BEGIN { printf "%.2f\n", end - start }'
}

# tshark writes an {"index":...} line before each record. jq turns such a
# line into {"timestamp":null}, which kcat would send as a record of its
# own, so grep drops those lines first.
tshark_pipeline() {
	tshark "${tshark_args[@]}" |
		grep -v '^{"index":' |
		jq -c '{timestamp: .timestamp} + .layers' |
		kcat -P -b "$brokers" -t "$topic_pipeline"
}

echo "capture: $capture, $frames frames; JSON lines: $records_file, $(wc -l <"$records_file") records"
echo "broker: $brokers, topics with $partitions partitions; kcat with $(kcat -V | grep -o 'librdkafka [0-9.]*' || echo 'librdkafka of unknown version')"
echo "machine: $(nproc) cores, load average before the runs: $(cut -d ' ' -f 1-3 /proc/loadavg)"
seconds_replay=$(timed replay-pcap bin/wifiq replay-pcap --brokers "$brokers" --to "kafka:$topic_replay" "$capture")
seconds_pipeline=$(timed tshark-jq-kcat tshark_pipeline)
seconds_produce=$(timed wifiq-produce bin/wifiq produce --brokers "$brokers" --topic "$topic_produce" "$records_file")
seconds_kcat=$(timed kcat kcat -P -b "$brokers" -t "$topic_kcat" -l "$records_file")

# count TOPIC: prints the number of records in a topic and the number of
# messages that are not records, from the summary line of wifiq consume.
# Exit status 3 (messages skipped) still comes with a count.
count() {
	local summary
	summary=$({ bin/wifiq consume --brokers "$brokers" --topic "$1" 2>&1 >/dev/null || true; } | grep '^consumed ') ||
		die "unable to read topic $1 back with wifiq consume"
	sed -E 's/^consumed ([0-9]+) records? from topic [^;]+; ([0-9]+) messages? skipped$/\1 \2/' <<<"$summary"
}
counts=$(count "$topic_replay")
read -r count_replay skipped_replay <<<"$counts"
counts=$(count "$topic_pipeline")
read -r count_pipeline skipped_pipeline <<<"$counts"
counts=$(count "$topic_produce")
read -r count_produce skipped_produce <<<"$counts"
counts=$(count "$topic_kcat")
read -r count_kcat skipped_kcat <<<"$counts"

printf '%-36s %10s %12s %12s %10s\n' run seconds records/s "in topic" "not records"
row() {
	awk -v name="$1" -v n="$frames" -v s="$2" -v c="$3" -v x="$4" \
		'BEGIN { if (s <= 0) s = 0.01; printf "%-36s %10.2f %12.0f %12d %10d\n", name, s, n / s, c, x }'
}
row "a. wifiq replay-pcap --to kafka" "$seconds_replay" "$count_replay" "$skipped_replay"
row "b. tshark -T ek | grep | jq | kcat -P" "$seconds_pipeline" "$count_pipeline" "$skipped_pipeline"
row "c. wifiq produce FILE.jsonl" "$seconds_produce" "$count_produce" "$skipped_produce"
row "c. kcat -P -l FILE.jsonl" "$seconds_kcat" "$count_kcat" "$skipped_kcat"
awk -v a="$seconds_replay" -v b="$seconds_pipeline" -v p="$seconds_produce" -v k="$seconds_kcat" 'BEGIN {
	if (a <= 0) a = 0.01
	if (p <= 0) p = 0.01
	printf "ratio a/b: wifiq replay-pcap produces %.1f times as many records per second as tshark | jq | kcat (target: 30)\n", b / a
	printf "ratio c: wifiq produce sends %.2f times as many records per second as kcat -P (target: 1)\n", k / p
}'
echo "topics left on $brokers: $topic_replay $topic_pipeline $topic_produce $topic_kcat"
echo "delete them with Kafka's topic tool (org.apache.kafka.tools.TopicCommand in the jars of scripts/kafka.sh):"
echo "  kafka-topics.sh --bootstrap-server $brokers --delete --topic '$prefix-.*'"

status=0
for pair in "$topic_replay:$count_replay" "$topic_pipeline:$count_pipeline" "$topic_produce:$count_produce" "$topic_kcat:$count_kcat"; do
	if [[ ${pair##*:} != "$frames" ]]; then
		echo "bench-kafka: topic ${pair%:*} contains ${pair##*:} records, want $frames" >&2
		status=1
	fi
done
exit "$status"
