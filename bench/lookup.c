/*
 * lookup.c - the runtime's numbers: lookup latency against a bare
 * open-addressing table, map rebuild and swap, push latency and preload.
 *
 *  1. Hit and miss latency of jf_lookup at 1,000, 100,000 and 1,000,000
 *     programs, with 1 and 2 threads, against a bare open-addressing
 *     lookup of the same keys in the same layout, in the same run and the
 *     same order (both are out-of-line calls). Each figure is the best of
 *     15 alternating rounds of 300,000 lookups. The last line is the summary for the
 *     cache-resident case (1,000 programs, 1 thread):
 *       lookup_hit_ns=... baseline_ns=... ratio=...
 *  2. Rebuild and swap of a 1,000,000-entry map with 1,000 new entries.
 *  3. Push latency: a store put (what the master does after a compile)
 *     until this node's map answers with the program, p50 and p99.
 *  4. Preload of 10,000 artifacts at open.
 *
 * Usage: lookup [--quick] [--only lookup|rebuild|push|preload]
 *   --quick: smaller sizes, for a smoke run
 */
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/runtime.h"
#include "common/blob.h"
#include "common/key.h"
#include "common/util.h"
#include "runtime/map.h"
#include "runtime/publish.h"
#include "runtime/rt.h"
#include "storage/store.h"
#include "compiler/compile.h"

static int quick;

/* ---- the baseline: a bare open-addressing table, same layout ------------------ */

