/*
 * target.h - triple helpers shared inside worker/ (target.c). The public
 * entry point, jf_target_resolve, is declared in compile.h.
 */
#ifndef JF_TARGET_H
#define JF_TARGET_H

#include <stddef.h>

/* LLVM's normal form of a triple into out. Returns 0 or a jf_err. */
int jf_triple_normalize(const char *in, char *out, size_t outlen);

/* 1 when a module written for module_triple can be built for want:
 * equal after normalisation, or differing only in an "unknown" vendor. */
int jf_triple_compatible(const char *module_triple, const char *want);

#endif
