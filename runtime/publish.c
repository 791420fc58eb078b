/*
 * publish.c - batches of changes reach readers (publish.h).
 *
 * The backend derives a new map from the current one and the dirty
 * records, swaps it in with one atomic exchange, and retires the old map
 * and any unloaded program under the epoch of the swap. They are freed
 * once every online reader slot shows at least that epoch (map.h). A load
 * event is reported only after the map holding its program is published,
 * so a lookup made after the event finds the program.
 */
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "artifact.h"
#include "event.h"
#include "publish.h"

#define MAX_RETIRE_BATCH 64

int
jf_pub_reserve(jf_runtime_t *rt, size_t n)
{
	return jf_vec_grow((void **)&rt->retired, &rt->capretired, rt->nretired + n,
	    sizeof(*rt->retired));
}

/* Room was reserved (jf_pub_reserve), so this cannot fail. */
static void
retire_push(jf_runtime_t *rt, uint64_t epoch, jf_map_t *m, jf_program_t *p)
{
	jf_retired_t x = { epoch, m, p };

	rt->retired[rt->nretired++] = x;
}

/* Held back until the next swap (see jf_pub_locked's out of memory). */
#define EPOCH_UNPUBLISHED UINT64_MAX

/* Retire the old map and gone[] under epoch (lock held), with what an
 * earlier batch held back. The caller reserved the room. */
static void
retire_all(jf_runtime_t *rt, uint64_t epoch, jf_map_t *old, jf_program_t **gone,
    size_t ngone)
{
	size_t i;

	if (epoch != EPOCH_UNPUBLISHED)
		for (i = 0; i < rt->nretired; i++)
			if (rt->retired[i].epoch == EPOCH_UNPUBLISHED)
				rt->retired[i].epoch = epoch;
	if (old != NULL)
		retire_push(rt, epoch, old, NULL);
	for (i = 0; i < ngone; i++)
		retire_push(rt, epoch, NULL, gone[i]);
}

void
jf_pub_locked(jf_runtime_t *rt, jf_program_t **gone, size_t ngone, jf_pubev_t **evs,
    size_t *nevs)
{
	jf_mslot_t *adds = NULL;
	uint64_t (*dels)[4] = NULL;
	size_t nadd = 0, ndel = 0, n = 0;
	jf_rec_t *r, *next;
	jf_map_t *m, *old;
	uint64_t epoch;

	*evs = NULL;
	*nevs = 0;
	for (r = rt->dirty; r != NULL; r = r->next_dirty)
		n++;
	if (n == 0 && ngone == 0)
		return;
	/* room to retire the old map and gone[] (the backend reserved it
	 * before it evicted anything, so with ngone > 0 this holds) */
	if (jf_pub_reserve(rt, 1 + ngone) != 0)
		goto oom;
	if (n > 0 && ((adds = jf_reallocarray(NULL, n, sizeof(*adds))) == NULL ||
	    (dels = jf_reallocarray(NULL, n, sizeof(*dels))) == NULL))
		goto oom;
	for (r = rt->dirty; r != NULL; r = r->next_dirty) {
		if (r->state == R_LOADED || r->state == R_NEG) {
			memcpy(adds[nadd].id, r->id, 32);
			adds[nadd].fn = r->state == R_LOADED ? r->prog->entry : NULL;
			adds[nadd].meta = r->state == R_LOADED ? (uintptr_t)r->prog :
			    (uintptr_t)r->reason;
			nadd++;
		} else {
			/* leaving, or queued again after it was evicted or
			 * expired: its old entry must not stay in the map */
			memcpy(dels[ndel], r->id, 32);
			ndel++;
		}
	}
	if ((m = jf_map_derive(atomic_load(&rt->rs.map), adds, nadd,
	    (const uint64_t (*)[4])dels, ndel)) == NULL)
		goto oom;
	epoch = jf_rs_publish(&rt->rs, m, &old);
	retire_all(rt, epoch, old, gone, ngone);
	rt->pub_gen++;
	if (n > 0 && (*evs = jf_reallocarray(NULL, n, sizeof(**evs))) == NULL)
		jf_warn("runtime: out of memory: load events are lost");
	for (r = rt->dirty; r != NULL; r = next) {
		next = r->next_dirty;
		if (r->state == R_LOADED && r->ev_kind != 0 && *evs != NULL) {
			jf_pubev_t *e = &(*evs)[(*nevs)++];

			e->kind = r->ev_kind;
			memcpy(e->id, r->id, 32);
			e->key = r->prog->key;
			e->ns = r->ev_ns;
		}
		r->ev_kind = 0;
		r->dirty = 0;
		r->next_dirty = NULL;
		r->batch = rt->pub_gen;
		if (r->state == R_GONE) {
			jf_idtab_del(&rt->reg, r->id);
			jf_free(r);
		}
	}
	rt->dirty = NULL;
	atomic_fetch_add(&rt->st_swaps, 1);
	pthread_cond_broadcast(&rt->done_cv);
	goto out;
oom:
	/* the records stay dirty and are retried; the programs already left
	 * the registry but stay in the current map, so they are retired with
	 * the next swap, not before */
	retire_all(rt, EPOCH_UNPUBLISHED, NULL, gone, ngone);
out:
	jf_free(adds);
	jf_free(dels);
}

void
jf_pub_report(jf_runtime_t *rt, jf_pubev_t *evs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		jf_event_report(rt, evs[i].kind, evs[i].id, &evs[i].key, evs[i].ns, 0, NULL);
	jf_free(evs);
}

void
jf_pub_now(jf_runtime_t *rt)
{
	jf_pubev_t *evs;
	size_t nevs;

	pthread_mutex_lock(&rt->lock);
	jf_pub_locked(rt, NULL, 0, &evs, &nevs);
	pthread_mutex_unlock(&rt->lock);
	jf_pub_report(rt, evs, nevs);
}

void
jf_pub_map(jf_runtime_t *rt, jf_map_t *m)
{
	jf_map_t *old;
	uint64_t epoch;

	pthread_mutex_lock(&rt->lock);
	if (jf_pub_reserve(rt, 1) != 0) {
		/* benches and tests only: keep the current map */
		pthread_mutex_unlock(&rt->lock);
		jf_map_free(m);
		return;
	}
	epoch = jf_rs_publish(&rt->rs, m, &old);
	retire_all(rt, epoch, old, NULL, 0);
	rt->pub_gen++;
	atomic_fetch_add(&rt->st_swaps, 1);
	pthread_mutex_unlock(&rt->lock);
}

void
jf_pub_reclaim(jf_runtime_t *rt, int all)
{
	jf_retired_t batch[MAX_RETIRE_BATCH];
	size_t nb, i, k;
	uint64_t min;

	do {
		nb = 0;
		pthread_mutex_lock(&rt->lock);
		min = all ? UINT64_MAX : (rt->rs.slots ? jf_rs_min_epoch(&rt->rs) : UINT64_MAX);
		for (i = 0, k = 0; i < rt->nretired; i++) {
			if (rt->retired[i].epoch <= min && nb < MAX_RETIRE_BATCH)
				batch[nb++] = rt->retired[i];
			else
				rt->retired[k++] = rt->retired[i];
		}
		rt->nretired = k;
		pthread_mutex_unlock(&rt->lock);
		for (i = 0; i < nb; i++) {
			jf_map_free(batch[i].map);
			jf_art_program_free(rt, batch[i].prog);
		}
	} while (nb == MAX_RETIRE_BATCH);
}
