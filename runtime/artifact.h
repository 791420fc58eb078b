/*
 * artifact.h - from stored bytes to a loaded program: the key this node
 * derives for a program id, a read-only store handle, and the checks and
 * loading every artifact goes through, wherever it came from.
 */
#ifndef JF_RT_ARTIFACT_H
#define JF_RT_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"
#include "rt.h"

/* The artifact key of program id on this node (namespace, target). */
int jf_art_derive_key(jf_runtime_t *rt, const uint64_t id[4], jf_key_t *out);
/* Open the node's store read-only (a node never writes or deletes). */
int jf_art_store_open(jf_runtime_t *rt, jf_store_t **out, char *err, size_t errlen);
/*
 * Check a blob stored under key and load it. Returns 0 with *out (the
 * caller owns it; jf_art_program_free) and id set; JF_ERR_NOTFOUND when
 * the artifact is for another namespace, target or compiler (skip it);
 * JF_ERR_NOMEM, JF_ERR_BUSY (no room under the code budget in time) or
 * JF_ERR_TOOBIG (larger than the budget), which are no fault of the
 * artifact; another jf_err when it is ours but fails verification or
 * loading (err says why). Loads wait for room only once the backend
 * runs (not during the preload at open).
 */
int jf_art_load(jf_runtime_t *rt, const jf_key_t *key, const uint8_t *blob, size_t len,
    jf_program_t **out, uint64_t id[4], char *err, size_t errlen);
/* True for the failures of jf_art_load that say nothing against the
 * artifact (memory, the code budget): not a rejection, try again later. */
int jf_art_transient(int r);
/* Count len more loaded bytes against the code budget, waiting (up to
 * wait_ms) for eviction to make room. Returns 0, JF_ERR_TOOBIG when len
 * alone is over the budget, or JF_ERR_BUSY when no room came in time.
 * Takes rt->lock. jf_art_unreserve gives the bytes back. */
int jf_art_reserve(jf_runtime_t *rt, uint64_t len, int wait_ms, char *err, size_t errlen);
void jf_art_unreserve(jf_runtime_t *rt, uint64_t len);
/* Unload and free a program, giving its bytes back. NULL is fine. Takes
 * rt->lock: never call it with the lock held. */
void jf_art_program_free(jf_runtime_t *rt, jf_program_t *p);

#endif
