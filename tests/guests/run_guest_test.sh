#!/usr/bin/env bash
# Runs one guest test on every popek engine and compares the results.
#
# usage: run_guest_test.sh [--popek PATH] [--engines "kvm bt interp"]
#                          [--timeout SECONDS] [--poweroff] [--needs CAPS]
#                          GUEST.elf|GUEST.rom|GUEST.bin
#
# How the guest is launched follows from its file name: NAME.elf is a
# Multiboot kernel, NAME.rom a BIOS ROM (`popek run --bios NAME.rom`, the
# CPU starts in its reset state at F000:FFF0), NAME.bin a boot-sector-style
# real-mode image (`popek run --raw 0x7c00,0x7c00,real NAME.bin`).
# For each engine: `popek caps --accel ENGINE CAPS...` decides whether it
# can run the guest here; if not, the engine is skipped with popek's reason.
# CAPS come from the ELF's .popek.needs section (NEEDS in guest.h), or from
# a string "POPEK-NEEDS: CAPS" inside a ROM or boot image (default
# "real-mode"); --needs overrides both. Otherwise
# the guest runs with `popek run --accel ENGINE --timeout T`; it passes when
# the exit status is the expected one, every CHECK line ends in "ok" and the
# SUMMARY line says PASS. The expected status is 1 (debug-exit 0) unless
# the ELF's .popek.status section (EXIT_STATUS in guest.h) names another,
# e.g. 6 for a test that ends in a deliberate triple fault after printing
# its SUMMARY. The CHECK lines of all engines that ran must be identical.
# --poweroff is for guests that are not tests (the demo): the engine passes
# when the guest powers off (status 0) after printing something.
#
# Exit status: 0 pass, 1 fail, 77 no engine could run the guest (ctest's
# SKIP_RETURN_CODE).
set -u

popek=${POPEK:-popek}
engines="interp bt kvm"
timeout=60
poweroff=0
needs_opt=
while [ $# -gt 0 ]; do
    case "$1" in
    --popek) popek=$2; shift 2 ;;
    --engines) engines=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --poweroff) poweroff=1; shift ;;
    --needs) needs_opt=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_guest_test.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
if [ $# -ne 1 ]; then
    echo "usage: run_guest_test.sh [--popek PATH] [--engines LIST] [--timeout S]" \
         "[--poweroff] [--needs CAPS] GUEST.elf|.rom|.bin" >&2
    exit 2
fi
elf=$1
case "$elf" in
*.rom) name=$(basename "$elf" .rom); launch=(--bios "$elf") ;;
*.bin) name=$(basename "$elf" .bin); launch=(--raw 0x7c00,0x7c00,real "$elf") ;;
*) name=$(basename "$elf" .elf); launch=("$elf") ;;
esac
if [ ! -r "$elf" ]; then
    echo "FAIL $name: cannot read $elf"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/popek-guest-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The capabilities the guest declared with NEEDS("...") and the exit status
# it declared with EXIT_STATUS(n): non-loaded sections; their absence means
# the guest needs nothing and ends through debug-exit 0 (status 1).
needs=""
expect_status=1
case "$elf" in
*.elf)
    objcopy=${OBJCOPY:-objcopy}
    if ! command -v "$objcopy" >/dev/null; then
        echo "FAIL $name: $objcopy not found (set OBJCOPY)"
        exit 1
    fi
    # objcopy only warns (status 0) when a section is missing.
    "$objcopy" --dump-section .popek.needs="$tmp/needs" "$elf" "$tmp/copy.elf" 2>/dev/null
    "$objcopy" --dump-section .popek.status="$tmp/status" "$elf" "$tmp/copy.elf" 2>/dev/null
    [ -f "$tmp/needs" ] && needs=$(tr -d '\0' < "$tmp/needs")
    [ -f "$tmp/status" ] && expect_status=$(tr -d '\0 ' < "$tmp/status")
    ;;
