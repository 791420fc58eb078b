/*
 * conn.c - a filtering bufferevent in front of evhttp for every client
 * connection (see conn.h for why): strict head parsing, the verdict
 * before the body, the global body budget, the connection cap with fds
 * in reserve, and the deadlines.
 *
 * The filter passes the head through unchanged and then exactly
 * Content-Length bytes, so it and evhttp always agree on where a request
 * ends: anything evhttp would read differently (folded lines, a body on
 * a method that has none, Transfer-Encoding, an empty first line) is
 * refused here first.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "master/conn.h"

enum { ST_HEAD, ST_BODY, ST_REJECTED };

typedef struct conn {
	TAILQ_ENTRY(conn) link;         /* oldest first */
	jf_conns_t *cs;
	struct bufferevent *bev;        /* the filter */
	int state;
	int gone;                       /* evicted or timed out: not counted */
	int over;                       /* accepted past the cap: 503 */
	int pending;                    /* requests passed on, not yet complete */
	uint64_t body_left;             /* body bytes still to pass */
	uint64_t body_len, body_seen;
	uint64_t held;                  /* body bytes reserved */
	uint64_t t_open, t_head, t_body; /* ns */
	size_t scanned;                 /* head bytes already searched */
	struct evbuffer_cb_entry *outcb; /* an answer was queued */
	struct event *wev;              /* the socket may take bytes */
} conn_t;

struct jf_conns {
	jf_conns_opts_t o;
	TAILQ_HEAD(conns_q, conn) all;
	int open;
	uint64_t held;
	struct event *sweep;
	int reserve_fd;
	uint64_t rejected, evicted, timed_out, accept_failed;
};

static const struct {
	int status;
	const char *msg;
} reasons[JF_REJ__N] = {
	[JF_REJ_NONE] = { 200, "ok" },
	[JF_REJ_HEAD] = { 400, "malformed request head" },
	[JF_REJ_HEAD_BIG] = { 400, "request head too large" },
	[JF_REJ_NUL] = { 400, "a NUL byte in the request head" },
	[JF_REJ_FOLD] = { 400, "folded header lines are not accepted" },
	[JF_REJ_DUP_CL] = { 400, "duplicate or conflicting Content-Length" },
	[JF_REJ_BAD_CL] = { 400, "Content-Length is not a number" },
	[JF_REJ_DUP_AUTH] = { 400, "duplicate Authorization" },
	[JF_REJ_TE] = { 411, "Transfer-Encoding is not accepted; send Content-Length" },
	[JF_REJ_BODY_METHOD] = { 400, "a body on a method that takes none" },
	[JF_REJ_TOOBIG] = { 413, "request body over the limit" },
	[JF_REJ_NOTOKEN] = { 401, "a bearer token is required" },
	[JF_REJ_BADTOKEN] = { 401, "unknown token" },
	[JF_REJ_SCOPE] = { 403, "the token lacks the scope this needs" },
	[JF_REJ_METHOD] = { 405, "method not allowed" },
	[JF_REJ_NOTFOUND] = { 404, "no such endpoint" },
	[JF_REJ_BODY_BUSY] = { 503, "too many request bodies in flight; retry" },
	[JF_REJ_CONN_BUSY] = { 503, "too many connections; retry" },
};

int
jf_conn_reject_status(int r)
{
	return r > 0 && r < JF_REJ__N ? reasons[r].status : 400;
}

const char *
jf_conn_reject_message(int r)
{
	return r > 0 && r < JF_REJ__N ? reasons[r].msg : "bad request";
}

/* --- head parsing ----------------------------------------------------------- */

static int
name_is(const char *line, size_t nlen, const char *name)
{
	return strlen(name) == nlen && strncasecmp(line, name, nlen) == 0;
}

static int
method_has_body(const char *m)
{
	return strcmp(m, "POST") == 0;
}

/* Parse the head in buf (len bytes, lines ended by LF or CRLF, the last
 * an empty line) into h; JF_REJ_NONE or why not. Modifies buf. */
