/*
 * child.c - a worker process as the pool sees it (child.h).
 *
 * The supervisor streams a request to a worker and reads its answer with
 * non-blocking frames. A worker's end is explained by what it said before
 * it died (an LLVM fatal error, an allocation failure, a denied call in
 * debug mode) or by its wait status as the zygote relays it. A request
 * whose worker crashed runs once more on a fresh worker; every crash,
 * fatal error, OOM or timeout is a strike against the input's key
 * (quarantine.c). A worker that has failed, done its N jobs or grown past
 * the RSS limit is retired by closing its channel, and repeated failures
 * to bring one up back off exponentially instead of spinning.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "worker/child.h"
#include "worker/queue.h"
#include "worker/quarantine.h"
#include "worker/worker.h"

static const char *
signame(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGABRT: return "SIGABRT";
	case SIGBUS: return "SIGBUS";
	case SIGILL: return "SIGILL";
	case SIGFPE: return "SIGFPE";
	case SIGKILL: return "SIGKILL";
	case SIGSYS: return "SIGSYS";
	case SIGXCPU: return "SIGXCPU";
	case SIGXFSZ: return "SIGXFSZ";
	case SIGTERM: return "SIGTERM";
	case SIGPIPE: return "SIGPIPE";
	case SIGTRAP: return "SIGTRAP";
	default: return "signal";
	}
}

int
jf_child_kill(int pidfd)
{
	if (pidfd < 0)
		return -1;
	return (int)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

int
jf_child_add(jf_pool_t *p, pid_t pid, int fd, int pidfd)
{
	jf_child_t *c = jf_calloc(1, sizeof(*c));

	if (c == NULL) {
		jf_child_kill(pidfd);
		close(fd);
		close(pidfd);
		return JF_ERR_NOMEM;
	}
	c->pid = pid;
	c->fd = fd;                     /* the worker now owns both fds */
	c->pidfd = pidfd;
	c->state = JF_CHILD_IDLE;
	c->gen = p->zgen;
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	jf_frame_rd_init(&c->rd, JF_PROTO_MAX_PAYLOAD);
	c->next = p->workers;
	p->workers = c;
	p->st.spawned++;
	return 0;
}

static void
channel_close(jf_child_t *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	jf_frame_rd_reset(&w->rd);
	jf_frame_wr_free(&w->wr);
	w->writing = 0;
}

