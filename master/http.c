/*
 * http.c - the master's HTTP front end on libevent's evhttp.
 *
 * One generic callback routes by path and method, checks the bearer
 * token's scope, validates every parameter, and hands the work to the
 * scheduler (compiles), to a store thread (artifacts, listing, readiness)
 * or answers at once (metrics, health). Every request is answered exactly
 * once through the reply helpers below, which also count it in the
 * metrics and write its one structured log line; evhttp frees a request
 * whose client went away when that answer is sent, so a late answer to a
 * vanished client is harmless.
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
#include "common/mem.h"
#include "common/log.h"
#include "common/util.h"
#include "master/master.h"

/* --- replies ------------------------------------------------------------------ */

void
jf_json_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	for (; in != NULL && *in != '\0' && o + 7 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

int
jf_status_for(int err)
{
	switch (err) {
	case 0:
		return 200;
	case JF_ERR_PARSE: case JF_ERR_VERIFY: case JF_ERR_TARGET: case JF_ERR_INVAL:
	case JF_ERR_FORMAT:
		return 400;
	case JF_ERR_AUTH:
		return 401;
	case JF_ERR_NOTFOUND:
		return 404;
	case JF_ERR_TOOBIG:
		return 413;
	case JF_ERR_COMPILE: case JF_ERR_CRASH: case JF_ERR_FATAL: case JF_ERR_TIMEOUT:
	case JF_ERR_OOM: case JF_ERR_QUARANTINED:
		return 422;
	case JF_ERR_STORE: case JF_ERR_IO: case JF_ERR_READONLY: case JF_ERR_INTEGRITY:
	case JF_ERR_SIGNATURE:
		return 502;
	case JF_ERR_BUSY: case JF_ERR_CLOSED: case JF_ERR_NOMEM:
		return 503;
	default:
		return 500;
	}
}

static const char *
method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	default: return "OTHER";
	}
}

/* Count answers still being written, so a drain waits for them. */
static void
on_sent(struct evhttp_request *req, void *arg)
{
	jf_master_t *ms = arg;

	if (ms->sending > 0)
		ms->sending--;
	jf_master_maybe_done(ms);
}

static void
send_reply(jf_master_t *ms, struct evhttp_request *req, int status, const char *reason,
    struct evbuffer *b)
{
	if (evhttp_request_get_connection(req) != NULL) {
		ms->sending++;
		evhttp_request_set_on_complete_cb(req, on_sent, ms);
	}
	evhttp_send_reply(req, status, reason, b);
}

void
jf_reply_finish(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0,
    int status, const char *key, const char *result, size_t bytes)
{
	uint64_t ns = jf_now_ns() - t0;
	const char *uri = evhttp_request_get_uri(req);
	char path[160];
	size_t n;

	jf_metrics_request(&ms->m, route, status, ns);
	if (jf_log_get_level() < JF_LOG_INFO)
		return;
	/* the path only, bounded, without the query */
	n = uri != NULL ? strcspn(uri, "? \"") : 0;
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, uri != NULL ? uri : "", n);
	path[n] = '\0';
	jf_info("req method=%s path=%s route=%s status=%d key=%s result=%s bytes=%zu ms=%.3f",
	    method_name(req), path, jf_route_name(route), status,
	    key != NULL && *key ? key : "-", result != NULL ? result : "-", bytes,
	    (double)ns / 1e6);
}

void
jf_reply_error(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0,
    int status, int code, const char *key, const char *msg)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char esc[2048];

	jf_json_escape(msg != NULL ? msg : jf_strerror(code), esc, sizeof(esc));
	if (b != NULL)
		evbuffer_add_printf(b, "{\"error\":\"%s\",\"message\":\"%s\"}\n",
		    jf_errname(code), esc);
	evhttp_add_header(h, "Content-Type", "application/json");
	if (status == 503)
		evhttp_add_header(h, "Retry-After", code == JF_ERR_CLOSED ? "5" : "1");
	if (status == 401)
		evhttp_add_header(h, "WWW-Authenticate", "Bearer realm=\"jitfarm\"");
	if (key != NULL && *key)
		evhttp_add_header(h, "X-Jitfarm-Key", key);
	jf_reply_finish(ms, req, route, t0, status, key, jf_errname(code),
	    b != NULL ? evbuffer_get_length(b) : 0);
	send_reply(ms, req, status, NULL, b);
	if (b != NULL)
		evbuffer_free(b);
}

