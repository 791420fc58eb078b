/*
 * cc_entry.h - the cache entries of `jitfarm cc` (cc_entry.c): what a
 * direct-mode or preprocessor-mode key leads to, and how it is kept in
 * the artifact store.
 *
 * An entry names the object (its artifact key), lists every header the
 * compile read with the SHA-256 of its content (direct mode re-checks
 * them), and carries the depfile and the compiler's diagnostics, which a
 * hit writes and replays. It is stored as a blob of namespace "jitfarm-cc"
 * whose payload is this text:
 *
 *   "jitfarm-cc 1\n" "object HEX\n" ("header SHA PATH\n")*
 *   "depfile N\n" N bytes "\n" "stderr N\n" N bytes "\n"
 */
#ifndef JF_CLI_CC_ENTRY_H
#define JF_CLI_CC_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"

struct jf_store;

#define JF_CC_NS "jitfarm-cc"

typedef struct jf_cc_header {
	char *path;                     /* as stored: relative under base, else absolute */
	uint8_t sha[32];
} jf_cc_header_t;

typedef struct jf_cc_entry {
	jf_key_t object;
	jf_cc_header_t *h;
	size_t nh, caph;
	uint8_t *dep;                   /* depfile bytes or NULL */
	size_t dep_len;
	uint8_t *err;                   /* the compiler's stderr, replayed on hits */
	size_t err_len;
} jf_cc_entry_t;

/* Free what e holds and zero it; NULL is fine. */
void jf_cc_entry_free(jf_cc_entry_t *e);

/* Fetch the entry stored under k into *e (zeroed first). Returns 0,
 * JF_ERR_NOTFOUND for a miss or an entry that does not decode, or the
 * store's error. */
int jf_cc_entry_get(struct jf_store *s, const jf_key_t *k, jf_cc_entry_t *e);

/* Store e under k. Returns 0 or the store's error. */
int jf_cc_entry_put(struct jf_store *s, const jf_key_t *k, const jf_cc_entry_t *e);

/* Read the header list clang wrote (one path a line, repeats allowed) and
 * add each header once to e with the hash of its content; paths under
 * base are kept relative to cwd. A missing list means no header. Returns
 * 0 or JF_ERR_IO when a header cannot be read; *volatile_hdr is set when
 * a header uses __DATE__, __TIME__ or __TIMESTAMP__. */
int jf_cc_entry_add_headers(jf_cc_entry_t *e, const char *list, const char *cwd,
    const char *base, int *volatile_hdr);

/* Do the headers listed in e still have the content they had? */
int jf_cc_entry_headers_match(const jf_cc_entry_t *e);

/* Hash a file's content (at most 256 MiB). Returns 0, JF_ERR_NOTFOUND,
 * JF_ERR_IO or JF_ERR_TOOBIG. With volatile_macros, also says whether it
 * uses __DATE__, __TIME__ or __TIMESTAMP__. */
int jf_cc_hash_file(const char *path, uint8_t out[32], int *volatile_macros);

#endif
