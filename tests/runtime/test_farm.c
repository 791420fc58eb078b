/*
 * test_farm.c - libjitfarm compiling through a real jitfarm-master (its
 * real sandboxed workers and a file store), and the local farm the
 * runtime starts by itself.
 *
 *  - under concurrent misses from 8 threads a program is promoted once,
 *    its IR asked for once and compiled once;
 *  - push: a second node on the same store, which never compiles, gains
 *    the program without a restart, loaded from the same artifact;
 *  - a compile failure becomes a negative entry (JF_INTERP_FAILED) that
 *    is not compiled again until its TTL has passed; a program the host
 *    declines is JF_INTERP_INELIGIBLE;
 *  - "local": the runtime spawns jitfarm-master on a private socket,
 *    compiles through it, and stops it at close.
 */
#include <errno.h>
#include <signal.h>

#include <dirent.h>
#include <sys/wait.h>

#include "rt_helpers.h"
#include "runtime/publish.h"
#include "runtime/rt.h"
#include "support.h"

static pid_t master_pid;
static int master_port;
static char *dir, *url, farm[64], logpath[600];

/* Program 1000 is garbage: the farm must refuse it. */
static uint8_t bad_id[32];

static int
provider_with_bad(void *arg, const uint8_t *id, const void **ir, size_t *len)
{
	if (memcmp(id, bad_id, 32) == 0) {
		atomic_fetch_add(&provider_calls, 1);
		*ir = strdup("this is not LLVM IR\n");
		*len = strlen(*ir);
		return 0;
	}
	return provider(arg, id, ir, len);
}

static void
setup(void)
{
	char store[600], listen[64];
	char *argv[16];

	memset(ev_count, 0, sizeof(ev_count));
	memset(ev_fail, 0, sizeof(ev_fail));
	atomic_store(&provider_calls, 0);
	memset(bad_id, 0xbd, sizeof(bad_id));
	ck_assert_int_eq(jf_llvm_init(), 0);
	dir = jft_tmpdir("rtfarm");
	url = file_url(dir);
	master_port = jft_free_port();
	snprintf(store, sizeof(store), "%s", url);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", master_port);
	snprintf(farm, sizeof(farm), "http://127.0.0.1:%d", master_port);
	snprintf(logpath, sizeof(logpath), "%s/master.log", dir);
	argv[0] = (char *)jft_test_bin("jitfarm-master");
	argv[1] = (char *)"--listen";
	argv[2] = listen;
	argv[3] = (char *)"--store";
	argv[4] = store;
	argv[5] = (char *)"--workers";
	argv[6] = (char *)"1";
	argv[7] = NULL;
	master_pid = jft_spawn(argv, logpath);
	ck_assert_int_gt(master_pid, 0);
	ck_assert_msg(jft_wait_port(master_port, 15000) == 0, "master did not start");
}

static void
teardown(void)
{
	jft_stop(master_pid);
	jft_rmtree(dir);
	free(dir);
	free(url);
}

START_TEST(test_compile_once_and_push)
{
	jf_runtime_t *a, *b;
	jf_config_t *ca, *cb;
	jf_decision_t da, db;
	uint8_t id[32];

	ca = rt_config(url, farm);
	jf_config_set_tune(ca, JF_TUNE_HOT_THRESHOLD, 10);
	a = rt_open(ca);
	/* node b never compiles: it only listens to the store */
	cb = rt_config(url, "none");
	jf_config_set_tune(cb, JF_TUNE_HOT_THRESHOLD, 1 << 20);
	b = rt_open(cb);

	prog_id(0, id);
	ck_assert_int_eq(jf_lookup(b, id).reason, JF_INTERP_NOT_READY);
	rt_lookup_storm(a, id, 500);
	da = wait_compiled(a, id, 30000);
	ck_assert_msg(da.fn != NULL, "not compiled: %s", jf_reason_str(da.reason));
	ck_assert_int_eq(((entry_fn)da.fn)(5), 6 * 2);
	usleep(100 * 1000);
	ck_assert_uint_eq(rt_stats(a).promotions, 1);
	ck_assert_uint_eq(rt_stats(a).compiles, 1);
	ck_assert_int_eq(atomic_load(&provider_calls), 1);
	ck_assert_int_eq(atomic_load(&ev_count[JF_EV_COMPILE]), 1);
	ck_assert_int_eq(atomic_load(&ev_fail[JF_EV_COMPILE]), 0);

	/* b heard of it: same program, same artifact, no restart */
	db = wait_compiled(b, id, 10000);
	ck_assert_ptr_nonnull(db.fn);
	ck_assert_int_eq(((entry_fn)db.fn)(5), 6 * 2);
	ck_assert_int_eq(memcmp(jf_program_key(da.prog), jf_program_key(db.prog), 32), 0);
	ck_assert_uint_eq(rt_stats(b).pushed, 1);
	ck_assert_uint_eq(rt_stats(b).compiles, 0);
	ck_assert_uint_eq(rt_stats(a).programs, rt_stats(b).programs);

	jf_runtime_close(a);
	jf_runtime_close(b);
	jf_config_free(ca);
	jf_config_free(cb);
}
END_TEST

