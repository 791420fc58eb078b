/*
 * child.h - a worker process's life as the pool sees it (child.c): its
 * channel, the request it runs, what it said before it ended, and the
 * failure policy applied when it ends. Under the pool's mutex.
 */
#ifndef JF_CHILD_H
#define JF_CHILD_H

#include <sys/types.h>

#include "worker/pool_internal.h"

/* SIGKILL through a pidfd (a worker's or the zygote's). Returns 0 or -1. */
int jf_child_kill(int pidfd);
/* Take a new worker from the zygote: the pool owns fd and pidfd from here,
 * success or not. Returns 0, or JF_ERR_NOMEM after killing the worker. */
int jf_child_add(jf_pool_t *p, pid_t pid, int fd, int pidfd);
/* Unlink c, close its fds and free it. */
void jf_child_remove(jf_pool_t *p, jf_child_t *c);
/* Give request r to the idle worker c and start writing it. */
void jf_child_start(jf_pool_t *p, jf_child_t *c, jf_pool_req_t *r);
/* Read what c has sent (EOF closes its channel) and flush what is owed. */
void jf_child_read(jf_pool_t *p, jf_child_t *c);
void jf_child_write(jf_pool_t *p, jf_child_t *c);
/* Settle the request of a worker that ended (wstatus -1: unknown) by the
 * failure policy: retry, re-queue, or complete with the reason. */
void jf_child_fail(jf_pool_t *p, jf_child_t *c, int wstatus);
/* The zygote relayed c's exit status: read its last words, settle its
 * request, and remove it. */
void jf_child_reap(jf_pool_t *p, jf_child_t *c, int wstatus);
/* Count one more failure to bring up or keep a worker; three in a row
 * hold spawning back, exponentially longer each time. */
void jf_child_backoff(jf_pool_t *p);

#endif
