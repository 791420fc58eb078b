/*
 * backend.c - the runtime's background: promotion, compiles, loading,
 * preload, the store's change feed, publishing and reclamation.
 *
 * The idea: the host's threads only ever read an immutable map; every
 * change is made here, to a registry of records under one lock, and
 * reaches readers in batches. A record that changes is marked dirty; the
 * backend thread derives a new map from the current one and the dirty
 * records, swaps it in with one store, and retires the old map and any
 * unloaded program under the epoch of the swap. They are freed once
 * every reader has announced that epoch (map.h).
 *
 * An artifact, wherever it comes from (the store at open, the change
 * feed, an on-demand fetch, or a compile on the farm), takes the same
 * path: its manifest must derive, from this node's namespace and target,
 * exactly the key it is stored under (else it is for another node and
 * is skipped), its payload hash must match, and with a public key
 * configured its signature must verify (else it is rejected and never
 * loaded). So a node that compiled a program and a node that only heard
 * of it end up with the same map.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jitfarm/runtime.h"
#include "client/farmclient.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "storage/store.h"
#include "rt_internal.h"

#define MAX_RETIRE_BATCH 64

/* ---- small helpers ------------------------------------------------------------------ */

static void
timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cv, mu, &ts);
}

static uint64_t
now_ms(void)
{
	return jf_now_ns() / 1000000ull;
}

static int
derive_key(jf_runtime_t *rt, const uint64_t id[4], jf_key_t *out)
{
	jf_keyspec_t spec;

	memset(&spec, 0, sizeof(spec));
	spec.ns = rt->ns;
	memcpy(spec.program_id.b, id, 32);
	spec.target = &rt->target;
	return jf_key_derive(&spec, out);
}

static int
open_store(jf_runtime_t *rt, jf_store_t **out, char *err, size_t errlen)
{
	jf_store_opts_t o;

	memset(&o, 0, sizeof(o));
	/* a node never writes or deletes: verification is its own business */
	o.read_only = 1;
	o.keep_corrupt = 1;
	return jf_store_open(rt->store_url, &o, out, err, errlen);
}

jf_rec_t *
jf_rt_rec_new(jf_runtime_t *rt, const uint64_t id[4], int state)
{
	jf_rec_t *r;

	if ((r = jf_acalloc(&rt->alloc, sizeof(*r))) == NULL)
		return NULL;
	memcpy(r->id, id, 32);
	r->state = state;
	if (jf_idtab_put(&rt->reg, id, r) != 0) {
		jf_afree(&rt->alloc, r);
		return NULL;
	}
	return r;
}

void
jf_rt_mark_dirty(jf_runtime_t *rt, jf_rec_t *r)
{
	if (!r->dirty) {
		r->dirty = 1;
		r->next_dirty = rt->dirty;
		rt->dirty = r;
	}
	pthread_cond_signal(&rt->bk_cv);
}