START_TEST(test_failures_are_remembered)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	uint8_t unknown[32];
	uint64_t end;
	int i;

	c = rt_config(url, farm);
	jf_config_set_ir_provider(c, provider_with_bad, provider_release, NULL);
	jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, 5);
	jf_config_set_tune(c, JF_TUNE_NEGATIVE_TTL_MS, 1500);
	rt = rt_open(c);
	ck_assert_int_eq(jf_compile_now(rt, bad_id, 30000), JF_ERR_PARSE);
	ck_assert_int_eq(jf_lookup(rt, bad_id).reason, JF_INTERP_FAILED);
	/* more misses do not compile it again while the failure is remembered */
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(jf_lookup(rt, bad_id).reason, JF_INTERP_FAILED);
	usleep(100 * 1000);
	ck_assert_uint_eq(rt_stats(rt).compiles, 1);
	ck_assert_uint_eq(rt_stats(rt).compile_failures, 1);
	/* after the TTL it is tried again, once it turns hot again */
	usleep(1600 * 1000);
	end = jf_now_ns() + 20000000000ull;
	while (rt_stats(rt).compiles < 2 && jf_now_ns() < end) {
		(void)jf_lookup(rt, bad_id);
		usleep(5000);
	}
	ck_assert_uint_eq(rt_stats(rt).compiles, 2);

	/* a program the host does not know: ineligible, never sent */
	memset(unknown, 0x42, sizeof(unknown));
	ck_assert_int_eq(jf_compile_now(rt, unknown, 10000), JF_ERR_NOTFOUND);
	ck_assert_int_eq(jf_lookup(rt, unknown).reason, JF_INTERP_INELIGIBLE);
	ck_assert_uint_eq(rt_stats(rt).compiles, 2);
	jf_runtime_close(rt);
	jf_config_free(c);
}
END_TEST

START_TEST(test_local_farm)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	uint8_t id[32];
	pid_t pid;
	jf_decision_t d;

	c = rt_config(url, "local");
	ck_assert_int_eq(jf_config_set_local_master(c, jft_bin("jitfarm-master")), 0);
	rt = rt_open(c);
	pid = rt->master_pid;
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, 0), 0);
	prog_id(3, id);
	ck_assert_int_eq(jf_compile_now(rt, id, 30000), 0);
	d = jf_lookup(rt, id);
	ck_assert_ptr_nonnull(d.fn);
	ck_assert_int_eq(((entry_fn)d.fn)(1), 2 * 5);
	ck_assert_uint_eq(rt_stats(rt).compiles, 1);
	jf_runtime_close(rt);
	/* the farm went with the runtime */
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);

	/* a master that cannot be started is an error at open */
	ck_assert_int_eq(jf_config_set_local_master(c, "/nonexistent/jitfarm-master"), 0);
	{
		char err[512];

		rt = NULL;
		ck_assert_int_ne(jf_runtime_open(c, &rt, err, sizeof(err)), 0);
		ck_assert_ptr_null(rt);
		ck_assert(strstr(err, "local farm") != NULL);
	}
	jf_config_free(c);
}
END_TEST

/* Is pid a live process (not gone, not a zombie)? */
static int
alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int live = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL)
		live = p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return live;
}

/* The live processes whose command line mentions s; their pids in out. */
static int
procs_with(const char *s, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL && n < max) {
		char path[300], buf[8192];
		size_t len, i;
		pid_t pid = (pid_t)atoi(e->d_name);
		FILE *f;

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[len] = '\0';
		if (strstr(buf, s) != NULL && alive(pid))
			out[n++] = pid;
	}
	closedir(d);
	return n;
}

/* A host killed with SIGKILL takes its private master, the master's
 * zygote and the farm's directory with it. */
START_TEST(test_host_killed)
{
	int p[2], status;
	pid_t host, kids[32];
	char info[4200] = "", *dirp;
	ssize_t n;
	int nk, i;

	ck_assert_int_eq(pipe(p), 0);
	if ((host = fork()) == 0) {
		jf_config_t *c = rt_config(url, "local");
		jf_runtime_t *rt;
		uint8_t id[32];

		close(p[0]);
		ck_assert_int_eq(jf_config_set_local_master(c, jft_bin("jitfarm-master")), 0);
		rt = rt_open(c);
		prog_id(3, id);
		/* a compile, so the zygote and a worker are up too */
		ck_assert_int_eq(jf_compile_now(rt, id, 30000), 0);
		dprintf(p[1], "%d %s", (int)rt->master_pid, rt->master_dir);
		close(p[1]);
		for (;;)
			pause();
	}
	ck_assert_int_gt(host, 0);
	close(p[1]);
	n = read(p[0], info, sizeof(info) - 1);
	close(p[0]);
	info[n > 0 ? n : 0] = '\0';
	dirp = strchr(info, ' ');
	/* the processes of the farm mention its directory */
	nk = dirp != NULL ? procs_with(dirp + 1, kids, 32) : 0;
	ck_assert_int_eq(kill(host, SIGKILL), 0);
	ck_assert_int_eq(waitpid(host, &status, 0), host);
	ck_assert_ptr_nonnull(dirp);
	dirp++;
	ck_assert_int_ge(nk, 1);
	sleep(2);
	for (i = 0; i < nk; i++)
		ck_assert_msg(!alive(kids[i]), "process %d outlived its host", (int)kids[i]);
	ck_assert_int_eq(procs_with(dirp, kids, 32), 0);
	ck_assert_msg(access(dirp, F_OK) != 0, "%s outlived its host", dirp);
}
END_TEST

static Suite *
suite(void)
{
	const TTest *tests[] = {
		test_compile_once_and_push, test_failures_are_remembered, test_local_farm,
		test_host_killed, NULL
	};
	TCase *tc;
	Suite *s = jft_suite("farm", 120, tests, &tc);

	tcase_add_checked_fixture(tc, setup, teardown);
	return s;
}

int
main(void)
{
	return jft_suite_run(suite()) != 0;
}
