/*
 * pool.c - the pool of sandboxed compile workers: its API (pool.h).
 *
 * The pool is five files, one job each, none of which calls back into
 * this one:
 *   pool.c        create, destroy, submit, dispatch, the synchronous
 *                 compile, stats;
 *   queue.c       the request queue and completions;
 *   supervisor.c  the thread that owns the workers: upkeep and one poll
 *                 loop;
 *   child.c       a worker's life and the failure policy when it ends;
 *   zyclient.c    the zygote: start, spawn, relay, restart;
 * with quarantine.c, the negative cache, beside them. Their shared state
 * is in pool_internal.h. Callers only queue requests and collect
 * completions: asynchronous completions wait on a list until the caller's
 * thread runs jf_pool_dispatch() (jf_pool_fd() becomes readable),
 * synchronous ones wake their waiter directly.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "worker/child.h"
#include "worker/pool.h"
#include "worker/pool_internal.h"
#include "worker/proto.h"
#include "worker/queue.h"
#include "worker/supervisor.h"
#include "worker/zyclient.h"

static pthread_mutex_t llvm_mu = PTHREAD_MUTEX_INITIALIZER;
static int llvm_ready;

static int
single_threaded(void)
{
	char *buf = NULL;
	size_t len = 0;
	const char *s;
	int n = -1;

	if (jf_file_read("/proc/self/status", 1 << 16, (uint8_t **)&buf, &len) != 0)
		return 0;
	if ((s = strstr(buf, "\nThreads:")) != NULL)
		n = atoi(s + 9);
	free(buf);
	return n == 1;
}

/* The options with every default filled in. */
static void
opts_resolve(jf_pool_opts_t *o)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (o->workers <= 0)
		o->workers = ncpu > 0 ? (int)ncpu : 1;
	if (o->spares <= 0)
		o->spares = 1;
	if (o->max_jobs <= 0)
		o->max_jobs = 64;
	if (o->rss_limit == 0)
		o->rss_limit = (size_t)1 << 30;
	if (o->mem_limit == 0)
		o->mem_limit = (size_t)4 << 30;
	if (o->cpu_limit_s <= 0)
		o->cpu_limit_s = 600;
	if (o->timeout_ms <= 0)
		o->timeout_ms = 120000;
	if (o->quarantine_ttl_s <= 0)
		o->quarantine_ttl_s = 600;
	if (o->queue_limit <= 0)
		o->queue_limit = 256;
}

int
jf_pool_create(const jf_pool_opts_t *opts, jf_pool_t **out, char *err, size_t errlen)
{
	jf_pool_t *p = NULL;
	const char *dbg;
	int r = JF_ERR_NOMEM;

	*out = NULL;
	if ((p = jf_calloc(1, sizeof(*p))) == NULL) {
		jf_seterr(err, errlen, r, "out of memory");
		goto out;
	}
	p->zfd = p->zpidfd = p->wake_fd = p->done_fd = -1;
	if (opts != NULL)
		p->o = *opts;
	opts_resolve(&p->o);
	p->quar.ttl_s = p->o.quarantine_ttl_s;
	jf_strlcpy(p->self_exe, p->o.self_exe ? p->o.self_exe : "/proc/self/exe",
	    sizeof(p->self_exe));
	p->o.self_exe = NULL;   /* not kept: the caller owns that string */
	dbg = getenv("JITFARM_SANDBOX_DEBUG");
	p->sandbox_debug = dbg != NULL && *dbg != '\0' && strcmp(dbg, "0") != 0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->pcap = jf_supervisor_pollcap(&p->o);
	if ((p->pfd = jf_calloc(p->pcap, sizeof(*p->pfd))) == NULL ||
	    (p->pw = jf_calloc(p->pcap, sizeof(*p->pw))) == NULL) {
		jf_seterr(err, errlen, r, "out of memory");
		goto out;
	}
	/* the zygote first, before this function makes any thread or fd */
	if ((r = jf_zyclient_start(p, single_threaded(), err, errlen)) != 0)
		goto out;
	if ((r = jf_zyclient_hello_wait(p, err, errlen)) != 0)
		goto out;
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->wake_fd < 0 || p->done_fd < 0) {
		r = jf_seterr(err, errlen, JF_ERR_SYSTEM, "eventfd: %s", strerror(errno));
		goto out;
	}
	if (pthread_create(&p->thr, NULL, jf_supervisor_run, p) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_SYSTEM, "cannot start the pool thread");
		goto out;
	}
	p->thr_started = 1;
	*out = p;               /* the caller owns the pool */
	p = NULL;
	r = 0;
