#!/usr/bin/env bash
# Runs every fuzz target of the module for a short fixed time each
# (FUZZTIME, default 5s), after the seed corpora (f.Add and
# testdata/fuzz/<Target>/) have run as part of go test. A failure leaves
# the crashing input under testdata/fuzz/<Target>/ and stops the script.
#   scripts/fuzz.sh                 # every target
#   scripts/fuzz.sh ./ingest        # the targets of some packages
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-5s}"
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
fi
n=0
for pkg in "${pkgs[@]}"; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
		n=$((n + 1))
	done
done
echo "fuzz.sh: $n targets, $fuzztime each, no failure"
