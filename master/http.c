/*
 * http.c - the master's HTTP front end on libevent's evhttp.
 *
 * One generic callback routes by path and method, checks the bearer
 * token's scope, validates every parameter, and hands the work to the
 * scheduler (compiles), to a store thread (artifacts, listing, readiness)
 * or answers at once (metrics, health). Every request is answered exactly
 * once through reply.h, which also counts it in the metrics and writes
 * its one structured log line. The scheduler never sees the request: it
 * calls on_compiled below with the result, and this file answers.
 *
 * Hostile clients: evhttp limits the request head (--max-header-bytes)
 * and body (--max-request-bytes) and drops connections idle past
 * --http-timeout, so garbage, huge headers and slowloris each cost one
 * connection, never the daemon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/queue.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/url.h"
#include "common/util.h"
#include "master/conn.h"
#include "master/http.h"

/* --- auth --------------------------------------------------------------------- */

/* The scopes of an Authorization value: 0 for an unknown token, -1 for
 * none at all (or not a bearer token). */
static int
token_scopes(jf_master_t *ms, const char *h, const char **name)
{
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return -1;
	h += 7;
	while (*h == ' ')
		h++;
	return jf_auth_check(ms->auth, h, name);
}

/* The scope a route and method need, 0 for none, -1 for a method the
 * route does not take; *route gets the route. */
static int
route_scope(const char *path, const char *method, int *route)
{
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	if (strcmp(path, "/v1/compile") == 0) {
		*route = JF_ROUTE_COMPILE;
		return strcmp(method, "POST") == 0 ? JF_SCOPE_COMPILE : -1;
	}
	if (strcmp(path, "/v1/artifacts") == 0 || strcmp(path, "/v1/artifacts/") == 0) {
		*route = JF_ROUTE_LIST;
		return get ? JF_SCOPE_READ : -1;
	}
	if (strncmp(path, "/v1/artifacts/", 14) == 0) {
		*route = JF_ROUTE_ARTIFACT;
		return get ? JF_SCOPE_READ : strcmp(method, "DELETE") == 0 ? JF_SCOPE_ADMIN : -1;
	}
	if (strcmp(path, "/v1/events") == 0) {
		*route = JF_ROUTE_EVENTS;
		return strcmp(method, "GET") == 0 ? JF_SCOPE_READ : -1;
	}
	*route = strcmp(path, "/metrics") == 0 ? JF_ROUTE_METRICS :
	    strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ? JF_ROUTE_HEALTH :
	    JF_ROUTE_OTHER;
	return *route == JF_ROUTE_OTHER || get ? 0 : -1;
}

/* The methods a route takes, for the Allow header of a 405. */
static const char *
route_allow(int route)
{
	switch (route) {
	case JF_ROUTE_COMPILE:
		return "POST";
	case JF_ROUTE_ARTIFACT:
		return "GET, HEAD, DELETE";
	case JF_ROUTE_EVENTS:
		return "GET";
	default:
		return "GET, HEAD";
	}
}

static void
reply_405(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0)
{
	char msg[64];

	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", route_allow(route));
	snprintf(msg, sizeof(msg), "use %s", route_allow(route));
	jf_reply_error(&ms->rp, req, route, t0, 405, JF_ERR_INVAL, NULL, msg);
}

/* The verdict on a request head, before evhttp reads any of its body
 * (master/conn.h): the route's method and the token's scope. A token
 * is checked again, with the request's parameters, when the whole
 * request has arrived. */
static int
head_verdict(void *arg, const jf_conn_head_t *h, int *route)
{
	jf_master_t *ms = arg;
	const char *name;
	int need = route_scope(h->path, h->method, route), have;

	if (need < 0)
		return JF_REJ_METHOD;
	if (need == 0 || ms->auth == NULL)
		return JF_REJ_NONE;
	if ((have = token_scopes(ms, h->authz, &name)) < 0)
		return JF_REJ_NOTOKEN;
	if (have == 0)
		return JF_REJ_BADTOKEN;
	return (have & need) == need ? JF_REJ_NONE : JF_REJ_SCOPE;
}

