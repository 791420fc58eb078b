/*
 * sched.c - compile scheduling: one "flight" per artifact key.
 *
 * A POST /v1/compile derives the artifact key from its parameters and
 * the IR (no LLVM work beyond resolving the target), then:
 *
 *   1. joins the flight for that key if one exists (single-flight: every
 *      identical request in this master shares one store lookup and at
 *      most one compile, and gets the same bytes);
 *   2. else is admitted only if fewer than workers + queue-limit flights
 *      exist (503 with Retry-After otherwise: memory stays bounded);
 *   3. the new flight checks the store first (a store thread), and a hit
 *      answers everyone with the stored blob;
 *   4. on a miss, where the store offers a lease, takes the key's
 *      cluster-wide lease; if another master holds it, polls the store for
 *      the published entry until the lease would have expired, then
 *      compiles itself (the holder is presumed dead);
 *   5. hands the IR to the sandboxed pool; a failure answers everyone
 *      with the error (400 bad input, 422 crash/fatal/timeout/quarantine);
 *   6. encodes (and signs) the blob and puts it in the store; only once
 *      the put succeeded are the waiters answered (200), so a 200 always
 *      means "in the store and announced on its change feed". A failed
 *      put is a 502 to everyone, never swallowed.
 *
 * Everything here runs on the loop thread; store calls go through
 * storeq.c and pool completions arrive through jf_pool_dispatch(). A
 * flight is in exactly one of: a store job, the pool, or a timer, and
 * whichever of those finishes it frees it. When the loop is gone
 * (ms->closing) the same callbacks only free.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/mem.h"
#include "common/log.h"
#include "common/util.h"
#include "master/master.h"
#include "compiler/compile.h"

#define NBUCKETS 4096

typedef struct waiter {
	struct evhttp_request *req;
	uint64_t t0;
	int joined;                     /* 0: the request that started the flight */
	struct waiter *next;
} waiter_t;

enum fstate { F_LOOKUP, F_LEASE, F_PEER, F_COMPILE, F_HOLD, F_PUT };

struct jf_flight {
	jf_master_t *ms;
	jf_key_t key;
	char hex[JF_KEY_HEX_LEN + 1];
	enum fstate state;
	uint8_t *ir;                    /* owned copy of the request body */
	size_t ir_len;
	jf_creq_t cr;
	waiter_t *waiters, **tail;
	unsigned nwaiters;
	/* store job in/out */
	int sres;
	uint8_t *blob;                  /* owned */
	size_t blob_len;
	char serr[256];
	struct event *timer;
	uint64_t t_start, compile_ns, peer_deadline_ns;
	int leased;                     /* this master holds the key's lease */
	int lease_acq;                  /* job output */
	int from_peer;                  /* answered with another master's entry */
	jf_flight_t *hnext;
};

struct jf_sched {
	jf_master_t *ms;
	/* Leases belong to the store handle that took them, so one handle,
	 * shared by the store threads under a mutex, takes and drops them
	 * all. NULL when the store has no leases. */
	jf_store_t *lease_store;
	pthread_mutex_t lease_mu;
	int lease_unsupported;
	jf_flight_t *b[NBUCKETS];
	unsigned nflights, nwaiters;
};

static unsigned
bucket(const jf_key_t *k)
{
	return ((unsigned)k->b[0] << 8 | k->b[1]) % NBUCKETS;
}

int
jf_sched_create(jf_master_t *ms, jf_sched_t **out)
{
	jf_sched_t *s = calloc(1, sizeof(*s));
	jf_store_opts_t so;
	char err[256];

	*out = s;
	if (s == NULL)
		return JF_ERR_NOMEM;
	s->ms = ms;
	pthread_mutex_init(&s->lease_mu, NULL);
	memset(&so, 0, sizeof(so));
	if (jf_store_open(ms->cfg.store_url, &so, &s->lease_store, err, sizeof(err)) != 0) {
		jf_warn("msg=\"no lease handle; compiles are single-flight per master only\" "
		    "detail=\"%s\"", err);
		s->lease_store = NULL;
	}
	return 0;
}

unsigned
jf_sched_inflight(jf_sched_t *s)
{
	return s->nflights;
}

unsigned
jf_sched_waiters(jf_sched_t *s)
{
	return s->nwaiters;
}

static jf_flight_t *
flight_find(jf_sched_t *s, const jf_key_t *k)
{
	jf_flight_t *f;

	for (f = s->b[bucket(k)]; f != NULL; f = f->hnext)
		if (jf_key_eq(&f->key, k))
			return f;
	return NULL;
}