static int
head_parse(char *buf, size_t len, uint64_t max_body, jf_conn_head_t *h)
{
	char *p = buf, *end = buf + len, *line, *nl, *sp1, *sp2, *q;
	int ncl = 0, nauth = 0, te = 0, first = 1;

	memset(h, 0, sizeof(*h));
	if (memchr(buf, '\0', len) != NULL)
		return JF_REJ_NUL;
	while (p < end) {
		size_t ll;

		line = p;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return JF_REJ_HEAD;
		p = nl + 1;
		if (nl > line && nl[-1] == '\r')
			nl--;
		*nl = '\0';
		ll = (size_t)(nl - line);
		if (first) {
			first = 0;
			if ((sp1 = strchr(line, ' ')) == NULL || (sp2 = strchr(sp1 + 1, ' ')) == NULL ||
			    strchr(sp2 + 1, ' ') != NULL || sp1 == line || sp2 == sp1 + 1)
				return JF_REJ_HEAD;
			*sp1 = *sp2 = '\0';
			h->method = line;
			h->path = sp1 + 1;
			if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
				return JF_REJ_HEAD;
			if ((q = strchr(sp1 + 1, '?')) != NULL)
				*q = '\0';
			continue;
		}
		if (ll == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t')
			return JF_REJ_FOLD;
		{
			char *colon = strchr(line, ':'), *v;
			size_t nlen;

			if (colon == NULL || colon == line)
				return JF_REJ_HEAD;
			nlen = (size_t)(colon - line);
			if (memchr(line, ' ', nlen) != NULL || memchr(line, '\t', nlen) != NULL)
				return JF_REJ_HEAD;
			v = colon + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			for (q = v + strlen(v); q > v && (q[-1] == ' ' || q[-1] == '\t'); q--)
				q[-1] = '\0';
			if (name_is(line, nlen, "Content-Length")) {
				char *e;
				unsigned long long n;

				if (ncl++ > 0)
					return JF_REJ_DUP_CL;
				if (*v < '0' || *v > '9')
					return JF_REJ_BAD_CL;
				errno = 0;
				n = strtoull(v, &e, 10);
				if (errno != 0 || *e != '\0')
					return JF_REJ_BAD_CL;
				h->content_length = n;
			} else if (name_is(line, nlen, "Authorization")) {
				if (nauth++ > 0)
					return JF_REJ_DUP_AUTH;
				h->authz = v;
			} else if (name_is(line, nlen, "Transfer-Encoding")) {
				te = 1;
			}
		}
	}
	if (h->method == NULL)
		return JF_REJ_HEAD;
	if (te)
		return ncl > 0 ? JF_REJ_DUP_CL : JF_REJ_TE;
	h->has_body = h->content_length > 0;
	if (h->has_body && !method_has_body(h->method))
		return JF_REJ_BODY_METHOD;
	if (h->content_length > max_body)
		return JF_REJ_TOOBIG;
	if (strncmp(h->path, JF_CONN_REJECT_PATH, strlen(JF_CONN_REJECT_PATH)) == 0)
		return JF_REJ_NOTFOUND;
	return JF_REJ_NONE;
}

/* --- the filter ---------------------------------------------------------------- */

static void
release(conn_t *k)
{
	jf_conns_t *cs = k->cs;
	uint64_t n = k->held;

	if (n == 0)
		return;
	cs->held -= n;
	k->held = 0;
	/* a large body went back: hand the pages back to the OS */
	if (n >= (1u << 20))
		malloc_trim(0);
}

static void
reject(conn_t *k, struct evbuffer *src, struct evbuffer *dst, int reason, int route)
{
	k->cs->rejected++;
	k->state = ST_REJECTED;
	evbuffer_drain(src, evbuffer_get_length(src));
	evbuffer_add_printf(dst, "GET %s%d/%d HTTP/1.1\r\nHost: jitfarm\r\n"
	    "Connection: close\r\n\r\n", JF_CONN_REJECT_PATH, reason, route);
	k->pending++;
}

/* A complete head of hl bytes is at the front of src. */
static void
head_done(conn_t *k, struct evbuffer *src, struct evbuffer *dst, size_t hl)
{
	jf_conns_t *cs = k->cs;
	jf_conn_head_t h;
	char *buf = jf_xmalloc(hl + 1);
	int r, route = -1;

	evbuffer_copyout(src, buf, hl);
	buf[hl] = '\0';
	r = k->over ? JF_REJ_CONN_BUSY : head_parse(buf, hl, cs->o.max_request_bytes, &h);
	if (r == JF_REJ_NONE)
		r = cs->o.verdict(cs->o.verdict_arg, &h, &route);
	if (r == JF_REJ_NONE && h.has_body) {
		if (cs->held + h.content_length > cs->o.max_body_held)
			r = JF_REJ_BODY_BUSY;
		else {
			cs->held += h.content_length;
			k->held += h.content_length;
		}
	}
	jf_free(buf);
	if (r != JF_REJ_NONE) {
		jf_debug("msg=\"request refused before its body\" reason=%d", r);
		reject(k, src, dst, r, route < 0 ? 0 : route);
		return;
	}
	evbuffer_remove_buffer(src, dst, hl);
	k->pending++;
	k->scanned = 0;
	k->t_body = jf_now_ns();
	if (h.has_body) {
		k->state = ST_BODY;
		k->body_left = k->body_len = h.content_length;
		k->body_seen = 0;
	}
}

/* The end of the head in src, or 0 while it is incomplete. */
static size_t
head_end(conn_t *k, struct evbuffer *src)
{
	struct evbuffer_ptr pos;
	size_t eol_len;
	size_t start = k->scanned;

	for (;;) {
		if (evbuffer_ptr_set(src, &pos, start, EVBUFFER_PTR_SET) != 0)
			return 0;
		pos = evbuffer_search_eol(src, &pos, &eol_len, EVBUFFER_EOL_CRLF);
		if (pos.pos < 0)
			return 0;
		if ((size_t)pos.pos == start && start > 0)
			return (size_t)pos.pos + eol_len;
		if ((size_t)pos.pos == 0 && start == 0)
			return (size_t)-1;      /* an empty first line */
		start = (size_t)pos.pos + eol_len;
		k->scanned = start;
	}
}

static enum bufferevent_filter_result
filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	conn_t *k = arg;
	jf_conns_t *cs = k->cs;

	(void)limit;
	(void)mode;
	while (evbuffer_get_length(src) > 0) {
		if (k->state == ST_REJECTED) {
			evbuffer_drain(src, evbuffer_get_length(src));
			break;
		}
		if (k->state == ST_BODY) {
			size_t n = evbuffer_get_length(src);

			if (n > k->body_left)
				n = (size_t)k->body_left;
			evbuffer_remove_buffer(src, dst, n);
			k->body_left -= n;
			k->body_seen += n;
			if (k->body_left == 0) {
				k->state = ST_HEAD;
				k->t_head = 0;
			}
			continue;
		}
		/* ST_HEAD */
		if (k->t_head == 0)
			k->t_head = jf_now_ns();
		{
			size_t hl = head_end(k, src);

			if (hl == (size_t)-1) {
				reject(k, src, dst, JF_REJ_HEAD, 0);
			} else if (hl == 0) {
				if (evbuffer_get_length(src) > cs->o.max_header_bytes)
					reject(k, src, dst, JF_REJ_HEAD_BIG, 0);
				break;
			} else if (hl > cs->o.max_header_bytes) {
				reject(k, src, dst, JF_REJ_HEAD_BIG, 0);
			} else {
				head_done(k, src, dst, hl);
			}
		}
	}
	/* BEV_OK with bytes left would run the filter again at once */
	return evbuffer_get_length(src) > 0 ? BEV_NEED_MORE : BEV_OK;
}

