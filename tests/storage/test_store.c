/*
 * test_store.c - the store conformance suite: the same cases, run
 * against every backend with real servers on loopback: a temp dir
 * (file://), redis-server (redis://), nginx WebDAV (http://), s3rver
 * (s3://) and a tiered store (file in front of redis). A server that is
 * missing makes the suite fail (servers.h aborts), it never skips.
 *
 * Each case is a loop test over the backends, so a failure names both.
 * Every test works in a namespace of its own (prefix, path or dir made
 * from its pid), so cases do not see each other's entries. The fault
 * cases (redis killed under a watcher, nginx stopped under an http and a
 * tiered store) start servers of their own.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/util.h"
#include "common/mem.h"
#include "common/url.h"
#include "storage/store.h"
#include "storage/store_file.h"
#include "storage/store_http.h"
#include "storage/store_redis.h"
#include "storage/store_s3.h"
#include "servers.h"
#include "support.h"

enum { B_FILE, B_REDIS, B_HTTP, B_S3, B_TIERED, NB };
static const char *const bname[NB] = { "file", "redis", "http", "s3", "tiered" };

static jft_server_t *redis_srv, *nginx_srv, *s3_srv;
static char *tmp_root;

/* --- helpers ----------------------------------------------------------------------- */

/* A valid artifact blob whose key is derived from seed. */
static void
make_blob(const char *seed, size_t payload, jf_key_t *key, uint8_t **blob, size_t *len)
{
	static char ns[] = "conformance", comp[] = "jitfarm/test", prod[] = "test", f[] = "f";
	static char *syms[] = { f };
	jf_artifact_t a;
	uint8_t h[32];
	size_t i;

	memset(&a, 0, sizeof(a));
	jf_sha256(seed, strlen(seed), h);
	memcpy(a.m.key.b, h, 32);
	memcpy(a.m.program_id.b, h, 32);
	a.m.program_id.b[0] ^= 0xff;
	a.m.ns = ns;
	strcpy(a.m.target.triple, "x86_64-unknown-linux-gnu");
	strcpy(a.m.target.cpu, "x86-64");
	a.m.target.opt = '2';
	a.m.compiler = comp;
	a.m.symbols = syms;
	a.m.nsymbols = 1;
	a.m.created_ms = 1700000000000ull;
	a.m.producer = prod;
	a.payload = malloc(payload ? payload : 1);
	ck_assert_ptr_nonnull(a.payload);
	for (i = 0; i < payload; i++)
		a.payload[i] = (uint8_t)(h[i % 32] + i * 7);
	a.payload_len = payload;
	ck_assert_int_eq(jf_blob_encode(&a, NULL, blob, len), 0);
	*key = a.m.key;
	free(a.payload);
}

/*
 * The store URL of backend b in namespace ns, its server (the remote, for
 * tiered) on 127.0.0.1:port, with extra query text (may be NULL). A
 * tiered store's local part is the directory ns-local.
 */
static void
url_at(int b, int port, const char *ns, const char *extra, char *buf, size_t len)
{
	const char *x = extra ? extra : "", *amp = *x ? "&" : "", *q = *x ? "?" : "";

	switch (b) {
	case B_FILE:
		snprintf(buf, len, "file://%s/%s%s%s", tmp_root, ns, q, x);
		break;
	case B_REDIS:
		snprintf(buf, len, "redis://127.0.0.1:%d/0?prefix=%s%s%s", port, ns, amp, x);
		break;
	case B_HTTP:
		snprintf(buf, len, "http://127.0.0.1:%d/store/%s%s%s", port, ns, q, x);
		break;
	case B_S3:
		snprintf(buf, len, "s3://jitfarm/%s?endpoint=http://127.0.0.1:%d&region=us-east-1%s%s",
		    ns, port, amp, x);
		break;
	case B_TIERED:
		snprintf(buf, len, "tiered:file://%s/%s-local%s%s,redis://127.0.0.1:%d/0?prefix=%s%s%s",
		    tmp_root, ns, q, x, port, ns, amp, x);
		break;
	}
}

/* The same, on this run's servers. */
static void
url_of(int b, const char *ns, const char *extra, char *buf, size_t len)
{
	const jft_server_t *srv[NB] = { NULL, redis_srv, nginx_srv, s3_srv, redis_srv };
	char x[1024];

	/* watchers of the http store poll often, so the cases stay quick */
	snprintf(x, sizeof(x), "%s%s%s", b == B_HTTP ? "poll_ms=50" : "",
	    b == B_HTTP && extra && *extra ? "&" : "", extra ? extra : "");
	url_at(b, srv[b] ? srv[b]->port : 0, ns, x, buf, len);
}

