/*
 * local.c - the CLI's local compile backend: the compile runs in another
 * process, never in the command's own.
 *
 * LLVM is not hardened against hostile input: bad IR can crash it and a
 * fatal error calls abort(). Here the command forks a child that runs
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
 * allocated. When the sandboxed worker pool is available it replaces the
 * fork (same entry points: startup, compile, shutdown).
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
#include "worker/compile.h"
#include "cli/cli.h"

#define REPLY_MAX ((size_t)JF_BLOB_HEADER_LEN + JF_BLOB_MAX_MANIFEST + \
	JF_BLOB_MAX_PAYLOAD + JF_SIG_LEN)

void
jf_cli_local_startup(int argc, char **argv, int will_compile)
{
	(void)argc;
	(void)argv;
	(void)will_compile;
}

void
jf_cli_local_shutdown(void)
{
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

	(void)o;
	memset(out, 0, sizeof(*out));
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
