/*
 * farmclient.c - the libcurl client of farmclient.h.
 *
 * One curl easy handle per jf_farm_t, reused across calls so that the
 * connection to the master stays open (a cache hit is then one round
 * trip). Every response body is collected into a growing buffer with a
 * hard cap (the blob format's own maximum), and headers are parsed as
 * they arrive. Error bodies are the master's {"error","message"} JSON,
 * read with jansson (common/json.h). Farm URLs are parsed by curl_url()
 * (common/url.h), so http://[::1]:7070 works.
 *
 * Library code: every allocation is checked and comes back as
 * JF_ERR_NOMEM; nothing here aborts. Buffers handed to the caller are
 * freed with jf_free.
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
#include "common/json.h"
#include "common/mem.h"
#include "common/url.h"
#include "common/util.h"
#include "client/farmclient.h"

#define BODY_MAX ((size_t)JF_BLOB_MAX_PAYLOAD + JF_BLOB_MAX_MANIFEST + 4096)
#define LIST_MAX ((size_t)256 << 20)

struct jf_farm {
	CURL *curl;
	char base[1024];                /* http://host:port[/prefix], no trailing / */
	char unix_path[512];            /* "" unless unix: */
	char user[256], password[256];  /* userinfo of the URL, "" when none */
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

/* Where the farm is: base URL (no trailing '/'), or a Unix socket path
 * with a placeholder host for the Host header. */
static int
farm_url_set(jf_farm_t *f, const char *url, char *err, size_t errlen)
{
	jf_url_t *u = jf_malloc(sizeof(*u));
	char host[300], path[3 * JF_URL_PART_MAX];
	size_t n;
	int r;

	if (u == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
	if ((r = jf_url_parse(url, u, err, errlen)) != 0)
		goto out;
	r = JF_ERR_INVAL;
	if (strcmp(u->scheme, "unix") == 0) {
		/* unix:/path and unix:///path both name a socket path */
		if (u->path[0] == '\0' || strcmp(u->path, "/") == 0 || jf_strlcpy(f->unix_path,
		    u->path, sizeof(f->unix_path)) >= sizeof(f->unix_path)) {
			r = jf_seterr(err, errlen, JF_ERR_INVAL, "bad unix socket path in %s", url);
			goto out;
		}
		jf_strlcpy(f->base, "http://localhost", sizeof(f->base));
		r = 0;
		goto out;
	}
	if ((strcmp(u->scheme, "http") != 0 && strcmp(u->scheme, "https") != 0) ||
	    u->host[0] == '\0') {
		r = jf_seterr(err, errlen, JF_ERR_INVAL,
		    "farm URL must be http://host:port or unix:PATH, not %s", url);
		goto out;
	}
	jf_url_host_fmt(u->host, host, sizeof(host));
	if (jf_url_encode(u->path, 1, path, sizeof(path)) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_INVAL, "farm URL too long");
		goto out;
	}
	n = (size_t)snprintf(f->base, sizeof(f->base), "%s://%s", u->scheme, host);
	if (u->port > 0 && n < sizeof(f->base))
		n += (size_t)snprintf(f->base + n, sizeof(f->base) - n, ":%d", u->port);
	if (n < sizeof(f->base))
		n += (size_t)snprintf(f->base + n, sizeof(f->base) - n, "%s", path);
	if (n >= sizeof(f->base)) {
		r = jf_seterr(err, errlen, JF_ERR_INVAL, "farm URL too long");
		goto out;
	}
	while (n > 0 && f->base[n - 1] == '/')
		f->base[--n] = '\0';
	jf_strlcpy(f->user, u->user, sizeof(f->user));
	jf_strlcpy(f->password, u->password, sizeof(f->password));
	r = 0;
out:
	jf_free(u);
	return r;
}

/* The Authorization header for a bearer token. */
static int
farm_token_set(jf_farm_t *f, const char *token, char *err, size_t errlen)
{
	jf_buf_t h = JF_BUF_INIT;

	if (token == NULL || *token == '\0')
		return 0;
	if (strpbrk(token, "\r\n") != NULL)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "token holds a line break");
	jf_buf_printf(&h, "Authorization: Bearer %s", token);
	if (!jf_buf_error(&h))
		f->auth = curl_slist_append(NULL, (const char *)h.p);
	explicit_bzero(h.p, h.len);
	jf_buf_free(&h);
	return f->auth == NULL ? jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory") : 0;
}

