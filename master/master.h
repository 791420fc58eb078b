/*
 * master.h - the master daemon's internal interfaces, shared by the files
 * of master/ and nothing else.
 *
 *   main.c     lifecycle: zygote first, then config, loop, signals, drain
 *   config.c   flags, config file and environment (flags win)
 *   http.c     the evhttp front end: routing, auth, replies, request log
 *   sched.c    compile scheduling: store first, single-flight, queue
 *              bound, pool, store-through, then answers
 *   storeq.c   the store thread pool: blocking store I/O off the loop
 *   events.c   the change-feed watcher and the /v1/events SSE streams
 *   metrics.c  counters, gauges and histograms, Prometheus text
 *   auth.c     bearer tokens with scopes, reloaded on SIGHUP
 *
 * Threading: everything in jf_master_t is owned by the event-loop thread.
 * Other threads (store workers, the watcher) only hand results back
 * through jf_storeq_post(), whose callbacks run on the loop.
 */
#ifndef JF_MASTER_H
#define JF_MASTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/http.h>

#include "common/key.h"
#include "storage/store.h"
#include "worker/pool.h"

#define JF_MASTER_MAX_LISTEN 16

/* --- configuration -------------------------------------------------------- */

typedef struct jf_mconfig {
	char *listen[JF_MASTER_MAX_LISTEN];
	int nlisten;
	char *store_url;
	int workers;
	int compile_timeout_s;
	uint64_t max_request_bytes;
	int queue_limit;
	char *tokens_path;
	char *signing_key_path;
	int log_level;
	int store_threads;
	int http_timeout_s;
	int max_header_bytes;
	int drain_timeout_s;
	int lease_ms;
	int quarantine_ttl_s;
	char *name;
	char *config_path;
} jf_mconfig_t;

/* Parse defaults < config file < environment < flags. Returns 0, 1 when
 * the program should exit 0 (--help, --version were printed), or a
 * negative jf_err with a message. */
int jf_mconfig_load(jf_mconfig_t *c, int argc, char **argv, char *err, size_t errlen);
void jf_mconfig_free(jf_mconfig_t *c);
void jf_mconfig_usage(FILE *fp);

/* --- store thread pool ------------------------------------------------------ */

typedef struct jf_storeq jf_storeq_t;
/* Runs in a store thread with that thread's own store handle. */
typedef void (*jf_sjob_fn)(jf_store_t *s, void *arg);
/* Runs on the loop thread afterwards. */
typedef void (*jf_sdone_fn)(void *arg);

int jf_storeq_create(struct event_base *base, const char *url, const jf_store_opts_t *o,
    int nthreads, jf_storeq_t **out, char *err, size_t errlen);
/* Queue fn on a store thread, then done on the loop. Returns 0 or
 * JF_ERR_NOMEM / JF_ERR_CLOSED (nothing runs then). */
int jf_storeq_submit(jf_storeq_t *q, jf_sjob_fn fn, jf_sdone_fn done, void *arg);
/* From any thread: run done(arg) on the loop thread. */
int jf_storeq_post(jf_storeq_t *q, jf_sdone_fn done, void *arg);
unsigned jf_storeq_pending(jf_storeq_t *q);
/* Stops the threads after their current job; jobs not yet run and
 * completions not yet delivered have their done called here (on the
 * calling thread), so owners can free their arguments. */
void jf_storeq_destroy(jf_storeq_t *q);

/* --- auth -------------------------------------------------------------------- */

enum {
	JF_SCOPE_READ = 1,
	JF_SCOPE_COMPILE = 2,
	JF_SCOPE_ADMIN = 4,
	JF_SCOPE_ALL = 7,
};

typedef struct jf_auth jf_auth_t;

/* Load a token file ("TOKEN SCOPES [NAME]" per line). */
int jf_auth_load(const char *path, jf_auth_t **out, char *err, size_t errlen);
void jf_auth_free(jf_auth_t *a);
/* Scopes granted to the presented token (0 when unknown), compared in
 * constant time against every entry; name receives the token's name. */
int jf_auth_check(const jf_auth_t *a, const char *token, const char **name);
size_t jf_auth_count(const jf_auth_t *a);
int jf_auth_scopes_parse(const char *s);

/* --- metrics ------------------------------------------------------------------ */

enum jf_route {
	JF_ROUTE_COMPILE, JF_ROUTE_ARTIFACT, JF_ROUTE_LIST, JF_ROUTE_EVENTS,
	JF_ROUTE_METRICS, JF_ROUTE_HEALTH, JF_ROUTE_OTHER, JF_ROUTE__N
};

