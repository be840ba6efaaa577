#!/bin/sh
# Search over HTTP, two builds side by side: `quarry serve` and `quarry
# bench` of commit A, then of commit B, in turn, ROUNDS times, on one
# SciFact knowledge base each (ingested by each build: the index format
# may differ between commits), with the load average
# before each run and the CPU time the server spent per request (from
# /proc, user + system) beside the client's. The machine is shared, so
# only figures of one run of this script are compared.
#
# Usage: scripts/httpab.sh A B [DATASET_DIR]     (from the repository root; A, B: commits)
# Environment: ROUNDS (default 3), REQUESTS per level (default 3000),
# CLIENTS (default 1,64), SHARED (default ../shared), PEERS (default $SHARED/peers).
set -eu

A=$1 B=$2
SHARED=${SHARED:-../shared}
DS=${3:-$SHARED/eval/scifact}
PEERS=${PEERS:-$SHARED/peers}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-3000}
CLIENTS=${CLIENTS:-1,64}

W=$(mktemp -d /tmp/quarry-httpab.XXXXXX)
trap 'rm -rf "$W"' EXIT
for rev in "$A" "$B"; do
	mkdir "$W/src-$rev"
	git archive "$rev" | tar -x -C "$W/src-$rev"
	(cd "$W/src-$rev" && go build -o "$W/quarry-$rev" ./cmd/quarry)
done
python3 "$PEERS/prep.py" "$DS" "$W/q.tsv" test >/dev/null
for rev in "$A" "$B"; do
	"$W/quarry-$rev" eval "$DS" --split test --modes hybrid --data "$W/kb-$rev" >/dev/null
done

port=18700
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for rev in "$A" "$B"; do
		port=$((port + 1))
		"$W/quarry-$rev" serve --data "$W/kb-$rev" --addr 127.0.0.1:$port --log-level warn 2>"$W/serve.log" &
		sp=$!
		until curl -sf http://127.0.0.1:$port/readyz >/dev/null; do
			kill -0 $sp 2>/dev/null || { cat "$W/serve.log" >&2; exit 1; }
			sleep 0.1
		done
		t0=$(awk '{print $14 + $15}' /proc/$sp/stat)
		echo "round $r, $rev, load $(cut -d' ' -f1-3 /proc/loadavg)"
		/usr/bin/time -f "client CPU %U + %S s" "$W/quarry-$rev" bench --data "$W/kb-$rev" --queries "$W/q.tsv" --k 10 \
			--clients "$CLIENTS" --requests "$REQUESTS" --in-process=false --http http://127.0.0.1:$port 2>&1 |
			grep -E '^\| [0-9]|client CPU'
		t1=$(awk '{print $14 + $15}' /proc/$sp/stat)
		n=$(echo "$CLIENTS" | tr ',' '\n' | wc -l)
		echo "server CPU: $(echo "($t1 - $t0) * 10 / ($n * $REQUESTS + 50)" | bc -l | cut -c1-5) ms per request"
		kill $sp
		wait $sp 2>/dev/null || true
	done
	r=$((r + 1))
done