int
jf_rt_enqueue(jf_runtime_t *rt, const uint64_t id[4], int source, int force)
{
	jf_rec_t *rec = jf_idtab_get(&rt->reg, id);
	jf_job_t *j;

	if (!force && rt->njobs + rt->running >= (size_t)TUNE(rt, JF_TUNE_MAX_PENDING))
		return JF_ERR_BUSY;
	if ((j = jf_acalloc(&rt->alloc, sizeof(*j))) == NULL)
		return JF_ERR_NOMEM;
	if (rec == NULL && (rec = jf_rt_rec_new(rt, id, R_PENDING)) == NULL) {
		jf_afree(&rt->alloc, j);
		return JF_ERR_NOMEM;
	}
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

static int
retire_push(jf_runtime_t *rt, uint64_t epoch, jf_map_t *m, jf_program_t *p)
{
	if (rt->nretired == rt->capretired) {
		size_t ncap = rt->capretired ? rt->capretired * 2 : 64;
		jf_retired_t *n = jf_amalloc(&rt->alloc, ncap * sizeof(*n));

		if (n == NULL)
			return JF_ERR_NOMEM;
		if (rt->retired != NULL)
			memcpy(n, rt->retired, rt->nretired * sizeof(*n));
		jf_afree(&rt->alloc, rt->retired);
		rt->retired = n;
		rt->capretired = ncap;
	}
	rt->retired[rt->nretired].epoch = epoch;
	rt->retired[rt->nretired].map = m;
	rt->retired[rt->nretired].prog = p;
	rt->nretired++;
	return 0;
}

void
jf_program_free(jf_runtime_t *rt, jf_program_t *p)
{
	char err[256];
	size_t i;

	if (p == NULL)
		return;
	if (p->handle != NULL) {
		pthread_mutex_lock(&rt->load_lock);
		if (jf_loader_remove(rt->loader, p->handle, err, sizeof(err)) != 0)
			jf_warn("runtime: unloading a program: %s", err);
		pthread_mutex_unlock(&rt->load_lock);
	}
	for (i = 0; i < p->nsyms; i++)
		jf_afree(&rt->alloc, p->syms[i].name);
	jf_afree(&rt->alloc, p->syms);
	jf_afree(&rt->alloc, p);
}

/* ---- artifacts -------------------------------------------------------------------------- */

/*
 * Check a blob stored under key and load it. Returns 0 with *out (the
 * caller owns it) and id set; JF_ERR_NOTFOUND when the artifact is for
 * another namespace, target or compiler (skip it); another jf_err when it
 * is ours but fails verification or loading (err says why).
 */
static int
artifact_load(jf_runtime_t *rt, const jf_key_t *key, const uint8_t *blob, size_t len,
    jf_program_t **out, uint64_t id[4], char *err, size_t errlen)
{
	jf_manifest_t m;
	jf_artifact_t a;
	jf_key_t want;
	jf_program_t *p = NULL;
	const char **names = NULL;
	void **addrs = NULL;
	char name[JF_KEY_HEX_LEN + 32], hex[JF_KEY_HEX_LEN + 1];
	size_t i, n;
	int r, have_a = 0;

	*out = NULL;
	memset(&a, 0, sizeof(a));
	/* is it ours? (the manifest alone; the hash is checked here too) */
	if ((r = jf_blob_peek(blob, len, &m, err, errlen)) != 0)
		return r;
	memcpy(id, m.program_id.b, 32);
	r = derive_key(rt, id, &want);
	if (r == 0 && !jf_key_eq(&want, key))
		r = JF_ERR_NOTFOUND;
	if (r == 0 && !jf_key_eq(&m.key, key))
		r = jf_seterr(err, errlen, JF_ERR_INTEGRITY, "stored under another key");
	jf_manifest_free(&m);
	if (r != 0)
		return r;
	/* ours: full decode, with the signature when a key is configured */
	if ((r = jf_blob_decode(blob, len, rt->verify_key, &a, err, errlen)) != 0)
		goto out;
	have_a = 1;
	r = JF_ERR_NOMEM;
	n = a.m.nsymbols + 1;
	if ((p = jf_acalloc(&rt->alloc, sizeof(*p))) == NULL ||
	    (names = calloc(n, sizeof(*names))) == NULL ||
	    (addrs = calloc(n, sizeof(*addrs))) == NULL ||
	    (p->syms = jf_acalloc(&rt->alloc, n * sizeof(*p->syms))) == NULL)
		goto out;
	p->key = *key;
	memcpy(p->id, id, 32);
	names[0] = rt->entry != NULL ? rt->entry :
	    (a.m.nsymbols > 0 ? a.m.symbols[0] : NULL);
	if (names[0] == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_FORMAT, "artifact names no symbol");
		goto out;
	}
	for (i = 0; i < a.m.nsymbols; i++)
		names[i + 1] = a.m.symbols[i];
	jf_key_hex(key, hex);
	pthread_mutex_lock(&rt->load_lock);
	snprintf(name, sizeof(name), "jf-%.16s-%llu", hex,
	    (unsigned long long)++rt->load_seq);
	r = jf_loader_add(rt->loader, name, a.payload, a.payload_len, names, n, addrs,
	    &p->handle, err, errlen);
	pthread_mutex_unlock(&rt->load_lock);
	if (r != 0)
		goto out;
	p->entry = addrs[0];
	p->code_bytes = a.payload_len;
	for (i = 1; i < n; i++) {
		size_t l = strlen(names[i]) + 1;

		if ((p->syms[p->nsyms].name = jf_amalloc(&rt->alloc, l)) == NULL) {
			r = JF_ERR_NOMEM;
			goto out;
		}
		memcpy(p->syms[p->nsyms].name, names[i], l);
		p->syms[p->nsyms].addr = addrs[i];
		p->nsyms++;
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	jf_program_free(rt, p);
	free(names);
	free(addrs);
	if (have_a)
		jf_artifact_free(&a);
	return r;
}

/* Put a loaded program into the registry (lock held). Returns 1 when it
 * was taken, 0 when the id was already loaded (the caller frees p). The
 * event of the given kind is reported once lookups can see the program. */
static int
install(jf_runtime_t *rt, const uint64_t id[4], jf_program_t *p, int kind, uint64_t ns)
{
	jf_rec_t *rec = jf_idtab_get(&rt->reg, id);

	if (rec != NULL && rec->state == R_LOADED)
		return 0;
	if (rec == NULL && (rec = jf_rt_rec_new(rt, id, R_LOADED)) == NULL)
		return 0;
	rec->state = R_LOADED;
	rec->prog = p;
	rec->result = 0;
	rec->ev_kind = kind;
	rec->ev_ns = ns;
	rec->last_used_ms = now_ms();
	rt->code_bytes += p->code_bytes;
	{
		uint64_t kw[4];

		jf_id_words(p->key.b, kw);
		jf_idtab_put(&rt->seen, kw, (void *)1);
	}
	jf_hot_forget(&rt->hot, id);
	jf_rt_mark_dirty(rt, rec);
	return 1;
}

/* A negative outcome for id (lock held). */
static void
set_negative(jf_runtime_t *rt, const uint64_t id[4], int reason, int result)
{
	jf_rec_t *rec = jf_idtab_get(&rt->reg, id);

	if (rec == NULL && (rec = jf_rt_rec_new(rt, id, R_NEG)) == NULL)
		return;
	if (rec->state == R_LOADED)
		return;
	rec->state = R_NEG;
	rec->reason = reason;
	rec->result = result;
	rec->expires_ms = now_ms() + (uint64_t)TUNE(rt, JF_TUNE_NEGATIVE_TTL_MS);
	jf_rt_mark_dirty(rt, rec);
}

static int
key_seen(jf_runtime_t *rt, const jf_key_t *k)
{
	uint64_t kw[4];
	int s;

	jf_id_words(k->b, kw);
	pthread_mutex_lock(&rt->lock);
	s = jf_idtab_get(&rt->seen, kw) != NULL;
	pthread_mutex_unlock(&rt->lock);
	return s;
}

static void
mark_seen(jf_runtime_t *rt, const jf_key_t *k)
{
	uint64_t kw[4];

	jf_id_words(k->b, kw);
	pthread_mutex_lock(&rt->lock);
	jf_idtab_put(&rt->seen, kw, (void *)1);
	pthread_mutex_unlock(&rt->lock);
}

static void
unmark_seen(jf_runtime_t *rt, const jf_key_t *k)
{
	uint64_t kw[4];

	jf_id_words(k->b, kw);
	pthread_mutex_lock(&rt->lock);
	jf_idtab_del(&rt->seen, kw);
	pthread_mutex_unlock(&rt->lock);
}

/*
 * Fetch key from the store and load it if it is ours (preload and the
 * change feed). kind is JF_EV_PRELOAD or JF_EV_PUSH.
 */
static void
take_artifact(jf_runtime_t *rt, jf_store_t *st, const jf_key_t *key, int kind)
{
	uint8_t *blob = NULL;
	size_t len = 0;
	jf_program_t *p = NULL;
	uint64_t id[4], t0 = jf_now_ns();
	char err[512] = "";
	int r, taken = 0;

	if (key_seen(rt, key))
		return;
	if ((r = jf_store_get_raw(st, key, &blob, &len)) != 0) {
		/* gone again, or the store is down: the feed or a resync brings it back */
		if (r != JF_ERR_NOTFOUND)
			jf_warn("runtime: fetching a pushed artifact: %s", jf_store_errstr(st));
		return;
	}
	r = artifact_load(rt, key, blob, len, &p, id, err, sizeof(err));
	jf_free(blob);
	if (r == JF_ERR_NOTFOUND) {
		mark_seen(rt, key);     /* another node's: never fetch it again */
		return;
	}
	if (r != 0) {
		mark_seen(rt, key);
		atomic_fetch_add(&rt->st_rejected, 1);
		jf_warn("runtime: artifact rejected: %s", err);
		jf_rt_event(rt, JF_EV_REJECT, NULL, key, jf_now_ns() - t0, r, err);
		return;
	}
	pthread_mutex_lock(&rt->lock);
	taken = install(rt, id, p, kind, jf_now_ns() - t0);
	pthread_mutex_unlock(&rt->lock);
	if (!taken) {
		jf_program_free(rt, p);
		mark_seen(rt, key);
		return;
	}
	atomic_fetch_add(kind == JF_EV_PRELOAD ? &rt->st_preloaded : &rt->st_pushed, 1);
}

/* ---- preload and the change feed ----------------------------------------------------------- */

typedef struct keyvec {
	jf_key_t *k;
	size_t n, cap;
} keyvec_t;

static int
keyvec_push(keyvec_t *v, const jf_key_t *k)
{
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 64;
		jf_key_t *n = realloc(v->k, ncap * sizeof(*n));

		if (n == NULL)
			return JF_ERR_NOMEM;
		v->k = n;
		v->cap = ncap;
	}
	v->k[v->n++] = *k;
	return 0;
}

