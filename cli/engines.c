/* Engine choice. auto prefers hardware-assisted KVM, then bt, then interp,
 * and as a last resort KVM without hardware assist (a host's software
 * emulation under /dev/kvm). */
#include "cli/engines.h"

#include "hwaccel/kvm/kvm.h"
#include "translator/translator.h"
#include "vmm_helpers/vmm_helpers.h"

#include <string.h>

static const struct mach_engine *const engines[] = {&kvm_engine, &bt_engine,
                                                    &interp_engine};

static const struct mach_engine *by_name(const char *name)
{
    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
        if (!strcmp(engines[i]->name, name))
            return engines[i];
    return NULL;
}

static const struct mach_engine *pick_auto(struct machine *m, struct mach_err *err)
{
    struct mach_err why;
    if (kvm_engine.available(m, &why) && kvm_engine.hw_assisted && kvm_engine.hw_assisted())
        return &kvm_engine;
    const char *order[] = {"bt", "interp", "kvm"};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const struct mach_engine *e = by_name(order[i]);
        if (e->available(m, &why))
            return e;
    }
    mach_errf(err, "no engine can run this guest here (last reason: %s)", why.msg);
    return NULL;
}

const struct mach_engine *cli_pick_engine(struct machine *m, const char *name,
                                          struct mach_err *err)
{
    if (!strcmp(name, "auto"))
        return pick_auto(m, err);
    const struct mach_engine *e = by_name(name);
    if (!e) {
        mach_errf(err, "unknown engine '%s'", name);
        return NULL;
    }
    if (!e->available(m, err))
        return NULL;
    return e;
}
