/*
 * store.c - the generic store layer: URL dispatch to a backend vtable,
 * and what every backend shares.
 *
 *  - read-only mode: writes fail with JF_ERR_READONLY before reaching
 *    the backend;
 *  - retries: transient failures (JF_ERR_STORE, JF_ERR_IO, JF_ERR_TIMEOUT)
 *    are retried with exponential backoff; a miss is never retried;
 *  - circuit breaker: after breaker_threshold consecutive failures the
 *    store fails fast with JF_ERR_STORE for breaker_cooldown_ms, then lets
 *    one call through to probe;
 *  - integrity: get decodes the blob, checks the payload hash and, with a
 *    verify key, the signature. A bad entry is a miss: counted, logged and
 *    deleted unless the store is read-only.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/log.h"
#include "common/util.h"
#include "store.h"

struct jf_store {
	const jf_store_ops_t *ops;
	void *self;
	jf_store_opts_t opts;
	int fails;                      /* consecutive failures */
	uint64_t open_until_ns;         /* breaker open until (monotonic) */
	jf_store_stats_t st;
	char url[1024];
	char err[256];
};

/* Backends, by scheme prefix. */
static const jf_store_ops_t *
ops_for(const char *url)
{
	const jf_store_ops_t *all[] = {
		&jf_store_file_ops, &jf_store_redis_ops, &jf_store_http_ops,
		&jf_store_s3_ops, &jf_store_tiered_ops,
	};
	size_t i;

	for (i = 0; i < JF_ARRAY_LEN(all); i++) {
		const char *sch;
		size_t n;

		sch = all[i]->scheme;
		n = strlen(sch);
		/* "http" also claims "https" */
		if (strncmp(url, sch, n) == 0 &&
		    (url[n] == ':' || (strcmp(sch, "http") == 0 && strncmp(url, "https:", 6) == 0)))
			return all[i];
	}
	return NULL;
}

int
jf_store_url_param(const char *url, const char *name, char *buf, size_t len)
{
	const char *q = strchr(url, '?'), *p;
	size_t nl = strlen(name);

	if (len == 0)
		return JF_ERR_TOOBIG;
	buf[0] = '\0';
	if (q == NULL)
		return 0;
	for (p = q + 1; *p; ) {
		const char *end = p + strcspn(p, "&");

		if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t o = 0;

			while (v < end) {
				int c = (unsigned char)*v;

				if (c == '%' && end - v >= 3 && isxdigit((unsigned char)v[1]) &&
				    isxdigit((unsigned char)v[2])) {
					char h[3] = { v[1], v[2], 0 };

					c = (int)strtol(h, NULL, 16);
					v += 3;
				} else {
					if (c == '+')
						c = ' ';
					v++;
				}
				if (o + 1 >= len)
					return JF_ERR_TOOBIG;
				buf[o++] = (char)c;
			}
			buf[o] = '\0';
			return 1;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

long
jf_store_url_long(const char *url, const char *name, long def)
{
	char v[32], *end;
	long n;
	int r = jf_store_url_param(url, name, v, sizeof(v));

	if (r == 0)
		return def;
	if (r < 0 || v[0] == '\0')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*end != '\0' || errno != 0 || n < 0)
		return -1;
	return n;
}

/* The common options a URL may carry; they override opts. */
static int
opts_from_url(const char *url, jf_store_opts_t *o, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} ints[] = {
		{ "connect_timeout_ms", offsetof(jf_store_opts_t, connect_timeout_ms) },
		{ "timeout_ms", offsetof(jf_store_opts_t, op_timeout_ms) },
		{ "read_only", offsetof(jf_store_opts_t, read_only) },
		{ "retries", offsetof(jf_store_opts_t, retries) },
		{ "breaker_threshold", offsetof(jf_store_opts_t, breaker_threshold) },
		{ "breaker_cooldown_ms", offsetof(jf_store_opts_t, breaker_cooldown_ms) },
		{ "page_size", offsetof(jf_store_opts_t, page_size) },
	};
	size_t i;

	/* tiered: the parts carry their own options */
	if (strncmp(url, "tiered:", 7) == 0)
		return 0;
	for (i = 0; i < JF_ARRAY_LEN(ints); i++) {
		long v = jf_store_url_long(url, ints[i].name, -2);

		if (v == -2)
			continue;
		if (v < 0 || v > 3600000)
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "bad value for %s in store URL", ints[i].name);
		if (v == 0 && strcmp(ints[i].name, "read_only") != 0 &&
		    strcmp(ints[i].name, "retries") != 0)
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "%s must be positive", ints[i].name);
		*(int *)((char *)o + ints[i].off) = (int)v;
	}
	return 0;
}

