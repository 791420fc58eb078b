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
 * (jf_sched_close) the same callbacks only free, and waiters hear
 * "abandoned". Waiters are callbacks: this file never sees HTTP.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "master/sched.h"

#define NBUCKETS 4096

typedef struct waiter {
	jf_sched_done_fn done;
	void *arg;
	int joined;                     /* 0: the request that started the flight */
	struct waiter *next;
} waiter_t;

enum fstate { F_LOOKUP, F_LEASE, F_PEER, F_COMPILE, F_HOLD, F_PUT };

typedef struct jf_flight jf_flight_t;

struct jf_flight {
	jf_sched_t *s;
	jf_key_t key;
	char hex[JF_KEY_HEX_LEN + 1];
	enum fstate state;
	uint8_t *ir;                    /* owned copy of the request body */
	size_t ir_len;
	jf_spec_t spec;
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
	jf_sched_opts_t o;
	jf_metrics_t *m;
	int draining, closing;
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
jf_sched_create(const jf_sched_opts_t *o, jf_sched_t **out)
{
	jf_sched_t *s = jf_xcalloc(1, sizeof(*s));
	jf_store_opts_t so;
	char err[256];

	s->o = *o;
	s->m = o->m;
	pthread_mutex_init(&s->lease_mu, NULL);
	memset(&so, 0, sizeof(so));
	if (jf_store_open(o->store_url, &so, &s->lease_store, err, sizeof(err)) != 0) {
		jf_warn("msg=\"no lease handle; compiles are single-flight per master only\" "
		    "detail=\"%s\"", err);
		s->lease_store = NULL;
	}
	*out = s;
	return 0;
}

unsigned
jf_sched_inflight(const jf_sched_t *s)
{
	return s != NULL ? s->nflights : 0;
}

unsigned
jf_sched_waiters(const jf_sched_t *s)
{
	return s != NULL ? s->nwaiters : 0;
}

void
jf_sched_drain(jf_sched_t *s)
{
	s->draining = 1;
}

void
jf_sched_close(jf_sched_t *s)
{
	if (s != NULL)
		s->closing = 1;
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
static int store_submit(jf_flight_t *f, jf_storeq_job_fn fn, jf_storeq_done_fn done);

/* Unlink and free a flight. Waiters not yet answered hear "abandoned". */
static void
flight_free(jf_flight_t *f)
{
	jf_sched_result_t res = { .err = JF_ERR_CLOSED, .abandoned = 1 };
	waiter_t *w;
	jf_sched_t *s;

	if (f == NULL)
		return;
	s = f->s;
	flight_unlink(s, f);
	res.key = f->hex;
	res.state = jf_errname(JF_ERR_CLOSED);
	while ((w = f->waiters) != NULL) {
		f->waiters = w->next;
		s->nwaiters--;
		w->done(&res, w->arg);
		jf_free(w);
	}
	if (f->timer != NULL)
		event_free(f->timer);
	jf_free(f->ir);
	jf_free(f->blob);       /* a store get's, or the encoder's copied */
	jf_free(f);
}

/* Tell every waiter res (on success its state is set per waiter), drop them, then free the flight and report it ended. */
static void
flight_answer(jf_flight_t *f, jf_sched_result_t *res, int hit)
{
	jf_sched_t *s = f->s;
	waiter_t *w;

	lease_drop(f);
	while ((w = f->waiters) != NULL) {
		f->waiters = w->next;
		s->nwaiters--;
		if (res->err == 0)
			res->state = hit ? "hit" : (w->joined || f->from_peer) ? "joined" : "miss";
		w->done(res, w->arg);
		jf_free(w);
	}
	flight_free(f);
	if (s->o.idle_fn != NULL)
		s->o.idle_fn(s->o.idle_arg);
}

/* Answer every waiter with an error, then free the flight. */
static void
flight_fail(jf_flight_t *f, int code, const char *msg)
{
	jf_sched_result_t res = { .err = code, .key = f->hex, .msg = msg };
	json_t *detail = json_string(msg);
	char q[1024] = "\"\"";
	size_t n;

	/* the message may hold anything a compiler said: quoted as JSON */
	n = detail != NULL ? json_dumpb(detail, q, sizeof(q) - 1, JSON_ENCODE_ANY) : 0;
	if (n > 0 && n < sizeof(q))
		q[n] = '\0';
	else
		jf_strlcpy(q, "\"(not shown)\"", sizeof(q));
	json_decref(detail);
	res.state = jf_errname(code);
	jf_info("msg=\"compile failed\" key=%s result=%s waiters=%u detail=%s", f->hex,
	    jf_errname(code), f->nwaiters, q);
	flight_answer(f, &res, 0);
}

/* Answer every waiter with the blob, then free the flight. */
static void
flight_ok(jf_flight_t *f, int hit)
{
	jf_sched_result_t res = { .key = f->hex, .blob = f->blob, .blob_len = f->blob_len };

	flight_answer(f, &res, hit);
}

/* --- store steps ------------------------------------------------------------ */

static void
job_get(jf_store_t *st, void *arg)
{
	jf_flight_t *f = arg;

	f->sres = jf_store_get(st, &f->key, &f->blob, &f->blob_len);
	if (f->sres != 0 && f->sres != JF_ERR_NOTFOUND)
		jf_strlcpy(f->serr, jf_store_errstr(st), sizeof(f->serr));
}

static void
job_put(jf_store_t *st, void *arg)
{
	jf_flight_t *f = arg;

#ifdef JF_TEST_HOOKS
	if (f->s->o.test_fail_put) {
		f->sres = JF_ERR_STORE;
		jf_strlcpy(f->serr, "put refused by test hook", sizeof(f->serr));
		return;
	}
#endif
	f->sres = jf_store_put(st, &f->key, f->blob, f->blob_len);
	if (f->sres != 0)
		jf_strlcpy(f->serr, jf_store_errstr(st), sizeof(f->serr));
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

	(void)unused;
	pthread_mutex_lock(&rl->s->lease_mu);
	(void)jf_store_lease_release(rl->s->lease_store, &rl->key);
	pthread_mutex_unlock(&rl->s->lease_mu);
}

static void
release_done(void *arg)
{
	jf_free(arg);
}

/* Drop the flight's lease, if it holds one (fire and forget). */
static void
lease_drop(jf_flight_t *f)
{
	release_t *rl;

	if (!f->leased || f->s->closing)
		return;
	f->leased = 0;
	rl = jf_xmalloc(sizeof(*rl));
	rl->s = f->s;
	rl->key = f->key;
	if (jf_storeq_submit(f->s->o.sq, job_release, release_done, rl) != 0)
		jf_free(rl);
}

static void
job_lease(jf_store_t *unused, void *arg)
{
	jf_flight_t *f = arg;
	jf_sched_t *s = f->s;

	(void)unused;
	f->lease_acq = 0;
	pthread_mutex_lock(&s->lease_mu);
	f->sres = jf_store_lease(s->lease_store, &f->key, s->o.lease_ms, &f->lease_acq);
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

	(void)fd;
	(void)what;
	event_free(f->timer);
	f->timer = NULL;
	store_submit(f, job_peer_poll, on_lease_done);
}

/* No lease in hand yet: start or keep waiting for the holder's entry, or
 * take over once it is overdue. */
static void
lease_wait(jf_flight_t *f)
{
	jf_sched_t *s = f->s;
	struct timeval tv = { 0, 50000 };

	if (f->state != F_PEER) {
		s->m->lease_waits++;
		f->state = F_PEER;
		f->peer_deadline_ns = jf_now_ns() + (uint64_t)s->o.lease_ms * 2000000ull;
		jf_info("msg=\"another master is compiling; waiting for its entry\" key=%s", f->hex);
	} else if (jf_now_ns() > f->peer_deadline_ns) {
		s->m->lease_takeovers++;
		start_compile(f);
		return;
	}
	if ((f->timer = evtimer_new(s->o.base, peer_poll, f)) == NULL ||
	    evtimer_add(f->timer, &tv) != 0)
		start_compile(f);
}

static void
on_lease_done(void *arg)
{
	jf_flight_t *f = arg;
	jf_sched_t *s = f->s;

	if (s->closing) {
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
		s->lease_unsupported = 1;
		start_compile(f);
		return;
	}
	if (f->sres != 0 && f->sres != JF_ERR_NOTFOUND) {
		/* no lease service: compiling twice beats not compiling */
		jf_metrics_store_note(s->m, f->sres, JF_MSTORE_OTHER);
		jf_warn("msg=\"lease failed; compiling without it\" key=%s detail=\"%s\"", f->hex,
		    f->serr);
		start_compile(f);
		return;
	}
	if (f->lease_acq) {
		if (f->state == F_PEER) {
			s->m->lease_takeovers++;
			jf_warn("msg=\"lease holder never published; compiling here\" key=%s", f->hex);
		}
		f->leased = 1;
		start_compile(f);
		return;
	}
	lease_wait(f);
}

static int
store_submit(jf_flight_t *f, jf_storeq_job_fn fn, jf_storeq_done_fn done)
{
	int r;

	f->sres = JF_ERR_CLOSED;        /* what done sees if the job never runs */
	f->serr[0] = '\0';
	if ((r = jf_storeq_submit(f->s->o.sq, fn, done, f)) != 0)
		flight_fail(f, r, "store queue refused the job");
	return r;
}

/* A store step of f finished: 0 when the loop is gone (f is freed then),
 * else 1 with the result counted under op. */
static int
store_step_done(jf_flight_t *f, int op)
{
	if (f->s->closing) {
		flight_free(f);
		return 0;
	}
	jf_metrics_store_note(f->s->m, f->sres, op);
	return 1;
}

static void
on_lookup_done(void *arg)
{
	jf_flight_t *f = arg;
	jf_sched_t *s = f->s;
	char msg[512];

	if (!store_step_done(f, JF_MSTORE_GET))
		return;
	if (f->sres == 0) {
		s->m->hits++;
		flight_ok(f, 1);
		return;
	}
	if (f->sres != JF_ERR_NOTFOUND) {
		snprintf(msg, sizeof(msg), "store lookup failed: %s", f->serr);
		flight_fail(f, JF_ERR_STORE, msg);
		return;
	}
	s->m->misses++;
	if (s->lease_store == NULL || s->lease_unsupported) {
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

	(void)fd;
	(void)what;
	event_free(f->timer);
	f->timer = NULL;
	f->state = F_PUT;
	store_submit(f, job_put, on_put_done);
}

/* The worker's artifact, checked and encoded into f->blob: 0 or a
 * jf_err with msg set. Consumes art. */
static int
compiled_encode(jf_flight_t *f, jf_artifact_t *art, const char **msg)
{
	uint8_t *enc = NULL;
	size_t elen = 0;
	int r;

	if (!jf_key_eq(&art->m.key, &f->key)) {
		jf_artifact_free(art);
		*msg = "worker returned an artifact for another key";
		return JF_ERR_PROTO;
	}
	/* the blob is what every waiter gets and what the store holds; it
	 * is jf_free'd like a store get's, and jf_blob_encode's is libc's */
	r = jf_blob_encode(art, f->s->o.sign_key, &enc, &elen);
	jf_artifact_free(art);
	if (r == 0) {
		f->blob = jf_xmalloc(elen ? elen : 1);
		memcpy(f->blob, enc, elen);
		f->blob_len = elen;
	}
	free(enc);
	*msg = "cannot encode the artifact";
	return r;
}

static void
on_compiled(jf_pool_result_t *res, void *arg)
{
	jf_flight_t *f = arg;
	jf_sched_t *s = f->s;
	const char *msg = NULL;
	int r;

	if (s->closing) {
		if (res->result == 0)
			jf_artifact_free(&res->art);
		flight_free(f);
		return;
	}
	s->m->compiles[res->result <= 0 && res->result > JF_ERR__LAST ? -res->result :
	    -JF_ERR_COMPILE]++;
	f->compile_ns = jf_now_ns() - f->t_start;
	jf_metrics_hist_add(&s->m->compile_latency, f->compile_ns);
	if (res->result != 0) {
		flight_fail(f, res->result, res->msg != NULL && *res->msg ? res->msg :
		    jf_strerror(res->result));
		return;
	}
	if ((r = compiled_encode(f, &res->art, &msg)) != 0) {
		flight_fail(f, r, msg);
		return;
	}
#ifdef JF_TEST_HOOKS
	if (s->o.test_hold_ms > 0) {
		struct timeval tv = { s->o.test_hold_ms / 1000, (s->o.test_hold_ms % 1000) * 1000 };

		f->state = F_HOLD;
		if ((f->timer = evtimer_new(s->o.base, hold_then_put, f)) != NULL &&
		    evtimer_add(f->timer, &tv) == 0)
			return;
	}
#endif
	(void)hold_then_put;
	f->state = F_PUT;
	store_submit(f, job_put, on_put_done);
}

/* The compiler's request for spec and ir (all borrowed). */
static void
compile_req_fill(const jf_sched_t *s, jf_compile_req_t *rq, const jf_spec_t *sp,
    const uint8_t *ir, size_t ir_len)
{
	memset(rq, 0, sizeof(*rq));
	rq->ir = ir;
	rq->ir_len = ir_len;
	rq->spec = *sp;
	rq->max_ir_bytes = (size_t)s->o.max_request_bytes;
	rq->producer = s->o.producer;
}

static void
start_compile(jf_flight_t *f)
{
	jf_sched_t *s = f->s;
	jf_compile_req_t rq;
	int r;

	compile_req_fill(s, &rq, &f->spec, f->ir, f->ir_len);
	f->state = F_COMPILE;
	f->t_start = jf_now_ns();
	r = jf_pool_submit(s->o.pool, &rq, &f->key, s->o.compile_timeout_s * 1000,
	    on_compiled, f);
	if (r != 0) {
		if (r == JF_ERR_QUARANTINED)
			s->m->compiles[-JF_ERR_QUARANTINED]++;
		if (r == JF_ERR_BUSY)
			s->m->rejected++;
		flight_fail(f, r, r == JF_ERR_QUARANTINED ?
		    "input quarantined: it crashed workers repeatedly" :
		    r == JF_ERR_BUSY ? "compile queue full" : jf_strerror(r));
		return;
	}
	/* the IR was copied by the pool */
	jf_free(f->ir);
	f->ir = NULL;
}

static void
on_put_done(void *arg)
{
	jf_flight_t *f = arg;
	char msg[512];

	if (!store_step_done(f, JF_MSTORE_PUT))
		return;
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

static void
waiter_add(jf_flight_t *f, jf_sched_done_fn done, void *arg, int joined)
{
	waiter_t *w = jf_xcalloc(1, sizeof(*w));

	w->done = done;
	w->arg = arg;
	w->joined = joined;
	*f->tail = w;
	f->tail = &w->next;
	f->nwaiters++;
	f->s->nwaiters++;
}

/* Answer one request at once: an error (key may be NULL) or, with err 0,
 * "accepted" in the given state. */
static void
answer_now(jf_sched_done_fn done, void *arg, int err, const char *key, const char *state,
    const char *msg)
{
	jf_sched_result_t res = { .err = err, .key = key, .msg = msg };

	res.accepted = err == 0;
	res.state = err == 0 ? state : jf_errname(err);
	done(&res, arg);
}

static jf_flight_t *
flight_new(jf_sched_t *s, const jf_key_t *key, const char *hex, const jf_creq_t *cr,
    const uint8_t *ir, size_t ir_len)
{
	jf_flight_t *f = jf_xcalloc(1, sizeof(*f));

	f->s = s;
	f->key = *key;
	memcpy(f->hex, hex, sizeof(f->hex));
	f->ir = jf_xmalloc(ir_len);
	memcpy(f->ir, ir, ir_len);
	f->ir_len = ir_len;
	f->spec = cr->spec;
	f->tail = &f->waiters;
	f->state = F_LOOKUP;
	f->hnext = s->b[bucket(key)];
	s->b[bucket(key)] = f;
	s->nflights++;
	return f;
}

void
jf_sched_compile(jf_sched_t *s, const jf_creq_t *cr, const uint8_t *ir, size_t ir_len,
    jf_sched_done_fn done, void *arg)
{
	jf_compile_req_t rq;
	jf_target_t target;
	jf_key_t key;
	jf_flight_t *f;
	char hex[JF_KEY_HEX_LEN + 1], err[1024] = "";
	int r;

	compile_req_fill(s, &rq, &cr->spec, ir, ir_len);
	if ((r = jf_compile_key(&rq, &target, &key, err, sizeof(err))) != 0) {
		answer_now(done, arg, r, NULL, NULL, err[0] ? err : jf_strerror(r));
		return;
	}
	jf_key_hex(&key, hex);
	if (s->draining) {
		answer_now(done, arg, JF_ERR_CLOSED, hex, NULL, "the master is shutting down");
		return;
	}
	if ((f = flight_find(s, &key)) != NULL) {
		/* single-flight: share the lookup and the compile in progress */
		s->m->joins++;
		if (!cr->wait)
			answer_now(done, arg, 0, hex, "joined", NULL);
		else
			waiter_add(f, done, arg, 1);
		return;
	}
	if (s->nflights >= (unsigned)(s->o.workers + s->o.queue_limit)) {
		s->m->rejected++;
		answer_now(done, arg, JF_ERR_BUSY, hex, NULL, "compile queue full; retry later");
		return;
	}
	f = flight_new(s, &key, hex, cr, ir, ir_len);
	if (cr->wait)
		waiter_add(f, done, arg, 0);
	else
		answer_now(done, arg, 0, hex, "queued", NULL);
	/* the store first: a hit never reaches the pool */
	store_submit(f, job_get, on_lookup_done);
}

void
jf_sched_free(jf_sched_t *s)
{
	unsigned i;

	if (s == NULL)
		return;
	s->closing = 1;
	for (i = 0; i < NBUCKETS; i++)
		while (s->b[i] != NULL)
			flight_free(s->b[i]);
	jf_store_close(s->lease_store);
	pthread_mutex_destroy(&s->lease_mu);
	jf_free(s);
}
