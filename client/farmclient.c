/*
 * farmclient.c - the libcurl client of farmclient.h.
 *
 * One curl easy handle per jf_farm_t, reused across calls so that the
 * connection to the master stays open (a cache hit is then one round
 * trip). Every response body is collected into a growing buffer with a
 * hard cap (the blob format's own maximum), and headers are parsed as
 * they arrive. Error bodies are the master's {"error","message"} JSON;
 * the two strings are pulled out with a small bounded scanner rather
 * than a JSON library, since nothing else in the body is needed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "client/farmclient.h"
#include "common/util.h"

#define BODY_MAX ((size_t)JF_BLOB_MAX_PAYLOAD + JF_BLOB_MAX_MANIFEST + 4096)
#define LIST_MAX ((size_t)256 << 20)
#define EV_ID_MAX 160                   /* event ids are store cursors */

struct jf_farm {
	CURL *curl;
	char base[1024];                /* http://host:port[/prefix], no trailing / */
	char unix_path[512];            /* "" unless unix: */
	struct curl_slist *auth;        /* Authorization header, or NULL */
	int connect_timeout_ms, timeout_ms;
};

/* What one request collects. */
typedef struct resp {
	uint8_t *body;
	size_t len, cap, max;
	char key[JF_KEY_HEX_LEN + 1];
	char cache[16];
	char content_len[32];
	int retry_after;
	/* SSE streaming */
	jf_farm_event_fn ev_fn;
	void *ev_arg;
	int ev_stop;
	char ev_id[EV_ID_MAX];
	char ev_type[32];
	char *ev_data;
	size_t ev_data_len;
	char *line;
	size_t line_len, line_cap;
	char *last_id_out;
	size_t last_id_len;
} resp_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
jf_farm_err_from_name(const char *name)
{
	int e;

	for (e = 0; e > JF_ERR__LAST; e--)
		if (strcmp(jf_errname(e), name) == 0)
			return e;
	return JF_ERR_PROTO;
}

int
jf_farm_open(const jf_farm_opts_t *o, jf_farm_t **out, char *err, size_t errlen)
{
	jf_farm_t *f = NULL;
	int r = JF_ERR_INVAL;
	size_t n;

	*out = NULL;
	if (o == NULL || o->url == NULL || *o->url == '\0') {
		r = jf_seterr(err, errlen, JF_ERR_INVAL, "no farm URL");
		goto out;
	}
	pthread_once(&curl_once, curl_init_once);
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (strncmp(o->url, "unix:", 5) == 0) {
		const char *p = o->url + 5;

		/* unix:/path and unix:///path both name a socket path */
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (*p == '\0' || jf_strlcpy(f->unix_path, p, sizeof(f->unix_path)) >=
		    sizeof(f->unix_path)) {
			r = jf_seterr(err, errlen, JF_ERR_INVAL, "bad unix socket path in %s", o->url);
			goto out;
		}
		/* the host part is only for the Host header */
		jf_strlcpy(f->base, "http://localhost", sizeof(f->base));
	} else if (strncmp(o->url, "http://", 7) == 0 || strncmp(o->url, "https://", 8) == 0) {
		if (jf_strlcpy(f->base, o->url, sizeof(f->base)) >= sizeof(f->base)) {
			r = jf_seterr(err, errlen, JF_ERR_INVAL, "farm URL too long");
			goto out;
		}
		n = strlen(f->base);
		while (n > 0 && f->base[n - 1] == '/')
			f->base[--n] = '\0';
	} else {
		r = jf_seterr(err, errlen, JF_ERR_INVAL,
		    "farm URL must be http://host:port or unix:PATH, not %s", o->url);
		goto out;
	}
	if (o->token != NULL && *o->token != '\0') {
		char *h;

		if (strpbrk(o->token, "\r\n") != NULL) {
			r = jf_seterr(err, errlen, JF_ERR_INVAL, "token holds a line break");
			goto out;
		}
		if (asprintf(&h, "Authorization: Bearer %s", o->token) < 0) {
			r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
			goto out;
		}
		f->auth = curl_slist_append(NULL, h);
		free(h);
		if (f->auth == NULL) {
			r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if ((f->curl = curl_easy_init()) == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_NOMEM, "curl_easy_init failed");
		goto out;
	}
	f->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 2000;
	f->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 300000;
	*out = f;
	f = NULL;
	r = 0;
out:
	jf_farm_close(f);
	return r;
}

void
jf_farm_close(jf_farm_t *f)
{
	if (f == NULL)
		return;
	if (f->curl != NULL)
		curl_easy_cleanup(f->curl);
	curl_slist_free_all(f->auth);
	free(f);
}

void
jf_farm_result_free(jf_farm_result_t *res)
{
	if (res == NULL)
		return;
	free(res->blob);
	res->blob = NULL;
	res->blob_len = 0;
}

/* --- response collection -------------------------------------------------- */

static int
resp_append(resp_t *rs, const void *p, size_t n)
{
	if (n > rs->max - rs->len)
		return -1;
	if (rs->len + n + 1 > rs->cap) {
		size_t cap = rs->cap ? rs->cap : 4096;
		uint8_t *nb;

		while (cap < rs->len + n + 1)
			cap *= 2;
		if ((nb = realloc(rs->body, cap)) == NULL)
			return -1;
		rs->body = nb;
		rs->cap = cap;
	}
	memcpy(rs->body + rs->len, p, n);
	rs->len += n;
	rs->body[rs->len] = '\0';
	return 0;
}

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	resp_t *rs = arg;
	size_t n = size * nmemb;

	return resp_append(rs, p, n) == 0 ? n : 0;
}

