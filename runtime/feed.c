/*
 * feed.c - preload and the change feed (feed.h).
 *
 * At open the runtime notes the store's feed position before it lists
 * the store, so what arrives during the listing is delivered again by the
 * watch and skipped as seen: nothing falls into the gap. Each announced
 * key is fetched, checked and loaded by jf_art_load; keys of other nodes
 * are remembered as seen and never fetched again. A store without a feed
 * is polled; a feed that lost its place (JF_ERR_RESYNC) is made good by a
 * listing.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "artifact.h"
#include "event.h"
#include "feed.h"
#include "registry.h"

typedef struct keyvec {
	jf_key_t *k;
	size_t n, cap;
} keyvec_t;

static int
list_cb(const jf_store_entry_t *e, void *arg)
{
	keyvec_t *v = arg;

	return JF_VEC_PUSH(v->k, v->n, v->cap, e->key);
}

static int
watch_cb(const jf_key_t *key, const char *cursor, void *arg)
{
	keyvec_t *v = arg;

	(void)cursor;
	return JF_VEC_PUSH(v->k, v->n, v->cap, *key);
}

/* Fetch key from the store and load it if it is ours. kind is
 * JF_EV_PRELOAD or JF_EV_PUSH. */
static void
take_artifact(jf_runtime_t *rt, jf_store_t *st, const jf_key_t *key, int kind)
{
	uint8_t *blob = NULL;
	size_t len = 0;
	jf_program_t *p = NULL;
	uint64_t id[4], t0 = jf_now_ns();
	char err[512] = "";
	int r, taken = 0;

	if (jf_reg_seen_test(rt, key))
		return;
	if ((r = jf_store_get_raw(st, key, &blob, &len)) != 0) {
		/* gone again, or the store is down: the feed or a resync brings it back */
		if (r != JF_ERR_NOTFOUND)
			jf_warn("runtime: fetching a pushed artifact: %s", jf_store_errstr(st));
		return;
	}
	r = jf_art_load(rt, key, blob, len, &p, id, err, sizeof(err));
	jf_free(blob);  /* the store returns jf_malloc memory */
	if (r == JF_ERR_NOMEM) {
		/* not the artifact's fault: a later resync or lookup tries again */
		jf_warn("runtime: %s", err);
		return;
	}
	if (r == JF_ERR_NOTFOUND) {
		jf_reg_seen_mark(rt, key);      /* another node's: never fetch it again */
		return;
	}
	if (r != 0) {
		jf_reg_seen_mark(rt, key);
		atomic_fetch_add(&rt->st_rejected, 1);
		jf_warn("runtime: artifact rejected: %s", err);
		jf_event_report(rt, JF_EV_REJECT, NULL, key, jf_now_ns() - t0, r, err);
		return;
	}
	pthread_mutex_lock(&rt->lock);
	taken = jf_reg_install(rt, id, p, kind, jf_now_ns() - t0);
	pthread_mutex_unlock(&rt->lock);
	if (!taken) {
		jf_art_program_free(rt, p);
		jf_reg_seen_mark(rt, key);
		return;
	}
	atomic_fetch_add(kind == JF_EV_PRELOAD ? &rt->st_preloaded : &rt->st_pushed, 1);
}

/* List the store and take every key (kind as for take_artifact). */
static int
take_listing(jf_runtime_t *rt, jf_store_t *st, int kind)
{
	keyvec_t v = { NULL, 0, 0 };
	size_t i;
	int r;

	if ((r = jf_store_list(st, list_cb, &v)) != 0)
		jf_warn("runtime: listing the store: %s", jf_store_errstr(st));
	for (i = 0; i < v.n && !rt->stopping; i++)
		take_artifact(rt, st, &v.k[i], kind);
	jf_free(v.k);
	return r;
}

int
jf_feed_preload(jf_runtime_t *rt, char *err, size_t errlen)
{
	jf_store_t *st = NULL;
	int r;

	if (!TUNE(rt, JF_TUNE_PRELOAD) && !TUNE(rt, JF_TUNE_WATCH))
		return 0;
	if ((r = jf_art_store_open(rt, &st, err, errlen)) != 0)
		return r;
	/* the feed position first, so what arrives during the listing is
	 * delivered again by the watch (and skipped as seen) */
	rt->cursor[0] = '\0';
	if ((r = jf_store_cursor(st, rt->cursor, sizeof(rt->cursor))) != 0 &&
	    r != JF_ERR_UNSUPPORTED)
		jf_warn("runtime: store cursor: %s", jf_store_errstr(st));
	if (TUNE(rt, JF_TUNE_PRELOAD))
		take_listing(rt, st, JF_EV_PRELOAD);
	jf_store_close(st);
	return 0;
}

static void
resync(jf_runtime_t *rt, jf_store_t *st)
{
	char cur[sizeof(rt->cursor)] = "";

	if (jf_store_cursor(st, cur, sizeof(cur)) == 0)
		memcpy(rt->cursor, cur, sizeof(cur));
	take_listing(rt, st, JF_EV_PUSH);
}

static void *
watcher_main(void *arg)
{
	jf_runtime_t *rt = arg;
	jf_store_t *st = NULL;
	char err[512];
	int polling = 0;

	jf_mem_use(rt->alloc);
	while (!rt->stopping) {
		keyvec_t v = { NULL, 0, 0 };
		size_t i;
		int r;

		if (st == NULL && jf_art_store_open(rt, &st, err, sizeof(err)) != 0) {
			st = NULL;
			usleep(200 * 1000);
			continue;
		}
		if (atomic_load(&rt->paused)) {
			usleep(20 * 1000);
			continue;
		}
		if (polling) {
			resync(rt, st);
			usleep(500 * 1000);
			continue;
		}
		r = jf_store_watch(st, rt->cursor, sizeof(rt->cursor), 200, watch_cb, &v);
		for (i = 0; i < v.n && !rt->stopping; i++)
			take_artifact(rt, st, &v.k[i], JF_EV_PUSH);
		jf_free(v.k);
		if (r == JF_ERR_UNSUPPORTED) {
			polling = 1;
		} else if (r == JF_ERR_RESYNC) {
			resync(rt, st);
		} else if (r != 0 && r != JF_ERR_TIMEOUT && r != JF_ERR_NOTFOUND) {
			jf_debug("runtime: watch: %s", jf_store_errstr(st));
			usleep(200 * 1000);
		}
	}
	jf_store_close(st);
	return NULL;
}

int
jf_feed_start(jf_runtime_t *rt, char *err, size_t errlen)
{
	if (!TUNE(rt, JF_TUNE_WATCH))
		return 0;
	if (pthread_create(&rt->watcher, NULL, watcher_main, rt) != 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "starting the watcher");
	rt->watcher_ok = 1;
	return 0;
}

void
jf_feed_join(jf_runtime_t *rt)
{
	if (rt->watcher_ok)
		pthread_join(rt->watcher, NULL);
	rt->watcher_ok = 0;
}
