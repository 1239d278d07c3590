#!/usr/bin/env bash
# The probe reports next to DuckDB: wifiq stats devices and wifiq
# fingerprint against the same aggregation in SQL, which DuckDB (through
# wifiq query, with SET threads=1) runs over the same JSON lines. Both run
# on one CPU core. Then the memory of both with 1,000 and with 100,000
# distinct keys in generated records.
#
# Usage: scripts/bench-stats.sh
# Environment: WIFIQ, the wifiq binary to measure (default: build bin/wifiq);
# BENCH_DIR, where the record files go (default /tmp/wifiq-bench-stats,
# about 2.2 GB).
# Needs: go, GNU time, taskset, python3 (to check that both tools agree),
# and for a missing benchmark capture what scripts/bench-decode.sh needs.
set -euo pipefail

cd "$(dirname "$0")/.."
dir=${BENCH_DIR:-/tmp/wifiq-bench-stats}
capture=testdata/bench/radiotap-1000000.pcap
mkdir -p "$dir"

for tool in /usr/bin/time taskset python3; do
	command -v "$tool" >/dev/null || { echo "bench-stats: $tool is not installed" >&2; exit 1; }
done
if [[ -z ${WIFIQ:-} ]]; then
	go build -o bin/wifiq ./cmd/wifiq
	WIFIQ=bin/wifiq
fi
if ! "$WIFIQ" fingerprint --help >/dev/null 2>&1; then
	echo "bench-stats: $WIFIQ has no fingerprint command; build it from a tree whose commands/root.go adds NewCmdFingerprint, or set WIFIQ" >&2
	exit 1
fi
if [[ ! -s $capture ]]; then
	scripts/bench-decode.sh
fi

# Records of the benchmark capture, decoded again when the capture is newer.
records="$dir/radiotap.jsonl"
if [[ ! -s $records || $capture -nt $records ]]; then
	"$WIFIQ" replay-pcap -q "$capture" >"$records.tmp"
	mv "$records.tmp" "$records"
fi

# generate FILE KEYS REPORT: 1,000,000 probe requests, one every 100 ms,
# with KEYS distinct keys of REPORT. For devices, each probe comes from one
# of KEYS randomised addresses, drawn at random. For fingerprint, the
# probes come in runs of 10 from KEYS signatures (vendor data) in turn,
# each run from three addresses of its own, so every signature has
# sessions of three addresses.
generate() {
	local file=$1 keys=$2 report=$3
	[[ -s $file ]] && return
	awk -v keys="$keys" -v report="$report" 'BEGIN {
		srand(1)
		for (i = 0; i < 1000000; i++) {
			if (report == "devices") {
				device = int(rand() * keys); signature = device % 50
			} else {
				signature = int(i / 10) % keys; device = signature * 3 + i % 3
			}
			mac = sprintf("02:%02x:%02x:%02x:%02x:00", int(device / 16777216) % 256, int(device / 65536) % 256, int(device / 256) % 256, device % 256)
			printf "{\"timestamp\":\"%.0f\",\"wlan_fc_type_subtype\":[\"4\"],\"wlan_radio_signal_dbm\":[\"%d\"],", 1714521600000 + i * 100, -40 - int(rand() * 50)
			printf "\"wlan_da\":[\"ff:ff:ff:ff:ff:ff\"],\"wlan_sa\":[\"%s\"],\"wlan_sa_resolved\":[\"%s\"],", mac, mac
			printf "\"wlan_tag_vendor_data\":[\"02:00:%02x:%02x:%02x:00\"],\"wlan_tag_vendor_oui_type\":[\"2\"],\"wlan_tag_oui\":[\"4120\"],", int(signature / 65536) % 256, int(signature / 256) % 256, signature % 256
			printf "\"wlan_ssid\":[\"net-%d\"]}\n", device % 50
		}
	}' >"$file.tmp"
	mv "$file.tmp" "$file"
}
for keys in 1000 100000; do
	generate "$dir/devices-$keys.jsonl" "$keys" devices
	generate "$dir/fingerprint-$keys.jsonl" "$keys" fingerprint
