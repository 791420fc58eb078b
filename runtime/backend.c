/*
 * backend.c - the backend thread, and starting and stopping all the
 * runtime's threads (backend.h).
 *
 * Every drain interval the backend thread takes the lookup events out of
 * the threads' rings: a miss counts towards the program's hotness, and a
 * program that reaches the threshold is queued for a compile; a sampled
 * hit refreshes the program's last use. Every 50 ms it also expires and
 * evicts (evict.c). Then it publishes what changed (publish.c), reports
 * the events of what became visible, and reclaims what readers have
 * moved past.
 */
#include <string.h>

#include "jitfarm/runtime.h"
#include "event.h"
#include "backend.h"
#include "evict.h"
#include "feed.h"
#include "jobs.h"
#include "localfarm.h"
#include "publish.h"

#define EVICT_MAX 64

typedef struct drainctx {
	jf_runtime_t *rt;
	uint64_t now;
} drainctx_t;

static void
on_event(const jf_lev_t *ev, void *arg)
{
	drainctx_t *dc = arg;
	jf_runtime_t *rt = dc->rt;
	jf_rec_t *rec = jf_idtab_get(&rt->reg, ev->id);

	if (ev->kind == JF_EV_HIT) {
		if (rec != NULL && rec->state == R_LOADED)
			rec->last_used_ms = dc->now;
		return;
	}
	if (rec != NULL)
		return;         /* compiling, loaded or negative already */
	if (jf_hot_bump(&rt->hot, ev->id) >= (uint32_t)TUNE(rt, JF_TUNE_HOT_THRESHOLD) &&
	    !atomic_load(&rt->paused) &&
	    jf_jobs_enqueue(rt, ev->id, J_HOT, 0) == 0) {
		atomic_fetch_add(&rt->st_promotions, 1);
		jf_hot_forget(&rt->hot, ev->id);
	}
}

static void *
backend_main(void *arg)
{
	jf_runtime_t *rt = arg;
	int interval = (int)TUNE(rt, JF_TUNE_DRAIN_INTERVAL_MS);
	jf_program_t *gone[EVICT_MAX];
	jf_evict_note_t notes[EVICT_MAX];

	jf_mem_use(rt->alloc);
	rt->last_decay_ms = rt->last_scan_ms = jf_rt_now_ms();
	pthread_mutex_lock(&rt->lock);
	while (!rt->stopping) {
		drainctx_t dc;
		size_t ngone = 0, i, nevs;
		jf_pubev_t *evs;

		jf_rt_timed_wait(&rt->bk_cv, &rt->lock, interval);
		if (rt->stopping)
			break;
		dc.rt = rt;
		dc.now = jf_rt_now_ms();
		jf_rs_drain(&rt->rs, on_event, &dc, 1u << 20);
		if (dc.now - rt->last_decay_ms >= (uint64_t)TUNE(rt, JF_TUNE_HOT_DECAY_MS) &&
		    TUNE(rt, JF_TUNE_HOT_DECAY_MS) > 0) {
			jf_hot_decay(&rt->hot);
			rt->last_decay_ms = dc.now;
		}
		if (atomic_load(&rt->paused))
			continue;
		/* evict only what can be retired */
		if (dc.now - rt->last_scan_ms >= 50 && jf_pub_reserve(rt, EVICT_MAX + 1) == 0) {
			ngone = jf_evict_scan(rt, dc.now, gone, notes, EVICT_MAX);
			rt->last_scan_ms = dc.now;
		}
		jf_pub_locked(rt, gone, ngone, &evs, &nevs);
		pthread_mutex_unlock(&rt->lock);
		jf_pub_report(rt, evs, nevs);
		for (i = 0; i < ngone; i++) {
			atomic_fetch_add(&rt->st_evicted, 1);
			jf_event_report(rt, JF_EV_EVICT, notes[i].id, &notes[i].key, 0, 0, NULL);
		}
		jf_pub_reclaim(rt, 0);
		pthread_mutex_lock(&rt->lock);
	}
	pthread_mutex_unlock(&rt->lock);
	return NULL;
}

int
jf_backend_start(jf_runtime_t *rt, char *err, size_t errlen)
{
	int r;

	if (pthread_create(&rt->backend, NULL, backend_main, rt) != 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "starting the backend thread");
	rt->backend_ok = 1;
	if ((r = jf_feed_start(rt, err, errlen)) != 0)
		return r;
	return jf_jobs_start(rt, (int)JF_MIN(TUNE(rt, JF_TUNE_MAX_PENDING), 4), err, errlen);
}

void
jf_backend_stop(jf_runtime_t *rt)
{
	pthread_mutex_lock(&rt->lock);
	rt->stopping = 1;
	pthread_cond_broadcast(&rt->bk_cv);
	pthread_cond_broadcast(&rt->job_cv);
	pthread_cond_broadcast(&rt->done_cv);
	pthread_mutex_unlock(&rt->lock);
	/* a compile in flight on the local farm ends when the farm does */
	jf_localfarm_stop(rt);
	if (rt->backend_ok)
		pthread_join(rt->backend, NULL);
	rt->backend_ok = 0;
	jf_feed_join(rt);
	jf_jobs_join(rt);
}
