#!/usr/bin/env bash
# Runs guest tests on qemu-system-i386 with TCG: the reference the expected
# values of the guest tests were checked against.
#
# usage: run_on_qemu.sh [--qemu PATH] [--verbose] [--boot-stub ROM]
#                       GUEST.elf|GUEST.rom|GUEST.bin|DIR...
#
# A DIR stands for every *.elf, *.rom and *.bin in it. NAME.elf boots as a
# Multiboot kernel (-kernel), NAME.rom as the BIOS (-bios), and NAME.bin,
# a boot-sector-style real-mode image, is put at 0x7c00 by QEMU's generic
# loader and entered at 0:7c00 by a stub ROM (--boot-stub; default
# lib/qemu_boot_stub.rom next to the image, built with the guests).
# A guest passes when QEMU exits with status 1 (isa-debug-exit 0), every
# CHECK line ends in "ok" and the SUMMARY line says PASS; a guest that
# prints no CHECK line at all (the demo) passes when it powers off (status
# 0). A guest whose ELF declares popek exit status 6 (EXIT_STATUS("6"):
# it ends in a deliberate triple fault) passes when QEMU, which -no-reboot
# turns a triple-fault reset into an exit with status 0, exits 0 after a
# passing SUMMARY line. Checks where QEMU's TCG is known to differ
# from the SDM (listed below) are reported and do not count as failures;
# a guest TCG cannot run at all (it aborts, listed below) is skipped.
# QEMU_ACCEL picks the accelerator (default tcg; kvm where the host's KVM
# can run the guest); QEMU_CPU and QEMU_ARGS add to the command.
# Exit status: 0 all passed, 1 some failed, 77 qemu-system-i386 missing or
# every guest skipped.
set -u

qemu=${QEMU:-qemu-system-i386}
verbose=0
boot_stub=
while [ $# -gt 0 ]; do
    case "$1" in
    --qemu) qemu=$2; shift 2 ;;
    --verbose) verbose=1; shift ;;
    --boot-stub) boot_stub=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_on_qemu.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
if ! command -v "$qemu" >/dev/null; then
    echo "SKIP: $qemu not found (apt-get install qemu-system-x86)"
    exit 77
