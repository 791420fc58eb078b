/*
 * test_sandbox.c - the worker sandbox (worker/sandbox.c), applied with
 * the very function the zygote's workers use, in real forked children:
 * every forbidden system call ends the process with SIGSYS, the limits,
 * no_new_privs, the filter and the fd table are what the brief says, a
 * real compile runs inside it, and debug mode names a denied call.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "common/key.h"
#include "worker/proto.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "worker/sandbox.h"
#include "worker/worker.h"
#include "support.h"

static const jf_sandbox_conf_t conf = {
	.mem_limit = 2ull << 30, .cpu_limit_s = 30, .debug = 0,
};

enum { DO_OPEN, DO_OPENAT, DO_SOCKET, DO_CONNECT, DO_EXECVE, DO_PTRACE, DO_CLONE,
	DO_KILL_PARENT, DO_TGKILL_PARENT, DO_MMAP_EXEC, DO_NOTHING, DO_ABORT };

static const char *const names[] = { "open", "openat", "socket", "connect", "execve",
	"ptrace", "clone", "kill", "tgkill(parent)", "mmap(PROT_EXEC)", "nothing", "abort" };

/* In the child: confine, then make one raw call. */
static void
child_call(int fd, int what, const jf_sandbox_conf_t *c)
{
	char err[256];
	char *const argv[] = { (char *)"/bin/true", NULL };

	if (jf_sandbox_apply(c, fd, err, sizeof(err)) != 0)
		_exit(100);
	switch (what) {
	case DO_OPEN: syscall(SYS_open, "/etc/hostname", O_RDONLY); break;
	case DO_OPENAT: syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY); break;
	case DO_SOCKET: syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); break;
	case DO_CONNECT: syscall(SYS_connect, fd, NULL, 0); break;
	case DO_EXECVE: syscall(SYS_execve, "/bin/true", argv, NULL); break;
	case DO_PTRACE: syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL); break;
	case DO_CLONE: syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0); break;
	case DO_KILL_PARENT: syscall(SYS_kill, getppid(), 0); break;
	case DO_TGKILL_PARENT: syscall(SYS_tgkill, getppid(), getppid(), 0); break;
	case DO_ABORT: abort();
	case DO_MMAP_EXEC:
		syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	default: break;
	}
	_exit(0);
}

static int
run_child(int what, const jf_sandbox_conf_t *c, int *chan)
{
	int sv[2], st = -1;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		child_call(sv[1], what, c);
	}
	close(sv[1]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	if (chan != NULL)
		*chan = sv[0];
	else
		close(sv[0]);
	return st;
}

START_TEST(test_forbidden_call_kills)
{
	int st = run_child(_i, &conf, NULL);

	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		ck_abort_msg("%s: expected SIGSYS, got status 0x%x", names[_i], st);
}
END_TEST

START_TEST(test_plain_exit_allowed)
{
	int st = run_child(DO_NOTHING, &conf, NULL);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
}
END_TEST

/* abort() may still signal its own process. */
START_TEST(test_abort_allowed)
{
	int st = run_child(DO_ABORT, &conf, NULL);

	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
}
END_TEST

/* Debug mode traps instead of killing and names the call on the channel. */
START_TEST(test_debug_names_call)
{
	jf_sandbox_conf_t dc = conf;
	jf_frame_hdr_t h;
	uint8_t *payload = NULL;
	int fd, st;
	char want[64];

	dc.debug = 1;
	st = run_child(DO_SOCKET, &dc, &fd);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == JF_WORKER_EXIT_DENIED, "status 0x%x", st);
	ck_assert_int_eq(jf_frame_read(fd, 4096, &h, &payload), 0);
	ck_assert_int_eq(h.type, JF_FRAME_SANDBOX);
	snprintf(want, sizeof(want), "blocked system call %d", SYS_socket);
	ck_assert_str_eq((char *)payload, want);
	jf_free(payload);
	close(fd);
}
END_TEST

static char *
slurp_proc(pid_t pid, const char *what)
{
	char path[64], *buf = calloc(1, 65536);
	size_t got = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	if (buf == NULL || (fd = open(path, O_RDONLY)) < 0) {
		free(buf);
		return NULL;
	}
	while (got < 65535 && (n = read(fd, buf + got, 65535 - got)) > 0)
		got += (size_t)n;
	close(fd);
	return buf;
}

static int
has_line(const char *text, const char *key, const char *val)
{
	const char *p = strstr(text, key);
	const char *nl;

	if (p == NULL)
		return 0;
	nl = strchr(p, '\n');
	p += strlen(key);
	while (*p == ' ' || *p == '\t')
		p++;
	return strncmp(p, val, strlen(val)) == 0 && (nl == NULL || p + strlen(val) <= nl);
}

