/*
 * pool.c - the pool of sandboxed compile workers (pool.h).
 *
 * One supervisor thread owns everything that touches a worker: it talks
 * to the zygote over a SOCK_SEQPACKET control socket (spawn requests out;
 * new workers' channels and pidfds, and exit statuses, in), streams
 * requests to workers and reads their answers with non-blocking I/O in
 * one poll loop, and enforces deadlines by killing through the pidfd.
 * Callers only queue requests and collect completions: asynchronous
 * completions wait on a list until the caller's thread runs
 * jf_pool_dispatch() (jf_pool_fd() becomes readable), synchronous ones
 * wake their waiter directly. All shared state is under one mutex, which
 * the supervisor drops only while it sleeps in poll().
 *
 * Failure policy. A worker's end is explained by what it said before it
 * died (an LLVM fatal error, an allocation failure, a denied call in
 * debug mode) or by its wait status as the zygote relays it. A request
 * whose worker crashed runs once more on a fresh worker; every crash,
 * fatal error, OOM or timeout is a strike against the artifact key, and
 * two strikes within the TTL quarantine the key. A worker that has
 * failed, done its N jobs or grown past the RSS limit is retired by
 * closing its channel. Repeated failures to bring up a worker or the
 * zygote back off exponentially instead of spinning. If the zygote dies,
 * its workers die with it (PR_SET_PDEATHSIG); their requests are
 * re-queued without a strike and a new zygote is started by re-executing
 * the program in zygote mode, because this process has threads now.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/log.h"
#include "worker/proto.h"
#include "common/util.h"
#include "worker/pool.h"
#include "worker/worker.h"

extern char **environ;

#define MSG_MAX 4096
#define QUARANTINE_MAX 4096
#define ZYGOTE_HELLO_MS 30000

enum { W_IDLE, W_BUSY, W_RETIRING, W_DEAD };

typedef struct req {
	struct req *next;
	uint64_t id;
	uint8_t *enc;                   /* encoded request, owned */
	size_t enclen;
	jf_key_t key;
	int timeout_ms;
	int attempts;                   /* crash retries used */
	uint64_t submit_ns, start_ns;
	jf_pool_done_fn fn;
	void *arg;
	int sync, done;
	char *msg;                      /* owned; res.msg points here */
	jf_pool_result_t res;
} req_t;

typedef struct worker {
	struct worker *next;
	pid_t pid;
	int fd, pidfd;
	int state;
	unsigned gen;                   /* zygote generation */
	int jobs;
	req_t *req;
	uint64_t deadline_ns;
	int timed_out;
	jf_frame_rd_t rd;
	jf_frame_wr_t wr;
	int writing;
	uint16_t ftype;                 /* FATAL / OOM / SANDBOX said before dying */
	int fstatus;                    /* status of a RESULT error without a request */
	char fmsg[MSG_MAX];
} worker_t;

typedef struct qent {
	struct qent *next;
	jf_key_t key;
	int strikes, quarantined, code;
	uint64_t expires_ns;
	char msg[512];
} qent_t;

struct jf_pool {
	jf_pool_opts_t o;
	char self_exe[PATH_MAX];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thr;
	int thr_started, stop;
	int wake_fd, done_fd;
	req_t *qhead, *qtail;
	unsigned nqueued;
	req_t *dhead, *dtail;
	worker_t *workers;
	uint64_t next_id, spawn_token;
	/* the zygote */
	pid_t zpid;
	int zfd, zpidfd, zready;
	unsigned zgen, spawning;
	int zdeaths;                    /* consecutive zygote deaths */
	uint64_t zstart_ns;
	uint64_t zrestart_at;
	int bad_streak;                 /* consecutive worker failures */
	uint64_t spawn_hold_until;
	qent_t *quar;
	unsigned nquar;
	int sandbox_debug;
	jf_pool_stats_t st;
};

static pthread_mutex_t llvm_mu = PTHREAD_MUTEX_INITIALIZER;
static int llvm_ready;

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