/* Copy a header's value (trimmed) into out if the line names it. */
static int
header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return 0;
	v = line + nl + 1;
	vl = n - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (vl >= outlen)
		vl = outlen - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
	return 1;
}

static size_t
header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	resp_t *rs = arg;
	size_t n = size * nmemb;
	char tmp[32];

	header_value(p, n, "X-Jitfarm-Key", rs->key, sizeof(rs->key));
	header_value(p, n, "X-Jitfarm-Cache", rs->cache, sizeof(rs->cache));
	header_value(p, n, "Content-Length", rs->content_len, sizeof(rs->content_len));
	if (header_value(p, n, "Retry-After", tmp, sizeof(tmp)))
		rs->retry_after = atoi(tmp);
	return n;
}

static void
resp_free(resp_t *rs)
{
	free(rs->body);
	free(rs->ev_data);
	free(rs->line);
}

/*
 * Pull the string value of "name" out of a flat JSON object into out,
 * undoing the common escapes. Returns 1 when found. Bounded by len.
 */
static int
json_str(const char *js, size_t len, const char *name, char *out, size_t outlen)
{
	char pat[64];
	const char *p, *end = js + len;
	size_t o = 0;

	if (outlen == 0)
		return 0;
	snprintf(pat, sizeof(pat), "\"%s\"", name);
	if ((p = memmem(js, len, pat, strlen(pat))) == NULL)
		return 0;
	p += strlen(pat);
	while (p < end && (*p == ' ' || *p == ':'))
		p++;
	if (p >= end || *p != '"')
		return 0;
	p++;
	while (p < end && *p != '"') {
		char c = *p++;

		if (c == '\\' && p < end) {
			c = *p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'u':
				/* \u00XX only: the master escapes control bytes */
				if (end - p >= 4) {
					unsigned v = 0;

					sscanf(p, "%4x", &v);
					c = v < 0x80 ? (char)v : '?';
					p += 4;
				}
				break;
			default: break;
			}
		}
		if (o + 1 < outlen)
			out[o++] = c;
	}
	out[o] = '\0';
	return 1;
}

