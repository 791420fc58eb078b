/*
 * bench/store.c - store latency and throughput, per backend, against real
 * servers on loopback, with a raw baseline against the same server in the
 * same run:
 *
 *  1. get and put of 1 KB, 100 KB and 10 MB blobs: p50 and p99 through
 *     jf_store_get/put (which verify and check every blob), against
 *     redis-benchmark (redis), curl (http, s3: one curl process reusing
 *     its connection) and read(2) / an atomic write (file);
 *  2. load_all of N artifacts of 4 KB (default 10,000): list + get,
 *     verified;
 *  3. push latency: from put returning in one thread to the watcher's
 *     callback in another (each with its own handle), p50 and p99.
 *
 * Usage: build/bench/store [N [SECTIONS]]   (SECTIONS: any of "lat,load,push",
 * default all; JF_SRC must point at the source tree for
 * s3rver, as `make bench` sets it). The servers are started by the test
 * launchers of tests/support, compiled in here, so the bench needs no
 * running services.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/mem.h"
#include "common/key.h"
#include "common/util.h"
#include "storage/store.h"

/* the test servers' launchers, compiled into this program */
#include "tests/support/support.c"
#include "tests/support/servers.c"

enum { B_FILE, B_REDIS, B_HTTP, B_S3, B_TIERED, NB };
static const char *const bname[NB] = { "file", "redis", "http", "s3", "tiered" };

static jft_server_t *redis_srv, *nginx_srv, *s3_srv;
static char *tmp_root;

static void
url_of(int b, const char *ns, char *buf, size_t len)
{
	switch (b) {
	case B_FILE:
		snprintf(buf, len, "file://%s/%s", tmp_root, ns);
		break;
	case B_REDIS:
		snprintf(buf, len, "redis://127.0.0.1:%d/0?prefix=%s", redis_srv->port, ns);
		break;
	case B_HTTP:
		snprintf(buf, len, "%s/%s?poll_ms=20&page_size=1000", nginx_srv->url, ns);
		break;
	case B_S3:
		snprintf(buf, len, "s3://jitfarm/%s?endpoint=http://127.0.0.1:%d&region=us-east-1"
		    "&poll_ms=20", ns, s3_srv->port);
		break;
	case B_TIERED:
		snprintf(buf, len, "tiered:file://%s/%s-local,redis://127.0.0.1:%d/0?prefix=%s",
		    tmp_root, ns, redis_srv->port, ns);
		break;
	}
}

static jf_store_t *
open_ns(int b, const char *ns)
{
	char url[2048], err[256];
	jf_store_t *s;

	url_of(b, ns, url, sizeof(url));
	if (jf_store_open(url, NULL, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "open %s: %s\n", url, err);
		exit(1);
	}
	return s;
}

