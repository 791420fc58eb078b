/*
 * cc_key.h - the keys of `jitfarm cc`'s two cache levels (cc_key.c).
 *
 * Both are the SHA-256 of length-prefixed fields: a tag, the compiler's
 * identity, the arguments that can change the object (their key text),
 * the working directory when the debug info records it, and either the
 * source's hash (direct mode, whose entry then lists the headers) or the
 * hash of the preprocessed text (preprocessor mode).
 */
#ifndef JF_CLI_CC_KEY_H
#define JF_CLI_CC_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"
#include "cli/cc.h"

#define JF_CC_IDENT_MAX 4400

/* The compiler's identity: its resolved path, size and mtime (ccache's
 * default check) and this program's compiler id. Returns 0, or
 * JF_ERR_NOTFOUND when the compiler is not found. */
int jf_cc_compiler_ident(const char *compiler, char *out, size_t len);

/* The direct-mode key: the whole compile line and the source's hash. */
void jf_cc_key_direct(const jf_cc_args_t *a, const char *ident, const char *cwd,
    const uint8_t src_sha[32], jf_key_t *out);

/* The preprocessor-mode key: what still matters after preprocessing and
 * the hash of the preprocessed text. */
void jf_cc_key_pp(const jf_cc_args_t *a, const char *ident, const char *cwd,
    const uint8_t pp_sha[32], jf_key_t *out);

#endif
