/*
 * test_pool.c - the zygote and the worker pool (worker/pool.c,
 * zygote.c, worker_loop.c) with real LLVM in real forked, sandboxed
 * workers. Faults come from the test-only hooks of the test build
 * ("; jitfarm-test-fault: ..." in the IR). Timeouts and TTLs are short
 * so the whole file runs in seconds.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/util.h"
#include "worker/pool.h"
#include "support.h"

static const char good_ll[] =
	"define i64 @add(i64 %a, i64 %b) {\n"
	"  %s = add i64 %a, %b\n"
	"  ret i64 %s\n"
	"}\n";

/* Passes the verifier, then aborts x86 code generation. */
static const char neon_ll[] =
	"declare void @llvm.aarch64.neon.st1x2.v8i8.p0(<8 x i8>, <8 x i8>, ptr)\n"
	"define void @f(<8 x i8> %a, <8 x i8> %b, ptr %p) {\n"
	"  call void @llvm.aarch64.neon.st1x2.v8i8.p0(<8 x i8> %a, <8 x i8> %b, ptr %p)\n"
	"  ret void\n"
	"}\n";

static char fault_buf[8][256];

/* IR that compiles, with a fault marker; n makes inputs distinct. */
static const char *
fault_ll(const char *fault, int n)
{
	char *b = fault_buf[n % 8];

	snprintf(b, sizeof(fault_buf[0]),
	    "; jitfarm-test-fault: %s\n"
	    "define i64 @g%d(i64 %%a) {\n  ret i64 %%a\n}\n", fault, n);
	return b;
}

static jf_compile_req_t
req_ll(const char *text)
{
	jf_compile_req_t r;

	memset(&r, 0, sizeof(r));
	r.ir = (const uint8_t *)text;
	r.ir_len = strlen(text);
	r.spec.opt = '1';
	r.producer = "test";
	return r;
}

static jf_pool_t *
make_pool(int workers, int ttl_s, int max_jobs)
{
	jf_pool_opts_t o;
	jf_pool_t *p = NULL;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.workers = workers;
	o.spares = 1;
	o.max_jobs = max_jobs;
	o.mem_limit = (size_t)1 << 30;
	o.timeout_ms = 20000;
	o.quarantine_ttl_s = ttl_s;
	ck_assert_msg(jf_pool_create(&o, &p, err, sizeof(err)) == 0, "pool: %s", err);
	ck_assert(jf_pool_ready(p));
	return p;
}

static int
compile_sync(jf_pool_t *p, const char *ir, int timeout_ms, char *err, size_t errlen)
{
	jf_compile_req_t r = req_ll(ir);
	jf_artifact_t a;
	int rc = jf_pool_compile(p, &r, timeout_ms, &a, err, errlen);

	if (rc == 0) {
		ck_assert_uint_gt(a.payload_len, 16);
		ck_assert_int_eq(memcmp(a.payload, "\177ELF", 4), 0);
	}
	jf_artifact_free(&a);
	return rc;
}

START_TEST(test_compile_ok)
{
	jf_pool_t *p = make_pool(1, 60, 0);
	jf_compile_req_t r = req_ll(good_ll);
	jf_pool_stats_t st;
	jf_artifact_t a;
	char err[512];
	int i;

	ck_assert_int_eq(jf_pool_compile(p, &r, 0, &a, err, sizeof(err)), 0);
	ck_assert_str_eq(a.m.symbols[0], "add");
	ck_assert_str_eq(a.m.producer, "test");
	jf_artifact_free(&a);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(compile_sync(p, good_ll, 0, err, sizeof(err)), 0);
	jf_pool_get_stats(p, &st);
	ck_assert_uint_eq(st.ok, 4);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_eq(st.crashes, 0);
	/* one worker served all four: no fork on the request path */
	ck_assert_uint_le(st.spawned, 2);
	jf_pool_destroy(p);
}
END_TEST