/* A request the connection filter refused: /.jf-reject/REASON/ROUTE. */
static void
handle_reject(jf_master_t *ms, struct evhttp_request *req, uint64_t t0, const char *p)
{
	int reason = atoi(p), route = JF_ROUTE_OTHER, st;
	const char *slash = strchr(p, '/');

	if (slash != NULL && atoi(slash + 1) >= 0 && atoi(slash + 1) < JF_ROUTE__N)
		route = atoi(slash + 1);
	st = jf_conn_reject_status(reason);
	if (st == 405) {
		reply_405(ms, req, route, t0);
		return;
	}
	jf_reply_error(&ms->rp, req, route, t0, st,
	    st == 401 || st == 403 ? JF_ERR_AUTH : st == 413 ? JF_ERR_TOOBIG :
	    st == 503 ? JF_ERR_BUSY : st == 404 ? JF_ERR_NOTFOUND : JF_ERR_INVAL, NULL,
	    jf_conn_reject_message(reason));
}

/* Check the bearer token for scope; answers 401/403 itself and returns 0
 * when the request must stop. */
static int
authorize(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0, int scope)
{
	const char *name;
	int have;

	if (ms->auth == NULL)
		return 1;
	have = token_scopes(ms, evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization"), &name);
	if (have < 0) {
		jf_reply_error(&ms->rp, req, route, t0, 401, JF_ERR_AUTH, NULL,
		    "a bearer token is required");
		return 0;
	}
	if (have == 0) {
		jf_reply_error(&ms->rp, req, route, t0, 401, JF_ERR_AUTH, NULL, "unknown token");
		return 0;
	}
	if ((have & scope) != scope) {
		jf_reply_error(&ms->rp, req, route, t0, 403, JF_ERR_AUTH, NULL,
		    scope == JF_SCOPE_ADMIN ? "this needs the admin scope" :
		    scope == JF_SCOPE_COMPILE ? "this needs the compile scope" :
		    "this needs the read scope");
		return 0;
	}
	jf_debug("msg=\"authorized\" token=%s", name);
	return 1;
}

/* --- compile -------------------------------------------------------------------- */

static int
charset_ok(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(extra, *s) != NULL))
			return 0;
	return 1;
}

/* The string parameters of a compile: where each goes and what it may hold. */
static const struct {
	const char *name, *extra;
	size_t off, cap;
} str_params[] = {
	{ "triple", "-_.", offsetof(jf_spec_t, triple), JF_TRIPLE_MAX },
	{ "cpu", "-_.", offsetof(jf_spec_t, cpu), JF_CPU_MAX },
	{ "features", "-_.,+ ", offsetof(jf_spec_t, features), JF_FEATURES_MAX },
	{ "namespace", "-_./:@+", offsetof(jf_spec_t, ns), JF_NS_MAX },
};

static const char *const compile_params[] = {
	"opt", "triple", "cpu", "features", "namespace", "program", "wait", NULL,
};

