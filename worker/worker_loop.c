/*
 * worker_loop.c - a worker's life: confine itself, then answer compile
 * requests on its channel until the pool closes it.
 *
 * A worker is forked by the zygote with LLVM already initialised. Before
 * it reads a byte of input it installs the LLVM fatal-error and
 * allocation-failure handlers (worker_llvm.cpp) and applies the sandbox
 * (sandbox.c). Each request is one frame in and one frame out; the
 * worker reads the whole request before it writes, so the pool can
 * stream a large request without either side waiting on the other. It
 * leaves only through _exit(), so no atexit handler, no stdio flush and
 * no leak checker runs in a confined process.
 *
 * Test builds (JF_TEST_HOOKS) understand a marker comment in the IR,
 * "; jitfarm-test-fault: segv|hang|oom|abort|syscall-NAME", which makes
 * the worker fail in that way; and an echo frame for the framing tests.
 * None of it exists in a shipped binary.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/mem.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "worker/proto.h"
#include "worker/worker.h"

static uint64_t
max_rss_bytes(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024;
}

#ifdef JF_TEST_HOOKS
static void
test_fault(const jf_compile_req_t *req, const jf_sandbox_conf_t *conf)
{
	static const char mark[] = "; jitfarm-test-fault: ";
	const char *p = memmem(req->ir, req->ir_len, mark, sizeof(mark) - 1);
	size_t rest;

	if (p == NULL)
		return;
	p += sizeof(mark) - 1;
	rest = req->ir_len - (size_t)(p - (const char *)req->ir);
#define IS(w) (rest >= sizeof(w) - 1 && memcmp(p, w, sizeof(w) - 1) == 0)
	if (IS("segv")) {
		volatile int *volatile bad = (volatile int *)(uintptr_t)8;

		*bad = 1;
	} else if (IS("hang")) {
		volatile uint64_t n = 0;

		for (;;)
			n++;
	} else if (IS("oom")) {
#ifdef JF_SANITIZE
		/* ASan's shadow rules out RLIMIT_AS (sandbox.c); this build
		 * stops at the configured limit as the rlimit would. */
		uint64_t got = 0;

		while (got < conf->mem_limit) {
			char *m = malloc(16u << 20);

			if (m == NULL)
				break;
			m[0] = 1;
			got += 16u << 20;
		}
		jf_worker_oom_exit("allocation failed at the worker's memory limit");
#else
		jf_worker_test_alloc_forever(conf->mem_limit);
#endif
	} else if (IS("abort")) {
		abort();
	} else if (IS("syscall-open")) {
		syscall(SYS_open, "/etc/passwd", 0);
	} else if (IS("syscall-socket")) {
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	}
#undef IS
}
#endif

static void
answer_error(int fd, uint64_t id, int code, const char *msg)
{
	if (jf_frame_write(fd, JF_FRAME_RESULT, id, code, msg, strlen(msg)) != 0)
		_exit(0);
}

static void
serve_compile(int fd, uint64_t id, const uint8_t *buf, size_t len,
    const jf_sandbox_conf_t *conf)
{
	jf_compile_req_t req;
	jf_compile_times_t t;
	jf_artifact_t art;
	const char **names = NULL;
	uint8_t *blob = NULL, *out = NULL;
	size_t bloblen = 0;
	char err[1024] = "";
	int r;

	memset(&art, 0, sizeof(art));
	memset(&t, 0, sizeof(t));
	if ((r = jf_proto_req_decode(buf, len, &req, &names)) != 0) {
		if (r == JF_ERR_NOMEM)
			jf_worker_oom_exit("request decoding");
		answer_error(fd, id, JF_ERR_PROTO, "malformed compile request");
		goto out;
	}
#ifdef JF_TEST_HOOKS
	test_fault(&req, conf);
#else
	(void)conf;
#endif
	r = jf_compile(&req, &art, &t, err, sizeof(err));
	if (r == JF_ERR_NOMEM)
		jf_worker_oom_exit(err[0] ? err : "compile");
	if (r != 0) {
		answer_error(fd, id, r, err[0] ? err : "compile failed");
		goto out;
	}
	r = jf_blob_encode(&art, NULL, &blob, &bloblen);
	if (r == JF_ERR_NOMEM || (r == 0 && (out = jf_malloc(JF_RESULT_PREFIX_LEN + bloblen)) == NULL))
		jf_worker_oom_exit("result encoding");
	if (r != 0) {
		answer_error(fd, id, r, "artifact encoding failed");
		goto out;
	}
	jf_put_u64(out, t.parse_ns);
	jf_put_u64(out + 8, t.verify_ns);
	jf_put_u64(out + 16, t.opt_ns);
	jf_put_u64(out + 24, t.codegen_ns);
	jf_put_u64(out + 32, t.total_ns);
	jf_put_u64(out + 40, max_rss_bytes());
	memcpy(out + JF_RESULT_PREFIX_LEN, blob, bloblen);
	if (jf_frame_write(fd, JF_FRAME_RESULT, id, 0, out, JF_RESULT_PREFIX_LEN + bloblen) != 0)
		_exit(0);
out:
	jf_free(out);
	free(blob);             /* blob.c's allocation */
	jf_free(names);
	jf_artifact_free(&art);
}

void
jf_worker_run(int fd, const jf_sandbox_conf_t *conf)
{
	char err[256];

	jf_worker_llvm_handlers_install(fd);
#ifdef JF_TEST_HOOKS
	/* a worker that cannot start, for the crash-loop test */
	if (getenv("JITFARM_TEST_WORKER_EXIT") != NULL)
		_exit(JF_WORKER_EXIT_SANDBOX);
#endif
	if (jf_sandbox_apply(conf, fd, err, sizeof(err)) != 0) {
		/* say why on the channel if we still can, then die */
		(void)jf_frame_write(fd, JF_FRAME_RESULT, 0, JF_ERR_SYSTEM, err, strlen(err));
		_exit(JF_WORKER_EXIT_SANDBOX);
	}
	for (;;) {
		jf_frame_hdr_t h;
		uint8_t *payload = NULL;
		int r = jf_frame_read(fd, JF_PROTO_MAX_PAYLOAD, &h, &payload);

		if (r == 1)
			_exit(0);       /* the pool closed the channel: retire */
		if (r == JF_ERR_NOMEM)
			jf_worker_oom_exit("request buffer");
		if (r != 0)
			_exit(JF_WORKER_EXIT_PROTO);
		switch (h.type) {
		case JF_FRAME_COMPILE:
			serve_compile(fd, h.id, payload, h.len, conf);
			break;
#ifdef JF_TEST_HOOKS
		case JF_FRAME_ECHO:
			if (jf_frame_write(fd, JF_FRAME_ECHO_REPLY, h.id, 0, payload, h.len) != 0)
				_exit(0);
			break;
#endif
		default:
			_exit(JF_WORKER_EXIT_PROTO);
		}
		jf_free(payload);
	}
}