/* The socket may take bytes: run the filter's output again, unless evhttp
 * has already freed the filter (bufferevent_free clears its callbacks;
 * its destruction, which frees this conn, may come later). */
static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	conn_t *k = arg;
	bufferevent_data_cb r = NULL, w = NULL;
	bufferevent_event_cb e = NULL;

	(void)fd;
	(void)what;
	bufferevent_getcb(k->bev, &r, &w, &e, NULL);
	if (r == NULL && w == NULL && e == NULL)
		return;
	bufferevent_flush(k->bev, EV_WRITE, BEV_FLUSH);
}

/* Wake the output filter on the next loop turn: evhttp queues an answer
 * before it enables writing, and a 2.1 filter does not process its
 * output when writing is enabled later. (A deferred trigger on the socket
 * bufferevent would do, but 2.1 finalizes a bufferevent twice when one is
 * pending as it is freed.) */
static void
on_out_added(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	conn_t *k = arg;
	evutil_socket_t fd;

	(void)b;
	if (info->n_added == 0 || (fd = bufferevent_getfd(k->bev)) < 0)
		return;
	if (k->wev == NULL &&
	    (k->wev = event_new(k->cs->o.base, fd, EV_WRITE, on_writable, k)) == NULL)
		return;
	event_add(k->wev, NULL);
}

