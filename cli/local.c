/*
 * local.c - the CLI's local compile backend: a cache miss compiles in a
 * sandboxed worker of the pool (worker/pool.h), never in the command's own
 * process and never in an unconfined child.
 *
 * LLVM is not hardened against hostile input: bad IR can crash it and a
 * fatal error calls abort(). Each compile therefore runs in a worker under
 * rlimits and a seccomp allowlist, and a crash, an LLVM fatal error, an
 * OOM or a timeout comes back as the pool's error naming the signal or
 * the limit (worker/README.md), with the command exiting non-zero. There
 * is one crash classification, the pool's.
 */
#include <string.h>

#include "jitfarm/error.h"
#include "common/util.h"
#include "worker/pool.h"
#include "cli/cli.h"

/* The pool, once a miss needed it. */
static jf_pool_t *pool;

void
jf_cli_local_startup(int argc, char **argv, int will_compile)
{
	/* a zygote re-executed from this binary runs here, never returns */
	jf_zygote_main_if_requested(argc, argv);
	(void)will_compile;
}

/*
 * The pool starts at the first miss, not in main(): a hit, the common
 * case, then costs no zygote and no spare worker (measured: starting and
 * stopping them would double a hit's time). Up to this point the command
 * is still single-threaded and has read no secret, so the zygote is a
 * plain fork of it, which inherits nothing it should not, and its workers
 * close every inherited descriptor before they read input.
 */
static int
pool_get(char *err, size_t errlen)
{
	jf_pool_opts_t po;
	char perr[512];
	int r;

	if (pool != NULL)
		return 0;
	/* one command, one compile at a time: one worker, one spare */
	memset(&po, 0, sizeof(po));
	po.workers = 1;
	po.spares = 1;
	if ((r = jf_pool_create(&po, &pool, perr, sizeof(perr))) != 0) {
		pool = NULL;
		return jf_seterr(err, errlen, r, "cannot start the sandboxed compile workers: %s",
		    perr);
	}
	return 0;
}

void
jf_cli_local_shutdown(void)
{
	jf_pool_destroy(pool);
	pool = NULL;
}

int
jf_cli_local_wanted(const jf_cli_compile_opts_t *o)
{
	(void)o;
	return 1;
}

int
jf_cli_local_compile(const jf_cli_compile_opts_t *o, const jf_compile_req_t *req,
    jf_artifact_t *out, char *err, size_t errlen)
{
	int r;

	(void)o;
	memset(out, 0, sizeof(*out));
	if ((r = pool_get(err, errlen)) != 0)
		return r;
	return jf_pool_compile(pool, req, 0, out, err, errlen);
}
