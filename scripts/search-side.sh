#!/bin/sh
# Search latency in process beside Xapian's keyword query, on one BEIR
# dataset (default SciFact's test split), ROUNDS times, back to back:
# Xapian (Debian python3-xapian, ../shared/peers/xapian_engine.py) builds
# and answers the test queries (top 100); then each given quarry binary
# answers the same queries in process with `quarry bench` (top 100, one
# client, keyword then hybrid) on DATA, a data directory that `quarry
# eval DATASET --data DATA` filled (KEEP=1 scripts/peers.sh leaves q1).
# Giving two binaries (before and after a change) compares them side by
# side on the same index.
#
# Usage: scripts/search-side.sh DATA QUARRY_BINARY...      (from the repository root)
# Environment: ROUNDS (default 2), SHARED (default ../shared), DATASET
# (default $SHARED/eval/scifact), REQUESTS (default 1000).
set -eu
[ $# -ge 2 ] || { echo "usage: scripts/search-side.sh DATA QUARRY_BINARY..." >&2; exit 2; }
DATA=$1
shift
SHARED=${SHARED:-../shared}
DS=${DATASET:-$SHARED/eval/scifact}
ROUNDS=${ROUNDS:-2}
REQUESTS=${REQUESTS:-1000}
W=$(mktemp -d /tmp/quarry-side.XXXXXX)
trap 'rm -rf "$W"' EXIT
python3 "$SHARED/peers/prep.py" "$DS" "$W/q.tsv" test >/dev/null
field() { python3 -c "import json,sys; d=json.load(sys.stdin)$1; print('mean %.2f ms, p50 %.2f ms' % (d['$2'], d['$3']))"; }
r=1
while [ "$r" -le "$ROUNDS" ]; do
	echo "== round $r"
	printf 'load %s: xapian keyword: ' "$(cut -d' ' -f1 /proc/loadavg)"
	/usr/bin/python3 "$SHARED/peers/xapian_engine.py" --dataset "$DS" --queries "$W/q.tsv" --lang en \
		--index-dir "$W/xidx" --run "$W/x.run" --stats "$W/x.json" --tag xapian >/dev/null
	field '' lat_mean_ms lat_p50_ms < "$W/x.json"
	for b in "$@"; do
		for m in keyword hybrid; do
			printf 'load %s: %s %s: ' "$(cut -d' ' -f1 /proc/loadavg)" "$b" "$m"
			"$b" bench --data "$DATA" --queries "$W/q.tsv" --k 100 --clients 1 --requests "$REQUESTS" \
				--http off --mode "$m" --json 2>/dev/null | field "['in_process'][0]" mean_ms p50_ms
		done
	done
	r=$((r + 1))
done