static int
list_cb(const jf_store_entry_t *e, void *arg)
{
	return keyvec_push(arg, &e->key);
}

static int
watch_cb(const jf_key_t *key, const char *cursor, void *arg)
{
	(void)cursor;
	return keyvec_push(arg, key);
}

int
jf_rt_preload(jf_runtime_t *rt, char *err, size_t errlen)
{
	jf_store_t *st = NULL;
	keyvec_t v = { NULL, 0, 0 };
	size_t i;
	int r;

	if (!TUNE(rt, JF_TUNE_PRELOAD) && !TUNE(rt, JF_TUNE_WATCH))
		return 0;
	if ((r = open_store(rt, &st, err, errlen)) != 0)
		return r;
	/* the feed position first, so what arrives during the listing is
	 * delivered again by the watch (and skipped as seen) */
	rt->cursor[0] = '\0';
	if ((r = jf_store_cursor(st, rt->cursor, sizeof(rt->cursor))) != 0 &&
	    r != JF_ERR_UNSUPPORTED)
		jf_warn("runtime: store cursor: %s", jf_store_errstr(st));
	if (TUNE(rt, JF_TUNE_PRELOAD)) {
		if ((r = jf_store_list(st, list_cb, &v)) != 0)
			jf_warn("runtime: preload listing: %s", jf_store_errstr(st));
		for (i = 0; i < v.n; i++)
			take_artifact(rt, st, &v.k[i], JF_EV_PRELOAD);
	}
	free(v.k);
	jf_store_close(st);
	return 0;
}

