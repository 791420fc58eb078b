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
#include <errno.h>
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

/* Backends registered by scheme prefix. Weak references let a build
 * leave a backend out without editing this table. */
extern const jf_store_ops_t jf_store_redis_ops __attribute__((weak));
extern const jf_store_ops_t jf_store_http_ops __attribute__((weak));
extern const jf_store_ops_t jf_store_s3_ops __attribute__((weak));
extern const jf_store_ops_t jf_store_tiered_ops __attribute__((weak));

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

		if (all[i] == NULL)
			continue;
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
		(r) = breaker_check(s); \
		for (a_ = 0; (r) == 0; a_++) { \
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

int
jf_store_get(jf_store_t *s, const jf_key_t *k, uint8_t **blob, size_t *len)
{
	jf_manifest_t m;
	jf_artifact_t a;
	char why[256], hex[JF_KEY_HEX_LEN + 1];
	int r;

	s->st.gets++;
	if ((r = jf_store_get_raw(s, k, blob, len)) != 0) {
		if (r == JF_ERR_NOTFOUND)
			s->st.misses++;
		return r;
	}
	if (s->opts.verify_key)
		r = jf_blob_decode(*blob, *len, s->opts.verify_key, &a, why, sizeof(why));
	else
		r = jf_blob_peek(*blob, *len, &m, why, sizeof(why));
	if (r == 0) {
		if (s->opts.verify_key) {
			r = jf_key_eq(&a.m.key, k) ? 0 : JF_ERR_INTEGRITY;
			jf_artifact_free(&a);
		} else {
			r = jf_key_eq(&m.key, k) ? 0 : JF_ERR_INTEGRITY;
			jf_manifest_free(&m);
		}
		if (r != 0)
			snprintf(why, sizeof(why), "stored under a key that is not its own");
	}
	if (r == JF_ERR_NOMEM) {
		free(*blob);
		*blob = NULL;
		*len = 0;
		return r;
	}
	if (r != 0) {
		jf_key_hex(k, hex);
		s->st.corrupt++;
		jf_warn("store=%s key=%s msg=\"corrupt entry dropped\" why=\"%s\"",
		    s->ops->scheme, hex, why);
		snprintf(s->err, sizeof(s->err), "%s", why);
		free(*blob);
		*blob = NULL;
		*len = 0;
		if (!s->opts.read_only && !s->opts.keep_corrupt)
			(void)s->ops->del(s->self, k);
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
	int r = breaker_check(s);

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
	if ((r = breaker_check(s)) != 0)
		return r;
	r = s->ops->watch(s->self, cursor, len, timeout_ms, fn, arg);
	breaker_note(s, r);
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