/* One parameter of a compile into cr. */
static int
compile_param_set(jf_creq_t *cr, const char *k, const char *v, char *err, size_t errlen)
{
	size_t i;

	if (strcmp(k, "opt") == 0) {
		if (v[0] == 'O' || v[0] == 'o')
			v++;
		if (strlen(v) != 1 || !jf_opt_valid(v[0]))
			return jf_seterr(err, errlen, JF_ERR_INVAL, "opt must be 0, 1, 2, 3, s or z");
		cr->spec.opt = v[0];
		return 0;
	}
	if (strcmp(k, "program") == 0) {
		if (strlen(v) != JF_KEY_HEX_LEN || jf_key_from_hex(v, &cr->spec.program_id) != 0)
			return jf_seterr(err, errlen, JF_ERR_INVAL, "program must be 64 hex digits");
		cr->spec.has_program = 1;
		return 0;
	}
	if (strcmp(k, "wait") == 0) {
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return jf_seterr(err, errlen, JF_ERR_INVAL, "wait must be 0 or 1");
		cr->wait = v[0] == '1';
		return 0;
	}
	for (i = 0; i < sizeof(str_params) / sizeof(str_params[0]); i++) {
		if (strcmp(k, str_params[i].name) != 0)
			continue;
		if (jf_strlcpy((char *)&cr->spec + str_params[i].off, v, str_params[i].cap) >=
		    str_params[i].cap)
			return jf_seterr(err, errlen, JF_ERR_INVAL, "parameter %s is too long", k);
		if (!charset_ok(v, str_params[i].extra))
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "parameter %s has bad characters", k);
		return 0;
	}
	return jf_seterr(err, errlen, JF_ERR_INVAL, "unknown parameter");
}

/* The query of POST /v1/compile: strict (common/url.h), so a name given
 * twice, a NUL or an unknown name is a 400, and '+' stays a plus. */
static int
compile_query_parse(const char *query, jf_creq_t *cr, char *err, size_t errlen)
{
	jf_query_t *q = jf_xmalloc(sizeof(*q));
	int r, i;

	memset(cr, 0, sizeof(*cr));
	cr->wait = 1;
	r = jf_query_parse(query, compile_params, q, err, errlen);
	for (i = 0; r == 0 && i < q->n; i++)
		r = compile_param_set(cr, q->kv[i].name, q->kv[i].value, err, errlen);
	jf_free(q);
	return r;
}

/* One compile request while the scheduler has it. */
typedef struct creq_ctx {
	jf_master_t *ms;
	struct evhttp_request *req;
	uint64_t t0;
} creq_ctx_t;

/* The scheduler's answer for one request. */
static void
on_compiled(const jf_sched_result_t *res, void *arg)
{
	creq_ctx_t *cx = arg;
	jf_reply_t *rp = &cx->ms->rp;

	if (res->abandoned) {
		/* the loop is gone: evhttp frees the request */
	} else if (res->err != 0) {
		jf_reply_error(rp, cx->req, JF_ROUTE_COMPILE, cx->t0,
		    jf_reply_status_for(res->err), res->err, res->key, res->msg);
	} else if (res->accepted) {
		json_t *j = json_pack("{s:s,s:s}", "key", res->key, "state", res->state);

		jf_reply_json(rp, cx->req, JF_ROUTE_COMPILE, cx->t0, 202, res->key, res->state, j);
		json_decref(j);
	} else {
		jf_reply_blob(rp, cx->req, JF_ROUTE_COMPILE, cx->t0, res->blob, res->blob_len,
		    res->key, res->state);
	}
	jf_free(cx);
}

/* Size, query and body checks of POST /v1/compile; answers a bad request
 * itself and returns NULL, else the contiguous IR. */
static const uint8_t *
compile_check(jf_master_t *ms, struct evhttp_request *req, uint64_t t0, jf_creq_t *cr,
    size_t *lenp)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const uint8_t *ir;
	char err[512];

	if (compile_query_parse(evhttp_uri_get_query(u), cr, err, sizeof(err)) != 0) {
		jf_reply_error(&ms->rp, req, JF_ROUTE_COMPILE, t0, 400, JF_ERR_INVAL, NULL, err);
		return NULL;
	}
	if (len == 0) {
		jf_reply_error(&ms->rp, req, JF_ROUTE_COMPILE, t0, 400, JF_ERR_INVAL, NULL,
		    "the request body must hold the IR (.ll or .bc)");
		return NULL;
	}
	if (len > ms->cfg.max_request_bytes) {
		snprintf(err, sizeof(err), "request body of %zu bytes is over the limit of %llu",
		    len, (unsigned long long)ms->cfg.max_request_bytes);
		jf_reply_error(&ms->rp, req, JF_ROUTE_COMPILE, t0, 413, JF_ERR_TOOBIG, NULL, err);
		return NULL;
	}
	/* contiguous view of the body; the scheduler copies what it keeps */
	if ((ir = evbuffer_pullup(in, (ev_ssize_t)len)) == NULL) {
		jf_reply_error(&ms->rp, req, JF_ROUTE_COMPILE, t0, 503, JF_ERR_NOMEM, NULL,
		    "out of memory");
		return NULL;
	}
	*lenp = len;
	return ir;
}

