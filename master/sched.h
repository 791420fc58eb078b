/*
 * sched.h - compile scheduling: one flight per artifact key.
 *
 * The scheduler knows compile jobs, not HTTP requests: each request is a
 * waiter with a completion callback, called exactly once with the result
 * (an error, an accepted-but-not-waited-for key, or the artifact blob),
 * or with abandoned set when the loop is gone and nothing can be
 * answered. When a flight ends, idle_fn runs, so the daemon can tell a
 * drain has finished without the scheduler calling up into it.
 */
#ifndef JF_MASTER_SCHED_H
#define JF_MASTER_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"
#include "worker/pool.h"
#include "master/metrics.h"
#include "master/storeq.h"

struct event_base;

typedef struct jf_sched jf_sched_t;

/* Parsed, validated compile parameters of one request. */
typedef struct jf_creq {
	jf_spec_t spec;
	int wait;                       /* 0: answer at once with the key */
} jf_creq_t;

typedef struct jf_sched_opts {
	struct event_base *base;        /* all borrowed */
	jf_pool_t *pool;
	jf_storeq_t *sq;
	jf_metrics_t *m;
	const char *store_url;          /* for the lease handle */
	const char *producer;           /* recorded in manifests */
	void *sign_key;                 /* EVP_PKEY or NULL */
	int workers, queue_limit, lease_ms, compile_timeout_s;
	uint64_t max_request_bytes;
	int test_hold_ms;               /* test hook: delay before the put */
	int test_fail_put;              /* test hook: puts fail */
	void (*idle_fn)(void *arg);     /* a flight ended */
	void *idle_arg;
} jf_sched_opts_t;

/* What a waiter hears. Pointers are valid during the callback only. */
typedef struct jf_sched_result {
	int err;                        /* 0 or a jf_err */
	int abandoned;                  /* the loop is gone: free, never answer */
	int accepted;                   /* wait=0: state is "queued" or "joined" */
	const char *key;                /* hex; NULL when no key was derived */
	const char *state;              /* "hit", "miss", "joined", "queued"; error name */
	const char *msg;                /* on error */
	const uint8_t *blob;            /* on success */
	size_t blob_len;
} jf_sched_result_t;

typedef void (*jf_sched_done_fn)(const jf_sched_result_t *res, void *arg);

int jf_sched_create(const jf_sched_opts_t *o, jf_sched_t **out);
/* Take over one compile: done(arg) is called exactly once, now or
 * later. ir is borrowed (copied when kept). */
void jf_sched_compile(jf_sched_t *s, const jf_creq_t *cr, const uint8_t *ir, size_t ir_len,
    jf_sched_done_fn done, void *arg);
unsigned jf_sched_inflight(const jf_sched_t *s);
unsigned jf_sched_waiters(const jf_sched_t *s);
/* Refuse new compiles (503); flights in progress finish. */
void jf_sched_drain(jf_sched_t *s);
/* The loop is gone: completions still arriving only free (waiters hear
 * abandoned). Call before destroying the pool and the store queue. */
void jf_sched_close(jf_sched_t *s);
/* Abandon every flight and free the scheduler. */
void jf_sched_free(jf_sched_t *s);

#endif
