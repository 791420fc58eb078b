/*
 * runtime.c - libjitfarm's public face: open and close, jf_lookup, the
 * control calls and the stats snapshot (the config builder is config.c).
 *
 * jf_lookup is the only function on the host's hot path. It takes the
 * thread's slot from a thread-local cache, announces the epoch it has
 * seen, loads the current map, probes it and answers; a miss leaves an
 * event in the thread's ring and a hit is recorded only one time in
 * HIT_SAMPLE, so hits never crowd misses out of the ring. Everything
 * else (open, preload, compiles, loading) happens off this path.
 */
#include <string.h>

#include "jitfarm/runtime.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "storage/store.h"
#include "compiler/compile.h"
#include "artifact.h"
#include "backend.h"
#include "feed.h"
#include "jobs.h"
#include "localfarm.h"
#include "publish.h"
#include "rt.h"

const char *
jf_reason_str(int reason)
{
	switch (reason) {
	case JF_COMPILED: return "compiled";
	case JF_INTERP_DISABLED: return "disabled";
	case JF_INTERP_NOT_READY: return "not ready";
	case JF_INTERP_INELIGIBLE: return "ineligible";
	case JF_INTERP_FAILED: return "failed";
	case JF_INTERP_QUARANTINED: return "quarantined";
	default: return "unknown";
	}
}

/* ---- lookup -------------------------------------------------------------------- */

jf_decision_t
jf_lookup(jf_runtime_t *rt, const uint8_t *program_id)
{
	jf_decision_t d = { NULL, NULL, JF_INTERP_DISABLED };
	const jf_mslot_t *s;
	jf_tslot_t *ts;
	uint64_t id[4];

	if (__builtin_expect(rt == NULL || !rt->rs.enabled, 0))
		return d;
	if (__builtin_expect((ts = jf_tslot_get(&rt->rs)) == NULL, 0))
		return d;
	jf_id_words(program_id, id);
	s = jf_rs_lookup(&rt->rs, ts, id);
	if (__builtin_expect(s != NULL && s->fn != NULL, 1)) {
		jf_ctr_inc(&ts->hits);
		if (__builtin_expect((++ts->sample & rt->rs.sample_mask) == 0, 0))
			jf_rs_event(ts, id, JF_EV_HIT);
		d.fn = s->fn;
		d.prog = (const jf_program_t *)s->meta;
		d.reason = JF_COMPILED;
	} else if (s != NULL) {
		jf_ctr_inc(&ts->negative);
		d.reason = (int)s->meta;
	} else {
		jf_ctr_inc(&ts->misses);
		jf_rs_event(ts, id, JF_EV_MISS);
		d.reason = JF_INTERP_NOT_READY;
	}
	return d;
}

void
jf_thread_offline(jf_runtime_t *rt)
{
	jf_tslot_t *ts;

	if (rt == NULL || !rt->rs.enabled)
		return;
	if ((ts = jf_tslot_peek(&rt->rs)) != NULL)
		atomic_store_explicit(&ts->qs, JF_QS_OFFLINE, memory_order_release);
}

void *
jf_program_symbol(const jf_program_t *p, const char *name)
{
	size_t i;

	if (p == NULL || name == NULL)
		return NULL;
	for (i = 0; i < p->nsyms; i++)
		if (strcmp(p->syms[i].name, name) == 0)
			return p->syms[i].addr;
	return NULL;
}

const uint8_t *
jf_program_key(const jf_program_t *p)
{
	return p ? p->key.b : NULL;
}

/* ---- open and close ---------------------------------------------------------------- */

static jf_log_fn host_log_fn;
static void *host_log_arg;

static void
log_trampoline(int level, const char *line, void *arg)
{
	(void)arg;
	if (host_log_fn != NULL)
		host_log_fn(host_log_arg, level, line);
}

static void runtime_close(jf_runtime_t *rt);