/*
 * Answers go straight to the socket, never into the socket bufferevent's
 * output: evhttp frees a connection (and shuts its socket down) as soon
 * as the filter's output is empty, so bytes left below the filter would
 * be lost. When the socket is full, one byte goes below, and the socket
 * bufferevent's write callback (it wrote that byte) runs the filter again;
 * bytes are written directly only while nothing waits below, so the
 * order holds, and the filter's output is empty only when all is sent.
 */
static enum bufferevent_filter_result
filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	conn_t *k = arg;
	evutil_socket_t fd = bufferevent_getfd(k->bev);

	(void)limit;
	(void)mode;
	if (fd < 0)
		return BEV_ERROR;
	if (evbuffer_get_length(dst) > 0)
		return BEV_NEED_MORE;
	while (evbuffer_get_length(src) > 0) {
		if (evbuffer_write(src, fd) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return BEV_ERROR;
			evbuffer_remove_buffer(src, dst, 1);
			return evbuffer_get_length(src) > 0 ? BEV_NEED_MORE : BEV_OK;
		}
	}
	return BEV_OK;
}

static void
conn_free(void *arg)
{
	conn_t *k = arg;
	jf_conns_t *cs = k->cs;

	if (k->wev != NULL)
		event_free(k->wev);
	if (k->outcb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(k->bev), k->outcb);
	release(k);
	if (!k->gone)
		cs->open--;
	TAILQ_REMOVE(&cs->all, k, link);
	jf_free(k);
}

/* Cut a connection off: evhttp sees EOF and frees it. */
static void
conn_kill(conn_t *k)
{
	int fd = (int)bufferevent_getfd(k->bev);

	if (!k->gone) {
		k->gone = 1;
		k->cs->open--;
	}
	if (fd >= 0)
		(void)shutdown(fd, SHUT_RDWR);
}

/* Idle: no request passed on and none half-read. */
static int
conn_idle(const conn_t *k)
{
	return !k->gone && k->pending == 0 && k->state == ST_HEAD && k->t_head == 0;
}

static struct bufferevent *
on_bev(struct event_base *base, void *arg)
{
	jf_conns_t *cs = arg;
	struct bufferevent *sock, *f;
	conn_t *k, *v;

	if ((sock = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	k = jf_xcalloc(1, sizeof(*k));
	k->cs = cs;
	k->t_open = jf_now_ns();
	if ((f = bufferevent_filter_new(sock, filter_in, filter_out, BEV_OPT_CLOSE_ON_FREE, conn_free,
	    k)) == NULL) {
		bufferevent_free(sock);
		jf_free(k);
		return NULL;
	}
	k->bev = f;
	k->outcb = evbuffer_add_cb(bufferevent_get_output(f), on_out_added, k);
	if (cs->open >= cs->o.max_connections) {
		/* make room: the oldest connection still sending its head, else
		 * the oldest with nothing in flight */
		TAILQ_FOREACH(v, &cs->all, link)
			if (!v->gone && v->pending == 0 && v->state == ST_HEAD && v->t_head != 0)
				break;
		if (v == NULL)
			TAILQ_FOREACH(v, &cs->all, link)
				if (conn_idle(v))
					break;
		if (v != NULL) {
			cs->evicted++;
			conn_kill(v);
		} else {
			k->over = 1;
		}
	}
	cs->open++;
	TAILQ_INSERT_TAIL(&cs->all, k, link);
	return f;
}

/* --- deadlines ------------------------------------------------------------------ */

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	jf_conns_t *cs = arg;
	uint64_t now = jf_now_ns(), s = 1000000000ull;
	conn_t *k;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(k, &cs->all, link) {
		int cut = 0;

		if (k->gone)
			continue;
		if (k->state == ST_REJECTED || k->over)
			cut = now - k->t_open > 10 * s;
		else if (k->state == ST_HEAD && k->t_head != 0)
			cut = now - k->t_head > (uint64_t)cs->o.head_timeout_s * s;
		else if (k->state == ST_BODY) {
			uint64_t el = now - k->t_head;

			cut = el > (uint64_t)cs->o.request_timeout_s * s ||
			    (now - k->t_body > 2 * s &&
			    k->body_seen < cs->o.min_rate * ((now - k->t_body) / s - 1));
		} else if (k->pending == 0)
			cut = now - k->t_open > (uint64_t)cs->o.idle_timeout_s * s &&
			    k->t_head == 0 && cs->open * 2 > cs->o.max_connections;
		if (cut) {
			cs->timed_out++;
			jf_debug("msg=\"connection cut off\" state=%d", k->state);
			conn_kill(k);
		}
	}
}

/* --- accept failures ------------------------------------------------------------- */

static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
	jf_conns_t *cs = arg;
	int e = errno, fd, n;

	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
		return;
	cs->accept_failed++;
	/* accept and close what waits, with the one fd kept for this, so the
	 * listener's level-triggered event does not fire again at once */
	for (n = 0; n < 64; n++) {
		if (cs->reserve_fd >= 0) {
			close(cs->reserve_fd);
			cs->reserve_fd = -1;
		}
		fd = accept(evconnlistener_get_fd(lev), NULL, NULL);
		if (fd >= 0) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
			    "Content-Type: application/json\r\nRetry-After: 1\r\n"
			    "Connection: close\r\nContent-Length: 57\r\n\r\n"
			    "{\"error\":\"busy\",\"message\":\"too many connections; retry\"}";

			(void)!write(fd, busy, sizeof(busy) - 1);
			close(fd);
		}
		cs->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;
	}
	jf_warn("msg=\"accept failed: out of fds\" err=\"%s\" open=%d", strerror(e), cs->open);
}