static void
resync(jf_runtime_t *rt, jf_store_t *st)
{
	keyvec_t v = { NULL, 0, 0 };
	char cur[sizeof(rt->cursor)] = "";
	size_t i;

	if (jf_store_cursor(st, cur, sizeof(cur)) == 0)
		memcpy(rt->cursor, cur, sizeof(cur));
	if (jf_store_list(st, list_cb, &v) == 0)
		for (i = 0; i < v.n && !rt->stopping; i++)
			take_artifact(rt, st, &v.k[i], JF_EV_PUSH);
	free(v.k);
}

static void *
watcher_main(void *arg)
{
	jf_runtime_t *rt = arg;
	jf_store_t *st = NULL;
	char err[512];
	int polling = 0;

	while (!rt->stopping) {
		keyvec_t v = { NULL, 0, 0 };
		size_t i;
		int r;

		if (st == NULL && open_store(rt, &st, err, sizeof(err)) != 0) {
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
		free(v.k);
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

/* ---- compile workers ------------------------------------------------------------------------ */

typedef struct worker {
	jf_runtime_t *rt;
	jf_store_t *st;
	jf_farm_t *farm;
} worker_t;

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
	fc.ns = rt->ns;
	fc.program_id = &pid;
	fc.triple = rt->target.triple;
	fc.cpu = rt->target.cpu;
	fc.features = rt->target.features;
	fc.opt = rt->target.opt;
	atomic_fetch_add(&rt->st_compiles, 1);
	r = jf_farm_compile(w->farm, &fc, res, err, errlen);
out:
	if (rt->ir_release != NULL && ir != NULL)
		rt->ir_release(rt->ir_arg, ir);
	return r;
}

static void
run_job(worker_t *w, const jf_job_t *job)
{
	jf_runtime_t *rt = w->rt;
	jf_farm_result_t res;
	jf_program_t *p = NULL;
	jf_key_t key;
	uint8_t *blob = NULL;
	size_t len = 0;
	uint64_t id[4], t0 = jf_now_ns();
	char err[1024] = "";
	int r, kind = JF_EV_FETCH, taken = 0;

	memset(&res, 0, sizeof(res));
	if ((r = derive_key(rt, job->id, &key)) != 0)
		goto neg;
	/* 1. compiled already, somewhere in the cluster? */
	if (w->st == NULL && open_store(rt, &w->st, err, sizeof(err)) != 0)
		w->st = NULL;
	if (w->st != NULL && jf_store_get_raw(w->st, &key, &blob, &len) == 0) {
		r = artifact_load(rt, &key, blob, len, &p, id, err, sizeof(err));
		jf_free(blob);
		blob = NULL;
		if (r == 0)
			goto loaded;
		atomic_fetch_add(&rt->st_rejected, 1);
		jf_rt_event(rt, JF_EV_REJECT, job->id, &key, jf_now_ns() - t0, r, err);
	}
	/* 2. compile it on the farm */
	kind = JF_EV_COMPILE;
	if (rt->farm_none) {
		r = jf_seterr(err, sizeof(err), JF_ERR_NOTFOUND, "not in the store, and no farm");
		goto neg;
	}
	/* the farm stores and announces what it compiles; this worker loads
	 * the answer itself, so the watcher need not fetch it again */
	mark_seen(rt, &key);
	if ((r = farm_compile(w, job->id, &res, err, sizeof(err))) != 0) {
		if (r != JF_ERR_NOTFOUND && r != JF_ERR_TOOBIG)
			atomic_fetch_add(&rt->st_compile_failures, 1);
		unmark_seen(rt, &key);
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
	if ((r = artifact_load(rt, &key, res.blob, res.blob_len, &p, id, err,
	    sizeof(err))) != 0) {
		atomic_fetch_add(&rt->st_rejected, 1);
		jf_rt_event(rt, JF_EV_REJECT, job->id, &key, jf_now_ns() - t0, r, err);
		goto neg;
	}
loaded:
	if (memcmp(id, job->id, 32) != 0) {
		/* cannot happen: the key derives from the id */
		jf_program_free(rt, p);
		r = JF_ERR_INTEGRITY;
		goto neg;
	}
	pthread_mutex_lock(&rt->lock);
	taken = install(rt, job->id, p, kind, jf_now_ns() - t0);
	pthread_mutex_unlock(&rt->lock);
	if (kind == JF_EV_FETCH)
		atomic_fetch_add(&rt->st_fetches, 1);
	if (!taken) {
		/* loaded meanwhile from the feed: already visible */
		jf_program_free(rt, p);
		jf_rt_event(rt, kind, job->id, &key, jf_now_ns() - t0, 0, NULL);
	}
	jf_farm_result_free(&res);
	return;
neg:
	jf_debug("runtime: compile failed: %s", err);
	pthread_mutex_lock(&rt->lock);
	set_negative(rt, job->id, rt->farm_none && r == JF_ERR_NOTFOUND ?
	    JF_INTERP_NOT_READY : reason_of(r), r);
	pthread_mutex_unlock(&rt->lock);
	jf_rt_event(rt, kind, job->id, &key, jf_now_ns() - t0, r, err);
	jf_farm_result_free(&res);
}

static void *
worker_main(void *arg)
{
	worker_t *w = arg;
	jf_runtime_t *rt = w->rt;

	pthread_mutex_lock(&rt->lock);
	while (!rt->stopping) {
		jf_job_t *j = rt->jobs;

		if (j == NULL || atomic_load(&rt->paused)) {
			timed_wait(&rt->job_cv, &rt->lock, 100);
			continue;
		}
		rt->jobs = j->next;
		if (rt->jobs == NULL)
			rt->jobs_tail = NULL;
		rt->njobs--;
		rt->running++;
		pthread_mutex_unlock(&rt->lock);
		run_job(w, j);
		jf_afree(&rt->alloc, j);
		pthread_mutex_lock(&rt->lock);
		rt->running--;
	}
	pthread_mutex_unlock(&rt->lock);
	jf_farm_close(w->farm);
	jf_store_close(w->st);
	free(w);
	return NULL;
}

/* ---- publishing and reclamation -------------------------------------------------------------- */

/* An event held back until its program is visible. */
typedef struct pubev {
	int kind;
	uint64_t id[4];
	jf_key_t key;
	uint64_t ns;
} pubev_t;

/* Publish the dirty records (lock held). Events of programs that became
 * visible are returned in *evs (malloc'd, *nevs of them) for the caller
 * to report after unlocking. */
static void
publish_locked(jf_runtime_t *rt, jf_program_t **gone, size_t ngone, pubev_t **evs,
    size_t *nevs)
{
	jf_mslot_t *adds = NULL;
	uint64_t (*dels)[4] = NULL;
	size_t nadd = 0, ndel = 0, n = 0, i;
	jf_rec_t *r, *next;
	jf_map_t *m, *old;
	uint64_t epoch;

	*evs = NULL;
	*nevs = 0;
	for (r = rt->dirty; r != NULL; r = r->next_dirty)
		n++;
	if (n == 0 && ngone == 0)
		return;
	if (n > 0 && ((adds = malloc(n * sizeof(*adds))) == NULL ||
	    (dels = malloc(n * sizeof(*dels))) == NULL))
		goto out;
	for (r = rt->dirty; r != NULL; r = r->next_dirty) {
		if (r->state == R_LOADED) {
			memcpy(adds[nadd].id, r->id, 32);
			adds[nadd].fn = r->prog->entry;
			adds[nadd].meta = (uintptr_t)r->prog;
			nadd++;
		} else if (r->state == R_NEG) {
			memcpy(adds[nadd].id, r->id, 32);
			adds[nadd].fn = NULL;
			adds[nadd].meta = (uintptr_t)r->reason;
			nadd++;
		} else {
			/* leaving, or queued again after it was evicted or
			 * expired: its old entry must not stay in the map */
			memcpy(dels[ndel], r->id, 32);
			ndel++;
		}
	}
	m = jf_map_derive(&rt->alloc, atomic_load(&rt->rs.map), adds, nadd,
	    (const uint64_t (*)[4])dels, ndel);
	if (m == NULL)
		goto out;       /* out of memory: the records stay dirty, retried */
	epoch = jf_rs_publish(&rt->rs, m, &old);
	if (old != NULL && retire_push(rt, epoch, old, NULL) != 0) {
		/* cannot track it: leak the old map rather than free it early */
		jf_warn("runtime: out of memory retiring a map");
	}
	for (i = 0; i < ngone; i++)
		if (retire_push(rt, epoch, NULL, gone[i]) != 0)
			jf_warn("runtime: out of memory retiring a program");
	rt->pub_gen++;
	if (n > 0 && (*evs = malloc(n * sizeof(**evs))) == NULL)
		jf_warn("runtime: out of memory: load events are lost");
	for (r = rt->dirty; r != NULL; r = next) {
		next = r->next_dirty;
		if (r->state == R_LOADED && r->ev_kind != 0 && *evs != NULL) {
			pubev_t *e = &(*evs)[(*nevs)++];

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
			jf_afree(&rt->alloc, r);
		}
	}
	rt->dirty = NULL;
	atomic_fetch_add(&rt->st_swaps, 1);
	pthread_cond_broadcast(&rt->done_cv);
out:
	free(adds);
	free(dels);
}

static void
report(jf_runtime_t *rt, pubev_t *evs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		jf_rt_event(rt, evs[i].kind, evs[i].id, &evs[i].key, evs[i].ns, 0, NULL);
	free(evs);
}

void
jf_rt_publish(jf_runtime_t *rt)
{
	pubev_t *evs;
	size_t nevs;

	pthread_mutex_lock(&rt->lock);
	publish_locked(rt, NULL, 0, &evs, &nevs);
	pthread_mutex_unlock(&rt->lock);
	report(rt, evs, nevs);
}

void
jf_rt_publish_map(jf_runtime_t *rt, jf_map_t *m)
{
	jf_map_t *old;
	uint64_t epoch;

	pthread_mutex_lock(&rt->lock);
	epoch = jf_rs_publish(&rt->rs, m, &old);
	if (old != NULL)
		retire_push(rt, epoch, old, NULL);
	rt->pub_gen++;
	atomic_fetch_add(&rt->st_swaps, 1);
	pthread_mutex_unlock(&rt->lock);
}

void
jf_rt_reclaim(jf_runtime_t *rt, int all)
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
			jf_map_free(&rt->alloc, batch[i].map);
			jf_program_free(rt, batch[i].prog);
		}
	} while (nb == MAX_RETIRE_BATCH);
}

