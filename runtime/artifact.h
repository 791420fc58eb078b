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
 * JF_ERR_NOMEM when memory ran out (try again later); another jf_err when
 * it is ours but fails verification or loading (err says why).
 */
int jf_art_load(jf_runtime_t *rt, const jf_key_t *key, const uint8_t *blob, size_t len,
    jf_program_t **out, uint64_t id[4], char *err, size_t errlen);
/* Unload and free a program. NULL is fine. */
void jf_art_program_free(jf_runtime_t *rt, jf_program_t *p);

#endif
