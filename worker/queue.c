/*
 * queue.c - the pool's request queue and its completions (queue.h).
 *
 * A request waits on the queue (FIFO; a retry goes to the front) until the
 * supervisor hands it to an idle worker, and ends in jf_queue_complete:
 * a synchronous caller is woken on the pool's condition variable, an
 * asynchronous one finds it on the done list when jf_pool_fd() becomes
 * readable and calls jf_pool_dispatch().
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "common/util.h"
#include "worker/queue.h"

void
jf_queue_wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* the counter is saturated or the fd is gone: either way a
		 * wake-up is already pending or nobody listens */
	}
}

void
jf_queue_req_free(jf_pool_req_t *r)
{
	if (r == NULL)
		return;
	jf_free(r->enc);
	jf_free(r->msg);
	jf_artifact_free(&r->res.art);
	jf_free(r);
}

void
jf_queue_complete(jf_pool_t *p, jf_pool_req_t *r, int code, const char *msg,
    jf_artifact_t *art)
{
	uint64_t now = jf_now_ns();

	r->res.result = code;
	jf_free(r->msg);
	/* without memory for the message the code still says what happened */
	r->msg = jf_strdup(code == 0 ? "" : (msg && *msg ? msg : jf_strerror(code)));
	r->res.msg = r->msg ? r->msg : code == 0 ? "" : jf_strerror(code);
	if (art != NULL) {
		r->res.art = *art;      /* the result now owns the artifact */
		memset(art, 0, sizeof(*art));
	}
	r->res.queue_ns = r->start_ns ? r->start_ns - r->submit_ns : now - r->submit_ns;
	r->res.run_ns = r->start_ns ? now - r->start_ns : 0;
	if (code == 0)
		p->st.ok++;
	else
		p->st.failed++;
	r->done = 1;
	if (r->sync) {
		pthread_cond_broadcast(&p->cv);
		return;
	}
	r->next = NULL;
	if (p->dtail)
		p->dtail->next = r;
	else
		p->dhead = r;
	p->dtail = r;
	jf_queue_wake(p->done_fd);
}

void
jf_queue_push(jf_pool_t *p, jf_pool_req_t *r, int front)
{
	r->next = NULL;
	if (front) {
		r->next = p->qhead;
		p->qhead = r;
		if (p->qtail == NULL)
			p->qtail = r;
	} else {
		if (p->qtail)
			p->qtail->next = r;
		else
			p->qhead = r;
		p->qtail = r;
	}
	p->nqueued++;
}

jf_pool_req_t *
jf_queue_pop(jf_pool_t *p)
{
	jf_pool_req_t *r = p->qhead;

	if (r == NULL)
		return NULL;
	p->qhead = r->next;
	if (p->qhead == NULL)
		p->qtail = NULL;
	p->nqueued--;
	r->next = NULL;
	return r;
}

void
jf_queue_expire(jf_pool_t *p, uint64_t now, uint64_t *next_ns)
{
	jf_pool_req_t **pp = &p->qhead, *prev = NULL;

	while (*pp != NULL) {
		jf_pool_req_t *r = *pp;
		uint64_t dl = r->submit_ns + (uint64_t)r->timeout_ms * 1000000ull;
		char msg[128];

		if (now < dl) {
			*next_ns = JF_MIN(*next_ns, dl);
			prev = r;
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		if (p->qtail == r)
			p->qtail = prev;
		p->nqueued--;
		p->st.timeouts++;
		snprintf(msg, sizeof(msg), "timeout after %d ms waiting for a worker",
		    r->timeout_ms);
		jf_queue_complete(p, r, JF_ERR_TIMEOUT, msg, NULL);
	}
}