done

# The SQL of both reports, as wifiq's tests check them against wifiq.
devices_sql() {
	cat <<EOF
SET threads=1;
WITH r AS (
  SELECT CAST(timestamp AS BIGINT) AS ts, wlan_fc_type_subtype[1] AS subtype,
         coalesce(device_name[1], wlan_sa_resolved[1], wlan_sa[1], wlan_ta_resolved[1], wlan_ta[1]) AS device,
         TRY_CAST(wlan_radio_signal_dbm[1] AS BIGINT) AS dbm, NULLIF(wlan_ssid[1], '') AS ssid, wlan_da[1] AS da
  FROM read_json('$1', format='newline_delimited', columns={timestamp: 'VARCHAR', wlan_fc_type_subtype: 'VARCHAR[]',
    device_name: 'VARCHAR[]', wlan_sa_resolved: 'VARCHAR[]', wlan_sa: 'VARCHAR[]', wlan_ta_resolved: 'VARCHAR[]', wlan_ta: 'VARCHAR[]',
    wlan_radio_signal_dbm: 'VARCHAR[]', wlan_ssid: 'VARCHAR[]', wlan_da: 'VARCHAR[]'}))
SELECT device, count(*) AS probes, min(ts) AS earliest, max(ts) AS latest, min(dbm) AS min_dbm, max(dbm) AS max_dbm,
       round(avg(dbm), 1) AS avg_dbm, list(DISTINCT ssid) FILTER (WHERE ssid IS NOT NULL) AS ssids,
       count(DISTINCT ssid) AS distinct_ssids, count(DISTINCT da) AS distinct_destinations
FROM r WHERE subtype = '4' GROUP BY device;
EOF
}

fingerprint_sql() {
	cat <<EOF
SET threads=1;
WITH p AS (
  SELECT CAST(timestamp AS BIGINT) AS ts, coalesce(wlan_sa[1], wlan_ta[1]) AS sa, TRY_CAST(wlan_radio_signal_dbm[1] AS BIGINT) AS dbm,
         wlan_tag_vendor_data AS vendor_data, wlan_tag_vendor_oui_type AS vendor_oui_types, wlan_tag_oui AS vendor_ouis
  FROM read_json('$1', format='newline_delimited', columns={timestamp: 'VARCHAR', wlan_fc_type_subtype: 'VARCHAR[]',
    wlan_sa: 'VARCHAR[]', wlan_ta: 'VARCHAR[]', wlan_radio_signal_dbm: 'VARCHAR[]',
    wlan_tag_vendor_data: 'VARCHAR[]', wlan_tag_vendor_oui_type: 'VARCHAR[]', wlan_tag_oui: 'VARCHAR[]'})
  WHERE wlan_fc_type_subtype[1] = '4'),
g AS (SELECT *, ts - lag(ts) OVER (PARTITION BY vendor_data, vendor_oui_types, vendor_ouis ORDER BY ts) AS pause FROM p),
s AS (SELECT *, sum(CASE WHEN pause > 300000 THEN 1 ELSE 0 END)
        OVER (PARTITION BY vendor_data, vendor_oui_types, vendor_ouis ORDER BY ts ROWS UNBOUNDED PRECEDING) AS session FROM g)
SELECT vendor_data, vendor_oui_types, vendor_ouis, count(*) AS probes, count(DISTINCT sa) AS macs, list(DISTINCT sa) AS mac_list,
       min(ts) AS first, max(ts) AS last, min(dbm) AS min_dbm, max(dbm) AS max_dbm, map_entries(histogram(dbm)) AS dbm_histogram
FROM s GROUP BY vendor_data, vendor_oui_types, vendor_ouis, session
HAVING count(DISTINCT sa) >= 3;
EOF
}