static jf_store_t *
open_ns(int b, const char *ns, const char *extra)
{
	char url[2048], err[512] = "";
	jf_store_t *s = NULL;
	int rc;

	url_of(b, ns, extra, url, sizeof(url));
	rc = jf_store_open(url, NULL, &s, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s: open %s: %s (%s)", bname[b], url, jf_strerror(rc), err);
	return s;
}

static const char *
test_ns(void)
{
	static char ns[64];

	/* fixed at the first call, so processes forked by the test share it */
	if (ns[0] == '\0')
		snprintf(ns, sizeof(ns), "t%d", (int)getpid());
	return ns;
}

static jf_store_t *
open_b(int b, const char *extra)
{
	return open_ns(b, test_ns(), extra);
}

static void
put_ok(jf_store_t *s, const jf_key_t *k, const uint8_t *blob, size_t len)
{
	int rc = jf_store_put(s, k, blob, len);

	ck_assert_msg(rc == 0, "%s: put: %s: %s", jf_store_scheme(s), jf_strerror(rc),
	    jf_store_errstr(s));
}

static void
get_eq(jf_store_t *s, const jf_key_t *k, const uint8_t *blob, size_t len)
{
	uint8_t *got = NULL;
	size_t glen = 0;
	int rc = jf_store_get(s, k, &got, &glen);

	ck_assert_msg(rc == 0, "%s: get: %s: %s", jf_store_scheme(s), jf_strerror(rc),
	    jf_store_errstr(s));
	ck_assert_uint_eq(glen, len);
	ck_assert(memcmp(got, blob, len) == 0);
	jf_free(got);
}

static uint64_t
ms_since(uint64_t t0)
{
	return (jf_now_ns() - t0) / 1000000ull;
}

/* A TCP port that accepts connections (the kernel's backlog) but never
 * answers: a server that hangs. */
static int
black_hole(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert(fd >= 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* --- cases ---------------------------------------------------------------------------- */

START_TEST(test_roundtrip)
{
	static const size_t sizes[] = { 0, 1024, 10u << 20 };
	jf_store_t *s = open_b(_i, NULL);
	jf_store_stats_t st;
	size_t i;

	for (i = 0; i < JF_ARRAY_LEN(sizes); i++) {
		char seed[64];
		jf_key_t k;
		uint8_t *blob;
		size_t len;

		snprintf(seed, sizeof(seed), "roundtrip-%zu", sizes[i]);
		make_blob(seed, sizes[i], &k, &blob, &len);
		ck_assert_int_eq(jf_store_exists(s, &k), JF_ERR_NOTFOUND);
		put_ok(s, &k, blob, len);
		ck_assert_int_eq(jf_store_exists(s, &k), 0);
		get_eq(s, &k, blob, len);
		free(blob);
	}
	jf_store_get_stats(s, &st);
	ck_assert_uint_eq(st.hits, 3);
	ck_assert_uint_eq(st.corrupt, 0);
	jf_store_close(s);
}
END_TEST

START_TEST(test_bad_put_refused)
{
	jf_store_t *s = open_b(_i, NULL);
	jf_key_t k, other;
	uint8_t *blob, junk[64] = { 1, 2, 3 };
	size_t len;

	make_blob("other", 10, &other, &blob, &len);
	free(blob);
	make_blob("refused", 10, &k, &blob, &len);
	/* not a blob, and a blob under another key: neither reaches the backend */
	ck_assert_int_eq(jf_store_put(s, &k, junk, sizeof(junk)) != 0, 1);
	ck_assert_int_eq(jf_store_put(s, &other, blob, len), JF_ERR_INVAL);
	ck_assert_int_eq(jf_store_exists(s, &other), JF_ERR_NOTFOUND);
	free(blob);
	jf_store_close(s);
}
END_TEST

/* A store whose server is down: the same backend, pointed at nothing. */
static jf_store_t *
open_down(int b, const jf_key_t *k, int *hole_fd)
{
	char url[2048], err[512];
	jf_store_t *s = NULL;
	int port = jft_free_port(), rc;

	*hole_fd = -1;
	switch (b) {
	case B_FILE: {
		/* a store whose fan-out directory for k cannot be read */
		char path[4200];
		char hex[JF_KEY_HEX_LEN + 1];

		jf_key_hex(k, hex);
		snprintf(path, sizeof(path), "%s/%s-down", tmp_root, test_ns());
		ck_assert_int_eq(jf_mkdir_p(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/%s-down/%.2s", tmp_root, test_ns(), hex);
		ck_assert_int_eq(jft_write(path, "x", 1), 0);       /* a file, not a dir */
		snprintf(url, sizeof(url), "file://%s/%s-down", tmp_root, test_ns());
		break;
	}
	default: {
		char ns[128];

		snprintf(ns, sizeof(ns), "%s-down", test_ns());
		url_at(b, port, ns, "timeout_ms=500&connect_timeout_ms=500", url, sizeof(url));
		break;
	}
	}
	rc = jf_store_open(url, NULL, &s, err, sizeof(err));
	ck_assert_msg(rc == 0, "open %s: %s", url, err);
	return s;
}

START_TEST(test_miss_vs_error)
{
	jf_store_t *s = open_b(_i, NULL), *down;
	jf_key_t k;
	uint8_t *blob, *got = (uint8_t *)"x";
	size_t len, glen = 1;
	uint64_t t0;
	int rc, hole;

	make_blob("absent", 10, &k, &blob, &len);
	ck_assert_int_eq(jf_store_get(s, &k, &got, &glen), JF_ERR_NOTFOUND);
	ck_assert_ptr_null(got);
	ck_assert_uint_eq(glen, 0);
	ck_assert_int_eq(jf_store_del(s, &k), JF_ERR_NOTFOUND);
	jf_store_close(s);

	down = open_down(_i, &k, &hole);
	t0 = jf_now_ns();
	rc = jf_store_get(down, &k, &got, &glen);
	if (_i == B_TIERED) {
		/* the remote is down: local-only, a miss is a miss, not an error */
		ck_assert_int_eq(rc, JF_ERR_NOTFOUND);
		put_ok(down, &k, blob, len);
		get_eq(down, &k, blob, len);
	} else {
		ck_assert_msg(rc != JF_ERR_NOTFOUND && rc != 0, "%s: down store answered %s",
		    bname[_i], jf_strerror(rc));
		ck_assert_int_eq(jf_store_exists(down, &k) == JF_ERR_NOTFOUND, 0);
		ck_assert_str_ne(jf_store_errstr(down), "no error");
	}
	ck_assert_msg(ms_since(t0) < 5000, "took %llu ms", (unsigned long long)ms_since(t0));
	free(blob);
	jf_store_close(down);
}
END_TEST

START_TEST(test_idempotent_concurrent)
{
	jf_store_t *s = open_b(_i, NULL);
	jf_key_t k;
	uint8_t *blob;
	size_t len;
	pid_t kids[4];
	int i;

	make_blob("same-key", 256 * 1024, &k, &blob, &len);
	put_ok(s, &k, blob, len);
	put_ok(s, &k, blob, len);
	get_eq(s, &k, blob, len);
	ck_assert_int_eq(jf_store_del(s, &k), 0);
	jf_store_close(s);
	for (i = 0; i < 4; i++) {
		if ((kids[i] = fork()) == 0) {
			jf_store_t *c;
			char url[2048], err[256];
			int j, bad = 0;

			url_of(_i, test_ns(), NULL, url, sizeof(url));
			if (jf_store_open(url, NULL, &c, err, sizeof(err)) != 0)
				_exit(2);
			for (j = 0; j < 5; j++)
				bad |= jf_store_put(c, &k, blob, len) != 0;
			jf_store_close(c);
			_exit(bad);
		}
		ck_assert(kids[i] > 0);
	}
	for (i = 0; i < 4; i++) {
		int st;

		ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d failed", i);
	}
	s = open_b(_i, NULL);
	get_eq(s, &k, blob, len);
	free(blob);
	jf_store_close(s);
}
END_TEST

START_TEST(test_delete)
{
	jf_store_t *s = open_b(_i, NULL);
	jf_key_t k;
	uint8_t *blob, *got;
	size_t len, glen;

	make_blob("delete-me", 100, &k, &blob, &len);
	put_ok(s, &k, blob, len);
	ck_assert_int_eq(jf_store_del(s, &k), 0);
	ck_assert_int_eq(jf_store_get(s, &k, &got, &glen), JF_ERR_NOTFOUND);
	ck_assert_int_eq(jf_store_exists(s, &k), JF_ERR_NOTFOUND);
	ck_assert_int_eq(jf_store_del(s, &k), JF_ERR_NOTFOUND);
	put_ok(s, &k, blob, len);       /* and it can come back */
	get_eq(s, &k, blob, len);
	free(blob);
	jf_store_close(s);
}
END_TEST

typedef struct seen {
	jf_key_t keys[256];
	int n, dup;
} seen_t;

static int
on_list(const jf_store_entry_t *e, void *arg)
{
	seen_t *s = arg;
	int i;

	for (i = 0; i < s->n; i++)
		if (jf_key_eq(&s->keys[i], &e->key))
			s->dup++;
	if (s->n < 256)
		s->keys[s->n++] = e->key;
	return 0;
}

static int
stop_at_3(const jf_store_entry_t *e, void *arg)
{
	int *n = arg;

	(void)e;
	return ++*n == 3 ? 42 : 0;
}

START_TEST(test_list_paging)
{
	jf_store_t *s = open_b(_i, "page_size=7");
	jf_key_t keys[25];
	seen_t seen = { .n = 0 };
	int i, j, n = 0;

	for (i = 0; i < 25; i++) {
		char seed[32];
		uint8_t *blob;
		size_t len;

		snprintf(seed, sizeof(seed), "list-%d", i);
		make_blob(seed, 64, &keys[i], &blob, &len);
		put_ok(s, &keys[i], blob, len);
		free(blob);
	}
	i = jf_store_list(s, on_list, &seen);
	ck_assert_msg(i == 0, "%s: list: %s: %s", bname[_i], jf_strerror(i), jf_store_errstr(s));
	ck_assert_int_eq(seen.n, 25);
	ck_assert_int_eq(seen.dup, 0);
	for (i = 0; i < 25; i++) {
		int found = 0;

		for (j = 0; j < seen.n; j++)
			found |= jf_key_eq(&keys[i], &seen.keys[j]);
		ck_assert_msg(found, "entry %d not listed", i);
	}
	/* a callback's non-zero return stops the listing and is returned */
	ck_assert_int_eq(jf_store_list(s, stop_at_3, &n), 42);
	ck_assert_int_eq(n, 3);
	jf_store_close(s);
}
END_TEST

typedef struct wctx {
	jf_key_t keys[64];
	int n;
	char last[JF_CURSOR_MAX];
} wctx_t;

static int
on_watch(const jf_key_t *k, const char *cursor, void *arg)
{
	wctx_t *w = arg;

	if (w->n < 64)
		w->keys[w->n++] = *k;
	jf_strlcpy(w->last, cursor, sizeof(w->last));
	return 0;
}

START_TEST(test_watch_other_process)
{
	jf_store_t *s = open_b(_i, NULL);
	char cursor[JF_CURSOR_MAX];
	jf_key_t keys[20];
	wctx_t w = { .n = 0 };
	uint64_t t0;
	pid_t kid;
	int i, st;

	/* one entry before the cursor: it must not be delivered */
	{
		jf_key_t k;
		uint8_t *blob;
		size_t len;

		make_blob("before-cursor", 8, &k, &blob, &len);
		put_ok(s, &k, blob, len);
		free(blob);
	}
	usleep(20000);
	ck_assert_int_eq(jf_store_cursor(s, cursor, sizeof(cursor)), 0);
	for (i = 0; i < 20; i++) {
		char seed[32];
		uint8_t *blob;
		size_t len;

		snprintf(seed, sizeof(seed), "watch-%d", i);
		make_blob(seed, 32, &keys[i], &blob, &len);
		free(blob);
	}
	if ((kid = fork()) == 0) {
		jf_store_t *c;
		char url[2048], err[256];

		url_of(_i, test_ns(), NULL, url, sizeof(url));
		if (jf_store_open(url, NULL, &c, err, sizeof(err)) != 0)
			_exit(2);
		usleep(100000);         /* let the parent block first */
		for (i = 0; i < 20; i++) {
			char seed[32];
			uint8_t *blob;
			size_t len;
			jf_key_t k;

			snprintf(seed, sizeof(seed), "watch-%d", i);
			make_blob(seed, 32, &k, &blob, &len);
			if (jf_store_put(c, &k, blob, len) != 0)
				_exit(3);
			free(blob);
			if (_i == B_HTTP || _i == B_S3)
				usleep(2000);   /* journal names are time-ordered */
		}
		jf_store_close(c);
		_exit(0);
	}
	t0 = jf_now_ns();
	while (w.n < 20 && ms_since(t0) < 15000) {
		int rc = jf_store_watch(s, cursor, sizeof(cursor), 1000, on_watch, &w);

		ck_assert_msg(rc == 0, "%s: watch: %s: %s", bname[_i], jf_strerror(rc),
		    jf_store_errstr(s));
	}
	ck_assert_int_eq(waitpid(kid, &st, 0), kid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(w.n, 20);
	for (i = 0; i < 20; i++)
		ck_assert_msg(jf_key_eq(&w.keys[i], &keys[i]), "%s: entry %d out of order",
		    bname[_i], i);
	ck_assert_str_eq(cursor, w.last);
	/* nothing more after the last cursor */
	w.n = 0;
	ck_assert_int_eq(jf_store_watch(s, cursor, sizeof(cursor), 150, on_watch, &w), 0);
	ck_assert_int_eq(w.n, 0);
	jf_store_close(s);
}
END_TEST

/* Write bytes under k straight through the backend, past every check. */
static void
raw_put(int b, const jf_key_t *k, const uint8_t *bytes, size_t len)
{
	static const jf_store_ops_t *const ops[NB] = {
		&jf_store_file_ops, &jf_store_redis_ops, &jf_store_http_ops, &jf_store_s3_ops, NULL,
	};
	jf_store_opts_t o = { .connect_timeout_ms = 2000, .op_timeout_ms = 10000, .page_size = 1000,
		.retries = -1 };
	char url[2048], err[256];
	void *self = NULL;
	jf_url_t u;
	int rc;

	if (b == B_TIERED) {
		/* both tiers, each through its own backend */
		char ns[128];

		snprintf(ns, sizeof(ns), "%s-local", test_ns());
		snprintf(url, sizeof(url), "file://%s/%s", tmp_root, ns);
		ck_assert_int_eq(jf_url_parse(url, &u, err, sizeof(err)), 0);
		rc = jf_store_file_ops.open(url, &u, &o, &self, err, sizeof(err));
		ck_assert_msg(rc == 0, "raw open: %s", err);
		ck_assert_int_eq(jf_store_file_ops.put(self, k, bytes, len), 0);
		jf_store_file_ops.close(self);
		b = B_REDIS;
	}
	url_of(b, test_ns(), NULL, url, sizeof(url));
	ck_assert_int_eq(jf_url_parse(url, &u, err, sizeof(err)), 0);
	rc = ops[b]->open(url, &u, &o, &self, err, sizeof(err));
	ck_assert_msg(rc == 0, "raw open: %s", err);
	rc = ops[b]->put(self, k, bytes, len);
	ck_assert_msg(rc == 0, "raw put: %s", ops[b]->errstr(self));
	ops[b]->close(self);
}

START_TEST(test_integrity)
{
	jf_store_t *s = open_b(_i, NULL), *ro;
	jf_store_stats_t st;
	jf_key_t k;
	uint8_t *blob, *got;
	size_t len, glen;
	unsigned copies = _i == B_TIERED ? 2 : 1;     /* the bad blob is in both tiers */

	make_blob("corrupt", 4096, &k, &blob, &len);
	blob[len - 100] ^= 0x01;        /* a payload bit: the hash no longer matches */
	raw_put(_i, &k, blob, len);
	ck_assert_int_eq(jf_store_exists(s, &k), 0);
	/* read-only: not returned, and not deleted either */
	ro = open_b(_i, "read_only=1");
	ck_assert_int_eq(jf_store_get(ro, &k, &got, &glen), JF_ERR_NOTFOUND);
	jf_store_get_stats(ro, &st);
	ck_assert_uint_eq(st.corrupt, copies);
	ck_assert_int_eq(jf_store_exists(ro, &k), 0);
	jf_store_close(ro);
	/* writable: not returned, counted, and deleted */
	ck_assert_int_eq(jf_store_get(s, &k, &got, &glen), JF_ERR_NOTFOUND);
	ck_assert_ptr_null(got);
	jf_store_get_stats(s, &st);
	ck_assert_uint_eq(st.corrupt, copies);
	ck_assert_uint_eq(st.misses, 1);
	ck_assert_int_eq(jf_store_exists(s, &k), JF_ERR_NOTFOUND);
	/* a valid blob stored under another key is not returned either */
	{
		jf_key_t other;
		uint8_t *ob;
		size_t olen;

		blob[len - 100] ^= 0x01;
		make_blob("someone-else", 16, &other, &ob, &olen);
		raw_put(_i, &other, blob, len);
		ck_assert_int_eq(jf_store_get(s, &other, &got, &glen), JF_ERR_NOTFOUND);
		free(ob);
	}
	free(blob);
	jf_store_close(s);
}
END_TEST

typedef struct lctx {
	int n, bad;
	size_t bytes;
} lctx_t;

static int
on_load(const jf_key_t *k, const uint8_t *blob, size_t len, void *arg)
{
	lctx_t *c = arg;
	jf_manifest_t m;
	char why[128];

	if (jf_blob_peek(blob, len, &m, why, sizeof(why)) != 0 || !jf_key_eq(&m.key, k))
		c->bad++;
	else
		jf_manifest_free(&m);
	c->n++;
	c->bytes += len;
	return 0;
}

START_TEST(test_load_all)
{
	jf_store_t *s = open_b(_i, "page_size=16");
	jf_store_stats_t st;
	lctx_t c = { 0 };
	int i;

	for (i = 0; i < 40; i++) {
		char seed[32];
		uint8_t *blob;
		size_t len;
		jf_key_t k;

		snprintf(seed, sizeof(seed), "load-%d", i);
		make_blob(seed, 4096, &k, &blob, &len);
		if (i == 7) {
			blob[len - 1] ^= 0x80;
			raw_put(_i, &k, blob, len);
		} else {
			put_ok(s, &k, blob, len);
		}
		free(blob);
	}
	i = jf_store_load_all(s, on_load, &c);
	ck_assert_msg(i == 0, "%s: load_all: %s: %s", bname[_i], jf_strerror(i), jf_store_errstr(s));
	ck_assert_int_eq(c.n, 39);
	ck_assert_int_eq(c.bad, 0);
	jf_store_get_stats(s, &st);
	ck_assert_uint_eq(st.corrupt, _i == B_TIERED ? 2 : 1);
	jf_store_close(s);
}
END_TEST

START_TEST(test_read_only)
{
	jf_store_t *s = open_b(_i, NULL), *ro;
	jf_key_t k, k2;
	uint8_t *blob, *b2;
	size_t len, l2;

	make_blob("ro", 100, &k, &blob, &len);
	make_blob("ro2", 100, &k2, &b2, &l2);
	put_ok(s, &k, blob, len);
	ro = open_b(_i, "read_only=1");
	ck_assert_int_eq(jf_store_put(ro, &k2, b2, l2), JF_ERR_READONLY);
	ck_assert_ptr_nonnull(strstr(jf_store_errstr(ro), "read-only"));
	ck_assert_int_eq(jf_store_del(ro, &k), JF_ERR_READONLY);
	get_eq(ro, &k, blob, len);
	ck_assert_int_eq(jf_store_exists(s, &k2), JF_ERR_NOTFOUND);
	free(blob);
	free(b2);
	jf_store_close(ro);
	jf_store_close(s);
}
END_TEST

START_TEST(test_timeouts)
{
	char url[2048], err[256];
	jf_store_t *s = NULL;
	jf_key_t k;
	uint8_t *blob, *got;
	size_t len, glen;
	uint64_t t0;
	int port, fd = black_hole(&port), rc;

	make_blob("hang", 10, &k, &blob, &len);
	switch (_i) {
	case B_FILE:
		/* a local directory has no timeouts; the option is still parsed */
		snprintf(url, sizeof(url), "file://%s/%s?timeout_ms=-5", tmp_root, test_ns());
		ck_assert_int_eq(jf_store_open(url, NULL, &s, err, sizeof(err)), JF_ERR_INVAL);
		snprintf(url, sizeof(url), "file://%s/%s?timeout_ms=300", tmp_root, test_ns());
		break;
	default: {
		char ns[128];

		snprintf(ns, sizeof(ns), "%s-hang", test_ns());
		url_at(_i, port, ns, "timeout_ms=300&retries=0", url, sizeof(url));
		break;
	}
	}
	ck_assert_int_eq(jf_store_open(url, NULL, &s, err, sizeof(err)), 0);
	t0 = jf_now_ns();
	rc = jf_store_get(s, &k, &got, &glen);
	if (_i == B_FILE || _i == B_TIERED) {
		ck_assert_int_eq(rc, JF_ERR_NOTFOUND);
		if (_i == B_TIERED) {
			/* the hanging remote costs its timeout, and writes still land */
			put_ok(s, &k, blob, len);
			get_eq(s, &k, blob, len);
		}
	} else {
		ck_assert_msg(rc == JF_ERR_TIMEOUT, "%s: got %s: %s", bname[_i], jf_strerror(rc),
		    jf_store_errstr(s));
	}
	ck_assert_msg(ms_since(t0) < 2000, "%s: took %llu ms", bname[_i],
	    (unsigned long long)ms_since(t0));
	free(blob);
	jf_store_close(s);
	close(fd);
}
END_TEST

/* Redis (and tiered, whose leases are its remote's) hold leases; the
 * others say they cannot, so a caller goes ahead alone. */
START_TEST(test_lease)
{
	jf_store_t *a = open_b(_i, NULL), *b = open_b(_i, NULL);
	jf_key_t k;
	uint8_t *blob;
	size_t len;
	int got = -1;

	make_blob("lease", 1, &k, &blob, &len);
	free(blob);
	if (_i != B_REDIS && _i != B_TIERED) {
		ck_assert_int_eq(jf_store_lease(a, &k, 1000, &got), JF_ERR_UNSUPPORTED);
		ck_assert_int_eq(got, 0);
		goto out;
	}
	ck_assert_int_eq(jf_store_lease(a, &k, 5000, &got), 0);
	ck_assert_int_eq(got, 1);
	ck_assert_int_eq(jf_store_lease(b, &k, 5000, &got), 0);
	ck_assert_int_eq(got, 0);
	/* b cannot drop a's lease */
	ck_assert_int_eq(jf_store_lease_release(b, &k), 0);
	ck_assert_int_eq(jf_store_lease(b, &k, 5000, &got), 0);
	ck_assert_int_eq(got, 0);
	ck_assert_int_eq(jf_store_lease_release(a, &k), 0);
	ck_assert_int_eq(jf_store_lease(b, &k, 150, &got), 0);
	ck_assert_int_eq(got, 1);
	usleep(300000);                 /* expired: free again */
	ck_assert_int_eq(jf_store_lease(a, &k, 1000, &got), 0);
	ck_assert_int_eq(got, 1);
out:
	jf_store_close(a);
	jf_store_close(b);
}
END_TEST

/* --- redis-specific: resync when the stream lost the caller's place ------------------------- */

START_TEST(test_redis_resync)
{
	jf_store_t *s = open_b(B_REDIS, NULL);
	char cursor[JF_CURSOR_MAX], stream[128];
	const char *xtrim[] = { "XTRIM", stream, "MAXLEN", "0", NULL };
	const char *del[] = { "DEL", stream, NULL };
	wctx_t w = { .n = 0 };
	int i;
	char *out;

	snprintf(stream, sizeof(stream), "%s:s", test_ns());
	ck_assert_int_eq(jf_store_cursor(s, cursor, sizeof(cursor)), 0);
	ck_assert_str_eq(cursor, "0-0");
	for (i = 0; i < 3; i++) {
		char seed[32];
		uint8_t *blob;
		size_t len;
		jf_key_t k;

		snprintf(seed, sizeof(seed), "resync-%d", i);
		make_blob(seed, 8, &k, &blob, &len);
		put_ok(s, &k, blob, len);
		free(blob);
	}
	ck_assert_int_eq(jf_store_watch(s, cursor, sizeof(cursor), 100, on_watch, &w), 0);
	ck_assert_int_eq(w.n, 3);
	{
		char c2[JF_CURSOR_MAX] = "0-0";

		out = jft_redis_cli(redis_srv, xtrim);
		ck_assert_ptr_nonnull(out);
		free(out);
		/* the last cursor is still fine: nothing after it was lost */
		ck_assert_int_eq(jf_store_watch(s, cursor, sizeof(cursor), 50, on_watch, &w), 0);
		/* from the start, three entries are gone */
		ck_assert_int_eq(jf_store_watch(s, c2, sizeof(c2), 50, on_watch, &w), JF_ERR_RESYNC);
	}
	out = jft_redis_cli(redis_srv, del);
	free(out);
	ck_assert_int_eq(jf_store_watch(s, cursor, sizeof(cursor), 50, on_watch, &w),
	    JF_ERR_RESYNC);
	jf_store_close(s);
}
END_TEST

START_TEST(test_url_options)
{
	char url[2048], err[256];
	jf_store_t *s = NULL;

	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0?prefix=x&timeout_ms=abc", redis_srv->port);
	ck_assert_int_eq(jf_store_open(url, NULL, &s, err, sizeof(err)), JF_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "timeout_ms"));
	ck_assert_int_eq(jf_store_open("redis://:99999999/", NULL, &s, err, sizeof(err)),
	    JF_ERR_INVAL);
	ck_assert_int_eq(jf_store_open("tiered:file:///tmp/x", NULL, &s, err, sizeof(err)),
	    JF_ERR_INVAL);
	ck_assert_int_eq(jf_store_open("s3://", NULL, &s, err, sizeof(err)), JF_ERR_INVAL);
	ck_assert_int_eq(jf_store_open("gopher://x", NULL, &s, err, sizeof(err)), JF_ERR_INVAL);
	ck_assert_ptr_null(s);
}
END_TEST

/* --- auth, db selection, TTL ------------------------------------------------------------- */

START_TEST(test_redis_auth_db_ttl)
{
	jft_server_opts_t o = { .password = "s3cr%t" };
	jft_server_t *r = jft_redis_start(&o);
	char url[1024], err[256];
	jf_store_t *good, *bad, *db3;
	jf_key_t k;
	uint8_t *blob, *got;
	size_t len, glen;

	make_blob("auth", 100, &k, &blob, &len);
	/* the password is percent-encoded in the URL */
	snprintf(url, sizeof(url), "redis://:s3cr%%25t@127.0.0.1:%d/0?prefix=a&retries=0", r->port);
	ck_assert_msg(jf_store_open(url, NULL, &good, err, sizeof(err)) == 0, "%s: %s", url, err);
	put_ok(good, &k, blob, len);
	get_eq(good, &k, blob, len);
	snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/0?prefix=a&retries=0", r->port);
	ck_assert_int_eq(jf_store_open(url, NULL, &bad, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_store_get(bad, &k, &got, &glen), JF_ERR_AUTH);
	jf_store_close(bad);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0?prefix=a&retries=0", r->port);
	ck_assert_int_eq(jf_store_open(url, NULL, &bad, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_store_get(bad, &k, &got, &glen), JF_ERR_AUTH);
	jf_store_close(bad);
	/* another db does not see db 0's entries; a TTL makes them expire */
	snprintf(url, sizeof(url), "redis://:s3cr%%25t@127.0.0.1:%d/3?prefix=a&ttl_s=1", r->port);
	ck_assert_int_eq(jf_store_open(url, NULL, &db3, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_store_exists(db3, &k), JF_ERR_NOTFOUND);
	put_ok(db3, &k, blob, len);
	get_eq(db3, &k, blob, len);
	usleep(1200000);
	ck_assert_int_eq(jf_store_get(db3, &k, &got, &glen), JF_ERR_NOTFOUND);
	get_eq(good, &k, blob, len);
	free(blob);
	jf_store_close(db3);
	jf_store_close(good);
	jft_server_free(r);
}
END_TEST

/* Whether this machine has an IPv6 loopback to listen on. */
static int
have_ipv6_loopback(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* redis://[::1]:P: an IPv6 literal host, through jf_url_parse, with a
 * percent-encoded password holding the URL's own delimiters; the store's
 * connection is seen by the server as coming from ::1. */
START_TEST(test_redis_ipv6)
{
	jft_server_opts_t o = { .password = "p@ss:w/rd%", .ipv6 = 1 };
	const char *const list[] = { "CLIENT", "LIST", NULL };
	jft_server_t *r;
	char url[1024], err[256], *clients;
	jf_store_t *s;
	jf_key_t k;
	uint8_t *blob;
	size_t len;

	if (!have_ipv6_loopback()) {
		fprintf(stderr, "SKIP test_redis_ipv6: this machine has no IPv6 loopback (::1)\n");
		return;
	}
	r = jft_redis_start(&o);
	make_blob("ipv6", 100, &k, &blob, &len);
	snprintf(url, sizeof(url), "redis://:p%%40ss%%3Aw%%2Frd%%25@[::1]:%d/2?prefix=v6&retries=0",
	    r->port);
	ck_assert_msg(jf_store_open(url, NULL, &s, err, sizeof(err)) == 0, "%s: %s", url, err);
	put_ok(s, &k, blob, len);
	get_eq(s, &k, blob, len);
	clients = jft_redis_cli(r, list);
	ck_assert_ptr_nonnull(clients);
	ck_assert_msg(strstr(clients, "addr=[::1]:") != NULL && strstr(clients, "db=2") != NULL,
	    "no client from ::1 on db 2 in:\n%s", clients);
	free(clients);
	jf_store_close(s);
	/* the helper's own URL names the host the same way */
	ck_assert_ptr_nonnull(strstr(r->url, "@[::1]:"));
	free(blob);
	jft_server_free(r);
}
END_TEST

START_TEST(test_http_auth)
{
	jft_server_opts_t bo = { .bearer = "tok-123" }, uo = { .user = "jf", .password = "pw" };
	jft_server_t *b = jft_nginx_start(&bo), *u = jft_nginx_start(&uo);
	char url[1024], err[256], tokfile[4200];
	jf_store_t *s;
	jf_key_t k;
	uint8_t *blob, *got;
	size_t len, glen;

	make_blob("http-auth", 100, &k, &blob, &len);
	/* bearer: from the environment, or from a token file */
	snprintf(url, sizeof(url), "%s/x?retries=0", b->url);
	unsetenv("JITFARM_STORE_TOKEN");
	ck_assert_int_eq(jf_store_open(url, NULL, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_store_put(s, &k, blob, len), JF_ERR_AUTH);
	ck_assert_int_eq(jf_store_get(s, &k, &got, &glen), JF_ERR_AUTH);
	jf_store_close(s);
	setenv("JITFARM_STORE_TOKEN", "tok-123", 1);
	ck_assert_int_eq(jf_store_open(url, NULL, &s, err, sizeof(err)), 0);
	unsetenv("JITFARM_STORE_TOKEN");
	put_ok(s, &k, blob, len);
	jf_store_close(s);
	snprintf(tokfile, sizeof(tokfile), "%s/%s-token", tmp_root, test_ns());
	ck_assert_int_eq(jft_write(tokfile, "tok-123\n", 8), 0);
	snprintf(url, sizeof(url), "%s/x?retries=0&token_file=%s", b->url, tokfile);
	ck_assert_int_eq(jf_store_open(url, NULL, &s, err, sizeof(err)), 0);
	get_eq(s, &k, blob, len);
	jf_store_close(s);
	/* basic: user and password in the URL */
	snprintf(url, sizeof(url), "http://jf:pw@%s/store/x?retries=0", u->base);
	ck_assert_int_eq(jf_store_open(url, NULL, &s, err, sizeof(err)), 0);
	put_ok(s, &k, blob, len);
	get_eq(s, &k, blob, len);
	jf_store_close(s);
	snprintf(url, sizeof(url), "http://jf:nope@%s/store/x?retries=0", u->base);
	ck_assert_int_eq(jf_store_open(url, NULL, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_store_get(s, &k, &got, &glen), JF_ERR_AUTH);
	/* the password never shows in messages */
	ck_assert_ptr_null(strstr(jf_store_errstr(s), "nope"));
	jf_store_close(s);
	free(blob);
	jft_server_free(b);
	jft_server_free(u);
}
END_TEST

/* --- faults ------------------------------------------------------------------------------- */

static void
put_seq(jf_store_t *s, const char *tag, int from, int to)
{
	int i;

	for (i = from; i < to; i++) {
		char seed[64];
		uint8_t *blob;
		size_t len;
		jf_key_t k;

		snprintf(seed, sizeof(seed), "%s-%d", tag, i);
		make_blob(seed, 64, &k, &blob, &len);
		put_ok(s, &k, blob, len);
		free(blob);
	}
}

START_TEST(test_fault_redis_restart_under_watcher)
{
	jft_server_t *r = jft_redis_start(NULL);
	char url[1024], err[256], cursor[JF_CURSOR_MAX];
	jf_store_t *s;
	int pfd[2], i, st;
	pid_t kid;
	wctx_t got = { .n = 0 };
	ssize_t n;

	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0?prefix=f&breaker_cooldown_ms=100"
	    "&timeout_ms=1000&connect_timeout_ms=300", r->port);
	ck_assert_int_eq(jf_store_open(url, NULL, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_store_cursor(s, cursor, sizeof(cursor)), 0);
	ck_assert_int_eq(pipe(pfd), 0);
	if ((kid = fork()) == 0) {
		/* the watcher: its own handle, keeps calling watch through the outage */
		jf_store_t *w;
		wctx_t wc = { .n = 0 };
		uint64_t t0 = jf_now_ns();

		close(pfd[0]);
		if (jf_store_open(url, NULL, &w, err, sizeof(err)) != 0)
			_exit(2);
		while (wc.n < 10 && ms_since(t0) < 20000) {
			int rc = jf_store_watch(w, cursor, sizeof(cursor), 500, on_watch, &wc);

			if (rc == JF_ERR_RESYNC)
				_exit(4);
			if (rc != 0)
				usleep(50000);
		}
		jf_store_close(w);
		if (write(pfd[1], &wc, sizeof(wc)) != (ssize_t)sizeof(wc))
			_exit(5);
		_exit(wc.n == 10 ? 0 : 3);
	}
	close(pfd[1]);
	put_seq(s, "outage", 0, 3);
	usleep(300000);                 /* the watcher got them and blocks in XREAD */
	ck_assert_int_eq(jft_server_kill(r), 0);
	usleep(300000);                 /* it notices, and retries against nothing */
	ck_assert_int_eq(jft_server_restart(r), 0);
	put_seq(s, "outage", 3, 10);
	n = read(pfd[0], &got, sizeof(got));
	ck_assert_int_eq(waitpid(kid, &st, 0), kid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "watcher exit %d, got %d",
	    WIFEXITED(st) ? WEXITSTATUS(st) : -1, got.n);
	ck_assert_int_eq(n, (ssize_t)sizeof(got));
	for (i = 0; i < 10; i++) {
		char seed[64];
		uint8_t *blob;
		size_t len;
		jf_key_t k;

		snprintf(seed, sizeof(seed), "outage-%d", i);
		make_blob(seed, 64, &k, &blob, &len);
		free(blob);
		ck_assert_msg(jf_key_eq(&got.keys[i], &k), "entry %d missing or out of order", i);
	}
	close(pfd[0]);
	jf_store_close(s);
	jft_server_free(r);
}
END_TEST

START_TEST(test_fault_nginx_stopped)
{
	jft_server_t *ng = jft_nginx_start(NULL);
	char url[2048], turl[4096], err[256];
	jf_store_t *h, *t;
	jf_key_t k1, k2, k3;
	uint8_t *b1, *b2, *b3, *got;
	size_t l1, l2, l3, glen;
	uint64_t t0;
	int rc;

	snprintf(url, sizeof(url), "%s/f?timeout_ms=1000&connect_timeout_ms=500&retries=1"
	    "&breaker_cooldown_ms=300", ng->url);
	snprintf(turl, sizeof(turl), "tiered:file://%s/%s-fl,%s", tmp_root, test_ns(), url);
	ck_assert_int_eq(jf_store_open(url, NULL, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_store_open(turl, NULL, &t, err, sizeof(err)), 0);
	make_blob("ng-1", 100, &k1, &b1, &l1);
	make_blob("ng-2", 100, &k2, &b2, &l2);
	make_blob("ng-3", 100, &k3, &b3, &l3);
	put_ok(t, &k1, b1, l1);
	get_eq(h, &k1, b1, l1);         /* it reached the remote */

	ck_assert_int_eq(jft_server_stop(ng), 0);
	t0 = jf_now_ns();
	rc = jf_store_get(h, &k1, &got, &glen);
	ck_assert_msg(rc == JF_ERR_STORE || rc == JF_ERR_TIMEOUT, "got %s", jf_strerror(rc));
	ck_assert_msg(ms_since(t0) < 3000, "took %llu ms", (unsigned long long)ms_since(t0));
	ck_assert_ptr_nonnull(strstr(jf_store_errstr(h), "127.0.0.1"));

	/* the tiered store keeps serving from its local tier, quickly */
	t0 = jf_now_ns();
	get_eq(t, &k1, b1, l1);
	put_ok(t, &k2, b2, l2);
	get_eq(t, &k2, b2, l2);
	ck_assert_int_eq(jf_store_get(t, &k3, &got, &glen), JF_ERR_NOTFOUND);
	ck_assert_msg(ms_since(t0) < 4000, "tiered took %llu ms", (unsigned long long)ms_since(t0));

	/* back up: writes reach the remote again */
	ck_assert_int_eq(jft_server_restart(ng), 0);
	usleep(400000);                 /* past the breakers' cool-down */
	put_ok(t, &k3, b3, l3);
	get_eq(h, &k3, b3, l3);
	free(b1);
	free(b2);
	free(b3);
	jf_store_close(t);
	jf_store_close(h);
	jft_server_free(ng);
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("store");
	TCase *tc = tcase_create("conformance"), *tr = tcase_create("redis"),
	    *tf = tcase_create("faults");
	int nf;

	jft_s3_env();
	tmp_root = jft_tmpdir("store");
	redis_srv = jft_redis_start(NULL);
	nginx_srv = jft_nginx_start(NULL);
	s3_srv = jft_s3rver_start(NULL);

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_roundtrip, 0, NB);
	tcase_add_loop_test(tc, test_bad_put_refused, 0, NB);
	tcase_add_loop_test(tc, test_miss_vs_error, 0, NB);
	tcase_add_loop_test(tc, test_idempotent_concurrent, 0, NB);
	tcase_add_loop_test(tc, test_delete, 0, NB);
	tcase_add_loop_test(tc, test_list_paging, 0, NB);
	tcase_add_loop_test(tc, test_watch_other_process, 0, NB);
	tcase_add_loop_test(tc, test_integrity, 0, NB);
	tcase_add_loop_test(tc, test_load_all, 0, NB);
	tcase_add_loop_test(tc, test_read_only, 0, NB);
	tcase_add_loop_test(tc, test_timeouts, 0, NB);
	tcase_add_loop_test(tc, test_lease, 0, NB);
	suite_add_tcase(su, tc);
	tcase_set_timeout(tr, 30);
	tcase_add_test(tr, test_redis_resync);
	tcase_add_test(tr, test_url_options);
	tcase_add_test(tr, test_redis_auth_db_ttl);
	tcase_add_test(tr, test_redis_ipv6);
	tcase_add_test(tr, test_http_auth);
	suite_add_tcase(su, tr);
	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, test_fault_redis_restart_under_watcher);
	tcase_add_test(tf, test_fault_nginx_stopped);
	suite_add_tcase(su, tf);

	nf = jft_suite_run(su);
	jft_server_free(s3_srv);
	jft_server_free(nginx_srv);
	jft_server_free(redis_srv);
	jft_rmtree(tmp_root);
	free(tmp_root);
	return nf == 0 ? 0 : 1;
}
