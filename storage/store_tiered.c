/*
 * store_tiered.c - a local store in front of a remote one:
 * tiered:LOCAL_URL,REMOTE_URL (for example tiered:file:///var/cache/jf,redis://r:6379).
 *
 * Each part is a full jf_store_t, with its own retries, circuit breaker
 * and integrity checks, so a blob that reaches this layer is verified.
 *
 *  - get: local first; a local miss is fetched from the remote and
 *    written back locally (backfill);
 *  - put and del go to both;
 *  - a remote that fails (down, timing out, its breaker open) degrades
 *    the store to local-only: a warning when it goes down and a note
 *    when it is back, never an error for the caller. A local miss while
 *    the remote is down is a miss;
 *  - list is the union of both; watch, cursor and leases are the
 *    remote's (the remote is the bus).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "store_tiered.h"

typedef struct ts {
	jf_store_t *local, *remote;
	int remote_down;                /* last remote call failed */
	char err[512];
} ts_t;

int
jf_store_tiered_new(jf_store_t *local, jf_store_t *remote, void **self)
{
	ts_t *t;

	*self = NULL;
	if ((t = jf_calloc(1, sizeof(*t))) == NULL)
		return JF_ERR_NOMEM;
	t->local = local;
	t->remote = remote;
	*self = t;
	return 0;
}

/* Note the remote's health after a call; returns whether it failed. */
static int
remote_failed(ts_t *t, int rc, const char *op)
{
	int failed = rc != 0 && rc != JF_ERR_NOTFOUND && rc != JF_ERR_RESYNC;

	if (failed && !t->remote_down)
		jf_warn("store=tiered remote=%s msg=\"remote down; serving locally\" op=%s err=\"%s\"",
		    jf_store_scheme(t->remote), op, jf_store_errstr(t->remote));
	else if (!failed && t->remote_down)
		jf_info("store=tiered remote=%s msg=\"remote back\"", jf_store_scheme(t->remote));
	if (failed)
		snprintf(t->err, sizeof(t->err), "remote %s: %s", jf_store_scheme(t->remote),
		    jf_store_errstr(t->remote));
	t->remote_down = failed;
	return failed;
}

static int
ts_get(void *self, const jf_key_t *k, uint8_t **blob, size_t *len)
{
	ts_t *t = self;
	int rc = jf_store_get(t->local, k, blob, len);

	if (rc != JF_ERR_NOTFOUND) {
		if (rc != 0)
			snprintf(t->err, sizeof(t->err), "local: %s", jf_store_errstr(t->local));
		return rc;
	}
	rc = jf_store_get(t->remote, k, blob, len);
	if (remote_failed(t, rc, "get"))
		return JF_ERR_NOTFOUND;
	if (rc == 0 && jf_store_put(t->local, k, *blob, *len) != 0)
		jf_warn("store=tiered msg=\"backfill failed\" err=\"%s\"",
		    jf_store_errstr(t->local));
	return rc;
}

static int
ts_put(void *self, const jf_key_t *k, const uint8_t *blob, size_t len)
{
	ts_t *t = self;
	int lr = jf_store_put(t->local, k, blob, len);
	int rr = jf_store_put(t->remote, k, blob, len);

	if (remote_failed(t, rr, "put"))
		rr = JF_ERR_STORE;
	if (lr != 0) {
		snprintf(t->err, sizeof(t->err), "local: %s", jf_store_errstr(t->local));
		/* stored remotely is stored: the local tier is a cache */
		return rr == 0 ? 0 : lr;
	}
	return 0;
}

static int
ts_del(void *self, const jf_key_t *k)
{
	ts_t *t = self;
	int lr = jf_store_del(t->local, k);
	int rr = jf_store_del(t->remote, k);

	if (remote_failed(t, rr, "del"))
		rr = JF_ERR_NOTFOUND;
	if (lr == 0 || rr == 0)
		return 0;
	if (lr != JF_ERR_NOTFOUND)
		snprintf(t->err, sizeof(t->err), "local: %s", jf_store_errstr(t->local));
	return lr;
}