# measure NAME CMD...: runs CMD on core 0 with its output in $dir/out-NAME
# and prints the seconds, the peak resident memory in KiB and the CPU
# seconds (user and system). CPU seconds change less than wall seconds
# when other work shares the core.
measure() {
	local name=$1; shift
	/usr/bin/time -o "$dir/time-$name" -f '%e %M %U %S' taskset -c 0 "$@" >"$dir/out-$name" 2>"$dir/stderr-$name" </dev/null || {
		echo "bench-stats: $name failed:" >&2; cat "$dir/stderr-$name" >&2; exit 1
	}
	tail -1 "$dir/time-$name" | awk '{ print $1, $2, $3 + $4 }'
}

# summary FILE: the rows of a JSON lines report and the sum of their probes,
# to check that both tools computed the same table.
summary() {
	python3 -c 'import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print(len(rows), "rows,", sum(r["probes"] for r in rows), "probes")' "$1"
}

printf '%-12s %-22s %8s %12s %12s %8s\n' report input tool seconds "CPU seconds" "max RSS MiB"
run() {
	local report=$1 input=$2 label=$3 name w_sec w_kib w_cpu d_sec d_kib d_cpu w_sum d_sum
	name="$report-${label//[ ,]/}"
	devices_sql "$input" >"$dir/devices.sql"
	fingerprint_sql "$input" >"$dir/fingerprint.sql"
	if [[ $report == devices ]]; then
		read -r w_sec w_kib w_cpu < <(GOMAXPROCS=1 measure "wifiq-$name" "$WIFIQ" stats devices -o json "$input")
	else
		read -r w_sec w_kib w_cpu < <(GOMAXPROCS=1 measure "wifiq-$name" "$WIFIQ" fingerprint -o json "$input")
	fi
	read -r d_sec d_kib d_cpu < <(GOMAXPROCS=1 measure "duckdb-$name" "$WIFIQ" query --no-cache -o json -f "$dir/$report.sql")
	# measure runs in a subshell, so a failure shows as a missing result.
	[[ -n ${w_sec:-} && -n ${d_sec:-} ]] || exit 1
	w_sum=$(summary "$dir/out-wifiq-$name")
	d_sum=$(summary "$dir/out-duckdb-$name")
	awk -v r="$report" -v input="$label" -v ws="$w_sec" -v wk="$w_kib" -v wc="$w_cpu" -v ds="$d_sec" -v dk="$d_kib" -v dc="$d_cpu" 'BEGIN {
		if (ws <= 0) ws = 0.01
		if (wc <= 0) wc = 0.01
		printf "%-12s %-22s %8s %12.2f %12.2f %8.1f\n", r, input, "wifiq", ws, wc, wk / 1024
		printf "%-12s %-22s %8s %12.2f %12.2f %8.1f\n", r, input, "duckdb", ds, dc, dk / 1024
		printf "%-12s %-22s %8s %12.2f %12.2f %8.2f\n", r, input, "ratio", ds / ws, dc / wc, wk / dk
	}'
	if [[ $w_sum != "$d_sum" ]]; then
		echo "bench-stats: $report on $label: wifiq has $w_sum, DuckDB $d_sum" >&2
		exit 1
	fi
}

run devices "$records" capture
run fingerprint "$records" capture
run devices "$dir/devices-1000.jsonl" "1,000 devices"
run devices "$dir/devices-100000.jsonl" "100,000 devices"
run fingerprint "$dir/fingerprint-1000.jsonl" "1,000 signatures"
run fingerprint "$dir/fingerprint-100000.jsonl" "100,000 signatures"
echo "ratio rows: DuckDB seconds / wifiq seconds, the same for CPU seconds, then wifiq memory / DuckDB memory"
echo "capture: $records, $(wc -l <"$records") records; generated files: 1,000,000 probe requests each"
