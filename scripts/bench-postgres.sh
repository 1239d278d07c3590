#!/usr/bin/env bash
# Rows per second into PostgreSQL: wifiq sink postgres (COPY into a staging
# table, one merge per batch) next to one INSERT statement per row, as a
# Kafka Connect JDBC sink in insert mode sends them, on the same records
# and the same table.
#
# Usage: scripts/bench-postgres.sh [ROWS]   (default 100000)
# Needs: the server of scripts/postgres.sh (started here if needed), psql,
# python3, and the records that scripts/bench-decode.sh's capture gives.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100000}
dir=testdata/bench
mkdir -p "$dir" bin

scripts/postgres.sh start >/dev/null
# shellcheck disable=SC1091
. /tmp/wifiq-servers/postgres/env
go build -o bin/wifiq ./cmd/wifiq

records="$dir/radiotap-1000000.jsonl"
if [[ ! -s $records ]]; then
	[[ -s $dir/radiotap-1000000.pcap ]] || scripts/bench-decode.sh >/dev/null
	bin/wifiq replay-pcap -q "$dir/radiotap-1000000.pcap" >"$records"
fi
sample="$dir/postgres-$rows.jsonl"
head -n "$rows" "$records" >"$sample"

stamp=$(date +%s)
batched="bench_batched_$stamp"
single="bench_single_$stamp"

# seconds CMD...: wall-clock seconds of a command.
seconds() {
	local start end
	start=$(date +%s.%N)
	"$@"
	end=$(date +%s.%N)
	echo "$end - $start" | bc
}

t_batched=$(seconds bin/wifiq sink postgres -q --table "$batched" "$sample")

# The same table, empty, for the row-at-a-time run.
psql -q -v ON_ERROR_STOP=1 -c "CREATE TABLE \"$single\" (LIKE \"$batched\" INCLUDING ALL)"
python3 - "$sample" "$single" "$batched" >"$dir/postgres-$rows.sql" <<'PY'
import json, subprocess, sys
sample, table, like = sys.argv[1:4]
# Column types as the sink created them.
out = subprocess.run(["psql", "-At", "-c",
    f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{like}'"],
    check=True, capture_output=True, text=True).stdout
types = dict(line.split("|", 1) for line in out.splitlines() if line)
def quote(s):
    return "'" + s.replace("'", "''") + "'"
def value(key, values):
    if types.get(key) == "ARRAY":
        return "ARRAY[" + ",".join(quote(v) for v in values) + "]::text[]"
    if types.get(key) == "timestamp with time zone":
        return f"to_timestamp({int(values[0])} / 1000.0)"
    return quote(values[0])
for line in open(sample):
    rec = json.loads(line)
    cols, vals = [], []
    for key, values in rec.items():
        if key not in types:
            continue
        if key == "timestamp":
            values = [values]
        cols.append('"' + key + '"')
        vals.append(value(key, values))
    print(f'INSERT INTO "{table}" ({",".join(cols)}) VALUES ({",".join(vals)});')
PY
t_single=$(seconds psql -q -v ON_ERROR_STOP=1 -f "$dir/postgres-$rows.sql")

n_batched=$(psql -At -c "SELECT count(*) FROM \"$batched\"")
n_single=$(psql -At -c "SELECT count(*) FROM \"$single\"")
psql -q -c "DROP TABLE \"$batched\"; DROP TABLE \"$single\""

awk -v r="$rows" -v tb="$t_batched" -v ts="$t_single" -v nb="$n_batched" -v ns="$n_single" 'BEGIN {
	printf "%-36s %9s %12s %8s\n", "run", "seconds", "rows/s", "rows"
	printf "%-36s %9.2f %12.0f %8d\n", "wifiq sink postgres (batched)", tb, r / tb, nb
	printf "%-36s %9.2f %12.0f %8d\n", "one INSERT per row (psql)", ts, r / ts, ns
	printf "ratio: wifiq sink postgres writes %.1f times as many rows per second\n", ts / tb
}'