static void
flight_unlink(jf_sched_t *s, jf_flight_t *f)
{
	jf_flight_t **pp;

	for (pp = &s->b[bucket(&f->key)]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == f) {
			*pp = f->hnext;
			s->nflights--;
			return;
		}
}

static void lease_drop(jf_flight_t *f);
static int store_submit(jf_flight_t *f, jf_sjob_fn fn, jf_sdone_fn done);
static void note_store_error(jf_master_t *ms, int r, int op);

/* Unlink and free a flight; waiters must already be answered (or the
 * loop gone). */
static void
flight_free(jf_flight_t *f)
{
	waiter_t *w;
	jf_sched_t *s;

	if (f == NULL)
		return;
	s = f->ms->sched;
	flight_unlink(s, f);
	while ((w = f->waiters) != NULL) {
		f->waiters = w->next;
		s->nwaiters--;
		free(w);
	}
	if (f->timer != NULL)
		event_free(f->timer);
	free(f->ir);
	jf_free(f->blob);
	free(f);
}

/* Answer every waiter with an error, then free the flight. */
static void
flight_fail(jf_flight_t *f, int code, const char *msg)
{
	jf_master_t *ms = f->ms;
	int status = jf_status_for(code);
	waiter_t *w;
	char esc[1024];

	lease_drop(f);
	jf_json_escape(msg, esc, sizeof(esc));
	jf_info("msg=\"compile failed\" key=%s result=%s waiters=%u detail=\"%s\"", f->hex,
	    jf_errname(code), f->nwaiters, esc);
	for (w = f->waiters; w != NULL; w = w->next)
		jf_reply_error(ms, w->req, JF_ROUTE_COMPILE, w->t0, status, code, f->hex, msg);
	flight_free(f);
	jf_master_maybe_done(ms);
}

/* Answer every waiter with the blob, then free the flight. */
static void
flight_ok(jf_flight_t *f, int hit)
{
	jf_master_t *ms = f->ms;
	waiter_t *w;

	lease_drop(f);
	for (w = f->waiters; w != NULL; w = w->next)
		jf_reply_blob(ms, w->req, JF_ROUTE_COMPILE, w->t0, f->blob, f->blob_len, f->hex,
		    hit ? "hit" : (w->joined || f->from_peer) ? "joined" : "miss");
	flight_free(f);
	jf_master_maybe_done(ms);
}

/* --- store steps ------------------------------------------------------------ */

static void
job_get(jf_store_t *s, void *arg)
{
	jf_flight_t *f = arg;

	f->sres = jf_store_get(s, &f->key, &f->blob, &f->blob_len);
	if (f->sres != 0 && f->sres != JF_ERR_NOTFOUND)
		jf_strlcpy(f->serr, jf_store_errstr(s), sizeof(f->serr));
}

static void
job_put(jf_store_t *s, void *arg)
{
	jf_flight_t *f = arg;

#ifdef JF_TEST_HOOKS
	if (f->ms->test_fail_put) {
		f->sres = JF_ERR_STORE;
		jf_strlcpy(f->serr, "put refused by test hook", sizeof(f->serr));
		return;
	}
#endif
	f->sres = jf_store_put(s, &f->key, f->blob, f->blob_len);
	if (f->sres != 0)
		jf_strlcpy(f->serr, jf_store_errstr(s), sizeof(f->serr));
}

static void start_compile(jf_flight_t *f);
static void on_put_done(void *arg);

/* --- cluster-wide lease -------------------------------------------------- */

typedef struct release {
	jf_sched_t *s;
	jf_key_t key;
} release_t;

static void
job_release(jf_store_t *unused, void *arg)
{
	release_t *rl = arg;

	pthread_mutex_lock(&rl->s->lease_mu);
	(void)jf_store_lease_release(rl->s->lease_store, &rl->key);
	pthread_mutex_unlock(&rl->s->lease_mu);
}

static void
release_done(void *arg)
{
	free(arg);
}

/* Drop the flight's lease, if it holds one (fire and forget). */
static void
lease_drop(jf_flight_t *f)
{
	release_t *rl;

	if (!f->leased || f->ms->closing || (rl = malloc(sizeof(*rl))) == NULL)
		return;
	f->leased = 0;
	rl->s = f->ms->sched;
	rl->key = f->key;
	if (jf_storeq_submit(f->ms->sq, job_release, release_done, rl) != 0)
		free(rl);
}

