/*
 * main.c - the jitfarm master's lifecycle.
 *
 * Order matters and is fixed here:
 *   1. jf_zygote_main_if_requested(): a re-executed zygote never returns;
 *   2. configuration (flags, file, environment; no secrets yet);
 *   3. the worker pool, which forks the zygote, before this process has
 *      threads, sockets, tokens or keys that a fork could leak into it;
 *   4. LLVM in this process (only to resolve targets and derive keys),
 *      libevent, the store threads, the events watcher, the listeners,
 *      and only then the token file and the signing key.
 *
 * Signals are libevent signal events, so no work happens in a handler:
 * SIGHUP reloads the token file (keeping the old table if the new one
 * does not parse); SIGTERM or SIGINT stops accepting, closes event
 * streams, lets in-flight compiles finish and publish up to
 * --drain-timeout, then leaves the loop and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/log.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "master/http.h"

static void
on_pool(evutil_socket_t fd, short what, void *arg)
{
	jf_master_t *ms = arg;

	(void)fd;
	(void)what;
	jf_pool_dispatch(ms->pool);
}

static void
reload_tokens(jf_master_t *ms)
{
	jf_auth_t *a = NULL;
	char err[512];

	if (ms->cfg.tokens_path == NULL) {
		jf_info("msg=\"SIGHUP: no token file configured\"");
		return;
	}
	if (jf_auth_load(ms->cfg.tokens_path, &a, err, sizeof(err)) != 0) {
		jf_error("msg=\"token reload failed; keeping the old tokens\" detail=\"%s\"", err);
		return;
	}
	jf_auth_free(ms->auth);
	ms->auth = a;
	jf_info("msg=\"tokens reloaded\" count=%zu", jf_auth_count(a));
}

static void
on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	jf_master_t *ms = arg;

	(void)fd;
	(void)what;
	jf_warn("msg=\"drain deadline passed\" inflight=%u", jf_sched_inflight(ms->sched));
	event_base_loopexit(ms->base, NULL);
}

/* A flight ended or an answer left: a drain is over when neither is left.
 * Handed to the scheduler and to the replies as their idle callback. */
static void
on_idle(void *arg)
{
	jf_master_t *ms = arg;

	if (ms->draining && !ms->closing && jf_sched_inflight(ms->sched) == 0 &&
	    ms->rp.sending == 0) {
		jf_info("msg=\"drained\"");
		event_base_loopexit(ms->base, NULL);
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	jf_master_t *ms = arg;

	if (sig == SIGHUP) {
		reload_tokens(ms);
		return;
	}
	(void)what;
	if (ms->draining)
		return;
	ms->draining = 1;
	jf_sched_drain(ms->sched);
	jf_info("msg=\"draining\" signal=%d inflight=%u", (int)sig,
	    jf_sched_inflight(ms->sched));
	jf_http_stop_accepting(ms);
	jf_events_close_all(ms->ev);
	if (ms->drain_ev == NULL) {
		struct timeval tv = { ms->cfg.drain_timeout_s, 0 };

		ms->drain_ev = evtimer_new(ms->base, on_drain_deadline, ms);
		if (ms->drain_ev != NULL)
			evtimer_add(ms->drain_ev, &tv);
	}
	on_idle(ms);
}

static int
events_start(jf_master_t *ms, char *err, size_t errlen)
{
	jf_events_opts_t eo;

	memset(&eo, 0, sizeof(eo));
	eo.base = ms->base;
	eo.sq = ms->sq;
	eo.rp = &ms->rp;
	eo.m = &ms->m;
	eo.store_url = ms->cfg.store_url;
	return jf_events_start(&eo, &ms->ev, err, errlen);
}

static void
sched_start(jf_master_t *ms)
{
	jf_sched_opts_t so;

	memset(&so, 0, sizeof(so));
	so.base = ms->base;
	so.pool = ms->pool;
	so.sq = ms->sq;
	so.m = &ms->m;
	so.store_url = ms->cfg.store_url;
	so.producer = ms->name;
	so.sign_key = ms->sign_key;
	so.workers = ms->cfg.workers;
	so.queue_limit = ms->cfg.queue_limit;
	so.lease_ms = ms->cfg.lease_ms;
	so.compile_timeout_s = ms->cfg.compile_timeout_s;
	so.max_request_bytes = ms->cfg.max_request_bytes;
	so.test_hold_ms = ms->test_hold_ms;
	so.test_fail_put = ms->test_fail_put;
	so.idle_fn = on_idle;
	so.idle_arg = ms;
	jf_sched_create(&so, &ms->sched);
}

static void
log_sink(int level, const char *line, void *arg)
{
	char ts[32];
	uint64_t ms = jf_wall_ms();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "ts=%s.%03uZ level=%s %s\n", ts, (unsigned)(ms % 1000),
	    jf_log_level_name(level), line);
}

