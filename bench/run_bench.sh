#!/usr/bin/env bash
# Runs the benchmark workloads (bench/guests: CPU-bound kernels and
# nanobenchmarks) natively, on every popek engine this host can run and on
# qemu-system-i386 with TCG, and prints one Markdown table of times per
# iteration and ratios, all measured in this one run.
#
# usage: run_bench.sh [options] [BUILD_DIR]      (default: ../build)
#   --runs N      runs per workload and engine (default 3; the median counts)
#   --only LIST   comma-separated workloads (default: all)
#   --engines L   comma-separated, from native,interp,bt,kvm,qemu (default all)
#   --popek PATH  popek binary (default BUILD_DIR/cli/popek)
#   --qemu PATH   qemu-system-i386 (default from PATH; absent: no qemu column)
#   --save        also write bench/results/DATE-bench.md (and .png, with
#                 gnuplot: engine/native ratios)
#   --smoke       each workload once on interp with tiny counts, checksums
#                 against native; PASS/FAIL only (the ctest bench/smoke)
#
# Builds nothing: needs the targets popek and bench_workloads in BUILD_DIR.
# Times come from the workload itself (TSC around the kernel, the TSC rate
# measured against the PIT in a guest, against CLOCK_MONOTONIC natively);
# the wall time of each whole run (start-up included) is measured here.
# Exit status: 0 all checksums agree with native, 1 some differ or a run
# failed, 2 usage, 77 (smoke) nothing to run.
set -u

here=$(cd "$(dirname "$0")" && pwd)
runs=3 only= engines_opt=native,interp,bt,kvm,qemu popek= qemu= save=0 smoke=0
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --engines) engines_opt=$2; shift 2 ;;
    --popek) popek=$2; shift 2 ;;
    --qemu) qemu=$2; shift 2 ;;
    --save) save=1; shift ;;
    --smoke) smoke=1; shift ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_bench.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
build=${1:-$here/../build}
popek=${popek:-$build/cli/popek}
native=$build/bench/bench_native
guest=$build/bench/bench_guest.elf
for f in "$popek" "$native" "$guest"; do
    if [ ! -e "$f" ]; then
        echo "run_bench.sh: $f missing (cmake --build $build --target popek bench_workloads)" >&2
        [ $smoke -eq 1 ] && exit 77
        exit 2
    fi
done
[ -n "$qemu" ] || qemu=$(command -v qemu-system-i386 || true)

# name  engine capabilities  iterations  kvm iterations  smoke iterations
# Counts keep each run near 0.1-0.5 s on the slowest engine that runs it;
# the kvm engine (kvm_pvm here: no VT-x, KVM emulates) gets fewer.
workloads="
sieve      -              200     5      2
crc32      -              500     10     2
sort       -              1000    20     3
fib        -              3000    30     5
memops     -              3000    50     5
vm         -              2000    50     5
nbody      x87            10000   50     5
callret    -              1000000 20000  100
smc        -              20000   5000   50
syscall    pm-iret        200000  20000  50
in_port    -              500000  10000  50
cr3        paging         50000   2000   50
pte_invlpg paging         200000  5000   50
pagefault  paging,pm-iret 50000   2000   50
divfault   pm-iret        50000   2000   50
"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/popek-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
declare -A ns wall insns sum skip
status=0

