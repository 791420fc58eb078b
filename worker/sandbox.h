/*
 * sandbox.h - what a worker does to itself before it reads any input.
 *
 * jf_sandbox_apply() goes in a fixed order: close every inherited fd but
 * the worker's channel, reset signal handlers and the signal mask, set
 * rlimits, set no_new_privs, install the seccomp allowlist. A failure at
 * any step leaves the process half-confined, so the caller must treat it
 * as fatal and _exit(). The zygote's workers and the tests use exactly
 * this function, so the tests confine exactly what production confines.
 */
#ifndef JF_SANDBOX_H
#define JF_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

typedef struct jf_sandbox_conf {
	uint64_t mem_limit;     /* RLIMIT_AS in bytes; 0 = no limit */
	uint32_t cpu_limit_s;   /* RLIMIT_CPU; 0 = no limit */
	uint32_t debug;         /* trap denied calls and report their number
				 * on the channel instead of killing at once */
} jf_sandbox_conf_t;

/* Exit codes a worker uses for its own deliberate deaths. */
#define JF_WORKER_EXIT_SANDBOX 120      /* a sandbox step failed */
#define JF_WORKER_EXIT_FATAL 121        /* LLVM fatal error, reported */
#define JF_WORKER_EXIT_OOM 122          /* allocation failure, reported */
#define JF_WORKER_EXIT_DENIED 123       /* debug mode: denied syscall, reported */
#define JF_WORKER_EXIT_PROTO 124        /* the pool broke the protocol */

/* Compile the seccomp programs once (the zygote calls this before it
 * forks; jf_sandbox_apply calls it if nobody did). Returns 0 or a
 * negative jf_err. */
int jf_sandbox_prepare(char *err, size_t errlen);

/*
 * Confine the calling process. fd is the one descriptor it keeps (its
 * channel to the pool; must be >= 3: fds 0-2 become /dev/null). Returns
 * 0, or a negative jf_err with the failed step in err; the process must
 * then exit.
 */
int jf_sandbox_apply(const jf_sandbox_conf_t *conf, int fd, char *err, size_t errlen);

#endif
