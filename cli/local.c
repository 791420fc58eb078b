/*
 * local.c - the CLI's local compile backend: compiles run in a sandboxed
 * worker of the fork-server pool (worker/pool.h), never in the command's
 * own process.
 *
 * LLVM is not hardened against hostile input: bad IR can crash it and a
 * fatal error calls abort(). The pool's workers are forked from a zygote
 * that this command forks first thing in main(), before it has opened a
 * store, read a key or started a thread; each worker confines itself
 * (closed fds, rlimits, no_new_privs, seccomp) before it reads the IR. A
 * crash, an LLVM fatal error ("LLVM ERROR: ..."), an OOM or a timeout
 * costs the worker and comes back as an error naming what happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/util.h"
#include "worker/compile.h"
#include "worker/pool.h"
#include "cli/cli.h"

static jf_pool_t *pool;
static int pool_rc;
static char pool_err[256];

void
jf_cli_local_startup(int argc, char **argv, int will_compile)
{
	jf_pool_opts_t o;

	/* a zygote restart re-executes this binary: serve as the zygote */
	jf_zygote_main_if_requested(argc, argv);
	if (!will_compile)
		return;
	memset(&o, 0, sizeof(o));
	o.workers = 1;
	o.spares = 1;
	/* the error is reported by the first compile that needs the pool */
	pool_rc = jf_pool_create(&o, &pool, pool_err, sizeof(pool_err));
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
	(void)o;
	memset(out, 0, sizeof(*out));
	if (pool == NULL)
		return jf_seterr(err, errlen, pool_rc ? pool_rc : JF_ERR_CLOSED,
		    "the local fork-server did not start: %s",
		    pool_err[0] ? pool_err : "not started for this command");
	return jf_pool_compile(pool, req, 0, out, err, errlen);
}
