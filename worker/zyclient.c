/*
 * zyclient.c - the pool's side of the zygote (zyclient.h): starting it,
 * asking it for workers, reading what it relays, and starting a new one
 * when it dies.
 *
 * The control socket is SOCK_SEQPACKET: a SPAWN request goes out; HELLO,
 * SPAWNED (with the new worker's channel and pidfd, common/fdpass.h) and
 * EXIT (a worker's wait status) come back. If the zygote dies, its workers
 * die with it (PR_SET_PDEATHSIG); their requests are re-queued without a
 * strike and a new zygote is started by re-executing the program in
 * zygote mode, because this process has threads by then. Deaths in a row
 * back the restart off exponentially.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/fdpass.h"
#include "common/log.h"
#include "common/util.h"
#include "worker/child.h"
#include "worker/queue.h"
#include "worker/worker.h"
#include "worker/zyclient.h"

extern char **environ;

int
jf_zyclient_spawn(jf_pool_t *p)
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
int
jf_zyclient_start(jf_pool_t *p, int use_fork, char *err, size_t errlen)
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

void
jf_zyclient_reap(jf_pool_t *p)
{
	if (p->zpid <= 0)
		return;
	jf_child_kill(p->zpidfd);
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
void
jf_zyclient_lost(jf_pool_t *p)
{
	jf_child_t *w, *next;
	uint64_t delay_ms;

	jf_warn("pool: zygote %d died; restarting it", (int)p->zpid);
	jf_zyclient_reap(p);
	for (w = p->workers; w != NULL; w = next) {
		next = w->next;
		jf_child_kill(w->pidfd);
		if (w->fd >= 0)
			jf_child_read(p, w);
		if (w->req != NULL) {
			if (w->timed_out || w->ftype != 0) {
				jf_child_fail(p, w, -1);
			} else {
				jf_pool_req_t *r = w->req;

				w->req = NULL;
				r->start_ns = 0;
				jf_queue_push(p, r, 1);
			}
		}
		jf_child_remove(p, w);
	}
	p->zdeaths++;
	delay_ms = p->zdeaths <= 1 ? 0 : JF_MIN(50ull << JF_MIN(p->zdeaths - 2, 7), 5000ull);
	p->zrestart_at = jf_now_ns() + delay_ms * 1000000ull;
}

/* One message from the zygote; the fds it brought are used or closed.
 * Returns -1 when the zygote broke the protocol or failed. */
static int
message_take(jf_pool_t *p, const jf_frame_hdr_t *h, const uint8_t *body, int *fds,
    int nfds)
{
	jf_child_t *w;
	int i;

	switch (h->type) {
	case JF_FRAME_ZY_HELLO:
		if (h->status != 0)
			return -1;
		p->zready = 1;
		return 0;
	case JF_FRAME_ZY_SPAWNED:
		if (p->spawning > 0)
			p->spawning--;
		if (h->status == 0 && nfds == 2 && h->len == 4) {
			/* no memory: the worker is killed, the spawn is retried */
			(void)jf_child_add(p, (pid_t)jf_get_u32(body), fds[0], fds[1]);
			return 0;
		}
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		jf_warn("pool: zygote could not spawn a worker: %s", jf_strerror(h->status));
		jf_child_backoff(p);
		return 0;
	case JF_FRAME_ZY_EXIT:
		for (w = p->workers; w != NULL; w = w->next)
			if (w->pid == (pid_t)h->id)
				break;
		if (w != NULL)
			jf_child_reap(p, w, (int)h->status);
		return 0;
	default:
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		return -1;
	}
}

/* Messages from the zygote. Returns -1 when it has gone. */
int
jf_zyclient_read(jf_pool_t *p)
{
	for (;;) {
		uint8_t buf[JF_PROTO_HDR_LEN + 64];
		jf_frame_hdr_t h;
		int fds[JF_FDPASS_MAX], nfds = 0, i;
		ssize_t n;

		n = jf_fd_recv(p->zfd, buf, sizeof(buf), fds, JF_FDPASS_MAX, &nfds, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		if (n == 0)
			return -1;
		if (n < JF_PROTO_HDR_LEN || jf_frame_hdr_decode(buf, 64, &h) != 0 ||
		    h.len != (uint64_t)n - JF_PROTO_HDR_LEN) {
			for (i = 0; i < nfds; i++)
				close(fds[i]);
			return -1;
		}
		if (message_take(p, &h, buf + JF_PROTO_HDR_LEN, fds, nfds) < 0)
			return -1;
	}
}

int
jf_zyclient_hello_wait(jf_pool_t *p, char *err, size_t errlen)
{
	uint64_t end = jf_now_ns() + JF_POOL_HELLO_MS * 1000000ull;

	while (!p->zready) {
		struct pollfd pfd = { .fd = p->zfd, .events = POLLIN };
		uint64_t now = jf_now_ns();
		int n;

		if (now >= end)
			return jf_seterr(err, errlen, JF_ERR_TIMEOUT, "zygote did not start");
		n = poll(&pfd, 1, (int)((end - now) / 1000000) + 1);
		if (n < 0 && errno != EINTR)
			return jf_seterr(err, errlen, JF_ERR_SYSTEM, "poll: %s", strerror(errno));
		if (n > 0 && jf_zyclient_read(p) < 0)
			return jf_seterr(err, errlen, JF_ERR_SYSTEM,
			    "zygote failed to start (LLVM initialisation or setup)");
	}
	return 0;
}