static void
make_blob(const char *seed, size_t payload, jf_key_t *key, uint8_t **blob, size_t *len)
{
	static char ns[] = "bench", comp[] = "jitfarm/bench", prod[] = "bench", f[] = "f";
	static char *syms[] = { f };
	jf_artifact_t a;
	uint8_t h[32];
	size_t i;

	memset(&a, 0, sizeof(a));
	jf_sha256(seed, strlen(seed), h);
	memcpy(a.m.key.b, h, 32);
	memcpy(a.m.program_id.b, h, 32);
	a.m.ns = ns;
	strcpy(a.m.target.triple, "x86_64-unknown-linux-gnu");
	strcpy(a.m.target.cpu, "x86-64");
	a.m.target.opt = '2';
	a.m.compiler = comp;
	a.m.symbols = syms;
	a.m.nsymbols = 1;
	a.m.producer = prod;
	if ((a.payload = malloc(payload ? payload : 1)) == NULL)
		abort();
	for (i = 0; i < payload; i++)
		a.payload[i] = (uint8_t)(h[i % 32] ^ (i * 131));
	a.payload_len = payload;
	if (jf_blob_encode(&a, NULL, blob, len) != 0)
		abort();
	*key = a.m.key;
	free(a.payload);
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double *v, size_t n, double p)
{
	size_t i;

	qsort(v, n, sizeof(*v), dcmp);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* --- baselines ------------------------------------------------------------------------ */

/* redis-benchmark SET and GET of size bytes, one client: p50, p99 in ms */
static void
redis_baseline(size_t size, int n, double *set50, double *set99, double *get50, double *get99)
{
	char cmd[512], *out = NULL, *line;

	*set50 = *set99 = *get50 = *get99 = -1;
	snprintf(cmd, sizeof(cmd), "redis-benchmark -h 127.0.0.1 -p %d -t set,get -d %zu -n %d "
	    "-c 1 --csv 2>/dev/null", redis_srv->port, size, n);
	jft_sh(cmd, &out, NULL);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		double rps, avg, mn, p50, p95, p99;
		char test[32];

		/* "test","rps","avg","min","p50","p95","p99","max" */
		if (sscanf(line, "\"%31[^\"]\",\"%lf\",\"%lf\",\"%lf\",\"%lf\",\"%lf\",\"%lf\"", test,
		    &rps, &avg, &mn, &p50, &p95, &p99) != 7)
			continue;
		if (strcmp(test, "SET") == 0) {
			*set50 = p50;
			*set99 = p99;
		} else if (strcmp(test, "GET") == 0) {
			*get50 = p50;
			*get99 = p99;
		}
	}
	free(out);
}

/* curl, one process, n transfers of url (GET, or PUT of file): p50, p99 ms */
static void
curl_baseline(const char *url, const char *put_file, int n, int s3, double *p50, double *p99)
{
	char *cmd, *out = NULL, *line;
	size_t cap = 512 + (size_t)n * (strlen(url) + 4), o;
	double *v = calloc((size_t)n, sizeof(*v));
	int i, k = 0;

	cap += (size_t)n * (40 + (put_file ? strlen(put_file) : 0));
	cmd = malloc(cap);
	o = (size_t)snprintf(cmd, cap, "curl -s -w '%%{time_total}\\n' %s",
	    s3 ? "--aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER "
	    "-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'" : "");
	/* -o and -T apply to one URL each: one connection, n transfers */
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(cmd + o, cap - o, " -o /dev/null %s%s '%s'",
		    put_file ? "-T " : "", put_file ? put_file : "", url);
	jft_sh(cmd, &out, NULL);
	for (line = strtok(out, "\n"); line && k < n; line = strtok(NULL, "\n"))
		v[k++] = atof(line) * 1000.0;
	*p50 = k ? pct(v, (size_t)k, 0.5) : -1;
	*p99 = k ? pct(v, (size_t)k, 0.99) : -1;
	free(out);
	free(cmd);
	free(v);
}

/* read(2) of a file, and an atomic write (temp, fsync, rename) */
static void
file_baseline(const uint8_t *blob, size_t len, int n, double *g50, double *g99, double *p50,
    double *p99)
{
	char path[4200];
	double *vg = calloc((size_t)n, sizeof(double)), *vp = calloc((size_t)n, sizeof(double));
	int i;

	snprintf(path, sizeof(path), "%s/baseline.bin", tmp_root);
	for (i = 0; i < n; i++) {
		uint64_t t0 = jf_now_ns();
		uint8_t *b;
		size_t l;

		jf_file_write_atomic(path, blob, len, 0644);
		vp[i] = (double)(jf_now_ns() - t0) / 1e6;
		t0 = jf_now_ns();
		jf_file_read(path, len + 1, &b, &l);
		vg[i] = (double)(jf_now_ns() - t0) / 1e6;
		free(b);
	}
	*g50 = pct(vg, (size_t)n, 0.5);
	*g99 = pct(vg, (size_t)n, 0.99);
	*p50 = pct(vp, (size_t)n, 0.5);
	*p99 = pct(vp, (size_t)n, 0.99);
	free(vg);
	free(vp);
}

