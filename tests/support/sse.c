/*
 * sse.c - the test-side reader of the master's event streams (sse.h),
 * on libcurl: bytes are split into lines, lines into fields, and a blank
 * line dispatches the event (the WHATWG event-stream rules, minus retry).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "jitfarm/error.h"
#include "common/url.h"
#include "common/util.h"
#include "sse.h"

#define EV_ID_MAX 160                   /* event ids are store cursors */
#define LINE_MAX_ (1u << 20)

typedef struct sse {
	CURL *c;
	jft_sse_fn fn;
	void *arg;
	int stop;
	char id[EV_ID_MAX];
	char type[32];
	char *data;
	size_t data_len;
	char *line;
	size_t line_len, line_cap;
	char body[4096];                /* an error answer */
	size_t body_len;
	char *last_out;
	size_t last_len;
} sse_t;

static int
dispatch(sse_t *s)
{
	int r = 0;

	if (s->data != NULL || s->type[0] != '\0') {
		r = s->fn(s->id, s->type[0] ? s->type : "message", s->data != NULL ? s->data : "",
		    s->arg);
		if (s->last_out != NULL && s->id[0] != '\0')
			jf_strlcpy(s->last_out, s->id, s->last_len);
	}
	free(s->data);
	s->data = NULL;
	s->data_len = 0;
	s->type[0] = '\0';
	return r;
}

/* The value of "name:" in line (one optional space after the colon). */
static const char *
field(const char *line, size_t n, const char *name, size_t *vl)
{
	size_t nl = strlen(name);
	const char *v;

	if (n < nl || strncmp(line, name, nl) != 0)
		return NULL;
	v = line + nl + (n > nl && line[nl] == ' ');
	*vl = n - (size_t)(v - line);
	return v;
}

static void
copy_field(char *dst, size_t cap, const char *v, size_t vl)
{
	if (vl >= cap)
		vl = cap - 1;
	memcpy(dst, v, vl);
	dst[vl] = '\0';
}

static int
on_line(sse_t *s, const char *line, size_t n)
{
	const char *v;
	size_t vl;

	if (n == 0)
		return dispatch(s);
	if (line[0] == ':')
		return 0;       /* comment: keep-alive */
	if ((v = field(line, n, "id:", &vl)) != NULL) {
		copy_field(s->id, sizeof(s->id), v, vl);
	} else if ((v = field(line, n, "event:", &vl)) != NULL) {
		copy_field(s->type, sizeof(s->type), v, vl);
	} else if ((v = field(line, n, "data:", &vl)) != NULL) {
		char *nd;

		if (s->data_len + vl + 2 > LINE_MAX_ ||
		    (nd = realloc(s->data, s->data_len + vl + 2)) == NULL)
			return JF_ERR_TOOBIG;
		s->data = nd;
		if (s->data_len > 0)
			nd[s->data_len++] = '\n';
		memcpy(nd + s->data_len, v, vl);
		s->data_len += vl;
		nd[s->data_len] = '\0';
	}
	return 0;
}

static size_t
on_bytes(char *p, size_t size, size_t nmemb, void *arg)
{
	sse_t *s = arg;
	size_t n = size * nmemb, i;
	long status = 0;

	curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		/* an error answer: a small JSON body, kept for the message */
		size_t k = n < sizeof(s->body) - 1 - s->body_len ? n :
		    sizeof(s->body) - 1 - s->body_len;

		memcpy(s->body + s->body_len, p, k);
		s->body_len += k;
		s->body[s->body_len] = '\0';
		return n;
	}
	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			size_t l = s->line_len;
			int r;

			if (l > 0 && s->line[l - 1] == '\r')
				l--;
			r = on_line(s, s->line != NULL ? s->line : "", l);
			s->line_len = 0;
			if (r != 0) {
				s->stop = r;
				return 0;
			}
			continue;
		}
		if (s->line_len + 1 >= s->line_cap) {
			size_t cap = s->line_cap ? s->line_cap * 2 : 256;
			char *nl;

			if (cap > LINE_MAX_ || (nl = realloc(s->line, cap)) == NULL) {
				s->stop = JF_ERR_TOOBIG;
				return 0;
			}
			s->line = nl;
			s->line_cap = cap;
		}
		s->line[s->line_len++] = p[i];
	}
	return n;
}

int
jft_sse_read(const char *url, const char *token, const char *last_id, int duration_ms,
    jft_sse_fn fn, void *arg, char *last_id_out, size_t last_id_len, char *err, size_t errlen)
{
	sse_t s;
	jf_url_t u;
	struct curl_slist *h = NULL;
	char full[4400], hl[EV_ID_MAX + 300];
	CURLcode cc;
	long status = 0;
	int r;

	memset(&s, 0, sizeof(s));
	s.fn = fn;
	s.arg = arg;
	s.last_out = last_id_out;
	s.last_len = last_id_len;
	if (last_id_out != NULL && last_id_len > 0)
		jf_strlcpy(last_id_out, last_id != NULL ? last_id : "", last_id_len);
	if (jf_url_parse(url, &u, err, errlen) != 0)
		return JF_ERR_INVAL;
	if ((s.c = curl_easy_init()) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "curl_easy_init failed");
	if (strcmp(u.scheme, "unix") == 0) {
		snprintf(full, sizeof(full), "http://localhost/v1/events");
		curl_easy_setopt(s.c, CURLOPT_UNIX_SOCKET_PATH, u.path);
	} else {
		snprintf(full, sizeof(full), "%s/v1/events", url);
	}
	curl_easy_setopt(s.c, CURLOPT_URL, full);
	curl_easy_setopt(s.c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s.c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(s.c, CURLOPT_TIMEOUT_MS, (long)(duration_ms > 0 ? duration_ms : 0));
	curl_easy_setopt(s.c, CURLOPT_WRITEFUNCTION, on_bytes);
	curl_easy_setopt(s.c, CURLOPT_WRITEDATA, &s);
	h = curl_slist_append(h, "Accept: text/event-stream");
	if (token != NULL && *token != '\0') {
		snprintf(hl, sizeof(hl), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, hl);
	}
	if (last_id != NULL && *last_id != '\0') {
		snprintf(hl, sizeof(hl), "Last-Event-ID: %s", last_id);
		h = curl_slist_append(h, hl);
	}
	curl_easy_setopt(s.c, CURLOPT_HTTPHEADER, h);
	cc = curl_easy_perform(s.c);
	curl_easy_getinfo(s.c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 0 && status != 200)
		r = jf_seterr(err, errlen, status == 401 || status == 403 ? JF_ERR_AUTH :
		    status == 503 ? JF_ERR_BUSY : JF_ERR_PROTO, "events answered %ld: %s", status,
		    s.body);
	else if (s.stop != 0)
		r = s.stop;
	else if (cc == CURLE_OK || (cc == CURLE_OPERATION_TIMEDOUT && status == 200))
		r = 0;
	else
		r = jf_seterr(err, errlen, cc == CURLE_OPERATION_TIMEDOUT ? JF_ERR_TIMEOUT :
		    JF_ERR_IO, "GET %s: %s", full, curl_easy_strerror(cc));
	curl_slist_free_all(h);
	curl_easy_cleanup(s.c);
	free(s.data);
	free(s.line);
	return r;
}
