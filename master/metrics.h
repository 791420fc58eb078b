/*
 * metrics.h - the master's counters and histograms, and their rendering
 * in the Prometheus text format. A leaf: it calls no other master module.
 * The caller owns one jf_metrics_t (counters the modules bump on the loop
 * thread) and, at render time, fills a jf_metrics_gauges_t with the
 * figures that live in other modules.
 */
#ifndef JF_MASTER_METRICS_H
#define JF_MASTER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "jitfarm/error.h"
#include "worker/pool.h"

struct evbuffer;

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
	int store_ok;                   /* the last store operation reached the store */
} jf_metrics_t;

/* Figures read from other modules when /metrics is rendered. */
typedef struct jf_metrics_gauges {
	jf_pool_stats_t pool;
	int pool_ready;
	unsigned inflight, waiters;     /* scheduler */
	unsigned store_queue;           /* store thread pool */
	unsigned events_clients;
	int draining;
	size_t tokens;
	double uptime_s;
} jf_metrics_gauges_t;

/* Store operations, for jf_metrics_store_note. */
enum { JF_MSTORE_GET = 'g', JF_MSTORE_PUT = 'p', JF_MSTORE_DEL = 'd', JF_MSTORE_OTHER = 'o' };

void jf_metrics_request_note(jf_metrics_t *m, int route, int status, uint64_t ns);
/* Record a store operation's result r: a failure (not a miss, not
 * JF_ERR_CLOSED) counts under op and clears store_ok; success sets it. */
void jf_metrics_store_note(jf_metrics_t *m, int r, int op);
void jf_metrics_hist_add(jf_hist_t *h, uint64_t ns);
void jf_metrics_render(const jf_metrics_t *m, const jf_metrics_gauges_t *g,
    struct evbuffer *out);
const char *jf_metrics_route_name(int route);

#endif
