/*
 * storeq.c - a small thread pool that runs blocking store operations off
 * the event loop and hands their results back to it.
 *
 * Why threads: the store backends are blocking (hiredis and libcurl sync
 * APIs, fsync on the file store), and one slow Redis or S3 call on the
 * loop thread would stall every connection, including cache hits that
 * need a few hundred microseconds. Bounding each call with a short
 * timeout is not enough, because a healthy S3 PUT of a large object can
 * legitimately take longer than a hit should ever wait. So each of N
 * threads opens its own store handle (a jf_store_t is single-threaded),
 * takes jobs from one FIFO, runs them, and queues a completion; an
 * eventfd wakes the loop, which runs the completions in order. The cost
 * is two thread hand-offs per store call (tens of microseconds), which
 * leaves a hit well under a millisecond.
 *
 * jf_storeq_post() uses the same completion path for other threads (the
 * events watcher) that need to hand something to the loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "jitfarm/error.h"
#include "common/log.h"
#include "common/util.h"
#include "common/mem.h"
#include "master/storeq.h"

typedef struct sjob {
	jf_storeq_job_fn fn;                  /* NULL for a posted completion */
	jf_storeq_done_fn done;
	void *arg;
	struct sjob *next;
} sjob_t;

typedef struct squeue {
	sjob_t *head, *tail;
	unsigned n;
} squeue_t;

struct jf_storeq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	squeue_t jobs;                  /* waiting for a store thread */
	squeue_t done;                  /* waiting for the loop */
	int stop;
	int efd;
	struct event *ev;
	pthread_t *threads;
	jf_store_t **stores;            /* one per thread */
	int nthreads, nstarted;
};

typedef struct tharg {
	jf_storeq_t *q;
	int i;
} tharg_t;

static void
sq_push(squeue_t *sq, sjob_t *j)
{
	j->next = NULL;
	if (sq->tail != NULL)
		sq->tail->next = j;
	else
		sq->head = j;
	sq->tail = j;
	sq->n++;
}

static sjob_t *
sq_pop(squeue_t *sq)
{
	sjob_t *j = sq->head;

	if (j != NULL) {
		sq->head = j->next;
		if (sq->head == NULL)
			sq->tail = NULL;
		sq->n--;
	}
	return j;
}

static void
wake(jf_storeq_t *q)
{
	uint64_t one = 1;
	ssize_t w;

	do
		w = write(q->efd, &one, sizeof(one));
	while (w < 0 && errno == EINTR);
}

static void *
store_thread(void *p)
{
	tharg_t *ta = p;
	jf_storeq_t *q = ta->q;
	jf_store_t *s = q->stores[ta->i];
	sjob_t *j;

	jf_free(ta);
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->stop && q->jobs.head == NULL)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop)
			break;
		j = sq_pop(&q->jobs);
		pthread_mutex_unlock(&q->mu);
		j->fn(s, j->arg);
		pthread_mutex_lock(&q->mu);
		sq_push(&q->done, j);
		if (q->done.n == 1)
			wake(q);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* The loop side: run every completion that is waiting. */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	jf_storeq_t *q = arg;
	squeue_t batch;
	uint64_t v;
	sjob_t *j;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		jf_warn("msg=\"storeq eventfd read\" errno=%d", errno);
	pthread_mutex_lock(&q->mu);
	batch = q->done;
	memset(&q->done, 0, sizeof(q->done));
	pthread_mutex_unlock(&q->mu);
	while ((j = sq_pop(&batch)) != NULL) {
		j->done(j->arg);
		jf_free(j);
	}
}

int
jf_storeq_create(struct event_base *base, const char *url, const jf_store_opts_t *o,
    int nthreads, jf_storeq_t **out, char *err, size_t errlen)
{
	jf_storeq_t *q;
	int r = JF_ERR_NOMEM, i;

	*out = NULL;
	q = jf_xcalloc(1, sizeof(*q));
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->efd = -1;
	q->nthreads = nthreads > 0 ? nthreads : 1;
	q->threads = jf_xcalloc((size_t)q->nthreads, sizeof(*q->threads));
	q->stores = jf_xcalloc((size_t)q->nthreads, sizeof(*q->stores));
	for (i = 0; i < q->nthreads; i++)
		if ((r = jf_store_open(url, o, &q->stores[i], err, errlen)) != 0)
			goto out;
	if ((q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		r = jf_seterr(err, errlen, JF_ERR_SYSTEM, "eventfd: %s", strerror(errno));
		goto out;
	}
	if ((q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, on_done, q)) == NULL ||
	    event_add(q->ev, NULL) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_SYSTEM, "cannot watch the store eventfd");
		goto out;
	}
	for (i = 0; i < q->nthreads; i++) {
		tharg_t *ta = jf_xmalloc(sizeof(*ta));

		ta->q = q;
		ta->i = i;
		if ((errno = pthread_create(&q->threads[i], NULL, store_thread, ta)) != 0) {
			jf_free(ta);
			r = jf_seterr(err, errlen, JF_ERR_SYSTEM, "pthread_create: %s",
			    strerror(errno));
			goto out;
		}
		q->nstarted++;
	}
	*out = q;
	q = NULL;
	r = 0;
out:
	jf_storeq_destroy(q);
	return r;
}

static int
submit(jf_storeq_t *q, jf_storeq_job_fn fn, jf_storeq_done_fn done, void *arg)
{
	sjob_t *j;
	int r = 0;

	j = jf_xcalloc(1, sizeof(*j));
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->mu);
	if (q->stop) {
		r = JF_ERR_CLOSED;
	} else if (fn != NULL) {
		sq_push(&q->jobs, j);
		pthread_cond_signal(&q->cv);
	} else {
		sq_push(&q->done, j);
		if (q->done.n == 1)
			wake(q);
	}
	pthread_mutex_unlock(&q->mu);
	if (r != 0)
		jf_free(j);
	return r;
}

int
jf_storeq_submit(jf_storeq_t *q, jf_storeq_job_fn fn, jf_storeq_done_fn done, void *arg)
{
	return submit(q, fn, done, arg);
}

int
jf_storeq_post(jf_storeq_t *q, jf_storeq_done_fn done, void *arg)
{
	return submit(q, NULL, done, arg);
}

unsigned
jf_storeq_pending(jf_storeq_t *q)
{
	unsigned n;

	pthread_mutex_lock(&q->mu);
	n = q->jobs.n;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void
jf_storeq_destroy(jf_storeq_t *q)
{
	sjob_t *j;
	int i;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (i = 0; i < q->nstarted; i++)
		pthread_join(q->threads[i], NULL);
	/* what never ran or never reached the loop: let owners free */
	while ((j = sq_pop(&q->done)) != NULL) {
		j->done(j->arg);
		jf_free(j);
	}
	while ((j = sq_pop(&q->jobs)) != NULL) {
		j->done(j->arg);
		jf_free(j);
	}
	if (q->ev != NULL)
		event_free(q->ev);
	if (q->efd >= 0)
		close(q->efd);
	for (i = 0; q->stores != NULL && i < q->nthreads; i++)
		jf_store_close(q->stores[i]);
	jf_free(q->stores);
	jf_free(q->threads);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	jf_free(q);
}
