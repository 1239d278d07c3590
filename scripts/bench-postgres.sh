#!/usr/bin/env bash
# Rows per second into PostgreSQL: wifiq sink postgres (COPY into a staging
# table, one merge per batch) next to one INSERT statement per row, as a
# Kafka Connect JDBC sink in insert mode sends them, on the same records
# and the same table. The row-at-a-time run takes the first SINGLE_ROWS of
# the same records, because one INSERT per row takes minutes for 1,000,000:
# the ratio compares rows per second.
#
# Usage: scripts/bench-postgres.sh [ROWS [SINGLE_ROWS]]   (default 1000000 100000)
# Needs: the server of scripts/postgres.sh (started here if needed), psql,
# python3, and the records that scripts/bench-decode.sh's capture gives.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
single_rows=${2:-100000}
if ((single_rows > rows)); then
	single_rows=$rows
fi
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
single_sample="$dir/postgres-single-$single_rows.jsonl"
head -n "$single_rows" "$records" >"$single_sample"

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
python3 - "$single_sample" "$single" "$batched" >"$dir/postgres-$single_rows.sql" <<'PY'
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
t_single=$(seconds psql -q -v ON_ERROR_STOP=1 -f "$dir/postgres-$single_rows.sql")

n_batched=$(psql -At -c "SELECT count(*) FROM \"$batched\"")
n_single=$(psql -At -c "SELECT count(*) FROM \"$single\"")
psql -q -c "DROP TABLE \"$batched\"; DROP TABLE \"$single\""

awk -v r="$rows" -v s="$single_rows" -v tb="$t_batched" -v ts="$t_single" -v nb="$n_batched" -v ns="$n_single" 'BEGIN {
	printf "%-36s %9s %12s %8s\n", "run", "seconds", "rows/s", "rows"
	printf "%-36s %9.2f %12.0f %8d\n", "wifiq sink postgres (batched)", tb, r / tb, nb
	printf "%-36s %9.2f %12.0f %8d\n", "one INSERT per row (psql)", ts, s / ts, ns
	printf "ratio: wifiq sink postgres writes %.1f times as many rows per second\n", (r / tb) / (s / ts)
}'
