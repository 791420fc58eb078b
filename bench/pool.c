/*
 * pool.c (bench) - what the fork-server and the sandbox cost a compile.
 *
 * 1. Overhead: the 300-function module at O2 compiled in this process
 *    (jf_compile) and through a one-worker pool (jf_pool_compile:
 *    encode, stream to a sandboxed worker, compile there, stream the
 *    artifact back, decode), median of each; the ratio is the figure of
 *    merit. The in-process baseline runs twice: first while this process
 *    is single-threaded (before the pool exists, as a program without
 *    a pool would compile), and again once the pool's supervisor thread
 *    runs in it; glibc's allocator takes locks only in a multi-threaded
 *    process, and LLVM allocates a lot, so the two differ.
 * 2. Throughput: tiny O0 compiles per second through the pool with one
 *    and with two workers (requests kept queued, asynchronous submit and
 *    dispatch), against the same compile in a loop in this process.
 *
 *   make bench   (or: build/bench/pool [FUNCTIONS] [SECONDS] [RUNS])
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "worker/pool.h"
#include "bench/bench_ir.h"

static const char tiny_ll[] =
	"define i64 @add(i64 %a, i64 %b) {\n"
	"  %s = add i64 %a, %b\n"
	"  ret i64 %s\n"
	"}\n";

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}


static jf_compile_req_t
req_of(const char *ir, size_t len, char opt)
{
	jf_compile_req_t r;

	memset(&r, 0, sizeof(r));
	r.ir = (const uint8_t *)ir;
	r.ir_len = len;
	r.spec.opt = opt;
	r.producer = "bench";
	return r;
}

static jf_pool_t *
pool_of(int workers)
{
	jf_pool_opts_t o;
	jf_pool_t *p = NULL;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.workers = workers;
	o.spares = 1;
	o.max_jobs = 1000000;
	o.queue_limit = 64;
	if (jf_pool_create(&o, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "pool: %s\n", err);
		exit(1);
	}
	return p;
}

static void
count_done(jf_pool_result_t *res, void *arg)
{
	int *n = arg;

	if (res->result != 0) {
		fprintf(stderr, "pool: compile failed: %s\n", res->msg);
		exit(1);
	}
	jf_artifact_free(&res->art);
	(*n)++;
}

/* Keep the pool's queue full of tiny compiles for secs; compiles/s. */
static double
throughput(jf_pool_t *p, double secs)
{
	jf_compile_req_t r = req_of(tiny_ll, strlen(tiny_ll), '0');
	uint64_t t0 = jf_now_ns(), end = t0 + (uint64_t)(secs * 1e9);
	int done = 0, sent = 0;
	jf_key_t key;

	/* one key for all: the bench measures the pool, not SHA-256 */
	memset(key.b, 1, sizeof(key.b));
	while (jf_now_ns() < end || done < sent) {
		struct pollfd pfd = { .fd = jf_pool_fd(p), .events = POLLIN };

		while (jf_now_ns() < end && sent - done < 32 &&
		    jf_pool_submit(p, &r, &key, 0, count_done, &done) == 0)
			sent++;
		poll(&pfd, 1, 10);
		jf_pool_dispatch(p);
	}
	return done / ((double)(jf_now_ns() - t0) / 1e9);
}

static uint64_t
median3(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(uint64_t), cmp_u64);
	return v[n / 2];
}

/* Median of runs in-process compiles of r. */
static uint64_t
inproc_median(const jf_compile_req_t *r, int runs)
{
	uint64_t v[16], t0;
	jf_artifact_t a;
	char err[512];
	int i;

	for (i = 0; i < runs; i++) {
		t0 = jf_now_ns();
		if (jf_compile(r, &a, NULL, err, sizeof(err)) != 0) {
			fprintf(stderr, "pool: %s\n", err);
			exit(1);
		}
		v[i] = jf_now_ns() - t0;
		jf_artifact_free(&a);
	}
	return median3(v, runs);
}

static double
inproc_rate(const jf_compile_req_t *r, double secs)
{
	uint64_t t0 = jf_now_ns();
	jf_artifact_t a;
	char err[512];
	int n = 0;

	while (jf_now_ns() - t0 < (uint64_t)(secs * 1e9)) {
		if (jf_compile(r, &a, NULL, err, sizeof(err)) != 0)
			exit(1);
		jf_artifact_free(&a);
		n++;
	}
	return n / ((double)(jf_now_ns() - t0) / 1e9);
}

