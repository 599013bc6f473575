#!/usr/bin/env bash
# Guest instructions per second of an engine on the CPU-bound benchmark
# guest (bench/guests/interp_bench.c).
#
# usage: interp_bench.sh [--popek PATH] [--accel ENGINE] [--runs N] [GUEST.elf]
#
# Runs the guest N times (default 3) with --stats, checks that it exited
# with its checksum verified (status 1: debug-exit 0), and prints for each
# run the guest instructions executed (the engine's "instructions executed"
# counter), the wall time and the rate, then the best rate.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
popek=${POPEK:-popek}
accel=interp
runs=3
while [ $# -gt 0 ]; do
    case "$1" in
    --popek) popek=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "interp_bench.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
elf=${1:-$here/../build/bench/interp_bench.elf}
[ -f "$elf" ] || { echo "interp_bench.sh: no guest at $elf (build target interp_bench)" >&2; exit 2; }

best=0
for r in $(seq 1 "$runs"); do
    log=$(mktemp)
    t0=$(date +%s%N)
    status=0
    "$popek" run --accel "$accel" --stats "$elf" >/dev/null 2>"$log" || status=$?
    t1=$(date +%s%N)
    if [ "$status" -ne 1 ]; then
        echo "interp_bench.sh: run $r: exit status $status (1 = checksum ok)" >&2
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    insns=$(sed -n 's/^ *instructions executed *\([0-9]*\)$/\1/p' "$log" | head -1)
    rm -f "$log"
    [ -n "$insns" ] || { echo "interp_bench.sh: engine $accel prints no instruction count" >&2; exit 1; }
    ns=$((t1 - t0))
    rate=$(awk -v i="$insns" -v n="$ns" 'BEGIN { printf "%.1f", i / n * 1000 }')
    printf 'run %d: %d guest instructions in %.3f s: %s M instructions/s\n' \
        "$r" "$insns" "$(awk -v n="$ns" 'BEGIN { print n / 1e9 }')" "$rate"
    best=$(awk -v a="$best" -v b="$rate" 'BEGIN { print (b > a) ? b : a }')
done
echo "best: $best M guest instructions/s ($accel)"