/* The scope a compile needs, decided once the namespace and the IR are
 * known (docs/security.md, "Program identity"): compile in its namespace,
 * and, when program= names anything but the SHA-256 of the IR sent,
 * publish in that namespace too. An unnamed program gets the IR's hash,
 * so a compile-only client can only ever fill the entry of its own IR.
 * Answers 403 itself and returns 0 when refused. */
static int
compile_scope_ok(jf_master_t *ms, struct evhttp_request *req, uint64_t t0,
    const jf_creq_t *cr, const uint8_t *ir, size_t len)
{
	const char *h, *name, *need = NULL;
	char msg[256];
	jf_key_t ih;
	int have;

	if (ms->auth == NULL)
		return 1;       /* an open master: everyone is admin */
	h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	h += 7;         /* authorize() saw "Bearer " */
	while (*h == ' ')
		h++;
	have = jf_auth_check_ns(ms->auth, h, cr->spec.ns, &name);
	if (cr->spec.has_program && !(have > 0 && (have & JF_SCOPE_PUBLISH))) {
		if (jf_program_id_from_ir(ir, len, &ih) != 0) {
			jf_reply_error(&ms->rp, req, JF_ROUTE_COMPILE, t0, 503, JF_ERR_NOMEM, NULL,
			    "out of memory");
			return 0;
		}
		if (!jf_key_eq(&ih, &cr->spec.program_id))
			need = "publish";
	}
	if (need == NULL && (have < 0 || !(have & JF_SCOPE_COMPILE)))
		need = "compile";
	if (need == NULL)
		return 1;
	snprintf(msg, sizeof(msg), strcmp(need, "publish") == 0 ?
	    "program= is not the SHA-256 of this IR: binding a chosen id needs the publish "
	    "scope for namespace \"%s\"" : "this needs the compile scope for namespace \"%s\"",
	    cr->spec.ns);
	jf_warn("msg=\"compile refused\" token=%s need=%s ns=\"%s\"", name, need, cr->spec.ns);
	jf_reply_error(&ms->rp, req, JF_ROUTE_COMPILE, t0, 403, JF_ERR_AUTH, NULL, msg);
	return 0;
}

static void
handle_compile(jf_master_t *ms, struct evhttp_request *req, uint64_t t0)
{
	const uint8_t *ir;
	creq_ctx_t *cx;
	jf_creq_t cr;
	size_t len = 0;

	/* any known token here; the scope is decided per namespace below */
	if (!authorize(ms, req, JF_ROUTE_COMPILE, t0, 0) ||
	    (ir = compile_check(ms, req, t0, &cr, &len)) == NULL ||
	    !compile_scope_ok(ms, req, t0, &cr, ir, len))
		return;
	cx = jf_xmalloc(sizeof(*cx));
	cx->ms = ms;
	cx->req = req;
	cx->t0 = t0;
	jf_sched_compile(ms->sched, &cr, ir, len, on_compiled, cx);
}

/* --- artifacts, listing, readiness (store threads) --------------------------- */

typedef struct sreq {
	jf_master_t *ms;
	struct evhttp_request *req;
	uint64_t t0;
	int route;
	char op;                        /* 'g' get, 'd' delete, 'l' list, 'r' ready */
	jf_key_t key;
	char hex[JF_KEY_HEX_LEN + 1];
	int res;
	uint8_t *blob;
	size_t len;
	struct evbuffer *list;
	char err[256];
} sreq_t;