/* ---- the backend thread ------------------------------------------------------------------------ */

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
	    jf_rt_enqueue(rt, ev->id, J_HOT, 0) == 0) {
		atomic_fetch_add(&rt->st_promotions, 1);
		jf_hot_forget(&rt->hot, ev->id);
	}
}

typedef struct evictnote {
	uint64_t id[4];
	jf_key_t key;
} evictnote_t;

/* Expire negative entries and evict idle or over-budget code (lock
 * held). Evicted programs go to gone[]; notes for the event callback. */
static size_t
maintain_locked(jf_runtime_t *rt, uint64_t now, jf_program_t **gone, evictnote_t *notes,
    size_t max)
{
	uint64_t idle = (uint64_t)TUNE(rt, JF_TUNE_IDLE_EVICT_MS);
	uint64_t budget = (uint64_t)TUNE(rt, JF_TUNE_CODE_BUDGET);
	size_t i, n = 0;

	for (i = 0; i < rt->reg.cap && n < max; i++) {
		jf_rec_t *r = rt->reg.ents[i].val;

		if (r == NULL)
			continue;
		if (r->state == R_NEG && r->expires_ms <= now) {
			r->state = R_GONE;
			jf_rt_mark_dirty(rt, r);
		} else if (r->state == R_LOADED && idle > 0 && !r->dirty &&
		    now - r->last_used_ms >= idle) {
			goto evict;
		}
		continue;
evict:
		memcpy(notes[n].id, r->id, 32);
		notes[n].key = r->prog->key;
		gone[n++] = r->prog;
		rt->code_bytes -= r->prog->code_bytes;
		r->prog = NULL;
		r->state = R_GONE;
		jf_rt_mark_dirty(rt, r);
	}
	while (budget > 0 && rt->code_bytes > budget && n < max) {
		jf_rec_t *lru = NULL;

		for (i = 0; i < rt->reg.cap; i++) {
			jf_rec_t *r = rt->reg.ents[i].val;

			if (r != NULL && r->state == R_LOADED &&
			    (lru == NULL || r->last_used_ms < lru->last_used_ms))
				lru = r;
		}
		if (lru == NULL)
			break;
		memcpy(notes[n].id, lru->id, 32);
		notes[n].key = lru->prog->key;
		gone[n++] = lru->prog;
		rt->code_bytes -= lru->prog->code_bytes;
		lru->prog = NULL;
		lru->state = R_GONE;
		jf_rt_mark_dirty(rt, lru);
	}
	return n;
}

