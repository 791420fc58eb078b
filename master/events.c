/*
 * events.c - GET /v1/events: the store's change feed as server-sent
 * events.
 *
 * The feed is the store's own watch/cursor (file journal, Redis stream),
 * not something this master keeps: every master watching the same store
 * sees the same entries in the same order with the same cursors, and an
 * event's SSE id *is* the store cursor just after it. A client that
 * reconnects (to this master after a restart, or to another one) with
 * Last-Event-ID resumes exactly there.
 *
 * One watcher thread per master follows the feed from the position it
 * had at start-up, reads each new entry's manifest (jf_blob_peek) to build
 * the event's JSON summary, and posts batches to the loop, which keeps the
 * last RING events and writes each to every live stream. A client whose
 * Last-Event-ID is in the ring is served from it; an older one is caught
 * up from the store by store-thread jobs (watch with no wait, a batch at
 * a time) until it reaches a cursor the ring holds, then goes live.
 * Delivery is at least once: around the hand-over an event may repeat,
 * and clients dedupe by key (artifacts are immutable). If the store
 * trimmed the client's position away, it gets one "resync" event and
 * should re-list.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/mem.h"
#include "common/log.h"
#include "common/util.h"
#include "master/master.h"

#define RING 1024
#define BATCH_MAX 512
#define KEEPALIVE_S 10
#define SUMMARY_MAX 4096
#define BACKLOG_MAX (4u << 20)          /* unread bytes before a stream is dropped */

typedef struct evrec {
	char cursor[JF_CURSOR_MAX];
	char *json;                     /* owned */
} evrec_t;

/* A batch of events from a watch, handed from a thread to the loop. */
typedef struct batch {
	jf_master_t *ms;
	evrec_t *e;
	size_t n, cap;
	int res;                        /* result of the watch (catch-up) */
	struct client *c;               /* catch-up: the client it is for */
	char cursor[JF_CURSOR_MAX];     /* catch-up: where it started/ended */
} batch_t;

typedef struct client {
	jf_master_t *ms;
	struct evhttp_request *req;
	struct evhttp_connection *con;
	uint64_t t0;
	int live;                       /* getting ring broadcasts */
	int catching;                   /* a catch-up job is running */
	int dead;                       /* connection gone while catching up */
	int slow;                       /* not reading: to be dropped */
	char cursor[JF_CURSOR_MAX];     /* last id sent */
	struct client *next;
} client_t;

struct jf_events {
	pthread_t th;
	int started;
	atomic_int stop;
	char start_cursor[JF_CURSOR_MAX];
	evrec_t ring[RING];
	unsigned head, count;           /* next slot, entries held */
	client_t *clients;
	unsigned nclients;
	struct event *keepalive;
	int unsupported;
};

/* --- building events (any thread) ------------------------------------------- */

static void
batch_free(batch_t *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++)
		free(b->e[i].json);
	free(b->e);
	free(b);
}

static int
batch_add_key(const jf_key_t *key, const char *cursor, void *arg)
{
	batch_t *b = arg;
	char hex[JF_KEY_HEX_LEN + 1];

	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		evrec_t *ne = realloc(b->e, nc * sizeof(*ne));

		if (ne == NULL)
			return JF_ERR_NOMEM;
		b->e = ne;
		b->cap = nc;
	}
	jf_key_hex(key, hex);
	/* the key only, for now: the summary is filled in after the watch */
	if ((b->e[b->n].json = strdup(hex)) == NULL)
		return JF_ERR_NOMEM;
	jf_strlcpy(b->e[b->n].cursor, cursor, sizeof(b->e[b->n].cursor));
	b->n++;
	return b->n >= BATCH_MAX ? 1 : 0;
}

