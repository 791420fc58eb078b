/*
 * reply.h - every HTTP answer the master writes goes out through here.
 *
 * A leaf over evhttp and metrics.h: each reply counts the request in the
 * metrics, writes the request's one structured log line, and sends the
 * answer. Bodies that are JSON are built with jansson (common/json.h),
 * never by hand. The reply context counts answers still being written;
 * when one finishes, idle_fn runs, so a drain can tell when the last
 * answer left.
 */
#ifndef JF_MASTER_REPLY_H
#define JF_MASTER_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "common/json.h"
#include "master/metrics.h"

struct evbuffer;
struct evhttp_request;

typedef struct jf_reply {
	jf_metrics_t *m;                /* borrowed */
	unsigned sending;               /* answers not yet fully written */
	void (*idle_fn)(void *arg);     /* an answer was fully written */
	void *idle_arg;
	/* an answer to req was fully written (before idle_fn) */
	void (*sent_fn)(void *arg, struct evhttp_request *req);
	void *sent_arg;
} jf_reply_t;

/* The HTTP status for a jf_err from a compile or the store. */
int jf_reply_status_for(int err);

/* {"error":NAME,"message":MSG}; msg NULL: the error's own text. Adds
 * Retry-After to a 503 and WWW-Authenticate to a 401. */
void jf_reply_error(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0,
    int status, int code, const char *key, const char *msg);
/* An artifact blob (copied), with its key and cache headers. */
void jf_reply_blob(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0,
    const uint8_t *blob, size_t len, const char *key, const char *cache);
/* A JSON value (borrowed), compact, with a trailing newline. */
void jf_reply_json(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0,
    int status, const char *key, const char *result, const json_t *body);
/* A body of the given content type (b is borrowed and drained). */
void jf_reply_text(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0,
    int status, const char *ctype, struct evbuffer *b, const char *result);
/* Count and log a request whose answer is written some other way (an
 * event stream that ended). */
void jf_reply_finish(jf_reply_t *rp, struct evhttp_request *req, int route, uint64_t t0,
    int status, const char *key, const char *result, size_t bytes);

#endif
