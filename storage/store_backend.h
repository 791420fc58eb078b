/*
 * store_backend.h - what a store backend implements, and the types every
 * part of the store shares: options, listing entries, callbacks, stats,
 * and the const vtable (jf_store_ops_t) a backend fills in, in the manner
 * of redis's rio or libevent's eventop.
 *
 * This is the lowest layer of storage/: backends include it and nothing
 * above it. The generic handle (store_handle.h) wraps a backend's state;
 * jf_store_open (store.h) picks the backend from the URL.
 *
 * Results: 0 on success, JF_ERR_NOTFOUND for a miss, and any other
 * negative code for a failure ("store down" is never a miss). Buffers a
 * backend returns (get's blob) come from jf_malloc and are freed with
 * jf_free by whoever receives them.
 */
#ifndef JF_STORE_BACKEND_H
#define JF_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"
#include "common/url.h"

#define JF_CURSOR_MAX 128

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
	/* u is the parsed URL (jf_url_parse); url the text, for messages. */
	int (*open)(const char *url, const jf_url_t *u, const jf_store_opts_t *o, void **self,
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

/*
 * Options also come from the URL's query string, for every backend:
 * ?connect_timeout_ms=N&timeout_ms=N&read_only=1&retries=N&page_size=N
 * &breaker_threshold=N&breaker_cooldown_ms=N. A value in the URL wins
 * over the one in opts. Backends read their own parameters with
 * jf_store_url_param (and ignore the common ones). The query is parsed
 * by jf_query_parse (url.h): '+' is a plus, a name given twice or a
 * decoded NUL is refused.
 */
/* Copy the value of query parameter name (percent-decoded) into buf.
 * Returns 1 if present, 0 if absent, JF_ERR_TOOBIG if it does not fit,
 * JF_ERR_INVAL if the query is malformed. */
int jf_store_url_param(const char *url, const char *name, char *buf, size_t len);
/* Parse a non-negative integer parameter; def when absent; -1 on garbage. */
long jf_store_url_long(const char *url, const char *name, long def);

#endif
