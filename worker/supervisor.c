/*
 * supervisor.c - the one thread that owns everything touching a worker
 * (supervisor.h).
 *
 * Each round it keeps the zygote alive, enforces deadlines (killing
 * through the pidfd), hands queued requests to idle workers, keeps spare
 * workers ready, then sleeps in one poll() over the wake eventfd, the
 * zygote's socket and pidfd, and every worker's channel. All shared state
 * is under the pool's mutex, which it drops only while it sleeps. It
 * allocates nothing: the poll set was sized at jf_pool_create for the
 * most channels the pool ever has open, so memory pressure can fail a
 * request but never stop the supervisor.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "worker/child.h"
#include "worker/queue.h"
#include "worker/supervisor.h"
#include "worker/zyclient.h"

size_t
jf_supervisor_pollcap(const jf_pool_opts_t *o)
{
	/* the wake fd, the zygote's socket and pidfd; live channels are at
	 * most workers + spares (a retiring worker's channel is closed);
	 * twice that leaves room to spare */
	return 3 + 2 * ((size_t)o->workers + (size_t)o->spares);
}

/* A zygote that is missing or never said hello: start one when its
 * back-off has passed. */
static void
zygote_keep(jf_pool_t *p, uint64_t now, uint64_t *next)
{
	char err[256];

	if (p->zpid <= 0) {
		if (now >= p->zrestart_at) {
			if (jf_zyclient_start(p, 0, err, sizeof(err)) == 0) {
				p->st.zygote_restarts++;
			} else {
				jf_warn("pool: %s", err);
				p->zdeaths++;
				p->zrestart_at = now + 1000000000ull;
			}
		}
		if (p->zrestart_at > now)
			*next = JF_MIN(*next, p->zrestart_at);
	} else if (!p->zready) {
		uint64_t limit = p->zstart_ns + JF_POOL_HELLO_MS * 1000000ull;

		if (now >= limit)
			jf_zyclient_lost(p);    /* it never said hello */
		else
			*next = JF_MIN(*next, limit);
	}
}

/* Kill the workers past their deadline; count idle and busy ones. */
static void
deadlines_enforce(jf_pool_t *p, uint64_t now, uint64_t *next, unsigned *idle,
    unsigned *busy)
{
	jf_child_t *w;

	*idle = *busy = 0;
	for (w = p->workers; w != NULL; w = w->next) {
		if (w->state == JF_CHILD_IDLE)
			(*idle)++;
		else if (w->req != NULL)
			(*busy)++;
		if (w->req != NULL && !w->timed_out) {
			if (now >= w->deadline_ns) {
				w->timed_out = 1;
				jf_child_kill(w->pidfd);
			} else {
				*next = JF_MIN(*next, w->deadline_ns);
			}
		}
	}
}

/* Hand queued requests to idle workers, then ask the zygote for enough
 * workers for the queue plus the spares. */
static void
workers_feed(jf_pool_t *p, uint64_t now, uint64_t *next, unsigned idle, unsigned busy)
{
	unsigned want;
	jf_child_t *w;

	for (w = p->workers; w != NULL && p->qhead != NULL && busy < (unsigned)p->o.workers;
	    w = w->next) {
		if (w->state != JF_CHILD_IDLE)
			continue;
		jf_child_start(p, w, jf_queue_pop(p));
		idle--;
		busy++;
	}
	want = (unsigned)p->o.spares;
	if (busy < (unsigned)p->o.workers)
		want += JF_MIN(p->nqueued, (unsigned)p->o.workers - busy);
	if (p->zready && now < p->spawn_hold_until)
		*next = JF_MIN(*next, p->spawn_hold_until);
	while (p->zready && now >= p->spawn_hold_until && idle + p->spawning < want &&
	    idle + busy + p->spawning < (unsigned)(p->o.workers + p->o.spares)) {
		if (jf_zyclient_spawn(p) < 0)
			break;
	}
}

/* One round of upkeep. Returns the poll timeout in ms. */
static int
maintain(jf_pool_t *p)
{
	uint64_t now = jf_now_ns(), next = now + 1000000000ull;
	unsigned idle, busy;

	zygote_keep(p, now, &next);
	deadlines_enforce(p, now, &next, &idle, &busy);
	jf_queue_expire(p, now, &next);
	workers_feed(p, now, &next, idle, busy);
	return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

static void
pollset_add(jf_pool_t *p, size_t *n, int fd, short events, jf_child_t *w)
{
	p->pfd[*n].fd = fd;
	p->pfd[*n].events = events;
	p->pfd[*n].revents = 0;
	p->pw[(*n)++] = w;
}

/* Fill the poll set: the wake fd at 0, the zygote's socket and pidfd at
 * *zi and *zi + 1 (or *zi = -1), then the workers' channels. A channel
 * beyond the set's size (which the spawn limit rules out) waits a round. */
static size_t
pollset_build(jf_pool_t *p, int *zi)
{
	size_t n = 0;
	jf_child_t *w;

	pollset_add(p, &n, p->wake_fd, POLLIN, NULL);
	*zi = -1;
	if (p->zfd >= 0) {
		*zi = (int)n;
		pollset_add(p, &n, p->zfd, POLLIN, NULL);
		pollset_add(p, &n, p->zpidfd, POLLIN, NULL);
	}
	for (w = p->workers; w != NULL && n < p->pcap; w = w->next)
		if (w->fd >= 0)
			pollset_add(p, &n, w->fd, POLLIN | (w->writing ? POLLOUT : 0), w);
	return n;
}

/* Act on what poll() saw. */
static void
pollset_handle(jf_pool_t *p, size_t n, int zi)
{
	struct pollfd *pfd = p->pfd;
	uint64_t v;
	size_t i;

	if ((pfd[0].revents & POLLIN) && read(p->wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a concurrent drain got it */
	}
	/* workers first: a worker's last frames precede its exit status */
	for (i = 0; i < n; i++) {
		jf_child_t *w = p->pw[i];

		if (w == NULL || pfd[i].revents == 0 || w->fd != pfd[i].fd)
			continue;
		if ((pfd[i].revents & POLLOUT) && w->writing)
			jf_child_write(p, w);
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			jf_child_read(p, w);
	}
	if (zi >= 0 && p->zfd >= 0 &&
	    ((pfd[zi].revents & (POLLIN | POLLHUP | POLLERR)) || (pfd[zi + 1].revents & POLLIN))) {
		if (jf_zyclient_read(p) < 0 || (pfd[zi + 1].revents & POLLIN))
			jf_zyclient_lost(p);
	}
}

void *
jf_supervisor_run(void *arg)
{
	jf_pool_t *p = arg;
	sigset_t all;

	/* signals are the caller's business, never this thread's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		int timeout = maintain(p), zi;
		size_t n = pollset_build(p, &zi);

		pthread_mutex_unlock(&p->mu);
		if (poll(p->pfd, n, timeout) < 0 && errno != EINTR)
			usleep(1000);
		pthread_mutex_lock(&p->mu);
		pollset_handle(p, n, zi);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}
