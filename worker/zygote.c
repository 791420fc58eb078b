/*
 * zygote.c - the fork-server.
 *
 * The zygote is a copy of the pool's process taken before that process
 * had threads, sockets or secrets (or, after a restart, a fresh exec of
 * the same binary). It initialises LLVM once and then does one thing:
 * on a spawn request from the pool it forks a worker, which confines
 * itself (worker_loop.c), and hands the pool the worker's channel and a
 * pidfd over its control socket (SCM_RIGHTS). Forking an initialised
 * process costs well under a millisecond where exec'ing a binary linked
 * with libLLVM costs about nine. The zygote reaps its workers (it polls
 * their pidfds) and relays each exit status to the pool.
 *
 * It must stay single-threaded, or fork() would copy a process with
 * other threads' locks held: it checks /proc/self/task before every
 * fork and refuses (and exits, to be restarted) if that ever changes.
 * It dies with the pool's process: PR_SET_PDEATHSIG checked against
 * getppid(), and EOF on the control socket. Its workers die with it the
 * same way.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/fdpass.h"
#include "common/key.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "worker/proto.h"
#include "worker/pool.h"
#include "worker/worker.h"

#define ZY_MAX_CHILDREN 1024

typedef struct zchild {
	pid_t pid;
	int pidfd;
} zchild_t;

static int
thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* One message on the control socket, optionally with fds. */
static int
zy_send(int ctl, uint16_t type, uint64_t id, int32_t status, const void *payload,
    size_t len, const int *fds, int nfds)
{
	uint8_t buf[JF_PROTO_HDR_LEN + 64];
	jf_frame_hdr_t h = { .type = type, .id = id, .len = len, .status = status };

	if (len > 64)
		return -1;
	jf_frame_hdr_encode(buf, &h);
	if (len > 0)
		memcpy(buf + JF_PROTO_HDR_LEN, payload, len);
	return jf_fd_send(ctl, buf, JF_PROTO_HDR_LEN + len, fds, nfds);
}

static void
spawn(int ctl, uint64_t token, const uint8_t *p, size_t len, zchild_t *kids, int *nkids)
{
	jf_sandbox_conf_t conf;
	int sv[2] = { -1, -1 }, pidfd = -1, fds[2];
	uint8_t pidbuf[4];
	pid_t zpid = getpid(), pid;
	int e;

	memset(&conf, 0, sizeof(conf));
	if (len < 16) {
		e = JF_ERR_PROTO;
		goto fail;
	}
	conf.mem_limit = jf_get_u64(p);
	conf.cpu_limit_s = jf_get_u32(p + 8);
	conf.debug = jf_get_u32(p + 12);
	if (*nkids >= ZY_MAX_CHILDREN) {
		e = JF_ERR_BUSY;
		goto fail;
	}
	if (thread_count() != 1) {
		/* forking now could copy another thread's held locks */
		zy_send(ctl, JF_FRAME_ZY_SPAWNED, token, JF_ERR_SYSTEM, NULL, 0, NULL, 0);
		_exit(3);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		e = JF_ERR_SYSTEM;
		goto fail;
	}
	/* the worker's end must not land on 0-2, which it turns into /dev/null */
	if (sv[1] < 3) {
		int nfd = fcntl(sv[1], F_DUPFD_CLOEXEC, 3);

		close(sv[1]);
		sv[1] = nfd;
		if (nfd < 0) {
			e = JF_ERR_SYSTEM;
			goto fail;
		}
	}
	pid = fork();
	if (pid < 0) {
		e = JF_ERR_SYSTEM;
		goto fail;
	}
	if (pid == 0) {
		/* the worker: tied to the zygote, which is tied to the pool */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != zpid)
			_exit(JF_WORKER_EXIT_SANDBOX);
		prctl(PR_SET_NAME, "jitfarm-worker");
		jf_worker_run(sv[1], &conf);
	}
	close(sv[1]);
	sv[1] = -1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		e = JF_ERR_SYSTEM;
		goto fail;
	}
	kids[*nkids].pid = pid;
	kids[*nkids].pidfd = pidfd;
	(*nkids)++;
	fds[0] = sv[0];
	fds[1] = pidfd;
	jf_put_u32(pidbuf, (uint32_t)pid);
	if (zy_send(ctl, JF_FRAME_ZY_SPAWNED, token, 0, pidbuf, 4, fds, 2) < 0)
		_exit(4);       /* the pool is gone */
	close(sv[0]);
	return;
fail:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (zy_send(ctl, JF_FRAME_ZY_SPAWNED, token, e, NULL, 0, NULL, 0) < 0)
		_exit(4);
}