#define EVICT_MAX 64

static void *
backend_main(void *arg)
{
	jf_runtime_t *rt = arg;
	int interval = (int)TUNE(rt, JF_TUNE_DRAIN_INTERVAL_MS);
	jf_program_t *gone[EVICT_MAX];
	evictnote_t notes[EVICT_MAX];

	rt->last_decay_ms = rt->last_scan_ms = now_ms();
	pthread_mutex_lock(&rt->lock);
	while (!rt->stopping) {
		drainctx_t dc;
		size_t ngone = 0, i, nevs;
		pubev_t *evs;

		timed_wait(&rt->bk_cv, &rt->lock, interval);
		if (rt->stopping)
			break;
		dc.rt = rt;
		dc.now = now_ms();
		jf_rs_drain(&rt->rs, on_event, &dc, 1u << 20);
		if (dc.now - rt->last_decay_ms >= (uint64_t)TUNE(rt, JF_TUNE_HOT_DECAY_MS) &&
		    TUNE(rt, JF_TUNE_HOT_DECAY_MS) > 0) {
			jf_hot_decay(&rt->hot);
			rt->last_decay_ms = dc.now;
		}
		if (atomic_load(&rt->paused))
			continue;
		if (dc.now - rt->last_scan_ms >= 50) {
			ngone = maintain_locked(rt, dc.now, gone, notes, EVICT_MAX);
			rt->last_scan_ms = dc.now;
		}
		publish_locked(rt, gone, ngone, &evs, &nevs);
		pthread_mutex_unlock(&rt->lock);
		report(rt, evs, nevs);
		for (i = 0; i < ngone; i++) {
			atomic_fetch_add(&rt->st_evicted, 1);
			jf_rt_event(rt, JF_EV_EVICT, notes[i].id, &notes[i].key, 0, 0, NULL);
		}
		jf_rt_reclaim(rt, 0);
		pthread_mutex_lock(&rt->lock);
	}
	pthread_mutex_unlock(&rt->lock);
	return NULL;
}

