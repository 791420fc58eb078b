/*
 * reply.c - the master's HTTP replies (reply.h).
 *
 * evhttp frees a request whose client went away when its answer is sent,
 * so a late answer to a vanished client is harmless; every request is
 * answered exactly once through one of these functions.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "jitfarm/error.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "master/reply.h"

int
jf_reply_status_for(int err)
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
	jf_reply_t *rp = arg;

	if (rp->sending > 0)
		rp->sending--;
	if (rp->sent_fn != NULL)
		rp->sent_fn(rp->sent_arg, req);
	if (rp->idle_fn != NULL)
		rp->idle_fn(rp->idle_arg);
}

static void
send_reply(jf_reply_t *rp, struct evhttp_request *req, int status, const char *reason,
    struct evbuffer *b)
{
	if (evhttp_request_get_connection(req) != NULL) {
		rp->sending++;
		evhttp_request_set_on_complete_cb(req, on_sent, rp);
	}
	evhttp_send_reply(req, status, reason, b);
}

void
jf_reply_finish(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0,
    int status, const char *key, const char *result, size_t bytes)
{
	uint64_t ns = jf_now_ns() - t0;
	const char *uri = evhttp_request_get_uri(req);
	char path[160];
	size_t n;

	jf_metrics_request_note(rp->m, route, status, ns);
	if (jf_log_get_level() < JF_LOG_INFO)
		return;
	/* the path only, bounded, without the query */
	n = uri != NULL ? strcspn(uri, "? \"") : 0;
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, uri != NULL ? uri : "", n);
	path[n] = '\0';
	jf_info("req method=%s path=%s route=%s status=%d key=%s result=%s bytes=%zu ms=%.3f",
	    method_name(req), path, jf_metrics_route_name(route), status,
	    key != NULL && *key ? key : "-", result != NULL ? result : "-", bytes,
	    (double)ns / 1e6);
}

/* Send b (may be NULL: no memory for a body) with the common headers. */
static void
reply_send(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0, int status,
    const char *ctype, const char *key, const char *result, struct evbuffer *b)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (ctype != NULL)
		evhttp_add_header(h, "Content-Type", ctype);
	if (key != NULL && *key)
		evhttp_add_header(h, "X-Jitfarm-Key", key);
	jf_reply_finish(rp, req, route, t0, status, key, result,
	    b != NULL ? evbuffer_get_length(b) : 0);
	send_reply(rp, req, status, NULL, b);
}

/* A JSON value into a new evbuffer, newline-terminated; NULL without memory. */
static struct evbuffer *
json_buffer(const json_t *j)
{
	jf_buf_t jb = JF_BUF_INIT;
	struct evbuffer *b = NULL;

	if (j != NULL && jf_json_dump(j, &jb) == 0) {
		jf_buf_putc(&jb, '\n');
		if (!jf_buf_error(&jb) && (b = evbuffer_new()) != NULL &&
		    evbuffer_add(b, jb.p, jb.len) != 0) {
			evbuffer_free(b);
			b = NULL;
		}
	}
	jf_buf_free(&jb);
	return b;
}

void
jf_reply_json(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0,
    int status, const char *key, const char *result, const json_t *body)
{
	struct evbuffer *b = json_buffer(body);

	reply_send(rp, req, route, t0, status, "application/json", key, result, b);
	if (b != NULL)
		evbuffer_free(b);
}

void
jf_reply_error(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0,
    int status, int code, const char *key, const char *msg)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	json_t *j;

	/* json_pack refuses invalid UTF-8; a message that is not text is
	 * sent as the error's own description */
	if ((j = json_pack("{s:s,s:s}", "error", jf_errname(code), "message",
	    msg != NULL ? msg : jf_strerror(code))) == NULL)
		j = json_pack("{s:s,s:s}", "error", jf_errname(code), "message",
		    jf_strerror(code));
	if (status == 503)
		evhttp_add_header(h, "Retry-After", code == JF_ERR_CLOSED ? "5" : "1");
	if (status == 401)
		evhttp_add_header(h, "WWW-Authenticate", "Bearer realm=\"jitfarm\"");
	jf_reply_json(rp, req, route, t0, status, key, jf_errname(code), j);
	json_decref(j);
}

void
jf_reply_blob(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0,
    const uint8_t *blob, size_t len, const char *key, const char *cache)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (b == NULL || evbuffer_add(b, blob, len) != 0) {
		if (b != NULL)
			evbuffer_free(b);
		jf_reply_error(rp, req, route, t0, 503, JF_ERR_NOMEM, key, "out of memory");
		return;
	}
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
	reply_send(rp, req, route, t0, 200, "application/vnd.jitfarm.artifact", key,
	    cache != NULL ? cache : "ok", b);
	evbuffer_free(b);
}

void
jf_reply_text(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0,
    int status, const char *ctype, struct evbuffer *b, const char *result)
{
	reply_send(rp, req, route, t0, status, ctype, NULL, result, b);
}
