/*
 * store_curl.c - the libcurl transport of the HTTP and S3 stores
 * (store_curl.h).
 *
 * Every request carries "Expect:" (no 100-continue round trip) and a
 * binary Content-Type. Response bodies go into a jf_buf_t whose limit is
 * the largest answer the caller accepts, so a server cannot make us
 * buffer more than a blob.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "common/util.h"
#include "store_curl.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void
curl_init_once(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	jf_buf_t *b = arg;

	jf_buf_put(b, p, sz * n);
	return jf_buf_error(b) ? 0 : sz * n;    /* 0: curl fails with a write error */
}

int
jf_curl_header_add(jf_curl_t *c, const char *h)
{
	struct curl_slist *n = curl_slist_append(c->base, h);

	if (n == NULL)
		return JF_ERR_NOMEM;
	c->base = n;
	return 0;
}

int
jf_curl_init(jf_curl_t *c, const jf_store_opts_t *o, char *err, size_t errlen)
{
	pthread_once(&curl_once, curl_init_once);
	if (!curl_ok || (c->h = curl_easy_init()) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "libcurl did not initialise");
	/* no 100-continue round trip, binary bodies */
	if (jf_curl_header_add(c, "Expect:") != 0 ||
	    jf_curl_header_add(c, "Content-Type: application/octet-stream") != 0)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)o->op_timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body);
	curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->base);
	return 0;
}

void
jf_curl_cleanup(jf_curl_t *c)
{
	if (c->h)
		curl_easy_cleanup(c->h);
	c->h = NULL;
	curl_slist_free_all(c->base);
	c->base = NULL;
	jf_buf_free(&c->body);
}

/* The base headers then extra, as one new list (NULL: out of memory). */
static struct curl_slist *
headers_join(const struct curl_slist *base, const struct curl_slist *extra)
{
	struct curl_slist *all = NULL, *n;
	const struct curl_slist *l;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (l = pass ? extra : base; l != NULL; l = l->next) {
			if ((n = curl_slist_append(all, l->data)) == NULL) {
				curl_slist_free_all(all);
				return NULL;
			}
			all = n;
		}
	return all;
}

static int
curl_code_err(CURLcode cc, const jf_buf_t *b)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return JF_ERR_TIMEOUT;
	case CURLE_OUT_OF_MEMORY:
		return JF_ERR_NOMEM;
	case CURLE_WRITE_ERROR:
		return jf_buf_error(b) == JF_ERR_TOOBIG ? JF_ERR_TOOBIG : JF_ERR_NOMEM;
	default:
		return JF_ERR_STORE;
	}
}

int
jf_curl_request(jf_curl_t *c, const char *method, const char *url,
    const struct curl_slist *extra, const uint8_t *body, size_t blen, size_t max)
{
	struct curl_slist *hdrs = NULL;
	int head = strcmp(method, "HEAD") == 0, rc = 0;
	CURLcode cc;

	jf_buf_free(&c->body);
	c->body.limit = max;
	c->status = 0;
	if (extra != NULL && (hdrs = headers_join(c->base, extra)) == NULL)
		return JF_ERR_NOMEM;
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs ? hdrs : c->base);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c->h, CURLOPT_NOBODY, 0L);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, "PUT");
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->h, CURLOPT_NOBODY, head ? 1L : 0L);
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST,
		    strcmp(method, "GET") == 0 || head ? NULL : method);
	}
	cc = curl_easy_perform(c->h);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->base);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		rc = curl_code_err(cc, &c->body);
		snprintf(c->err, sizeof(c->err), "%s %s: %s", method, c->shown,
		    curl_easy_strerror(cc));
		return rc;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	return 0;
}

int
jf_curl_status_fail(jf_curl_t *c, const char *method, const char *what)
{
	int rc;

	if (c->status == 404)
		rc = JF_ERR_NOTFOUND;
	else if (c->status == 401 || c->status == 403)
		rc = JF_ERR_AUTH;
	else if (c->status == 408 || c->status == 429 || c->status >= 500)
		rc = JF_ERR_STORE;
	else
		rc = JF_ERR_PROTO;
	if (rc != JF_ERR_NOTFOUND)
		snprintf(c->err, sizeof(c->err), "%s %s/%s: HTTP %ld%s%.200s", method, c->shown,
		    what, c->status, c->body.len ? ": " : "",
		    c->body.len ? (const char *)c->body.p : "");
	return rc;
}

