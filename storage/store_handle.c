/*
 * store_handle.c - the generic store handle (store_handle.h): retries
 * with backoff, the circuit breaker, read-only mode and integrity checks,
 * around one backend's vtable.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "store_handle.h"

struct jf_store {
	const jf_store_ops_t *ops;
	void *self;
	jf_store_opts_t opts;
	int fails;                      /* consecutive failures */
	uint64_t open_until_ns;         /* breaker open until (monotonic) */
	jf_store_stats_t st;
	char err[256];
};

int
jf_store_handle_new(const jf_store_ops_t *ops, void *self, const jf_store_opts_t *opts,
    jf_store_t **out)
{
	jf_store_t *s;

	*out = NULL;
	if ((s = jf_calloc(1, sizeof(*s))) == NULL) {
		ops->close(self);
		return JF_ERR_NOMEM;
	}
	s->ops = ops;
	s->self = self;
	s->opts = *opts;
	*out = s;
	return 0;
}

void
jf_store_close(jf_store_t *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->self);
	jf_free(s);
}

static int
transient(int r)
{
	return r == JF_ERR_STORE || r == JF_ERR_IO || r == JF_ERR_TIMEOUT;
}

static void
backoff_sleep(int attempt)
{
	struct timespec ts;
	long ms = 20L << (attempt < 6 ? attempt : 6);

	ms += rand() % (ms / 2 + 1);    /* jitter so retries do not align */
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Breaker gate: JF_ERR_STORE while open. */
static int
breaker_check(jf_store_t *s)
{
	if (s->open_until_ns && jf_now_ns() < s->open_until_ns) {
		snprintf(s->err, sizeof(s->err), "store %s skipped: circuit open after %d failures",
		    s->ops->scheme, s->fails);
		return JF_ERR_STORE;
	}
	return 0;
}

static void
breaker_note(jf_store_t *s, int r)
{
	if (r == JF_ERR_STORE && s->open_until_ns && jf_now_ns() < s->open_until_ns)
		return;         /* refused by the open breaker, not a new failure */
	if (!transient(r)) {
		s->fails = 0;
		s->open_until_ns = 0;
		return;
	}
	s->st.errors++;
	if (++s->fails >= s->opts.breaker_threshold) {
		if (s->open_until_ns == 0 || jf_now_ns() >= s->open_until_ns) {
			s->st.breaker_trips++;
			jf_warn("store=%s msg=\"circuit open\" failures=%d cooldown_ms=%d err=\"%s\"",
			    s->ops->scheme, s->fails, s->opts.breaker_cooldown_ms,
			    s->ops->errstr(s->self));
		}
		s->open_until_ns = jf_now_ns() + (uint64_t)s->opts.breaker_cooldown_ms * 1000000ull;
	}
}

/* Run expr with retries and the breaker, leaving the result in r. A
 * macro because the backend calls have different signatures. */
#define STORE_CALL(s, r, expr) \
	do { \
		int a_; \
		(s)->err[0] = '\0'; \
		(r) = breaker_check(s); \
		for (a_ = 0; (r) == 0 || a_ > 0; a_++) { \
			(r) = (expr); \
			if (!transient(r) || a_ >= (s)->opts.retries || \
			    (s)->fails + 1 >= (s)->opts.breaker_threshold) \
				break; \
			backoff_sleep(a_); \
		} \
		breaker_note((s), (r)); \
	} while (0)

int
jf_store_get_raw(jf_store_t *s, const jf_key_t *k, uint8_t **blob, size_t *len)
{
	int r;

	*blob = NULL;
	*len = 0;
	STORE_CALL(s, r, s->ops->get(s->self, k, blob, len));
	return r;
}

/* Check a fetched blob: 0 if good, JF_ERR_NOMEM, or another code with
 * why filled in for a corrupt or badly signed entry. */
static int
verify_blob(jf_store_t *s, const jf_key_t *k, const uint8_t *blob, size_t len,
    char *why, size_t whylen)
{
	jf_manifest_t m;
	jf_artifact_t a;
	int r;

	if (s->ops->self_verifying)
		return 0;
	if (s->opts.verify_key)
		r = jf_blob_decode(blob, len, s->opts.verify_key, &a, why, whylen);
	else
		r = jf_blob_peek(blob, len, &m, why, whylen);
	if (r != 0)
		return r;
	if (s->opts.verify_key) {
		r = jf_key_eq(&a.m.key, k) ? 0 : JF_ERR_INTEGRITY;
		jf_artifact_free(&a);
	} else {
		r = jf_key_eq(&m.key, k) ? 0 : JF_ERR_INTEGRITY;
		jf_manifest_free(&m);
	}
	if (r != 0)
		snprintf(why, whylen, "stored under a key that is not its own");
	return r;
}

/* A corrupt entry: count, log, and delete it where the store is writable. */
static void
drop_corrupt(jf_store_t *s, const jf_key_t *k, const char *why)
{
	char hex[JF_KEY_HEX_LEN + 1];

	jf_key_hex(k, hex);
	s->st.corrupt++;
	jf_warn("store=%s key=%s msg=\"corrupt entry dropped\" why=\"%s\"",
	    s->ops->scheme, hex, why);
	snprintf(s->err, sizeof(s->err), "corrupt entry %.16s...: %s", hex, why);
	if (!s->opts.read_only && !s->opts.keep_corrupt)
		(void)s->ops->del(s->self, k);
}

int
jf_store_get(jf_store_t *s, const jf_key_t *k, uint8_t **blob, size_t *len)
{
	char why[256];
	int r;

	s->st.gets++;
	if ((r = jf_store_get_raw(s, k, blob, len)) != 0) {
		if (r == JF_ERR_NOTFOUND)
			s->st.misses++;
		return r;
	}
	if ((r = verify_blob(s, k, *blob, *len, why, sizeof(why))) != 0) {
		jf_free(*blob);
		*blob = NULL;
		*len = 0;
		if (r == JF_ERR_NOMEM)
			return r;
		drop_corrupt(s, k, why);
		s->st.misses++;
		return JF_ERR_NOTFOUND;
	}
	s->st.hits++;
	return 0;
}

int
jf_store_put(jf_store_t *s, const jf_key_t *k, const uint8_t *blob, size_t len)
{
	jf_manifest_t m;
	char why[256];
	int r;

	if (s->opts.read_only) {
		snprintf(s->err, sizeof(s->err), "store is read-only");
		return JF_ERR_READONLY;
	}
	if ((r = jf_blob_peek(blob, len, &m, why, sizeof(why))) != 0) {
		snprintf(s->err, sizeof(s->err), "refusing to store a bad blob: %s", why);
		return r;
	}
	r = jf_key_eq(&m.key, k) ? 0 : JF_ERR_INVAL;
	jf_manifest_free(&m);
	if (r != 0) {
		snprintf(s->err, sizeof(s->err), "blob's manifest names another key");
		return r;
	}
	s->st.puts++;
	STORE_CALL(s, r, s->ops->put(s->self, k, blob, len));
	return r;
}

int
jf_store_del(jf_store_t *s, const jf_key_t *k)
{
	int r;

	if (s->opts.read_only) {
		snprintf(s->err, sizeof(s->err), "store is read-only");
		return JF_ERR_READONLY;
	}
	s->st.dels++;
	STORE_CALL(s, r, s->ops->del(s->self, k));
	return r;
}

int
jf_store_exists(jf_store_t *s, const jf_key_t *k)
{
	int r;

	STORE_CALL(s, r, s->ops->exists(s->self, k));
	return r;
}

int
jf_store_list(jf_store_t *s, jf_store_list_fn fn, void *arg)
{
	int r;

	s->err[0] = '\0';
	r = breaker_check(s);
	/* not retried: a partial listing was already delivered */
	if (r == 0) {
		r = s->ops->list(s->self, fn, arg);
		breaker_note(s, r);
	}
	return r;
}

int
jf_store_cursor(jf_store_t *s, char *cursor, size_t len)
{
	int r;

	if (s->ops->cursor == NULL)
		return JF_ERR_UNSUPPORTED;
	STORE_CALL(s, r, s->ops->cursor(s->self, cursor, len));
	return r;
}

int
jf_store_watch(jf_store_t *s, char *cursor, size_t len, int timeout_ms,
    jf_store_watch_fn fn, void *arg)
{
	int r;

	if (s->ops->watch == NULL)
		return JF_ERR_UNSUPPORTED;
	s->err[0] = '\0';
	if ((r = breaker_check(s)) != 0)
		return r;
	r = s->ops->watch(s->self, cursor, len, timeout_ms, fn, arg);
	breaker_note(s, r);
	return r;
}

typedef struct load_ctx {
	jf_store_t *s;
	jf_store_blob_fn fn;
	void *arg;
	/* corrupt entries, deleted once the walk is over */
	jf_key_t *bad;
	size_t nbad, capbad;
	/* the generic path collects keys first, then gets them */
	jf_key_t *keys;
	size_t n, cap;
} load_ctx_t;

static int
load_one(const jf_key_t *k, const uint8_t *blob, size_t len, void *arg)
{
	load_ctx_t *c = arg;
	char why[256];
	int r;

	c->s->st.gets++;
	if ((r = verify_blob(c->s, k, blob, len, why, sizeof(why))) != 0) {
		char hex[JF_KEY_HEX_LEN + 1];

		if (r == JF_ERR_NOMEM)
			return r;
		/* not deleted here: the backend may be in the middle of a
		 * pipeline or a paged walk that a delete would disturb */
		jf_key_hex(k, hex);
		c->s->st.corrupt++;
		c->s->st.misses++;
		jf_warn("store=%s key=%s msg=\"corrupt entry dropped\" why=\"%s\"",
		    c->s->ops->scheme, hex, why);
		return JF_VEC_PUSH(c->bad, c->nbad, c->capbad, *k);
	}
	c->s->st.hits++;
	return c->fn(k, blob, len, c->arg);
}

static int
collect_key(const jf_store_entry_t *e, void *arg)
{
	load_ctx_t *c = arg;

	return JF_VEC_PUSH(c->keys, c->n, c->cap, e->key);
}

int
jf_store_load_all(jf_store_t *s, jf_store_blob_fn fn, void *arg)
{
	load_ctx_t c = { .s = s, .fn = fn, .arg = arg };
	size_t i;
	int r;

	s->err[0] = '\0';
	if (s->ops->load_all != NULL) {
		if ((r = breaker_check(s)) != 0)
			return r;
		r = s->ops->load_all(s->self, load_one, &c);
		breaker_note(s, r);
		goto out;
	}
	if ((r = jf_store_list(s, collect_key, &c)) != 0)
		goto out;
	for (i = 0; i < c.n && r == 0; i++) {
		uint8_t *blob = NULL;
		size_t len = 0;

		STORE_CALL(s, r, s->ops->get(s->self, &c.keys[i], &blob, &len));
		if (r == JF_ERR_NOTFOUND) {
			r = 0;          /* deleted since the listing */
			continue;
		}
		if (r == 0)
			r = load_one(&c.keys[i], blob, len, &c);
		jf_free(blob);
	}
out:
	if (!s->opts.read_only && !s->opts.keep_corrupt)
		for (i = 0; i < c.nbad; i++)
			(void)s->ops->del(s->self, &c.bad[i]);
	jf_free(c.bad);
	jf_free(c.keys);
	return r;
}

int
jf_store_lease(jf_store_t *s, const jf_key_t *k, int ttl_ms, int *acquired)
{
	int r;

	*acquired = 0;
	if (s->ops->lease == NULL)
		return JF_ERR_UNSUPPORTED;
	if (s->opts.read_only)
		return JF_ERR_READONLY;
	if (ttl_ms <= 0)
		return JF_ERR_INVAL;
	STORE_CALL(s, r, s->ops->lease(s->self, k, ttl_ms, acquired));
	return r;
}

int
jf_store_lease_release(jf_store_t *s, const jf_key_t *k)
{
	int r;

	if (s->ops->lease_release == NULL)
		return JF_ERR_UNSUPPORTED;
	if (s->opts.read_only)
		return JF_ERR_READONLY;
	STORE_CALL(s, r, s->ops->lease_release(s->self, k));
	return r;
}

const char *
jf_store_errstr(jf_store_t *s)
{
	if (s->err[0])
		return s->err;
	return s->ops->errstr(s->self);
}

const char *
jf_store_scheme(jf_store_t *s)
{
	return s->ops->scheme;
}

void
jf_store_get_stats(jf_store_t *s, jf_store_stats_t *st)
{
	*st = s->st;
	if (s->ops->stats)
		s->ops->stats(s->self, st);
}