static int
pidfd_kill(int pidfd)
{
	if (pidfd < 0)
		return -1;
	return (int)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

static void
wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* the counter is saturated or the fd is gone: either way a
		 * wake-up is already pending or nobody listens */
	}
}

static void
req_free(req_t *r)
{
	if (r == NULL)
		return;
	free(r->enc);
	free(r->msg);
	jf_artifact_free(&r->res.art);
	free(r);
}

/* --- quarantine ------------------------------------------------------------ */

static qent_t *
quar_find(jf_pool_t *p, const jf_key_t *key, uint64_t now)
{
	qent_t **pp = &p->quar;

	while (*pp != NULL) {
		qent_t *e = *pp;

		if (e->expires_ns <= now) {
			*pp = e->next;
			free(e);
			p->nquar--;
			continue;
		}
		if (memcmp(e->key.b, key->b, JF_KEY_LEN) == 0)
			return e;
		pp = &e->next;
	}
	return NULL;
}

/* Record a failure against key; returns 1 when the key is now quarantined. */
static int
quar_strike(jf_pool_t *p, const jf_key_t *key, int code, const char *msg)
{
	uint64_t now = jf_now_ns();
	qent_t *e = quar_find(p, key, now);

	if (e == NULL) {
		if (p->nquar >= QUARANTINE_MAX || (e = calloc(1, sizeof(*e))) == NULL)
			return 0;
		e->key = *key;
		e->next = p->quar;
		p->quar = e;
		p->nquar++;
	}
	e->strikes++;
	e->code = code;
	jf_strlcpy(e->msg, msg, sizeof(e->msg));
	e->expires_ns = now + (uint64_t)p->o.quarantine_ttl_s * 1000000000ull;
	if (e->strikes >= 2 && !e->quarantined) {
		e->quarantined = 1;
		jf_warn("pool: input quarantined for %d s after repeated failures: %s",
		    p->o.quarantine_ttl_s, msg);
	}
	return e->quarantined;
}

/* --- completion -------------------------------------------------------------- */

/* Under mu. art (may be NULL) is moved into the result. */
static void
complete(jf_pool_t *p, req_t *r, int code, const char *msg, jf_artifact_t *art)
{
	uint64_t now = jf_now_ns();

	r->res.result = code;
	free(r->msg);
	r->msg = strdup(code == 0 ? "" : (msg && *msg ? msg : jf_strerror(code)));
	r->res.msg = r->msg ? r->msg : "";
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
	wake(p->done_fd);
}

static void
enqueue(jf_pool_t *p, req_t *r, int front)
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

static req_t *
dequeue(jf_pool_t *p)
{
	req_t *r = p->qhead;

	if (r == NULL)
		return NULL;
	p->qhead = r->next;
	if (p->qhead == NULL)
		p->qtail = NULL;
	p->nqueued--;
	r->next = NULL;
	return r;
}

/* --- workers ----------------------------------------------------------------- */

static void
worker_close_channel(worker_t *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	jf_frame_rd_reset(&w->rd);
	jf_frame_wr_free(&w->wr);
	w->writing = 0;
}

static void
worker_remove(jf_pool_t *p, worker_t *w)
{
	worker_t **pp;

	for (pp = &p->workers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	worker_close_channel(w);
	if (w->pidfd >= 0)
		close(w->pidfd);
	free(w);
}

static void
worker_retire(jf_pool_t *p, worker_t *w)
{
	worker_close_channel(w);        /* EOF tells the worker to _exit */
	w->state = W_RETIRING;
	p->st.retired++;
}

static void
note_bad(jf_pool_t *p)
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
worker_result(jf_pool_t *p, worker_t *w, const jf_frame_hdr_t *h, uint8_t *payload)
{
	req_t *r = w->req;
	jf_artifact_t art;
	char err[256];
	uint64_t rss = 0;
	int retire = 0, rc;

	w->req = NULL;
	w->jobs++;
	if (h->status != 0) {
		complete(p, r, h->status, payload ? (const char *)payload : "", NULL);
		retire = 1;     /* any error retires the worker */
	} else if (h->len < JF_RESULT_PREFIX_LEN) {
		complete(p, r, JF_ERR_PROTO, "short result from worker", NULL);
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
			complete(p, r, 0, NULL, &art);
			p->bad_streak = 0;
			p->zdeaths = 0;
		} else {
			complete(p, r, JF_ERR_PROTO, err, NULL);
			retire = 1;
		}
	}
	if (retire || w->jobs >= p->o.max_jobs || rss > p->o.rss_limit)
		worker_retire(p, w);
	else
		w->state = W_IDLE;
}