# run ENGINE WORKLOAD ITERS -> R_NS (ns per iteration, "-" if the engine
# has no equivalent), R_SUM, R_WALL (s), R_INSNS (interp only); non-zero
# when the run failed (the reason in R_ERR).
run() {
    local e=$1 w=$2 n=$3 st want=1 t0 t1 line
    R_NS=- R_SUM=- R_WALL=- R_INSNS= R_ERR=
    t0=$(date +%s%N)
    case $e in
    native) want=0; "$native" "$w" "$n" >"$tmp/out" 2>"$tmp/err"; st=$? ;;
    qemu) timeout --kill-after=5 120 "$qemu" -accel tcg -kernel "$guest" -append "$w $n" \
              -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none -serial stdio \
              -no-reboot -nodefaults </dev/null >"$tmp/out" 2>"$tmp/err"; st=$? ;;
    *) "$popek" run --accel "$e" --timeout 120 --stats --append "$w $n" "$guest" \
           </dev/null >"$tmp/out" 2>"$tmp/err"; st=$? ;;
    esac
    t1=$(date +%s%N)
    line=$(tr -d '\r' <"$tmp/out" | grep -m1 '^BENCH ')
    if [ "$st" -ne "$want" ] || [ -z "$line" ]; then
        R_ERR="exit status $st: $(tr -d '\r' <"$tmp/out" "$tmp/err" | tail -3 | tr '\n' ' ')"
        return 1
    fi
    R_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    R_INSNS=$(sed -n 's/^ *instructions executed *\([0-9]*\)$/\1/p' "$tmp/err" | head -1)
    set -- $line
    local ticks=- khz=1
    for kv in "$@"; do
        case $kv in
        ticks=*) ticks=${kv#ticks=} ;;
        tsc_khz=*) khz=${kv#tsc_khz=} ;;
        checksum=*) R_SUM=${kv#checksum=} ;;
        esac
    done
    [ "$ticks" = - ] || R_NS=$(awk -v t="$ticks" -v k="$khz" -v n="$n" \
        'BEGIN { printf "%.2f", t * 1e6 / k / n }')
    return 0
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# caps ENGINE CAPS -> 0 when ENGINE runs here with CAPS; the reason in R_ERR.
declare -A caps_cache
caps_ok() {
    local key="$1:$2" args=()
    [ "$2" = - ] || IFS=, read -ra args <<<"$2"
    if [ -z "${caps_cache[$key]+x}" ]; then
        caps_cache[$key]=$("$popek" caps --accel "$1" "${args[@]}" 2>&1 && echo OK)
    fi
    R_ERR=${caps_cache[$key]}
    [ "${R_ERR##*$'\n'}" = OK ] || [ "$R_ERR" = OK ]
}

selected() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

if [ $smoke -eq 1 ]; then
    ran=0
    while read -r w caps _ _ n; do
        [ -n "$w" ] && selected "$w" || continue
        caps_ok interp "$caps" || { echo "SKIP $w: $R_ERR"; continue; }
        run native "$w" "$n" || { echo "FAIL $w native: $R_ERR"; status=1; continue; }
        want=$R_SUM
        if ! run interp "$w" "$n"; then
            echo "FAIL $w interp: $R_ERR"; status=1
        elif [ "$R_SUM" != "$want" ]; then
            echo "FAIL $w: interp checksum $R_SUM, native $want"; status=1
        else
            echo "PASS $w ($n iterations, checksum $R_SUM)"; ran=$((ran + 1))
        fi
    done <<<"$workloads"
    [ $ran -eq 0 ] && [ $status -eq 0 ] && exit 77
    exit $status
fi

# ---- which engines run here -------------------------------------------------
IFS=, read -ra engines <<<"$engines_opt"
declare -A missing
for e in "${engines[@]}"; do
    case $e in
    native) ;;
    qemu) [ -n "$qemu" ] || missing[qemu]="qemu-system-i386 not installed" ;;
    interp|bt|kvm) caps_ok "$e" - || missing[$e]=$(echo "$R_ERR" | head -1) ;;
    *) echo "run_bench.sh: unknown engine $e" >&2; exit 2 ;;
    esac
done
has() { [[ ",$engines_opt," == *",$1,"* ]] && [ -z "${missing[$1]+x}" ]; }

