/*
 * worker_llvm.cpp - how a worker dies when LLVM gives up.
 *
 * LLVM reports a fatal error through a handler and then abort()s, and an
 * allocation failure through the bad-alloc handler or operator new's
 * new-handler. In a worker each of these writes one frame that says what
 * happened (JF_FRAME_FATAL with LLVM's reason, or JF_FRAME_OOM) on the
 * channel and _exit()s: nothing unwinds, nothing allocates, no crash
 * report or stack trace is printed. The pool turns the frame into the
 * request's error.
 */
#include <new>
#include <string.h>
#include <unistd.h>

#include <llvm-c/ErrorHandling.h>
#include <llvm/Support/ErrorHandling.h>
#include <llvm/Support/raw_ostream.h>

#include "worker/proto.h"
#include "worker/worker.h"

static int chan_fd = -1;

static void
report(uint16_t type, const char *a, const char *b, int code)
{
	uint8_t hdr[JF_PROTO_HDR_LEN];
	jf_frame_hdr_t h;
	size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;

	if (la > 4000)
		la = 4000;
	if (lb > 4000)
		lb = 4000;
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = la + lb;
	jf_frame_hdr_encode(hdr, &h);
	if (chan_fd >= 0 && write(chan_fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr)) {
		if (la > 0 && write(chan_fd, a, la) < 0)
			_exit(code);
		if (lb > 0 && write(chan_fd, b, lb) < 0)
			_exit(code);
	}
	_exit(code);
}

static void
on_fatal(const char *reason)
{
	report(JF_FRAME_FATAL, "LLVM ERROR: ", reason, JF_WORKER_EXIT_FATAL);
}

static void
on_bad_alloc(void *, const char *reason, bool)
{
	report(JF_FRAME_OOM, "out of memory: ", reason, JF_WORKER_EXIT_OOM);
}

static void
on_new_fail()
{
	report(JF_FRAME_OOM, "out of memory: ", "allocation failed at the worker's memory limit",
	    JF_WORKER_EXIT_OOM);
}

extern "C" void
jf_worker_oom_exit(const char *what)
{
	report(JF_FRAME_OOM, "out of memory: ", what, JF_WORKER_EXIT_OOM);
	_exit(JF_WORKER_EXIT_OOM);
}

extern "C" void
jf_worker_llvm_prepare(void)
{
	/* constructing these fstat()s the fd; do it before any sandbox */
	(void)llvm::errs();
	(void)llvm::outs();
}

extern "C" void
jf_worker_llvm_handlers_install(int fd)
{
	chan_fd = fd;
	LLVMResetFatalErrorHandler();
	LLVMInstallFatalErrorHandler(on_fatal);
	llvm::install_bad_alloc_error_handler(on_bad_alloc, nullptr);
	std::set_new_handler(on_new_fail);
}

#ifdef JF_TEST_HOOKS
static void *volatile sink;

extern "C" void
jf_worker_test_alloc_forever(uint64_t limit)
{
	(void)limit;
	for (;;) {
		char *p = new char[64u << 20];

		p[0] = 1;
		sink = p;
	}
}
#endif