/* Replace each bare key with its JSON summary from the manifest. */
static void
batch_summarise(jf_store_t *s, batch_t *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		char *js = malloc(SUMMARY_MAX), hex[JF_KEY_HEX_LEN + 1], ns[2 * JF_NS_MAX];
		char prod[256], pid[JF_KEY_HEX_LEN + 1], err[128];
		jf_manifest_t m;
		jf_key_t k;
		uint8_t *blob = NULL;
		size_t len = 0, j;
		int n;

		if (js == NULL)
			continue;
		jf_strlcpy(hex, b->e[i].json, sizeof(hex));
		if (jf_key_from_hex(hex, &k) != 0 || jf_store_get_raw(s, &k, &blob, &len) != 0 ||
		    jf_blob_peek(blob, len, &m, err, sizeof(err)) != 0) {
			/* deleted since, or unreadable: the key alone */
			snprintf(js, SUMMARY_MAX, "{\"key\":\"%s\"}", hex);
			jf_free(blob);
			free(b->e[i].json);
			b->e[i].json = js;
			continue;
		}
		jf_json_escape(m.ns, ns, sizeof(ns));
		jf_json_escape(m.producer, prod, sizeof(prod));
		jf_key_hex(&m.program_id, pid);
		n = snprintf(js, SUMMARY_MAX, "{\"key\":\"%s\",\"namespace\":\"%s\",\"program\":\"%s\","
		    "\"triple\":\"%s\",\"cpu\":\"%s\",\"opt\":\"%c\",\"size\":%zu,"
		    "\"payload_size\":%llu,\"compile_ms\":%.3f,\"created_ms\":%llu,"
		    "\"producer\":\"%s\",\"symbols\":[", hex, ns, pid, m.target.triple, m.target.cpu,
		    m.target.opt ? m.target.opt : '?', len, (unsigned long long)m.payload_size,
		    (double)m.compile_ns / 1e6, (unsigned long long)m.created_ms, prod);
		for (j = 0; j < m.nsymbols && j < 32 && n > 0 && n < SUMMARY_MAX - 300; j++) {
			char sym[200];

			jf_json_escape(m.symbols[j], sym, sizeof(sym));
			n += snprintf(js + n, (size_t)(SUMMARY_MAX - n), "%s\"%s\"", j ? "," : "", sym);
		}
		if (n > 0 && n < SUMMARY_MAX - 8)
			snprintf(js + n, (size_t)(SUMMARY_MAX - n), "]}");
		jf_manifest_free(&m);
		jf_free(blob);
		free(b->e[i].json);
		b->e[i].json = js;
	}
}

/* --- the loop side ------------------------------------------------------------- */

static void
client_send(client_t *c, const evrec_t *e)
{
	struct evbuffer *b;

	struct bufferevent *bev;

	if (c->dead || c->slow || (b = evbuffer_new()) == NULL)
		return;
	/* a client that stops reading must not make the master buffer the
	 * feed for it without bound */
	if (c->con != NULL && (bev = evhttp_connection_get_bufferevent(c->con)) != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > BACKLOG_MAX) {
		c->slow = 1;
		evbuffer_free(b);
		return;
	}
	evbuffer_add_printf(b, "id: %s\nevent: artifact\ndata: %s\n\n", e->cursor, e->json);
	evhttp_send_reply_chunk(c->req, b);
	evbuffer_free(b);
	jf_strlcpy(c->cursor, e->cursor, sizeof(c->cursor));
	c->ms->m.events_sent++;
}

static void
client_unlink(jf_events_t *ev, client_t *c)
{
	client_t **pp;

	for (pp = &ev->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			ev->nclients--;
			return;
		}
}

/* The client's connection went away. */
static void
on_client_close(struct evhttp_connection *con, void *arg)
{
	client_t *c = arg;
	jf_master_t *ms = c->ms;

	client_unlink(ms->ev, c);
	jf_reply_finish(ms, c->req, JF_ROUTE_EVENTS, c->t0, 200, NULL, "closed", 0);
	/* a detached request is ours to finish; it frees it */
	if (evhttp_request_get_connection(c->req) == NULL && !ms->closing)
		evhttp_send_reply_end(c->req);
	if (c->catching)
		c->dead = 1;            /* the catch-up job frees it */
	else
		free(c);
}

/* Index of cursor in the ring (0 = oldest), or -1. */
static int
ring_find(jf_events_t *ev, const char *cursor)
{
	unsigned i;

	for (i = 0; i < ev->count; i++) {
		unsigned slot = (ev->head + RING - ev->count + i) % RING;

		if (strcmp(ev->ring[slot].cursor, cursor) == 0)
			return (int)i;
	}
	return -1;
}

static void
ring_send_after(jf_events_t *ev, client_t *c, int idx)
{
	unsigned i;

	for (i = (unsigned)(idx + 1); i < ev->count; i++)
		client_send(c, &ev->ring[(ev->head + RING - ev->count + i) % RING]);
}

static void catchup_start(client_t *c);

/* Close the streams of clients that stopped reading. Freeing the
 * connection runs on_client_close, which unlinks and frees the client,
 * so the list is walked again from the start after each one. */
static void
drop_slow(jf_master_t *ms)
{
	client_t *c;
	int again = 1;

	while (again) {
		again = 0;
		for (c = ms->ev->clients; c != NULL; c = c->next)
			if (c->slow && !c->catching) {
				jf_warn("msg=\"dropping an event stream that stopped reading\"");
				evhttp_connection_free(c->con);
				again = 1;
				break;
			}
	}
}