/* Turn a non-2xx answer into a jf_err with the master's message. */
static int
status_err(long status, const resp_t *rs, char *err, size_t errlen)
{
	char name[64] = "", msg[1024] = "";
	int code;

	if (rs->body != NULL) {
		json_str((const char *)rs->body, rs->len, "error", name, sizeof(name));
		json_str((const char *)rs->body, rs->len, "message", msg, sizeof(msg));
	}
	if (status == 401 || status == 403)
		code = JF_ERR_AUTH;
	else if (status == 404)
		code = JF_ERR_NOTFOUND;
	else if (status == 413)
		code = JF_ERR_TOOBIG;
	else if (status == 503 && name[0] == '\0')
		code = JF_ERR_BUSY;
	else if (name[0] != '\0')
		code = jf_farm_err_from_name(name);
	else if (status >= 500)
		code = JF_ERR_STORE;
	else
		code = JF_ERR_PROTO;
	if (code >= 0)
		code = JF_ERR_PROTO;
	return jf_seterr(err, errlen, code, "farm answered %ld: %s", status,
	    msg[0] ? msg : jf_strerror(code));
}

/*
 * Run one request: method, path (with query) under the base URL, an
 * optional body. Fills rs and *status. Returns 0 when an HTTP answer
 * arrived (any status), else a transport error.
 */
static int
perform(jf_farm_t *f, const char *method, const char *path, const uint8_t *body,
    size_t body_len, resp_t *rs, long *status, char *err, size_t errlen)
{
	CURL *c = f->curl;
	struct curl_slist *hdrs = NULL, *h;
	char url[2048];
	CURLcode cc;
	int r = JF_ERR_IO;

	*status = 0;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", f->base, path) >= sizeof(url))
		return jf_seterr(err, errlen, JF_ERR_INVAL, "URL too long");
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)f->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)f->timeout_ms);
	if (f->unix_path[0])
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, f->unix_path);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
	for (h = f->auth; h != NULL; h = h->next)
		if ((hdrs = curl_slist_append(hdrs, h->data)) == NULL)
			goto nomem;
	/* no "Expect: 100-continue" round trip for uploads */
	if ((hdrs = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto nomem;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? (const char *)body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (cc != CURLE_OK) {
		r = jf_seterr(err, errlen,
		    cc == CURLE_OPERATION_TIMEDOUT ? JF_ERR_TIMEOUT :
		    cc == CURLE_WRITE_ERROR ? JF_ERR_TOOBIG : JF_ERR_IO,
		    "%s %s: %s", method, url, curl_easy_strerror(cc));
	} else {
		r = 0;
	}
	goto out;
nomem:
	r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
out:
	curl_slist_free_all(hdrs);
	return r;
}

static void
key_path(char *buf, size_t len, const jf_key_t *k)
{
	char hex[JF_KEY_HEX_LEN + 1];

	jf_key_hex(k, hex);
	snprintf(buf, len, "/v1/artifacts/%s", hex);
}

/* Append "&name=value" with value URL-escaped. */
static int
add_param(CURL *c, char *q, size_t qlen, const char *name, const char *value)
{
	char *e;
	size_t n = strlen(q);
	int w;

	if (value == NULL || *value == '\0')
		return 0;
	if ((e = curl_easy_escape(c, value, 0)) == NULL)
		return JF_ERR_NOMEM;
	w = snprintf(q + n, qlen - n, "%s%s=%s", n ? "&" : "", name, e);
	curl_free(e);
	return (w < 0 || (size_t)w >= qlen - n) ? JF_ERR_TOOBIG : 0;
}

int
jf_farm_compile(jf_farm_t *f, const jf_farm_compile_t *cr, jf_farm_result_t *res,
    char *err, size_t errlen)
{
	resp_t rs = { .max = BODY_MAX };
	char q[JF_FEATURES_MAX * 3 + 1024] = "", path[sizeof(q) + 32];
	char opt[2] = { 0, 0 }, pid[JF_KEY_HEX_LEN + 1] = "";
	long status = 0;
	int r;

	memset(res, 0, sizeof(*res));
	if (cr == NULL || cr->ir == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_INVAL, "no IR to compile");
		goto out;
	}
	opt[0] = cr->opt;
	if (cr->program_id != NULL)
		jf_key_hex(cr->program_id, pid);
	if ((r = add_param(f->curl, q, sizeof(q), "opt", opt)) != 0 ||
	    (r = add_param(f->curl, q, sizeof(q), "triple", cr->triple)) != 0 ||
	    (r = add_param(f->curl, q, sizeof(q), "cpu", cr->cpu)) != 0 ||
	    (r = add_param(f->curl, q, sizeof(q), "features", cr->features)) != 0 ||
	    (r = add_param(f->curl, q, sizeof(q), "namespace", cr->ns)) != 0 ||
	    (r = add_param(f->curl, q, sizeof(q), "program", pid)) != 0 ||
	    (r = add_param(f->curl, q, sizeof(q), "wait", cr->nowait ? "0" : "1")) != 0) {
		r = jf_seterr(err, errlen, r, "compile parameters too long");
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/compile?%s", q);
	if ((r = perform(f, "POST", path, cr->ir, cr->ir_len, &rs, &status,
	    err, errlen)) != 0)
		goto out;
	res->status = (int)status;
	res->retry_after = rs.retry_after;
	jf_strlcpy(res->cache, rs.cache, sizeof(res->cache));
	if (rs.key[0] != '\0' && jf_key_from_hex(rs.key, &res->key) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_PROTO, "farm sent a bad key header");
		goto out;
	}
	if (status == 202 && cr->nowait) {
		r = 0;
		goto out;
	}
	if (status != 200) {
		r = status_err(status, &rs, err, errlen);
		goto out;
	}
	if (rs.key[0] == '\0') {
		r = jf_seterr(err, errlen, JF_ERR_PROTO, "farm sent no X-Jitfarm-Key");
		goto out;
	}
	/* the result now owns the body */
	res->blob = rs.body;
	res->blob_len = rs.len;
	rs.body = NULL;
	r = 0;
out:
	resp_free(&rs);
	return r;
}