static int
list_one(const jf_store_entry_t *e, void *arg)
{
	sreq_t *sr = arg;
	char hex[JF_KEY_HEX_LEN + 1];

	jf_key_hex(&e->key, hex);
	return evbuffer_add_printf(sr->list, "%s %llu\n", hex, (unsigned long long)e->size) < 0 ?
	    JF_ERR_NOMEM : 0;
}

static void
sjob(jf_store_t *s, void *arg)
{
	sreq_t *sr = arg;

	switch (sr->op) {
	case 'g':
		sr->res = jf_store_get(s, &sr->key, &sr->blob, &sr->len);
		break;
	case 'd':
		sr->res = jf_store_del(s, &sr->key);
		break;
	case 'l':
		sr->res = jf_store_list(s, list_one, sr);
		break;
	case 'r': {
		jf_key_t zero;

		memset(&zero, 0, sizeof(zero));
		sr->res = jf_store_exists(s, &zero);
		if (sr->res == JF_ERR_NOTFOUND)
			sr->res = 0;
		break;
	}
	}
	if (sr->res != 0 && sr->res != JF_ERR_NOTFOUND)
		jf_strlcpy(sr->err, jf_store_errstr(s), sizeof(sr->err));
}

/* GET /readyz: the zygote, the store and the drain state. */
static void
ready_reply(jf_master_t *ms, sreq_t *sr)
{
	int pool_ok = jf_pool_ready(ms->pool);
	int ok = pool_ok && sr->res == 0 && !ms->draining;
	json_t *j = json_pack("{s:b,s:b,s:b,s:b}", "ready", ok, "zygote", pool_ok,
	    "store", sr->res == 0, "draining", ms->draining);

	if (j != NULL && sr->res != 0)
		json_object_set_new(j, "store_error", json_string(jf_errname(sr->res)));
	jf_reply_json(&ms->rp, sr->req, sr->route, sr->t0, ok ? 200 : 503, NULL,
	    ok ? "ready" : "not_ready", j);
	json_decref(j);
}

/* A store job's answer, on the loop. */
static void
sreq_reply(jf_master_t *ms, sreq_t *sr)
{
	char msg[512];

	if (sr->op == 'r') {
		ready_reply(ms, sr);
	} else if (sr->res == JF_ERR_NOTFOUND) {
		jf_reply_error(&ms->rp, sr->req, sr->route, sr->t0, 404, JF_ERR_NOTFOUND,
		    sr->op == 'l' ? NULL : sr->hex, "no such artifact");
	} else if (sr->res != 0) {
		snprintf(msg, sizeof(msg), "store %s failed: %s",
		    sr->op == 'g' ? "get" : sr->op == 'd' ? "delete" : "list",
		    sr->err[0] ? sr->err : jf_strerror(sr->res));
		jf_reply_error(&ms->rp, sr->req, sr->route, sr->t0,
		    jf_reply_status_for(sr->res) == 503 ? 503 : 502, sr->res,
		    sr->op == 'l' ? NULL : sr->hex, msg);
	} else if (sr->op == 'g') {
		jf_reply_blob(&ms->rp, sr->req, sr->route, sr->t0, sr->blob, sr->len, sr->hex,
		    NULL);
	} else if (sr->op == 'd') {
		json_t *j = json_pack("{s:s}", "deleted", sr->hex);

		jf_reply_json(&ms->rp, sr->req, sr->route, sr->t0, 200, sr->hex, "deleted", j);
		json_decref(j);
	} else {
		jf_reply_text(&ms->rp, sr->req, sr->route, sr->t0, 200, "text/plain", sr->list,
		    "ok");
	}
}

static void
sreq_free(sreq_t *sr)
{
	jf_free(sr->blob);      /* the store's buffer */
	if (sr->list != NULL)
		evbuffer_free(sr->list);
	jf_free(sr);
}