void
jf_conns_watch_listener(jf_conns_t *cs, struct evconnlistener *lev)
{
	if (cs != NULL && lev != NULL)
		evconnlistener_set_error_cb(lev, on_accept_error);
}

/* --- requests --------------------------------------------------------------------- */

static conn_t *
conn_of(jf_conns_t *cs, struct evhttp_request *req)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	struct bufferevent *bev = con != NULL ? evhttp_connection_get_bufferevent(con) : NULL;
	conn_t *k;

	if (bev == NULL)
		return NULL;
	TAILQ_FOREACH_REVERSE(k, &cs->all, conns_q, link)
		if (k->bev == bev)
			return k;
	return NULL;
}

void
jf_conns_request_done(jf_conns_t *cs, struct evhttp_request *req)
{
	conn_t *k = cs != NULL ? conn_of(cs, req) : NULL;

	if (k != NULL && k->pending > 0 && --k->pending == 0 && k->state != ST_BODY)
		release(k);
}

/* --- life --------------------------------------------------------------------------- */

int
jf_conns_create(const jf_conns_opts_t *o, jf_conns_t **out)
{
	jf_conns_t *cs = jf_xcalloc(1, sizeof(*cs));
	struct rlimit rl;
	struct timeval tv = { 1, 0 };

	cs->o = *o;
	TAILQ_INIT(&cs->all);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		long fit = (long)rl.rlim_cur - cs->o.fd_reserve;

		if (fit < 8)
			fit = 8;
		if (cs->o.max_connections <= 0 || cs->o.max_connections > fit)
			cs->o.max_connections = (int)fit;
	}
	if (cs->o.max_connections <= 0)
		cs->o.max_connections = 1024;
	cs->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if ((cs->sweep = event_new(o->base, -1, EV_PERSIST, on_sweep, cs)) == NULL ||
	    event_add(cs->sweep, &tv) != 0) {
		jf_conns_free(cs);
		return -1;
	}
	*out = cs;
	return 0;
}

void
jf_conns_attach(jf_conns_t *cs, struct evhttp *http)
{
	evhttp_set_bevcb(http, on_bev, cs);
}

void
jf_conns_get_stats(const jf_conns_t *cs, jf_conns_stats_t *st)
{
	memset(st, 0, sizeof(*st));
	if (cs == NULL)
		return;
	st->open = cs->open;
	st->max = cs->o.max_connections;
	st->body_held = cs->held;
	st->body_max = cs->o.max_body_held;
	st->rejected = cs->rejected;
	st->evicted = cs->evicted;
	st->timed_out = cs->timed_out;
	st->accept_failed = cs->accept_failed;
}

/* After evhttp_free: the connections are gone. */
void
jf_conns_free(jf_conns_t *cs)
{
	if (cs == NULL)
		return;
	if (cs->sweep != NULL)
		event_free(cs->sweep);
	if (cs->reserve_fd >= 0)
		close(cs->reserve_fd);
	jf_free(cs);
}
