/*
 * cc_entry.h - the cache entries of `jitfarm cc` (cc_entry.c): what a
 * direct-mode or preprocessor-mode key leads to, and how it is kept in
 * the artifact store.
 *
 * An entry names the object (its key in the store), lists every file the
 * compile read with the SHA-256 of its content, and paths that must stay
 * absent (direct mode re-checks both), and carries the depfile and the
 * compiler's diagnostics, which a hit writes and replays. It is stored
 * as a blob of namespace "jitfarm-cc" whose payload is this text:
 *
 *   "jitfarm-cc 2\n" "object HEX\n" ("header SHA PATH\n" | "absent PATH\n")*
 *   "depfile N\n" N bytes "\n" "stderr N\n" N bytes "\n"
 */
#ifndef JF_CLI_CC_ENTRY_H
#define JF_CLI_CC_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"

struct jf_store;
struct jf_artifact;

#define JF_CC_NS "jitfarm-cc"

typedef struct jf_cc_header {
	char *path;                     /* as stored: relative under base, else as read */
	uint8_t sha[32];
	int absent;                     /* the path must not exist */
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

/* An object, stored under its key (jf_cc_key_object) as a blob of the
 * same namespace. get: 0 with *art to jf_artifact_free, JF_ERR_NOTFOUND,
 * or the store's error; the blob's own payload hash is checked. */
int jf_cc_object_get(struct jf_store *s, const jf_key_t *k, struct jf_artifact *art);
int jf_cc_object_put(struct jf_store *s, const jf_key_t *k, const uint8_t *obj, size_t len);

/*
 * Read the include graph clang wrote (-dependency-dot FILE) and add every
 * file in it once to e with the hash of its content; paths under base
 * are kept relative to cwd. The graph drops the sysroot ("/") from
 * absolute paths, so "a/b.h" may be "/a/b.h" or "./a/b.h": both are
 * recorded, as present with their hash or as absent, so a change to
 * either is a miss. Returns 0; JF_ERR_FORMAT when a name cannot be read
 * back for sure (then no direct entry may be stored); JF_ERR_IO when a
 * file cannot be read. *volatile_hdr is set when a file uses __DATE__,
 * __TIME__ or __TIMESTAMP__.
 */
int jf_cc_entry_add_graph(jf_cc_entry_t *e, const char *dot, const char *cwd,
    const char *base, int *volatile_hdr);

/*
 * A header found under one directory of the include search path would
 * be shadowed by a file of the same name created in an earlier one.
 * For every file in e under dirs[k] (the most specific such k) as
 * dirs[k]/NAME, record dirs[j]/NAME for every j < k, present with its
 * hash or absent. dirs is the search order (n entries, as given on the
 * command line). Returns 0 or JF_ERR_IO / JF_ERR_TOOBIG.
 */
int jf_cc_entry_add_shadows(jf_cc_entry_t *e, char *const *dirs, size_t n, const char *cwd,
    const char *base);

/* Do the files listed in e still have the content they had, and do the
 * absent ones stay absent? */
int jf_cc_entry_headers_match(const jf_cc_entry_t *e);

/* Hash a file's content (at most 256 MiB). Returns 0, JF_ERR_NOTFOUND,
 * JF_ERR_IO or JF_ERR_TOOBIG. With volatile_macros, also says whether it
 * uses __DATE__, __TIME__ or __TIMESTAMP__. */
int jf_cc_hash_file(const char *path, uint8_t out[32], int *volatile_macros);

#endif