#define JF_HIST_NB 17
typedef struct jf_hist {
	uint64_t b[JF_HIST_NB];         /* cumulative at render time; raw here */
	uint64_t count;
	double sum;
} jf_hist_t;

#define JF_NSTATUS 16
typedef struct jf_metrics {
	uint64_t compiles[-JF_ERR__LAST];       /* by result: index -err */
	uint64_t hits, misses, joins, rejected;
	uint64_t store_errors_get, store_errors_put, store_errors_del, store_errors_other;
	uint64_t lease_waits, lease_takeovers;
	uint64_t events_sent;
	uint64_t requests[JF_ROUTE__N][JF_NSTATUS];
	jf_hist_t latency[JF_ROUTE__N];
	jf_hist_t compile_latency;
} jf_metrics_t;

void jf_metrics_request(jf_metrics_t *m, int route, int status, uint64_t ns);
void jf_hist_add(jf_hist_t *h, uint64_t ns);
struct evbuffer;
struct jf_master;
void jf_metrics_render(struct jf_master *ms, struct evbuffer *out);
const char *jf_route_name(int route);

/* --- events ----------------------------------------------------------------- */

typedef struct jf_events jf_events_t;
int jf_events_start(struct jf_master *ms, char *err, size_t errlen);
/* Serve GET /v1/events (auth already checked). */
void jf_events_serve(struct jf_master *ms, struct evhttp_request *req, uint64_t t0);
unsigned jf_events_clients(struct jf_master *ms);
/* Close every stream (drain) and stop the watcher thread. */
void jf_events_close_all(struct jf_master *ms);
void jf_events_stop(struct jf_master *ms);

/* --- scheduling ------------------------------------------------------------- */

typedef struct jf_flight jf_flight_t;
typedef struct jf_sched jf_sched_t;

/* Parsed, validated compile parameters of one request. */
typedef struct jf_creq {
	char ns[JF_NS_MAX];
	int has_program;
	jf_key_t program_id;
	char triple[JF_TRIPLE_MAX];
	char cpu[JF_CPU_MAX];
	char features[JF_FEATURES_MAX];
	char opt;
	int wait;
} jf_creq_t;

int jf_sched_create(struct jf_master *ms, jf_sched_t **out);
void jf_sched_free(jf_sched_t *s);
/* Take over one POST /v1/compile (auth and size already checked): the
 * request is answered exactly once, now or later. ir is borrowed. */
void jf_sched_compile(struct jf_master *ms, struct evhttp_request *req, uint64_t t0,
    const jf_creq_t *cr, const uint8_t *ir, size_t ir_len);
unsigned jf_sched_inflight(jf_sched_t *s);
unsigned jf_sched_waiters(jf_sched_t *s);
/* Fail every flight with JF_ERR_CLOSED without touching requests (the
 * loop is gone); frees them. */
void jf_sched_abandon(jf_sched_t *s);

/* --- the daemon --------------------------------------------------------------- */

typedef struct jf_master {
	jf_mconfig_t cfg;
	struct event_base *base;
	struct evhttp *http;
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
	char name[256];                 /* producer name in manifests and logs */
	int draining;
	unsigned sending;               /* answers not yet fully written */
	int closing;                    /* the loop is gone: free, never reply */
	int store_ok;                   /* last store op reached the store */
	uint64_t started_ns;
	int test_hold_ms;               /* test hook: delay before the put */
	int test_fail_put;              /* test hook: puts fail */
} jf_master_t;

/* http.c */
int jf_http_setup(jf_master_t *ms, char *err, size_t errlen);
void jf_http_stop_accepting(jf_master_t *ms);
/* Reply helpers; each records metrics and writes the request log line. */
void jf_reply_error(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0,
    int status, int code, const char *key, const char *msg);
void jf_reply_blob(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0,
    const uint8_t *blob, size_t len, const char *key, const char *cache);
void jf_reply_json(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0,
    int status, const char *key, const char *result, const char *json);
void jf_reply_finish(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0,
    int status, const char *key, const char *result, size_t bytes);
/* HTTP status for a jf_err from a compile or the store. */
int jf_status_for(int err);
/* JSON string escaping into buf (always terminated). */
void jf_json_escape(const char *in, char *out, size_t outlen);

/* main.c: a flight finished; lets a drain finish. */
void jf_master_maybe_done(jf_master_t *ms);

#endif
