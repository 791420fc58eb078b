/*
 * bench/master.c - what the master costs on top of the compile itself,
 * and how fast it serves hits.
 *
 * Starts build/bin/jitfarm-master on a free loopback port with a file
 * store in a temp dir, then measures, each against a same-run baseline:
 *
 *   1. compile latency: the same IR compiled in this process (jf_compile)
 *      and through the master (HTTP, store lookup, sandboxed worker, put),
 *      each with a fresh namespace so that every request is a miss;
 *   2. hit latency: p50/p99 of GET /v1/artifacts/<key> and of a POST
 *      /v1/compile that hits, for a ~100 KB artifact, over one kept-alive
 *      loopback connection (target: p50 under 1 ms);
 *   3. hit throughput: wrk (Debian's package) against the GET, when wrk
 *      is installed.
 *
 * Figures are printed; nothing is asserted. Options: -n compiles
 * (default 20), -h hits (default 2000), -d wrk seconds (default 5).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <fcntl.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/mem.h"
#include "client/farmclient.h"
#include "common/util.h"
#include "compiler/compile.h"

static int
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		exit(1);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return (double)v[i] / 1e6;
}

/* IR with nfn small looping functions: about 250 bytes of object each. */
static char *
make_ir(int nfn, size_t *len)
{
	size_t cap = (size_t)nfn * 700 + 64, n = 0;
	char *s = malloc(cap);
	int i;

	for (i = 0; i < nfn; i++)
		n += (size_t)snprintf(s + n, cap - n,
		    "define i64 @f%d(i64 %%n, ptr %%p) {\n"
		    "entry:\n  br label %%loop\n"
		    "loop:\n  %%i = phi i64 [0, %%entry], [%%i2, %%loop]\n"
		    "  %%acc = phi i64 [0, %%entry], [%%acc2, %%loop]\n"
		    "  %%q = getelementptr i64, ptr %%p, i64 %%i\n"
		    "  %%v = load i64, ptr %%q\n  %%m = mul i64 %%v, %d\n"
		    "  %%x = xor i64 %%m, %%acc\n  %%acc2 = add i64 %%x, %%i\n"
		    "  %%i2 = add i64 %%i, 1\n  %%c = icmp ult i64 %%i2, %%n\n"
		    "  br i1 %%c, label %%loop, label %%done\n"
		    "done:\n  ret i64 %%acc2\n}\n", i, i + 3);
	*len = n;
	return s;
}