void
jf_reply_blob(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0,
    const uint8_t *blob, size_t len, const char *key, const char *cache)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (b == NULL || evbuffer_add(b, blob, len) != 0) {
		if (b != NULL)
			evbuffer_free(b);
		jf_reply_error(ms, req, route, t0, 503, JF_ERR_NOMEM, key, "out of memory");
		return;
	}
	evhttp_add_header(h, "Content-Type", "application/vnd.jitfarm.artifact");
	evhttp_add_header(h, "X-Jitfarm-Key", key);
	if (cache != NULL)
		evhttp_add_header(h, "X-Jitfarm-Cache", cache);
	/* artifacts are immutable: a key names one byte string forever */
	evhttp_add_header(h, "Cache-Control", "public, max-age=31536000, immutable");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		char cl[32];

		/* evhttp sends no body for HEAD and would not say its size */
		snprintf(cl, sizeof(cl), "%zu", len);
		evhttp_add_header(h, "Content-Length", cl);
	}
	jf_reply_finish(ms, req, route, t0, 200, key, cache != NULL ? cache : "ok", len);
	send_reply(ms, req, 200, "OK", b);
	evbuffer_free(b);
}

void
jf_reply_json(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0,
    int status, const char *key, const char *result, const char *json)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (b != NULL)
		evbuffer_add(b, json, strlen(json));
	evhttp_add_header(h, "Content-Type", "application/json");
	if (key != NULL && *key)
		evhttp_add_header(h, "X-Jitfarm-Key", key);
	jf_reply_finish(ms, req, route, t0, status, key, result, strlen(json));
	send_reply(ms, req, status, NULL, b);
	if (b != NULL)
		evbuffer_free(b);
}

static void
reply_text(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0, int status,
    const char *ctype, struct evbuffer *b, const char *result)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	jf_reply_finish(ms, req, route, t0, status, NULL, result, evbuffer_get_length(b));
	send_reply(ms, req, status, NULL, b);
}

/* --- auth --------------------------------------------------------------------- */

/* Check the bearer token for scope; answers 401/403 itself and returns 0
 * when the request must stop. */
static int
authorize(jf_master_t *ms, struct evhttp_request *req, int route, uint64_t t0, int scope)
{
	const char *h, *name;
	int have;

	if (ms->auth == NULL)
		return 1;
	h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		jf_reply_error(ms, req, route, t0, 401, JF_ERR_AUTH, NULL,
		    "a bearer token is required");
		return 0;
	}
	h += 7;
	while (*h == ' ')
		h++;
	if ((have = jf_auth_check(ms->auth, h, &name)) == 0) {
		jf_reply_error(ms, req, route, t0, 401, JF_ERR_AUTH, NULL, "unknown token");
		return 0;
	}
	if ((have & scope) != scope) {
		jf_reply_error(ms, req, route, t0, 403, JF_ERR_AUTH, NULL,
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

static int
param(const char *name, const char *v, char *dst, size_t dlen, const char *extra,
    char *err, size_t errlen)
{
	if (jf_strlcpy(dst, v, dlen) >= dlen)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "parameter %s is too long", name);
	if (extra != NULL && !charset_ok(v, extra))
		return jf_seterr(err, errlen, JF_ERR_INVAL, "parameter %s has bad characters",
		    name);
	return 0;
}

static int
parse_compile_query(const char *query, jf_creq_t *cr, char *err, size_t errlen)
{
	struct evkeyvalq q;
	struct evkeyval *kv;
	int r = 0;

	memset(cr, 0, sizeof(*cr));
	cr->wait = 1;
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "malformed query string");
	TAILQ_FOREACH(kv, &q, next) {
		const char *k = kv->key, *v = kv->value;

		if (strcmp(k, "opt") == 0) {
			if (v[0] == 'O' || v[0] == 'o')
				v++;
			if (strlen(v) != 1 || !jf_opt_valid(v[0])) {
				r = jf_seterr(err, errlen, JF_ERR_INVAL,
				    "opt must be 0, 1, 2, 3, s or z");
				goto out;
			}
			cr->opt = v[0];
		} else if (strcmp(k, "triple") == 0) {
			if ((r = param(k, v, cr->triple, sizeof(cr->triple), "-_.", err, errlen)) != 0)
				goto out;
		} else if (strcmp(k, "cpu") == 0) {
			if ((r = param(k, v, cr->cpu, sizeof(cr->cpu), "-_.", err, errlen)) != 0)
				goto out;
		} else if (strcmp(k, "features") == 0) {
			if ((r = param(k, v, cr->features, sizeof(cr->features), "-_.,+ ", err,
			    errlen)) != 0)
				goto out;
		} else if (strcmp(k, "namespace") == 0) {
			if ((r = param(k, v, cr->ns, sizeof(cr->ns), "-_./:@+", err, errlen)) != 0)
				goto out;
		} else if (strcmp(k, "program") == 0) {
			if (strlen(v) != JF_KEY_HEX_LEN || jf_key_from_hex(v, &cr->program_id) != 0) {
				r = jf_seterr(err, errlen, JF_ERR_INVAL,
				    "program must be 64 hex digits");
				goto out;
			}
			cr->has_program = 1;
		} else if (strcmp(k, "wait") == 0) {
			if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
				r = jf_seterr(err, errlen, JF_ERR_INVAL, "wait must be 0 or 1");
				goto out;
			}
			cr->wait = v[0] == '1';
		} else {
			char ek[64];

			jf_json_escape(k, ek, sizeof(ek));
			r = jf_seterr(err, errlen, JF_ERR_INVAL, "unknown parameter \"%s\"", ek);
			goto out;
		}
	}