static void
worker_frame(jf_pool_t *p, worker_t *w)
{
	jf_frame_hdr_t h = w->rd.h;
	uint8_t *payload = w->rd.payload;
	const char *text = payload ? (const char *)payload : "";

	switch (h.type) {
	case JF_FRAME_RESULT:
		if (w->req != NULL && h.id == w->req->id && !w->timed_out) {
			worker_result(p, w, &h, payload);
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
		pidfd_kill(w->pidfd);
		worker_close_channel(w);
		w->state = W_DEAD;
		return;
	}
	jf_frame_rd_reset(&w->rd);
}

/* Read what the worker has sent; EOF or an error closes the channel. */
static void
worker_read(jf_pool_t *p, worker_t *w)
{
	while (w->fd >= 0) {
		int r = jf_frame_rd_feed(&w->rd, w->fd);

		if (r == 1) {
			worker_frame(p, w);
			continue;
		}
		if (r == 0)
			return;
		/* EOF or a broken channel: the worker is gone or going */
		worker_close_channel(w);
		if (w->state != W_RETIRING)
			w->state = W_DEAD;
		return;
	}
}

static void
worker_write(jf_pool_t *p, worker_t *w)
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
classify(jf_pool_t *p, worker_t *w, int wstatus, char *msg, size_t len)
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
static void
fail_request(jf_pool_t *p, worker_t *w, int wstatus)
{
	req_t *r = w->req;
	char msg[MSG_MAX];
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
		enqueue(p, r, 1);
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
	quarantined = quar_strike(p, &r->key, code, msg);
	if (code != JF_ERR_TIMEOUT && code != JF_ERR_OOM && code != JF_ERR_FATAL &&
	    !quarantined && r->attempts == 0) {
		/* a crash may be the worker's bad luck: once more, fresh */
		r->attempts++;
		r->start_ns = 0;
		p->st.retries++;
		enqueue(p, r, 1);
		return;
	}
	complete(p, r, code, msg, NULL);
}

/* The zygote relayed a worker's exit status. */
static void
worker_exited(jf_pool_t *p, worker_t *w, int wstatus)
{
	/* everything it wrote before dying is in the socket buffer */
	if (w->fd >= 0)
		worker_read(p, w);
	if (w->req != NULL) {
		fail_request(p, w, wstatus);
		note_bad(p);
	} else if (w->state != W_RETIRING) {
		/* died idle: a worker that cannot start is a crash loop */
		if (w->fstatus)
			jf_warn("pool: worker %d: %s", (int)w->pid, w->fmsg);
		else
			jf_warn("pool: idle worker %d ended (status 0x%x)", (int)w->pid, wstatus);
		note_bad(p);
	}
	worker_remove(p, w);
}

static void
worker_start(jf_pool_t *p, worker_t *w, req_t *r)
{
	uint64_t now = jf_now_ns();

	w->req = r;
	w->state = W_BUSY;
	w->timed_out = 0;
	r->start_ns = now;
	w->deadline_ns = now + (uint64_t)r->timeout_ms * 1000000ull;
	jf_frame_wr_init(&w->wr, JF_FRAME_COMPILE, r->id, 0, r->enc, r->enclen, 0);
	w->writing = 1;
	worker_write(p, w);
}

/* --- the zygote -------------------------------------------------------------- */

static int
zygote_spawn_req(jf_pool_t *p)
{
	uint8_t buf[JF_PROTO_HDR_LEN + 16];
	jf_frame_hdr_t h = { .type = JF_FRAME_ZY_SPAWN, .id = ++p->spawn_token, .len = 16 };

	jf_frame_hdr_encode(buf, &h);
	jf_put_u64(buf + JF_PROTO_HDR_LEN, p->o.mem_limit);
	jf_put_u32(buf + JF_PROTO_HDR_LEN + 8, (uint32_t)p->o.cpu_limit_s);
	jf_put_u32(buf + JF_PROTO_HDR_LEN + 12, (uint32_t)p->sandbox_debug);
	if (send(p->zfd, buf, sizeof(buf), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -1;
	p->spawning++;
	return 0;
}

/*
 * Start a zygote. With use_fork (only while this process is
 * single-threaded) it is a fork of this process; otherwise this binary
 * is re-executed in zygote mode, and the child does nothing but
 * async-signal-safe calls before execve.
 */
static int
zygote_start(jf_pool_t *p, int use_fork, char *err, size_t errlen)
{
	int sv[2] = { -1, -1 };
	pid_t me = getpid(), pid;
	char fdstr[16], ppstr[24];
	char *argv[5];
	int r = JF_ERR_SYSTEM;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		jf_seterr(err, errlen, r, "zygote: socketpair: %s", strerror(errno));
		goto out;
	}
	snprintf(fdstr, sizeof(fdstr), "%d", sv[1]);
	snprintf(ppstr, sizeof(ppstr), "%d", (int)me);
	argv[0] = p->self_exe;
	argv[1] = (char *)JF_ZYGOTE_FLAG;
	argv[2] = fdstr;
	argv[3] = ppstr;
	argv[4] = NULL;
	pid = fork();
	if (pid < 0) {
		jf_seterr(err, errlen, r, "zygote: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(sv[0]);
		if (use_fork)
			jf_zygote_run(sv[1], me);
		if (fcntl(sv[1], F_SETFD, 0) < 0)
			_exit(127);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execve(p->self_exe, argv, environ);
		_exit(127);
	}
	close(sv[1]);
	sv[1] = -1;
	p->zpid = pid;
	p->zfd = sv[0];
	sv[0] = -1;
	fcntl(p->zfd, F_SETFL, fcntl(p->zfd, F_GETFL) | O_NONBLOCK);
	p->zpidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p->zpidfd < 0) {
		jf_seterr(err, errlen, r, "zygote: pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		goto out;
	}
	p->zready = 0;
	p->zstart_ns = jf_now_ns();
	p->zgen++;
	p->spawning = 0;
	r = 0;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return r;
}

static void
zygote_reap(jf_pool_t *p)
{
	if (p->zpid <= 0)
		return;
	pidfd_kill(p->zpidfd);
	while (waitpid(p->zpid, NULL, 0) < 0 && errno == EINTR)
		;
	if (p->zfd >= 0)
		close(p->zfd);
	if (p->zpidfd >= 0)
		close(p->zpidfd);
	p->zfd = p->zpidfd = -1;
	p->zpid = 0;
	p->zready = 0;
	p->spawning = 0;
}

/* The zygote is gone: its workers went with it. Their requests go back
 * to the queue without a strike, unless they had already failed. */
static void
zygote_died(jf_pool_t *p)
{
	worker_t *w, *next;
	uint64_t delay_ms;

	jf_warn("pool: zygote %d died; restarting it", (int)p->zpid);
	zygote_reap(p);
	for (w = p->workers; w != NULL; w = next) {
		next = w->next;
		pidfd_kill(w->pidfd);
		if (w->fd >= 0)
			worker_read(p, w);
		if (w->req != NULL) {
			if (w->timed_out || w->ftype != 0) {
				fail_request(p, w, -1);
			} else {
				req_t *r = w->req;

				w->req = NULL;
				r->start_ns = 0;
				enqueue(p, r, 1);
			}
		}
		worker_remove(p, w);
	}
	p->zdeaths++;
	delay_ms = p->zdeaths <= 1 ? 0 : JF_MIN(50ull << JF_MIN(p->zdeaths - 2, 7), 5000ull);
	p->zrestart_at = jf_now_ns() + delay_ms * 1000000ull;
}

/* Messages from the zygote. Returns -1 when it has gone. */
static int
zygote_read(jf_pool_t *p)
{
	for (;;) {
		uint8_t buf[JF_PROTO_HDR_LEN + 64];
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(4 * sizeof(int))];
		} cm;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh;
		struct cmsghdr *c;
		jf_frame_hdr_t h;
		int fds[4], nfds = 0, i;
		ssize_t n;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		n = recvmsg(p->zfd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (n == 0)
			return -1;
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

				for (i = 0; i < k && nfds < 4; i++)
					memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			}
		}
		if (n < JF_PROTO_HDR_LEN || jf_frame_hdr_decode(buf, 64, &h) != 0 ||
		    h.len != (uint64_t)n - JF_PROTO_HDR_LEN || (mh.msg_flags & MSG_CTRUNC)) {
			for (i = 0; i < nfds; i++)
				close(fds[i]);
			return -1;
		}
		switch (h.type) {
		case JF_FRAME_ZY_HELLO:
			if (h.status != 0)
				return -1;
			p->zready = 1;
			break;
		case JF_FRAME_ZY_SPAWNED:
			if (p->spawning > 0)
				p->spawning--;
			if (h.status == 0 && nfds == 2 && h.len == 4) {
				worker_t *w = calloc(1, sizeof(*w));

				if (w == NULL) {
					pidfd_kill(fds[1]);
					close(fds[0]);
					close(fds[1]);
					break;
				}
				w->pid = (pid_t)jf_get_u32(buf + JF_PROTO_HDR_LEN);
				w->fd = fds[0];         /* the worker now owns both fds */
				w->pidfd = fds[1];
				w->state = W_IDLE;
				w->gen = p->zgen;
				fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
				jf_frame_rd_init(&w->rd, JF_PROTO_MAX_PAYLOAD);
				w->next = p->workers;
				p->workers = w;
				p->st.spawned++;
			} else {
				for (i = 0; i < nfds; i++)
					close(fds[i]);
				jf_warn("pool: zygote could not spawn a worker: %s", jf_strerror(h.status));
				note_bad(p);
			}
			break;
		case JF_FRAME_ZY_EXIT: {
			worker_t *w;

			for (w = p->workers; w != NULL; w = w->next)
				if (w->pid == (pid_t)h.id)
					break;
			if (w != NULL)
				worker_exited(p, w, (int)h.status);
			break;
		}
		default:
			for (i = 0; i < nfds; i++)
				close(fds[i]);
			return -1;
		}
	}
}