__attribute__((noinline)) static void *
bare_lookup(const jf_map_t *m, const uint8_t *key)
{
	uint64_t id[4];
	const jf_mslot_t *s;

	memcpy(id, key, 32);
	s = jf_map_find(m, id);
	return s ? s->fn : NULL;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

typedef struct run {
	const uint8_t *keys;            /* 32 bytes each */
	const uint32_t *order;          /* query order */
	size_t nq;
	jf_runtime_t *rt;               /* NULL: baseline */
	const jf_map_t *bare;
	pthread_barrier_t *bar;
	double ns;
	uintptr_t sink;
} run_t;

static void *
run_thread(void *arg)
{
	run_t *r = arg;
	uintptr_t sink = 0;
	uint64_t t0;
	size_t i;

	pthread_barrier_wait(r->bar);
	t0 = jf_now_ns();
	if (r->rt != NULL) {
		for (i = 0; i < r->nq; i++) {
			jf_decision_t d = jf_lookup(r->rt, r->keys + (size_t)r->order[i] * 32);

			sink += (uintptr_t)d.fn + (uintptr_t)d.reason;
		}
	} else {
		for (i = 0; i < r->nq; i++)
			sink += (uintptr_t)bare_lookup(r->bare, r->keys + (size_t)r->order[i] * 32);
	}
	r->ns = (double)(jf_now_ns() - t0) / (double)r->nq;
	r->sink = sink;
	jf_thread_offline(r->rt);
	return NULL;
}

/* Average ns per lookup over nthreads threads running at once. */
static double
measure(int nthreads, jf_runtime_t *rt, const jf_map_t *bare, const uint8_t *keys,
    uint32_t *const *orders, size_t nq)
{
	pthread_t th[2];
	run_t r[2];
	pthread_barrier_t bar;
	double sum = 0;
	int i;

	pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
	for (i = 0; i < nthreads; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].keys = keys;
		r[i].order = orders[i];
		r[i].nq = nq;
		r[i].rt = rt;
		r[i].bare = bare;
		r[i].bar = &bar;
		pthread_create(&th[i], NULL, run_thread, &r[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		sum += r[i].ns;
	}
	pthread_barrier_destroy(&bar);
	return sum / nthreads;
}

static jf_runtime_t *
open_rt(const char *url, int preload, int watch, char *err, size_t errlen)
{
	jf_config_t *c;
	jf_runtime_t *rt = NULL;

	jf_config_new(&c);
	jf_config_set_store(c, url);
	jf_config_set_farm(c, "none", NULL);
	jf_config_set_namespace(c, "bench");
	jf_config_set_target(c, NULL, NULL, NULL, '1');
	jf_config_set_entry(c, "jf_entry");
	jf_config_set_tune(c, JF_TUNE_PRELOAD, preload);
	jf_config_set_tune(c, JF_TUNE_WATCH, watch);
	jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, 1 << 24);
	jf_config_set_tune(c, JF_TUNE_PROCESS_SYMBOLS, 0);
	if (jf_runtime_open(c, &rt, err, errlen) != 0)
		rt = NULL;
	jf_config_free(c);
	return rt;
}

static double summary_rt, summary_bare;

static void
bench_lookup(const char *url)
{
	size_t sizes[] = { 1000, 100000, 1000000 }, si;
	/* many short alternating rounds, keeping the best of each: on a shared
	 * machine the minimum is the figure least disturbed by preemption */
	size_t nq = quick ? 100000 : 300000;
	int rounds = quick ? 3 : 15;
	char err[512];
	jf_runtime_t *rt = open_rt(url, 0, 0, err, sizeof(err));

	if (rt == NULL) {
		printf("lookup: cannot open a runtime: %s\n", err);
		exit(1);
	}
	printf("%-10s %-8s %-6s %10s %12s %8s\n", "entries", "threads", "kind",
	    "jf_lookup", "baseline", "ratio");
	for (si = 0; si < JF_ARRAY_LEN(sizes); si++) {
		size_t n = quick ? sizes[si] / 10 : sizes[si], i;
		uint8_t *keys = malloc(2 * n * 32);     /* n present, then n absent */
		uint32_t *hit_order[2], *miss_order[2];
		jf_map_t *m = jf_map_new(n), *copy;
		int t, k, round;

		for (i = 0; i < 2 * n * 4; i++) {
			uint64_t w = rnd();

			memcpy(keys + i * 8, &w, 8);
		}
		for (i = 0; i < n; i++) {
			uint64_t id[4];

			memcpy(id, keys + i * 32, 32);
			jf_map_put(m, id, (void *)(uintptr_t)(0x100000 + i * 16),
			    (uintptr_t)(0x200000 + i * 16));
		}
		for (k = 0; k < 2; k++) {
			hit_order[k] = malloc(nq * sizeof(uint32_t));
			miss_order[k] = malloc(nq * sizeof(uint32_t));
			for (i = 0; i < nq; i++) {
				hit_order[k][i] = (uint32_t)(rnd() % n);
				miss_order[k][i] = (uint32_t)(n + rnd() % n);
			}
		}
		/* the runtime gets its own copy: same layout, same geometry */
		copy = jf_map_derive(m, NULL, 0, NULL, 0);
		jf_pub_map(rt, copy);
		for (t = 1; t <= 2; t++) {
			for (k = 0; k < 2; k++) {
				uint32_t *orders[2];
				double best_rt = 1e9, best_bare = 1e9;

				orders[0] = k == 0 ? hit_order[0] : miss_order[0];
				orders[1] = k == 0 ? hit_order[1] : miss_order[1];
				for (round = 0; round < rounds; round++) {
					double a = measure(t, NULL, m, keys, orders, nq);
					double b = measure(t, rt, NULL, keys, orders, nq);

					if (a < best_bare)
						best_bare = a;
					if (b < best_rt)
						best_rt = b;
				}
				printf("%-10zu %-8d %-6s %10.2f %12.2f %8.2f\n", n, t,
				    k == 0 ? "hit" : "miss", best_rt, best_bare,
				    best_rt / best_bare);
				if (si == 0 && t == 1 && k == 0) {
					summary_rt = best_rt;
					summary_bare = best_bare;
				}
			}
		}
		fflush(stdout);
		for (k = 0; k < 2; k++) {
			free(hit_order[k]);
			free(miss_order[k]);
		}
		jf_map_free(m);
		free(keys);
	}
	jf_runtime_close(rt);
}

static void
bench_rebuild(const char *url)
{
	size_t n = quick ? 100000 : 1000000, add = 1000, i;
	jf_mslot_t *adds = malloc(add * sizeof(*adds));
	uint64_t (*dels)[4] = malloc(sizeof(*dels));
	jf_map_t *m = jf_map_new(n * 2), *next;
	char err[512];
	jf_runtime_t *rt = open_rt(url, 0, 0, err, sizeof(err));
	uint64_t t0, t_copy, t_rehash;

	for (i = 0; i < n; i++) {
		uint64_t id[4] = { rnd(), rnd(), rnd(), rnd() };

		if (i == 0)
			memcpy(dels[0], id, 32);
		jf_map_put(m, id, (void *)0x1000, 0x2000);
	}
	for (i = 0; i < add; i++) {
		uint64_t id[4] = { rnd(), rnd(), rnd(), rnd() };

		memcpy(adds[i].id, id, 32);
		adds[i].fn = (void *)0x1000;
		adds[i].meta = 0x2000;
	}
	jf_pub_map(rt, m);
	t0 = jf_now_ns();
	next = jf_map_derive(m, adds, add, NULL, 0);
	jf_pub_map(rt, next);
	t_copy = jf_now_ns() - t0;
	t0 = jf_now_ns();
	next = jf_map_derive(next, adds, add, (const uint64_t (*)[4])dels, 1);
	jf_pub_map(rt, next);
	t_rehash = jf_now_ns() - t0;
	printf("\nrebuild+swap of %zu entries + %zu new: %.1f ms (slot copy); "
	    "with a removal (rehash): %.1f ms\n", n, add, t_copy / 1e6, t_rehash / 1e6);
	jf_runtime_close(rt);
	free(adds);
	free(dels);
}

/* One compiled object, stored as n artifacts with distinct program ids:
 * each is loaded into its own dylib, as n real programs would be. */
static int
make_artifacts(const char *url, size_t n, size_t first, jf_key_t *pids)
{
	static const char ir[] =
		"define i64 @jf_entry(i64 %x) {\n  %y = mul i64 %x, 3\n  ret i64 %y\n}\n";
	jf_compile_req_t req;
	jf_artifact_t a;
	jf_store_opts_t so;
	jf_store_t *st;
	char err[512];
	size_t i;

	memset(&req, 0, sizeof(req));
	req.ir = (const uint8_t *)ir;
	req.ir_len = sizeof(ir) - 1;
	jf_strlcpy(req.spec.ns, "bench", sizeof(req.spec.ns));
	req.spec.opt = '1';
	if (jf_compile(&req, &a, NULL, err, sizeof(err)) != 0) {
		printf("compile: %s\n", err);
		return -1;
	}
	memset(&so, 0, sizeof(so));
	if (jf_store_open(url, &so, &st, err, sizeof(err)) != 0) {
		printf("store: %s\n", err);
		return -1;
	}
	for (i = 0; i < n; i++) {
		jf_keyspec_t spec;
		uint8_t *blob;
		size_t len;
		uint64_t v = first + i;

		memset(&spec, 0, sizeof(spec));
		jf_sha256(&v, sizeof(v), a.m.program_id.b);
		spec.ns = "bench";
		spec.program_id = a.m.program_id;
		spec.target = &a.m.target;
		jf_key_derive(&spec, &a.m.key);
		if (pids != NULL)
			pids[i] = a.m.program_id;
		if (jf_blob_encode(&a, NULL, &blob, &len) != 0 ||
		    jf_store_put(st, &a.m.key, blob, len) != 0) {
			printf("put: %s\n", jf_store_errstr(st));
			return -1;
		}
		free(blob);
	}
	jf_store_close(st);
	jf_artifact_free(&a);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
bench_push(const char *url)
{
	size_t n = quick ? 50 : 200, i;
	uint64_t *lat = malloc(n * sizeof(*lat));
	jf_key_t pid;
	char err[512];
	jf_runtime_t *rt = open_rt(url, 1, 1, err, sizeof(err));

	if (rt == NULL) {
		printf("push: %s\n", err);
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t t0 = jf_now_ns();

		if (make_artifacts(url, 1, 500000 + i, &pid) != 0)
			break;
		while (jf_lookup(rt, pid.b).fn == NULL && jf_now_ns() - t0 < 5000000000ull)
			;
		lat[i] = jf_now_ns() - t0;
		usleep(2000);
	}
	qsort(lat, i, sizeof(*lat), cmp_u64);
	if (i > 0)
		printf("push latency (store put -> map swap, file store, %zu pushes): "
		    "p50 %.2f ms, p99 %.2f ms\n", i, lat[i / 2] / 1e6,
		    lat[(i * 99) / 100] / 1e6);
	jf_runtime_close(rt);
	free(lat);
}

static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	    ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

static void
bench_preload(const char *url)
{
	double c0;
	size_t n = quick ? 1000 : 10000;
	char err[512];
	jf_runtime_t *rt;
	jf_stats_t st;
	uint64_t t0;

	if (make_artifacts(url, n, 0, NULL) != 0)
		return;
	t0 = jf_now_ns();
	c0 = cpu_ms();
	rt = open_rt(url, 1, 0, err, sizeof(err));
	if (rt == NULL) {
		printf("preload: %s\n", err);
		return;
	}
	t0 = jf_now_ns() - t0;
	c0 = cpu_ms() - c0;
	jf_runtime_stats(rt, &st, sizeof(st));
	printf("preload of %llu artifacts (open to first map): %.0f ms wall, %.0f ms CPU "
	    "(%.1f us each)\n", (unsigned long long)st.preloaded, t0 / 1e6, c0,
	    t0 / 1e3 / (double)n);
	jf_runtime_close(rt);
}

int
main(int argc, char **argv)
{
	char dir[256], url[300], cmd[300];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	const char *only = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = 1;
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: lookup [--quick] [--only lookup|rebuild|push|preload]\n");
			return 2;
		}
	}
	jf_llvm_init();
	snprintf(dir, sizeof(dir), "%s/jf-bench-lookup-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(url, sizeof(url), "file://%s/a", dir);
#define WANT(x) (only == NULL || strcmp(only, x) == 0)
	if (WANT("lookup"))
		bench_lookup(url);
	if (WANT("rebuild"))
		bench_rebuild(url);
	snprintf(url, sizeof(url), "file://%s/push", dir);
	if (WANT("push"))
		bench_push(url);
	snprintf(url, sizeof(url), "file://%s/preload", dir);
	if (WANT("preload"))
		bench_preload(url);
	if (WANT("lookup")) {
		printf("\n(store in %s; summary: 1,000 programs, 1 thread, hits)\n", base);
		printf("lookup_hit_ns=%.2f baseline_ns=%.2f ratio=%.2f\n", summary_rt,
		    summary_bare, summary_rt / summary_bare);
	}
	if (getenv("JF_BENCH_KEEP") != NULL) {
		printf("kept %s\n", dir);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return 0;
}