int
jf_store_open(const char *url, const jf_store_opts_t *opts, jf_store_t **out,
    char *err, size_t errlen)
{
	const jf_store_ops_t *ops;
	jf_store_t *s;
	int r;

	*out = NULL;
	if (url == NULL || (ops = ops_for(url)) == NULL)
		return jf_seterr(err, errlen, JF_ERR_INVAL,
		    "unsupported store URL '%s' (want file://, redis://, http(s)://, s3:// or tiered:)",
		    url ? url : "");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return JF_ERR_NOMEM;
	if (opts)
		s->opts = *opts;
	if (s->opts.connect_timeout_ms <= 0)
		s->opts.connect_timeout_ms = 2000;
	if (s->opts.op_timeout_ms <= 0)
		s->opts.op_timeout_ms = 10000;
	if (s->opts.retries == 0)
		s->opts.retries = 2;
	else if (s->opts.retries < 0)
		s->opts.retries = 0;
	if (s->opts.breaker_threshold <= 0)
		s->opts.breaker_threshold = 5;
	if (s->opts.breaker_cooldown_ms <= 0)
		s->opts.breaker_cooldown_ms = 5000;
	if (s->opts.page_size <= 0)
		s->opts.page_size = 1000;
	if ((r = opts_from_url(url, &s->opts, err, errlen)) != 0) {
		free(s);
		return r;
	}
	s->ops = ops;
	jf_strlcpy(s->url, url, sizeof(s->url));
	if ((r = ops->open(url, &s->opts, &s->self, err, errlen)) != 0) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void
jf_store_close(jf_store_t *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->self);
	free(s);
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
		free(*blob);
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
		if (c->nbad == c->capbad) {
			size_t nc = c->capbad ? c->capbad * 2 : 16;
			jf_key_t *nb = realloc(c->bad, nc * sizeof(*nb));

			if (nb == NULL)
				return JF_ERR_NOMEM;
			c->bad = nb;
			c->capbad = nc;
		}
		c->bad[c->nbad++] = *k;
		return 0;
	}
	c->s->st.hits++;
	return c->fn(k, blob, len, c->arg);
}

static int
collect_key(const jf_store_entry_t *e, void *arg)
{
	load_ctx_t *c = arg;

	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 1024;
		jf_key_t *nk = realloc(c->keys, nc * sizeof(*nk));

		if (nk == NULL)
			return JF_ERR_NOMEM;
		c->keys = nk;
		c->cap = nc;
	}
	c->keys[c->n++] = e->key;
	return 0;
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
		free(blob);
	}
out:
	if (!s->opts.read_only && !s->opts.keep_corrupt)
		for (i = 0; i < c.nbad; i++)
			(void)s->ops->del(s->self, &c.bad[i]);
	free(c.bad);
	free(c.keys);
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

const char *
jf_store_default_url(char *buf, size_t len)
{
	const char *e = getenv("JITFARM_STORE");

	if (e != NULL && *e)
		snprintf(buf, len, "%s", e);
	else if ((e = getenv("XDG_CACHE_HOME")) != NULL && *e == '/')
		snprintf(buf, len, "file://%s/jitfarm", e);
	else if ((e = getenv("HOME")) != NULL && *e == '/')
		snprintf(buf, len, "file://%s/.cache/jitfarm", e);
	else
		snprintf(buf, len, "file:///tmp/jitfarm-cache-%d", (int)getuid());
	return buf;
}