# ---- the runs ------------------------------------------------------------------
declare -A iters_of note why_of
names=()
while read -r w caps n kn _; do
    [ -n "$w" ] && selected "$w" || continue
    names+=("$w")
    iters_of[$w]=$n
    declare -A ref=()
    for e in "${engines[@]}"; do
        has "$e" || continue
        m=$n
        [ "$e" = kvm ] && m=$kn
        if [ "$e" != native ] && [ "$e" != qemu ] && ! caps_ok "$e" "$caps"; then
            skip[$w:$e]=1
            note[$e]="${note[$e]:-}${note[$e]:+, }$w ($caps)"
            while IFS= read -r why; do
                [[ "${why_of[$e]:-}" == *"$why"* ]] || why_of[$e]="${why_of[$e]:-}${why_of[$e]:+; }$why"
            done <<<"$R_ERR"
            continue
        fi
        if [ "$e" = kvm ]; then
            iters_of[$w]="$n (kvm $kn)"
        fi
        vals=() walls=() rates=()
        for r in $(seq 1 "$runs"); do
            if ! run "$e" "$w" "$m"; then
                echo "run_bench.sh: $w on $e: $R_ERR" >&2
                sum[$w:$e]=FAILED; status=1; vals=(); break
            fi
            vals+=("$R_NS") walls+=("$R_WALL")
            [ -n "$R_INSNS" ] && rates+=("$(awk -v i="$R_INSNS" -v s="$R_WALL" 'BEGIN { printf "%.1f", i / s / 1e6 }')")
            sum[$w:$e]=$R_SUM
        done
        [ ${#vals[@]} -gt 0 ] || continue
        [ "${vals[0]}" = - ] && ns[$w:$e]=- || ns[$w:$e]=$(median "${vals[@]}")
        wall[$w:$e]=$(median "${walls[@]}")
        [ "$e" = interp ] && [ ${#rates[@]} -gt 0 ] && insns[$w]=$(median "${rates[@]}")
        # Every engine must compute what the native program computes for
        # the same count.
        if [ -z "${ref[$m]+x}" ]; then
            if [ "$e" = native ]; then ref[$m]=$R_SUM; elif run native "$w" "$m"; then ref[$m]=$R_SUM; fi
        fi
        if [ "${sum[$w:$e]}" != "${ref[$m]:-}" ]; then
            echo "run_bench.sh: $w on $e: checksum ${sum[$w:$e]}, native ${ref[$m]:-?}" >&2
            sum[$w:$e]="BAD ${sum[$w:$e]}"; status=1
        fi
    done
    unset ref
done <<<"$workloads"

# ---- the report -----------------------------------------------------------------
cell() { # workload engine -> ns per iteration, or why there is none
    local k=$1:$2
    if [[ "${sum[$k]:-}" == BAD* ]]; then echo "WRONG (${sum[$k]#BAD })"
    elif [ "${sum[$k]:-}" = FAILED ]; then echo failed
    elif [ -n "${skip[$k]:-}" ]; then echo "n/c"
    elif [ -n "${ns[$k]:-}" ]; then
        [ "${ns[$k]}" = - ] && echo "n/a" || awk -v v="${ns[$k]}" 'BEGIN { printf (v < 100 ? "%.2f" : "%.0f"), v }'
    else echo "-"
    fi
}
ratio() { # workload engine-a engine-b
    local a=${ns[$1:$2]:-} b=${ns[$1:$3]:-}
    if [[ "$a" =~ ^[0-9.]+$ ]] && [[ "$b" =~ ^[0-9.]+$ ]] && [[ "${sum[$1:$2]}" != BAD* ]]; then
        awk -v a="$a" -v b="$b" 'BEGIN { r = a / b; printf (r < 10 ? "%.2f" : "%.0f"), r }'
    else echo "-"
    fi
}

report() {
    echo "# popek benchmarks ($(date +%Y-%m-%d))"
    echo
    echo "- Host: $(nproc)-core $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
        "Linux $(uname -r); load average before the run: $load0"
    echo "- popek: $(git -C "$here/.." describe --always --dirty 2>/dev/null || echo unknown)" \
        "($popek); QEMU: $([ -n "$qemu" ] && echo "$("$qemu" --version | head -1) ($qemu)" || echo absent)"
    echo "- Each cell: the median of $runs runs, ns per iteration, from the workload's own" \
        "TSC readings (the TSC rate measured against the PIT in the guest)."
    for e in "${engines[@]}"; do
        if [ -n "${missing[$e]+x}" ]; then echo "- $e: not run: ${missing[$e]}"
        elif [ -n "${note[$e]:-}" ]; then echo "- $e: n/c for ${note[$e]}: ${why_of[$e]}"
        fi
    done
    echo
    printf '| workload | iterations |'
    for e in "${engines[@]}"; do printf ' %s ns |' "$e"; done
    printf ' interp/native | bt/native | kvm/native | qemu/native | bt/qemu | interp/qemu | interp Minsn/s |\n'
    printf '|---|---|'
    for _ in "${engines[@]}"; do printf -- '---:|'; done
    printf -- '---:|---:|---:|---:|---:|---:|---:|\n'
    for w in "${names[@]}"; do
        printf '| %s | %s |' "$w" "${iters_of[$w]}"
        for e in "${engines[@]}"; do printf ' %s |' "$(cell "$w" "$e")"; done
        printf ' %s | %s | %s | %s | %s | %s | %s |\n' "$(ratio "$w" interp native)" \
            "$(ratio "$w" bt native)" "$(ratio "$w" kvm native)" "$(ratio "$w" qemu native)" \
            "$(ratio "$w" bt qemu)" "$(ratio "$w" interp qemu)" "${insns[$w]:--}"
    done
    echo
    echo "Wall time of a whole run (s, median; start-up, the guest's 20 ms TSC calibration"
    echo "and the exit included):"
    echo
    printf '| workload |'
    for e in "${engines[@]}"; do printf ' %s |' "$e"; done
    printf '\n|---|'
    for _ in "${engines[@]}"; do printf -- '---:|'; done
    echo
    for w in "${names[@]}"; do
        printf '| %s |' "$w"
        for e in "${engines[@]}"; do printf ' %s |' "${wall[$w:$e]:--}"; done
        echo
    done
    echo
    echo "n/a: no native equivalent (the checksum is still checked). n/c: the engine"
    echo "cannot run the workload on this host. Ratios: time per iteration of the"
    echo "first over the second; interp Minsn/s: guest instructions executed"
    echo "(popek --stats) over the wall time of the whole run."
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
report >"$tmp/report.md"
cat "$tmp/report.md"
if [ $save -eq 1 ]; then
    out=$here/results/$(date +%Y-%m-%d)-bench
    cp "$tmp/report.md" "$out.md"
    echo "saved $out.md" >&2
    if command -v gnuplot >/dev/null; then
        # One column per engine with at least one ratio (gnuplot rejects a
        # histogram column without a valid point); the workloads that have
        # a native time.
        plot= col=1 pnames=()
        for w in "${names[@]}"; do [[ "${ns[$w:native]:-}" =~ ^[0-9.]+$ ]] && pnames+=("$w"); done
        for e in interp bt kvm qemu; do
            vals=()
            for w in "${pnames[@]}"; do vals+=("$(ratio "$w" "$e" native | sed 's/^-$/NaN/')"); done
            [[ " ${vals[*]} " == *[0-9]* ]] || continue
            col=$((col + 1))
            printf '%s\n' "${vals[@]}" >"$tmp/col$col"
            plot="$plot${plot:+, }'' using $col title '$e'"
        done
        if [ -n "$plot" ]; then
            printf '%s\n' "${pnames[@]}" | paste -d' ' - "$tmp"/col* >"$tmp/ratios.dat"
            plot="'$tmp/ratios.dat' using 2:xtic(1) title${plot#*using 2 title}"
            gnuplot <<EOF && echo "saved $out.png" >&2
set terminal png size 1100,600
set output "$out.png"
set title "popek: time per iteration relative to native (log scale; lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set grid ytics
set xtics rotate by -30
set key top right
plot $plot
EOF
        fi
    fi
fi
exit $status
