/*
 * store_curl.h - the libcurl transport the HTTP and S3 stores share
 * (store_curl.c): one kept-alive easy handle per store, requests with
 * per-request headers, bounded response bodies in a jf_buf_t, HTTP
 * statuses mapped to store errors, and parallel GETs for load_all.
 */
#ifndef JF_STORE_CURL_H
#define JF_STORE_CURL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "store_backend.h"

typedef struct jf_curl {
	CURL *h;
	struct curl_slist *base;        /* headers on every request */
	jf_buf_t body;                  /* the last response (NUL-terminated) */
	long status;                    /* the last response's status */
	char shown[512];                /* the store without credentials, for messages */
	char err[768];
} jf_curl_t;

/* Set up c (zeroed by the caller) with o's timeouts. */
int jf_curl_init(jf_curl_t *c, const jf_store_opts_t *o, char *err, size_t errlen);
void jf_curl_cleanup(jf_curl_t *c);
/* Add "Name: value" to every request. */
int jf_curl_header_add(jf_curl_t *c, const char *h);

/*
 * One request: method on url (a full URL) with an optional body and the
 * headers in extra (may be NULL) after the base ones. The response body
 * (at most max bytes) lands in c->body, the status in c->status. Returns
 * 0 for any HTTP answer, or a transport error with a message in c->err.
 */
int jf_curl_request(jf_curl_t *c, const char *method, const char *url,
    const struct curl_slist *extra, const uint8_t *body, size_t blen, size_t max);
/* A status that is not a success as an error code, with the message:
 * 404 NOTFOUND (no message), 401/403 AUTH, 408/429/5xx STORE, else PROTO. */
int jf_curl_status_fail(jf_curl_t *c, const char *method, const char *what);
/* Hand the last body to the caller (jf_free'd), leaving c->body empty. */
uint8_t *jf_curl_body_take(jf_curl_t *c, size_t *len);

/*
 * Parallel GETs: n URLs, at most JF_CURL_PAR in flight, each on a
 * kept-alive connection of its own. url_fn writes the i-th URL and may
 * give headers of its own (*extra, freed here with curl_slist_free_all);
 * done_fn gets each answer (status 200 bodies only; a 404 is skipped as
 * deleted meanwhile). A transport error or another status stops the walk.
 * done_fn's non-zero return stops and is returned.
 */
#define JF_CURL_PAR 8
typedef int (*jf_curl_url_fn)(size_t i, char *url, size_t len, struct curl_slist **extra,
    void *arg);
typedef int (*jf_curl_done_fn)(size_t i, const uint8_t *body, size_t len, void *arg);
int jf_curl_get_many(jf_curl_t *c, size_t n, size_t max, jf_curl_url_fn url_fn,
    jf_curl_done_fn done_fn, void *arg);

#endif
