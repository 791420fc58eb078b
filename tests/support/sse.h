/*
 * sse.h - a server-sent-events reader for the master's GET /v1/events,
 * for tests (the shipped client library has no use for one).
 *
 * fn is called for each event with its id (the store cursor after it:
 * pass it back as last_id to resume), its type ("artifact", or "resync")
 * and its data. last_id NULL or "" starts at the live end. Returns when
 * fn returns non-zero (that value), when the server closes the stream
 * (0), or after duration_ms (0); an error answer is JF_ERR_AUTH (401/403)
 * or another negative jf_err, with the status and body in err. last_id_out,
 * if given, receives the id of the last event seen.
 */
#ifndef JF_TEST_SSE_H
#define JF_TEST_SSE_H

#include <stddef.h>

typedef int (*jft_sse_fn)(const char *id, const char *type, const char *data, void *arg);

/* url: http://host:port[/prefix] or unix:PATH, as farm clients take it. */
int jft_sse_read(const char *url, const char *token, const char *last_id, int duration_ms,
    jft_sse_fn fn, void *arg, char *last_id_out, size_t last_id_len, char *err, size_t errlen);

#endif