static int
ts_exists(void *self, const jf_key_t *k)
{
	ts_t *t = self;
	int rc = jf_store_exists(t->local, k);

	if (rc != JF_ERR_NOTFOUND)
		return rc;
	rc = jf_store_exists(t->remote, k);
	return remote_failed(t, rc, "exists") ? JF_ERR_NOTFOUND : rc;
}

typedef struct union_ctx {
	jf_key_t *keys;                 /* the local keys, sorted */
	size_t n, cap;
	jf_store_list_fn fn;
	void *arg;
} union_ctx_t;

static int
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, JF_KEY_LEN);
}

static int
on_local(const jf_store_entry_t *e, void *arg)
{
	union_ctx_t *c = arg;

	if (JF_VEC_PUSH(c->keys, c->n, c->cap, e->key) != 0)
		return JF_ERR_NOMEM;
	return c->fn(e, c->arg);
}

static int
on_remote(const jf_store_entry_t *e, void *arg)
{
	union_ctx_t *c = arg;

	if (bsearch(&e->key, c->keys, c->n, sizeof(*c->keys), key_cmp) != NULL)
		return 0;
	return c->fn(e, c->arg);
}

static int
ts_list(void *self, jf_store_list_fn fn, void *arg)
{
	ts_t *t = self;
	union_ctx_t c = { .fn = fn, .arg = arg };
	int rc;

	if ((rc = jf_store_list(t->local, on_local, &c)) != 0) {
		if (rc < 0)
			snprintf(t->err, sizeof(t->err), "local: %s", jf_store_errstr(t->local));
		goto out;
	}
	qsort(c.keys, c.n, sizeof(*c.keys), key_cmp);
	rc = jf_store_list(t->remote, on_remote, &c);
	if (rc < 0 && remote_failed(t, rc, "list"))
		rc = 0;         /* the local part was listed */
out:
	jf_free(c.keys);
	return rc;
}

static int
ts_cursor(void *self, char *cursor, size_t len)
{
	ts_t *t = self;
	int rc = jf_store_cursor(t->remote, cursor, len);

	if (rc != 0)
		snprintf(t->err, sizeof(t->err), "remote: %s", jf_store_errstr(t->remote));
	return rc;
}

static int
ts_watch(void *self, char *cursor, size_t len, int timeout_ms, jf_store_watch_fn fn, void *arg)
{
	ts_t *t = self;
	int rc = jf_store_watch(t->remote, cursor, len, timeout_ms, fn, arg);

	if (rc < 0)
		snprintf(t->err, sizeof(t->err), "remote: %s", jf_store_errstr(t->remote));
	return rc;
}

static int
ts_lease(void *self, const jf_key_t *k, int ttl_ms, int *acquired)
{
	ts_t *t = self;

	return jf_store_lease(t->remote, k, ttl_ms, acquired);
}

static int
ts_lease_release(void *self, const jf_key_t *k)
{
	ts_t *t = self;

	return jf_store_lease_release(t->remote, k);
}

static void
ts_stats(void *self, jf_store_stats_t *st)
{
	ts_t *t = self;
	jf_store_stats_t l, r;

	jf_store_get_stats(t->local, &l);
	jf_store_get_stats(t->remote, &r);
	st->corrupt += l.corrupt + r.corrupt;
	st->breaker_trips += r.breaker_trips;
}

static const char *
ts_errstr(void *self)
{
	ts_t *t = self;

	return t->err[0] ? t->err : "no error";
}

static void
ts_close(void *self)
{
	ts_t *t = self;

	if (t == NULL)
		return;
	jf_store_close(t->local);
	jf_store_close(t->remote);
	jf_free(t);
}

const jf_store_ops_t jf_store_tiered_ops = {
	.scheme = "tiered",
	.get = ts_get,
	.put = ts_put,
	.del = ts_del,
	.exists = ts_exists,
	.list = ts_list,
	.cursor = ts_cursor,
	.watch = ts_watch,
	.errstr = ts_errstr,
	.close = ts_close,
	.lease = ts_lease,
	.lease_release = ts_lease_release,
	.stats = ts_stats,
	.self_verifying = 1,
};
