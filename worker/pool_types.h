/*
 * pool_types.h - the types of the pool's API (pool.h), apart so that the
 * files inside the pool can share them without including pool.h.
 */
#ifndef JF_POOL_TYPES_H
#define JF_POOL_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "common/blob.h"
#include "compiler/compile.h"

typedef struct jf_pool jf_pool_t;

typedef struct jf_pool_opts {
	int workers;            /* concurrent workers; 0 = number of cores */
	int spares;             /* idle pre-forked workers; 0 = 1 */
	int max_jobs;           /* retire a worker after N jobs; 0 = 64 */
	size_t rss_limit;       /* retire when RSS passes this; 0 = 1 GiB */
	size_t mem_limit;       /* per-worker address-space limit; 0 = 4 GiB */
	int cpu_limit_s;        /* RLIMIT_CPU; 0 = 600 */
	int timeout_ms;         /* default per-request deadline; 0 = 120000 */
	int quarantine_ttl_s;   /* 0 = 600 */
	int queue_limit;        /* queued requests beyond busy workers; 0 = 256 */
	const char *self_exe;   /* binary to re-exec for a zygote restart;
				 * NULL = /proc/self/exe */
} jf_pool_opts_t;

typedef struct jf_pool_stats {
	uint64_t submitted, ok, failed, crashes, timeouts, ooms, fatals,
	    quarantined, retries, spawned, retired, zygote_restarts;
	unsigned queued, busy, idle;
} jf_pool_stats_t;

/*
 * Result of one compile. On success (result == 0) art holds the artifact
 * and the callback takes ownership of it (jf_artifact_free). On failure
 * msg says what happened ("worker killed by signal 11 (SIGSEGV)",
 * "LLVM ERROR: ...", "timeout after 2000 ms", LLVM's parse message...).
 */
typedef struct jf_pool_result {
	int result;
	jf_artifact_t art;
	const char *msg;
	jf_compile_times_t times;
	uint64_t queue_ns, run_ns;
} jf_pool_result_t;

typedef void (*jf_pool_done_fn)(jf_pool_result_t *res, void *arg);

#endif
