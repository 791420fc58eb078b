/*
 * jobs.c - the compile queue and its worker threads (jobs.h).
 *
 * A job first asks the store for the artifact this node derives for the
 * program (another node may have compiled it), and only then asks the
 * farm for a compile, with the IR the host's provider hands over. The
 * farm stores and announces what it compiles; the worker loads the
 * answer itself and marks its key seen, so the watcher does not fetch it
 * again. Every outcome becomes a record: loaded, or negative with a
 * reason that lookups report until its TTL passes.
 */
#include <stdlib.h>
#include <string.h>

#include "client/farmclient.h"
#include "common/log.h"
#include "artifact.h"
#include "event.h"
#include "jobs.h"
#include "registry.h"

typedef struct worker {
	jf_runtime_t *rt;
	jf_store_t *st;
	jf_farm_t *farm;
} worker_t;

int
jf_jobs_enqueue(jf_runtime_t *rt, const uint64_t id[4], int source, int force)
{
	jf_rec_t *rec = jf_idtab_get(&rt->reg, id);
	const jf_allocator_t *prev;
	jf_job_t *j;

	if (!force && rt->njobs + rt->running >= (size_t)TUNE(rt, JF_TUNE_MAX_PENDING))
		return JF_ERR_BUSY;
	/* called on host threads too (jf_compile_now, jf_prepare_aot) */
	prev = jf_mem_use(rt->alloc);
	if ((j = jf_calloc(1, sizeof(*j))) != NULL && rec == NULL &&
	    (rec = jf_reg_rec_new(rt, id, R_PENDING)) == NULL) {
		jf_free(j);
		j = NULL;
	}
	jf_mem_use(prev);
	if (j == NULL)
		return JF_ERR_NOMEM;
	/* a negative or leaving record stays in the map as it is until the
	 * job's outcome replaces it */
	rec->state = R_PENDING;
	memcpy(j->id, id, 32);
	j->source = source;
	if (source == J_NOW) {
		j->next = rt->jobs;
		rt->jobs = j;
		if (rt->jobs_tail == NULL)
			rt->jobs_tail = j;
	} else {
		if (rt->jobs_tail != NULL)
			rt->jobs_tail->next = j;
		else
			rt->jobs = j;
		rt->jobs_tail = j;
	}
	rt->njobs++;
	pthread_cond_signal(&rt->job_cv);
	return 0;
}

void
jf_jobs_free_queued(jf_runtime_t *rt)
{
	while (rt->jobs != NULL) {
		jf_job_t *j = rt->jobs;

		rt->jobs = j->next;
		jf_free(j);
	}
	rt->jobs_tail = NULL;
	rt->njobs = 0;
}

static int
reason_of(int r)
{
	switch (r) {
	case JF_ERR_QUARANTINED: return JF_INTERP_QUARANTINED;
	case JF_ERR_NOTFOUND:
	case JF_ERR_TOOBIG: return JF_INTERP_INELIGIBLE;
	default: return JF_INTERP_FAILED;
	}
}