/*
 * One bad input on a one-worker pool: it fails with its own error, and the
 * next good request succeeds. Errors LLVM reports (parse) cost the worker,
 * which retires after any error, and are no crash; an LLVM fatal error
 * arrives as the frame its handler sent before the abort; the real
 * worker's sandbox kills a raw open() or socket() with SIGSYS; an abort()
 * is a crash named by its signal. Crashes are retried once.
 */
typedef struct failure_case {
	const char *ir;                 /* IR, or NULL for fault_ll(fault) */
	const char *fault;
	int code;
	const char *msg;                /* the whole message, or NULL */
	const char *part;               /* or a part of it */
	unsigned crashes;               /* counted in the stats */
} failure_case_t;

static const failure_case_t failures[] = {
	{ "define i64 @x( {", NULL, JF_ERR_PARSE, NULL, "expected", 0 },
	{ neon_ll, NULL, JF_ERR_FATAL,
	  "LLVM ERROR: Do not know how to widen this operator's operand!", NULL, 0 },
	{ NULL, "syscall-open", JF_ERR_CRASH, "worker killed by signal 31 (SIGSYS)", NULL, 2 },
	{ NULL, "syscall-socket", JF_ERR_CRASH, "worker killed by signal 31 (SIGSYS)", NULL, 2 },
	{ NULL, "abort", JF_ERR_CRASH, "worker killed by signal 6 (SIGABRT)", NULL, 2 },
};

START_TEST(test_one_failure)
{
	const failure_case_t *c = &failures[_i];
	jf_pool_t *p = make_pool(1, 60, 0);
	const char *ir = c->ir ? c->ir : fault_ll(c->fault, 20 + _i);
	jf_pool_stats_t st;
	char err[512];

	ck_assert_int_eq(compile_sync(p, ir, 0, err, sizeof(err)), c->code);
	if (c->msg != NULL)
		ck_assert_str_eq(err, c->msg);
	else
		ck_assert_msg(strstr(err, c->part) != NULL, "%s", err);
	ck_assert_int_eq(compile_sync(p, good_ll, 0, err, sizeof(err)), 0);
	jf_pool_get_stats(p, &st);
	/* a worker that answered an error retires; one that died is gone */
	ck_assert_uint_ge(st.retired, c->code == JF_ERR_PARSE ? 1 : 0);
	ck_assert_uint_eq(st.crashes, c->crashes);
	ck_assert_uint_eq(st.fatals, c->code == JF_ERR_FATAL);
	ck_assert_uint_eq(st.ok, 1);
	jf_pool_destroy(p);
}
END_TEST

typedef struct outcome {
	int done, result;
	char msg[256];
} outcome_t;

static void
on_done(jf_pool_result_t *res, void *arg)
{
	outcome_t *o = arg;

	o->done = 1;
	o->result = res->result;
	jf_strlcpy(o->msg, res->msg, sizeof(o->msg));
	if (res->result == 0)
		ck_assert_int_eq(memcmp(res->art.payload, "\177ELF", 4), 0);
	jf_artifact_free(&res->art);
}

static void
dispatch_until(jf_pool_t *p, outcome_t *o, int n, int limit_ms)
{
	uint64_t end = jf_now_ns() + (uint64_t)limit_ms * 1000000ull;

	for (;;) {
		struct pollfd pfd = { .fd = jf_pool_fd(p), .events = POLLIN };
		int i, left = 0;

		for (i = 0; i < n; i++)
			left += !o[i].done;
		if (left == 0)
			return;
		ck_assert_msg(jf_now_ns() < end, "%d requests still pending", left);
		poll(&pfd, 1, 100);
		jf_pool_dispatch(p);
	}
}

/* A segfault, a hang and an OOM at once, among good requests: each
 * fault gets its own error and every good request succeeds. */