int
jf_farm_open(const jf_farm_opts_t *o, jf_farm_t **out, char *err, size_t errlen)
{
	jf_farm_t *f = NULL;
	int r = JF_ERR_INVAL;

	*out = NULL;
	if (o == NULL || o->url == NULL || *o->url == '\0') {
		r = jf_seterr(err, errlen, JF_ERR_INVAL, "no farm URL");
		goto out;
	}
	pthread_once(&curl_once, curl_init_once);
	if ((f = jf_calloc(1, sizeof(*f))) == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = farm_url_set(f, o->url, err, errlen)) != 0 ||
	    (r = farm_token_set(f, o->token, err, errlen)) != 0)
		goto out;
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
	explicit_bzero(f->password, sizeof(f->password));
	jf_free(f);
}

void
jf_farm_result_free(jf_farm_result_t *res)
{
	if (res == NULL)
		return;
	jf_free(res->blob);
	res->blob = NULL;
	res->blob_len = 0;
}

/* --- response collection -------------------------------------------------- */

static int
resp_append(resp_t *rs, const void *p, size_t n)
{
	if (n > rs->max - rs->len)
		return -1;
	if (jf_vec_grow((void **)&rs->body, &rs->cap, rs->len + n + 1, 1) != 0)
		return -1;
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
	jf_free(rs->body);
}

/* The master's error body: {"error": NAME, "message": MSG}. Anything
 * else (not JSON, other types) leaves both empty. */
static void
error_body_read(const resp_t *rs, char *name, size_t namelen, char *msg, size_t msglen)
{
	json_t *j = NULL;
	const char *v;

	name[0] = msg[0] = '\0';
	if (rs->body == NULL || jf_json_parse(rs->body, rs->len, &j, NULL, 0) != 0)
		return;
	if ((v = json_string_value(json_object_get(j, "error"))) != NULL)
		jf_strlcpy(name, v, namelen);
	if ((v = json_string_value(json_object_get(j, "message"))) != NULL)
		jf_strlcpy(msg, v, msglen);
	json_decref(j);
}

/* Turn a non-2xx answer into a jf_err with the master's message. */
static int
status_err(long status, const resp_t *rs, char *err, size_t errlen)
{
	char name[64], msg[1024];
	int code;

	error_body_read(rs, name, sizeof(name), msg, sizeof(msg));
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
	if (f->user[0]) {
		curl_easy_setopt(c, CURLOPT_USERNAME, f->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, f->password);
	}
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

/* Append "&name=value" with value percent-encoded. */
static int
add_param(char *q, size_t qlen, const char *name, const char *value)
{
	size_t n = strlen(q);
	int w;

	if (value == NULL || *value == '\0')
		return 0;
	w = snprintf(q + n, qlen - n, "%s%s=", n ? "&" : "", name);
	if (w < 0 || (size_t)w >= qlen - n)
		return JF_ERR_TOOBIG;
	n += (size_t)w;
	return jf_url_encode(value, 0, q + n, qlen - n);
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
	opt[0] = cr->spec.opt;
	if (cr->spec.has_program)
		jf_key_hex(&cr->spec.program_id, pid);
	if ((r = add_param(q, sizeof(q), "opt", opt)) != 0 ||
	    (r = add_param(q, sizeof(q), "triple", cr->spec.triple)) != 0 ||
	    (r = add_param(q, sizeof(q), "cpu", cr->spec.cpu)) != 0 ||
	    (r = add_param(q, sizeof(q), "features", cr->spec.features)) != 0 ||
	    (r = add_param(q, sizeof(q), "namespace", cr->spec.ns)) != 0 ||
	    (r = add_param(q, sizeof(q), "program", pid)) != 0 ||
	    (r = add_param(q, sizeof(q), "wait", cr->nowait ? "0" : "1")) != 0) {
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