int
jf_farm_get(jf_farm_t *f, const jf_key_t *k, uint8_t **blob, size_t *len,
    char *err, size_t errlen)
{
	resp_t rs = { .max = BODY_MAX };
	char path[128];
	long status;
	int r;

	*blob = NULL;
	*len = 0;
	key_path(path, sizeof(path), k);
	if ((r = perform(f, "GET", path, NULL, 0, &rs, &status, err, errlen)) != 0)
		goto out;
	if (status != 200) {
		r = status_err(status, &rs, err, errlen);
		goto out;
	}
	if (rs.body == NULL && resp_append(&rs, "", 0) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
		goto out;
	}
	*blob = rs.body;        /* the caller now owns the body */
	*len = rs.len;
	rs.body = NULL;
out:
	resp_free(&rs);
	return r;
}

int
jf_farm_head(jf_farm_t *f, const jf_key_t *k, uint64_t *size, char *err, size_t errlen)
{
	resp_t rs = { .max = 4096 };
	char path[128];
	long status;
	int r;

	if (size != NULL)
		*size = 0;
	key_path(path, sizeof(path), k);
	if ((r = perform(f, "HEAD", path, NULL, 0, &rs, &status, err, errlen)) != 0)
		goto out;
	if (status != 200) {
		r = status_err(status, &rs, err, errlen);
		goto out;
	}
	if (size != NULL)
		*size = strtoull(rs.content_len, NULL, 10);
out:
	resp_free(&rs);
	return r;
}

int
jf_farm_delete(jf_farm_t *f, const jf_key_t *k, char *err, size_t errlen)
{
	resp_t rs = { .max = 65536 };
	char path[128];
	long status;
	int r;

	key_path(path, sizeof(path), k);
	if ((r = perform(f, "DELETE", path, NULL, 0, &rs, &status, err, errlen)) != 0)
		goto out;
	if (status != 200 && status != 204)
		r = status_err(status, &rs, err, errlen);
out:
	resp_free(&rs);
	return r;
}