/* Compile id on the farm: 0 with the blob, or a jf_err. */
static int
farm_compile(worker_t *w, const uint64_t id[4], jf_farm_result_t *res, char *err,
    size_t errlen)
{
	jf_runtime_t *rt = w->rt;
	jf_farm_compile_t fc;
	jf_key_t pid;
	const void *ir = NULL;
	size_t irlen = 0;
	int r;

	if (rt->ir_fn == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOTFOUND, "no IR provider");
	if ((r = rt->ir_fn(rt->ir_arg, (const uint8_t *)id, &ir, &irlen)) != 0)
		return jf_seterr(err, errlen, r, "IR provider: %s", jf_strerror(r));
	if (irlen > (size_t)TUNE(rt, JF_TUNE_MAX_IR_BYTES)) {
		r = jf_seterr(err, errlen, JF_ERR_TOOBIG, "IR of %zu bytes is over the limit",
		    irlen);
		goto out;
	}
	if (w->farm == NULL) {
		jf_farm_opts_t o;

		memset(&o, 0, sizeof(o));
		o.url = rt->farm_url;
		o.token = rt->token;
		o.timeout_ms = (int)TUNE(rt, JF_TUNE_COMPILE_TIMEOUT_MS);
		if ((r = jf_farm_open(&o, &w->farm, err, errlen)) != 0)
			goto out;
	}
	memset(&fc, 0, sizeof(fc));
	memcpy(pid.b, id, 32);
	fc.ir = ir;
	fc.ir_len = irlen;
	if ((r = jf_spec_set(&fc.spec, rt->ns, &pid, rt->target.triple, rt->target.cpu,
	    rt->target.features, rt->target.opt, err, errlen)) != 0)
		goto out;
	atomic_fetch_add(&rt->st_compiles, 1);
	r = jf_farm_compile(w->farm, &fc, res, err, errlen);
out:
	if (rt->ir_release != NULL && ir != NULL)
		rt->ir_release(rt->ir_arg, ir);
	return r;
}

/* The artifact from the store, when some node compiled it already:
 * 0 with *p, or a jf_err (JF_ERR_NOTFOUND: compile it). */
static int
fetch_stored(worker_t *w, const jf_job_t *job, const jf_key_t *key, jf_program_t **p,
    uint64_t id[4], uint64_t t0, char *err, size_t errlen)
{
	jf_runtime_t *rt = w->rt;
	uint8_t *blob = NULL;
	size_t len = 0;
	int r;

	if (w->st == NULL && jf_art_store_open(rt, &w->st, err, errlen) != 0)
		w->st = NULL;
	if (w->st == NULL || jf_store_get_raw(w->st, key, &blob, &len) != 0)
		return JF_ERR_NOTFOUND;
	r = jf_art_load(rt, key, blob, len, p, id, err, errlen);
	jf_free(blob);  /* the store returns jf_malloc memory */
	if (r != 0 && r != JF_ERR_NOMEM) {
		atomic_fetch_add(&rt->st_rejected, 1);
		jf_event_report(rt, JF_EV_REJECT, job->id, key, jf_now_ns() - t0, r, err);
		r = JF_ERR_NOTFOUND;
	}
	return r;
}