static void
reap(int ctl, zchild_t *kids, int *nkids, int i)
{
	int st = 0;
	pid_t r;

	do
		r = waitpid(kids[i].pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return;         /* not yet a zombie */
	close(kids[i].pidfd);
	if (r == kids[i].pid &&
	    zy_send(ctl, JF_FRAME_ZY_EXIT, (uint64_t)kids[i].pid, st, NULL, 0, NULL, 0) < 0)
		_exit(4);
	kids[i] = kids[--(*nkids)];
}

/* Become the zygote: tied to the parent, fds and signals reset, LLVM,
 * OpenSSL and the sandbox's filter ready, hello sent. Returns the control
 * socket (moved to fd 3); exits on any failure. */
static int
zygote_setup(int ctl, pid_t parent)
{
	struct sigaction sa;
	uint8_t d[32];
	char e[256];
	int r, i;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(2);
	prctl(PR_SET_NAME, "jitfarm-zygote");
	/* keep stdio for the workers to replace; drop everything else */
	if (ctl != 3) {
		if (dup2(ctl, 3) < 0)
			_exit(2);
		close(ctl);
		ctl = 3;
	}
	syscall(SYS_close_range, 4u, ~0u, 0u);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			sigaction(i, &sa, NULL);
	/* LLVM in the workers must neither write crash reports nor run a
	 * symbolizer; they inherit this environment */
	setenv("LLVM_DISABLE_CRASH_REPORT", "1", 1);
	setenv("LLVM_DISABLE_SYMBOLIZATION", "1", 1);
	r = jf_llvm_init();
	/* OpenSSL reads its configuration on first use: do that here, where
	 * files may still be opened, not in a confined worker */
	jf_sha256("", 0, d);
	jf_worker_llvm_prepare();
	if (r == 0)
		r = jf_sandbox_prepare(e, sizeof(e));
	if (zy_send(ctl, JF_FRAME_ZY_HELLO, (uint64_t)getpid(), r, NULL, 0, NULL, 0) < 0 || r != 0)
		_exit(2);
	return ctl;
}

/* One request from the pool; exits when the pool has gone or broke the
 * protocol. */
static void
control_read(int ctl, zchild_t *kids, int *nkids)
{
	uint8_t buf[JF_PROTO_HDR_LEN + 64];
	jf_frame_hdr_t h;
	ssize_t got = recv(ctl, buf, sizeof(buf), 0);

	if (got == 0)
		_exit(0);       /* the pool closed the channel */
	if (got < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		_exit(2);
	}
	if (got < JF_PROTO_HDR_LEN || jf_frame_hdr_decode(buf, 64, &h) != 0 ||
	    h.len != (uint64_t)got - JF_PROTO_HDR_LEN || h.type != JF_FRAME_ZY_SPAWN)
		_exit(2);
	spawn(ctl, h.id, buf + JF_PROTO_HDR_LEN, h.len, kids, nkids);
}

void
jf_zygote_run(int ctl, pid_t parent)
{
	static zchild_t kids[ZY_MAX_CHILDREN];
	static struct pollfd pfd[ZY_MAX_CHILDREN + 1];
	int nkids = 0, i;

	ctl = zygote_setup(ctl, parent);
	for (;;) {
		int n;

		pfd[0].fd = ctl;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		for (i = 0; i < nkids; i++) {
			pfd[i + 1].fd = kids[i].pidfd;
			pfd[i + 1].events = POLLIN;
			pfd[i + 1].revents = 0;
		}
		n = poll(pfd, (nfds_t)nkids + 1, getppid() == parent ? 1000 : 0);
		if (n < 0 && errno != EINTR)
			_exit(2);
		if (getppid() != parent)
			_exit(0);
		/* reap from the back so moving the last entry down is safe */
		for (i = nkids - 1; i >= 0; i--)
			if (pfd[i + 1].revents)
				reap(ctl, kids, &nkids, i);
		if (pfd[0].revents & POLLIN)
			control_read(ctl, kids, &nkids);
		else if (pfd[0].revents & (POLLHUP | POLLERR))
			_exit(0);
	}
}

void
jf_zygote_main_if_requested(int argc, char **argv)
{
	char *end;
	long fd, ppid;

	if (argc < 4 || strcmp(argv[1], JF_ZYGOTE_FLAG) != 0)
		return;
	fd = strtol(argv[2], &end, 10);
	if (*end != '\0' || fd < 0 || fd > 65535)
		_exit(2);
	ppid = strtol(argv[3], &end, 10);
	if (*end != '\0' || ppid <= 0)
		_exit(2);
	jf_zygote_run((int)fd, (pid_t)ppid);
}
