/*
 * sandbox.c - the worker's confinement (sandbox.h).
 *
 * The order follows openssh's seccomp sandbox: first take away what the
 * process already holds (inherited fds, signal handlers, a blocked
 * mask), then cap what it may consume (rlimits), then make privilege
 * gain impossible (no_new_privs), and last install a seccomp allowlist
 * that checks the architecture and kills on anything not listed. The
 * list is what compiling LLVM IR needs, found by tracing real compiles:
 * memory management, reading its request and writing its answer on the
 * channel it already holds, futexes, and the few calls glibc and LLVM
 * make for time, identity and abort(). Nothing that opens a file or a
 * socket, creates a process or signals another process is on it.
 *
 * Under AddressSanitizer (JF_SANITIZE) the address-space limit cannot
 * apply: ASan reserves terabytes of shadow memory up front, so any
 * RLIMIT_AS would make every later mmap fail. That build skips it, and
 * its filter allows the few extra calls the sanitizer runtime makes.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "common/util.h"
#include "worker/proto.h"
#include "worker/sandbox.h"

/*
 * The calls a compile makes (strace -f of real compiles, .ll and .bc, O0
 * to O3): reading the request and writing the answer, memory, futexes
 * (call_once), getrusage for the RSS report, and exit. The rest are for
 * paths that are rare but legitimate: glibc's abort() (sigaction,
 * sigprocmask, tgkill to itself), LLVM's warnings on stderr (isatty
 * through ioctl TCGETS; the zygote has already made LLVM's stream
 * objects, which would fstat, see jf_worker_llvm_prepare), gethostname (uname) for a
 * manifest's default producer, and time.
 */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(lseek),
	SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
	SCMP_SYS(futex), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(getrusage),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(uname), SCMP_SYS(getrandom),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(sched_yield), SCMP_SYS(restart_syscall),
	/* glibc's qsort asks for the machine's memory size (sysinfo) the
	 * first time it sorts more than 1 KiB; LLVM sorts with qsort
	 * (array_pod_sort), so any module of some size reaches it */
	SCMP_SYS(sysinfo),
#ifdef JF_SANITIZE
	/* the sanitizer runtimes' own bookkeeping and reports */
	SCMP_SYS(sigaltstack), SCMP_SYS(prctl), SCMP_SYS(getppid),
#endif
};

/* args[0] of struct seccomp_data, as two 32-bit loads */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG0_LO (offsetof(struct seccomp_data, args[0]))
#define ARG0_HI (offsetof(struct seccomp_data, args[0]) + 4)
#else
#define ARG0_LO (offsetof(struct seccomp_data, args[0]) + 4)
#define ARG0_HI (offsetof(struct seccomp_data, args[0]))
#endif

static volatile int trap_fd = -1;

/* Debug mode: name the denied call on the channel, then die. Only
 * async-signal-safe work: format a number, write, _exit. */