static void
sdone(void *arg)
{
	sreq_t *sr = arg;
	jf_master_t *ms = sr->ms;

	if (!ms->closing) {
		jf_metrics_store_note(&ms->m, sr->res, sr->op == 'g' ? JF_MSTORE_GET :
		    sr->op == 'd' ? JF_MSTORE_DEL : JF_MSTORE_OTHER);
		sreq_reply(ms, sr);
	}
	sreq_free(sr);
}

static void
store_request(jf_master_t *ms, struct evhttp_request *req, uint64_t t0, int route, char op,
    const jf_key_t *key)
{
	sreq_t *sr = jf_xcalloc(1, sizeof(*sr));

	if (op == 'l' && (sr->list = evbuffer_new()) == NULL) {
		jf_free(sr);
		jf_reply_error(&ms->rp, req, route, t0, 503, JF_ERR_NOMEM, NULL, "out of memory");
		return;
	}
	sr->ms = ms;
	sr->req = req;
	sr->t0 = t0;
	sr->route = route;
	sr->op = op;
	sr->res = JF_ERR_CLOSED;
	if (key != NULL) {
		sr->key = *key;
		jf_key_hex(key, sr->hex);
	}
	if (jf_storeq_submit(ms->sq, sjob, sdone, sr) != 0) {
		sreq_free(sr);
		jf_reply_error(&ms->rp, req, route, t0, 503, JF_ERR_CLOSED, NULL,
		    "store queue closed");
	}
}

static void
handle_artifact(jf_master_t *ms, struct evhttp_request *req, uint64_t t0, const char *hex)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	jf_key_t key;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD && cmd != EVHTTP_REQ_DELETE) {
		reply_405(ms, req, JF_ROUTE_ARTIFACT, t0);
		return;
	}
	if (!authorize(ms, req, JF_ROUTE_ARTIFACT, t0,
	    cmd == EVHTTP_REQ_DELETE ? JF_SCOPE_ADMIN : JF_SCOPE_READ))
		return;
	if (strlen(hex) != JF_KEY_HEX_LEN || jf_key_from_hex(hex, &key) != 0) {
		jf_reply_error(&ms->rp, req, JF_ROUTE_ARTIFACT, t0, 400, JF_ERR_INVAL, NULL,
		    "an artifact key is 64 hex digits");
		return;
	}
	store_request(ms, req, t0, JF_ROUTE_ARTIFACT, cmd == EVHTTP_REQ_DELETE ? 'd' : 'g', &key);
}

/* --- metrics and health ---------------------------------------------------------- */

static void
handle_metrics(jf_master_t *ms, struct evhttp_request *req, uint64_t t0)
{
	jf_metrics_gauges_t g;
	struct evbuffer *b = evbuffer_new();

	memset(&g, 0, sizeof(g));
	if (ms->pool != NULL) {
		jf_pool_get_stats(ms->pool, &g.pool);
		g.pool_ready = jf_pool_ready(ms->pool);
	}
	g.inflight = jf_sched_inflight(ms->sched);
	g.waiters = jf_sched_waiters(ms->sched);
	g.store_queue = ms->sq != NULL ? jf_storeq_pending(ms->sq) : 0;
	g.events_clients = jf_events_clients(ms->ev);
	g.draining = ms->draining;
	g.tokens = jf_auth_count(ms->auth);
	g.uptime_s = (double)(jf_now_ns() - ms->started_ns) / 1e9;
	if (b != NULL)
		jf_metrics_render(&ms->m, &g, b);
	jf_reply_text(&ms->rp, req, JF_ROUTE_METRICS, t0, 200, "text/plain; version=0.0.4", b,
	    "ok");
	if (b != NULL)
		evbuffer_free(b);
}

static void
handle_health(jf_master_t *ms, struct evhttp_request *req, uint64_t t0)
{
	struct evbuffer *b = evbuffer_new();

	if (b != NULL)
		evbuffer_add_printf(b, "ok\n");
	jf_reply_text(&ms->rp, req, JF_ROUTE_HEALTH, t0, 200, "text/plain", b, "ok");
	if (b != NULL)
		evbuffer_free(b);
}

