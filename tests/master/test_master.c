/*
 * test_master.c - the master daemon end to end: the real test-hook build
 * of jitfarm-master on a free loopback port, a file store in a temp dir,
 * real sandboxed workers, and requests through farmclient and libcurl.
 *
 * Each test starts its own master (about half a second) so that metrics,
 * flags and failures never leak between tests. The test hooks of the
 * master (JF_TEST_HOLD_MS keeps a finished compile in flight for a while,
 * JF_TEST_FAIL_PUT makes store puts fail) let the tests hold a compile
 * open without depending on how fast LLVM is on the machine.
 */
#define _GNU_SOURCE 1
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>

#include <curl/curl.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/json.h"
#include "common/mem.h"
#include "storage/store.h"
#include "client/farmclient.h"
#include "common/util.h"
#include "master.h"
#include "servers.h"
#include "sse.h"
#include "http.h"
#include "support.h"


typedef jft_master_t master_t;

/* Start the test-hook master (tests/support/master.h) with extra flags;
 * the test fails when it does not come up. */
static void
master_start(master_t *m, const char *tag, const char *const *extra)
{
	jft_master_opts_t o = { .args = extra };

	ck_assert_msg(jft_master_start(m, tag, &o) == 0, "master %s did not start", tag);
}

/* Stop a master as an operator would (SIGTERM) and insist that it exits
 * 0 with no sanitizer report in its log. */
static void
master_stop(master_t *m)
{
	char why[512];

	ck_assert_msg(jft_master_stop(m, why, sizeof(why)) == 0, "%s", why);
}

static void
master_check_exit(pid_t pid, const char *logpath)
{
	char why[512];

	ck_assert_msg(jft_master_reap(pid, logpath, why, sizeof(why)) == 0, "%s", why);
}

/* The value of one metric line "name value" (exact name with labels). */
static double
metric(const master_t *m, const char *name)
{
	char url[256], pat[256], *p;
	jft_resp_t b;
	double v = -1;

	snprintf(url, sizeof(url), "%s/metrics", m->url);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 200);
	snprintf(pat, sizeof(pat), "\n%s ", name);
	if ((p = strstr(b.body, pat)) != NULL)
		v = strtod(p + strlen(pat), NULL);
	jft_resp_free(&b);
	return v;
}

/* Wait (up to 30 s) until metric name reaches at least want. */
static void
metric_wait(const master_t *m, const char *name, double want)
{
	uint64_t end = jf_now_ns() + 30000000000ull;

	while (metric(m, name) < want) {
		ck_assert_msg(jf_now_ns() < end, "%s never reached %g", name, want);
		usleep(20000);
	}
}

static jf_farm_t *
farm(const master_t *m, const char *token)
{
	jf_farm_opts_t o = { .url = m->url, .token = token, .timeout_ms = 60000 };
	jf_farm_t *f = NULL;
	char err[256];

	ck_assert_msg(jf_farm_open(&o, &f, err, sizeof(err)) == 0, "%s", err);
	return f;
}

static int
compile_ns(jf_farm_t *f, const char *ns, jf_farm_result_t *res, char *err, size_t errlen)
{
	jf_farm_compile_t c = { .ir = (const uint8_t *)jft_add_ll, .ir_len = strlen(jft_add_ll) };

	ck_assert_int_eq(jf_spec_set(&c.spec, ns, NULL, NULL, NULL, NULL, '2', err, errlen), 0);
	return jf_farm_compile(f, &c, res, err, errlen);
}

/* --- compile, hit, artifacts ------------------------------------------------- */

