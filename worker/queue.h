/*
 * queue.h - the pool's request queue and completions (queue.c). All of it
 * runs under the pool's mutex, except jf_queue_wake and jf_queue_req_free.
 */
#ifndef JF_QUEUE_H
#define JF_QUEUE_H

#include <stdint.h>

#include "common/blob.h"
#include "worker/pool_internal.h"

/* Wake whoever watches an eventfd (the supervisor, or a dispatcher). */
void jf_queue_wake(int fd);
/* Free a request and everything it owns; NULL is fine. */
void jf_queue_req_free(jf_pool_req_t *r);
/* Append r (front: put it first, for a retry). The queue owns r. */
void jf_queue_push(jf_pool_t *p, jf_pool_req_t *r, int front);
/* The first request, now the caller's, or NULL. */
jf_pool_req_t *jf_queue_pop(jf_pool_t *p);
/* Fail every queued request whose deadline passed (no strike: the input is
 * not to blame). *next_ns is lowered to the nearest deadline left. */
void jf_queue_expire(jf_pool_t *p, uint64_t now_ns, uint64_t *next_ns);
/*
 * Settle r with code and msg; art (may be NULL) is moved into the result.
 * A synchronous waiter is woken; an asynchronous request goes to the done
 * list for jf_pool_dispatch, which then owns r.
 */
void jf_queue_complete(jf_pool_t *p, jf_pool_req_t *r, int code, const char *msg,
    jf_artifact_t *art);

#endif