/* --- 1. get / put latency ------------------------------------------------------------------ */

static void
bench_latency(void)
{
	static const size_t sizes[] = { 1024, 100 * 1024, 10u << 20 };
	static const int iters[] = { 400, 200, 20 };
	size_t si;
	int b;

	printf("\n## get/put latency (ms; store = jf_store_*, verified; base = raw client)\n");
	printf("%-7s %-7s %9s %9s %9s %9s | %9s %9s %9s %9s\n", "backend", "size", "put p50",
	    "put p99", "base p50", "base p99", "get p50", "get p99", "base p50", "base p99");
	for (b = 0; b < NB; b++) {
		for (si = 0; si < JF_ARRAY_LEN(sizes); si++) {
			int n = iters[si], i;
			double *vp = calloc((size_t)n, sizeof(double)), *vg = calloc((size_t)n, sizeof(double));
			double bp50 = -1, bp99 = -1, bg50 = -1, bg99 = -1;
			char ns[64];
			jf_store_t *s;

			snprintf(ns, sizeof(ns), "lat%d-%zu", b, si);
			s = open_ns(b, ns);
			for (i = 0; i < n; i++) {
				char seed[64];
				jf_key_t k;
				uint8_t *blob, *got;
				size_t len, glen;
				uint64_t t0;

				snprintf(seed, sizeof(seed), "lat-%d-%zu-%d", b, si, i);
				make_blob(seed, sizes[si], &k, &blob, &len);
				t0 = jf_now_ns();
				if (jf_store_put(s, &k, blob, len) != 0) {
					fprintf(stderr, "%s put: %s\n", bname[b], jf_store_errstr(s));
					exit(1);
				}
				vp[i] = (double)(jf_now_ns() - t0) / 1e6;
				t0 = jf_now_ns();
				if (jf_store_get(s, &k, &got, &glen) != 0) {
					fprintf(stderr, "%s get: %s\n", bname[b], jf_store_errstr(s));
					exit(1);
				}
				vg[i] = (double)(jf_now_ns() - t0) / 1e6;
				jf_free(got);
				if (i == 0 && (b == B_FILE || b == B_HTTP || b == B_S3)) {
					char url[4200], path[4200], hex[JF_KEY_HEX_LEN + 1];

					jf_key_hex(&k, hex);
					snprintf(path, sizeof(path), "%s/bl.bin", tmp_root);
					jft_write(path, blob, len);
					if (b == B_FILE) {
						file_baseline(blob, len, n, &bg50, &bg99, &bp50, &bp99);
					} else {
						if (b == B_HTTP)
							snprintf(url, sizeof(url), "%s/%s/a/%.2s/%s", nginx_srv->url,
							    ns, hex, hex);
						else
							snprintf(url, sizeof(url), "http://127.0.0.1:%d/jitfarm/%s/a/%.2s/%s",
							    s3_srv->port, ns, hex, hex);
						curl_baseline(url, NULL, n, b == B_S3, &bg50, &bg99);
						strcat(url, ".base");
						curl_baseline(url, path, n, b == B_S3, &bp50, &bp99);
					}
				}
				free(blob);
			}
			if (b == B_REDIS)
				redis_baseline(sizes[si] + 200, n < 100 ? 100 : n * 5, &bp50, &bp99, &bg50, &bg99);
			printf("%-7s %-7s %9.3f %9.3f %9.3f %9.3f | %9.3f %9.3f %9.3f %9.3f\n", bname[b],
			    si == 0 ? "1KB" : si == 1 ? "100KB" : "10MB",
			    pct(vp, (size_t)n, 0.5), pct(vp, (size_t)n, 0.99), bp50, bp99,
			    pct(vg, (size_t)n, 0.5), pct(vg, (size_t)n, 0.99), bg50, bg99);
			fflush(stdout);
			jf_store_close(s);
			free(vp);
			free(vg);
		}
	}
}