/* --- routing ------------------------------------------------------------------------ */

static void
on_request(struct evhttp_request *req, void *arg)
{
	jf_master_t *ms = arg;
	uint64_t t0 = jf_now_ns();
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	int get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	struct bufferevent *bev = con != NULL ? evhttp_connection_get_bufferevent(con) : NULL;

	/* answers go out in one piece: without this the tail of a blob waits
	 * for the client's delayed ACK (Nagle), about 40 ms a request */
	if (bev != NULL) {
		int one = 1;

		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	}
	if (path == NULL) {
		jf_reply_error(&ms->rp, req, JF_ROUTE_OTHER, t0, 400, JF_ERR_INVAL, NULL, "bad URI");
		return;
	}
	if (strncmp(path, JF_CONN_REJECT_PATH, strlen(JF_CONN_REJECT_PATH)) == 0) {
		handle_reject(ms, req, t0, path + strlen(JF_CONN_REJECT_PATH));
		return;
	}
	if (strcmp(path, "/v1/compile") == 0) {
		if (cmd != EVHTTP_REQ_POST)
			reply_405(ms, req, JF_ROUTE_COMPILE, t0);
		else
			handle_compile(ms, req, t0);
	} else if (strncmp(path, "/v1/artifacts/", 14) == 0) {
		handle_artifact(ms, req, t0, path + 14);
	} else if (strcmp(path, "/v1/artifacts") == 0 || strcmp(path, "/v1/artifacts/") == 0) {
		if (!get)
			reply_405(ms, req, JF_ROUTE_LIST, t0);
		else if (authorize(ms, req, JF_ROUTE_LIST, t0, JF_SCOPE_READ))
			store_request(ms, req, t0, JF_ROUTE_LIST, 'l', NULL);
	} else if (strcmp(path, "/v1/events") == 0) {
		if (cmd != EVHTTP_REQ_GET)
			reply_405(ms, req, JF_ROUTE_EVENTS, t0);
		else if (authorize(ms, req, JF_ROUTE_EVENTS, t0, JF_SCOPE_READ))
			jf_events_serve(ms->ev, req, t0);
	} else if ((strcmp(path, "/metrics") == 0 || strcmp(path, "/healthz") == 0 ||
	    strcmp(path, "/readyz") == 0) && !get) {
		reply_405(ms, req, JF_ROUTE_HEALTH, t0);
	} else if (strcmp(path, "/metrics") == 0 && get) {
		handle_metrics(ms, req, t0);
	} else if (strcmp(path, "/healthz") == 0 && get) {
		handle_health(ms, req, t0);
	} else if (strcmp(path, "/readyz") == 0 && get) {
		store_request(ms, req, t0, JF_ROUTE_HEALTH, 'r', NULL);
	} else {
		jf_reply_error(&ms->rp, req, JF_ROUTE_OTHER, t0, 404, JF_ERR_NOTFOUND, NULL,
		    "no such endpoint");
	}
}

/* --- listening ---------------------------------------------------------------------- */

static int
listen_unix(jf_master_t *ms, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct evhttp_bound_socket *bs;
	struct stat st;
	int fd;

	if (jf_strlcpy(sa.sun_path, path, sizeof(sa.sun_path)) >= sizeof(sa.sun_path))
		return jf_seterr(err, errlen, JF_ERR_INVAL, "unix socket path too long: %s", path);
	/* a stale socket from an earlier run; never remove anything else */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
		int e = errno;

		close(fd);
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "cannot listen on unix:%s: %s", path,
		    strerror(e));
	}
	if ((bs = evhttp_accept_socket_with_handle(ms->http, fd)) == NULL) {
		close(fd);
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "evhttp cannot accept on unix:%s", path);
	}
	jf_conns_watch_listener(ms->conns, evhttp_bound_socket_get_listener(bs));
	ms->bound[ms->nbound++] = bs;
	return 0;
}