/* New events from the watcher: into the ring and out to live clients. */
static void
on_watch_batch(void *arg)
{
	batch_t *b = arg;
	jf_master_t *ms = b->ms;
	jf_events_t *ev = ms->ev;
	client_t *c;
	size_t i;

	if (ms->closing || ev == NULL) {
		batch_free(b);
		return;
	}
	for (i = 0; i < b->n; i++) {
		evrec_t *slot = &ev->ring[ev->head];

		free(slot->json);
		*slot = b->e[i];        /* the ring now owns the json */
		b->e[i].json = NULL;
		ev->head = (ev->head + 1) % RING;
		if (ev->count < RING)
			ev->count++;
		for (c = ev->clients; c != NULL; c = c->next)
			if (c->live)
				client_send(c, slot);
	}
	b->n = 0;
	batch_free(b);
	drop_slow(ms);
}

static void
catchup_job(jf_store_t *s, void *arg)
{
	batch_t *b = arg;

	b->res = jf_store_watch(s, b->cursor, sizeof(b->cursor), 0, batch_add_key, b);
	if (b->res == 1)
		b->res = 0;     /* stopped at BATCH_MAX: more to come */
	if (b->res == JF_ERR_TIMEOUT)
		b->res = 0;
	batch_summarise(s, b);
}

static void
catchup_done(void *arg)
{
	batch_t *b = arg;
	client_t *c = b->c;
	jf_master_t *ms = b->ms;
	jf_events_t *ev = ms->ev;
	size_t i;
	int idx;

	c->catching = 0;
	if (c->dead || ms->closing) {
		free(c);
		batch_free(b);
		return;
	}
	if (b->res == JF_ERR_RESYNC || (b->res != 0 && b->res != JF_ERR_CLOSED)) {
		struct evbuffer *o = evbuffer_new();

		if (o != NULL) {
			evbuffer_add_printf(o, "event: resync\ndata: {\"error\":\"%s\"}\n\n",
			    jf_errname(b->res));
			evhttp_send_reply_chunk(c->req, o);
			evbuffer_free(o);
		}
		c->live = 1;
		batch_free(b);
		return;
	}
	for (i = 0; i < b->n; i++)
		client_send(c, &b->e[i]);
	if ((idx = ring_find(ev, c->cursor)) >= 0) {
		ring_send_after(ev, c, idx);
		c->live = 1;
	} else if (b->n == 0) {
		/* at the store's end and the ring does not know it yet: the
		 * watcher delivers what follows */
		c->live = 1;
	} else {
		batch_free(b);
		catchup_start(c);
		return;
	}
	batch_free(b);
}

static void
catchup_start(client_t *c)
{
	batch_t *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		c->live = 1;
		return;
	}
	b->ms = c->ms;
	b->c = c;
	b->res = JF_ERR_CLOSED;
	jf_strlcpy(b->cursor, c->cursor, sizeof(b->cursor));
	c->catching = 1;
	if (jf_storeq_submit(c->ms->sq, catchup_job, catchup_done, b) != 0) {
		c->catching = 0;
		c->live = 1;
		free(b);
	}
}

void
jf_events_serve(jf_master_t *ms, struct evhttp_request *req, uint64_t t0)
{
	jf_events_t *ev = ms->ev;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *last;
	client_t *c;
	int idx;

	if (ev == NULL || ev->unsupported) {
		jf_reply_error(ms, req, JF_ROUTE_EVENTS, t0, 501, JF_ERR_UNSUPPORTED, NULL,
		    "this store has no change feed");
		return;
	}
	if (ms->draining) {
		jf_reply_error(ms, req, JF_ROUTE_EVENTS, t0, 503, JF_ERR_CLOSED, NULL,
		    "the master is shutting down");
		return;
	}
	last = evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");
	if (last != NULL && (strlen(last) >= JF_CURSOR_MAX || strpbrk(last, "\r\n") != NULL)) {
		jf_reply_error(ms, req, JF_ROUTE_EVENTS, t0, 400, JF_ERR_INVAL, NULL,
		    "bad Last-Event-ID");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		jf_reply_error(ms, req, JF_ROUTE_EVENTS, t0, 503, JF_ERR_NOMEM, NULL, "out of memory");
		return;
	}
	c->ms = ms;
	c->req = req;
	c->t0 = t0;
	c->con = evhttp_request_get_connection(req);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_send_reply_start(req, 200, "OK");
	/* a stream idles for long stretches: keep-alives find dead peers */
	evhttp_connection_set_timeout(c->con, 0);
	evhttp_connection_set_closecb(c->con, on_client_close, c);
	c->next = ev->clients;
	ev->clients = c;
	ev->nclients++;
	if (last == NULL || *last == '\0') {
		/* from now on */
		c->live = 1;
		return;
	}
	jf_strlcpy(c->cursor, last, sizeof(c->cursor));
	if ((idx = ring_find(ev, last)) >= 0) {
		ring_send_after(ev, c, idx);
		c->live = 1;
		return;
	}
	catchup_start(c);
}

