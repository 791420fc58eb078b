/*
 * runtime.c - libjitfarm's public face: the config builder, open and
 * close, jf_lookup, the control calls and the stats snapshot.
 *
 * jf_lookup is the only function on the host's hot path. It takes the
 * thread's slot from a thread-local cache, announces the epoch it has
 * seen, loads the current map, probes it and answers; a miss leaves an
 * event in the thread's ring and a hit is recorded only one time in
 * HIT_SAMPLE, so hits never crowd misses out of the ring. Everything
 * else (open, preload, compiles, loading) happens off this path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/runtime.h"
#include "common/log.h"
#include "common/util.h"
#include "storage/store.h"
#include "compiler/compile.h"
#include "rt_internal.h"

/* ---- config ------------------------------------------------------------------ */

static const int64_t tune_defaults[JF_TUNE_MAX] = {
	[JF_TUNE_HOT_THRESHOLD] = 100,
	[JF_TUNE_EVENT_BUFFER] = 1024,
	[JF_TUNE_DRAIN_INTERVAL_MS] = 2,
	[JF_TUNE_MAX_PENDING] = 8,
	[JF_TUNE_MAX_IR_BYTES] = 64 << 20,
	[JF_TUNE_COMPILE_TIMEOUT_MS] = 120000,
	[JF_TUNE_CODE_BUDGET] = 0,
	[JF_TUNE_IDLE_EVICT_MS] = 0,
	[JF_TUNE_HOT_TABLE] = 65536,
	[JF_TUNE_HOT_DECAY_MS] = 10000,
	[JF_TUNE_NEGATIVE_TTL_MS] = 60000,
	[JF_TUNE_MAX_THREADS] = 64,
	[JF_TUNE_HIT_SAMPLE] = 64,
	[JF_TUNE_PRELOAD] = 1,
	[JF_TUNE_WATCH] = 1,
	[JF_TUNE_PROCESS_SYMBOLS] = 1,
};

int
jf_config_new(jf_config_t **out)
{
	jf_config_t *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JF_ERR_NOMEM;
	c->enabled = 1;
	c->log_level = JF_LOG_WARN;
	memcpy(c->tune, tune_defaults, sizeof(c->tune));
	*out = c;
	return 0;
}

void
jf_config_free(jf_config_t *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->store_url);
	free(c->farm_url);
	free(c->token);
	free(c->local_master);
	free(c->ns);
	free(c->triple);
	free(c->cpu);
	free(c->features);
	free(c->entry);
	free(c->pubkey_path);
	for (i = 0; i < c->nsyms; i++)
		free((char *)c->syms[i].name);
	free(c->syms);
	free(c);
}