static void
run_job(worker_t *w, const jf_job_t *job)
{
	jf_runtime_t *rt = w->rt;
	jf_farm_result_t res;
	jf_program_t *p = NULL;
	jf_key_t key;
	uint64_t id[4], t0 = jf_now_ns();
	char err[1024] = "";
	int r, kind = JF_EV_FETCH, taken = 0;

	memset(&res, 0, sizeof(res));
	memset(&key, 0, sizeof(key));
	if ((r = jf_art_derive_key(rt, job->id, &key)) != 0)
		goto neg;
	/* 1. compiled already, somewhere in the cluster? */
	if ((r = fetch_stored(w, job, &key, &p, id, t0, err, sizeof(err))) == 0)
		goto loaded;
	if (r == JF_ERR_NOMEM)
		goto neg;
	/* 2. compile it on the farm */
	kind = JF_EV_COMPILE;
	if (rt->farm_none) {
		r = jf_seterr(err, sizeof(err), JF_ERR_NOTFOUND, "not in the store, and no farm");
		goto neg;
	}
	jf_reg_seen_mark(rt, &key);
	if ((r = farm_compile(w, job->id, &res, err, sizeof(err))) != 0) {
		if (r != JF_ERR_NOTFOUND && r != JF_ERR_TOOBIG)
			atomic_fetch_add(&rt->st_compile_failures, 1);
		jf_reg_seen_unmark(rt, &key);
		goto neg;
	}
	if (!jf_key_eq(&res.key, &key)) {
		char want[JF_KEY_HEX_LEN + 1], got[JF_KEY_HEX_LEN + 1];

		jf_key_hex(&key, want);
		jf_key_hex(&res.key, got);
		r = jf_seterr(err, sizeof(err), JF_ERR_INTEGRITY,
		    "farm answered key %s, this node derives %s", got, want);
		atomic_fetch_add(&rt->st_compile_failures, 1);
		goto neg;
	}
	if ((r = jf_art_load(rt, &key, res.blob, res.blob_len, &p, id, err,
	    sizeof(err))) != 0) {
		if (r != JF_ERR_NOMEM) {
			atomic_fetch_add(&rt->st_rejected, 1);
			jf_event_report(rt, JF_EV_REJECT, job->id, &key, jf_now_ns() - t0, r, err);
		}
		goto neg;
	}
loaded:
	if (memcmp(id, job->id, 32) != 0) {
		/* cannot happen: the key derives from the id */
		jf_art_program_free(rt, p);
		r = JF_ERR_INTEGRITY;
		goto neg;
	}
	pthread_mutex_lock(&rt->lock);
	taken = jf_reg_install(rt, job->id, p, kind, jf_now_ns() - t0);
	pthread_mutex_unlock(&rt->lock);
	if (kind == JF_EV_FETCH)
		atomic_fetch_add(&rt->st_fetches, 1);
	if (!taken) {
		/* loaded meanwhile from the feed: already visible */
		jf_art_program_free(rt, p);
		jf_event_report(rt, kind, job->id, &key, jf_now_ns() - t0, 0, NULL);
	}
	jf_farm_result_free(&res);
	return;
neg:
	jf_debug("runtime: compile failed: %s", err);
	pthread_mutex_lock(&rt->lock);
	jf_reg_set_negative(rt, job->id, rt->farm_none && r == JF_ERR_NOTFOUND ?
	    JF_INTERP_NOT_READY : reason_of(r), r);
	pthread_mutex_unlock(&rt->lock);
	jf_event_report(rt, kind, job->id, &key, jf_now_ns() - t0, r, err);
	jf_farm_result_free(&res);
}

static void *
worker_main(void *arg)
{
	worker_t *w = arg;
	jf_runtime_t *rt = w->rt;

	jf_mem_use(rt->alloc);
	pthread_mutex_lock(&rt->lock);
	while (!rt->stopping) {
		jf_job_t *j = rt->jobs;

		if (j == NULL || atomic_load(&rt->paused)) {
			jf_rt_timed_wait(&rt->job_cv, &rt->lock, 100);
			continue;
		}
		rt->jobs = j->next;
		if (rt->jobs == NULL)
			rt->jobs_tail = NULL;
		rt->njobs--;
		rt->running++;
		pthread_mutex_unlock(&rt->lock);
		run_job(w, j);
		jf_free(j);
		pthread_mutex_lock(&rt->lock);
		rt->running--;
	}
	pthread_mutex_unlock(&rt->lock);
	jf_farm_close(w->farm);
	jf_store_close(w->st);
	jf_free(w);
	return NULL;
}

int
jf_jobs_start(jf_runtime_t *rt, int n, char *err, size_t errlen)
{
	int i;

	if ((rt->workers = jf_calloc((size_t)n, sizeof(pthread_t))) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		worker_t *w = jf_calloc(1, sizeof(*w));

		if (w == NULL)
			return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
		w->rt = rt;
		if (pthread_create(&rt->workers[i], NULL, worker_main, w) != 0) {
			jf_free(w);
			return jf_seterr(err, errlen, JF_ERR_SYSTEM, "starting a worker");
		}
		rt->nworkers++;
	}
	return 0;
}

void
jf_jobs_join(jf_runtime_t *rt)
{
	int i;

	for (i = 0; i < rt->nworkers; i++)
		pthread_join(rt->workers[i], NULL);
	rt->nworkers = 0;
	jf_free(rt->workers);
	rt->workers = NULL;
}