START_TEST(test_faults_contained)
{
	jf_pool_t *p = make_pool(2, 60, 0);
	enum { NGOOD = 8 };
	outcome_t o[3 + NGOOD];
	jf_compile_req_t r;
	jf_pool_stats_t st;
	int i;

	memset(o, 0, sizeof(o));
	r = req_ll(fault_ll("segv", 1));
	ck_assert_int_eq(jf_pool_submit(p, &r, NULL, 0, on_done, &o[0]), 0);
	r = req_ll(fault_ll("hang", 2));
	ck_assert_int_eq(jf_pool_submit(p, &r, NULL, 800, on_done, &o[1]), 0);
	r = req_ll(fault_ll("oom", 3));
	ck_assert_int_eq(jf_pool_submit(p, &r, NULL, 0, on_done, &o[2]), 0);
	for (i = 0; i < NGOOD; i++) {
		r = req_ll(good_ll);
		ck_assert_int_eq(jf_pool_submit(p, &r, NULL, 0, on_done, &o[3 + i]), 0);
	}
	dispatch_until(p, o, 3 + NGOOD, 60000);
	ck_assert_int_eq(o[0].result, JF_ERR_CRASH);
	ck_assert_str_eq(o[0].msg, "worker killed by signal 11 (SIGSEGV)");
	ck_assert_int_eq(o[1].result, JF_ERR_TIMEOUT);
	ck_assert_str_eq(o[1].msg, "timeout after 800 ms");
	ck_assert_int_eq(o[2].result, JF_ERR_OOM);
	ck_assert_msg(strstr(o[2].msg, "out of memory") != NULL, "%s", o[2].msg);
	for (i = 0; i < NGOOD; i++)
		ck_assert_msg(o[3 + i].result == 0, "good request %d: %s", i, o[3 + i].msg);
	jf_pool_get_stats(p, &st);
	ck_assert_uint_eq(st.crashes, 2);       /* the segfault and its one retry */
	ck_assert_uint_eq(st.retries, 1);
	ck_assert_uint_eq(st.timeouts, 1);
	ck_assert_uint_eq(st.ooms, 1);
	ck_assert_uint_eq(st.ok, NGOOD);
	jf_pool_destroy(p);
}
END_TEST

/* Two crashes quarantine the input; it is refused at once with the
 * recorded error until the TTL passes, then tried again. */
START_TEST(test_quarantine_and_expiry)
{
	jf_pool_t *p = make_pool(1, 1, 0);
	const char *ir = fault_ll("segv", 4);
	jf_pool_stats_t st;
	char err[512];
	uint64_t t0;

	ck_assert_int_eq(compile_sync(p, ir, 0, err, sizeof(err)), JF_ERR_CRASH);
	ck_assert_str_eq(err, "worker killed by signal 11 (SIGSEGV)");
	t0 = jf_now_ns();
	ck_assert_int_eq(compile_sync(p, ir, 0, err, sizeof(err)), JF_ERR_QUARANTINED);
	ck_assert_uint_lt(jf_now_ns() - t0, 50000000ull);       /* at once */
	ck_assert_msg(strstr(err, "signal 11 (SIGSEGV)") != NULL, "%s", err);
	/* other inputs are not affected */
	ck_assert_int_eq(compile_sync(p, good_ll, 0, err, sizeof(err)), 0);
	jf_pool_get_stats(p, &st);
	ck_assert_uint_eq(st.crashes, 2);
	ck_assert_uint_eq(st.quarantined, 1);
	usleep(1100 * 1000);
	ck_assert_int_eq(compile_sync(p, ir, 0, err, sizeof(err)), JF_ERR_CRASH);
	jf_pool_destroy(p);
}
END_TEST

/* Timeouts and OOMs are not retried, and quarantine only on repeat. */
START_TEST(test_oom_and_timeout_quarantine_on_repeat)
{
	jf_pool_t *p = make_pool(1, 60, 0);
	const char *oom = fault_ll("oom", 5), *hang = fault_ll("hang", 6);
	jf_pool_stats_t st;
	char err[512];

	ck_assert_int_eq(compile_sync(p, oom, 0, err, sizeof(err)), JF_ERR_OOM);
	ck_assert_int_eq(compile_sync(p, oom, 0, err, sizeof(err)), JF_ERR_OOM);
	ck_assert_int_eq(compile_sync(p, oom, 0, err, sizeof(err)), JF_ERR_QUARANTINED);
	ck_assert_int_eq(compile_sync(p, hang, 300, err, sizeof(err)), JF_ERR_TIMEOUT);
	ck_assert_str_eq(err, "timeout after 300 ms");
	ck_assert_int_eq(compile_sync(p, hang, 300, err, sizeof(err)), JF_ERR_TIMEOUT);
	ck_assert_int_eq(compile_sync(p, hang, 300, err, sizeof(err)), JF_ERR_QUARANTINED);
	jf_pool_get_stats(p, &st);
	ck_assert_uint_eq(st.retries, 0);
	ck_assert_uint_eq(st.ooms, 2);
	ck_assert_uint_eq(st.timeouts, 2);
	jf_pool_destroy(p);
}
END_TEST