/* Limits, no_new_privs, the filter and the fd table of a confined child
 * that waits on its channel, as /proc shows them. */
START_TEST(test_confinement_as_seen_from_outside)
{
	int sv[2], st, n = 0, pipefd[2];
	char *limits, *status, path[64], c = 0;
	DIR *d;
	struct dirent *e;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(pipefd), 0);      /* an inherited fd to be closed */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[256], b;

		close(sv[0]);
		if (jf_sandbox_apply(&conf, sv[1], err, sizeof(err)) != 0)
			_exit(100);
		if (write(sv[1], "r", 1) != 1 || read(sv[1], &b, 1) < 0)
			_exit(101);
		_exit(0);
	}
	close(sv[1]);
	ck_assert_int_eq(read(sv[0], &c, 1), 1);
	limits = slurp_proc(pid, "limits");
	status = slurp_proc(pid, "status");
	ck_assert_ptr_nonnull(limits);
	ck_assert_ptr_nonnull(status);
	ck_assert_msg(has_line(limits, "Max file size", "0                    0"), "%s", limits);
	ck_assert_msg(has_line(limits, "Max core file size", "0                    0"), "%s", limits);
	ck_assert_msg(has_line(limits, "Max processes", "0                    0"), "%s", limits);
	ck_assert_msg(has_line(limits, "Max cpu time", "30                   31"), "%s", limits);
#ifndef JF_SANITIZE
	ck_assert_msg(has_line(limits, "Max address space", "2147483648           2147483648"),
	    "%s", limits);
#endif
	ck_assert_msg(has_line(status, "NoNewPrivs:", "1"), "%s", status);
	ck_assert_msg(has_line(status, "Seccomp:", "2"), "%s", status);
	ck_assert_msg(has_line(status, "SigBlk:", "0000000000000000"), "%s", status);
	ck_assert_msg(has_line(status, "SigCgt:", "0000000000000000"), "%s", status);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		ck_assert_msg(fd <= 2 || fd == sv[1], "fd %d was inherited", fd);
		n++;
	}
	closedir(d);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(write(sv[0], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
	free(limits);
	free(status);
	close(sv[0]);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

/* A real compile inside the sandbox, with nothing but the allowlist:
 * LLVM set up before confinement, as in the zygote. */
START_TEST(test_compile_inside_sandbox)
{
	static const char ir[] =
		"define i64 @sq(i64 %a) {\n  %m = mul i64 %a, %a\n  ret i64 %m\n}\n";
	int sv[2], st;
	size_t got = 0;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		jf_compile_req_t req;
		jf_artifact_t art;
		uint8_t d[32];
		char err[512];
		uint64_t len;
		uint8_t b[8];

		close(sv[0]);
		if (jf_llvm_init() != 0)
			_exit(99);
		jf_sha256("", 0, d);
		jf_worker_llvm_prepare();
		if (jf_sandbox_apply(&conf, sv[1], err, sizeof(err)) != 0)
			_exit(100);
		memset(&req, 0, sizeof(req));
		req.ir = (const uint8_t *)ir;
		req.ir_len = strlen(ir);
		req.spec.opt = '2';
		if (jf_compile(&req, &art, NULL, err, sizeof(err)) != 0)
			_exit(101);
		len = art.payload_len;
		jf_put_u64(b, len);
		if (write(sv[1], b, 8) != 8)
			_exit(102);
		_exit(0);
	}
	close(sv[1]);
	{
		uint8_t b[8];

		ck_assert_int_eq(jf_read_full(sv[0], b, 8), 0);
		got = jf_get_u64(b);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
	ck_assert_uint_gt(got, 64);
	close(sv[0]);
}
END_TEST

START_TEST(test_bad_channel_refused)
{
	char err[128];

	ck_assert_int_eq(jf_sandbox_apply(&conf, 1, err, sizeof(err)), JF_ERR_INVAL);
}
END_TEST

int
main(void)
{
	TCase *tc;
	const TTest *tests[] = {
		test_plain_exit_allowed, test_abort_allowed, test_debug_names_call,
		test_confinement_as_seen_from_outside, test_compile_inside_sandbox,
		test_bad_channel_refused, NULL
	};
	Suite *s = jft_suite("sandbox", 60, tests, &tc);

	tcase_add_loop_test(tc, test_forbidden_call_kills, DO_OPEN, DO_NOTHING);
	return jft_suite_run(s) != 0;
}