static void
job_lease(jf_store_t *unused, void *arg)
{
	jf_flight_t *f = arg;
	jf_sched_t *s = f->ms->sched;

	f->lease_acq = 0;
	pthread_mutex_lock(&s->lease_mu);
	f->sres = jf_store_lease(s->lease_store, &f->key, f->ms->cfg.lease_ms, &f->lease_acq);
	if (f->sres != 0)
		jf_strlcpy(f->serr, jf_store_errstr(s->lease_store), sizeof(f->serr));
	pthread_mutex_unlock(&s->lease_mu);
}

/* While another master holds the lease: has it published the entry? If
 * not, try the lease again (it lapses when its holder died). */
static void
job_peer_poll(jf_store_t *st, void *arg)
{
	jf_flight_t *f = arg;

	f->sres = jf_store_get(st, &f->key, &f->blob, &f->blob_len);
	if (f->sres == JF_ERR_NOTFOUND)
		job_lease(st, f);
	else
		f->lease_acq = 0;
}

static void on_lease_done(void *arg);

static void
peer_poll(evutil_socket_t fd, short what, void *arg)
{
	jf_flight_t *f = arg;

	event_free(f->timer);
	f->timer = NULL;
	store_submit(f, job_peer_poll, on_lease_done);
}

static void
on_lease_done(void *arg)
{
	jf_flight_t *f = arg;
	jf_master_t *ms = f->ms;
	struct timeval tv = { 0, 50000 };

	if (ms->closing) {
		flight_free(f);
		return;
	}
	if (f->state == F_PEER && f->sres == 0 && f->blob != NULL) {
		/* the lease holder published it */
		f->from_peer = 1;
		jf_info("msg=\"entry published by another master\" key=%s", f->hex);
		flight_ok(f, 0);
		return;
	}
	if (f->sres == JF_ERR_UNSUPPORTED || f->sres == JF_ERR_READONLY) {
		ms->sched->lease_unsupported = 1;
		start_compile(f);
		return;
	}
	if (f->sres != 0 && f->sres != JF_ERR_NOTFOUND) {
		/* no lease service: compiling twice beats not compiling */
		note_store_error(ms, f->sres, 'o');
		jf_warn("msg=\"lease failed; compiling without it\" key=%s detail=\"%s\"", f->hex,
		    f->serr);
		start_compile(f);
		return;
	}
	if (f->lease_acq) {
		if (f->state == F_PEER) {
			ms->m.lease_takeovers++;
			jf_warn("msg=\"lease holder never published; compiling here\" key=%s", f->hex);
		}
		f->leased = 1;
		start_compile(f);
		return;
	}
	if (f->state != F_PEER) {
		ms->m.lease_waits++;
		f->state = F_PEER;
		f->peer_deadline_ns = jf_now_ns() + (uint64_t)ms->cfg.lease_ms * 2000000ull;
		jf_info("msg=\"another master is compiling; waiting for its entry\" key=%s", f->hex);
	} else if (jf_now_ns() > f->peer_deadline_ns) {
		ms->m.lease_takeovers++;
		start_compile(f);
		return;
	}
	if ((f->timer = evtimer_new(ms->base, peer_poll, f)) == NULL ||
	    evtimer_add(f->timer, &tv) != 0)
		start_compile(f);
}

static int
store_submit(jf_flight_t *f, jf_sjob_fn fn, jf_sdone_fn done)
{
	int r;

	f->sres = JF_ERR_CLOSED;        /* what done sees if the job never runs */
	f->serr[0] = '\0';
	if ((r = jf_storeq_submit(f->ms->sq, fn, done, f)) != 0)
		flight_fail(f, r, "store queue refused the job");
	return r;
}

static void
note_store_error(jf_master_t *ms, int r, int op)
{
	if (r == 0 || r == JF_ERR_NOTFOUND) {
		ms->store_ok = 1;
		return;
	}
	if (r == JF_ERR_CLOSED)
		return;
	ms->store_ok = 0;
	if (op == 'g')
		ms->m.store_errors_get++;
	else if (op == 'p')
		ms->m.store_errors_put++;
	else
		ms->m.store_errors_other++;
}

static void
on_lookup_done(void *arg)
{
	jf_flight_t *f = arg;
	jf_master_t *ms = f->ms;
	char msg[512];

	if (ms->closing) {
		flight_free(f);
		return;
	}
	note_store_error(ms, f->sres, 'g');
	if (f->sres == 0) {
		ms->m.hits++;
		flight_ok(f, 1);
		return;
	}
	if (f->sres != JF_ERR_NOTFOUND) {
		snprintf(msg, sizeof(msg), "store lookup failed: %s", f->serr);
		flight_fail(f, JF_ERR_STORE, msg);
		return;
	}
	ms->m.misses++;
	if (ms->sched->lease_store == NULL || ms->sched->lease_unsupported) {
		start_compile(f);
		return;
	}
	f->state = F_LEASE;
	store_submit(f, job_lease, on_lease_done);
}