/* Workers retire after max_jobs; the spare keeps requests off fork(). */
START_TEST(test_recycling)
{
	jf_pool_t *p = make_pool(1, 60, 2);
	jf_pool_stats_t st;
	char err[512];
	int i;

	for (i = 0; i < 6; i++)
		ck_assert_int_eq(compile_sync(p, good_ll, 0, err, sizeof(err)), 0);
	jf_pool_get_stats(p, &st);
	/* which worker takes which job varies; 6 jobs of at most 2 each */
	ck_assert_uint_ge(st.retired, 2);
	ck_assert_uint_ge(st.spawned, 3);
	jf_pool_destroy(p);
}
END_TEST

/* A 64 MiB module (mostly one comment) goes through the pool. */
START_TEST(test_large_input)
{
	jf_pool_t *p = make_pool(1, 60, 0);
	size_t n = (64u << 20) - 4096, hl = strlen(good_ll);
	char *ir = malloc(n + 1), err[512];
	jf_compile_req_t r;
	jf_artifact_t a;

	ck_assert_ptr_nonnull(ir);
	memset(ir, 'x', n);
	ir[0] = ';';
	memcpy(ir + n - hl - 1, "\n", 1);
	memcpy(ir + n - hl, good_ll, hl);
	ir[n] = '\0';
	r = req_ll(ir);
	ck_assert_uint_eq(r.ir_len, n);
	ck_assert_msg(jf_pool_compile(p, &r, 60000, &a, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(a.m.symbols[0], "add");
	jf_artifact_free(&a);
	free(ir);
	jf_pool_destroy(p);
}
END_TEST

/* Pids whose parent is ppid (from /proc). */
static int
children_of(pid_t ppid, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL && n < max) {
		char path[64], buf[512], *cp;
		FILE *f;
		int pp = 0;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL && (cp = strrchr(buf, ')')) != NULL &&
		    sscanf(cp + 2, "%*c %d", &pp) == 1 && pp == ppid)
			out[n++] = atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Gone or a zombie waiting for init. */
static int
is_dead(pid_t pid)
{
	char path[64], buf[512], *cp;
	FILE *f;
	int dead = 1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	if (fgets(buf, sizeof(buf), f) != NULL && (cp = strrchr(buf, ')')) != NULL)
		dead = cp[2] == 'Z' || cp[2] == 'X';
	fclose(f);
	return dead;
}

static void
ignore_done(jf_pool_result_t *res, void *arg)
{
	(void)arg;
	jf_artifact_free(&res->art);
}

/* SIGKILL the pool's process while a worker hangs in a compile and a
 * spare waits: the zygote and every worker go with it. */
START_TEST(test_master_death_leaves_no_orphans)
{
	int pfd[2];
	pid_t master, zpid, kids[16];
	int nk = 0, i, st;
	uint64_t end;

	ck_assert_int_eq(pipe(pfd), 0);
	master = fork();
	ck_assert_int_ge(master, 0);
	if (master == 0) {
		jf_pool_t *p = make_pool(1, 60, 0);
		jf_compile_req_t r = req_ll(fault_ll("hang", 10));
		pid_t z;

		close(pfd[0]);
		jf_pool_submit(p, &r, NULL, 60000, ignore_done, NULL);
		z = jf_pool_zygote_pid(p);
		if (write(pfd[1], &z, sizeof(z)) != sizeof(z))
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], &zpid, sizeof(zpid)), (ssize_t)sizeof(zpid));
	close(pfd[0]);
	ck_assert_int_gt(zpid, 0);
	/* wait for the busy worker and the spare */
	end = jf_now_ns() + 10000000000ull;
	while ((nk = children_of(zpid, kids, 16)) < 2 && jf_now_ns() < end)
		usleep(10000);
	ck_assert_int_ge(nk, 2);
	ck_assert_int_eq(kill(master, SIGKILL), 0);
	ck_assert_int_eq(waitpid(master, &st, 0), master);
	end = jf_now_ns() + 5000000000ull;
	while (jf_now_ns() < end) {
		int alive = !is_dead(zpid);

		for (i = 0; i < nk; i++)
			alive += !is_dead(kids[i]);
		if (alive == 0)
			break;
		usleep(10000);
	}
	ck_assert_msg(is_dead(zpid), "zygote %d survived its master", (int)zpid);
	for (i = 0; i < nk; i++)
		ck_assert_msg(is_dead(kids[i]), "worker %d survived its master", (int)kids[i]);
}
END_TEST