/* The producer name in manifests and logs: --name, else HOST/PID. */
static void
name_set(jf_master_t *ms)
{
	char host[128];

	if (ms->cfg.name != NULL) {
		jf_strlcpy(ms->name, ms->cfg.name, sizeof(ms->name));
		return;
	}
	if (gethostname(host, sizeof(host)) != 0)
		jf_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(ms->name, sizeof(ms->name), "%s/%d", host, (int)getpid());
}

/* The zygote first: nothing to inherit yet. Then LLVM and the loop. */
static int
pool_and_loop_start(jf_master_t *ms)
{
	jf_pool_opts_t po;
	char err[1024];
	int r;

	memset(&po, 0, sizeof(po));
	po.workers = ms->cfg.workers;
	po.timeout_ms = ms->cfg.compile_timeout_s * 1000;
	po.queue_limit = ms->cfg.queue_limit + ms->cfg.workers + 16;
	po.quarantine_ttl_s = ms->cfg.quarantine_ttl_s;
	if ((r = jf_pool_create(&po, &ms->pool, err, sizeof(err))) != 0) {
		jf_error("msg=\"cannot start the worker pool\" err=%s detail=\"%s\"", jf_errname(r),
		    err);
		return r;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((r = jf_llvm_init()) != 0) {
		jf_error("msg=\"LLVM initialisation failed\" err=%s", jf_errname(r));
		return r;
	}
	if (evthread_use_pthreads() != 0 || (ms->base = event_base_new()) == NULL) {
		jf_error("msg=\"cannot create the event loop\"");
		return JF_ERR_SYSTEM;
	}
	if ((ms->pool_ev = event_new(ms->base, jf_pool_fd(ms->pool), EV_READ | EV_PERSIST,
	    on_pool, ms)) == NULL || event_add(ms->pool_ev, NULL) != 0) {
		jf_error("msg=\"cannot watch the pool\"");
		return JF_ERR_SYSTEM;
	}
	return 0;
}

/* The store threads, the events watcher and the listeners; then the
 * secrets, and the scheduler that signs with them. */
static int
services_start(jf_master_t *ms)
{
	jf_store_opts_t so;
	char err[1024];
	int r;

	memset(&so, 0, sizeof(so));
	if ((r = jf_storeq_create(ms->base, ms->cfg.store_url, &so, ms->cfg.store_threads,
	    &ms->sq, err, sizeof(err))) != 0) {
		jf_error("msg=\"cannot open the store\" store=%s err=%s detail=\"%s\"",
		    ms->cfg.store_url, jf_errname(r), err);
		return r;
	}
	ms->m.store_ok = 1;
	ms->rp.m = &ms->m;
	ms->rp.idle_fn = on_idle;
	ms->rp.idle_arg = ms;
	if ((r = events_start(ms, err, sizeof(err))) != 0) {
		jf_error("msg=\"cannot start the events watcher\" detail=\"%s\"", err);
		return r;
	}
	if ((r = jf_http_setup(ms, err, sizeof(err))) != 0) {
		jf_error("msg=\"cannot listen\" detail=\"%s\"", err);
		return r;
	}
	/* secrets last */
	if (ms->cfg.tokens_path != NULL &&
	    (r = jf_auth_load(ms->cfg.tokens_path, &ms->auth, err, sizeof(err))) != 0) {
		jf_error("msg=\"cannot load tokens\" detail=\"%s\"", err);
		return r;
	}
	if (ms->cfg.signing_key_path != NULL &&
	    (r = jf_sign_load_private(ms->cfg.signing_key_path, &ms->sign_key, err,
	    sizeof(err))) != 0) {
		jf_error("msg=\"cannot load the signing key\" detail=\"%s\"", err);
		return r;
	}
	/* the scheduler signs with the key, so it comes after it */
	sched_start(ms);
	return 0;
}

/* Tear down in reverse; callbacks that still arrive only free. */
static void
teardown(jf_master_t *ms)
{
	ms->closing = 1;
	jf_sched_close(ms->sched);
	if (ms->http != NULL)
		jf_http_stop_accepting(ms);
	jf_events_close_all(ms->ev);
	jf_events_stop(ms->ev);
	if (ms->pool != NULL)
		jf_pool_destroy(ms->pool);
	ms->pool = NULL;
	jf_storeq_destroy(ms->sq);
	ms->sq = NULL;
	jf_events_free(ms->ev);
	ms->ev = NULL;
	jf_sched_free(ms->sched);
	ms->sched = NULL;
	if (ms->http != NULL)
		evhttp_free(ms->http);
	jf_conns_free(ms->conns);
	ms->conns = NULL;
	if (ms->pool_ev != NULL)
		event_free(ms->pool_ev);
	if (ms->drain_ev != NULL)
		event_free(ms->drain_ev);
}

int
main(int argc, char **argv)
{
	jf_master_t ms;
	struct event *sigs[4] = { NULL, NULL, NULL, NULL };
	const int signums[4] = { SIGTERM, SIGINT, SIGHUP, 0 };
	char err[1024];
	int r, i, rc = 1;

	jf_zygote_main_if_requested(argc, argv);

	memset(&ms, 0, sizeof(ms));
	ms.started_ns = jf_now_ns();
	jf_log_set_sink(log_sink, NULL);
	if ((r = jf_mconfig_load(&ms.cfg, argc, argv, err, sizeof(err))) != 0) {
		if (r != 1)
			fprintf(stderr, "jitfarm-master: %s\n", err);
		rc = r == 1 ? 0 : 2;
		goto out;
	}
	jf_log_set_level(ms.cfg.log_level);
	name_set(&ms);
#ifdef JF_TEST_HOOKS
	if (getenv("JF_TEST_HOLD_MS") != NULL)
		ms.test_hold_ms = atoi(getenv("JF_TEST_HOLD_MS"));
	if (getenv("JF_TEST_FAIL_PUT") != NULL)
		ms.test_fail_put = atoi(getenv("JF_TEST_FAIL_PUT"));
#endif
	if (pool_and_loop_start(&ms) != 0 || services_start(&ms) != 0)
		goto out;
	for (i = 0; signums[i] != 0; i++)
		if ((sigs[i] = evsignal_new(ms.base, signums[i], on_signal, &ms)) == NULL ||
		    event_add(sigs[i], NULL) != 0) {
			jf_error("msg=\"cannot watch signals\"");
			goto out;
		}
	jf_info("msg=\"started\" name=%s store=%.*s workers=%d queue_limit=%d tokens=%zu signing=%s "
	    "version=\"%s\"", ms.name,
	    (int)strcspn(ms.cfg.store_url, ":"), ms.cfg.store_url, ms.cfg.workers,
	    ms.cfg.queue_limit, jf_auth_count(ms.auth), ms.sign_key != NULL ? "yes" : "no",
	    jf_compiler_id());
	event_base_dispatch(ms.base);
	rc = 0;
	jf_info("msg=\"stopped\" inflight=%u", jf_sched_inflight(ms.sched));
out:
	teardown(&ms);
	for (i = 0; i < 4; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	if (ms.base != NULL)
		event_base_free(ms.base);
	jf_auth_free(ms.auth);
	jf_key_free_pkey(ms.sign_key);
	jf_mconfig_free(&ms.cfg);
	return rc;
}