/* --- the pool ----------------------------------------------------------------- */

static void
hold_then_put(evutil_socket_t fd, short what, void *arg)
{
	jf_flight_t *f = arg;

	event_free(f->timer);
	f->timer = NULL;
	f->state = F_PUT;
	store_submit(f, job_put, on_put_done);
}

static void
on_compiled(jf_pool_result_t *res, void *arg)
{
	jf_flight_t *f = arg;
	jf_master_t *ms = f->ms;
	char msg[1024];
	int r;

	if (ms->closing) {
		if (res->result == 0)
			jf_artifact_free(&res->art);
		flight_free(f);
		return;
	}
	ms->m.compiles[res->result <= 0 && res->result > JF_ERR__LAST ? -res->result :
	    -JF_ERR_COMPILE]++;
	f->compile_ns = jf_now_ns() - f->t_start;
	jf_hist_add(&ms->m.compile_latency, f->compile_ns);
	if (res->result != 0) {
		snprintf(msg, sizeof(msg), "%s", res->msg != NULL && *res->msg ? res->msg :
		    jf_strerror(res->result));
		flight_fail(f, res->result, msg);
		return;
	}
	if (!jf_key_eq(&res->art.m.key, &f->key)) {
		jf_artifact_free(&res->art);
		flight_fail(f, JF_ERR_PROTO, "worker returned an artifact for another key");
		return;
	}
	/* the blob is what every waiter gets and what the store holds */
	{
		uint8_t *enc = NULL;
		size_t elen = 0;

		/* f->blob is jf_free'd, like a store get's; jf_blob_encode's is libc's */
		if ((r = jf_blob_encode(&res->art, ms->sign_key, &enc, &elen)) == 0) {
			f->blob = jf_xmalloc(elen ? elen : 1);
			memcpy(f->blob, enc, elen);
			f->blob_len = elen;
		}
		free(enc);
	}
	jf_artifact_free(&res->art);
	if (r != 0) {
		flight_fail(f, r, "cannot encode the artifact");
		return;
	}
#ifdef JF_TEST_HOOKS
	if (ms->test_hold_ms > 0) {
		struct timeval tv = { ms->test_hold_ms / 1000, (ms->test_hold_ms % 1000) * 1000 };

		f->state = F_HOLD;
		if ((f->timer = evtimer_new(ms->base, hold_then_put, f)) != NULL &&
		    evtimer_add(f->timer, &tv) == 0)
			return;
	}
#endif
	(void)hold_then_put;
	f->state = F_PUT;
	store_submit(f, job_put, on_put_done);
}

static void
start_compile(jf_flight_t *f)
{
	jf_master_t *ms = f->ms;
	jf_compile_req_t rq;
	char msg[256];
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.ir = f->ir;
	rq.ir_len = f->ir_len;
	rq.ns = f->cr.ns;
	rq.program_id = f->cr.has_program ? &f->cr.program_id : NULL;
	rq.triple = f->cr.triple;
	rq.cpu = f->cr.cpu;
	rq.features = f->cr.features;
	rq.opt = f->cr.opt;
	rq.max_ir_bytes = (size_t)ms->cfg.max_request_bytes;
	rq.producer = ms->name;
	f->state = F_COMPILE;
	f->t_start = jf_now_ns();
	r = jf_pool_submit(ms->pool, &rq, &f->key, ms->cfg.compile_timeout_s * 1000,
	    on_compiled, f);
	if (r != 0) {
		if (r == JF_ERR_QUARANTINED)
			ms->m.compiles[-JF_ERR_QUARANTINED]++;
		snprintf(msg, sizeof(msg), "%s", r == JF_ERR_QUARANTINED ?
		    "input quarantined: it crashed workers repeatedly" :
		    r == JF_ERR_BUSY ? "compile queue full" : jf_strerror(r));
		if (r == JF_ERR_BUSY)
			ms->m.rejected++;
		flight_fail(f, r, msg);
		return;
	}
	/* the IR was copied by the pool */
	free(f->ir);
	f->ir = NULL;
}

static void
on_put_done(void *arg)
{
	jf_flight_t *f = arg;
	jf_master_t *ms = f->ms;
	char msg[512];

	if (ms->closing) {
		flight_free(f);
		return;
	}
	note_store_error(ms, f->sres, 'p');
	if (f->sres != 0) {
		snprintf(msg, sizeof(msg), "compiled, but the store refused the artifact: %s (%s)",
		    f->serr[0] ? f->serr : jf_strerror(f->sres), jf_errname(f->sres));
		flight_fail(f, f->sres == JF_ERR_CLOSED ? JF_ERR_CLOSED : JF_ERR_STORE, msg);
		return;
	}
	jf_info("msg=\"published\" key=%s bytes=%zu compile_ms=%.3f waiters=%u", f->hex,
	    f->blob_len, (double)f->compile_ns / 1e6, f->nwaiters);
	flight_ok(f, 0);
}