/* --- 2. load_all ---------------------------------------------------------------------------- */

static int
count_blob(const jf_key_t *k, const uint8_t *blob, size_t len, void *arg)
{
	size_t *n = arg;

	(void)k;
	(void)blob;
	(void)len;
	(*n)++;
	return 0;
}

static void
bench_load_all(int n)
{
	int b;

	printf("\n## load_all of %d artifacts of 4 KB (list + get, every blob verified)\n", n);
	printf("%-7s %10s %12s %14s\n", "backend", "fill (s)", "load_all (s)", "per entry (us)");
	for (b = 0; b < NB; b++) {
		char ns[64];
		jf_store_t *s;
		uint64_t t0, t1;
		size_t got = 0;
		int i;

		snprintf(ns, sizeof(ns), "load%d", b);
		s = open_ns(b, ns);
		t0 = jf_now_ns();
		for (i = 0; i < n; i++) {
			char seed[64];
			jf_key_t k;
			uint8_t *blob;
			size_t len;

			snprintf(seed, sizeof(seed), "load-%d-%d", b, i);
			make_blob(seed, 4096 - 200, &k, &blob, &len);
			if (jf_store_put(s, &k, blob, len) != 0) {
				fprintf(stderr, "%s put: %s\n", bname[b], jf_store_errstr(s));
				exit(1);
			}
			free(blob);
		}
		t1 = jf_now_ns();
		jf_store_close(s);
		s = open_ns(b, ns);             /* a fresh handle, as a starting node has */
		{
			uint64_t l0 = jf_now_ns(), l1;
			int rc = jf_store_load_all(s, count_blob, &got);

			l1 = jf_now_ns();
			if (rc != 0 || got != (size_t)n) {
				fprintf(stderr, "%s load_all: %s, %zu of %d\n", bname[b], jf_store_errstr(s),
				    got, n);
				exit(1);
			}
			printf("%-7s %10.2f %12.3f %14.1f\n", bname[b], (double)(t1 - t0) / 1e9,
			    (double)(l1 - l0) / 1e9, (double)(l1 - l0) / 1e3 / n);
		}
		fflush(stdout);
		jf_store_close(s);
	}
}

/* --- 3. push latency -------------------------------------------------------------------------- */

typedef struct push {
	int b, n;
	char ns[64];
	char cursor[JF_CURSOR_MAX];
	uint64_t *t_put, *t_call, *t_cb;
	jf_key_t *keys;
	volatile int got, ready;
} push_t;

static int
on_push(const jf_key_t *k, const char *cursor, void *arg)
{
	push_t *p = arg;
	uint64_t now = jf_now_ns();
	int i;

	(void)cursor;
	for (i = 0; i < p->n; i++)
		if (jf_key_eq(&p->keys[i], k) && p->t_cb[i] == 0) {
			p->t_cb[i] = now;
			p->got++;
			break;
		}
	return 0;
}

static void *
watcher(void *arg)
{
	push_t *p = arg;
	jf_store_t *s = open_ns(p->b, p->ns);
	uint64_t t0 = jf_now_ns();

	p->ready = 1;
	while (p->got < p->n && jf_now_ns() - t0 < 60000000000ull) {
		int rc = jf_store_watch(s, p->cursor, sizeof(p->cursor), 200, on_push, p);

		if (rc != 0) {
			fprintf(stderr, "%s watch: %s\n", bname[p->b], jf_store_errstr(s));
			break;
		}
	}
	jf_store_close(s);
	return NULL;
}