static void
sigsys_report(int sig, siginfo_t *si, void *uc)
{
	char msg[64] = "blocked system call ";
	uint8_t hdr[JF_PROTO_HDR_LEN];
	jf_frame_hdr_t h;
	char num[16];
	size_t n = 0, len = strlen(msg);
	unsigned v = (unsigned)si->si_syscall;

	(void)sig;
	(void)uc;
	do {
		num[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < sizeof(num));
	while (n > 0)
		msg[len++] = num[--n];
	memset(&h, 0, sizeof(h));
	h.type = JF_FRAME_SANDBOX;
	h.len = len;
	h.status = si->si_syscall;
	jf_frame_hdr_encode(hdr, &h);
	if (write(trap_fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr) &&
	    write(trap_fd, msg, len) == (ssize_t)len)
		_exit(JF_WORKER_EXIT_DENIED);
	_exit(JF_WORKER_EXIT_DENIED);
}

static int
close_inherited(int fd, char *err, size_t errlen)
{
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	int i;

	if (nul < 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: /dev/null: %s", strerror(errno));
	for (i = 0; i < 3; i++)
		if (dup2(nul, i) < 0)
			return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: dup2: %s", strerror(errno));
	if (nul > 2)
		close(nul);
	if (fd > 3 && syscall(SYS_close_range, 3u, (unsigned)fd - 1, 0u) < 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: close_range: %s", strerror(errno));
	if (syscall(SYS_close_range, (unsigned)fd + 1, ~0u, 0u) < 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: close_range: %s", strerror(errno));
	return 0;
}

static int
reset_signals(const jf_sandbox_conf_t *c, int fd, char *err, size_t errlen)
{
	struct sigaction sa;
	sigset_t all;
	int s;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (s = 1; s < NSIG; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		/* glibc's reserved real-time signals refuse; that is fine */
		if (sigaction(s, &sa, NULL) < 0 && errno != EINVAL)
			return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: sigaction %d: %s", s, strerror(errno));
	}
	if (c->debug) {
		trap_fd = fd;
		sa.sa_handler = NULL;
		sa.sa_sigaction = sigsys_report;
		sa.sa_flags = SA_SIGINFO;
		if (sigaction(SIGSYS, &sa, NULL) < 0)
			return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: sigaction SIGSYS: %s", strerror(errno));
	}
	sigemptyset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: sigprocmask: %s", strerror(errno));
	return 0;
}

static int
set_limit(int res, rlim_t soft, rlim_t hard, const char *name, char *err, size_t errlen)
{
	struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };

	if (setrlimit(res, &rl) < 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: setrlimit %s: %s", name, strerror(errno));
	return 0;
}

static int
set_limits(const jf_sandbox_conf_t *c, int fd, char *err, size_t errlen)
{
	int r;

	if (c->cpu_limit_s > 0 &&
	    (r = set_limit(RLIMIT_CPU, c->cpu_limit_s, (rlim_t)c->cpu_limit_s + 1, "CPU", err, errlen)))
		return r;
#ifndef JF_SANITIZE
	if (c->mem_limit > 0 &&
	    (r = set_limit(RLIMIT_AS, c->mem_limit, c->mem_limit, "AS", err, errlen)))
		return r;
#endif
	if ((r = set_limit(RLIMIT_NOFILE, (rlim_t)fd + 1, (rlim_t)fd + 1, "NOFILE", err, errlen)) ||
	    (r = set_limit(RLIMIT_FSIZE, 0, 0, "FSIZE", err, errlen)) ||
	    (r = set_limit(RLIMIT_CORE, 0, 0, "CORE", err, errlen)) ||
	    (r = set_limit(RLIMIT_NPROC, 0, 0, "NPROC", err, errlen)))
		return r;
	return 0;
}

/*
 * The allowlist is compiled to BPF once per mode (kill or trap) and kept:
 * the zygote calls jf_sandbox_prepare() before it forks, so a worker only
 * hands the kernel a ready program instead of running libseccomp's
 * compiler on every spawn.
 */
static struct sock_fprog progs[2];

static int
build_prog(int debug, struct sock_fprog *out, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	struct sock_filter *code = NULL;
	off_t size;
	size_t i;
	int rc = 0, r = JF_ERR_SYSTEM, mfd = -1;

	ctx = seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: seccomp_init failed");
	/* a call made through another ABI is refused, not translated */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
		goto fail;
	for (i = 0; i < JF_ARRAY_LEN(allowed); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0)) < 0)
			goto fail;
	/* memory may be mapped, but never made executable */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0)
		goto fail;
	/* isatty() on stderr, for LLVM's coloured warnings */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, TCGETS))) < 0)
		goto fail;
	/* abort() signals itself; the per-process filter below refuses
	 * every other target */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 0)) < 0)
		goto fail;
	if ((mfd = memfd_create("jitfarm-seccomp", MFD_CLOEXEC)) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = seccomp_export_bpf(ctx, mfd)) < 0)
		goto fail;
	size = lseek(mfd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
	    size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS ||
	    (code = jf_malloc((size_t)size)) == NULL ||
	    pread(mfd, code, (size_t)size, 0) != size) {
		rc = -EIO;
		goto fail;
	}
	out->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	out->filter = code;     /* kept for the life of the process */
	code = NULL;
	r = 0;
	goto out;
fail:
	jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: seccomp: %s", strerror(-rc));
out:
	jf_free(code);
	if (mfd >= 0)
		close(mfd);
	seccomp_release(ctx);
	return r;
}

int
jf_sandbox_prepare(char *err, size_t errlen)
{
	int d, r;

	for (d = 0; d < 2; d++)
		if (progs[d].filter == NULL && (r = build_prog(d, &progs[d], err, errlen)) != 0)
			return r;
	return 0;
}

static int
install_filter(const jf_sandbox_conf_t *c, char *err, size_t errlen)
{
	/*
	 * A filter per process: tgkill only to this process. The
	 * kernel runs both and the strictest verdict wins; a foreign
	 * architecture is already killed by the first.
	 */
	uint32_t pid = (uint32_t)getpid();
	uint32_t deny = c->debug ? SECCOMP_RET_TRAP : SECCOMP_RET_KILL_PROCESS;
	struct sock_filter self_only[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_tgkill, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pid, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_HI),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, deny),
	};
	struct sock_fprog second = { .len = JF_ARRAY_LEN(self_only), .filter = self_only };
	const struct sock_fprog *first = &progs[c->debug ? 1 : 0];

	if (first->filter == NULL)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: filter not prepared");
	/* the narrow one first: once the allowlist is on, prctl is gone */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &second) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, first) < 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: seccomp: %s", strerror(errno));
	return 0;
}

int
jf_sandbox_apply(const jf_sandbox_conf_t *conf, int fd, char *err, size_t errlen)
{
	int r;

	if (fd < 3)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "sandbox: channel fd %d < 3", fd);
	/* normally done by the zygote already; needs an fd, so goes first */
	if ((r = jf_sandbox_prepare(err, errlen)) != 0)
		return r;
	if ((r = close_inherited(fd, err, errlen)) ||
	    (r = reset_signals(conf, fd, err, errlen)) ||
	    (r = set_limits(conf, fd, err, errlen)))
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "sandbox: no_new_privs: %s", strerror(errno));
	return install_filter(conf, err, errlen);
}
