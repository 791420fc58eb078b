/*
 * metrics.c - the master's counters and histograms, rendered in the
 * Prometheus text exposition format for GET /metrics.
 *
 * Everything here is touched only on the loop thread, so plain integers
 * suffice. Figures other modules own (pool stats, flights in progress,
 * streams open) arrive in a gauges struct the caller fills at render
 * time rather than being copied here, so they cannot drift, and this file
 * calls no other part of the master. Latency histograms use fixed buckets from 100 µs
 * to 60 s, which covers a loopback hit and a long -O3 compile alike.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "jitfarm/error.h"
#include "common/util.h"
#include "master/metrics.h"

static const double bounds[JF_HIST_NB - 1] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 10, 60,
};

static const int statuses[JF_NSTATUS] = {
	200, 202, 204, 400, 401, 403, 404, 405, 413, 422, 500, 502, 503, 0, 0, 0,
};

static const char *route_names[JF_ROUTE__N] = {
	"compile", "artifact", "list", "events", "metrics", "health", "other",
};

const char *
jf_metrics_route_name(int route)
{
	return route >= 0 && route < JF_ROUTE__N ? route_names[route] : "other";
}

void
jf_metrics_hist_add(jf_hist_t *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	int i;

	for (i = 0; i < JF_HIST_NB - 1 && s > bounds[i]; i++)
		;
	h->b[i]++;
	h->count++;
	h->sum += s;
}

void
jf_metrics_request_note(jf_metrics_t *m, int route, int status, uint64_t ns)
{
	int i;

	if (route < 0 || route >= JF_ROUTE__N)
		route = JF_ROUTE_OTHER;
	for (i = 0; i < JF_NSTATUS && statuses[i] != 0; i++)
		if (statuses[i] == status)
			break;
	if (i == JF_NSTATUS || statuses[i] == 0)
		i = JF_NSTATUS - 1;     /* any other status */
	m->requests[route][i]++;
	jf_metrics_hist_add(&m->latency[route], ns);
}

void
jf_metrics_store_note(jf_metrics_t *m, int r, int op)
{
	if (r == 0 || r == JF_ERR_NOTFOUND) {
		m->store_ok = 1;
		return;
	}
	if (r == JF_ERR_CLOSED)
		return;
	m->store_ok = 0;
	if (op == JF_MSTORE_GET)
		m->store_errors_get++;
	else if (op == JF_MSTORE_PUT)
		m->store_errors_put++;
	else if (op == JF_MSTORE_DEL)
		m->store_errors_del++;
	else
		m->store_errors_other++;
}

static void
hist_render(struct evbuffer *o, const char *name, const char *labels, const jf_hist_t *h)
{
	uint64_t cum = 0;
	int i;

	for (i = 0; i < JF_HIST_NB; i++) {
		cum += h->b[i];
		if (i < JF_HIST_NB - 1)
			evbuffer_add_printf(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels,
			    *labels ? "," : "", bounds[i], (unsigned long long)cum);
		else
			evbuffer_add_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
			    *labels ? "," : "", (unsigned long long)cum);
	}
	evbuffer_add_printf(o, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, h->sum,
	    name, labels, (unsigned long long)h->count);
}

#define COUNTER(name, help, v) \
	evbuffer_add_printf(o, "# HELP " name " " help "\n# TYPE " name " counter\n" \
	    name " %llu\n", (unsigned long long)(v))
#define GAUGE(name, help, v) \
	evbuffer_add_printf(o, "# HELP " name " " help "\n# TYPE " name " gauge\n" \
	    name " %llu\n", (unsigned long long)(v))