static int
listen_tcp(jf_master_t *ms, const char *addr, char *err, size_t errlen)
{
	char host[256];
	const char *colon;
	struct evhttp_bound_socket *bs;
	long port;
	char *end;
	size_t hl;

	/* HOST:PORT or [V6]:PORT */
	if ((colon = strrchr(addr, ':')) == NULL)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "listen address %s has no port", addr);
	hl = (size_t)(colon - addr);
	if (hl >= sizeof(host))
		return jf_seterr(err, errlen, JF_ERR_INVAL, "listen host too long");
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 0 || port > 65535)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "bad port in %s", addr);
	if ((bs = evhttp_bind_socket_with_handle(ms->http, host[0] ? host : "0.0.0.0",
	    (ev_uint16_t)port)) == NULL)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "cannot listen on %s: %s", addr,
		    strerror(errno));
	jf_conns_watch_listener(ms->conns, evhttp_bound_socket_get_listener(bs));
	ms->bound[ms->nbound++] = bs;
	return 0;
}

static void
on_reply_sent(void *arg, struct evhttp_request *req)
{
	jf_master_t *ms = arg;

	jf_conns_request_done(ms->conns, req);
}

/* Every connection through the filter of master/conn.h. */
static int
conns_setup(jf_master_t *ms)
{
	jf_conns_opts_t o;

	if (!ms->cfg.conn_filter)
		return 0;
	memset(&o, 0, sizeof(o));
	o.base = ms->base;
	o.verdict = head_verdict;
	o.verdict_arg = ms;
	o.max_header_bytes = (size_t)ms->cfg.max_header_bytes;
	o.max_request_bytes = ms->cfg.max_request_bytes;
	o.max_body_held = ms->cfg.max_body_held;
	o.max_connections = ms->cfg.max_connections;
	o.fd_reserve = ms->cfg.fd_reserve;
	o.head_timeout_s = ms->cfg.head_timeout_s;
	o.request_timeout_s = ms->cfg.request_timeout_s;
	o.idle_timeout_s = ms->cfg.http_timeout_s;
	o.min_rate = ms->cfg.min_rate;
	if (jf_conns_create(&o, &ms->conns) != 0)
		return JF_ERR_NOMEM;
	jf_conns_attach(ms->conns, ms->http);
	ms->rp.sent_fn = on_reply_sent;
	ms->rp.sent_arg = ms;
	return 0;
}

int
jf_http_setup(jf_master_t *ms, char *err, size_t errlen)
{
	struct timeval tv = { ms->cfg.http_timeout_s, 0 };
	int i, r;

	if ((ms->http = evhttp_new(ms->base)) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "evhttp_new failed");
	evhttp_set_allowed_methods(ms->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
	evhttp_set_max_headers_size(ms->http, ms->cfg.max_header_bytes);
	evhttp_set_max_body_size(ms->http, (ev_ssize_t)ms->cfg.max_request_bytes);
	evhttp_set_timeout_tv(ms->http, &tv);
	evhttp_set_gencb(ms->http, on_request, ms);
	if ((r = conns_setup(ms)) != 0)
		return jf_seterr(err, errlen, r, "cannot set up the connection filter");
	for (i = 0; i < ms->cfg.nlisten; i++) {
		const char *a = ms->cfg.listen[i];

		r = strncmp(a, "unix:", 5) == 0 ? listen_unix(ms, a + 5, err, errlen) :
		    listen_tcp(ms, a, err, errlen);
		if (r != 0)
			return r;
		jf_info("msg=\"listening\" addr=%s", a);
	}
	return 0;
}

void
jf_http_stop_accepting(jf_master_t *ms)
{
	int i;

	for (i = 0; i < ms->nbound; i++)
		evhttp_del_accept_socket(ms->http, ms->bound[i]);
	ms->nbound = 0;
}