void
jf_child_remove(jf_pool_t *p, jf_child_t *w)
{
	jf_child_t **pp;

	for (pp = &p->workers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	channel_close(w);
	if (w->pidfd >= 0)
		close(w->pidfd);
	jf_free(w);
}

static void
child_retire(jf_pool_t *p, jf_child_t *w)
{
	channel_close(w);        /* EOF tells the worker to _exit */
	w->state = JF_CHILD_RETIRING;
	p->st.retired++;
}

void
jf_child_backoff(jf_pool_t *p)
{
	p->bad_streak++;
	if (p->bad_streak >= 3) {
		uint64_t ms = 10ull << JF_MIN(p->bad_streak - 3, 8);

		if (ms > 2000)
			ms = 2000;
		p->spawn_hold_until = jf_now_ns() + ms * 1000000ull;
		jf_warn("pool: %d worker failures in a row; spawning paused %llu ms",
		    p->bad_streak, (unsigned long long)ms);
	}
}

/* A RESULT for the worker's request arrived. */
static void
result_take(jf_pool_t *p, jf_child_t *w, const jf_frame_hdr_t *h, uint8_t *payload)
{
	jf_pool_req_t *r = w->req;
	jf_artifact_t art;
	char err[256];
	uint64_t rss = 0;
	int retire = 0, rc;

	w->req = NULL;
	w->jobs++;
	if (h->status != 0) {
		jf_queue_complete(p, r, h->status, payload ? (const char *)payload : "", NULL);
		retire = 1;     /* any error retires the worker */
	} else if (h->len < JF_RESULT_PREFIX_LEN) {
		jf_queue_complete(p, r, JF_ERR_PROTO, "short result from worker", NULL);
		retire = 1;
	} else {
		r->res.times.parse_ns = jf_get_u64(payload);
		r->res.times.verify_ns = jf_get_u64(payload + 8);
		r->res.times.opt_ns = jf_get_u64(payload + 16);
		r->res.times.codegen_ns = jf_get_u64(payload + 24);
		r->res.times.total_ns = jf_get_u64(payload + 32);
		rss = jf_get_u64(payload + 40);
		rc = jf_blob_decode(payload + JF_RESULT_PREFIX_LEN, h->len - JF_RESULT_PREFIX_LEN,
		    NULL, &art, err, sizeof(err));
		if (rc == 0) {
			jf_queue_complete(p, r, 0, NULL, &art);
			p->bad_streak = 0;
			p->zdeaths = 0;
		} else {
			jf_queue_complete(p, r, JF_ERR_PROTO, err, NULL);
			retire = 1;
		}
	}
	if (retire || w->jobs >= p->o.max_jobs || rss > p->o.rss_limit)
		child_retire(p, w);
	else
		w->state = JF_CHILD_IDLE;
}

static void
frame_take(jf_pool_t *p, jf_child_t *w)
{
	jf_frame_hdr_t h = w->rd.h;
	uint8_t *payload = w->rd.payload;
	const char *text = payload ? (const char *)payload : "";

	switch (h.type) {
	case JF_FRAME_RESULT:
		if (w->req != NULL && h.id == w->req->id && !w->timed_out) {
			result_take(p, w, &h, payload);
		} else if (h.status < 0 && w->req == NULL) {
			/* a worker that could not confine itself says why */
			w->fstatus = h.status;
			jf_strlcpy(w->fmsg, text, sizeof(w->fmsg));
		}
		break;
	case JF_FRAME_FATAL:
	case JF_FRAME_OOM:
	case JF_FRAME_SANDBOX:
		w->ftype = h.type;
		jf_strlcpy(w->fmsg, text, sizeof(w->fmsg));
		break;
	default:
		jf_warn("pool: worker %d broke the protocol (frame type %u); killing it",
		    (int)w->pid, h.type);
		w->ftype = JF_FRAME_SANDBOX;
		jf_strlcpy(w->fmsg, "worker broke the protocol", sizeof(w->fmsg));
		jf_child_kill(w->pidfd);
		channel_close(w);
		w->state = JF_CHILD_DEAD;
		return;
	}
	jf_frame_rd_reset(&w->rd);
}

/* Read what the worker has sent; EOF or an error closes the channel. */
void
jf_child_read(jf_pool_t *p, jf_child_t *w)
{
	while (w->fd >= 0) {
		int r = jf_frame_rd_feed(&w->rd, w->fd);

		if (r == 1) {
			frame_take(p, w);
			continue;
		}
		if (r == 0)
			return;
		/* EOF or a broken channel: the worker is gone or going */
		channel_close(w);
		if (w->state != JF_CHILD_RETIRING)
			w->state = JF_CHILD_DEAD;
		return;
	}
}

void
jf_child_write(jf_pool_t *p, jf_child_t *w)
{
	int r = jf_frame_wr_flush(&w->wr, w->fd);

	(void)p;
	if (r == 1) {
		jf_frame_wr_free(&w->wr);
		w->writing = 0;
	} else if (r < 0) {
		/* the worker died while reading: its exit status will say why */
		jf_frame_wr_free(&w->wr);
		w->writing = 0;
	}
}

/* Explain the end of a worker that still held a request. */
static int
classify(jf_pool_t *p, jf_child_t *w, int wstatus, char *msg, size_t len)
{
	int sig;

	if (w->timed_out) {
		snprintf(msg, len, "timeout after %d ms", w->req->timeout_ms);
		return JF_ERR_TIMEOUT;
	}
	if (w->ftype == JF_FRAME_FATAL) {
		snprintf(msg, len, "%s", w->fmsg);
		return JF_ERR_FATAL;
	}
	if (w->ftype == JF_FRAME_OOM) {
		snprintf(msg, len, "%s (limit %zu MiB)", w->fmsg, p->o.mem_limit >> 20);
		return JF_ERR_OOM;
	}
	if (w->ftype == JF_FRAME_SANDBOX) {
		snprintf(msg, len, "worker killed by the sandbox: %s", w->fmsg);
		return JF_ERR_CRASH;
	}
	if (wstatus >= 0 && WIFSIGNALED(wstatus)) {
		sig = WTERMSIG(wstatus);
		if (sig == SIGXCPU) {
			snprintf(msg, len, "worker exceeded its CPU limit of %d s (signal %d, SIGXCPU)",
			    p->o.cpu_limit_s, sig);
			return JF_ERR_TIMEOUT;
		}
		snprintf(msg, len, "worker killed by signal %d (%s)", sig, signame(sig));
		return JF_ERR_CRASH;
	}
	if (wstatus >= 0 && WIFEXITED(wstatus)) {
		snprintf(msg, len, "worker exited with status %d during the request",
		    WEXITSTATUS(wstatus));
		return JF_ERR_CRASH;
	}
	snprintf(msg, len, "worker lost");
	return JF_ERR_CRASH;
}

/* Settle the request of a worker that ended, by the failure policy. */
void
jf_child_fail(jf_pool_t *p, jf_child_t *w, int wstatus)
{
	jf_pool_req_t *r = w->req;
	char msg[JF_POOL_MSG_MAX];
	int code = classify(p, w, wstatus, msg, sizeof(msg));
	int quarantined;

	w->req = NULL;
	if (!w->timed_out && w->ftype == 0 && wstatus >= 0 && WIFEXITED(wstatus) &&
	    WEXITSTATUS(wstatus) == JF_WORKER_EXIT_SANDBOX) {
		/* the worker could not confine itself before reading the
		 * request: not the input's fault; it waits for another */
		jf_warn("pool: worker %d failed to start%s%s", (int)w->pid,
		    w->fmsg[0] ? ": " : "", w->fmsg);
		r->start_ns = 0;
		jf_queue_push(p, r, 1);
		return;
	}
	switch (code) {
	case JF_ERR_TIMEOUT: p->st.timeouts++; break;
	case JF_ERR_OOM: p->st.ooms++; break;
	case JF_ERR_FATAL: p->st.fatals++; break;
	default: p->st.crashes++; break;
	}
	jf_info("pool: request %llu failed on worker %d: %s",
	    (unsigned long long)r->id, (int)w->pid, msg);
	quarantined = jf_quarantine_strike(&p->quar, &r->key, code, msg);
	if (code != JF_ERR_TIMEOUT && code != JF_ERR_OOM && code != JF_ERR_FATAL &&
	    !quarantined && r->attempts == 0) {
		/* a crash may be the worker's bad luck: once more, fresh */
		r->attempts++;
		r->start_ns = 0;
		p->st.retries++;
		jf_queue_push(p, r, 1);
		return;
	}
	jf_queue_complete(p, r, code, msg, NULL);
}

/* The zygote relayed a worker's exit status. */
void
jf_child_reap(jf_pool_t *p, jf_child_t *w, int wstatus)
{
	/* everything it wrote before dying is in the socket buffer */
	if (w->fd >= 0)
		jf_child_read(p, w);
	if (w->req != NULL) {
		jf_child_fail(p, w, wstatus);
		jf_child_backoff(p);
	} else if (w->state != JF_CHILD_RETIRING) {
		/* died idle: a worker that cannot start is a crash loop */
		if (w->fstatus)
			jf_warn("pool: worker %d: %s", (int)w->pid, w->fmsg);
		else
			jf_warn("pool: idle worker %d ended (status 0x%x)", (int)w->pid, wstatus);
		jf_child_backoff(p);
	}
	jf_child_remove(p, w);
}

void
jf_child_start(jf_pool_t *p, jf_child_t *w, jf_pool_req_t *r)
{
	uint64_t now = jf_now_ns();

	w->req = r;
	w->state = JF_CHILD_BUSY;
	w->timed_out = 0;
	r->start_ns = now;
	w->deadline_ns = now + (uint64_t)r->timeout_ms * 1000000ull;
	jf_frame_wr_init(&w->wr, JF_FRAME_COMPILE, r->id, 0, r->enc, r->enclen, 0);
	w->writing = 1;
	jf_child_write(p, w);
}
