#!/usr/bin/env bash
# Documents per second into OpenSearch: wifiq sink elasticsearch (bulk
# requests of 5,000 documents, refresh=false) next to one index request per
# document over one keep-alive connection, as a naive connector sends them,
# on the same records in the same run.
#
# The one-at-a-time run indexes only the first SAMPLE records (default
# 5,000) and its rate is extrapolated to ROWS: at a few hundred documents
# per second, 1,000,000 of them would take about an hour.
#
# Usage: scripts/bench-elasticsearch.sh [ROWS] [SAMPLE]   (default 1000000 5000)
# Needs: the server of scripts/opensearch.sh (started here if needed), curl,
# python3, and the records that scripts/bench-decode.sh's capture gives.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
sample=${2:-5000}
dir=testdata/bench
mkdir -p "$dir" bin

scripts/opensearch.sh start >/dev/null
# shellcheck disable=SC1091
. "${WIFIQ_STATE:-/tmp/wifiq-servers}/opensearch/env"
url=$WIFIQ_OPENSEARCH_URL
go build -o bin/wifiq ./cmd/wifiq

records="$dir/radiotap-1000000.jsonl"
if [[ ! -s $records ]]; then
	[[ -s $dir/radiotap-1000000.pcap ]] || scripts/bench-decode.sh >/dev/null
	bin/wifiq replay-pcap -q "$dir/radiotap-1000000.pcap" >"$records"
fi
input="$dir/elasticsearch-$rows.jsonl"
head -n "$rows" "$records" >"$input"
have=$(wc -l <"$input")
if ((have < rows)); then
	echo "bench-elasticsearch: $records has only $have records, fewer than $rows" >&2
	exit 1
fi

stamp=$(date +%s)
batched="bench-batched-$stamp"
single="bench-single-$stamp"

count() {
	curl -sS -XPOST "$url/$1/_refresh" >/dev/null
	curl -sS "$url/$1/_count" | sed -n 's/.*"count":\([0-9]*\).*/\1/p'
}

cleanup() {
	curl -sS -XDELETE "$url/$batched,$single?ignore_unavailable=true" >/dev/null || true
}
trap cleanup EXIT

# seconds CMD...: wall-clock seconds of a command.
seconds() {
	local start end
	start=$(date +%s.%N)
	"$@"
	end=$(date +%s.%N)
	echo "$end - $start" | bc
}

t_batched=$(seconds bin/wifiq sink elasticsearch -q --url "$url" --index "$batched" "$input")
n_batched=$(count "$batched")

head -n "$sample" "$input" >"$dir/elasticsearch-sample.jsonl"
single_run() {
	python3 - "$url" "$single" "$dir/elasticsearch-sample.jsonl" <<'PY'
import http.client, sys, urllib.parse
url, index, path = sys.argv[1:4]
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
with open(path, "rb") as f:
    for line in f:
        conn.request("POST", f"/{index}/_doc", body=line.rstrip(b"\n"),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status not in (200, 201):
            sys.exit(f"status {resp.status} for a document")
PY
}
t_single=$(seconds single_run)
n_single=$(count "$single")

awk -v r="$rows" -v s="$sample" -v tb="$t_batched" -v ts="$t_single" -v nb="$n_batched" -v ns="$n_single" 'BEGIN {
	printf "%-44s %9s %10s %9s\n", "run", "seconds", "docs/s", "docs"
	printf "%-44s %9.2f %10.0f %9d\n", "wifiq sink elasticsearch (bulk 5000)", tb, r / tb, nb
	printf "%-44s %9.2f %10.0f %9d\n", "one request per document (sample)", ts, s / ts, ns
	printf "one request per document, extrapolated to %d docs: %.0f s\n", r, ts * r / s
	printf "ratio: wifiq sink elasticsearch indexes %.1f times as many documents per second\n", (r / tb) / (s / ts)
}'
if ((n_batched != rows || n_single != sample)); then
	echo "bench-elasticsearch: document counts differ from the input ($n_batched of $rows, $n_single of $sample)" >&2
	exit 1
fi
