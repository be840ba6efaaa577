#!/bin/sh
# Quarry and Xapian side by side on one BEIR dataset (default SciFact's
# test split), in one run on this machine, back to back, ROUNDS times:
#
#   1. Xapian (Debian python3-xapian, BM25, ../shared/peers/xapian_engine.py)
#      builds its index and answers every query once (top 100, after 50
#      warm-up queries);
#   2. quarry eval ingests the corpus (the whole pipeline: parse, chunk,
#      embed, both indexes) and measures nDCG@10 and latency (hybrid);
#   3. quarry bench answers the same queries in process (hybrid, top 100,
#      one client, after 50 warm-up queries), then over HTTP against
#      quarry serve (hybrid, top 10, 1, 8 and 64 clients).
#
# Usage: scripts/peers.sh [DATASET_DIR]      (from the repository root)
# Environment: ROUNDS (default 2), SHARED (default ../shared), PEERS (default $SHARED/peers),
# REQUESTS per HTTP level (default 3000), KEEP=1 keeps the work directory.
# Prints the load average before each step: the machine is shared, so
# compare figures within one round. Beside wall times it gives each
# process's CPU time (user + system, /usr/bin/time), which a busy machine
# disturbs less: Xapian's driver (build, then 350 queries) against quarry
# eval (ingest, then 300 hybrid queries).
set -eu

SHARED=${SHARED:-../shared}
DS=${1:-$SHARED/eval/scifact}
PEERS=${PEERS:-$SHARED/peers}
ROUNDS=${ROUNDS:-2}
REQUESTS=${REQUESTS:-3000}
[ -f "$DS/corpus.jsonl" ] || { echo "peers.sh: $DS is not a BEIR dataset directory" >&2; exit 2; }
/usr/bin/python3 -c 'import xapian' 2>/dev/null || { echo "peers.sh: needs python3-xapian (apt-get install python3-xapian)" >&2; exit 2; }

W=$(mktemp -d /tmp/quarry-peers.XXXXXX)
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$W"' EXIT
go build -o "$W/quarry" ./cmd/quarry
python3 "$PEERS/prep.py" "$DS" "$W/q.tsv" test

load() { echo "load: $(cut -d' ' -f1-3 /proc/loadavg) ($1)"; }

r=1
while [ "$r" -le "$ROUNDS" ]; do
	echo "== round $r"
	load "before Xapian"
	/usr/bin/time -f '%U %S' -o "$W/xcpu$r" /usr/bin/python3 "$PEERS/xapian_engine.py" --dataset "$DS" \
		--queries "$W/q.tsv" --lang en --index-dir "$W/xidx$r" --run "$W/x$r.run" --stats "$W/x$r.json" --tag xapian
	python3 "$PEERS/evaluate.py" "$DS" "$W/x$r.run" > "$W/xq$r.json"
	load "before quarry eval"
	/usr/bin/time -f '%U %S' -o "$W/qcpu$r" "$W/quarry" eval "$DS" --split test --modes hybrid --data "$W/q$r" --json > "$W/qe$r.json"
	load "before quarry bench (in process)"
	"$W/quarry" bench --data "$W/q$r" --queries "$W/q.tsv" --k 100 --clients 1 --requests 1000 \
		--http off --json > "$W/qb$r.json"
	load "before quarry bench (HTTP)"
	"$W/quarry" bench --data "$W/q$r" --queries "$W/q.tsv" --k 10 --clients 1,8,64 --requests "$REQUESTS" \
		--in-process=false --json > "$W/qh$r.json"
	r=$((r + 1))
done

python3 - "$W" "$ROUNDS" <<'EOF'
import json, sys
w, rounds = sys.argv[1], int(sys.argv[2])
def j(name): return json.load(open(f"{w}/{name}"))
print()
def cpu(name):
    u, s = open(f"{w}/{name}").read().split()[-2:]
    return float(u) + float(s)
print("| round | Xapian build s | Quarry ingest s | ratio | CPU s Xapian / Quarry | Xapian mean ms (keyword, top 100) | Quarry hybrid mean ms (in process, top 100) | ratio | Quarry eval hybrid mean ms | nDCG@10 Xapian / Quarry hybrid |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in range(1, rounds + 1):
    x, xq, qe, qb = j(f"x{r}.json"), j(f"xq{r}.json"), j(f"qe{r}.json"), j(f"qb{r}.json")
    hyb = qe["hybrid"]
    ing = qe["ingest"]["seconds"]
    inproc = qb["in_process"][0]["mean_ms"]
    print(f"| {r} | {x['build_s']:.2f} | {ing:.2f} | {ing / x['build_s']:.2f}x | {cpu(f'xcpu{r}'):.1f} / {cpu(f'qcpu{r}'):.1f} | {x['lat_mean_ms']:.2f} | {inproc:.2f} | {inproc / x['lat_mean_ms']:.2f}x | {hyb['latency']['mean_ms']:.2f} | {xq['nDCG@10']:.3f} / {hyb['ndcg@10']:.3f} |")
print()
print("| round | clients | requests | errors | req/s | p50 ms | p99 ms |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for r in range(1, rounds + 1):
    qh = j(f"qh{r}.json")
    for s in qh["http"]:
        print(f"| {r} | {s['clients']} | {s['requests']} | {s['errors']} | {s['per_s']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} |")
    print(f"quarry serve round {r}: /readyz after {qh['serve']['ready_seconds']:.3f} s, RSS {qh['serve']['rss_bytes'] / 2**20:.0f} MiB")
EOF