static int
runtime_open(const jf_config_t *c, jf_runtime_t **out, char *err, size_t errlen)
{
	jf_runtime_t *rt = NULL;
	void *raw;
	char urlbuf[4200];
	const char *farm;
	int r = JF_ERR_NOMEM;

	if (c->log_fn != NULL) {
		host_log_fn = c->log_fn;
		host_log_arg = c->log_arg;
		jf_log_set_sink(log_trampoline, NULL);
		jf_log_set_level(c->log_level);
	}
	/* the read side wants a cache line of its own: align by hand, as
	 * jf_malloc promises only 16 bytes */
	if ((raw = jf_calloc(1, sizeof(*rt) + 63)) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
	rt = (jf_runtime_t *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
	rt->mem = raw;
	rt->alloc = c->alloc;
	memcpy(rt->tune, c->tune, sizeof(rt->tune));
	rt->master_pid = -1;
	pthread_mutex_init(&rt->lock, NULL);
	pthread_mutex_init(&rt->load_lock, NULL);
	pthread_cond_init(&rt->bk_cv, NULL);
	pthread_cond_init(&rt->job_cv, NULL);
	pthread_cond_init(&rt->done_cv, NULL);
	jf_idtab_init(&rt->reg);
	jf_idtab_init(&rt->seen);

	if (!c->enabled) {
		/* answers DISABLED; nothing else to set up */
		memset(&rt->rs, 0, sizeof(rt->rs));
		*out = rt;
		return 0;
	}
	if ((r = jf_readside_init(&rt->rs,
	    (uint32_t)TUNE(rt, JF_TUNE_MAX_THREADS), (uint32_t)TUNE(rt, JF_TUNE_EVENT_BUFFER),
	    (uint32_t)TUNE(rt, JF_TUNE_HIT_SAMPLE))) != 0) {
		jf_seterr(err, errlen, r, "thread slots: %s", jf_strerror(r));
		goto out;
	}
	rt->rs.enabled = 0;     /* until the first map is up */
	if ((r = jf_hot_init(&rt->hot, (size_t)TUNE(rt, JF_TUNE_HOT_TABLE))) != 0) {
		jf_seterr(err, errlen, r, "hotness table: out of memory");
		goto out;
	}
	if ((r = jf_llvm_init()) != 0) {
		jf_seterr(err, errlen, r, "LLVM initialisation failed");
		goto out;
	}
	if ((r = jf_target_resolve(c->triple, c->cpu, c->features, c->opt ? c->opt : '2',
	    &rt->target, err, errlen)) != 0)
		goto out;
	r = JF_ERR_NOMEM;
	if ((rt->ns = jf_strdup(c->ns ? c->ns : "")) == NULL ||
	    (c->entry != NULL && (rt->entry = jf_strdup(c->entry)) == NULL) ||
	    (c->token != NULL && (rt->token = jf_strdup(c->token)) == NULL)) {
		jf_seterr(err, errlen, r, "out of memory");
		goto out;
	}
	if ((rt->store_url = jf_strdup(c->store_url ? c->store_url :
	    jf_store_default_url(urlbuf, sizeof(urlbuf)))) == NULL) {
		jf_seterr(err, errlen, r, "out of memory");
		goto out;
	}
	rt->ir_fn = c->ir_fn;
	rt->ir_release = c->ir_release;
	rt->ir_arg = c->ir_arg;
	rt->ev_fn = c->ev_fn;
	rt->ev_arg = c->ev_arg;
	if (c->pubkey_path != NULL &&
	    (r = jf_sign_load_public(c->pubkey_path, &rt->verify_key, err, errlen)) != 0)
		goto out;
	if ((r = jf_loader_new(c->syms, c->nsyms, (int)TUNE(rt, JF_TUNE_PROCESS_SYMBOLS),
	    &rt->loader, err, errlen)) != 0)
		goto out;

	farm = c->farm_url ? c->farm_url : "local";
	if (strcmp(farm, "none") == 0) {
		rt->farm_none = 1;
	} else if (strcmp(farm, "local") == 0) {
		if ((r = jf_localfarm_start(rt, c->local_master, err, errlen)) != 0)
			goto out;
	} else if ((rt->farm_url = jf_strdup(farm)) == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
		goto out;
	}

	/* note the feed position, load what is there, publish, then follow
	 * the feed from the noted position: nothing falls into the gap */
	if ((r = jf_feed_preload(rt, err, errlen)) != 0)
		goto out;
	jf_pub_now(rt);
	rt->rs.enabled = 1;
	if ((r = jf_backend_start(rt, err, errlen)) != 0)
		goto out;
	*out = rt;
	rt = NULL;
	r = 0;
out:
	runtime_close(rt);
	return r;
}

/* Everything the library allocates while opening runtime c, and on its
 * threads, comes from c's allocator (mem.h's thread allocator). */
int
jf_runtime_open(const jf_config_t *c, jf_runtime_t **out, char *err, size_t errlen)
{
	const jf_allocator_t *prev;
	int r;

	*out = NULL;
	if (c == NULL)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "no config");
	prev = jf_mem_use(c->alloc);
	r = runtime_open(c, out, err, errlen);
	jf_mem_use(prev);
	return r;
}

static void
runtime_close(jf_runtime_t *rt)
{
	jf_map_t *old = NULL;
	size_t i;

	if (rt == NULL)
		return;
	jf_backend_stop(rt);
	jf_localfarm_stop(rt);
	rt->rs.enabled = 0;
	if (rt->rs.slots != NULL) {
		jf_rs_publish(&rt->rs, NULL, &old);
		jf_map_free(old);
	}
	/* no reader may remain: free everything retired and loaded */
	jf_pub_reclaim(rt, 1);
	for (i = 0; i < rt->reg.cap; i++) {
		jf_rec_t *r = rt->reg.ents[i].val;

		if (r == NULL)
			continue;
		jf_art_program_free(rt, r->prog);
		jf_free(r);
	}
	jf_jobs_free_queued(rt);
	jf_idtab_fini(&rt->reg);
	jf_idtab_fini(&rt->seen);
	jf_free(rt->retired);
	jf_hot_fini(&rt->hot);
	jf_loader_free(rt->loader);
	jf_key_free_pkey(rt->verify_key);
	if (rt->rs.slots != NULL)
		jf_readside_fini(&rt->rs);
	jf_free(rt->ns);
	jf_free(rt->entry);
	jf_free(rt->store_url);
	jf_free(rt->farm_url);
	jf_free(rt->token);
	pthread_mutex_destroy(&rt->lock);
	pthread_mutex_destroy(&rt->load_lock);
	pthread_cond_destroy(&rt->bk_cv);
	pthread_cond_destroy(&rt->job_cv);
	pthread_cond_destroy(&rt->done_cv);
	jf_free(rt->mem);
}

void
jf_runtime_close(jf_runtime_t *rt)
{
	const jf_allocator_t *prev;

	if (rt == NULL)
		return;
	prev = jf_mem_use(rt->alloc);
	runtime_close(rt);
	jf_mem_use(prev);
}

/* ---- control ------------------------------------------------------------------------- */

int
jf_compile_now(jf_runtime_t *rt, const uint8_t *program_id, int timeout_ms)
{
	uint64_t id[4], deadline;
	jf_rec_t *rec;
	int r;

	if (rt == NULL || program_id == NULL || timeout_ms < 0)
		return JF_ERR_INVAL;
	if (!rt->rs.enabled)
		return JF_ERR_CLOSED;
	if (atomic_load(&rt->paused))
		return JF_ERR_BUSY;
	if (timeout_ms == 0)
		timeout_ms = (int)TUNE(rt, JF_TUNE_COMPILE_TIMEOUT_MS);
	deadline = jf_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	jf_id_words(program_id, id);
	pthread_mutex_lock(&rt->lock);
	rec = jf_idtab_get(&rt->reg, id);
	if (rec == NULL || rec->state == R_NEG || rec->state == R_GONE) {
		if ((r = jf_jobs_enqueue(rt, id, J_NOW, 1)) != 0)
			goto out;
	}
	for (;;) {
		struct timespec ts;
		uint64_t now;

		rec = jf_idtab_get(&rt->reg, id);
		if (rec != NULL && rec->state != R_PENDING && !rec->dirty &&
		    rt->pub_gen >= rec->batch) {
			r = rec->state == R_LOADED ? 0 : (rec->result ? rec->result : JF_ERR_COMPILE);
			break;
		}
		if (rec == NULL) {
			/* evicted or expired while we waited */
			r = JF_ERR_NOTFOUND;
			break;
		}
		if (rt->stopping) {
			r = JF_ERR_CLOSED;
			break;
		}
		if ((now = jf_now_ns()) >= deadline) {
			r = JF_ERR_TIMEOUT;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 0;
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&rt->done_cv, &rt->lock, &ts);
	}
out:
	pthread_mutex_unlock(&rt->lock);
	return r;
}

int
jf_prepare_aot(jf_runtime_t *rt, const uint8_t *program_ids, size_t n)
{
	size_t i;
	int r = 0;

	if (rt == NULL || (program_ids == NULL && n > 0))
		return JF_ERR_INVAL;
	if (!rt->rs.enabled)
		return JF_ERR_CLOSED;
	pthread_mutex_lock(&rt->lock);
	for (i = 0; i < n && r == 0; i++) {
		uint64_t id[4];
		jf_rec_t *rec;

		jf_id_words(program_ids + i * JF_PROGRAM_ID_LEN, id);
		rec = jf_idtab_get(&rt->reg, id);
		if (rec == NULL || rec->state == R_GONE)
			r = jf_jobs_enqueue(rt, id, J_AOT, 0);
	}
	pthread_mutex_unlock(&rt->lock);
	return r;
}

void
jf_runtime_pause(jf_runtime_t *rt)
{
	if (rt != NULL)
		atomic_store(&rt->paused, 1);
}

void
jf_runtime_resume(jf_runtime_t *rt)
{
	if (rt == NULL)
		return;
	atomic_store(&rt->paused, 0);
	/* a signal without the lock may be missed; the waiters poll anyway */
	pthread_cond_broadcast(&rt->bk_cv);
	pthread_cond_broadcast(&rt->job_cv);
}

int
jf_runtime_stats(jf_runtime_t *rt, jf_stats_t *out, size_t size)
{
	jf_stats_t st;
	jf_map_t *m;

	if (rt == NULL || out == NULL)
		return JF_ERR_INVAL;
	memset(&st, 0, sizeof(st));
	if (rt->rs.slots != NULL) {
		jf_rs_counts(&rt->rs, &st.hits, &st.misses, &st.negative,
		    &st.events_dropped, &st.no_slot);
		st.lookups = st.hits + st.misses + st.negative;
	}
	st.promotions = atomic_load(&rt->st_promotions);
	st.compiles = atomic_load(&rt->st_compiles);
	st.compile_failures = atomic_load(&rt->st_compile_failures);
	st.fetches = atomic_load(&rt->st_fetches);
	st.preloaded = atomic_load(&rt->st_preloaded);
	st.pushed = atomic_load(&rt->st_pushed);
	st.rejected = atomic_load(&rt->st_rejected);
	st.evicted = atomic_load(&rt->st_evicted);
	st.swaps = atomic_load(&rt->st_swaps);
	pthread_mutex_lock(&rt->lock);
	/* the map pointer is stable while the lock keeps the backend from
	 * publishing, and only the backend frees maps */
	m = atomic_load(&rt->rs.map);
	st.programs = m ? m->n : 0;
	st.code_bytes = rt->code_bytes;
	st.pending_reclaim = rt->nretired;
	st.hot_tracked = rt->hot.n;
	pthread_mutex_unlock(&rt->lock);
	memset(out, 0, size);
	memcpy(out, &st, JF_MIN(size, sizeof(st)));
	return 0;
}