/* Replace *dst with a copy of src (NULL clears). */
static int
set_str(char **dst, const char *src)
{
	char *n = NULL;

	if (src != NULL && (n = strdup(src)) == NULL)
		return JF_ERR_NOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

int
jf_config_set_enabled(jf_config_t *c, int enabled)
{
	if (c == NULL)
		return JF_ERR_INVAL;
	c->enabled = enabled != 0;
	return 0;
}

int
jf_config_set_store(jf_config_t *c, const char *url)
{
	return c == NULL ? JF_ERR_INVAL : set_str(&c->store_url, url);
}

int
jf_config_set_farm(jf_config_t *c, const char *url, const char *token)
{
	int r;

	if (c == NULL)
		return JF_ERR_INVAL;
	if ((r = set_str(&c->farm_url, url)) != 0)
		return r;
	return set_str(&c->token, token);
}

int
jf_config_set_local_master(jf_config_t *c, const char *path)
{
	return c == NULL ? JF_ERR_INVAL : set_str(&c->local_master, path);
}

int
jf_config_set_namespace(jf_config_t *c, const char *ns)
{
	if (c == NULL || (ns != NULL && strlen(ns) >= JF_NS_MAX))
		return JF_ERR_INVAL;
	return set_str(&c->ns, ns);
}

int
jf_config_set_target(jf_config_t *c, const char *triple, const char *cpu,
    const char *features, char opt)
{
	int r;

	if (c == NULL || (opt != 0 && !jf_opt_valid(opt)))
		return JF_ERR_INVAL;
	if ((r = set_str(&c->triple, triple)) != 0 || (r = set_str(&c->cpu, cpu)) != 0 ||
	    (r = set_str(&c->features, features)) != 0)
		return r;
	c->opt = opt;
	return 0;
}

int
jf_config_set_entry(jf_config_t *c, const char *symbol)
{
	return c == NULL ? JF_ERR_INVAL : set_str(&c->entry, symbol);
}

int
jf_config_set_public_key(jf_config_t *c, const char *pem_path)
{
	return c == NULL ? JF_ERR_INVAL : set_str(&c->pubkey_path, pem_path);
}

int
jf_config_add_symbol(jf_config_t *c, const char *name, void *addr)
{
	jf_loader_sym_t *n;
	char *s;

	if (c == NULL || name == NULL || *name == '\0')
		return JF_ERR_INVAL;
	if ((s = strdup(name)) == NULL)
		return JF_ERR_NOMEM;
	if ((n = realloc(c->syms, (c->nsyms + 1) * sizeof(*n))) == NULL) {
		free(s);
		return JF_ERR_NOMEM;
	}
	c->syms = n;
	c->syms[c->nsyms].name = s;
	c->syms[c->nsyms].addr = addr;
	c->nsyms++;
	return 0;
}

int
jf_config_set_ir_provider(jf_config_t *c, jf_ir_provider_fn fn,
    jf_ir_release_fn release, void *arg)
{
	if (c == NULL)
		return JF_ERR_INVAL;
	c->ir_fn = fn;
	c->ir_release = release;
	c->ir_arg = arg;
	return 0;
}

int
jf_config_set_event_callback(jf_config_t *c, jf_event_fn fn, void *arg)
{
	if (c == NULL)
		return JF_ERR_INVAL;
	c->ev_fn = fn;
	c->ev_arg = arg;
	return 0;
}

int
jf_config_set_log(jf_config_t *c, jf_log_fn fn, void *arg, int level)
{
	if (c == NULL)
		return JF_ERR_INVAL;
	c->log_fn = fn;
	c->log_arg = arg;
	c->log_level = level;
	return 0;
}

int
jf_config_set_allocator(jf_config_t *c, void *(*alloc)(size_t, void *),
    void (*free_)(void *, void *), void *arg)
{
	if (c == NULL || (alloc == NULL) != (free_ == NULL))
		return JF_ERR_INVAL;
	c->alloc.alloc = alloc;
	c->alloc.free = free_;
	c->alloc.arg = arg;
	return 0;
}

int
jf_config_set_tune(jf_config_t *c, int knob, int64_t value)
{
	if (c == NULL || knob <= 0 || knob >= JF_TUNE_MAX || value < 0)
		return JF_ERR_INVAL;
	switch (knob) {
	case JF_TUNE_HOT_THRESHOLD:
	case JF_TUNE_EVENT_BUFFER:
	case JF_TUNE_MAX_PENDING:
	case JF_TUNE_HOT_TABLE:
	case JF_TUNE_MAX_THREADS:
	case JF_TUNE_HIT_SAMPLE:
	case JF_TUNE_DRAIN_INTERVAL_MS:
		if (value == 0 || value > (1 << 24))
			return JF_ERR_INVAL;
		break;
	default:
		break;
	}
	c->tune[knob] = value;
	return 0;
}

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

static char *
rt_strdup(jf_runtime_t *rt, const char *s)
{
	size_t n;
	char *d;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	if ((d = jf_amalloc(&rt->alloc, n)) != NULL)
		memcpy(d, s, n);
	return d;
}

int
jf_runtime_open(const jf_config_t *c, jf_runtime_t **out, char *err, size_t errlen)
{
	jf_runtime_t *rt = NULL;
	char urlbuf[4200];
	const char *farm;
	int r = JF_ERR_NOMEM;

	*out = NULL;
	if (c == NULL)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "no config");
	if (c->log_fn != NULL) {
		host_log_fn = c->log_fn;
		host_log_arg = c->log_arg;
		jf_log_set_sink(log_trampoline, NULL);
		jf_log_set_level(c->log_level);
	}
	if ((rt = jf_acalloc(&c->alloc, sizeof(*rt))) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
	rt->alloc = c->alloc;
	memcpy(rt->tune, c->tune, sizeof(rt->tune));
	rt->master_pid = -1;
	pthread_mutex_init(&rt->lock, NULL);
	pthread_mutex_init(&rt->load_lock, NULL);
	pthread_cond_init(&rt->bk_cv, NULL);
	pthread_cond_init(&rt->job_cv, NULL);
	pthread_cond_init(&rt->done_cv, NULL);
	jf_idtab_init(&rt->reg, &rt->alloc);
	jf_idtab_init(&rt->seen, &rt->alloc);

	if (!c->enabled) {
		/* answers DISABLED; nothing else to set up */
		memset(&rt->rs, 0, sizeof(rt->rs));
		*out = rt;
		return 0;
	}
	if ((r = jf_readside_init(&rt->rs, &rt->alloc,
	    (uint32_t)TUNE(rt, JF_TUNE_MAX_THREADS), (uint32_t)TUNE(rt, JF_TUNE_EVENT_BUFFER),
	    (uint32_t)TUNE(rt, JF_TUNE_HIT_SAMPLE))) != 0) {
		jf_seterr(err, errlen, r, "thread slots: %s", jf_strerror(r));
		goto out;
	}
	rt->rs.enabled = 0;     /* until the first map is up */
	if ((r = jf_hot_init(&rt->hot, &rt->alloc, (size_t)TUNE(rt, JF_TUNE_HOT_TABLE))) != 0) {
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
	if ((rt->ns = rt_strdup(rt, c->ns ? c->ns : "")) == NULL ||
	    (c->entry != NULL && (rt->entry = rt_strdup(rt, c->entry)) == NULL) ||
	    (c->token != NULL && (rt->token = rt_strdup(rt, c->token)) == NULL)) {
		jf_seterr(err, errlen, r, "out of memory");
		goto out;
	}
	if ((rt->store_url = rt_strdup(rt, c->store_url ? c->store_url :
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
	} else if ((rt->farm_url = rt_strdup(rt, farm)) == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
		goto out;
	}

	/* note the feed position, load what is there, publish, then follow
	 * the feed from the noted position: nothing falls into the gap */
	if ((r = jf_rt_preload(rt, err, errlen)) != 0)
		goto out;
	jf_rt_publish(rt);
	rt->rs.enabled = 1;
	if ((r = jf_rt_start_threads(rt, err, errlen)) != 0)
		goto out;
	*out = rt;
	rt = NULL;
	r = 0;
out:
	jf_runtime_close(rt);
	return r;
}

void
jf_runtime_close(jf_runtime_t *rt)
{
	jf_alloc_t a;
	jf_map_t *old = NULL;
	size_t i;

	if (rt == NULL)
		return;
	a = rt->alloc;
	jf_rt_stop_threads(rt);
	jf_localfarm_stop(rt);
	rt->rs.enabled = 0;
	if (rt->rs.slots != NULL) {
		jf_rs_publish(&rt->rs, NULL, &old);
		jf_map_free(&a, old);
	}
	/* no reader may remain: free everything retired and loaded */
	jf_rt_reclaim(rt, 1);
	for (i = 0; i < rt->reg.cap; i++) {
		jf_rec_t *r = rt->reg.ents[i].val;

		if (r == NULL)
			continue;
		jf_program_free(rt, r->prog);
		jf_afree(&a, r);
	}
	while (rt->jobs != NULL) {
		jf_job_t *j = rt->jobs;

		rt->jobs = j->next;
		jf_afree(&a, j);
	}
	jf_idtab_fini(&rt->reg);
	jf_idtab_fini(&rt->seen);
	jf_afree(&a, rt->retired);
	jf_hot_fini(&rt->hot, &a);
	jf_loader_free(rt->loader);
	jf_key_free_pkey(rt->verify_key);
	if (rt->rs.slots != NULL)
		jf_readside_fini(&rt->rs, &a);
	jf_afree(&a, rt->ns);
	jf_afree(&a, rt->entry);
	jf_afree(&a, rt->store_url);
	jf_afree(&a, rt->farm_url);
	jf_afree(&a, rt->token);
	pthread_mutex_destroy(&rt->lock);
	pthread_mutex_destroy(&rt->load_lock);
	pthread_cond_destroy(&rt->bk_cv);
	pthread_cond_destroy(&rt->job_cv);
	pthread_cond_destroy(&rt->done_cv);
	jf_afree(&a, rt);
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
		if ((r = jf_rt_enqueue(rt, id, J_NOW, 1)) != 0)
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
			r = jf_rt_enqueue(rt, id, J_AOT, 0);
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

void
jf_rt_event(jf_runtime_t *rt, int kind, const uint64_t *id, const jf_key_t *key,
    uint64_t ns, int result, const char *msg)
{
	jf_event_t ev;
	uint8_t idb[32];

	if (rt->ev_fn == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	if (id != NULL) {
		memcpy(idb, id, 32);
		ev.program_id = idb;
	}
	ev.key = key ? key->b : NULL;
	ev.duration_ns = ns;
	ev.result = result;
	ev.message = msg ? msg : "";
	rt->ev_fn(rt->ev_arg, &ev);
}
