#!/bin/sh
# Instructions per scheduler operation, counted by callgrind on the plain
# loop of benches/pair_loop.rs: the difference between a long and a short
# run, so building the fleet cancels out. Unlike times, the counts do not
# move with the host's load, so before/after comparisons hold on a busy
# machine (BENCHMARKS.md quotes them).
#
#   benches/instructions.sh [MODE...]
#
# MODE as pair_loop takes it (pair:LAYOUT, reject:GPUS, fleet:GPUS); by
# default pair:40,40,40,40 and pair:CPX/NPS4. Every policy is counted.
# Needs valgrind (apt-get install valgrind). Progress goes to stderr, one
# line per mode and policy to stdout: MODE POLICY INSTRUCTIONS.
set -eu

command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }
cd "$(dirname "$0")/.."

echo "building the loop (cargo bench --bench pair_loop --no-run)" >&2
binary=$(cargo bench --bench pair_loop --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p')
[ -x "$binary" ] || { echo "instructions.sh: could not find the pair_loop binary" >&2; exit 1; }

[ $# -gt 0 ] || set -- pair:40,40,40,40 pair:CPX/NPS4
short=10000
long=60000

# Instructions callgrind counts for one run of COUNT operations.
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$binary" "$1" "$2" "$3" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

for mode in "$@"; do
    for policy in aim first-fit best-fit frag-aware spread; do
        echo "  $mode $policy" >&2
        a=$(count "$mode" "$policy" "$short")
        b=$(count "$mode" "$policy" "$long")
        echo "$mode $policy $(( (b - a) / (long - short) ))"
    done
done
