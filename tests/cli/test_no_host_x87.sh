#!/usr/bin/env bash
# The popek binary holds no x87 instruction but the bt engine's own state
# switch (FXSAVE, FXRSTOR, FNINIT in translator/bt_x87.c): the guest's x87
# registers stay in the host FPU while the dispatcher, the devices and the
# libraries' code run (translator/bt_x87.h). x86-64 C code computes float
# and double in SSE; the x87 would come back only with long double (or a
# libm routine built on it), which popek must not use.
#
# usage: test_no_host_x87.sh POPEK
# Exit status: 0 none found, 1 found (listed), 77 objdump missing.
set -u
bin=$1
if ! command -v objdump >/dev/null; then
    echo "SKIP: objdump not found"
    exit 77
fi
found=$(objdump -d --no-show-raw-insn "$bin" |
    awk -F'\t' 'NF >= 2 && $1 ~ /^ *[0-9a-f]+:$/ {
        split($2, w, " ")
        m = w[1]
        if (m ~ /^f/ && m !~ /^(fs|fxsave|fxsave64|fxrstor|fxrstor64|fninit)$/)
            print
    }')
if [ -n "$found" ]; then
    echo "x87 instructions in $bin:"
    echo "$found" | head -20
    exit 1
fi
echo "no x87 instructions in $bin but FXSAVE, FXRSTOR, FNINIT"
