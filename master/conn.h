/*
 * conn.h - every client connection of the master, before evhttp sees it.
 *
 * libevent 2.1 has no server hook between the request head and its body
 * (evhttp_set_newreqcb came in 2.2; evhttp_request_set_header_cb serves
 * outgoing requests only), and evhttp reads the whole body, up to
 * evhttp_set_max_body_size, before the request callback runs. So each
 * connection is a filtering bufferevent (evhttp_set_bevcb) over the
 * socket: the filter reads each request head first, checks it strictly,
 * asks the caller's verdict (route, method, token), reserves the body's
 * bytes against a global cap, and only then passes the head and exactly
 * Content-Length body bytes on to evhttp. A refused request never reaches
 * evhttp: the filter hands evhttp a synthetic request for a reserved path
 * instead (JF_CONN_REJECT_PATH), whose callback answers the error as JSON
 * with Connection: close, and discards the refused request's bytes.
 *
 * It also caps connections below the fd limit (keeping fds in reserve),
 * evicts the oldest connection that has no request in flight when a new
 * one needs its place, enforces a deadline on every head and request and
 * a minimum rate on every body, and keeps the listener from spinning when
 * accept() fails for want of fds.
 */
#ifndef JF_MASTER_CONN_H
#define JF_MASTER_CONN_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evhttp;
struct evhttp_request;
struct evconnlistener;

/* Why a request was refused before evhttp saw it. */
enum {
	JF_REJ_NONE = 0,
	JF_REJ_HEAD,            /* 400 malformed head */
	JF_REJ_HEAD_BIG,        /* 400 head over --max-header-bytes */
	JF_REJ_NUL,             /* 400 a NUL in the head */
	JF_REJ_FOLD,            /* 400 an obsolete folded header line */
	JF_REJ_DUP_CL,          /* 400 duplicate or conflicting Content-Length */
	JF_REJ_BAD_CL,          /* 400 Content-Length not a number */
	JF_REJ_DUP_AUTH,        /* 400 duplicate Authorization */
	JF_REJ_TE,              /* 411 Transfer-Encoding (bodies need a length) */
	JF_REJ_BODY_METHOD,     /* 400 a body on a method without one */
	JF_REJ_TOOBIG,          /* 413 body over --max-request-bytes */
	JF_REJ_NOTOKEN,         /* 401 no bearer token */
	JF_REJ_BADTOKEN,        /* 401 unknown token */
	JF_REJ_SCOPE,           /* 403 token lacks the route's scope */
	JF_REJ_METHOD,          /* 405 method not allowed on the route */
	JF_REJ_NOTFOUND,        /* 404 no such endpoint (the reserved path) */
	JF_REJ_BODY_BUSY,       /* 503 the global body budget is spent */
	JF_REJ_CONN_BUSY,       /* 503 too many connections */
	JF_REJ__N
};

/* The reserved path of synthetic requests: /.jf-reject/REASON/ROUTE. A
 * client's own request for it is refused by the filter (404). */
#define JF_CONN_REJECT_PATH "/.jf-reject/"

/* What the filter read from one request head. */
typedef struct jf_conn_head {
	const char *method;             /* as sent, NUL-terminated */
	const char *path;               /* without the query */
	const char *authz;              /* Authorization value or NULL */
	uint64_t content_length;
	int has_body;
} jf_conn_head_t;

/* The caller's verdict on a head: JF_REJ_NONE or a reason; *route gets
 * the route (for metrics and the Allow header of a 405). */
typedef int (*jf_conn_verdict_fn)(void *arg, const jf_conn_head_t *h, int *route);

typedef struct jf_conns_opts {
	struct event_base *base;
	jf_conn_verdict_fn verdict;
	void *verdict_arg;
	size_t max_header_bytes;
	uint64_t max_request_bytes;
	uint64_t max_body_held;         /* bytes of bodies held at once */
	int max_connections;            /* cap; lowered to fit the fd limit */
	int fd_reserve;                 /* fds kept free for the rest of the daemon */
	int head_timeout_s;             /* a head must arrive within this */
	int request_timeout_s;          /* head + body within this */
	int idle_timeout_s;             /* a connection without a request */
	uint64_t min_rate;              /* body bytes/s after the first second */
} jf_conns_opts_t;

typedef struct jf_conns jf_conns_t;

int jf_conns_create(const jf_conns_opts_t *o, jf_conns_t **out);
/* Install the filter on http. */
void jf_conns_attach(jf_conns_t *c, struct evhttp *http);
/* Keep lev from spinning when accept() fails with EMFILE/ENFILE. */
void jf_conns_watch_listener(jf_conns_t *c, struct evconnlistener *lev);
/* The answer to req was fully written: the body's reservation of its
 * connection is released once no request of it is in flight. */
void jf_conns_request_done(jf_conns_t *c, struct evhttp_request *req);
void jf_conns_free(jf_conns_t *c);

/* Status and message of a reason. */
int jf_conn_reject_status(int reason);
const char *jf_conn_reject_message(int reason);

typedef struct jf_conns_stats {
	int open, max;
	uint64_t body_held, body_max;
	uint64_t rejected, evicted, timed_out, accept_failed;
} jf_conns_stats_t;
void jf_conns_get_stats(const jf_conns_t *c, jf_conns_stats_t *st);

#endif