fi
guests=()
for a in "$@"; do
    if [ -d "$a" ]; then
        for f in "$a"/*.elf "$a"/*.rom "$a"/*.bin; do
            [ -e "$f" ] && guests+=("$f")
        done
    else
        guests+=("$a")
    fi
done
if [ ${#guests[@]} -eq 0 ]; then
    echo "usage: run_on_qemu.sh [--qemu PATH] [--verbose] GUEST.elf|DIR..." >&2
    exit 2
fi

# guest:check-prefix -> where TCG differs from the SDM (seen with QEMU 7.2).
declare -A tcg_deviations=(
    [cpuid_tsc_msr:rdmsr_tsc.]="TCG's RDMSR of IA32_TSC (0x10) returns 0, not the TSC"
    [cpuid_tsc_msr:rdmsr_invalid.]="TCG's RDMSR of an unknown MSR returns 0 instead of #GP(0)"
    [cpuid_tsc_msr:wrmsr_invalid.]="TCG's WRMSR of an unknown MSR is ignored instead of #GP(0)"
    [seg_checks:limit.ds.straddle]="TCG does not check data segment limits"
    [seg_checks:limit.ds.beyond]="TCG does not check data segment limits"
    [seg_checks:limit.ss.beyond]="TCG does not check stack segment limits (#SS)"
    [seg_checks:expdown.below_limit]="TCG does not check expand-down segment limits"
    [seg_checks:expdown.straddle_limit]="TCG does not check expand-down segment limits"
    [seg_checks:xonly.read_via_cs]="TCG reads execute-only code segments without #GP"
    [seg_checks:code.write]="TCG writes through a code segment without #GP"
    [seg_checks:readonly.write]="TCG writes through a read-only data segment without #GP"
    [seg_checks:null.ds_access]="TCG accesses memory through a null DS without #GP"
    [seg_checks:null_rpl3.ds_access]="TCG accesses memory through a null DS without #GP"
    [debug:icebp.]="TCG raises #UD for INT1/ICEBP (F1) instead of a #DB trap"
    [double_fault:ud_gate_np.error]="TCG leaves EXT (bit 0) clear in the error code of a fault during exception delivery"
    [task_switch:b_entry_eflags.]="TCG keeps the old task's arithmetic flags after CALL/JMP to a task"
    [pae:efer.]="TCG has IA32_EFER without NX or long mode (no #GP)"
    [pae:xd_pte.read.error]="TCG leaves P clear in a reserved-bit #PF error code"
    [pae:xd_pte.write.error]="TCG leaves P clear in a reserved-bit #PF error code"
    [pae:xd_pde_2m.read.error]="TCG leaves P clear in a reserved-bit #PF error code"
    [pae:rsvd_pde_2m.read.error]="TCG leaves P clear in a reserved-bit #PF error code"
    [pae:pdpte.stale_after_invlpg]="TCG has no PDPTE registers (reads PDPTEs on each walk)"
    [pae:pdpte_rsvd.cr3.]="TCG's MOV to CR3 does not check PDPTE reserved bits"
    [align_check:ac.]="TCG does not implement alignment checking: CR0.AM and EFLAGS.AC are ignored, no #AC"
    [x87:kernel.fnstsw_m16]="TCG does not set C1 when a result was rounded up"
    [x87:kernel.fxsave.fsw]="TCG does not set C1 when a result was rounded up"
    [x87:kernel.fnstenv.fsw]="TCG does not set C1 when a result was rounded up"
    [x87:kernel.fxsave.fop]="TCG's FXSAVE stores 0 for FOP, FIP, FCS, FDP and FDS"
    [x87:kernel.fxsave.fip]="TCG's FXSAVE stores 0 for FOP, FIP, FCS, FDP and FDS"
    [x87:kernel.fxsave.fcs]="TCG's FXSAVE stores 0 for FOP, FIP, FCS, FDP and FDS"
    [x87:kernel.fxsave.fdp]="TCG's FXSAVE stores 0 for FOP, FIP, FCS, FDP and FDS"
    [x87:kernel.fxsave.fds]="TCG's FXSAVE stores 0 for FOP, FIP, FCS, FDP and FDS"
    [x87:kernel.fnstenv.fcs_fop]="TCG does not record the x87 opcode (FOP)"
    [x87:mf.fwait.fcs_fop]="TCG does not record the x87 opcode (FOP)"
    [x87:pf.fld_m64.fcs_fop]="TCG does not record the x87 opcode (FOP)"
    [x87:ftst.fsw]="TCG's FTST leaves C1 as it was instead of clearing it"
    [x87:misc.fsw]="TCG's FPREM1 does not store the quotient bits in C0, C3, C1"
    [x87:fsin.]="TCG computes FSIN, FCOS, FSINCOS and FPTAN in the host's double precision"
    [x87:fcos.]="TCG computes FSIN, FCOS, FSINCOS and FPTAN in the host's double precision"
    [x87:fptan.]="TCG computes FSIN, FCOS, FSINCOS and FPTAN in the host's double precision"
    [x87:fsincos.]="TCG computes FSIN, FCOS, FSINCOS and FPTAN in the host's double precision"
    [x87:mf.fwait.fsw]="TCG's FDIVP stores and pops despite an unmasked divide-by-zero"
    [x87:mf.fwait.ftw]="TCG's FDIVP stores and pops despite an unmasked divide-by-zero"
    [x87:mf.fst.]="TCG raises a pending x87 exception only at FWAIT, not at the next waiting x87 instruction"
)
# guest -> why TCG cannot run it at all (seen with QEMU 7.2).
declare -A tcg_aborts=(
    [x87_ferr]="TCG aborts (tcg_handle_interrupt: qemu_mutex_iothread_locked() assertion) when FERR# raises IRQ 13"
)

known_deviation() { # guest, CHECK line -> prints the reason if known
    local check=${2#CHECK }
    check=${check%% *}
    [ "${QEMU_ACCEL:-tcg}" = tcg ] || return 1
    for k in "${!tcg_deviations[@]}"; do
        if [ "${k%%:*}" = "$1" ] && [[ "$check" == "${k#*:}"* ]]; then
            echo "${tcg_deviations[$k]}"
            return 0
        fi
    done
    return 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/popek-qemu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
skipped=0
for g in "${guests[@]}"; do
    expect=1
    case "$g" in
    *.rom) name=$(basename "$g" .rom); boot=(-bios "$g") ;;
    *.bin)
        name=$(basename "$g" .bin)
        boot=(-bios "${boot_stub:-$(dirname "$g")/lib/qemu_boot_stub.rom}"
              -device "loader,file=$g,addr=0x7c00,force-raw=on") ;;
    *)
        name=$(basename "$g" .elf); boot=(-kernel "$g")
        # popek's exit status 6 (triple fault) is QEMU's 0 under -no-reboot.
        if objcopy --dump-section .popek.status="$tmp/status" "$g" "$tmp/copy.elf" \
                2>/dev/null && [ -f "$tmp/status" ]; then
            [ "$(tr -d '\0 ' < "$tmp/status")" = 6 ] && expect=0
            rm -f "$tmp/status"
        fi ;;
    esac
    if [ "${QEMU_ACCEL:-tcg}" = tcg ] && [ -n "${tcg_aborts[$name]:-}" ]; then
        echo "SKIP $name: ${tcg_aborts[$name]}"
        skipped=$((skipped + 1))
        continue
    fi
    # shellcheck disable=SC2086 # QEMU_ARGS is a word list
    timeout --kill-after=5 60 "$qemu" -accel "${QEMU_ACCEL:-tcg}" ${QEMU_CPU:+-cpu "$QEMU_CPU"} \
        -nodefaults -machine pc -m 128 "${boot[@]}" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -display none -serial stdio -no-reboot ${QEMU_ARGS:-} \
        < /dev/null 2> "$tmp/err" | tr -d '\r' > "$tmp/out"
    st=${PIPESTATUS[0]}
    checks=$(grep -c '^CHECK ' "$tmp/out")
    bad=0
    known=()
    while IFS= read -r line; do
        if reason=$(known_deviation "$name" "$line"); then
            check=${line#CHECK }
            known+=("  known QEMU deviation: ${check%% *}: $reason")
        else
            bad=1
        fi
    done < <(grep '^CHECK ' "$tmp/out" | grep -v ' ok$')
    if [ "$checks" -eq 0 ]; then
        [ "$st" -eq 0 ] && [ -s "$tmp/out" ] && ok=1 || ok=0
    elif [ ${#known[@]} -gt 0 ]; then
        [ "$st" -eq 3 ] && [ $bad -eq 0 ] && grep -q '^SUMMARY ' "$tmp/out" && ok=1 || ok=0
    else
        [ "$st" -eq "$expect" ] && grep -q '^SUMMARY .* PASS$' "$tmp/out" && ok=1 || ok=0
    fi
    if [ "$ok" -eq 1 ]; then
        echo "PASS $name ($checks checks${known[*]:+, ${#known[@]} known QEMU deviations})"
        [ ${#known[@]} -gt 0 ] && printf '%s\n' "${known[@]}"
        [ $verbose -eq 1 ] && cat "$tmp/out"
    else
        echo "FAIL $name (qemu exit status $st)"
        cat "$tmp/out"
        [ -s "$tmp/err" ] && cat "$tmp/err"
        failed=1
    fi
done
[ $failed -eq 0 ] && [ $skipped -eq ${#guests[@]} ] && exit 77
exit $failed