static void
on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	jf_master_t *ms = arg;
	client_t *c;

	for (c = ms->ev->clients; c != NULL; c = c->next) {
		struct evbuffer *b;

		if (c->slow || (b = evbuffer_new()) == NULL)
			continue;
		evbuffer_add_printf(b, ": keep-alive\n\n");
		evhttp_send_reply_chunk(c->req, b);
		evbuffer_free(b);
	}
	drop_slow(ms);
}

unsigned
jf_events_clients(jf_master_t *ms)
{
	return ms->ev != NULL ? ms->ev->nclients : 0;
}

/* --- the watcher thread ------------------------------------------------------- */

typedef struct wctx {
	jf_master_t *ms;
	jf_store_t *s;
} wctx_t;

static void *
watcher(void *arg)
{
	wctx_t *w = arg;
	jf_master_t *ms = w->ms;
	jf_events_t *ev = ms->ev;
	char cursor[JF_CURSOR_MAX];
	int r;

	jf_strlcpy(cursor, ev->start_cursor, sizeof(cursor));
	while (!atomic_load(&ev->stop)) {
		batch_t *b = calloc(1, sizeof(*b));

		if (b == NULL) {
			usleep(100000);
			continue;
		}
		b->ms = ms;
		r = jf_store_watch(w->s, cursor, sizeof(cursor), 500, batch_add_key, b);
		if (r == JF_ERR_RESYNC) {
			jf_warn("msg=\"change feed cursor lost; resuming at the end\" cursor=%s",
			    cursor);
			jf_store_cursor(w->s, cursor, sizeof(cursor));
		} else if (r < 0 && r != JF_ERR_TIMEOUT) {
			jf_warn("msg=\"store watch failed\" err=%s detail=\"%s\"", jf_errname(r),
			    jf_store_errstr(w->s));
			usleep(500000);
		}
		if (b->n == 0) {
			batch_free(b);
			continue;
		}
		batch_summarise(w->s, b);
		if (jf_storeq_post(ms->sq, on_watch_batch, b) != 0)
			batch_free(b);
	}
	jf_store_close(w->s);
	free(w);
	return NULL;
}

int
jf_events_start(jf_master_t *ms, char *err, size_t errlen)
{
	jf_events_t *ev;
	wctx_t *w = NULL;
	jf_store_opts_t so = { .read_only = 1 };
	struct timeval ka = { KEEPALIVE_S, 0 };
	int r;

	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
	ms->ev = ev;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
	w->ms = ms;
	if ((r = jf_store_open(ms->cfg.store_url, &so, &w->s, err, errlen)) != 0)
		goto fail;
	r = jf_store_cursor(w->s, ev->start_cursor, sizeof(ev->start_cursor));
	if (r == JF_ERR_UNSUPPORTED) {
		jf_warn("msg=\"store has no change feed; /v1/events disabled\" store=%s",
		    jf_store_scheme(w->s));
		ev->unsupported = 1;
		r = 0;
		goto fail;
	}
	if (r != 0) {
		r = jf_seterr(err, errlen, r, "cannot read the store's change-feed cursor: %s",
		    jf_store_errstr(w->s));
		goto fail;
	}
	if ((ev->keepalive = event_new(ms->base, -1, EV_PERSIST, on_keepalive, ms)) == NULL ||
	    event_add(ev->keepalive, &ka) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_SYSTEM, "cannot add the keep-alive timer");
		goto fail;
	}
	if ((errno = pthread_create(&ev->th, NULL, watcher, w)) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_SYSTEM, "pthread_create: %s", strerror(errno));
		goto fail;
	}
	ev->started = 1;
	return 0;
fail:
	if (w != NULL) {
		jf_store_close(w->s);
		free(w);
	}
	return r;
}

void
jf_events_close_all(jf_master_t *ms)
{
	jf_events_t *ev = ms->ev;
	client_t *c;

	if (ev == NULL)
		return;
	while ((c = ev->clients) != NULL) {
		ev->clients = c->next;
		ev->nclients--;
		evhttp_connection_set_closecb(c->con, NULL, NULL);
		jf_reply_finish(ms, c->req, JF_ROUTE_EVENTS, c->t0, 200, NULL, "closed", 0);
		evhttp_send_reply_end(c->req);
		if (c->catching)
			c->dead = 1;
		else
			free(c);
	}
}

void
jf_events_stop(jf_master_t *ms)
{
	jf_events_t *ev = ms->ev;
	unsigned i;

	if (ev == NULL)
		return;
	atomic_store(&ev->stop, 1);
	if (ev->started)
		pthread_join(ev->th, NULL);
	if (ev->keepalive != NULL)
		event_free(ev->keepalive);
	for (i = 0; i < RING; i++)
		free(ev->ring[i].json);
	free(ev);
	ms->ev = NULL;
}
