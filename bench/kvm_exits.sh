#!/bin/bash
# KVM exit costs: runs bench/guests/kvm_exits.asm on the kvm engine with
# --stats and prints the guest's per-iteration times (TSC, calibrated
# against the PIT) and popek's per-exit means.
#
# usage: bench/kvm_exits.sh [BUILD_DIR]   (default: build)
# The build must have the popek and bench_guests targets.
set -euo pipefail

build=${1:-build}
popek=$build/cli/popek
guest=$build/bench/kvm_exits.elf
for f in "$popek" "$guest"; do
    if [ ! -e "$f" ]; then
        echo "kvm_exits.sh: $f missing (cmake --build $build --target popek bench_guests)" >&2
        exit 2
    fi
done

out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
status=0
"$popek" run --accel kvm --stats --timeout 60 "$guest" >"$out" 2>"$err" || status=$?
# The guest leaves with debug-exit value 0: status 1.
if [ "$status" -ne 1 ]; then
    echo "kvm_exits.sh: popek exited with status $status" >&2
    cat "$out" "$err" >&2
    exit 1
fi

echo "== guest view (TSC per loop iteration)"
cat "$out"
echo
echo "== popek view ($(grep '^kvm: host' "$err" | sed 's/^kvm: //'))"
awk '
/^kvm: exit/ { table = 1; next }
table && /^kvm: +total/ { next }
table && NF == 7 && $3 ~ /^[0-9]+$/ {
    printf "%-15s %8s exits  in-KVM %10.3f us  handling %10.3f us  round trip %10.3f us\n",
           $2, $3, $5, $7, $5 + $7
    next
}
table { table = 0 }
/^kvm: (KVM_RUN|interrupts|interrupt-window|HLT|kick)/ { sub(/^kvm: /, ""); print }
' "$err"
echo
echo "in-KVM: inside KVM_RUN until the exit (guest execution or, without hardware"
echo "assist, its emulation); handling: popek's user space until the next KVM_RUN."