/* --- the supervisor -------------------------------------------------------- */

/* Start zygotes and workers as needed, hand out requests, enforce
 * deadlines. Returns the poll timeout in ms. Under mu. */
static int
maintain(jf_pool_t *p)
{
	uint64_t now = jf_now_ns(), next = now + 1000000000ull;
	unsigned idle = 0, busy = 0, want;
	worker_t *w;
	char err[256];

	if (p->zpid <= 0) {
		if (now >= p->zrestart_at) {
			if (zygote_start(p, 0, err, sizeof(err)) == 0) {
				p->st.zygote_restarts++;
			} else {
				jf_warn("pool: %s", err);
				p->zdeaths++;
				p->zrestart_at = now + 1000000000ull;
			}
		}
		if (p->zrestart_at > now)
			next = JF_MIN(next, p->zrestart_at);
	} else if (!p->zready) {
		uint64_t limit = p->zstart_ns + ZYGOTE_HELLO_MS * 1000000ull;

		if (now >= limit)
			zygote_died(p);         /* it never said hello */
		else
			next = JF_MIN(next, limit);
	}
	for (w = p->workers; w != NULL; w = w->next) {
		if (w->state == W_IDLE)
			idle++;
		else if (w->req != NULL)
			busy++;
		if (w->req != NULL && !w->timed_out) {
			if (now >= w->deadline_ns) {
				w->timed_out = 1;
				pidfd_kill(w->pidfd);
			} else {
				next = JF_MIN(next, w->deadline_ns);
			}
		}
	}
	/* a request that never got a worker still has a deadline (no
	 * strike: the input is not to blame) */
	{
		req_t **pp = &p->qhead, *prev = NULL;

		while (*pp != NULL) {
			req_t *r = *pp;
			uint64_t dl = r->submit_ns + (uint64_t)r->timeout_ms * 1000000ull;
			char msg[128];

			if (now < dl) {
				next = JF_MIN(next, dl);
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
			complete(p, r, JF_ERR_TIMEOUT, msg, NULL);
		}
	}
	/* hand out queued requests to idle workers */
	for (w = p->workers; w != NULL && p->qhead != NULL && busy < (unsigned)p->o.workers;
	    w = w->next) {
		if (w->state != W_IDLE)
			continue;
		worker_start(p, w, dequeue(p));
		idle--;
		busy++;
	}
	/* keep spares ready, and enough workers for the queue */
	want = (unsigned)p->o.spares;
	if (busy < (unsigned)p->o.workers)
		want += JF_MIN(p->nqueued, (unsigned)p->o.workers - busy);
	if (p->zready && now < p->spawn_hold_until)
		next = JF_MIN(next, p->spawn_hold_until);
	while (p->zready && now >= p->spawn_hold_until && idle + p->spawning < want &&
	    idle + busy + p->spawning < (unsigned)(p->o.workers + p->o.spares)) {
		if (zygote_spawn_req(p) < 0)
			break;
	}
	return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

static void *
supervise(void *arg)
{
	jf_pool_t *p = arg;
	struct pollfd *pfd = NULL;
	worker_t **pw = NULL;
	size_t cap = 0;
	sigset_t all;

	/* signals are the caller's business, never this thread's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		size_t n = 0, i, nw = 0;
		worker_t *w;
		int timeout, zi = -1, zpi = -1;

		timeout = maintain(p);
		for (w = p->workers; w != NULL; w = w->next)
			nw++;
		if (nw + 3 > cap) {
			cap = (nw + 3) * 2;
			free(pfd);
			free(pw);
			pfd = calloc(cap, sizeof(*pfd));
			pw = calloc(cap, sizeof(*pw));
			if (pfd == NULL || pw == NULL)
				abort();        /* the supervisor cannot go on without memory */
		}
		pfd[n].fd = p->wake_fd;
		pfd[n].events = POLLIN;
		pw[n++] = NULL;
		if (p->zfd >= 0) {
			zi = (int)n;
			pfd[n].fd = p->zfd;
			pfd[n].events = POLLIN;
			pw[n++] = NULL;
			zpi = (int)n;
			pfd[n].fd = p->zpidfd;
			pfd[n].events = POLLIN;
			pw[n++] = NULL;
		}
		for (w = p->workers; w != NULL; w = w->next) {
			if (w->fd < 0)
				continue;
			pfd[n].fd = w->fd;
			pfd[n].events = POLLIN | (w->writing ? POLLOUT : 0);
			pw[n++] = w;
		}
		for (i = 0; i < n; i++)
			pfd[i].revents = 0;
		pthread_mutex_unlock(&p->mu);
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			usleep(1000);
		pthread_mutex_lock(&p->mu);
		if (pfd[0].revents & POLLIN) {
			uint64_t v;

			if (read(p->wake_fd, &v, sizeof(v)) < 0) {
				/* EAGAIN: a concurrent drain got it */
			}
		}
		/* workers first: a worker's last frames precede its exit status */
		for (i = 0; i < n; i++) {
			w = pw[i];
			if (w == NULL || pfd[i].revents == 0 || w->fd != pfd[i].fd)
				continue;
			if ((pfd[i].revents & POLLOUT) && w->writing)
				worker_write(p, w);
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				worker_read(p, w);
		}
		if (zi >= 0 && p->zfd >= 0 &&
		    ((pfd[zi].revents & (POLLIN | POLLHUP | POLLERR)) || (pfd[zpi].revents & POLLIN))) {
			if (zygote_read(p) < 0 || (pfd[zpi].revents & POLLIN))
				zygote_died(p);
		}
	}
	pthread_mutex_unlock(&p->mu);
	free(pfd);
	free(pw);
	return NULL;
}