START_TEST(t_compile_hit_and_artifacts)
{
	master_t m;
	jf_farm_t *f;
	jf_farm_result_t r1, r2;
	jf_artifact_t a;
	char err[1024], hex[65], url[256];
	uint8_t *blob;
	size_t len;
	uint64_t size;
	jft_resp_t b;

	master_start(&m, "m-basic", NULL);
	f = farm(&m, NULL);
	ck_assert_msg(compile_ns(f, "t", &r1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r1.status, 200);
	ck_assert_str_eq(r1.cache, "miss");
	ck_assert_int_eq(jf_blob_decode(r1.blob, r1.blob_len, NULL, &a, err, sizeof(err)), 0);
	ck_assert(jf_key_eq(&a.m.key, &r1.key));
	ck_assert_str_eq(a.m.ns, "t");
	ck_assert_int_eq(a.m.nsymbols, 1);
	ck_assert_str_eq(a.m.symbols[0], "add");
	jf_artifact_free(&a);

	ck_assert_msg(compile_ns(f, "t", &r2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(r2.cache, "hit");
	ck_assert_int_eq(r2.blob_len, r1.blob_len);
	ck_assert(memcmp(r1.blob, r2.blob, r1.blob_len) == 0);

	ck_assert_int_eq(jf_farm_get(f, &r1.key, &blob, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(len, r1.blob_len);
	ck_assert(memcmp(blob, r1.blob, len) == 0);
	jf_free(blob);
	ck_assert_int_eq(jf_farm_head(f, &r1.key, &size, err, sizeof(err)), 0);
	ck_assert_int_eq(size, r1.blob_len);

	/* the listing names it */
	jf_key_hex(&r1.key, hex);
	snprintf(url, sizeof(url), "%s/v1/artifacts", m.url);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 200);
	ck_assert_ptr_nonnull(strstr(b.body, hex));
	jft_resp_free(&b);

	ck_assert_int_eq(metric(&m, "jitfarm_compiles_total{result=\"ok\"}"), 1);
	ck_assert_int_eq(metric(&m, "jitfarm_cache_hits_total"), 1);
	ck_assert_int_eq(metric(&m, "jitfarm_cache_misses_total"), 1);

	/* delete (open mode: no token file), then it is gone */
	ck_assert_int_eq(jf_farm_delete(f, &r1.key, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_farm_get(f, &r1.key, &blob, &len, err, sizeof(err)), JF_ERR_NOTFOUND);
	ck_assert_int_eq(jf_farm_head(f, &r1.key, NULL, err, sizeof(err)), JF_ERR_NOTFOUND);

	/* health */
	snprintf(url, sizeof(url), "%s/healthz", m.url);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 200);
	jft_resp_free(&b);
	snprintf(url, sizeof(url), "%s/readyz", m.url);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 200);
	ck_assert_ptr_nonnull(strstr(b.body, "\"ready\":true"));
	jft_resp_free(&b);

	jf_farm_result_free(&r1);
	jf_farm_result_free(&r2);
	jf_farm_close(f);
	master_stop(&m);
}
END_TEST

START_TEST(t_wait0_and_unix_socket)
{
	master_t m;
	jf_farm_t *f, *fu;
	jf_farm_opts_t o = { 0 };
	jf_farm_result_t r;
	jf_farm_compile_t c = { .ir = (const uint8_t *)jft_add_ll, .ir_len = strlen(jft_add_ll),
		.spec.ns = "w0", .nowait = 1 };
	char err[1024], sock[600], lis[620];
	int i, got = JF_ERR_NOTFOUND;

	{
		char *d = jft_tmpdir("m-sock");

		snprintf(sock, sizeof(sock), "%s/m.sock", d);
		free(d);
	}
	snprintf(lis, sizeof(lis), "unix:%s", sock);
	master_start(&m, "m-wait0", NULL);
	f = farm(&m, NULL);
	ck_assert_msg(jf_farm_compile(f, &c, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r.status, 202);
	for (i = 0; i < 200 && got != 0; i++) {
		got = jf_farm_head(f, &r.key, NULL, err, sizeof(err));
		if (got != 0)
			usleep(20000);
	}
	ck_assert_int_eq(got, 0);
	jf_farm_close(f);
	master_stop(&m);

	/* a second master serves only a unix socket */
	{
		master_t mu;
		jft_master_opts_t mo = { .listen = lis, .workers = "1" };

		ck_assert_int_eq(jft_master_start(&mu, "m-unix", &mo), 0);
		ck_assert_str_eq(mu.url, lis);
		o.url = lis;
		ck_assert_int_eq(jf_farm_open(&o, &fu, err, sizeof(err)), 0);
		ck_assert_msg(compile_ns(fu, "u", &r, err, sizeof(err)) == 0, "%s", err);
		ck_assert_str_eq(r.cache, "miss");
		jf_farm_result_free(&r);
		jf_farm_close(fu);
		master_stop(&mu);
	}
}
END_TEST

/* --- errors -------------------------------------------------------------------- */

START_TEST(t_errors)
{
	master_t m;
	const char *extra[] = { "--max-request-bytes", "4096", NULL };
	char url[512], *big;
	jft_resp_t b;
	jf_farm_t *f;
	jf_farm_result_t r;
	jf_farm_compile_t c = { 0 };
	char err[1024];

	master_start(&m, "m-errors", extra);
	f = farm(&m, NULL);

	/* bad IR: 400 with LLVM's message */
	c.ir = (const uint8_t *)"this is not IR";
	c.ir_len = 14;
	ck_assert_int_eq(jf_farm_compile(f, &c, &r, err, sizeof(err)), JF_ERR_PARSE);
	ck_assert_int_eq(r.status, 400);
	ck_assert_msg(strstr(err, "error") != NULL, "%s", err);
	/* IR that fails the verifier */
	c.ir = (const uint8_t *)"define i32 @f() {\n  ret i64 0\n}\n";
	c.ir_len = strlen((const char *)c.ir);
	ck_assert_int_lt(jf_farm_compile(f, &c, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.status, 400);
	/* an unknown target */
	c.ir = (const uint8_t *)jft_add_ll;
	c.ir_len = strlen(jft_add_ll);
	jf_strlcpy(c.spec.cpu, "nosuchcpu", sizeof(c.spec.cpu));
	ck_assert_int_eq(jf_farm_compile(f, &c, &r, err, sizeof(err)), JF_ERR_TARGET);
	ck_assert_int_eq(r.status, 400);

	/* bad and unknown parameters, empty body */
	snprintf(url, sizeof(url), "%s/v1/compile?opt=7", m.url);
	ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), NULL, &b), 400);
	ck_assert_ptr_nonnull(strstr(b.body, "\"error\":\"invalid\""));
	jft_resp_free(&b);
	snprintf(url, sizeof(url), "%s/v1/compile?optt=2", m.url);
	ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), NULL, &b), 400);
	jft_resp_free(&b);
	snprintf(url, sizeof(url), "%s/v1/compile?program=abc", m.url);
	ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), NULL, &b), 400);
	jft_resp_free(&b);
	snprintf(url, sizeof(url), "%s/v1/compile?wait=1", m.url);
	ck_assert_int_eq(jft_http("POST", url, "", 0, NULL, &b), 400);
	jft_resp_free(&b);
	/* too large */
	big = malloc(8192);
	memset(big, ';', 8192);
	snprintf(url, sizeof(url), "%s/v1/compile", m.url);
	ck_assert_int_eq(jft_http("POST", url, big, 8192, NULL, &b), 413);
	jft_resp_free(&b);
	free(big);
	/* wrong methods, paths, keys */
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 405);
	jft_resp_free(&b);
	snprintf(url, sizeof(url), "%s/v1/artifacts/xyz", m.url);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 400);
	jft_resp_free(&b);
	snprintf(url, sizeof(url), "%s/v1/artifacts/%064d", m.url, 0);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 404);
	ck_assert_ptr_nonnull(strstr(b.body, "\"error\":\"not_found\""));
	jft_resp_free(&b);
	snprintf(url, sizeof(url), "%s/nothing/here", m.url);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 404);
	jft_resp_free(&b);

	/* still fine */
	ck_assert_msg(compile_ns(f, "ok", &r, err, sizeof(err)) == 0, "%s", err);
	jf_farm_result_free(&r);
	ck_assert_int_ge(metric(&m, "jitfarm_compiles_total{result=\"parse\"}"), 1);
	jf_farm_close(f);
	master_stop(&m);
}
END_TEST

START_TEST(t_failed_put_is_reported)
{
	master_t m;
	jf_farm_t *f;
	jf_farm_result_t r;
	char err[1024];

	setenv("JF_TEST_FAIL_PUT", "1", 1);
	master_start(&m, "m-failput", NULL);
	unsetenv("JF_TEST_FAIL_PUT");
	f = farm(&m, NULL);
	ck_assert_int_eq(compile_ns(f, "fp", &r, err, sizeof(err)), JF_ERR_STORE);
	ck_assert_int_eq(r.status, 502);
	ck_assert_msg(strstr(err, "store") != NULL, "%s", err);
	ck_assert_int_eq(jf_farm_head(f, &r.key, NULL, err, sizeof(err)), JF_ERR_NOTFOUND);
	ck_assert_int_eq(metric(&m, "jitfarm_store_errors_total{op=\"put\"}"), 1);
	jf_farm_close(f);
	master_stop(&m);
}
END_TEST

/* --- single-flight and overload ---------------------------------------------------- */

#define NSF 50

typedef struct sfarg {
	const master_t *m;
	const char *ns;
	int rc, status;
	char cache[16];
	uint8_t *blob;
	size_t len;
	int retry_after;
} sfarg_t;

