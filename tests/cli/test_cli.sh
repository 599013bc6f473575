#!/usr/bin/env bash
# The `popek` command's contract: help, option errors, exit statuses of
# VM errors, --reboot. usage: test_cli.sh POPEK GUEST_DIR
set -u
popek=$1
guests=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0 passed=0

# expect NAME STATUS [grep-pattern-on-stderr] -- command...
expect() {
    local name=$1 want=$2 pattern=$3
    shift 4
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local got=$?
    if [ "$got" -ne "$want" ] || { [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/err" "$tmp/out"; }; then
        echo "FAIL $name: status $got (want $want)${pattern:+, output should match '$pattern'}"
        sed 's/^/  | /' "$tmp/err" | head -5
        failed=$((failed + 1))
    else
        echo "ok   $name"
        passed=$((passed + 1))
    fi
}

expect help 0 "exit status" -- "$popek" --help
expect no-args 2 "usage" -- "$popek"
expect unknown-command 2 "unknown command" -- "$popek" frobnicate
expect bad-option 2 "bad option" -- "$popek" run --frobnicate x.elf
expect bad-accel 2 "unknown engine" -- "$popek" run --accel vtx x.elf
expect bad-mem 2 "--mem" -- "$popek" run -m 0 x.elf
expect bad-trace 2 "unknown trace event" -- "$popek" run --trace nonsense x.elf
expect bad-timeout 2 "--timeout" -- "$popek" run --timeout -1 x.elf
expect bad-raw 2 "--raw" -- "$popek" run --raw nowhere x.bin
expect nothing-to-run 2 "nothing to run" -- "$popek" run
expect missing-image 4 "no-such.elf" -- "$popek" run "$tmp/no-such.elf"
printf 'not a kernel' >"$tmp/junk.elf"
expect not-multiboot 4 "junk.elf" -- "$popek" run --accel interp "$tmp/junk.elf"
expect bad-rom-size 4 "64 KiB" -- "$popek" run --accel interp --bios "$tmp/junk.elf"
# A raw image that reads beyond RAM: mov eax, [0xF0000000]
printf '\xa1\x00\x00\x00\xf0' >"$tmp/touch.bin"
expect missing-memory 8 "" -- "$popek" run --accel interp -m 16 --raw 0x100000 "$tmp/touch.bin"
# jmp $: runs until --timeout.
printf '\xeb\xfe' >"$tmp/spin.bin"
expect timeout 10 "timeout" -- "$popek" run --accel interp --raw 0x100000 "$tmp/spin.bin" --timeout 0.2
# out 0xF4, al with AL = 5: (5 << 1) | 1
printf '\xb0\x05\xe6\xf4' >"$tmp/exit5.bin"
expect debug-exit 11 "" -- "$popek" run --accel interp --raw 0x100000 "$tmp/exit5.bin"
expect triple-fault 6 "triple fault" -- "$popek" run --accel interp "$guests/triple_fault.elf"
expect reboot 10 "rebooting" -- "$popek" run --accel interp --reboot --timeout 0.5 "$guests/triple_fault.elf"
expect demo-poweroff 0 "" -- "$popek" run --accel interp "$guests/demo.elf"
expect caps-interp 0 "" -- "$popek" caps --accel interp paging
expect caps-unknown-engine 12 "unknown engine" -- "$popek" caps --accel vtx
expect sensitive 0 "" -- "$popek" sensitive
expect sensitive-usage 2 "usage" -- "$popek" sensitive --html
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