*)
    # A flat image names its needs in a string "POPEK-NEEDS: CAPS" of its own.
    needs=$(grep -ao 'POPEK-NEEDS:[a-z0-9 -]*' "$elf" | head -n1)
    needs=${needs#POPEK-NEEDS:}
    [ -n "$needs" ] || needs="real-mode" ;;
esac
[ -n "$needs_opt" ] && needs=$needs_opt
needs=$(tr -s ' \n' ' ' <<< "$needs")
needs=${needs% }
echo "guest $name needs: ${needs:-nothing}"

status_meaning() {
    case "$1" in
    0) echo "powered off or reset" ;;
    1) echo "debug-exit 0 (pass)" ;;
    3) echo "debug-exit 1 (the guest reported failures)" ;;
    2) echo "bad command line" ;;
    4) echo "image could not be loaded" ;;
    6) echo "triple fault" ;;
    8) echo "guest touched nonexistent physical memory" ;;
    10) echo "timeout" ;;
    12) echo "engine or host cannot run this guest" ;;
    14) echo "internal VM error" ;;
    124) echo "killed by the runner's watchdog" ;;
    *) echo "unexpected status" ;;
    esac
}

ran=()
failed=0
skipped=()
for e in $engines; do
    # shellcheck disable=SC2086 # needs is a word list
    reason=$("$popek" caps --accel "$e" $needs 2>&1)
    rc=$?
    if [ $rc -eq 12 ]; then
        echo "SKIP $e: ${reason:-no reason given}"
        skipped+=("$e")
        continue
    elif [ $rc -ne 0 ]; then
        echo "FAIL $e: 'popek caps --accel $e $needs' exited with status $rc: $reason"
        failed=1
        continue
    fi
    # A watchdog a little past popek's own timeout, in case the engine hangs.
    timeout --kill-after=5 $((timeout + 15)) \
        "$popek" run --accel "$e" --timeout "$timeout" "${launch[@]}" \
        < /dev/null > "$tmp/$e.raw" 2> "$tmp/$e.err"
    st=$?
    tr -d '\r' < "$tmp/$e.raw" > "$tmp/$e.out"
    echo "---- $e: exit status $st ($(status_meaning $st)); serial output:"
    cat "$tmp/$e.out"
    if [ -s "$tmp/$e.err" ]; then
        echo "---- $e: stderr:"
        cat "$tmp/$e.err"
    fi
    ok=1
    if [ $poweroff -eq 1 ]; then
        [ $st -eq 0 ] || { echo "FAIL $e: expected status 0 (power-off), got $st"; ok=0; }
        [ -s "$tmp/$e.out" ] || { echo "FAIL $e: no serial output"; ok=0; }
    else
        [ "$st" -eq "$expect_status" ] ||
            { echo "FAIL $e: expected status $expect_status ($(status_meaning "$expect_status")), got $st"; ok=0; }
        bad=$(grep '^CHECK ' "$tmp/$e.out" | grep -v ' ok$')
        [ -z "$bad" ] || { echo "FAIL $e: failed checks:"; echo "$bad"; ok=0; }
        grep -q '^SUMMARY .* PASS$' "$tmp/$e.out" ||
            { echo "FAIL $e: no passing SUMMARY line"; ok=0; }
        grep '^CHECK ' "$tmp/$e.out" > "$tmp/$e.checks"
    fi
    if [ $ok -eq 1 ]; then
        echo "PASS $e"
    else
        failed=1
    fi
    ran+=("$e")
done

# Popek-Goldberg equivalence: every engine must see the same results.
if [ $poweroff -eq 0 ] && [ ${#ran[@]} -gt 1 ]; then
    ref=${ran[0]}
    for e in "${ran[@]:1}"; do
        if ! diff -u --label "$ref" --label "$e" "$tmp/$ref.checks" "$tmp/$e.checks" \
                > "$tmp/diff"; then
            echo "FAIL: CHECK lines differ between $ref and $e:"
            cat "$tmp/diff"
            failed=1
        fi
    done
fi

if [ $failed -ne 0 ]; then
    echo "RESULT $name: FAIL"
    exit 1
fi
if [ ${#ran[@]} -eq 0 ]; then
    echo "RESULT $name: SKIPPED (no engine can run it here: ${skipped[*]} skipped)"
    exit 77
fi
echo "RESULT $name: PASS on ${ran[*]}${skipped[*]:+ (skipped: ${skipped[*]})}"
exit 0