static void *
sf_thread(void *p)
{
	sfarg_t *a = p;
	jf_farm_opts_t o = { .url = a->m->url, .timeout_ms = 60000 };
	jf_farm_t *f;
	jf_farm_result_t r;
	char err[512];

	if (jf_farm_open(&o, &f, err, sizeof(err)) != 0) {
		a->rc = -100;
		return NULL;
	}
	a->rc = compile_ns(f, a->ns, &r, err, sizeof(err));
	a->status = r.status;
	a->retry_after = r.retry_after;
	jf_strlcpy(a->cache, r.cache, sizeof(a->cache));
	a->blob = r.blob;
	a->len = r.blob_len;
	jf_farm_close(f);
	return NULL;
}

START_TEST(t_singleflight)
{
	master_t m;
	pthread_t th[NSF];
	sfarg_t a[NSF];
	int i, misses = 0, joined = 0;

	setenv("JF_TEST_HOLD_MS", "3000", 1);
	master_start(&m, "m-sf", NULL);
	unsetenv("JF_TEST_HOLD_MS");
	for (i = 0; i < NSF; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].m = &m;
		a[i].ns = "sf";
		ck_assert_int_eq(pthread_create(&th[i], NULL, sf_thread, &a[i]), 0);
	}
	for (i = 0; i < NSF; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NSF; i++) {
		ck_assert_msg(a[i].rc == 0, "request %d: rc %d status %d", i, a[i].rc, a[i].status);
		ck_assert_int_eq(a[i].len, a[0].len);
		ck_assert(memcmp(a[i].blob, a[0].blob, a[0].len) == 0);
		misses += strcmp(a[i].cache, "miss") == 0;
		joined += strcmp(a[i].cache, "joined") == 0;
	}
	ck_assert_int_eq(misses, 1);
	ck_assert_int_eq(joined, NSF - 1);
	ck_assert_int_eq(metric(&m, "jitfarm_compiles_total{result=\"ok\"}"), 1);
	ck_assert_int_eq(metric(&m, "jitfarm_singleflight_joins_total"), NSF - 1);
	for (i = 0; i < NSF; i++)
		jf_free(a[i].blob);
	master_stop(&m);
}
END_TEST

#define NOV 12

START_TEST(t_overload)
{
	master_t m;
	const char *extra[] = { "--queue-limit", "1", NULL };
	static const char *names[NOV] = { "o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7",
		"o8", "o9", "o10", "o11" };
	pthread_t th[NOV];
	sfarg_t a[NOV];
	char url[256];
	jft_resp_t b;
	int i, ok = 0, busy = 0;
	uint64_t t;

	setenv("JF_TEST_HOLD_MS", "3000", 1);
	master_start(&m, "m-overload", extra);
	unsetenv("JF_TEST_HOLD_MS");
	for (i = 0; i < NOV; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].m = &m;
		a[i].ns = names[i];
		ck_assert_int_eq(pthread_create(&th[i], NULL, sf_thread, &a[i]), 0);
	}
	/* while it is overloaded it keeps serving everything else */
	metric_wait(&m, "jitfarm_rejected_total", 1);
	snprintf(url, sizeof(url), "%s/healthz", m.url);
	t = jf_now_ns();
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 200);
	jft_resp_free(&b);
	ck_assert_msg(jf_now_ns() - t < 2000000000ull, "healthz took too long under load");
	for (i = 0; i < NOV; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NOV; i++) {
		if (a[i].rc == 0) {
			ok++;
		} else {
			ck_assert_int_eq(a[i].rc, JF_ERR_BUSY);
			ck_assert_int_eq(a[i].status, 503);
			ck_assert_int_ge(a[i].retry_after, 1);
			busy++;
		}
		jf_free(a[i].blob);
	}
	/* two workers plus one queued: three in flight at most */
	ck_assert_int_eq(ok, 3);
	ck_assert_int_eq(busy, NOV - 3);
	ck_assert_int_eq(metric(&m, "jitfarm_rejected_total"), NOV - 3);
	master_stop(&m);
}
END_TEST

/* --- auth ------------------------------------------------------------------------- */

START_TEST(t_auth_scopes_and_reload)
{
	master_t m;
	char tokpath[600], url[256], err[1024];
	const char *extra[3];
	char *d = jft_tmpdir("m-tok");
	const char *toks = "# tokens\nreadtoken123 read reader\ncompiletoken1 compile builder\n"
	    "admintoken123 admin ops\n";
	jf_farm_t *f;
	jf_farm_result_t r;
	jft_resp_t b;
	jf_key_t key;

	snprintf(tokpath, sizeof(tokpath), "%s/tokens", d);
	ck_assert_int_eq(jft_write(tokpath, toks, strlen(toks)), 0);
	extra[0] = "--tokens";
	extra[1] = tokpath;
	extra[2] = NULL;
	master_start(&m, "m-auth", extra);

	snprintf(url, sizeof(url), "%s/v1/compile", m.url);
	ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), NULL, &b), 401);
	ck_assert_ptr_nonnull(strstr(b.body, "\"error\":\"auth\""));
	jft_resp_free(&b);
	ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), "wrongtoken999", &b), 401);
	jft_resp_free(&b);
	ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), "readtoken123", &b), 403);
	jft_resp_free(&b);

	f = farm(&m, "compiletoken1");
	ck_assert_msg(compile_ns(f, "a", &r, err, sizeof(err)) == 0, "%s", err);
	key = r.key;
	jf_farm_result_free(&r);
	/* compile implies read; delete needs admin */
	ck_assert_int_eq(jf_farm_head(f, &key, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_farm_delete(f, &key, err, sizeof(err)), JF_ERR_AUTH);
	jf_farm_close(f);
	f = farm(&m, "readtoken123");
	ck_assert_int_eq(jf_farm_head(f, &key, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_farm_delete(f, &key, err, sizeof(err)), JF_ERR_AUTH);
	jf_farm_close(f);
	f = farm(&m, "admintoken123");
	ck_assert_int_eq(jf_farm_delete(f, &key, err, sizeof(err)), 0);
	jf_farm_close(f);
	/* metrics and health stay open */
	snprintf(url, sizeof(url), "%s/metrics", m.url);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 200);
	jft_resp_free(&b);

	/* SIGHUP reloads: the compile token goes, a new one comes */
	toks = "readtoken123 read\nnewcompile99 compile\n";
	ck_assert_int_eq(jft_write(tokpath, toks, strlen(toks)), 0);
	kill(m.pid, SIGHUP);
	{
		uint64_t end = jf_now_ns() + 20000000000ull;

		while (metric(&m, "jitfarm_tokens") != 2 && jf_now_ns() < end)
			usleep(20000);
	}
	snprintf(url, sizeof(url), "%s/v1/compile", m.url);
	ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), "compiletoken1", &b), 401);
	jft_resp_free(&b);
	ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), "newcompile99", &b), 200);
	jft_resp_free(&b);
	/* a broken file keeps the old table */
	ck_assert_int_eq(jft_write(tokpath, "x\n", 2), 0);
	kill(m.pid, SIGHUP);
	usleep(300000);
	ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), "newcompile99", &b), 200);
	jft_resp_free(&b);
	master_stop(&m);
	jft_rmtree(d);
	free(d);
}
END_TEST

