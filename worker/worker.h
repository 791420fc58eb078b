/*
 * worker.h - internals shared by the zygote (zygote.c), the worker's
 * request loop (worker_loop.c) and the pool's side of both (zyclient.c,
 * child.c). Not installed.
 */
#ifndef JF_WORKER_H
#define JF_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "worker/sandbox.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The hidden argv flag of a re-executed zygote:
 *   self_exe --jitfarm-zygote <control fd> <parent pid> */
#define JF_ZYGOTE_FLAG "--jitfarm-zygote"

/* Run the zygote on control socket ctl; parent is the pid it must
 * belong to. Never returns. */
void jf_zygote_run(int ctl, pid_t parent) __attribute__((noreturn));

/* Confine this process and serve compile requests on fd until EOF.
 * Never returns; exits with _exit(). */
void jf_worker_run(int fd, const jf_sandbox_conf_t *conf) __attribute__((noreturn));

/* worker_llvm.cpp: make LLVM's lazily built stream objects now, in the
 * zygote, so no worker needs the calls their construction makes. */
void jf_worker_llvm_prepare(void);
/* worker_llvm.cpp: route LLVM fatal errors and allocation failures to
 * a frame on fd followed by _exit(). */
void jf_worker_llvm_handlers_install(int fd);
/* Report an allocation failure on the channel and _exit(). */
void jf_worker_oom_exit(const char *what) __attribute__((noreturn));
#ifdef JF_TEST_HOOKS
/* Allocate through operator new until it fails (test hook). */
void jf_worker_test_alloc_forever(uint64_t limit);
#endif

/* Layout of a successful JF_FRAME_RESULT payload: these u64 fields,
 * then the artifact blob. */
#define JF_RESULT_PREFIX_LEN (6 * 8)    /* 5 times + max RSS in bytes */

#ifdef __cplusplus
}
#endif
#endif
