/*
 * store_handle.h - the generic store handle: one backend's state behind
 * what every backend shares.
 *
 *  - read-only mode: writes fail with JF_ERR_READONLY before reaching
 *    the backend;
 *  - retries: transient failures (JF_ERR_STORE, JF_ERR_IO, JF_ERR_TIMEOUT)
 *    are retried with exponential backoff and jitter; a miss is never
 *    retried;
 *  - circuit breaker: after breaker_threshold consecutive failures the
 *    store fails fast with JF_ERR_STORE for breaker_cooldown_ms, then lets
 *    one call through to probe;
 *  - integrity: get decodes the blob, checks the payload hash and, with a
 *    verify key, the signature. A bad entry is a miss: counted, logged and
 *    deleted unless the store is read-only.
 *
 * Handles are made by jf_store_open (store.h), which picks the backend;
 * a store made of stores (store_tiered.c) holds handles of its own.
 * Blobs returned through out-parameters come from jf_malloc and are owned
 * by the caller, who frees them with jf_free. A jf_store_t may be used by
 * one thread at a time; open one per thread.
 */
#ifndef JF_STORE_HANDLE_H
#define JF_STORE_HANDLE_H

#include "store_backend.h"

typedef struct jf_store jf_store_t;

/* Wrap an opened backend (self, which the handle now owns) with normalised
 * opts. On failure (JF_ERR_NOMEM) self is closed. */
int jf_store_handle_new(const jf_store_ops_t *ops, void *self, const jf_store_opts_t *opts,
    jf_store_t **out);
void jf_store_close(jf_store_t *s);

/* Fetch and verify. A corrupt or badly signed entry is a miss: it is
 * logged, counted and (unless read-only) deleted. */
int jf_store_get(jf_store_t *s, const jf_key_t *k, uint8_t **blob, size_t *len);
/* Fetch without verification (for tools that inspect raw entries). */
int jf_store_get_raw(jf_store_t *s, const jf_key_t *k, uint8_t **blob, size_t *len);
/* Atomic and idempotent; the blob must decode (checked here). */
int jf_store_put(jf_store_t *s, const jf_key_t *k, const uint8_t *blob, size_t len);
int jf_store_del(jf_store_t *s, const jf_key_t *k);
int jf_store_exists(jf_store_t *s, const jf_key_t *k);
int jf_store_list(jf_store_t *s, jf_store_list_fn fn, void *arg);
int jf_store_cursor(jf_store_t *s, char *cursor, size_t len);
int jf_store_watch(jf_store_t *s, char *cursor, size_t len, int timeout_ms,
    jf_store_watch_fn fn, void *arg);
/* Every entry, verified like get (corrupt ones are skipped, counted and
 * deleted), with the remote fetches batched or pipelined where the
 * backend can. A warm start notes jf_store_cursor first, loads, then
 * watches from the noted cursor. fn's non-zero return stops and is
 * returned. */
int jf_store_load_all(jf_store_t *s, jf_store_blob_fn fn, void *arg);

/* Cluster-wide single-flight: try to take a lease on k for ttl_ms
 * (redis: SET NX PX with a token unique to this handle). 0 with
 * *acquired = 0 or 1; JF_ERR_UNSUPPORTED on backends without leases (the
 * caller then goes ahead alone), JF_ERR_READONLY on a read-only store. */
int jf_store_lease(jf_store_t *s, const jf_key_t *k, int ttl_ms, int *acquired);
/* Drop a lease this handle holds; nothing happens to someone else's. */
int jf_store_lease_release(jf_store_t *s, const jf_key_t *k);

/* Last error text for this handle (never NULL). */
const char *jf_store_errstr(jf_store_t *s);
const char *jf_store_scheme(jf_store_t *s);
void jf_store_get_stats(jf_store_t *s, jf_store_stats_t *st);

#endif
