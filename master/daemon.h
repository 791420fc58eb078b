/*
 * daemon.h - the master daemon's state: one struct that holds a handle
 * to every module, owned by main.c and read by the HTTP front end.
 *
 *   main.c     lifecycle: zygote first, then config, loop, signals, drain
 *   http.c     routing, auth, parameters; hands work to the modules below
 *   sched.c    compile scheduling (flights), reporting through callbacks
 *   events.c   the /v1/events streams over the store's change feed
 *   reply.c    every HTTP answer, with its metrics and its log line
 *   storeq.c   the store thread pool
 *   metrics.c  counters and Prometheus text, from a gauges struct
 *   auth.c     bearer tokens with scopes
 *   config.c   flags, config file and environment
 *
 * The modules it names know nothing of this struct: each gets what it
 * needs at creation, and reports back through callbacks. Threading: all
 * of it is owned by the event-loop thread.
 */
#ifndef JF_MASTER_DAEMON_H
#define JF_MASTER_DAEMON_H

#include <stdint.h>

#include "worker/pool.h"
#include "master/auth.h"
#include "master/config.h"
#include "master/conn.h"
#include "master/events.h"
#include "master/metrics.h"
#include "master/reply.h"
#include "master/sched.h"
#include "master/storeq.h"

struct event;
struct event_base;
struct evhttp;
struct evhttp_bound_socket;

typedef struct jf_master {
	jf_mconfig_t cfg;
	struct event_base *base;
	struct evhttp *http;
	jf_conns_t *conns;              /* the connection filter */
	struct evhttp_bound_socket *bound[JF_MASTER_MAX_LISTEN];
	int nbound;
	jf_pool_t *pool;
	struct event *pool_ev;
	struct event *drain_ev;         /* drain deadline after SIGTERM */
	jf_storeq_t *sq;
	jf_sched_t *sched;
	jf_events_t *ev;
	jf_auth_t *auth;                /* NULL: no token file, open access */
	void *sign_key;                 /* EVP_PKEY or NULL */
	jf_metrics_t m;
	jf_reply_t rp;
	char name[256];                 /* producer name in manifests and logs */
	int draining;
	int closing;                    /* the loop is gone: free, never reply */
	uint64_t started_ns;
	int test_hold_ms;               /* test hook: delay before the put */
	int test_fail_put;              /* test hook: puts fail */
} jf_master_t;

#endif
