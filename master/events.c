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
#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "master/events.h"

#define RING 1024
#define BATCH_MAX 512
#define KEEPALIVE_S 10
#define BACKLOG_MAX (4u << 20)          /* unread bytes before a stream is dropped */

typedef struct evrec {
	char cursor[JF_CURSOR_MAX];
	jf_key_t key;
	char *json;                     /* owned (jf_free); NULL until summarised */
} evrec_t;

/* A batch of events from a watch, handed from a thread to the loop. */
typedef struct batch {
	jf_events_t *ev;
	evrec_t *e;
	size_t n, cap;
	int res;                        /* result of the watch (catch-up) */
	struct client *c;               /* catch-up: the client it is for */
	char cursor[JF_CURSOR_MAX];     /* catch-up: where it started/ended */
} batch_t;

typedef struct client {
	jf_events_t *ev;
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
	jf_events_opts_t o;
	jf_store_t *ws;                 /* the watcher's own handle */
	int draining, closing;
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
		jf_free(b->e[i].json);
	jf_free(b->e);
	jf_free(b);
}

static int
batch_add_key(const jf_key_t *key, const char *cursor, void *arg)
{
	batch_t *b = arg;

	evrec_t e;

	/* the key only, for now: the summary is filled in after the watch */
	memset(&e, 0, sizeof(e));
	e.key = *key;
	jf_strlcpy(e.cursor, cursor, sizeof(e.cursor));
	if (JF_VEC_PUSH(b->e, b->n, b->cap, e) != 0)
		return JF_ERR_NOMEM;
	return b->n >= BATCH_MAX ? 1 : 0;
}

/* The event's JSON for a manifest read from the store (hostile input:
 * every string goes through jansson, which escapes it). NULL when a
 * string is not valid UTF-8 or without memory. */
static json_t *
summary_json(const char *hex, const jf_manifest_t *m, size_t len)
{
	char pid[JF_KEY_HEX_LEN + 1], opt[2] = { m->target.opt ? m->target.opt : '?', 0 };
	json_t *j, *syms;
	size_t i;

	jf_key_hex(&m->program_id, pid);
	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:f,s:I,s:s}", "key", hex,
	    "namespace", m->ns, "program", pid, "triple", m->target.triple, "cpu", m->target.cpu,
	    "opt", opt, "size", (json_int_t)len, "payload_size", (json_int_t)m->payload_size,
	    "compile_ms", (double)(m->compile_ns / 1000) / 1e3,
	    "created_ms", (json_int_t)m->created_ms, "producer", m->producer);
	if (j == NULL || (syms = json_array()) == NULL || json_object_set_new(j, "symbols", syms))
		goto fail;
	for (i = 0; i < m->nsymbols && i < 32; i++)
		if (json_array_append_new(syms, json_string(m->symbols[i])) != 0)
			goto fail;
	return j;
fail:
	json_decref(j);
	return NULL;
}

/* Fill each event's JSON summary from its manifest; an entry deleted
 * since, unreadable or not text gets {"key": ...} alone. */
static void
batch_summarise(jf_store_t *s, batch_t *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		char hex[JF_KEY_HEX_LEN + 1], err[128];
		jf_buf_t out = JF_BUF_INIT;
		jf_manifest_t m;
		uint8_t *blob = NULL;
		size_t len = 0;
		json_t *j = NULL;

		jf_key_hex(&b->e[i].key, hex);
		if (jf_store_get_raw(s, &b->e[i].key, &blob, &len) == 0 &&
		    jf_blob_peek(blob, len, &m, err, sizeof(err)) == 0) {
			j = summary_json(hex, &m, len);
			jf_manifest_free(&m);
		}
		jf_free(blob);  /* the store's buffer */
		if (j == NULL)
			j = json_pack("{s:s}", "key", hex);
		if (j != NULL && jf_json_dump(j, &out) == 0) {
			jf_free(b->e[i].json);
			b->e[i].json = (char *)jf_buf_steal(&out, NULL);
		}
		json_decref(j);
		jf_buf_free(&out);
	}
}

