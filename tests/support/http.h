/*
 * http.h - the HTTP client the tests share (master, security): one request
 * through libcurl with an optional bearer token, the answer's status,
 * headers and body.
 */
#ifndef JFT_HTTP_H
#define JFT_HTTP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

typedef struct jft_resp {
	char *body;                     /* NUL-terminated, len bytes before it */
	size_t len;
	char headers[8192];
	size_t hn;
} jft_resp_t;

static inline size_t
jft_body_cb(char *p, size_t s, size_t nm, void *arg)
{
	jft_resp_t *r = arg;
	size_t n = s * nm;
	char *nb = realloc(r->body, r->len + n + 1);

	if (nb == NULL)
		return 0;
	memcpy(nb + r->len, p, n);
	r->body = nb;
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static inline size_t
jft_head_cb(char *p, size_t s, size_t nm, void *arg)
{
	jft_resp_t *r = arg;
	size_t n = s * nm;

	if (r->hn + n < sizeof(r->headers)) {
		memcpy(r->headers + r->hn, p, n);
		r->hn += n;
		r->headers[r->hn] = '\0';
	}
	return n;
}

/* One request; returns the HTTP status (0 when none came). r->body is
 * never NULL afterwards; free with jft_resp_free. */
static inline long
jft_http(const char *method, const char *url, const void *body, size_t len,
    const char *token, jft_resp_t *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char auth[256];
	long status = 0;

	memset(r, 0, sizeof(*r));
	r->body = calloc(1, 1);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, jft_body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, jft_head_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	h = curl_slist_append(h, "Expect:");
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

static inline void
jft_resp_free(jft_resp_t *r)
{
	free(r->body);
	r->body = NULL;
}

#endif