/* --- the API ----------------------------------------------------------------- */

static int
wait_hello(jf_pool_t *p, char *err, size_t errlen)
{
	uint64_t end = jf_now_ns() + ZYGOTE_HELLO_MS * 1000000ull;

	while (!p->zready) {
		struct pollfd pfd = { .fd = p->zfd, .events = POLLIN };
		uint64_t now = jf_now_ns();
		int n;

		if (now >= end)
			return jf_seterr(err, errlen, JF_ERR_TIMEOUT, "zygote did not start");
		n = poll(&pfd, 1, (int)((end - now) / 1000000) + 1);
		if (n < 0 && errno != EINTR)
			return jf_seterr(err, errlen, JF_ERR_SYSTEM, "poll: %s", strerror(errno));
		if (n > 0 && zygote_read(p) < 0)
			return jf_seterr(err, errlen, JF_ERR_SYSTEM,
			    "zygote failed to start (LLVM initialisation or setup)");
	}
	return 0;
}

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

int
jf_pool_create(const jf_pool_opts_t *opts, jf_pool_t **out, char *err, size_t errlen)
{
	jf_pool_t *p = NULL;
	const char *dbg;
	int r = JF_ERR_NOMEM;
	long ncpu;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		jf_seterr(err, errlen, r, "out of memory");
		goto out;
	}
	p->zfd = p->zpidfd = p->wake_fd = p->done_fd = -1;
	if (opts != NULL)
		p->o = *opts;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (p->o.workers <= 0)
		p->o.workers = ncpu > 0 ? (int)ncpu : 1;
	if (p->o.spares <= 0)
		p->o.spares = 1;
	if (p->o.max_jobs <= 0)
		p->o.max_jobs = 64;
	if (p->o.rss_limit == 0)
		p->o.rss_limit = (size_t)1 << 30;
	if (p->o.mem_limit == 0)
		p->o.mem_limit = (size_t)4 << 30;
	if (p->o.cpu_limit_s <= 0)
		p->o.cpu_limit_s = 600;
	if (p->o.timeout_ms <= 0)
		p->o.timeout_ms = 120000;
	if (p->o.quarantine_ttl_s <= 0)
		p->o.quarantine_ttl_s = 600;
	if (p->o.queue_limit <= 0)
		p->o.queue_limit = 256;
	jf_strlcpy(p->self_exe, p->o.self_exe ? p->o.self_exe : "/proc/self/exe",
	    sizeof(p->self_exe));
	p->o.self_exe = NULL;   /* not kept: the caller owns that string */
	dbg = getenv("JITFARM_SANDBOX_DEBUG");
	p->sandbox_debug = dbg != NULL && *dbg != '\0' && strcmp(dbg, "0") != 0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	/* the zygote first, before this function makes any thread or fd */
	if ((r = zygote_start(p, single_threaded(), err, errlen)) != 0)
		goto out;
	if ((r = wait_hello(p, err, errlen)) != 0)
		goto out;
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->wake_fd < 0 || p->done_fd < 0) {
		r = jf_seterr(err, errlen, JF_ERR_SYSTEM, "eventfd: %s", strerror(errno));
		goto out;
	}
	if (pthread_create(&p->thr, NULL, supervise, p) != 0) {
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

void
jf_pool_destroy(jf_pool_t *p)
{
	req_t *pending = NULL, *r;
	worker_t *w;
	qent_t *q;

	if (p == NULL)
		return;
	if (p->thr_started) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_mutex_unlock(&p->mu);
		wake(p->wake_fd);
		pthread_join(p->thr, NULL);
	}
	/* the supervisor is gone: nothing else touches the workers now */
	pthread_mutex_lock(&p->mu);
	while ((w = p->workers) != NULL) {
		pidfd_kill(w->pidfd);
		if (w->req != NULL) {
			w->req->next = pending;
			pending = w->req;
			w->req = NULL;
		}
		worker_remove(p, w);
	}
	zygote_reap(p);
	while ((r = dequeue(p)) != NULL) {
		r->next = pending;
		pending = r;
	}
	while ((r = pending) != NULL) {
		pending = r->next;
		complete(p, r, JF_ERR_CLOSED, "pool shut down", NULL);
	}
	pthread_mutex_unlock(&p->mu);
	jf_pool_dispatch(p);
	while ((q = p->quar) != NULL) {
		p->quar = q->next;
		free(q);
	}
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	if (p->done_fd >= 0)
		close(p->done_fd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
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
	free(enc);
}

static int
submit(jf_pool_t *p, const jf_compile_req_t *req, const jf_key_t *key, int timeout_ms,
    jf_pool_done_fn fn, void *arg, int sync, req_t **rp, char *qmsg, size_t qlen)
{
	req_t *r = NULL;
	qent_t *q;
	int rc;

	if (p == NULL || req == NULL || (req->ir == NULL && req->ir_len > 0) ||
	    (!sync && fn == NULL))
		return JF_ERR_INVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
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
	} else if ((q = quar_find(p, &r->key, r->submit_ns)) != NULL && q->quarantined) {
		rc = JF_ERR_QUARANTINED;
		p->st.quarantined++;
		if (qmsg != NULL)
			snprintf(qmsg, qlen, "input quarantined after repeated failures: %s", q->msg);
	} else if (p->nqueued >= (unsigned)p->o.queue_limit) {
		rc = JF_ERR_BUSY;
	} else {
		r->id = ++p->next_id;
		enqueue(p, r, 0);       /* the pool now owns r */
		p->st.submitted++;
		if (rp != NULL)
			*rp = r;
		r = NULL;
		rc = 0;
	}
	pthread_mutex_unlock(&p->mu);
	if (rc == 0)
		wake(p->wake_fd);
fail:
	req_free(r);
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
	req_t *list, *r;
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
		req_free(r);
		n++;
	}
	return n;
}

int
jf_pool_compile(jf_pool_t *p, const jf_compile_req_t *req, int timeout_ms,
    jf_artifact_t *out, char *err, size_t errlen)
{
	req_t *r = NULL;
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
	req_free(r);
	return rc;
}

int
jf_pool_ready(jf_pool_t *p)
{
	int r;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	r = p->zready;
	pthread_mutex_unlock(&p->mu);
	return r;
}

void
jf_pool_get_stats(jf_pool_t *p, jf_pool_stats_t *st)
{
	worker_t *w;

	memset(st, 0, sizeof(*st));
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	*st = p->st;
	st->queued = p->nqueued;
	for (w = p->workers; w != NULL; w = w->next) {
		if (w->state == W_IDLE)
			st->idle++;
		else if (w->req != NULL)
			st->busy++;
	}
	pthread_mutex_unlock(&p->mu);
}

int
jf_pool_quarantined(jf_pool_t *p, const jf_key_t *key, char *msg, size_t msglen)
{
	qent_t *q;
	int r = 0;

	if (p == NULL || key == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	q = quar_find(p, key, jf_now_ns());
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