uint8_t *
jf_curl_body_take(jf_curl_t *c, size_t *len)
{
	return jf_buf_steal(&c->body, len);
}

/* --- parallel GETs ------------------------------------------------------------ */

typedef struct xfer {
	CURL *h;
	jf_buf_t buf;
	struct curl_slist *hdrs;
	size_t i;
	int busy;
} xfer_t;

/* Start transfer x on item i. */
static int
xfer_start(jf_curl_t *c, CURLM *m, xfer_t *x, size_t i, size_t max, jf_curl_url_fn url_fn,
    void *arg)
{
	char url[4096];
	struct curl_slist *extra = NULL;
	int rc;

	if ((rc = url_fn(i, url, sizeof(url), &extra, arg)) != 0)
		return rc;
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	if (extra != NULL) {
		x->hdrs = headers_join(c->base, extra);
		curl_slist_free_all(extra);
		if (x->hdrs == NULL)
			return JF_ERR_NOMEM;
	}
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs ? x->hdrs : c->base);
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	jf_buf_free(&x->buf);
	x->buf.limit = max;
	x->i = i;
	if (curl_multi_add_handle(m, x->h) != CURLM_OK)
		return JF_ERR_NOMEM;
	x->busy = 1;
	return 0;
}

/* One finished transfer: 0 to go on, or why to stop. */
static int
xfer_done(jf_curl_t *c, CURLMsg *msg, xfer_t *t, jf_curl_done_fn done_fn, void *arg)
{
	long status = 0;

	if (msg->data.result != CURLE_OK) {
		snprintf(c->err, sizeof(c->err), "GET %s/a/...: %s", c->shown,
		    curl_easy_strerror(msg->data.result));
		return curl_code_err(msg->data.result, &t->buf);
	}
	curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
	if (status == 404)
		return 0;       /* deleted since the listing */
	if (status != 200) {
		c->status = status;
		jf_buf_free(&c->body);
		return jf_curl_status_fail(c, "GET", "a/...");
	}
	return done_fn(t->i, t->buf.p ? t->buf.p : (const uint8_t *)"", t->buf.len, arg);
}

int
jf_curl_get_many(jf_curl_t *c, size_t n, size_t max, jf_curl_url_fn url_fn,
    jf_curl_done_fn done_fn, void *arg)
{
	xfer_t x[JF_CURL_PAR];
	CURLM *m = NULL;
	size_t next = 0, i;
	int active = 0, rc = 0;

	memset(x, 0, sizeof(x));
	if (n == 0)
		return 0;
	/* a plain GET from the store's handle: its options, auth and timeouts */
	curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c->h, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, NULL);
	if ((m = curl_multi_init()) == NULL)
		return JF_ERR_NOMEM;
	for (i = 0; i < JF_CURL_PAR; i++) {
		if ((x[i].h = curl_easy_duphandle(c->h)) == NULL) {
			rc = JF_ERR_NOMEM;
			goto out;
		}
		curl_easy_setopt(x[i].h, CURLOPT_WRITEDATA, &x[i].buf);
		curl_easy_setopt(x[i].h, CURLOPT_PRIVATE, &x[i]);
	}
	while (rc == 0 && (next < n || active > 0)) {
		CURLMsg *msg;
		int running, q;

		for (i = 0; i < JF_CURL_PAR && next < n && rc == 0; i++) {
			if (x[i].busy)
				continue;
			if ((rc = xfer_start(c, m, &x[i], next++, max, url_fn, arg)) == 0)
				active++;
		}
		if (rc != 0)
			break;
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			rc = JF_ERR_STORE;
			break;
		}
		while (rc == 0 && (msg = curl_multi_info_read(m, &q)) != NULL) {
			xfer_t *t = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			curl_multi_remove_handle(m, msg->easy_handle);
			t->busy = 0;
			active--;
			rc = xfer_done(c, msg, t, done_fn, arg);
		}
		if (rc == 0 && active > 0)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
out:
	for (i = 0; i < JF_CURL_PAR; i++) {
		if (x[i].h) {
			if (x[i].busy)
				curl_multi_remove_handle(m, x[i].h);
			curl_easy_cleanup(x[i].h);
		}
		curl_slist_free_all(x[i].hdrs);
		jf_buf_free(&x[i].buf);
	}
	curl_multi_cleanup(m);
	return rc;
}