int
main(int argc, char **argv)
{
	int nfn = argc > 1 ? atoi(argv[1]) : 300, runs = argc > 3 ? atoi(argv[3]) : 5, i;
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	uint64_t pooled[16], inproc[16], overhead[16], lat_pool[201], lat_in[201];
	uint64_t t0, st_ns, mt_ns, pool_ns;
	jf_compile_req_t big, tiny;
	jf_artifact_t a;
	jf_pool_t *p;
	char err[512];
	size_t len;
	char *ir;
	double st_rate, r1, r2;

	jf_zygote_main_if_requested(argc, argv);
	if (runs < 1 || runs > 16)
		runs = 5;
	if (jf_llvm_init() != 0)
		return 1;
	ir = bench_gen_ir(nfn > 0 ? nfn : 300, &len);
	big = req_of(ir, len, '2');
	tiny = req_of(tiny_ll, strlen(tiny_ll), '0');

	/* 1. in this process while it is still single-threaded, as a
	 * program without a pool would compile */
	(void)inproc_median(&big, 1);           /* warm */
	st_ns = inproc_median(&big, runs);
	st_rate = inproc_rate(&tiny, secs);

	/* 2. through the pool (its zygote is forked here: still no threads) */
	p = pool_of(1);
	if (jf_pool_compile(p, &big, 600000, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "pool: %s\n", err);
		return 1;
	}
	jf_artifact_free(&a);
	/* 3. alternating with in-process compiles, now that the pool's
	 * thread runs in this process, so load changes hit both alike */
	for (i = 0; i < runs; i++) {
		t0 = jf_now_ns();
		if (jf_pool_compile(p, &big, 600000, &a, err, sizeof(err)) != 0)
			return 1;
		pooled[i] = jf_now_ns() - t0;
		/* what the worker itself spent compiling, from the manifest */
		overhead[i] = pooled[i] > a.m.compile_ns ? pooled[i] - a.m.compile_ns : 0;
		jf_artifact_free(&a);
		inproc[i] = inproc_median(&big, 1);
	}
	pool_ns = median3(pooled, runs);
	mt_ns = median3(inproc, runs);
	/* one tiny compile at a time: the pool's cost per request */
	for (i = 0; i < 201; i++) {
		t0 = jf_now_ns();
		if (jf_pool_compile(p, &tiny, 0, &a, err, sizeof(err)) != 0)
			return 1;
		lat_pool[i] = jf_now_ns() - t0;
		jf_artifact_free(&a);
		lat_in[i] = inproc_median(&tiny, 1);
	}
	r1 = throughput(p, secs);
	jf_pool_destroy(p);
	p = pool_of(2);
	r2 = throughput(p, secs);
	jf_pool_destroy(p);

	printf("%d-function module at O2, median of %d (ms)\n", nfn, runs);
	printf("  in process, single-threaded (before the pool)  %8.1f\n", st_ns / 1e6);
	printf("  through the pool, 1 worker                     %8.1f\n", pool_ns / 1e6);
	printf("  in process, alternating with the pool          %8.1f\n", mt_ns / 1e6);
	printf("  of which outside the worker's compile          %8.2f\n",
	    median3(overhead, runs) / 1e6);
	printf("ratio pool / in-process single-threaded = %.3f\n", (double)pool_ns / (double)st_ns);
	printf("ratio pool / in-process multi-threaded  = %.3f\n", (double)pool_ns / (double)mt_ns);
	printf("tiny O0 compile, one at a time, median of 201 (ms)\n");
	printf("  in process                        %9.3f\n", median3(lat_in, 201) / 1e6);
	printf("  through the pool                  %9.3f\n", median3(lat_pool, 201) / 1e6);
	printf("tiny O0 compiles per second (%.1f s each)\n", secs);
	printf("  in process, single-threaded       %9.0f\n", st_rate);
	printf("  pool, 1 worker                    %9.0f  (%.2fx in-process)\n", r1, r1 / st_rate);
	printf("  pool, 2 workers                   %9.0f  (%.2fx in-process)\n", r2, r2 / st_rate);
	free(ir);
	return 0;
}