int
main(int argc, char **argv)
{
	int ncomp = 20, nhits = 2000, wrk_s = 5, port, i, c, up = 0;
	char dir[] = "/tmp/jfbench-master-XXXXXX", store[128], listen[64], url[128];
	char err[1024], hex[JF_KEY_HEX_LEN + 1], cmd[512], master[1024];
	const char *bin = getenv("JF_BIN");
	jf_farm_opts_t fo = { 0 };
	jf_farm_t *f = NULL;
	uint64_t *lat, t, sum_in = 0, sum_farm = 0;
	jf_farm_result_t res;
	pid_t pid;
	char *ir, *small;
	size_t ir_len, small_len;
	jf_key_t key;

	while ((c = getopt(argc, argv, "n:h:d:")) != -1) {
		if (c == 'n')
			ncomp = atoi(optarg);
		else if (c == 'h')
			nhits = atoi(optarg);
		else if (c == 'd')
			wrk_s = atoi(optarg);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ncomp < 1 || nhits < 10)
		return 2;
	if (mkdtemp(dir) == NULL)
		return 1;
	port = free_port();
	snprintf(store, sizeof(store), "file://%s/store", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	snprintf(master, sizeof(master), "%s/jitfarm-master", bin != NULL ? bin : "build/bin");
	if ((pid = fork()) == 0) {
		const char *lf = getenv("JF_BENCH_MASTER_LOG");
		int fd = open(lf != NULL ? lf : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		execl(master, master, "--listen", listen, "--store", store, "--log-level",
		    lf != NULL ? "info" : "warn",
		    "--queue-limit", "4096", (char *)NULL);
		_exit(127);
	}
	fo.url = url;
	if (jf_farm_open(&fo, &f, err, sizeof(err)) != 0)
		goto fail;
	for (i = 0; i < 300 && !up; i++) {
		uint64_t sz;

		memset(&key, 0, sizeof(key));
		up = jf_farm_head(f, &key, &sz, err, sizeof(err)) == JF_ERR_NOTFOUND;
		if (!up)
			usleep(20000);
	}
	if (!up) {
		fprintf(stderr, "master did not come up: %s\n", err);
		goto fail;
	}
	jf_llvm_init();
	printf("machine: %ld cores; master %s, file store in %s\n",
	    sysconf(_SC_NPROCESSORS_ONLN), master, dir);

	/* 1. compile latency, miss every time */
	small = make_ir(20, &small_len);
	for (i = 0; i < ncomp; i++) {
		jf_compile_req_t rq = { .ir = (const uint8_t *)small, .ir_len = small_len,
			.spec.opt = '2' };
		jf_farm_compile_t fc = { .ir = (const uint8_t *)small, .ir_len = small_len,
			.spec.opt = '2' };
		jf_artifact_t a;
		char ns[32];

		snprintf(ns, sizeof(ns), "bench-%d-%d", (int)getpid(), i);
		jf_strlcpy(rq.spec.ns, ns, sizeof(rq.spec.ns));
		jf_strlcpy(fc.spec.ns, ns, sizeof(fc.spec.ns));
		t = jf_now_ns();
		if (jf_compile(&rq, &a, NULL, err, sizeof(err)) != 0)
			goto fail;
		sum_in += jf_now_ns() - t;
		jf_artifact_free(&a);
		t = jf_now_ns();
		if (jf_farm_compile(f, &fc, &res, err, sizeof(err)) != 0 ||
		    strcmp(res.cache, "miss") != 0)
			goto fail;
		sum_farm += jf_now_ns() - t;
		jf_farm_result_free(&res);
	}
	printf("compile (20 looping functions, O2, miss): in-process %.2f ms, through the master "
	    "%.2f ms, overhead %.2f ms (x%.2f)\n", (double)sum_in / ncomp / 1e6,
	    (double)sum_farm / ncomp / 1e6, (double)(sum_farm - sum_in) / ncomp / 1e6,
	    (double)sum_farm / (double)sum_in);
	free(small);

	/* 2. a ~100 KB artifact, then hits */
	ir = make_ir(560, &ir_len);
	{
		jf_farm_compile_t fc = { .ir = (const uint8_t *)ir, .ir_len = ir_len,
			.spec = { .opt = '0', .ns = "bench-hit" } };

		if (jf_farm_compile(f, &fc, &res, err, sizeof(err)) != 0)
			goto fail;
		key = res.key;
		printf("hit artifact: %zu bytes\n", res.blob_len);
		jf_farm_result_free(&res);
		lat = calloc((size_t)nhits, sizeof(*lat));
		for (i = 0; i < nhits; i++) {
			uint8_t *blob;
			size_t len;

			t = jf_now_ns();
			if (jf_farm_get(f, &key, &blob, &len, err, sizeof(err)) != 0)
				goto fail;
			lat[i] = jf_now_ns() - t;
			jf_free(blob);
		}
		qsort(lat, (size_t)nhits, sizeof(*lat), cmp_u64);
		printf("hit latency GET /v1/artifacts (keep-alive, %d requests): p50 %.3f ms, "
		    "p99 %.3f ms, max %.3f ms\n", nhits, pct(lat, (size_t)nhits, 0.5),
		    pct(lat, (size_t)nhits, 0.99), pct(lat, (size_t)nhits, 1.0));
		for (i = 0; i < nhits; i++) {
			t = jf_now_ns();
			if (jf_farm_compile(f, &fc, &res, err, sizeof(err)) != 0)
				goto fail;
			lat[i] = jf_now_ns() - t;
			jf_farm_result_free(&res);
		}
		qsort(lat, (size_t)nhits, sizeof(*lat), cmp_u64);
		printf("hit latency POST /v1/compile (IR %zu bytes up, key derived): p50 %.3f ms, "
		    "p99 %.3f ms\n", ir_len, pct(lat, (size_t)nhits, 0.5),
		    pct(lat, (size_t)nhits, 0.99));
		free(lat);
	}
	free(ir);

	/* 3. throughput with wrk */
	jf_key_hex(&key, hex);
	snprintf(cmd, sizeof(cmd), "wrk -t2 -c32 -d%ds %s/v1/artifacts/%s 2>&1", wrk_s, url, hex);
	if (system("command -v wrk >/dev/null 2>&1") == 0) {
		FILE *p = popen(cmd, "r");
		char line[256];

		printf("$ %s\n", cmd);
		while (p != NULL && fgets(line, sizeof(line), p) != NULL)
			if (strstr(line, "Requests/sec") || strstr(line, "Latency") ||
			    strstr(line, "Transfer/sec") || strstr(line, "Non-2xx"))
				printf("  %s", line);
		if (p != NULL)
			pclose(p);
		snprintf(cmd, sizeof(cmd), "wrk -t2 -c32 -d%ds %s/healthz 2>&1", wrk_s, url);
		printf("$ %s (baseline: no store, no body)\n", cmd);
		if ((p = popen(cmd, "r")) != NULL) {
			while (fgets(line, sizeof(line), p) != NULL)
				if (strstr(line, "Requests/sec"))
					printf("  %s", line);
			pclose(p);
		}
	} else {
		printf("wrk not installed: throughput skipped\n");
	}
	jf_farm_close(f);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return 0;
fail:
	fprintf(stderr, "bench failed: %s\n", err);
	jf_farm_close(f);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return 1;
}