/* --- hostile HTTP --------------------------------------------------------------------- */

static int
raw_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Read until EOF or timeout; returns 1 when the server closed. */
static int
raw_wait_close(int fd, int timeout_ms, char *first, size_t flen)
{
	uint64_t end = jf_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	size_t got = 0;
	char buf[4096];

	if (flen)
		first[0] = '\0';
	while (jf_now_ns() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return 1;
		if (got + 1 < flen) {
			size_t c = JF_MIN((size_t)n, flen - got - 1);

			memcpy(first + got, buf, c);
			got += c;
			first[got] = '\0';
		}
	}
	return 0;
}

START_TEST(t_hostile_http)
{
	master_t m;
	const char *extra[] = { "--http-timeout", "1", "--max-header-bytes", "4096", NULL };
	char first[256], *huge, url[256];
	int fd, slow;
	jft_resp_t b;
	size_t i;

	master_start(&m, "m-hostile", extra);
	snprintf(url, sizeof(url), "%s/healthz", m.url);

	/* garbage */
	fd = raw_connect(m.port);
	ck_assert_int_eq(jf_write_full(fd, "\x01\x02garbage\r\n\r\n", 13), 0);
	ck_assert(raw_wait_close(fd, 3000, first, sizeof(first)));
	close(fd);

	/* a huge header */
	huge = malloc(100000);
	memcpy(huge, "GET /healthz HTTP/1.1\r\nX-Big: ", 30);
	for (i = 30; i < 99990; i++)
		huge[i] = 'a';
	memcpy(huge + 99990, "\r\n\r\n", 4);
	fd = raw_connect(m.port);
	(void)jf_write_full(fd, huge, 99994);
	ck_assert(raw_wait_close(fd, 3000, first, sizeof(first)));
	close(fd);
	free(huge);

	/* slowloris: half a request, then nothing; the timeout closes it,
	 * and meanwhile everyone else is served */
	slow = raw_connect(m.port);
	ck_assert_int_eq(jf_write_full(slow, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 32), 0);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 200);
	jft_resp_free(&b);
	ck_assert(raw_wait_close(slow, 4000, first, sizeof(first)));
	close(slow);

	/* a bad request line */
	fd = raw_connect(m.port);
	ck_assert_int_eq(jf_write_full(fd, "BREW /pot HTCPCP/1.0\r\n\r\n", 24), 0);
	ck_assert(raw_wait_close(fd, 3000, first, sizeof(first)));
	close(fd);

	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 200);
	jft_resp_free(&b);
	ck_assert_int_eq(kill(m.pid, 0), 0);
	master_stop(&m);
}
END_TEST

/* --- lifecycle ------------------------------------------------------------------------- */

START_TEST(t_sigterm_drains)
{
	master_t m;
	pthread_t th;
	sfarg_t a = { 0 };
	int st;
	pid_t w;

	setenv("JF_TEST_HOLD_MS", "3000", 1);
	master_start(&m, "m-drain", NULL);
	unsetenv("JF_TEST_HOLD_MS");
	a.m = &m;
	a.ns = "drain";
	ck_assert_int_eq(pthread_create(&th, NULL, sf_thread, &a), 0);
	metric_wait(&m, "jitfarm_compiles_total{result=\"ok\"}", 1);
	ck_assert_int_eq(kill(m.pid, SIGTERM), 0);
	usleep(200000);
	/* no longer accepting */
	{
		struct sockaddr_in sa = { .sin_family = AF_INET,
			.sin_port = htons((uint16_t)m.port) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_ne(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd);
	}
	pthread_join(th, NULL);
	ck_assert_msg(a.rc == 0, "in-flight compile got %d (status %d)", a.rc, a.status);
	ck_assert_str_eq(a.cache, "miss");
	jf_free(a.blob);
	w = waitpid(m.pid, &st, 0);
	ck_assert_int_eq(w, m.pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	m.pid = 0;
	master_stop(&m);
}
END_TEST

START_TEST(t_help_and_config)
{
	char *out = NULL, *err = NULL, cfg[600], env[64];
	char *d = jft_tmpdir("m-cfg");
	const char *opts[] = { "--listen", "--store", "--workers", "--compile-timeout",
		"--max-request-bytes", "--queue-limit", "--tokens", "--signing-key",
		"--log-level", "--config" };
	char *argv[8];
	master_t m;
	int st, i, p1 = jft_free_port(), p2 = jft_free_port(), p3 = jft_free_port();
	pid_t pid;
	char text[1200], store[700], log[700], lis[64];

	argv[0] = (char *)jft_test_bin("jitfarm-master");
	argv[1] = (char *)"--help";
	argv[2] = NULL;
	st = jft_run(argv, NULL, 0, &out, &err);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (i = 0; i < (int)JF_ARRAY_LEN(opts); i++)
		ck_assert_msg(strstr(out, opts[i]) != NULL, "--help lacks %s", opts[i]);
	free(out);
	free(err);
	argv[1] = (char *)"--no-such-flag";
	st = jft_run(argv, NULL, 0, &out, &err);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	free(out);
	free(err);

	/* file < environment < flags */
	snprintf(cfg, sizeof(cfg), "%s/master.conf", d);
	snprintf(store, sizeof(store), "file://%s/store", d);
	snprintf(text, sizeof(text), "# config\nlisten = 127.0.0.1:%d\nstore = %s\nworkers = 1\n"
	    "queue-limit = 7\n", p1, store);
	ck_assert_int_eq(jft_write(cfg, text, strlen(text)), 0);
	snprintf(env, sizeof(env), "127.0.0.1:%d", p2);
	setenv("JITFARM_LISTEN", env, 1);
	setenv("JITFARM_QUEUE_LIMIT", "9", 1);
	snprintf(lis, sizeof(lis), "127.0.0.1:%d", p3);
	snprintf(log, sizeof(log), "%s/master.log", d);
	argv[0] = (char *)jft_test_bin("jitfarm-master");
	argv[1] = (char *)"--config";
	argv[2] = cfg;
	argv[3] = (char *)"--listen";
	argv[4] = lis;
	argv[5] = NULL;
	pid = jft_master_spawn(argv, log);
	unsetenv("JITFARM_LISTEN");
	unsetenv("JITFARM_QUEUE_LIMIT");
	ck_assert_int_eq(jft_wait_port(p3, 15000), 0);
	ck_assert_int_ne(jft_wait_port(p1, 200), 0);
	ck_assert_int_ne(jft_wait_port(p2, 200), 0);
	kill(pid, SIGTERM);
	master_check_exit(pid, log);
	out = (char *)jft_read(log, NULL);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "queue_limit=9") != NULL, "%s", out);
	free(out);
	jft_rmtree(d);
	free(d);
	(void)m;
}
END_TEST

