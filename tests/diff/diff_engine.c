/* Runs cases on a popek engine: the guest runtime (diff_guest.bin) is
 * loaded as a raw flat 32-bit image, the cases and their code slots are
 * written into guest RAM, the engine runs the machine until the runtime
 * writes the debug-exit port, and the results are read back from RAM. If
 * the engine stops early (an unsupported instruction, a triple fault, a
 * timeout), the case it stopped on gets a DIFF_VEC_ENGINE_STOP result
 * and the rest run on a fresh machine. */
#include "diff_engine.h"

#include "hwaccel/kvm/kvm.h"
#include "translator/translator.h"
#include "vmm_helpers/vmm_helpers.h"

#include <stdlib.h>
#include <string.h>

/* The engines diff_run compares with the CPU. Adding one is this line and
 * its library in CMakeLists.txt. */
static const struct mach_engine *const engines[] = {
    &kvm_engine,
    &interp_engine,
    &bt_engine,
};

size_t diff_engine_count(void) { return sizeof(engines) / sizeof(engines[0]); }
const struct mach_engine *diff_engine_at(size_t i) { return engines[i]; }

const struct mach_engine *diff_engine_find(const char *name)
{
    for (size_t i = 0; i < diff_engine_count(); i++)
        if (!strcmp(engines[i]->name, name))
            return engines[i];
    return NULL;
}

struct machine *diff_engine_machine(uint64_t timeout_ns, struct mach_err *err)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    struct mach_config cfg = {.ram_bytes = DIFF_GUEST_RAM,
                              .serial_out = sink,
                              .debugcon_out = sink,
                              .timeout_ns = timeout_ns};
    return mach_create(&cfg, err);
}

void diff_engine_stop_result(struct diff_result *r, enum mach_exit_kind kind, const char *msg)
{
    memset(r, 0, sizeof(*r));
    r->vector = DIFF_VEC_ENGINE_STOP;
    r->error_code = (uint32_t)kind;
    snprintf((char *)r->data, sizeof(r->data), "%s", msg);
}

/* Runs cases[next..count) of one batch (distinct slots) on a fresh
 * machine; returns the index of the first case without a result. */
static long run_batch(struct diff_engine_ctx *x, const struct diff_case *cases, size_t count,
                      size_t next, struct diff_result *results, char *msg, size_t msglen)
{
    struct mach_err err = {.msg = ""};
    uint64_t timeout = (uint64_t)(20 + count / 16) * 1000000000ull;
    struct machine *m = diff_engine_machine(timeout, &err);
    if (!m || mach_load_raw(m, x->image, DIFF_GUEST_LOAD, DIFF_GUEST_LOAD, MACH_BOOT_FLAT32,
                            &err) < 0) {
        snprintf(msg, msglen, "%s", err.msg);
        mach_destroy(m);
        return -1;
    }
    struct diff_guest_hdr hdr = {.magic = DIFF_GUEST_MAGIC, .count = (uint32_t)count,
                                 .next = (uint32_t)next};
    bool ok = mach_phys_write(m, DIFF_GUEST_HDR, &hdr, sizeof(hdr));
    for (size_t i = 0; i < count && ok; i++)
        ok = mach_phys_write(m, DIFF_GUEST_CASES + i * sizeof(cases[i]), &cases[i],
                             sizeof(cases[i])) &&
             mach_phys_write(m, DIFF_CODE_BASE + cases[i].slot * DIFF_SLOT_SIZE, cases[i].code,
                             cases[i].code_len);
    if (!ok || x->engine->run(m, &err) < 0) {
        snprintf(msg, msglen, "%s", ok ? err.msg : "cannot write the cases into guest RAM");
        mach_destroy(m);
        return -1;
    }
    mach_phys_read(m, DIFF_GUEST_HDR, &hdr, sizeof(hdr));
    size_t done = hdr.next < next ? next : hdr.next > count ? count : hdr.next;
    for (size_t i = next; i < done; i++)
        mach_phys_read(m, DIFF_GUEST_RESULTS + i * sizeof(results[i]), &results[i],
                       sizeof(results[i]));
    bool finished = mach_exit_kind(m) == MACH_EXIT_DEBUG && mach_exit_status(m) == 1 &&
                    done == count;
    if (!finished && done < count) {
        diff_engine_stop_result(&results[done], mach_exit_kind(m), mach_exit_message(m));
        done++;
    }
    mach_destroy(m);
    return (long)done;
}

int diff_engine_run(void *ctx, const struct diff_case *cases, size_t n,
                    struct diff_result *results, char *msg, size_t msglen)
{
    struct diff_engine_ctx *x = ctx;
    for (size_t i = 0; i < n;) {
        /* A batch: consecutive cases with distinct code slots. */
        static uint8_t used[DIFF_MAX_BATCH];
        memset(used, 0, sizeof(used));
        size_t j = i;
        while (j < n && j - i < DIFF_MAX_BATCH && !used[cases[j].slot % DIFF_MAX_BATCH])
            used[cases[j++].slot % DIFF_MAX_BATCH] = 1;
        for (size_t next = 0; next < j - i;) {
            long done = run_batch(x, cases + i, j - i, next, results + i, msg, msglen);
            if (done < 0)
                return -1;
            next = (size_t)done;
        }
        i = j;
    }
    return 0;
}

/* Linux's x86 emulator (arch/x86/kvm/emulate.c, em_aam/em_aad) sets SF,
 * ZF and PF by OR-ing the whole 32-bit destination instead of AL, so after
 * AAM/AAD its SF and ZF follow EAX where the CPU looks at AL only (SDM
 * Vol. 2 "AAM", "AAD"); seen on kvm_pvm hosts. The wrong flag can flow
 * into later results (SETcc, CMOVcc, ADC), so a case holding AAM/AAD that
 * ends the same way (same vector) is not checked further there. */
bool diff_engine_known_deviation(const struct diff_case *c, const struct diff_meta *m,
                                 const struct diff_result *want, const struct diff_result *got,
                                 const char **note)
{
    bool bcd = false;
    for (unsigned k = 0; k < m->n; k++)
        bcd |= c->code[m->off[k]] == 0xD4 || c->code[m->off[k]] == 0xD5;
    if (!bcd || want->vector != got->vector)
        return false;
    *note = "AAM/AAD: the host KVM's emulator takes SF/ZF from EAX, not AL";
    return true;
}
