/*
 * cc_key.h - the keys of `jitfarm cc`'s two cache levels (cc_key.c).
 *
 * Both are the SHA-256 of length-prefixed fields: a tag; the compiler's
 * identity; every environment variable clang reads for a compile (the
 * include paths, SOURCE_DATE_EPOCH, the locale of its messages); the
 * arguments (their key text); the working directory, as clang sees it,
 * when the debug info records it; and either the source's hash (direct
 * mode, whose entry then lists the headers) or the hash of the
 * preprocessed text (preprocessor mode).
 */
#ifndef JF_CLI_CC_KEY_H
#define JF_CLI_CC_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"
#include "cli/cc_args.h"

#define JF_CC_IDENT_MAX 8192

/*
 * The compiler's identity: its resolved path, size and mtime (ccache's
 * default check), the same for the LLVM and clang libraries next to it
 * (a libLLVM upgrade changes code without touching the binary), and this
 * program's compiler id. Returns 0; JF_ERR_NOTFOUND when the compiler is
 * not found; JF_ERR_UNSUPPORTED when a clang configuration file is
 * present (its options are not on the command line), with why filled.
 */
int jf_cc_compiler_ident(const char *compiler, char *out, size_t len, char *why,
    size_t whylen);

/* The name of a set environment variable that makes clang do something
 * the cache cannot stand in for (write extra files, rewrite its own
 * arguments), or NULL. */
const char *jf_cc_env_unsafe(void);

/* The working directory as clang records it: $PWD when it names the
 * same directory as ".", as LLVM's current_path does, else getcwd. */
int jf_cc_cwd(char *buf, size_t len);

/* The direct-mode key: the whole compile line and the source's hash. */
void jf_cc_key_direct(const jf_cc_args_t *a, const char *ident, const char *cwd,
    const uint8_t src_sha[32], jf_key_t *out);

/* The preprocessor-mode key: what still matters after preprocessing and
 * the hash of the preprocessed text. */
void jf_cc_key_pp(const jf_cc_args_t *a, const char *ident, const char *cwd,
    const uint8_t pp_sha[32], jf_key_t *out);

/* The key an object is stored under: the hash of its bytes. */
void jf_cc_key_object(const uint8_t *obj, size_t len, jf_key_t *out);

#endif
