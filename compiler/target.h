/*
 * target.h - resolving what a request names into a jf_target_t, and the
 * triple helpers the compile stage needs (target.c).
 */
#ifndef JF_TARGET_H
#define JF_TARGET_H

#include <stddef.h>

#include "common/key.h"

/*
 * Resolve a target: fill in defaults (host triple, baseline CPU), expand
 * "host", canonicalise the features, and check that the CPU and every
 * feature exist for the target (LLVM itself only warns). Needs no IR, so
 * the master can derive the key and check the store first. Initialises
 * LLVM if nothing has yet. Returns 0, JF_ERR_TARGET or JF_ERR_INVAL, with
 * a message in err.
 */
int jf_target_resolve(const char *triple, const char *cpu, const char *features,
    char opt, jf_target_t *out, char *err, size_t errlen);

/* LLVM's normal form of a triple into out. Returns 0 or a jf_err. */
int jf_target_triple_normalize(const char *in, char *out, size_t outlen);

/* 1 when a module written for module_triple can be built for want:
 * equal after normalisation, or differing only in an "unknown" vendor. */
int jf_target_triple_compatible(const char *module_triple, const char *want);

#endif