out:
	jf_pool_destroy(p);
	return r;
}

/* Kill every worker and the zygote; every request still held completes
 * with JF_ERR_CLOSED. The supervisor must be gone. */
static void
pool_close(jf_pool_t *p)
{
	jf_pool_req_t *pending = NULL, *r;
	jf_child_t *w;

	pthread_mutex_lock(&p->mu);
	while ((w = p->workers) != NULL) {
		jf_child_kill(w->pidfd);
		if (w->req != NULL) {
			w->req->next = pending;
			pending = w->req;
			w->req = NULL;
		}
		jf_child_remove(p, w);
	}
	jf_zyclient_reap(p);
	while ((r = jf_queue_pop(p)) != NULL) {
		r->next = pending;
		pending = r;
	}
	while ((r = pending) != NULL) {
		pending = r->next;
		jf_queue_complete(p, r, JF_ERR_CLOSED, "pool shut down", NULL);
	}
	pthread_mutex_unlock(&p->mu);
}

void
jf_pool_destroy(jf_pool_t *p)
{
	if (p == NULL)
		return;
	if (p->thr_started) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_mutex_unlock(&p->mu);
		jf_queue_wake(p->wake_fd);
		pthread_join(p->thr, NULL);
	}
	/* the supervisor is gone: nothing else touches the workers now */
	pool_close(p);
	jf_pool_dispatch(p);
	jf_quarantine_clear(&p->quar);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	if (p->done_fd >= 0)
		close(p->done_fd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	jf_free(p->pfd);
	jf_free(p->pw);
	jf_free(p);
}

/* The quarantine key: the artifact key when it can be derived here,
 * else a hash of everything the worker would see. */
static void
request_key(const jf_compile_req_t *req, const jf_key_t *key, jf_key_t *out)
{
	jf_target_t t;
	char e[256];
	uint8_t *enc = NULL;
	size_t len = 0;

	if (key != NULL) {
		*out = *key;
		return;
	}
	pthread_mutex_lock(&llvm_mu);
	if (!llvm_ready)
		llvm_ready = jf_llvm_init() == 0;
	pthread_mutex_unlock(&llvm_mu);
	if (llvm_ready && jf_compile_key(req, &t, out, e, sizeof(e)) == 0)
		return;
	if (jf_proto_req_encode(req, &enc, &len) == 0)
		jf_sha256(enc, len, out->b);
	else
		jf_sha256(req->ir, req->ir_len, out->b);
	jf_free(enc);
}

static int
submit(jf_pool_t *p, const jf_compile_req_t *req, const jf_key_t *key, int timeout_ms,
    jf_pool_done_fn fn, void *arg, int sync, jf_pool_req_t **rp, char *qmsg, size_t qlen)
{
	jf_pool_req_t *r = NULL;
	jf_quarantine_entry_t *q;
	int rc;

	if (p == NULL || req == NULL || (req->ir == NULL && req->ir_len > 0) ||
	    (!sync && fn == NULL))
		return JF_ERR_INVAL;
	if ((r = jf_calloc(1, sizeof(*r))) == NULL)
		return JF_ERR_NOMEM;
	if ((rc = jf_proto_req_encode(req, &r->enc, &r->enclen)) != 0)
		goto fail;
	if (r->enclen > JF_PROTO_MAX_PAYLOAD) {
		rc = JF_ERR_TOOBIG;
		goto fail;
	}
	request_key(req, key, &r->key);
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : p->o.timeout_ms;
	r->fn = fn;
	r->arg = arg;
	r->sync = sync;
	r->submit_ns = jf_now_ns();
	pthread_mutex_lock(&p->mu);
	if (p->stop) {
		rc = JF_ERR_CLOSED;
	} else if ((q = jf_quarantine_find(&p->quar, &r->key, r->submit_ns)) != NULL && q->quarantined) {
		rc = JF_ERR_QUARANTINED;
		p->st.quarantined++;
		if (qmsg != NULL)
			snprintf(qmsg, qlen, "input quarantined after repeated failures: %s", q->msg);
	} else if (p->nqueued >= (unsigned)p->o.queue_limit) {
		rc = JF_ERR_BUSY;
	} else {
		r->id = ++p->next_id;
		jf_queue_push(p, r, 0);       /* the pool now owns r */
		p->st.submitted++;
		if (rp != NULL)
			*rp = r;
		r = NULL;
		rc = 0;
	}
	pthread_mutex_unlock(&p->mu);
	if (rc == 0)
		jf_queue_wake(p->wake_fd);
fail:
	jf_queue_req_free(r);
	return rc;
}

