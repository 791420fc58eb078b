/*
 * storeq.h - the store thread pool: blocking store I/O off the event
 * loop. Each thread has its own store handle; results come back to the
 * loop thread through an eventfd.
 */
#ifndef JF_MASTER_STOREQ_H
#define JF_MASTER_STOREQ_H

#include <stddef.h>

#include "storage/store.h"

struct event_base;

typedef struct jf_storeq jf_storeq_t;
/* Runs in a store thread with that thread's own store handle. */
typedef void (*jf_storeq_job_fn)(jf_store_t *s, void *arg);
/* Runs on the loop thread afterwards. */
typedef void (*jf_storeq_done_fn)(void *arg);

int jf_storeq_create(struct event_base *base, const char *url, const jf_store_opts_t *o,
    int nthreads, jf_storeq_t **out, char *err, size_t errlen);
/* Queue fn on a store thread, then done on the loop. Returns 0 or
 * JF_ERR_NOMEM / JF_ERR_CLOSED (nothing runs then). */
int jf_storeq_submit(jf_storeq_t *q, jf_storeq_job_fn fn, jf_storeq_done_fn done, void *arg);
/* From any thread: run done(arg) on the loop thread. */
int jf_storeq_post(jf_storeq_t *q, jf_storeq_done_fn done, void *arg);
unsigned jf_storeq_pending(jf_storeq_t *q);
/* Stops the threads after their current job; jobs not yet run and
 * completions not yet delivered have their done called here (on the
 * calling thread), so owners can free their arguments. */
void jf_storeq_destroy(jf_storeq_t *q);

#endif