/* --- signing ---------------------------------------------------------------------------- */

START_TEST(t_signed_artifacts)
{
	master_t m;
	char *d = jft_tmpdir("m-sign"), priv[600], pub[600], err[1024];
	const char *extra[3];
	void *vk = NULL;
	jf_farm_t *f;
	jf_farm_result_t r;
	jf_artifact_t a;
	uint8_t *copy;

	snprintf(priv, sizeof(priv), "%s/key.pem", d);
	snprintf(pub, sizeof(pub), "%s/key.pub", d);
	ck_assert_msg(jf_sign_keygen(priv, pub, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(jf_sign_load_public(pub, &vk, err, sizeof(err)), 0);
	extra[0] = "--signing-key";
	extra[1] = priv;
	extra[2] = NULL;
	master_start(&m, "m-signed", extra);
	f = farm(&m, NULL);
	ck_assert_msg(compile_ns(f, "s", &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(jf_blob_decode(r.blob, r.blob_len, vk, &a, err, sizeof(err)) == 0, "%s", err);
	ck_assert(a.signed_);
	jf_artifact_free(&a);
	/* a flipped byte anywhere fails: last byte (signature), middle (payload) */
	copy = malloc(r.blob_len);
	memcpy(copy, r.blob, r.blob_len);
	copy[r.blob_len - 1] ^= 0x01;
	ck_assert_int_ne(jf_blob_decode(copy, r.blob_len, vk, &a, err, sizeof(err)), 0);
	memcpy(copy, r.blob, r.blob_len);
	copy[r.blob_len - 100] ^= 0x40;
	ck_assert_int_ne(jf_blob_decode(copy, r.blob_len, vk, &a, err, sizeof(err)), 0);
	free(copy);
	jf_farm_result_free(&r);
	jf_farm_close(f);
	jf_key_free_pkey(vk);
	master_stop(&m);
	jft_rmtree(d);
	free(d);
}
END_TEST

/* --- events ------------------------------------------------------------------------------ */

typedef struct evseen {
	char ids[8][160];
	char data[8][1024];
	int n, want;
} evseen_t;

static int
on_event(const char *id, const char *type, const char *data, void *arg)
{
	evseen_t *s = arg;

	if (strcmp(type, "artifact") != 0 || s->n >= 8)
		return 0;
	jf_strlcpy(s->ids[s->n], id, sizeof(s->ids[0]));
	jf_strlcpy(s->data[s->n], data, sizeof(s->data[0]));
	s->n++;
	return s->n >= s->want ? 1 : 0;
}

typedef struct evthr {
	const master_t *m;
	evseen_t seen;
	const char *from;
	int rc;
} evthr_t;

static void *
ev_thread(void *p)
{
	evthr_t *t = p;
	char err[256], last[160];

	t->rc = jft_sse_read(t->m->url, NULL, t->from, 8000, on_event, &t->seen, last,
	    sizeof(last), err, sizeof(err));
	return NULL;
}

START_TEST(t_events_stream_and_resume)
{
	master_t m;
	jf_farm_t *f;
	jf_farm_result_t r1, r2;
	char err[1024], h1[65], h2[65];
	pthread_t th;
	evthr_t live = { 0 }, resume = { 0 }, all = { 0 };

	master_start(&m, "m-events", NULL);
	live.m = &m;
	live.seen.want = 2;
	ck_assert_int_eq(pthread_create(&th, NULL, ev_thread, &live), 0);
	metric_wait(&m, "jitfarm_events_clients", 1);
	f = farm(&m, NULL);
	ck_assert_msg(compile_ns(f, "e1", &r1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(compile_ns(f, "e2", &r2, err, sizeof(err)) == 0, "%s", err);
	jf_key_hex(&r1.key, h1);
	jf_key_hex(&r2.key, h2);
	pthread_join(th, NULL);
	ck_assert_int_eq(live.seen.n, 2);
	ck_assert_ptr_nonnull(strstr(live.seen.data[0], h1));
	ck_assert_ptr_nonnull(strstr(live.seen.data[0], "\"symbols\":[\"add\"]"));
	ck_assert_ptr_nonnull(strstr(live.seen.data[1], h2));

	/* resume after the first: only the second */
	resume.m = &m;
	resume.from = live.seen.ids[0];
	resume.seen.want = 1;
	ev_thread(&resume);
	ck_assert_int_eq(resume.seen.n, 1);
	ck_assert_ptr_nonnull(strstr(resume.seen.data[0], h2));

	/* a restarted master (new process, same store) agrees on the ids */
	{
		char dir[600];
		const char *extra[3];
		master_t m2;
		char store[700];

		snprintf(dir, sizeof(dir), "%s", m.dir);
		snprintf(store, sizeof(store), "file://%s/store", dir);
		extra[0] = "--store";
		extra[1] = store;
		extra[2] = NULL;
		master_start(&m2, "m-events2", extra);
		all.m = &m2;
		all.from = "0";
		all.seen.want = 2;
		ev_thread(&all);
		ck_assert_int_eq(all.seen.n, 2);
		ck_assert_str_eq(all.seen.ids[0], live.seen.ids[0]);
		ck_assert_str_eq(all.seen.ids[1], live.seen.ids[1]);
		master_stop(&m2);
	}
	jf_farm_result_free(&r1);
	jf_farm_result_free(&r2);
	jf_farm_close(f);
	master_stop(&m);
}
END_TEST

/* --- the events feed is JSON, whatever the store holds ------------------------------ */

typedef struct evjson {
	int n, parsed, crafted;
	char want_key[65];
	const char *want_triple, *want_cpu;
	char bad[1024];
} evjson_t;

/* Every event's data must parse as one JSON object; the crafted one must
 * carry its strings back intact. */
static int
on_event_json(const char *id, const char *type, const char *data, void *arg)
{
	evjson_t *e = arg;
	json_t *j = NULL;
	const char *k;

	(void)id;
	if (strcmp(type, "artifact") != 0)
		return 0;
	e->n++;
	if (jf_json_parse(data, strlen(data), &j, NULL, 0) != 0 || !json_is_object(j)) {
		jf_strlcpy(e->bad, data, sizeof(e->bad));
		json_decref(j);
		return 1;
	}
	e->parsed++;
	k = json_string_value(json_object_get(j, "key"));
	if (k != NULL && strcmp(k, e->want_key) == 0) {
		const char *t = json_string_value(json_object_get(j, "triple"));
		const char *c = json_string_value(json_object_get(j, "cpu"));

		e->crafted = t != NULL && c != NULL && strcmp(t, e->want_triple) == 0 &&
		    strcmp(c, e->want_cpu) == 0;
		if (!e->crafted)
			jf_strlcpy(e->bad, data, sizeof(e->bad));
	}
	json_decref(j);
	return e->n >= 2 ? 1 : 0;
}

START_TEST(t_events_escape_manifest_strings)
{
	static const char triple[] = "x86_64\",\"injected\":true,\"x\":\"\n}{\"";
	static const char cpu[] = "cpu\"}\ndata: {\"forged\":1}";
	master_t m;
	jf_farm_t *f;
	jf_farm_result_t r;
	jf_artifact_t a;
	jf_store_t *st;
	jf_store_opts_t so = { 0 };
	evjson_t e = { 0 };
	uint8_t *blob = NULL;
	size_t len = 0;
	char err[1024];

	master_start(&m, "m-evesc", NULL);
	f = farm(&m, NULL);
	ck_assert_msg(compile_ns(f, "esc", &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(jf_blob_decode(r.blob, r.blob_len, NULL, &a, err, sizeof(err)), 0);
	/* what someone with write access to the store can put there: a validly
	 * encoded blob whose manifest strings are JSON and SSE syntax */
	jf_strlcpy(a.m.target.triple, triple, sizeof(a.m.target.triple));
	jf_strlcpy(a.m.target.cpu, cpu, sizeof(a.m.target.cpu));
	a.m.key.b[0] ^= 0xff;
	jf_key_hex(&a.m.key, e.want_key);
	e.want_triple = triple;
	e.want_cpu = cpu;
	ck_assert_int_eq(jf_blob_encode(&a, NULL, &blob, &len), 0);
	ck_assert_msg(jf_store_open(m.store, &so, &st, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(jf_store_put(st, &a.m.key, blob, len), 0);
	jf_store_close(st);
	free(blob);
	jf_artifact_free(&a);

	/* the feed from its start: the compiled entry, then the crafted one */
	ck_assert_int_eq(jft_sse_read(m.url, NULL, "0", 8000, on_event_json, &e, NULL, 0, err,
	    sizeof(err)), 1);
	ck_assert_msg(e.parsed == e.n && e.n == 2, "%d events, %d parsed; bad: %s", e.n,
	    e.parsed, e.bad);
	ck_assert_msg(e.crafted, "the crafted strings did not come back intact: %s", e.bad);
	jf_farm_result_free(&r);
	jf_farm_close(f);
	master_stop(&m);
}
END_TEST

/* --- query strings and farm URLs ------------------------------------------------------- */

/* The key the master answered with, from the X-Jitfarm-Key header. */
static void
key_header(const jft_resp_t *b, char hex[65])
{
	const char *p = strcasestr(b->headers, "X-Jitfarm-Key: ");

	ck_assert_ptr_nonnull(p);
	ck_assert(sscanf(p + 15, "%64s", hex) == 1);
}

/* POST jft_add_ll to /v1/compile?query: the status must be want, and the
 * body must name what (when given); the key header goes to hex (when given). */
static void
query_post(const master_t *m, const char *query, long want, const char *what, char *hex)
{
	char url[512];
	jft_resp_t b;
	long st;

	snprintf(url, sizeof(url), "%s/v1/compile?%s", m->url, query);
	st = jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), NULL, &b);
	ck_assert_msg(st == want, "?%s: %ld, not %ld (%s)", query, st, want, b.body ? b.body : "");
	if (what != NULL)
		ck_assert_msg(strstr(b.body, what) != NULL || strcasestr(b.headers, what) != NULL,
		    "?%s: no \"%s\" in %s", query, what, b.body);
	if (hex != NULL)
		key_header(&b, hex);
	if (want != 200) {
		json_t *j = NULL;

		/* the error body is JSON even when the message quotes the request */
		ck_assert_msg(jf_json_parse(b.body, b.len, &j, NULL, 0) == 0, "%s", b.body);
		ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "invalid");
		json_decref(j);
	}
	jft_resp_free(&b);
}

START_TEST(t_query_strict)
{
	master_t m;
	char k1[65], k2[65];

	master_start(&m, "m-query", NULL);
	/* '+' is a plus: features=+avx2 as documented, the same as %2B */
	query_post(&m, "namespace=q&features=+avx2", 200, NULL, k1);
	query_post(&m, "namespace=q&features=%2Bavx2", 200, "X-Jitfarm-Cache: hit", k2);
	ck_assert_str_eq(k1, k2);
	/* and not the same as no features */
	query_post(&m, "namespace=q", 200, NULL, k2);
	ck_assert_str_ne(k1, k2);
	/* a name given twice: which one counts is nobody's guess, so 400 */
	query_post(&m, "opt=2&opt=3", 400, "twice", NULL);
	query_post(&m, "namespace=a&namespace=b", 400, "twice", NULL);
	/* a NUL in a value would cut it short somewhere: 400 */
	query_post(&m, "namespace=a%00b", 400, NULL, NULL);
	/* a bad escape, an unknown name, one that is JSON and SSE syntax */
	query_post(&m, "namespace=%zz", 400, NULL, NULL);
	query_post(&m, "nosuch=1", 400, "nosuch", NULL);
	query_post(&m, "%22%7D%0A=1", 400, NULL, NULL);
	master_stop(&m);
}
END_TEST

START_TEST(t_ipv6_farm_url)
{
	master_t m;
	char listen[64], err[1024];
	jft_master_opts_t o = { .listen = listen };
	jf_farm_opts_t fo = { .timeout_ms = 60000 };
	jf_farm_t *f;
	jf_farm_result_t r;
	uint64_t size = 0;

	snprintf(listen, sizeof(listen), "[::1]:%d", jft_free_port());
	ck_assert_int_eq(jft_master_start(&m, "m-ipv6", &o), 0);
	ck_assert_ptr_nonnull(strstr(m.url, "http://[::1]:"));
	fo.url = m.url;
	ck_assert_msg(jf_farm_open(&fo, &f, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(compile_ns(f, "v6", &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(r.cache, "miss");
	ck_assert_int_eq(jf_farm_head(f, &r.key, &size, err, sizeof(err)), 0);
	ck_assert_int_eq(size, r.blob_len);
	jf_farm_result_free(&r);
	jf_farm_close(f);
	/* farm URLs that are not farm URLs */
	fo.url = "ftp://[::1]/";
	ck_assert_int_eq(jf_farm_open(&fo, &f, err, sizeof(err)), JF_ERR_INVAL);
	fo.url = "http://[::1";
	ck_assert_int_eq(jf_farm_open(&fo, &f, err, sizeof(err)), JF_ERR_INVAL);
	fo.url = "unix:";
	ck_assert_int_eq(jf_farm_open(&fo, &f, err, sizeof(err)), JF_ERR_INVAL);
	master_stop(&m);
}
END_TEST

/* --- a worker killed mid-request ------------------------------------------------------- */

/* Pids of the zygote's children (the workers) under master pid. */
static int
children_of(pid_t parent, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL && n < max) {
		char path[300], buf[512], *p;
		FILE *fp;
		int ppid;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), fp) != NULL && (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == parent)
			out[n++] = (pid_t)atoi(e->d_name);
		fclose(fp);
	}
	if (d != NULL)
		closedir(d);
	return n;
}

typedef struct slowarg {
	const master_t *m;
	const char *ir;
	size_t len;
	int rc, status;
	char err[1024];
} slowarg_t;

static void *
slow_thread(void *p)
{
	slowarg_t *a = p;
	jf_farm_t *f = farm(a->m, NULL);
	jf_farm_compile_t c = { .ir = (const uint8_t *)a->ir, .ir_len = a->len,
		.spec = { .opt = '3', .ns = "slow" } };
	jf_farm_result_t r;

	a->rc = jf_farm_compile(f, &c, &r, a->err, sizeof(a->err));
	a->status = r.status;
	jf_farm_result_free(&r);
	jf_farm_close(f);
	return NULL;
}

START_TEST(t_worker_killed)
{
	master_t m;
	const char *extra[] = { "--workers", "1", NULL };
	slowarg_t a = { 0 };
	pthread_t th;
	pid_t zyg[8], wk[64];
	int nz, i, j, kills = 0;
	uint64_t end;
	char url[256];
	jft_resp_t b;

	master_start(&m, "m-kill", extra);
	a.m = &m;
	/* the test build's workers hang on this marker until killed */
	if (asprintf((char **)&a.ir, "%s; jitfarm-test-fault: hang\n", jft_add_ll) < 0)
		ck_abort();
	a.len = strlen(a.ir);
	ck_assert_int_eq(pthread_create(&th, NULL, slow_thread, &a), 0);
	/* kill every worker the zygote forks until the request is answered
	 * (the pool retries a crash once, then quarantines the input) */
	end = jf_now_ns() + 60000000000ull;
	while (jf_now_ns() < end) {
		if (pthread_tryjoin_np(th, NULL) == 0)
			break;
		nz = children_of(m.pid, zyg, 8);
		for (i = 0; i < nz; i++) {
			int nw = children_of(zyg[i], wk, 64);

			for (j = 0; j < nw; j++)
				if (kill(wk[j], SIGKILL) == 0)
					kills++;
		}
		usleep(50000);
	}
	pthread_join(th, NULL);
	ck_assert_int_gt(kills, 0);
	ck_assert_msg(a.rc != 0 && a.status == 422, "rc %d status %d: %s", a.rc, a.status, a.err);
	/* the master survives and serves */
	snprintf(url, sizeof(url), "%s/healthz", m.url);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, NULL, &b), 200);
	jft_resp_free(&b);
	ck_assert_int_ge(metric(&m, "jitfarm_worker_crashes_total"), 1);
	free((char *)a.ir);

	/* a crashing input: 422 naming the crash, then refused by quarantine */
	{
		jf_farm_t *f = farm(&m, NULL);
		jf_farm_compile_t c = { .spec.ns = "segv" };
		jf_farm_result_t r;
		char *ir, err[1024];

		if (asprintf(&ir, "%s; jitfarm-test-fault: segv\n", jft_add_ll) < 0)
			ck_abort();
		c.ir = (const uint8_t *)ir;
		c.ir_len = strlen(ir);
		ck_assert_int_lt(jf_farm_compile(f, &c, &r, err, sizeof(err)), 0);
		ck_assert_int_eq(r.status, 422);
		ck_assert_msg(strstr(err, "SIGSEGV") != NULL || strstr(err, "signal") != NULL ||
		    strstr(err, "quarantine") != NULL, "%s", err);
		ck_assert_int_lt(jf_farm_compile(f, &c, &r, err, sizeof(err)), 0);
		ck_assert_int_eq(r.status, 422);
		ck_assert_msg(strstr(err, "quarantine") != NULL, "%s", err);
		free(ir);
		jf_farm_close(f);
	}
	master_stop(&m);
}
END_TEST

START_TEST(t_compile_timeout)
{
	master_t m;
	const char *extra[] = { "--compile-timeout", "1", NULL };
	jf_farm_t *f;
	jf_farm_compile_t c = { .spec.ns = "timeout" };
	jf_farm_result_t r;
	char *ir, err[1024];

	master_start(&m, "m-timeout", extra);
	f = farm(&m, NULL);
	if (asprintf(&ir, "%s; jitfarm-test-fault: hang\n", jft_add_ll) < 0)
		ck_abort();
	c.ir = (const uint8_t *)ir;
	c.ir_len = strlen(ir);
	ck_assert_int_eq(jf_farm_compile(f, &c, &r, err, sizeof(err)), JF_ERR_TIMEOUT);
	ck_assert_int_eq(r.status, 422);
	ck_assert_int_ge(metric(&m, "jitfarm_compile_timeouts_total"), 1);
	ck_assert_int_eq(metric(&m, "jitfarm_compiles_total{result=\"timeout\"}"), 1);
	free(ir);
	jf_farm_close(f);
	master_stop(&m);
}
END_TEST

/* --- two masters on one Redis store: the cluster-wide lease ------------- */

START_TEST(t_two_masters_one_compile)
{
	jft_server_t *redis = jft_redis_start(NULL);
	const char *extra[] = { "--store", redis->url, NULL };
	master_t a, b;
	pthread_t ta, tb;
	sfarg_t ra = { 0 }, rb = { 0 };

	setenv("JF_TEST_HOLD_MS", "3000", 1);
	master_start(&a, "m-lease-a", extra);
	master_start(&b, "m-lease-b", extra);
	unsetenv("JF_TEST_HOLD_MS");
	ra.m = &a;
	ra.ns = "lease";
	rb.m = &b;
	rb.ns = "lease";
	ck_assert_int_eq(pthread_create(&ta, NULL, sf_thread, &ra), 0);
	/* a has the lease once it has compiled (the put is held back) */
	metric_wait(&a, "jitfarm_compiles_total{result=\"ok\"}", 1);
	ck_assert_int_eq(pthread_create(&tb, NULL, sf_thread, &rb), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ck_assert_msg(ra.rc == 0 && rb.rc == 0, "rc %d %d", ra.rc, rb.rc);
	ck_assert_str_eq(ra.cache, "miss");
	ck_assert_str_eq(rb.cache, "joined");
	ck_assert_int_eq(ra.len, rb.len);
	ck_assert(memcmp(ra.blob, rb.blob, ra.len) == 0);
	/* one compile in the cluster: b waited for a's entry */
	ck_assert_int_eq(metric(&a, "jitfarm_compiles_total{result=\"ok\"}"), 1);
	ck_assert_int_eq(metric(&b, "jitfarm_compiles_total{result=\"ok\"}"), 0);
	ck_assert_int_eq(metric(&b, "jitfarm_lease_waits_total"), 1);
	jf_free(ra.blob);
	jf_free(rb.blob);
	master_stop(&a);
	master_stop(&b);
	jft_server_free(redis);
}
END_TEST

/* --- the jitfarm command against a farm ----------------------------------- */

START_TEST(t_cli_against_farm)
{
	master_t m;
	char *d = jft_tmpdir("m-cli"), in[600], o1[600], o2[600], tok[600], *out, *err;
	const char *toks = "clitoken-compile compile\n";
	const char *extra[3];
	char *argv[16], hex[65];
	uint8_t *b1, *b2;
	size_t l1, l2;
	int st;

	snprintf(in, sizeof(in), "%s/add.ll", d);
	snprintf(o1, sizeof(o1), "%s/a.o", d);
	snprintf(o2, sizeof(o2), "%s/b.o", d);
	snprintf(tok, sizeof(tok), "%s/tokens", d);
	ck_assert_int_eq(jft_write(in, jft_add_ll, strlen(jft_add_ll)), 0);
	ck_assert_int_eq(jft_write(tok, toks, strlen(toks)), 0);
	extra[0] = "--tokens";
	extra[1] = tok;
	extra[2] = NULL;
	master_start(&m, "m-cli-master", extra);

	/* compile --farm: a miss, then a hit, same object */
	argv[0] = (char *)jft_bin("jitfarm");
	argv[1] = (char *)"compile";
	argv[2] = (char *)"--farm";
	argv[3] = m.url;
	argv[4] = (char *)"--token";
	argv[5] = (char *)"clitoken-compile";
	argv[6] = in;
	argv[7] = (char *)"-o";
	argv[8] = o1;
	argv[9] = (char *)"-v";
	argv[10] = NULL;
	st = jft_run(argv, NULL, 0, &out, &err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	ck_assert_msg(strstr(err, "cache: miss") != NULL, "%s", err);
	ck_assert(sscanf(strstr(err, "cache: miss ") + 12, "%64s", hex) == 1);
	free(out);
	free(err);
	argv[8] = o2;
	st = jft_run(argv, NULL, 0, &out, &err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	ck_assert_msg(strstr(err, "cache: hit") != NULL, "%s", err);
	free(out);
	free(err);
	b1 = jft_read(o1, &l1);
	b2 = jft_read(o2, &l2);
	ck_assert(b1 != NULL && b2 != NULL && l1 == l2 && memcmp(b1, b2, l1) == 0);
	ck_assert(l1 > 4 && memcmp(b1, "\177ELF", 4) == 0);
	free(b2);

	/* IR on a pipe ("-"): the same key, a hit, the same object */
	argv[6] = (char *)"-";
	st = jft_run(argv, jft_add_ll, strlen(jft_add_ll), &out, &err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	ck_assert_msg(strstr(err, "cache: hit") != NULL && strstr(err, hex) != NULL, "%s", err);
	free(out);
	free(err);
	b2 = jft_read(o2, &l2);
	ck_assert(b2 != NULL && l1 == l2 && memcmp(b1, b2, l1) == 0);
	free(b2);
	argv[6] = in;

	/* no token: refused */
	argv[4] = (char *)"-v";
	argv[5] = (char *)"-v";
	st = jft_run(argv, NULL, 0, &out, &err);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_msg(strstr(err, "401") != NULL || strstr(err, "token") != NULL, "%s", err);
	free(out);
	free(err);

	/* get, ls, stat through $JITFARM_FARM / $JITFARM_TOKEN */
	setenv("JITFARM_FARM", m.url, 1);
	setenv("JITFARM_TOKEN", "clitoken-compile", 1);
	argv[1] = (char *)"get";
	argv[2] = hex;
	argv[3] = (char *)"-o";
	argv[4] = o2;
	argv[5] = NULL;
	st = jft_run(argv, NULL, 0, &out, &err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	free(out);
	free(err);
	b2 = jft_read(o2, &l2);
	ck_assert(b2 != NULL && l1 == l2 && memcmp(b1, b2, l1) == 0);
	free(b2);
	argv[1] = (char *)"ls";
	argv[2] = NULL;
	st = jft_run(argv, NULL, 0, &out, &err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	ck_assert_msg(strstr(out, hex) != NULL && strstr(out, "x86_64") != NULL, "%s", out);
	free(out);
	free(err);
	argv[1] = (char *)"stat";
	st = jft_run(argv, NULL, 0, &out, &err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	ck_assert_msg(strstr(out, "entries    1") != NULL, "%s", out);
	free(out);
	free(err);
	unsetenv("JITFARM_FARM");
	unsetenv("JITFARM_TOKEN");
	free(b1);
	master_stop(&m);
	jft_rmtree(d);
	free(d);
}
END_TEST

static Suite *
suite(void)
{
	const TTest *tests[] = {
		t_compile_hit_and_artifacts, t_wait0_and_unix_socket, t_errors,
		t_failed_put_is_reported, t_singleflight, t_overload,
		t_auth_scopes_and_reload, t_hostile_http, t_sigterm_drains,
		t_help_and_config, t_signed_artifacts, t_events_stream_and_resume,
		t_events_escape_manifest_strings, t_query_strict, t_ipv6_farm_url,
		t_worker_killed, t_compile_timeout, t_two_masters_one_compile,
		t_cli_against_farm, NULL
	};
	TCase *tc;
	Suite *s = jft_suite("master", 120, tests, &tc);

	return s;
}

int
main(void)
{
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	failed = jft_suite_run(suite());
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