/* Kill the zygote: the pool starts a new one (a re-exec of this test
 * binary in zygote mode) and compiles go on without a failure. */
START_TEST(test_zygote_restart)
{
	jf_pool_t *p = make_pool(1, 60, 0);
	jf_pool_stats_t st;
	char err[512];
	pid_t z1, z2 = 0;
	uint64_t end;

	ck_assert_int_eq(compile_sync(p, good_ll, 0, err, sizeof(err)), 0);
	z1 = jf_pool_zygote_pid(p);
	ck_assert_int_gt(z1, 0);
	ck_assert_int_eq(kill(z1, SIGKILL), 0);
	ck_assert_msg(compile_sync(p, good_ll, 20000, err, sizeof(err)) == 0, "%s", err);
	/* the compile may have beaten the zygote's death to an idle worker */
	end = jf_now_ns() + 10000000000ull;
	while (((z2 = jf_pool_zygote_pid(p)) == 0 || z2 == z1) && jf_now_ns() < end)
		usleep(10000);
	ck_assert_int_gt(z2, 0);
	ck_assert_int_ne(z1, z2);
	jf_pool_get_stats(p, &st);
	ck_assert_uint_eq(st.zygote_restarts, 1);
	ck_assert_uint_eq(st.failed, 0);
	/* the new zygote is this binary in zygote mode */
	{
		char path[64], comm[64] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)z2);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(fgets(comm, sizeof(comm), f));
		fclose(f);
		ck_assert_str_eq(comm, "jitfarm-zygote\n");
	}
	ck_assert_int_eq(compile_sync(p, good_ll, 0, err, sizeof(err)), 0);
	jf_pool_destroy(p);
}
END_TEST

/* A request in flight when the zygote dies (its workers die with it) is
 * not the input's fault: it is re-queued and runs again on a worker of
 * the new zygote, where this one runs into its deadline. */
START_TEST(test_zygote_death_requeues_in_flight)
{
	jf_pool_t *p = make_pool(1, 60, 0);
	jf_compile_req_t r = req_ll(fault_ll("hang", 13));
	jf_pool_stats_t st;
	outcome_t o;
	uint64_t end = jf_now_ns() + 10000000000ull;
	pid_t z;

	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(jf_pool_submit(p, &r, NULL, 1500, on_done, &o), 0);
	do {
		usleep(5000);
		jf_pool_get_stats(p, &st);
	} while (st.busy == 0 && jf_now_ns() < end);
	ck_assert_uint_eq(st.busy, 1);
	z = jf_pool_zygote_pid(p);
	ck_assert_int_eq(kill(z, SIGKILL), 0);
	dispatch_until(p, &o, 1, 20000);
	ck_assert_int_eq(o.result, JF_ERR_TIMEOUT);
	ck_assert_str_eq(o.msg, "timeout after 1500 ms");
	jf_pool_get_stats(p, &st);
	ck_assert_uint_eq(st.crashes, 0);
	ck_assert_uint_eq(st.zygote_restarts, 1);
	jf_pool_destroy(p);
}
END_TEST

