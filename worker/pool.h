/*
 * pool.h - sandboxed compile workers behind a zygote fork-server.
 *
 * jf_pool_create() forks the zygote: a single-threaded process that has
 * initialised LLVM once and forks workers on request. It must be called
 * before the calling process starts threads, opens listening sockets or
 * reads secrets, so none of that is inherited. Each worker closes what it
 * inherited, resets signals, sets rlimits, sets no_new_privs and installs
 * a seccomp allowlist before it reads any input (worker/sandbox.c).
 *
 * A crash, an LLVM fatal error, an OOM or a timeout costs one worker and
 * one request, never the caller: the request fails with an error naming
 * the signal or the limit, is retried once on a fresh worker after a
 * crash, and an input that crashes twice is quarantined for a TTL.
 *
 * JITFARM_SANDBOX_DEBUG=1 in the environment at jf_pool_create() makes
 * workers report a denied system call by number instead of dying at
 * once (worker/README.md).
 *
 * Completion callbacks run only inside jf_pool_dispatch(), in the
 * caller's thread: an event loop watches jf_pool_fd() and calls dispatch
 * when it is readable. jf_pool_compile() is the synchronous form.
 */
#ifndef JF_POOL_H
#define JF_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "compiler/compile.h"
#include "worker/pool_types.h"

int jf_pool_create(const jf_pool_opts_t *opts, jf_pool_t **out, char *err, size_t errlen);
/* Kills the workers and the zygote; pending requests complete with
 * JF_ERR_CLOSED. */
void jf_pool_destroy(jf_pool_t *p);

/* Queue a compile. The request is copied. key (the quarantine key) may
 * be NULL (derived). timeout_ms 0 = the pool default; the deadline runs
 * from the start on a worker, and a request still queued after it fails
 * with JF_ERR_TIMEOUT. Returns 0, JF_ERR_BUSY (queue full), or
 * JF_ERR_QUARANTINED at once (fn is then not called; see
 * jf_pool_quarantined for the recorded error); also JF_ERR_INVAL,
 * JF_ERR_TOOBIG, JF_ERR_NOMEM or JF_ERR_CLOSED. */
int jf_pool_submit(jf_pool_t *p, const jf_compile_req_t *req, const jf_key_t *key,
    int timeout_ms, jf_pool_done_fn fn, void *arg);

/* Readable when completions are waiting; then call jf_pool_dispatch. */
int jf_pool_fd(jf_pool_t *p);
/* Run waiting completion callbacks in this thread; returns how many. */
int jf_pool_dispatch(jf_pool_t *p);

/* Synchronous compile through the pool (for the CLI and tests). */
int jf_pool_compile(jf_pool_t *p, const jf_compile_req_t *req, int timeout_ms,
    jf_artifact_t *out, char *err, size_t errlen);

/* 1 when the zygote is up and can fork workers. */
int jf_pool_ready(jf_pool_t *p);
void jf_pool_get_stats(jf_pool_t *p, jf_pool_stats_t *st);

/* 1 when key is quarantined now; msg (may be NULL) receives the
 * recorded error. For answering JF_ERR_QUARANTINED from submit. */
int jf_pool_quarantined(jf_pool_t *p, const jf_key_t *key, char *msg, size_t msglen);
/* The zygote's pid, 0 while it is (re)starting. For tests and metrics. */
pid_t jf_pool_zygote_pid(jf_pool_t *p);

/* A program that uses the pool calls this first thing in main(): when
 * it was re-executed as a zygote it runs the zygote and never returns.
 * (A zygote that dies is restarted by re-executing opts.self_exe with a
 * hidden argument; a program that skips this call would run again as
 * itself.) */
void jf_zygote_main_if_requested(int argc, char **argv);

#endif
