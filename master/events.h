/*
 * events.h - GET /v1/events: the store's change feed as server-sent
 * events, one watcher thread per master and a ring of recent events on
 * the loop. Answers go out through reply.h; counts into metrics.h.
 */
#ifndef JF_MASTER_EVENTS_H
#define JF_MASTER_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"
#include "master/metrics.h"
#include "master/reply.h"
#include "master/storeq.h"

struct event_base;
struct evhttp_request;

typedef struct jf_events jf_events_t;

typedef struct jf_events_opts {
	struct event_base *base;        /* all borrowed */
	jf_storeq_t *sq;
	jf_reply_t *rp;
	jf_metrics_t *m;
	const char *store_url;
} jf_events_opts_t;

/* Start the watcher. A store without a change feed is not an error: the
 * route then answers 501. */
int jf_events_start(const jf_events_opts_t *o, jf_events_t **out, char *err, size_t errlen);
/* Serve GET /v1/events (auth already checked). */
void jf_events_serve(jf_events_t *ev, struct evhttp_request *req, uint64_t t0);
unsigned jf_events_clients(const jf_events_t *ev);
/* Close every stream and refuse new ones (drain). */
void jf_events_close_all(jf_events_t *ev);
/* Stop the watcher thread; completions still queued only free. */
void jf_events_stop(jf_events_t *ev);
/* Free what is left; after jf_events_stop and once the store queue is gone. */
void jf_events_free(jf_events_t *ev);

#endif