int
jf_rt_start_threads(jf_runtime_t *rt, char *err, size_t errlen)
{
	int i, n = (int)JF_MIN(TUNE(rt, JF_TUNE_MAX_PENDING), 4);

	if (pthread_create(&rt->backend, NULL, backend_main, rt) != 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "starting the backend thread");
	rt->backend_ok = 1;
	if (TUNE(rt, JF_TUNE_WATCH)) {
		if (pthread_create(&rt->watcher, NULL, watcher_main, rt) != 0)
			return jf_seterr(err, errlen, JF_ERR_SYSTEM, "starting the watcher");
		rt->watcher_ok = 1;
	}
	if ((rt->workers = jf_acalloc(&rt->alloc, (size_t)n * sizeof(pthread_t))) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		worker_t *w = calloc(1, sizeof(*w));

		if (w == NULL)
			return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
		w->rt = rt;
		if (pthread_create(&rt->workers[i], NULL, worker_main, w) != 0) {
			free(w);
			return jf_seterr(err, errlen, JF_ERR_SYSTEM, "starting a worker");
		}
		rt->nworkers++;
	}
	return 0;
}

void
jf_rt_stop_threads(jf_runtime_t *rt)
{
	int i;

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
	if (rt->watcher_ok)
		pthread_join(rt->watcher, NULL);
	for (i = 0; i < rt->nworkers; i++)
		pthread_join(rt->workers[i], NULL);
	rt->backend_ok = rt->watcher_ok = 0;
	rt->nworkers = 0;
	jf_afree(&rt->alloc, rt->workers);
	rt->workers = NULL;
}
