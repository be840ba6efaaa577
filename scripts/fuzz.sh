#!/usr/bin/env bash
# Runs every fuzz target of the module for a short fixed time each
# (FUZZTIME, default 5s), after the seed corpora (f.Add and
# testdata/fuzz/<Target>/) have run as part of go test. A failure leaves
# the crashing input under testdata/fuzz/<Target>/ and stops the script.
#   scripts/fuzz.sh                 # every target
#   scripts/fuzz.sh ./ingest        # the targets of some packages
#
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded"
# when -fuzztime runs out while a worker is mid-input (golang/go#75804,
# fixed in Go 1.27). That is not a finding: no input is written. A run
# that fails that way without writing a new input under testdata/fuzz is
# retried once with an execution-count budget (no wall-clock deadline to
# race); any failure that writes an input, or fails again, fails the script.
#
# Each input that finds new coverage is minimised before fuzzing goes on,
# by default for up to 60s and by a pass quadratic in the input's length:
# on a target whose inputs are kilobytes and take a millisecond (the
# Office parsers) that used all of a 5s run (about 0 execs/s). Minimising
# serves nobody in a short run (a failing input is written either way),
# so it is capped at FUZZMINIMIZETIME (default 100 runs of the target).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-5s}"
retrycount="${FUZZRETRYCOUNT:-1000x}"
minimize="${FUZZMINIMIZETIME:-100x}"
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
fi

# corpus lists the inputs saved for a target (the seed corpus and any
# reproducer a failing run writes).
corpus() { ls "$1/testdata/fuzz/$2" 2>/dev/null | sort || true; }

n=0
for pkg in "${pkgs[@]}"; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($fuzztime)"
		before="$(corpus "$pkg" "$target")"
		log="$(mktemp)"
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg" 2>&1 | tee "$log"; then
			rm -f "$log"
			n=$((n + 1))
			continue
		fi
		after="$(corpus "$pkg" "$target")"
		if [ "$before" = "$after" ] && grep -q 'context deadline exceeded' "$log"; then
			echo "fuzz.sh: $target stopped with the coordinator's deadline race (golang/go#75804), no input written; retrying with -fuzztime $retrycount"
			rm -f "$log"
			go test -run '^$' -fuzz "^${target}\$" -fuzztime "$retrycount" -fuzzminimizetime "$minimize" "$pkg"
			n=$((n + 1))
			continue
		fi
		rm -f "$log"
		echo "fuzz.sh: $pkg $target failed; a reproducer (if any) is under $pkg/testdata/fuzz/$target/" >&2
		exit 1
	done
done
echo "fuzz.sh: $n targets, $fuzztime each, no failure"
