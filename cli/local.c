/*
 * local.c - the CLI's local compile backend: the compile runs in another
 * process, never in the command's own.
 *
 * LLVM is not hardened against hostile input: bad IR can crash it and a
 * fatal error calls abort(). The compile therefore goes to the sandboxed
 * worker pool (worker/pool.h), started at the first cache miss (see
 * pool_get), and each compile runs in a worker under rlimits and a
 * seccomp allowlist. JITFARM_NO_POOL=1, or a
 * pool that cannot start, falls back to a plain fork: a child runs
 * jf_compile() and sends back, over a pipe, either the encoded artifact
 * blob or the error message; the parent only decodes (strictly, with the
 * payload hash checked). A crash costs the child and is reported with
 * the signal's name; an LLVM fatal error is sent back by the child's
 * fatal-error handler as "LLVM ERROR: ..." before LLVM can abort. The
 * pipe message is
 *
 *   i32 status (0 or a jf_err) | u32 length | blob or message
 *
 * with the length checked against a hard cap before anything is
 * allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llvm-c/ErrorHandling.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "worker/pool.h"
#include "cli/cli.h"

#define REPLY_MAX ((size_t)JF_BLOB_HEADER_LEN + JF_BLOB_MAX_MANIFEST + \
	JF_BLOB_MAX_PAYLOAD + JF_SIG_LEN)

/* The pool, once a miss needed it; NULL before that or when it could not
 * start (then pool_err says why and the plain fork is used). */
static jf_pool_t *pool;
static int pool_tried;
static char pool_err[512];

void
jf_cli_local_startup(int argc, char **argv, int will_compile)
{
	/* a zygote re-executed from this binary runs here, never returns */
	jf_zygote_main_if_requested(argc, argv);
	(void)will_compile;
}

/*
 * The pool starts at the first miss, not in main(): a hit, the common
 * case, then costs no zygote and no spare worker (measured: starting
 * and stopping them would double a hit's time). Up to this point the
 * command is still single-threaded and has read no secret, so the zygote
 * forked here inherits nothing it should not, and its workers close
 * every inherited descriptor before they read input.
 */
static jf_pool_t *
pool_get(void)
{
	jf_pool_opts_t po;
	const char *no = getenv("JITFARM_NO_POOL");

	if (pool != NULL || pool_tried)
		return pool;
	pool_tried = 1;
	if (no != NULL && no[0] != '\0' && strcmp(no, "0") != 0) {
		jf_strlcpy(pool_err, "JITFARM_NO_POOL is set", sizeof(pool_err));
		return NULL;
	}
	/* one command, one compile at a time: one worker, one spare */
	memset(&po, 0, sizeof(po));
	po.workers = 1;
	po.spares = 1;
	if (jf_pool_create(&po, &pool, pool_err, sizeof(pool_err)) != 0)
		pool = NULL;
	return pool;
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

/* The reply pipe of this child, for the fatal-error handler. */
static int fatal_fd = -1;

/* LLVM calls this on a fatal error and abort()s right after: send the
 * reason as the reply and leave first. Only write() and _exit(). */
static void
fatal_handler(const char *reason)
{
	static const char prefix[] = "LLVM ERROR: ";
	uint8_t hdr[8];
	size_t n = strlen(reason);

	if (n > 4000)
		n = 4000;
	jf_put_u32(hdr, (uint32_t)JF_ERR_FATAL);
	jf_put_u32(hdr + 4, (uint32_t)(sizeof(prefix) - 1 + n));
	if (fatal_fd >= 0 && jf_write_full(fatal_fd, hdr, sizeof(hdr)) == 0 &&
	    jf_write_full(fatal_fd, prefix, sizeof(prefix) - 1) == 0)
		(void)jf_write_full(fatal_fd, reason, n);
	_exit(70);
}

/* The child: compile, reply, exit. Never returns. */
static void
child_run(int fd, const jf_compile_req_t *req)
{
	struct rlimit nocore = { 0, 0 };
	jf_artifact_t a;
	uint8_t hdr[8], *blob = NULL;
	size_t len = 0;
	char err[4096];
	int r;

	(void)setrlimit(RLIMIT_CORE, &nocore);
	fatal_fd = fd;
	LLVMInstallFatalErrorHandler(fatal_handler);
	r = jf_compile(req, &a, NULL, err, sizeof(err));
	if (r == 0) {
		r = jf_blob_encode(&a, NULL, &blob, &len);
		if (r != 0)
			jf_seterr(err, sizeof(err), r, "cannot encode the artifact: %s",
			    jf_strerror(r));
		jf_artifact_free(&a);
	}
	if (r != 0) {
		len = strlen(err);
		blob = (uint8_t *)err;
	}
	jf_put_u32(hdr, (uint32_t)r);
	jf_put_u32(hdr + 4, (uint32_t)len);
	if (jf_write_full(fd, hdr, sizeof(hdr)) != 0 || jf_write_full(fd, blob, len) != 0)
		_exit(3);
	_exit(0);
}

int
jf_cli_local_compile(const jf_cli_compile_opts_t *o, const jf_compile_req_t *req,
    jf_artifact_t *out, char *err, size_t errlen)
{
	uint8_t hdr[8], *reply = NULL;
	int fds[2] = { -1, -1 }, status = 0, r = 0, rr = 0;
	uint32_t len;
	pid_t pid = -1;

	memset(out, 0, sizeof(*out));
	if (pool_get() != NULL)
		return jf_pool_compile(pool, req, 0, out, err, errlen);
	if (o->verbose && pool_err[0] != '\0')
		jf_cli_err("warning: no sandboxed workers (%s); compiling in a plain child",
		    pool_err);
	if (pipe2(fds, O_CLOEXEC) != 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) < 0) {
		r = jf_seterr(err, errlen, JF_ERR_SYSTEM, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(fds[0]);
		child_run(fds[1], req);
	}
	close(fds[1]);
	fds[1] = -1;

	rr = jf_read_full_eof(fds[0], hdr, sizeof(hdr));
	if (rr == 0) {
		r = (int32_t)jf_get_u32(hdr);
		len = jf_get_u32(hdr + 4);
		if (len > REPLY_MAX) {
			r = jf_seterr(err, errlen, JF_ERR_PROTO,
			    "compiler process sent %u bytes", len);
			goto reap;
		}
		if ((reply = malloc(len + 1)) == NULL) {
			r = JF_ERR_NOMEM;
			goto reap;
		}
		if (jf_read_full(fds[0], reply, len) != 0) {
			rr = -1;
			goto reap;
		}
		reply[len] = '\0';
		if (r == 0)
			r = jf_blob_decode(reply, len, NULL, out, err, errlen);
		else
			jf_seterr(err, errlen, r, "%s", (char *)reply);
	}
reap:
	close(fds[0]);
	fds[0] = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rr != 0) {
		/* no complete reply: say how the child ended */
		if (WIFSIGNALED(status)) {
			const char *abbrev = sigabbrev_np(WTERMSIG(status));

			r = jf_seterr(err, errlen, WTERMSIG(status) == SIGABRT ?
			    JF_ERR_FATAL : JF_ERR_CRASH,
			    "compiler process killed by signal %d (SIG%s)",
			    WTERMSIG(status), abbrev ? abbrev : "?");
		} else {
			r = jf_seterr(err, errlen, JF_ERR_CRASH,
			    "compiler process exited with status %d and no reply",
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
	}
out:
	if (r != 0)
		jf_artifact_free(out);
	free(reply);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return r;
}