static void
bench_push(int n)
{
	int b;

	printf("\n## push latency: put returns -> watcher callback (ms), %d entries, 5 ms apart\n", n);
	printf("(0 when the callback ran before put returned; the last two columns are from\n"
	    " the call to put, which includes the write itself)\n");
	printf("%-7s %9s %9s %9s | %9s %9s\n", "backend", "p50", "p99", "max", "call p50",
	    "call p99");
	for (b = 0; b < NB; b++) {
		push_t p = { .b = b, .n = n };
		jf_store_t *s;
		pthread_t th;
		double *v = calloc((size_t)n, sizeof(double)), *vc = calloc((size_t)n, sizeof(double));
		int i, m = 0;

		snprintf(p.ns, sizeof(p.ns), "push%d", b);
		p.t_put = calloc((size_t)n, sizeof(uint64_t));
		p.t_call = calloc((size_t)n, sizeof(uint64_t));
		p.t_cb = calloc((size_t)n, sizeof(uint64_t));
		p.keys = calloc((size_t)n, sizeof(jf_key_t));
		s = open_ns(b, p.ns);
		if (jf_store_cursor(s, p.cursor, sizeof(p.cursor)) != 0) {
			fprintf(stderr, "%s cursor: %s\n", bname[b], jf_store_errstr(s));
			exit(1);
		}
		for (i = 0; i < n; i++) {
			char seed[64];
			uint8_t *blob;
			size_t len;

			snprintf(seed, sizeof(seed), "push-%d-%d", b, i);
			make_blob(seed, 1024, &p.keys[i], &blob, &len);
			free(blob);
		}
		pthread_create(&th, NULL, watcher, &p);
		while (!p.ready)
			usleep(1000);
		usleep(100000);
		for (i = 0; i < n; i++) {
			char seed[64];
			jf_key_t k;
			uint8_t *blob;
			size_t len;

			snprintf(seed, sizeof(seed), "push-%d-%d", b, i);
			make_blob(seed, 1024, &k, &blob, &len);
			p.t_call[i] = jf_now_ns();
			if (jf_store_put(s, &k, blob, len) != 0) {
				fprintf(stderr, "%s put: %s\n", bname[b], jf_store_errstr(s));
				exit(1);
			}
			p.t_put[i] = jf_now_ns();
			free(blob);
			usleep(5000);
		}
		pthread_join(th, NULL);
		for (i = 0; i < n; i++)
			if (p.t_cb[i]) {
				/* the callback can beat put's return: that is 0 */
				vc[m] = (double)(p.t_cb[i] - p.t_call[i]) / 1e6;
				v[m++] = p.t_cb[i] > p.t_put[i] ? (double)(p.t_cb[i] - p.t_put[i]) / 1e6 : 0;
			}
		if (m < n)
			printf("%-7s (only %d of %d arrived)\n", bname[b], m, n);
		if (m > 0) {
			printf("%-7s %9.3f %9.3f %9.3f", bname[b], pct(v, (size_t)m, 0.5),
			    pct(v, (size_t)m, 0.99), pct(v, (size_t)m, 1.0));
			printf(" | %9.3f %9.3f\n", pct(vc, (size_t)m, 0.5), pct(vc, (size_t)m, 0.99));
		}
		fflush(stdout);
		jf_store_close(s);
		free(v);
		free(vc);
		free(p.t_call);
		free(p.t_put);
		free(p.t_cb);
		free(p.keys);
	}
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	const char *sec = argc > 2 ? argv[2] : "lat,load,push";

	if (n <= 0)
		n = 10000;
	jft_s3_env();
	tmp_root = jft_tmpdir("bench-store");
	redis_srv = jft_redis_start(&(jft_server_opts_t){ .no_persist = 1 });
	nginx_srv = jft_nginx_start(NULL);
	s3_srv = jft_s3rver_start(NULL);
	printf("# store benchmark: redis-server, nginx WebDAV and s3rver on loopback, file in %s\n",
	    tmp_root);
	if (strstr(sec, "lat"))
		bench_latency();
	if (strstr(sec, "load"))
		bench_load_all(n);
	if (strstr(sec, "push"))
		bench_push(200);
	jft_server_free(s3_srv);
	jft_server_free(nginx_srv);
	jft_server_free(redis_srv);
	jft_rmtree(tmp_root);
	free(tmp_root);
	return 0;
}