int
jf_pool_submit(jf_pool_t *p, const jf_compile_req_t *req, const jf_key_t *key,
    int timeout_ms, jf_pool_done_fn fn, void *arg)
{
	return submit(p, req, key, timeout_ms, fn, arg, 0, NULL, NULL, 0);
}

int
jf_pool_fd(jf_pool_t *p)
{
	return p ? p->done_fd : -1;
}

int
jf_pool_dispatch(jf_pool_t *p)
{
	jf_pool_req_t *list, *r;
	uint64_t v;
	int n = 0;

	if (p == NULL)
		return 0;
	if (read(p->done_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled; the list may still hold work */
	}
	pthread_mutex_lock(&p->mu);
	list = p->dhead;
	p->dhead = p->dtail = NULL;
	pthread_mutex_unlock(&p->mu);
	while ((r = list) != NULL) {
		list = r->next;
		r->fn(&r->res, r->arg);         /* the callback owns res.art now */
		memset(&r->res.art, 0, sizeof(r->res.art));
		jf_queue_req_free(r);
		n++;
	}
	return n;
}

int
jf_pool_compile(jf_pool_t *p, const jf_compile_req_t *req, int timeout_ms,
    jf_artifact_t *out, char *err, size_t errlen)
{
	jf_pool_req_t *r = NULL;
	int rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	rc = submit(p, req, NULL, timeout_ms, NULL, NULL, 1, &r, err, errlen);
	if (rc != 0) {
		if (err != NULL && errlen > 0 && err[0] == '\0')
			jf_seterr(err, errlen, rc, "%s", jf_strerror(rc));
		return rc;
	}
	pthread_mutex_lock(&p->mu);
	while (!r->done)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	rc = r->res.result;
	if (rc != 0)
		jf_seterr(err, errlen, rc, "%s", r->res.msg);
	else if (out != NULL) {
		*out = r->res.art;      /* the caller now owns the artifact */
		memset(&r->res.art, 0, sizeof(r->res.art));
	}
	jf_queue_req_free(r);
	return rc;
}

int
jf_pool_ready(jf_pool_t *p)
{
	return jf_pool_zygote_pid(p) > 0;       /* its pid is known once it said hello */
}

void
jf_pool_get_stats(jf_pool_t *p, jf_pool_stats_t *st)
{
	jf_child_t *w;

	memset(st, 0, sizeof(*st));
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	*st = p->st;
	st->queued = p->nqueued;
	for (w = p->workers; w != NULL; w = w->next) {
		if (w->state == JF_CHILD_IDLE)
			st->idle++;
		else if (w->req != NULL)
			st->busy++;
	}
	pthread_mutex_unlock(&p->mu);
}

int
jf_pool_quarantined(jf_pool_t *p, const jf_key_t *key, char *msg, size_t msglen)
{
	jf_quarantine_entry_t *q;
	int r = 0;

	if (p == NULL || key == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	q = jf_quarantine_find(&p->quar, key, jf_now_ns());
	if (q != NULL && q->quarantined) {
		r = 1;
		if (msg != NULL && msglen > 0)
			jf_strlcpy(msg, q->msg, msglen);
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

pid_t
jf_pool_zygote_pid(jf_pool_t *p)
{
	pid_t pid;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	pid = p->zready ? p->zpid : 0;
	pthread_mutex_unlock(&p->mu);
	return pid;
}