/* Destroy with work in flight: every request completes with CLOSED. */
START_TEST(test_destroy_completes_pending)
{
	jf_pool_t *p = make_pool(1, 60, 0);
	outcome_t o[3];
	jf_compile_req_t r;
	int i;

	memset(o, 0, sizeof(o));
	r = req_ll(fault_ll("hang", 11));
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(jf_pool_submit(p, &r, NULL, 60000, on_done, &o[i]), 0);
	usleep(100000);
	jf_pool_destroy(p);
	for (i = 0; i < 3; i++) {
		ck_assert(o[i].done);
		ck_assert_int_eq(o[i].result, JF_ERR_CLOSED);
	}
}
END_TEST

START_TEST(test_queue_limit)
{
	jf_pool_opts_t o;
	jf_pool_t *p = NULL;
	outcome_t out[4];
	jf_compile_req_t r = req_ll(fault_ll("hang", 12));
	char err[256];
	int i, busy = 0;

	memset(&o, 0, sizeof(o));
	memset(out, 0, sizeof(out));
	o.workers = 1;
	o.queue_limit = 2;
	ck_assert_int_eq(jf_pool_create(&o, &p, err, sizeof(err)), 0);
	for (i = 0; i < 4; i++) {
		int rc = jf_pool_submit(p, &r, NULL, 60000, on_done, &out[i]);

		busy += rc == JF_ERR_BUSY;
		ck_assert(rc == 0 || rc == JF_ERR_BUSY);
	}
	ck_assert_int_ge(busy, 1);
	ck_assert_int_eq(jf_pool_submit(NULL, &r, NULL, 0, on_done, NULL), JF_ERR_INVAL);
	jf_pool_destroy(p);
}
END_TEST

/* Workers that die as they start: spawning backs off instead of
 * spinning, and a request that never gets a worker times out. */
START_TEST(test_crash_loop_backs_off)
{
	jf_pool_stats_t st;
	jf_pool_t *p;
	char err[512];

	setenv("JITFARM_TEST_WORKER_EXIT", "1", 1);
	p = make_pool(1, 60, 0);
	unsetenv("JITFARM_TEST_WORKER_EXIT");
	ck_assert_int_eq(compile_sync(p, good_ll, 1500, err, sizeof(err)), JF_ERR_TIMEOUT);
	ck_assert_str_eq(err, "timeout after 1500 ms waiting for a worker");
	jf_pool_get_stats(p, &st);
	/* without backoff this is thousands of forks in 1.5 s */
	ck_assert_uint_ge(st.spawned, 3);
	ck_assert_uint_le(st.spawned, 20);
	ck_assert_uint_eq(st.crashes, 0);       /* no request was at fault */
	jf_pool_destroy(p);
}
END_TEST

int
main(int argc, char **argv)
{
	Suite *s;
	TCase *tc;

	/* the pool re-executes this binary to restart a zygote */
	jf_zygote_main_if_requested(argc, argv);
	s = suite_create("pool");
	tc = tcase_create("pool");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_compile_ok);
	tcase_add_loop_test(tc, test_one_failure, 0, (int)JF_ARRAY_LEN(failures));
	tcase_add_test(tc, test_faults_contained);
	tcase_add_test(tc, test_quarantine_and_expiry);
	tcase_add_test(tc, test_oom_and_timeout_quarantine_on_repeat);
	tcase_add_test(tc, test_recycling);
	tcase_add_test(tc, test_large_input);
	tcase_add_test(tc, test_master_death_leaves_no_orphans);
	tcase_add_test(tc, test_zygote_restart);
	tcase_add_test(tc, test_zygote_death_requeues_in_flight);
	tcase_add_test(tc, test_destroy_completes_pending);
	tcase_add_test(tc, test_queue_limit);
	tcase_add_test(tc, test_crash_loop_backs_off);
	suite_add_tcase(s, tc);
	return jft_suite_run(s) != 0;
}