/* --- the loop side ------------------------------------------------------------- */

static void
client_send(client_t *c, const evrec_t *e)
{
	struct evbuffer *b;

	struct bufferevent *bev;

	if (c->dead || c->slow || e->json == NULL || (b = evbuffer_new()) == NULL)
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
	c->ev->o.m->events_sent++;
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
	jf_events_t *ev = c->ev;

	(void)con;
	client_unlink(ev, c);
	jf_reply_finish(ev->o.rp, c->req, JF_ROUTE_EVENTS, c->t0, 200, NULL, "closed", 0);
	/* a detached request is ours to finish; it frees it */
	if (evhttp_request_get_connection(c->req) == NULL && !ev->closing)
		evhttp_send_reply_end(c->req);
	if (c->catching)
		c->dead = 1;            /* the catch-up job frees it */
	else
		jf_free(c);
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
drop_slow(jf_events_t *ev)
{
	client_t *c;
	int again = 1;

	while (again) {
		again = 0;
		for (c = ev->clients; c != NULL; c = c->next)
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
	jf_events_t *ev = b->ev;
	client_t *c;
	size_t i;

	if (ev->closing) {
		batch_free(b);
		return;
	}
	for (i = 0; i < b->n; i++) {
		evrec_t *slot = &ev->ring[ev->head];

		jf_free(slot->json);
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
	drop_slow(ev);
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
	jf_events_t *ev = b->ev;
	size_t i;
	int idx;

	c->catching = 0;
	if (c->dead || ev->closing) {
		jf_free(c);
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
	batch_t *b = jf_xcalloc(1, sizeof(*b));

	b->ev = c->ev;
	b->c = c;
	b->res = JF_ERR_CLOSED;
	jf_strlcpy(b->cursor, c->cursor, sizeof(b->cursor));
	c->catching = 1;
	if (jf_storeq_submit(c->ev->o.sq, catchup_job, catchup_done, b) != 0) {
		c->catching = 0;
		c->live = 1;
		jf_free(b);
	}
}

void
jf_events_serve(jf_events_t *ev, struct evhttp_request *req, uint64_t t0)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *last;
	client_t *c;
	int idx;

	if (ev->unsupported) {
		jf_reply_error(ev->o.rp, req, JF_ROUTE_EVENTS, t0, 501, JF_ERR_UNSUPPORTED, NULL,
		    "this store has no change feed");
		return;
	}
	if (ev->draining) {
		jf_reply_error(ev->o.rp, req, JF_ROUTE_EVENTS, t0, 503, JF_ERR_CLOSED, NULL,
		    "the master is shutting down");
		return;
	}
	last = evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");
	if (last != NULL && (strlen(last) >= JF_CURSOR_MAX || strpbrk(last, "\r\n") != NULL)) {
		jf_reply_error(ev->o.rp, req, JF_ROUTE_EVENTS, t0, 400, JF_ERR_INVAL, NULL,
		    "bad Last-Event-ID");
		return;
	}
	c = jf_xcalloc(1, sizeof(*c));
	c->ev = ev;
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
	jf_events_t *ev = arg;
	client_t *c;

	(void)fd;
	(void)what;
	for (c = ev->clients; c != NULL; c = c->next) {
		struct evbuffer *b;

		if (c->slow || (b = evbuffer_new()) == NULL)
			continue;
		evbuffer_add_printf(b, ": keep-alive\n\n");
		evhttp_send_reply_chunk(c->req, b);
		evbuffer_free(b);
	}
	drop_slow(ev);
}

unsigned
jf_events_clients(const jf_events_t *ev)
{
	return ev != NULL ? ev->nclients : 0;
}

/* --- the watcher thread ------------------------------------------------------- */

static void *
watcher(void *arg)
{
	jf_events_t *ev = arg;
	char cursor[JF_CURSOR_MAX];
	int r;

	jf_strlcpy(cursor, ev->start_cursor, sizeof(cursor));
	while (!atomic_load(&ev->stop)) {
		batch_t *b = jf_xcalloc(1, sizeof(*b));

		b->ev = ev;
		r = jf_store_watch(ev->ws, cursor, sizeof(cursor), 500, batch_add_key, b);
		if (r == JF_ERR_RESYNC) {
			jf_warn("msg=\"change feed cursor lost; resuming at the end\" cursor=%s",
			    cursor);
			jf_store_cursor(ev->ws, cursor, sizeof(cursor));
		} else if (r < 0 && r != JF_ERR_TIMEOUT) {
			jf_warn("msg=\"store watch failed\" err=%s detail=\"%s\"", jf_errname(r),
			    jf_store_errstr(ev->ws));
			usleep(500000);
		}
		if (b->n == 0) {
			batch_free(b);
			continue;
		}
		batch_summarise(ev->ws, b);
		if (jf_storeq_post(ev->o.sq, on_watch_batch, b) != 0)
			batch_free(b);
	}
	return NULL;
}

int
jf_events_start(const jf_events_opts_t *o, jf_events_t **out, char *err, size_t errlen)
{
	jf_events_t *ev = jf_xcalloc(1, sizeof(*ev));
	jf_store_opts_t so = { .read_only = 1 };
	struct timeval ka = { KEEPALIVE_S, 0 };
	int r;

	ev->o = *o;
	*out = ev;
	if ((r = jf_store_open(o->store_url, &so, &ev->ws, err, errlen)) != 0)
		return r;
	r = jf_store_cursor(ev->ws, ev->start_cursor, sizeof(ev->start_cursor));
	if (r == JF_ERR_UNSUPPORTED) {
		jf_warn("msg=\"store has no change feed; /v1/events disabled\" store=%s",
		    jf_store_scheme(ev->ws));
		ev->unsupported = 1;
		return 0;
	}
	if (r != 0)
		return jf_seterr(err, errlen, r, "cannot read the store's change-feed cursor: %s",
		    jf_store_errstr(ev->ws));
	if ((ev->keepalive = event_new(o->base, -1, EV_PERSIST, on_keepalive, ev)) == NULL ||
	    event_add(ev->keepalive, &ka) != 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "cannot add the keep-alive timer");
	if ((errno = pthread_create(&ev->th, NULL, watcher, ev)) != 0)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "pthread_create: %s", strerror(errno));
	ev->started = 1;
	return 0;
}

void
jf_events_close_all(jf_events_t *ev)
{
	client_t *c;

	if (ev == NULL)
		return;
	ev->draining = 1;
	while ((c = ev->clients) != NULL) {
		ev->clients = c->next;
		ev->nclients--;
		evhttp_connection_set_closecb(c->con, NULL, NULL);
		jf_reply_finish(ev->o.rp, c->req, JF_ROUTE_EVENTS, c->t0, 200, NULL, "closed", 0);
		evhttp_send_reply_end(c->req);
		if (c->catching)
			c->dead = 1;
		else
			jf_free(c);
	}
}

void
jf_events_stop(jf_events_t *ev)
{
	if (ev == NULL)
		return;
	ev->closing = 1;
	atomic_store(&ev->stop, 1);
	if (ev->started)
		pthread_join(ev->th, NULL);
	ev->started = 0;
}

void
jf_events_free(jf_events_t *ev)
{
	unsigned i;

	if (ev == NULL)
		return;
	jf_events_stop(ev);
	if (ev->keepalive != NULL)
		event_free(ev->keepalive);
	jf_store_close(ev->ws);
	for (i = 0; i < RING; i++)
		jf_free(ev->ring[i].json);
	jf_free(ev);
}