out:
	evhttp_clear_headers(&q);
	return r;
}

static void
handle_compile(jf_master_t *ms, struct evhttp_request *req, uint64_t t0)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char err[512];
	jf_creq_t cr;
	uint8_t *ir;

	if (!authorize(ms, req, JF_ROUTE_COMPILE, t0, JF_SCOPE_COMPILE))
		return;
	if (parse_compile_query(evhttp_uri_get_query(u), &cr, err, sizeof(err)) != 0) {
		jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, 400, JF_ERR_INVAL, NULL, err);
		return;
	}
	if (len == 0) {
		jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, 400, JF_ERR_INVAL, NULL,
		    "the request body must hold the IR (.ll or .bc)");
		return;
	}
	if (len > ms->cfg.max_request_bytes) {
		snprintf(err, sizeof(err), "request body of %zu bytes is over the limit of %llu",
		    len, (unsigned long long)ms->cfg.max_request_bytes);
		jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, 413, JF_ERR_TOOBIG, NULL, err);
		return;
	}
	/* contiguous view of the body; the scheduler copies what it keeps */
	if ((ir = evbuffer_pullup(in, (ev_ssize_t)len)) == NULL) {
		jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, 503, JF_ERR_NOMEM, NULL,
		    "out of memory");
		return;
	}
	jf_sched_compile(ms, req, t0, &cr, ir, len);
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

static void
sdone(void *arg)
{
	sreq_t *sr = arg;
	jf_master_t *ms = sr->ms;
	char msg[512];

	if (ms->closing)
		goto out;
	if (sr->res != 0 && sr->res != JF_ERR_NOTFOUND && sr->res != JF_ERR_CLOSED) {
		ms->store_ok = 0;
		if (sr->op == 'g')
			ms->m.store_errors_get++;
		else if (sr->op == 'd')
			ms->m.store_errors_del++;
		else
			ms->m.store_errors_other++;
	} else if (sr->res != JF_ERR_CLOSED) {
		ms->store_ok = 1;
	}
	if (sr->op == 'r') {
		int pool_ok = jf_pool_ready(ms->pool);
		struct evbuffer *b = evbuffer_new();
		int ok = pool_ok && sr->res == 0 && !ms->draining;

		evbuffer_add_printf(b, "{\"ready\":%s,\"zygote\":%s,\"store\":%s,\"draining\":%s%s%s%s}\n",
		    ok ? "true" : "false", pool_ok ? "true" : "false",
		    sr->res == 0 ? "true" : "false", ms->draining ? "true" : "false",
		    sr->res != 0 ? ",\"store_error\":\"" : "", sr->res != 0 ? jf_errname(sr->res) : "",
		    sr->res != 0 ? "\"" : "");
		reply_text(ms, sr->req, sr->route, sr->t0, ok ? 200 : 503, "application/json", b,
		    ok ? "ready" : "not_ready");
		evbuffer_free(b);
		goto out;
	}
	if (sr->res == JF_ERR_NOTFOUND) {
		jf_reply_error(ms, sr->req, sr->route, sr->t0, 404, JF_ERR_NOTFOUND,
		    sr->op == 'l' ? NULL : sr->hex, "no such artifact");
		goto out;
	}
	if (sr->res != 0) {
		snprintf(msg, sizeof(msg), "store %s failed: %s",
		    sr->op == 'g' ? "get" : sr->op == 'd' ? "delete" : "list",
		    sr->err[0] ? sr->err : jf_strerror(sr->res));
		jf_reply_error(ms, sr->req, sr->route, sr->t0, jf_status_for(sr->res) == 503 ?
		    503 : 502, sr->res, sr->op == 'l' ? NULL : sr->hex, msg);
		goto out;
	}
	switch (sr->op) {
	case 'g':
		jf_reply_blob(ms, sr->req, sr->route, sr->t0, sr->blob, sr->len, sr->hex, NULL);
		break;
	case 'd':
		snprintf(msg, sizeof(msg), "{\"deleted\":\"%s\"}\n", sr->hex);
		jf_reply_json(ms, sr->req, sr->route, sr->t0, 200, sr->hex, "deleted", msg);
		break;
	case 'l':
		reply_text(ms, sr->req, sr->route, sr->t0, 200, "text/plain", sr->list, "ok");
		break;
	}
out:
	jf_free(sr->blob);
	if (sr->list != NULL)
		evbuffer_free(sr->list);
	free(sr);
}

