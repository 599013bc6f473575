/* hwaccel/kvm/ public interface: the kvm engine. */
#ifndef POPEK_KVM_H
#define POPEK_KVM_H

#include "machine/machine.h"

extern const struct mach_engine kvm_engine;

#endif