int
jf_farm_list(jf_farm_t *f, jf_farm_list_fn fn, void *arg, char *err, size_t errlen)
{
	resp_t rs = { .max = LIST_MAX };
	long status;
	char *line, *save = NULL;
	int r;

	if ((r = perform(f, "GET", "/v1/artifacts", NULL, 0, &rs, &status,
	    err, errlen)) != 0)
		goto out;
	if (status != 200) {
		r = status_err(status, &rs, err, errlen);
		goto out;
	}
	if (rs.body == NULL)
		goto out;
	/* text/plain: "<hex key> <size>\n" per entry */
	for (line = strtok_r((char *)rs.body, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		jf_key_t k;
		char hex[JF_KEY_HEX_LEN + 1];

		if (strlen(line) < JF_KEY_HEX_LEN)
			continue;
		memcpy(hex, line, JF_KEY_HEX_LEN);
		hex[JF_KEY_HEX_LEN] = '\0';
		if (jf_key_from_hex(hex, &k) != 0)
			continue;
		if ((r = fn(&k, strtoull(line + JF_KEY_HEX_LEN, NULL, 10), arg)) != 0)
			goto out;
	}
out:
	resp_free(&rs);
	return r;
}

/* --- server-sent events ------------------------------------------------- */

static int
sse_dispatch(resp_t *rs)
{
	int r = 0;

	if (rs->ev_data != NULL || rs->ev_type[0] != '\0') {
		r = rs->ev_fn(rs->ev_id, rs->ev_type[0] ? rs->ev_type : "message",
		    rs->ev_data != NULL ? rs->ev_data : "", rs->ev_arg);
		if (rs->last_id_out != NULL && rs->ev_id[0] != '\0')
			jf_strlcpy(rs->last_id_out, rs->ev_id, rs->last_id_len);
	}
	free(rs->ev_data);
	rs->ev_data = NULL;
	rs->ev_data_len = 0;
	rs->ev_type[0] = '\0';
	return r;
}

static int
sse_line(resp_t *rs, const char *line, size_t n)
{
	if (n == 0)
		return sse_dispatch(rs);
	if (line[0] == ':')
		return 0;       /* comment: keep-alive */
	if (n >= 3 && strncmp(line, "id:", 3) == 0) {
		const char *v = line + 3 + (n > 3 && line[3] == ' ');
		size_t vl = n - (size_t)(v - line);

		if (vl >= sizeof(rs->ev_id))
			vl = sizeof(rs->ev_id) - 1;
		memcpy(rs->ev_id, v, vl);
		rs->ev_id[vl] = '\0';
	} else if (n >= 6 && strncmp(line, "event:", 6) == 0) {
		const char *v = line + 6 + (n > 6 && line[6] == ' ');
		size_t vl = n - (size_t)(v - line);

		if (vl >= sizeof(rs->ev_type))
			vl = sizeof(rs->ev_type) - 1;
		memcpy(rs->ev_type, v, vl);
		rs->ev_type[vl] = '\0';
	} else if (n >= 5 && strncmp(line, "data:", 5) == 0) {
		const char *v = line + 5 + (n > 5 && line[5] == ' ');
		size_t vl = n - (size_t)(v - line);
		char *nd;

		if (rs->ev_data_len + vl + 2 > (1u << 20))
			return -1;
		if ((nd = realloc(rs->ev_data, rs->ev_data_len + vl + 2)) == NULL)
			return -1;
		rs->ev_data = nd;
		if (rs->ev_data_len > 0)
			nd[rs->ev_data_len++] = '\n';
		memcpy(nd + rs->ev_data_len, v, vl);
		rs->ev_data_len += vl;
		nd[rs->ev_data_len] = '\0';
	}
	return 0;
}

static size_t
sse_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	resp_t *rs = arg;
	size_t n = size * nmemb, i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\n') {
			size_t l = rs->line_len;
			int r;

			if (l > 0 && rs->line[l - 1] == '\r')
				l--;
			r = sse_line(rs, rs->line != NULL ? rs->line : "", l);
			rs->line_len = 0;
			if (r != 0) {
				rs->ev_stop = r;
				return 0;
			}
			continue;
		}
		if (rs->line_len + 1 >= rs->line_cap) {
			size_t cap = rs->line_cap ? rs->line_cap * 2 : 256;
			char *nl;

			if (cap > (1u << 20) || (nl = realloc(rs->line, cap)) == NULL) {
				rs->ev_stop = JF_ERR_TOOBIG;
				return 0;
			}
			rs->line = nl;
			rs->line_cap = cap;
		}
		rs->line[rs->line_len++] = c;
	}
	return n;
}