static void
store_request(jf_master_t *ms, struct evhttp_request *req, uint64_t t0, int route, char op,
    const jf_key_t *key)
{
	sreq_t *sr = calloc(1, sizeof(*sr));

	if (sr == NULL || (op == 'l' && (sr->list = evbuffer_new()) == NULL)) {
		free(sr);
		jf_reply_error(ms, req, route, t0, 503, JF_ERR_NOMEM, NULL, "out of memory");
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
		if (sr->list != NULL)
			evbuffer_free(sr->list);
		free(sr);
		jf_reply_error(ms, req, route, t0, 503, JF_ERR_CLOSED, NULL, "store queue closed");
	}
}

static void
handle_artifact(jf_master_t *ms, struct evhttp_request *req, uint64_t t0, const char *hex)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	jf_key_t key;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD && cmd != EVHTTP_REQ_DELETE) {
		jf_reply_error(ms, req, JF_ROUTE_ARTIFACT, t0, 405, JF_ERR_INVAL, NULL,
		    "use GET, HEAD or DELETE");
		return;
	}
	if (!authorize(ms, req, JF_ROUTE_ARTIFACT, t0,
	    cmd == EVHTTP_REQ_DELETE ? JF_SCOPE_ADMIN : JF_SCOPE_READ))
		return;
	if (strlen(hex) != JF_KEY_HEX_LEN || jf_key_from_hex(hex, &key) != 0) {
		jf_reply_error(ms, req, JF_ROUTE_ARTIFACT, t0, 400, JF_ERR_INVAL, NULL,
		    "an artifact key is 64 hex digits");
		return;
	}
	store_request(ms, req, t0, JF_ROUTE_ARTIFACT, cmd == EVHTTP_REQ_DELETE ? 'd' : 'g', &key);
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
		jf_reply_error(ms, req, JF_ROUTE_OTHER, t0, 400, JF_ERR_INVAL, NULL, "bad URI");
		return;
	}
	if (strcmp(path, "/v1/compile") == 0) {
		if (cmd != EVHTTP_REQ_POST)
			jf_reply_error(ms, req, JF_ROUTE_COMPILE, t0, 405, JF_ERR_INVAL, NULL,
			    "use POST");
		else
			handle_compile(ms, req, t0);
	} else if (strncmp(path, "/v1/artifacts/", 14) == 0) {
		handle_artifact(ms, req, t0, path + 14);
	} else if (strcmp(path, "/v1/artifacts") == 0 || strcmp(path, "/v1/artifacts/") == 0) {
		if (!get)
			jf_reply_error(ms, req, JF_ROUTE_LIST, t0, 405, JF_ERR_INVAL, NULL, "use GET");
		else if (authorize(ms, req, JF_ROUTE_LIST, t0, JF_SCOPE_READ))
			store_request(ms, req, t0, JF_ROUTE_LIST, 'l', NULL);
	} else if (strcmp(path, "/v1/events") == 0) {
		if (cmd != EVHTTP_REQ_GET)
			jf_reply_error(ms, req, JF_ROUTE_EVENTS, t0, 405, JF_ERR_INVAL, NULL, "use GET");
		else if (authorize(ms, req, JF_ROUTE_EVENTS, t0, JF_SCOPE_READ))
			jf_events_serve(ms, req, t0);
	} else if (strcmp(path, "/metrics") == 0 && get) {
		struct evbuffer *b = evbuffer_new();

		jf_metrics_render(ms, b);
		reply_text(ms, req, JF_ROUTE_METRICS, t0, 200, "text/plain; version=0.0.4", b, "ok");
		evbuffer_free(b);
	} else if (strcmp(path, "/healthz") == 0 && get) {
		struct evbuffer *b = evbuffer_new();

		evbuffer_add_printf(b, "ok\n");
		reply_text(ms, req, JF_ROUTE_HEALTH, t0, 200, "text/plain", b, "ok");
		evbuffer_free(b);
	} else if (strcmp(path, "/readyz") == 0 && get) {
		store_request(ms, req, t0, JF_ROUTE_HEALTH, 'r', NULL);
	} else {
		jf_reply_error(ms, req, JF_ROUTE_OTHER, t0, 404, JF_ERR_NOTFOUND, NULL,
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
	ms->bound[ms->nbound++] = bs;
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
