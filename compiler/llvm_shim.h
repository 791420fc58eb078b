/*
 * llvm_shim.h - the few things the compile engine needs from LLVM that
 * the C API does not offer, as plain C functions (llvm_shim.cpp).
 *
 * LLVM accepts an unknown CPU name or feature with a warning on stderr and
 * then ignores it, so a request for "nosuchcpu" would silently compile for
 * something else (or end in a fatal error later). These functions check a
 * name against the target's own tables (MCSubtargetInfo) first.
 */
#ifndef JF_LLVM_SHIM_H
#define JF_LLVM_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when cpu is in the target's processor list, 0 when it is not, -1 when
 * the triple has no registered target. Targets must be initialised. */
int jf_llvm_cpu_valid(const char *triple, const char *cpu);

/*
 * Split a comma-separated feature list ("+a,-b") and keep, in order, the
 * items whose name (without the sign) is one of the target's subtarget
 * features, writing them comma-separated to out. The first unknown name
 * goes to bad (may be NULL). Returns the number of unknown items, or -1
 * when the triple has no registered target or out is too small.
 */
int jf_llvm_features_filter(const char *triple, const char *in, char *out,
    size_t outlen, char *bad, size_t badlen);

#ifdef __cplusplus
}
#endif
#endif