/* Compiles, the cache, the pool, the store and the streams. */
static void
render_state(const jf_metrics_t *m, const jf_metrics_gauges_t *g, struct evbuffer *o)
{
	const jf_pool_stats_t *ps = &g->pool;
	int i;

	evbuffer_add_printf(o, "# HELP jitfarm_compiles_total Compiles run by this master, by result.\n"
	    "# TYPE jitfarm_compiles_total counter\n");
	for (i = 0; i < -JF_ERR__LAST; i++)
		if (i == 0 || m->compiles[i] != 0)
			evbuffer_add_printf(o, "jitfarm_compiles_total{result=\"%s\"} %llu\n",
			    jf_errname(-i), (unsigned long long)m->compiles[i]);
	COUNTER("jitfarm_cache_hits_total", "Compile requests answered from the store.", m->hits);
	COUNTER("jitfarm_cache_misses_total", "Compile requests that needed a compile.", m->misses);
	COUNTER("jitfarm_singleflight_joins_total",
	    "Compile requests that joined an identical compile in flight.", m->joins);
	COUNTER("jitfarm_rejected_total", "Compile requests refused with 503 (queue full).",
	    m->rejected);
	COUNTER("jitfarm_lease_waits_total",
	    "Compiles left to another master holding the key's lease.", m->lease_waits);
	COUNTER("jitfarm_lease_takeovers_total",
	    "Compiles taken over after another master's lease expired.", m->lease_takeovers);
	GAUGE("jitfarm_queue_depth", "Compiles queued in the pool, waiting for a worker.", ps->queued);
	GAUGE("jitfarm_inflight_compiles", "Distinct keys being looked up, compiled or stored.",
	    g->inflight);
	GAUGE("jitfarm_waiting_requests", "Requests waiting on a compile in flight.",
	    g->waiters);
	GAUGE("jitfarm_workers_busy", "Workers compiling now.", ps->busy);
	GAUGE("jitfarm_workers_idle", "Idle pre-forked workers.", ps->idle);
	COUNTER("jitfarm_worker_crashes_total", "Workers that died on a signal.", ps->crashes);
	COUNTER("jitfarm_compile_timeouts_total", "Compiles killed at their deadline.", ps->timeouts);
	COUNTER("jitfarm_worker_ooms_total", "Workers that hit their memory limit.", ps->ooms);
	COUNTER("jitfarm_llvm_fatals_total", "LLVM fatal errors in workers.", ps->fatals);
	COUNTER("jitfarm_quarantines_total", "Requests refused or failed by quarantine.",
	    ps->quarantined);
	COUNTER("jitfarm_compile_retries_total", "Compiles retried after a crash.", ps->retries);
	COUNTER("jitfarm_workers_spawned_total", "Workers forked by the zygote.", ps->spawned);
	COUNTER("jitfarm_zygote_restarts_total", "Zygote restarts.", ps->zygote_restarts);
	evbuffer_add_printf(o, "# HELP jitfarm_store_errors_total Store operations that failed "
	    "(not misses), by operation.\n# TYPE jitfarm_store_errors_total counter\n"
	    "jitfarm_store_errors_total{op=\"get\"} %llu\n"
	    "jitfarm_store_errors_total{op=\"put\"} %llu\n"
	    "jitfarm_store_errors_total{op=\"delete\"} %llu\n"
	    "jitfarm_store_errors_total{op=\"other\"} %llu\n",
	    (unsigned long long)m->store_errors_get, (unsigned long long)m->store_errors_put,
	    (unsigned long long)m->store_errors_del, (unsigned long long)m->store_errors_other);
	GAUGE("jitfarm_store_queue_depth", "Store operations waiting for a store thread.",
	    g->store_queue);
	GAUGE("jitfarm_events_clients", "Open /v1/events streams.", g->events_clients);
	COUNTER("jitfarm_events_sent_total", "Events written to streams.", m->events_sent);
	GAUGE("jitfarm_ready", "1 when the zygote can fork workers.",
	    g->pool_ready);
	GAUGE("jitfarm_draining", "1 after SIGTERM.", g->draining);
	GAUGE("jitfarm_tokens", "Tokens loaded from the token file.", g->tokens);
}

/* Requests by route and status, and the latency histograms. */
static void
render_http(const jf_metrics_t *m, const jf_metrics_gauges_t *g, struct evbuffer *o)
{
	int i, j;

	evbuffer_add_printf(o, "# HELP jitfarm_http_requests_total HTTP requests by route and "
	    "status.\n# TYPE jitfarm_http_requests_total counter\n");
	for (i = 0; i < JF_ROUTE__N; i++)
		for (j = 0; j < JF_NSTATUS; j++) {
			if (m->requests[i][j] == 0)
				continue;
			if (statuses[j] != 0)
				evbuffer_add_printf(o, "jitfarm_http_requests_total{route=\"%s\","
				    "code=\"%d\"} %llu\n", route_names[i], statuses[j],
				    (unsigned long long)m->requests[i][j]);
			else
				evbuffer_add_printf(o, "jitfarm_http_requests_total{route=\"%s\","
				    "code=\"other\"} %llu\n", route_names[i],
				    (unsigned long long)m->requests[i][j]);
		}
	evbuffer_add_printf(o, "# HELP jitfarm_request_duration_seconds HTTP request latency "
	    "by route, from the request's arrival to its answer.\n"
	    "# TYPE jitfarm_request_duration_seconds histogram\n");
	for (i = 0; i < JF_ROUTE__N; i++) {
		char labels[64];

		if (m->latency[i].count == 0)
			continue;
		snprintf(labels, sizeof(labels), "route=\"%s\"", route_names[i]);
		hist_render(o, "jitfarm_request_duration_seconds", labels, &m->latency[i]);
	}
	evbuffer_add_printf(o, "# HELP jitfarm_compile_duration_seconds Time in the worker pool "
	    "per compile (queue and run).\n# TYPE jitfarm_compile_duration_seconds histogram\n");
	hist_render(o, "jitfarm_compile_duration_seconds", "", &m->compile_latency);
	evbuffer_add_printf(o, "# HELP jitfarm_uptime_seconds Seconds since start.\n"
	    "# TYPE jitfarm_uptime_seconds gauge\njitfarm_uptime_seconds %.3f\n",
	    g->uptime_s);
}

void
jf_metrics_render(const jf_metrics_t *m, const jf_metrics_gauges_t *g, struct evbuffer *o)
{
	render_state(m, g, o);
	render_http(m, g, o);
}