/* Error answers to an event request are small JSON bodies: keep them
 * aside instead of parsing them as events. */
typedef struct sse_ctx {
	resp_t *rs;
	CURL *c;
} sse_ctx_t;

static size_t
sse_or_body_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	sse_ctx_t *sc = arg;
	long status = 0;

	curl_easy_getinfo(sc->c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return write_cb(p, size, nmemb, sc->rs);
	return sse_write_cb(p, size, nmemb, sc->rs);
}

int
jf_farm_events(jf_farm_t *f, const char *last_id, int duration_ms,
    jf_farm_event_fn fn, void *arg, char *last_id_out, size_t last_id_len,
    char *err, size_t errlen)
{
	resp_t rs = { .max = 65536 };
	sse_ctx_t sc = { .rs = &rs, .c = f->curl };
	char url[1100];
	struct curl_slist *hdrs = NULL, *h;
	CURLcode cc;
	long status = 0;
	int r = JF_ERR_IO;

	if (last_id_out != NULL && last_id_len > 0)
		jf_strlcpy(last_id_out, last_id != NULL ? last_id : "", last_id_len);
	rs.ev_fn = fn;
	rs.ev_arg = arg;
	rs.last_id_out = last_id_out;
	rs.last_id_len = last_id_len;
	snprintf(url, sizeof(url), "%s/v1/events", f->base);
	curl_easy_reset(f->curl);
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	curl_easy_setopt(f->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)f->connect_timeout_ms);
	curl_easy_setopt(f->curl, CURLOPT_TIMEOUT_MS, (long)(duration_ms > 0 ? duration_ms : 0));
	if (f->unix_path[0])
		curl_easy_setopt(f->curl, CURLOPT_UNIX_SOCKET_PATH, f->unix_path);
	curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, sse_or_body_cb);
	curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, &sc);
	for (h = f->auth; h != NULL; h = h->next)
		if ((hdrs = curl_slist_append(hdrs, h->data)) == NULL)
			goto nomem;
	if ((hdrs = curl_slist_append(hdrs, "Accept: text/event-stream")) == NULL)
		goto nomem;
	if (last_id != NULL && *last_id != '\0') {
		char hl[EV_ID_MAX + 32];

		snprintf(hl, sizeof(hl), "Last-Event-ID: %s", last_id);
		if ((hdrs = curl_slist_append(hdrs, hl)) == NULL)
			goto nomem;
	}
	curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(f->curl);
	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 0 && status != 200) {
		r = status_err(status, &rs, err, errlen);
	} else if (rs.ev_stop != 0) {
		r = rs.ev_stop;
	} else if (cc == CURLE_OK || (cc == CURLE_OPERATION_TIMEDOUT && status == 200)) {
		r = 0;
	} else {
		r = jf_seterr(err, errlen, cc == CURLE_OPERATION_TIMEDOUT ? JF_ERR_TIMEOUT : JF_ERR_IO,
		    "GET %s: %s", url, curl_easy_strerror(cc));
	}
	goto out;
nomem:
	r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
out:
	curl_slist_free_all(hdrs);
	resp_free(&rs);
	return r;
}
