/*
 * store.h - the artifact store: one interface, several backends.
 *
 * A store maps artifact keys to blobs (common/blob.h) and is also the bus
 * that tells nodes about new entries (watch). The backend is chosen from
 * the URL at open time and reached through a const vtable (jf_store_ops),
 * in the manner of redis's rio or libevent's eventop:
 *
 *   file:///var/cache/jitfarm                       store_file.c
 *   redis://[user:pw@]host:port/db?prefix=jf        store_redis.c
 *   http://host/path, https://...                   store_http.c
 *   s3://bucket/prefix?endpoint=...&region=...      store_http.c (SigV4)
 *   tiered:LOCAL_URL,REMOTE_URL                     store_tiered.c
 *
 * The generic layer (store.c) adds what every backend shares: read-only
 * mode, retries with backoff, a circuit breaker, and integrity checks on
 * get (payload hash always, signature when a public key is configured).
 *
 * Results: 0 on success, JF_ERR_NOTFOUND for a miss, and any other
 * negative code for a failure ("store down" is never a miss). Blobs
 * returned through out-parameters are malloc'd and owned by the caller.
 * A jf_store_t may be used by one thread at a time; open one per thread.
 */
#ifndef JF_STORE_H
#define JF_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"

#define JF_CURSOR_MAX 128

typedef struct jf_store jf_store_t;

typedef struct jf_store_opts {
	int connect_timeout_ms;         /* 0: 2000 */
	int op_timeout_ms;              /* 0: 10000 */
	int read_only;
	int retries;                    /* extra attempts on transient errors; -1: none, 0: 2 */
	int breaker_threshold;          /* consecutive failures that open the breaker; 0: 5 */
	int breaker_cooldown_ms;        /* 0: 5000 */
	void *verify_key;               /* EVP_PKEY Ed25519 public key or NULL; borrowed */
	int keep_corrupt;               /* don't delete corrupt entries (tests) */
	int page_size;                  /* list page size for paged backends; 0: 1000 */
} jf_store_opts_t;

/* What list() and watch() report about an entry. */
typedef struct jf_store_entry {
	jf_key_t key;
	uint64_t size;                  /* blob size, 0 when unknown */
	uint64_t mtime_ms;              /* 0 when unknown */
} jf_store_entry_t;

/* Return 0 to continue, non-zero to stop (that value is returned). */
typedef int (*jf_store_list_fn)(const jf_store_entry_t *e, void *arg);
/* Called for each new entry in order; cursor is the position after it. */
typedef int (*jf_store_watch_fn)(const jf_key_t *key, const char *cursor, void *arg);
/* load_all: one verified blob, borrowed for the call only. */
typedef int (*jf_store_blob_fn)(const jf_key_t *key, const uint8_t *blob, size_t len,
    void *arg);

typedef struct jf_store_stats {
	uint64_t gets, hits, misses, puts, dels, errors, corrupt, breaker_trips;
} jf_store_stats_t;

/* The backend vtable. `self` is the backend's own state. */
typedef struct jf_store_ops {
	const char *scheme;
	int (*open)(const char *url, const jf_store_opts_t *o, void **self,
	    char *err, size_t errlen);
	int (*get)(void *self, const jf_key_t *k, uint8_t **blob, size_t *len);
	int (*put)(void *self, const jf_key_t *k, const uint8_t *blob, size_t len);
	int (*del)(void *self, const jf_key_t *k);
	int (*exists)(void *self, const jf_key_t *k);   /* 0 yes, NOTFOUND no */
	int (*list)(void *self, jf_store_list_fn fn, void *arg);
	/* Current end of the change feed, for a later watch. */
	int (*cursor)(void *self, char *cursor, size_t len);
	/* Deliver entries after cursor, waiting up to timeout_ms for the
	 * first; updates cursor in place. JF_ERR_RESYNC if the cursor was
	 * trimmed away. NULL when the backend cannot watch. */
	int (*watch)(void *self, char *cursor, size_t len, int timeout_ms,
	    jf_store_watch_fn fn, void *arg);
	const char *(*errstr)(void *self);
	void (*close)(void *self);
	/* Optional (NULL: the generic layer lists and gets one by one).
	 * Every entry's raw blob, fetched in batches. */
	int (*load_all)(void *self, jf_store_blob_fn fn, void *arg);
	/* Optional (NULL: JF_ERR_UNSUPPORTED). A short cluster-wide lease on
	 * a key: *acquired = 1 if this handle now holds it for ttl_ms. */
	int (*lease)(void *self, const jf_key_t *k, int ttl_ms, int *acquired);
	/* Release a lease this handle holds (a no-op if it expired). */
	int (*lease_release)(void *self, const jf_key_t *k);
	/* Optional: add what the backend counted itself (a store made of
	 * stores reports its parts' corrupt entries). */
	void (*stats)(void *self, jf_store_stats_t *st);
	/* get already returns verified blobs (a store made of stores). */
	int self_verifying;
} jf_store_ops_t;

int jf_store_open(const char *url, const jf_store_opts_t *opts, jf_store_t **out,
    char *err, size_t errlen);
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

/* The default store URL: $JITFARM_STORE, else file://$XDG_CACHE_HOME/jitfarm,
 * else file://$HOME/.cache/jitfarm. Writes into buf. */
const char *jf_store_default_url(char *buf, size_t len);

/*
 * Options also come from the URL's query string, for every backend:
 * ?connect_timeout_ms=N&timeout_ms=N&read_only=1&retries=N&page_size=N
 * &breaker_threshold=N&breaker_cooldown_ms=N. A value in the URL wins
 * over the one in opts. Backends read their own parameters with
 * jf_store_url_param (and ignore the common ones).
 */
/* Copy the value of query parameter name (percent-decoded) into buf.
 * Returns 1 if present, 0 if absent, JF_ERR_TOOBIG if it does not fit. */
int jf_store_url_param(const char *url, const char *name, char *buf, size_t len);
/* Parse a non-negative integer parameter; def when absent; -1 on garbage. */
long jf_store_url_long(const char *url, const char *name, long def);

/* Backends, for the registry in store.c. */
extern const jf_store_ops_t jf_store_file_ops;
extern const jf_store_ops_t jf_store_redis_ops;
extern const jf_store_ops_t jf_store_http_ops;
extern const jf_store_ops_t jf_store_s3_ops;
extern const jf_store_ops_t jf_store_tiered_ops;

#endif