/* --- requests ------------------------------------------------------------------ */

static int
add_waiter(jf_flight_t *f, struct evhttp_request *req, uint64_t t0, int joined)
{
	waiter_t *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return JF_ERR_NOMEM;
	w->req = req;
	w->t0 = t0;
	w->joined = joined;
	*f->tail = w;
	f->tail = &w->next;
	f->nwaiters++;
	f->ms->sched->nwaiters++;
	return 0;
}

static void
reply_accepted(jf_master_t *ms, struct evhttp_request *req, uint64_t t0, const char *hex,
    const char *state)
{
	char json[256];

	snprintf(json, sizeof(json), "{\"key\":\"%s\",\"state\":\"%s\"}\n", hex, state);
	jf_reply_json(ms, req, JF_ROUTE_COMPILE, t0, 202, hex, state, json);
}

void
jf_sched_compile(jf_master_t *ms, struct evhttp_request *req, uint64_t t0,
    const jf_creq_t *cr, const uint8_t *ir, size_t ir_len)
{
	jf_sched_t *s = ms->sched;
	jf_compile_req_t rq;
	jf_target_t target;
	jf_key_t key;
	jf_flight_t *f;
	char hex[JF_KEY_HEX_LEN + 1], err[1024] = "";
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.ir = ir;
	rq.ir_len = ir_len;
	rq.ns = cr->ns;
	rq.program_id = cr->has_program ? &cr->program_id : NULL;
	rq.triple = cr->triple;
	rq.cpu = cr->cpu;
	rq.features = cr->features;
	rq.opt = cr->opt;
	rq.max_ir_bytes = (size_t)ms->cfg.max_request_bytes;
	if ((r = jf_compile_key(&rq, &target, &key, err, sizeof(err))) != 0) {
		jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, jf_status_for(r), r, NULL,
		    err[0] ? err : jf_strerror(r));
		return;
	}
	jf_key_hex(&key, hex);
	if (ms->draining) {
		jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, 503, JF_ERR_CLOSED, hex,
		    "the master is shutting down");
		return;
	}
	if ((f = flight_find(s, &key)) != NULL) {
		/* single-flight: share the lookup and the compile in progress */
		ms->m.joins++;
		if (!cr->wait) {
			reply_accepted(ms, req, t0, hex, "joined");
			return;
		}
		if (add_waiter(f, req, t0, 1) != 0)
			jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, 503, JF_ERR_NOMEM, hex,
			    "out of memory");
		return;
	}
	if (s->nflights >= (unsigned)(ms->cfg.workers + ms->cfg.queue_limit)) {
		ms->m.rejected++;
		jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, 503, JF_ERR_BUSY, hex,
		    "compile queue full; retry later");
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL || (f->ir = malloc(ir_len)) == NULL) {
		free(f);
		jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, 503, JF_ERR_NOMEM, hex,
		    "out of memory");
		return;
	}
	f->ms = ms;
	f->key = key;
	memcpy(f->hex, hex, sizeof(hex));
	memcpy(f->ir, ir, ir_len);
	f->ir_len = ir_len;
	f->cr = *cr;
	f->tail = &f->waiters;
	f->state = F_LOOKUP;
	f->hnext = s->b[bucket(&key)];
	s->b[bucket(&key)] = f;
	s->nflights++;
	if (cr->wait) {
		if (add_waiter(f, req, t0, 0) != 0) {
			flight_free(f);
			jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, 503, JF_ERR_NOMEM, hex,
			    "out of memory");
			return;
		}
	} else {
		reply_accepted(ms, req, t0, hex, "queued");
	}
	/* the store first: a hit never reaches the pool */
	store_submit(f, job_get, on_lookup_done);
}

void
jf_sched_abandon(jf_sched_t *s)
{
	unsigned i;

	if (s == NULL)
		return;
	for (i = 0; i < NBUCKETS; i++)
		while (s->b[i] != NULL)
			flight_free(s->b[i]);
}

void
jf_sched_free(jf_sched_t *s)
{
	if (s == NULL)
		return;
	jf_sched_abandon(s);
	jf_store_close(s->lease_store);
	pthread_mutex_destroy(&s->lease_mu);
	free(s);
}
