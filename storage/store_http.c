/*
 * store_http.c - the HTTP stores (libcurl): plain HTTP or WebDAV, as
 * nginx serves it (http:// and https://), and S3 with SigV4 (s3://).
 * Both lay their objects out the same way under a base:
 *
 *   BASE/a/<ab>/<hex>               the blob, fanned out by its first byte
 *   BASE/j/<hour>/<ts>-<hex>        an empty journal object per put; <ts>
 *                                   is 20 digits of wall-clock ns, <hour>
 *                                   8 digits of ts / 3600 s
 *
 * HTTP: BASE is the URL (http://host/path). A listing is nginx's
 * autoindex in JSON (autoindex_format json). Auth is basic (user:pw@ in
 * the URL) or a bearer token ($JITFARM_STORE_TOKEN or ?token_file=PATH).
 *
 * S3: s3://bucket/prefix?endpoint=http://host:port&region=R, path-style;
 * without an endpoint, https://s3.R.amazonaws.com. Requests are signed by
 * libcurl (CURLOPT_AWS_SIGV4) with $AWS_ACCESS_KEY_ID and
 * $AWS_SECRET_ACCESS_KEY ($AWS_SESSION_TOKEN when set); the body is sent
 * as UNSIGNED-PAYLOAD in x-amz-content-sha256, which S3 requires and
 * libcurl uses as the payload hash. Listings are ListObjectsV2 with
 * continuation tokens, parsed with bounded scans.
 *
 * Watch polls the journal: names sort by time, so a watcher asks for the
 * names after its cursor. Writers' PUTs can finish out of time order (and
 * clocks differ a little), so each poll looks back lookback_ms before the
 * cursor and skips names this handle already delivered: an entry that
 * lands late is still delivered, at least once. The cursor is a journal
 * name; jf_store_cursor returns "now" as one, without a request.
 *
 * One easy handle per store keeps its connection alive between requests.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/util.h"
#include "store.h"

#define HS_MAX_BODY ((size_t)JF_BLOB_HEADER_LEN + JF_BLOB_MAX_MANIFEST + \
	JF_BLOB_MAX_PAYLOAD + JF_SIG_LEN)
#define HS_MAX_LISTING (64u << 20)
#define HS_HOUR_NS 3600000000000ull
#define HS_NAME_LEN (8 + 1 + 20 + 1 + JF_KEY_HEX_LEN)   /* hour/ts-hex */

typedef struct seen {
	char name[HS_NAME_LEN + 1];
} seen_t;

typedef struct hs {
	CURL *h;
	int s3;
	char base[2048];                /* request URL prefix, no trailing '/' */
	char shown[512];                /* base without credentials, for messages */
	char key_prefix[512];           /* s3: object key prefix ("" or "p/") */
	char bucket_url[1536];          /* s3: endpoint/bucket */
	char sigv4[160];
	char userpwd[1024];
	struct curl_slist *hdrs;
	int connect_ms, op_ms, page;
	long poll_ms, lookback_ms;
	/* the last response */
	uint8_t *body;
	size_t len, cap, max;
	long status;
	/* watch: names delivered inside the lookback window */
	seen_t *seen;
	size_t nseen, capseen;
	char err[768];
} hs_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void
curl_init_once(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* --- requests ------------------------------------------------------------------ */

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	hs_t *s = arg;
	size_t add = sz * n;

	if (add > s->max - s->len)
		return 0;       /* over the limit: curl fails with a write error */
	if (s->len + add + 1 > s->cap) {
		size_t nc = s->cap ? s->cap : 65536;
		uint8_t *nb;

		while (nc < s->len + add + 1)
			nc *= 2;
		if ((nb = realloc(s->body, nc)) == NULL)
			return 0;
		s->body = nb;
		s->cap = nc;
	}
	memcpy(s->body + s->len, p, add);
	s->len += add;
	s->body[s->len] = '\0';
	return add;
}

/*
 * One request: method on url (a full URL), with an optional body. The
 * response body lands in s->body/s->len (NUL-terminated), the status in
 * s->status. Returns 0 for any HTTP answer, or a transport error.
 */
static int
request(hs_t *s, const char *method, const char *url, const uint8_t *body, size_t blen,
    size_t max)
{
	CURLcode cc;
	int rc;

	s->len = 0;
	s->status = 0;
	s->max = max;
	if (s->body)
		s->body[0] = '\0';
	curl_easy_setopt(s->h, CURLOPT_URL, url);
	curl_easy_setopt(s->h, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
		curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, "PUT");
	} else {
		curl_easy_setopt(s->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(s->h, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
		curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST,
		    strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ? NULL : method);
	}
	cc = curl_easy_perform(s->h);
	if (cc != CURLE_OK) {
		switch (cc) {
		case CURLE_OPERATION_TIMEDOUT:
			rc = JF_ERR_TIMEOUT;
			break;
		case CURLE_OUT_OF_MEMORY:
			rc = JF_ERR_NOMEM;
			break;
		case CURLE_WRITE_ERROR:
			rc = s->len + 65536 > s->max ? JF_ERR_TOOBIG : JF_ERR_NOMEM;
			break;
		default:
			rc = JF_ERR_STORE;
		}
		snprintf(s->err, sizeof(s->err), "%s %s: %s", method, s->shown,
		    curl_easy_strerror(cc));
		return rc;
	}
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
	return 0;
}

/* Map a status that is not a success to an error code and a message. */
static int
status_fail(hs_t *s, const char *method, const char *what)
{
	int rc;

	if (s->status == 404)
		rc = JF_ERR_NOTFOUND;
	else if (s->status == 401 || s->status == 403)
		rc = JF_ERR_AUTH;
	else if (s->status == 408 || s->status == 429 || s->status >= 500)
		rc = JF_ERR_STORE;
	else
		rc = JF_ERR_PROTO;
	if (rc != JF_ERR_NOTFOUND)
		snprintf(s->err, sizeof(s->err), "%s %s/%s: HTTP %ld%s%.200s", method, s->shown,
		    what, s->status, s->len ? ": " : "", s->len ? (const char *)s->body : "");
	return rc;
}

static void
blob_path(const hs_t *s, const jf_key_t *k, char *buf, size_t len)
{
	char hex[JF_KEY_HEX_LEN + 1];

	jf_key_hex(k, hex);
	snprintf(buf, len, "a/%.2s/%s", hex, hex);
}

static void
url_for(const hs_t *s, const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", s->base, path);
}

/* --- open ------------------------------------------------------------------------ */

static int
read_token(const char *path, char *buf, size_t len)
{
	uint8_t *t = NULL;
	size_t n = 0;
	int rc;

	if ((rc = jf_file_read(path, 4096, &t, &n)) != 0)
		return rc;
	while (n > 0 && isspace(t[n - 1]))
		n--;
	if (n == 0 || n >= len) {
		free(t);
		return JF_ERR_INVAL;
	}
	memcpy(buf, t, n);
	buf[n] = '\0';
	free(t);
	return 0;
}

static int
add_header(hs_t *s, const char *h)
{
	struct curl_slist *n = curl_slist_append(s->hdrs, h);

	if (n == NULL)
		return JF_ERR_NOMEM;
	s->hdrs = n;
	return 0;
}

static int
hs_open_common(hs_t *s, const jf_store_opts_t *o, const char *url, char *err, size_t errlen)
{
	s->connect_ms = o->connect_timeout_ms;
	s->op_ms = o->op_timeout_ms;
	s->page = o->page_size;
	s->poll_ms = jf_store_url_long(url, "poll_ms", 200);
	s->lookback_ms = jf_store_url_long(url, "lookback_ms", 10000);
	if (s->poll_ms <= 0 || s->lookback_ms < 0)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "bad poll_ms or lookback_ms");
	pthread_once(&curl_once, curl_init_once);
	if (!curl_ok || (s->h = curl_easy_init()) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "libcurl did not initialise");
	/* no body caching, no 100-continue round trip, binary bodies */
	if (add_header(s, "Expect:") != 0 ||
	    add_header(s, "Content-Type: application/octet-stream") != 0)
		return JF_ERR_NOMEM;
	curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT_MS, (long)s->connect_ms);
	curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, (long)s->op_ms);
	curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(s->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(s->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "http,https");
	return 0;
}

static void hs_close(void *self);

static int
http_open(const char *url, const jf_store_opts_t *o, void **self, char *err, size_t errlen)
{
	hs_t *s;
	const char *q = strchr(url, '?'), *p, *at, *hostend;
	size_t n = q ? (size_t)(q - url) : strlen(url);
	char tok[1024], path[1024], hdr[1100];
	int rc;

	*self = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return JF_ERR_NOMEM;
	if (n >= sizeof(s->base)) {
		rc = jf_seterr(err, errlen, JF_ERR_INVAL, "store URL too long");
		goto fail;
	}
	memcpy(s->base, url, n);
	while (n > 0 && s->base[n - 1] == '/')
		s->base[--n] = '\0';
	/* the URL without credentials, for messages */
	p = strstr(s->base, "://") + 3;
	hostend = p + strcspn(p, "/");
	at = memchr(p, '@', (size_t)(hostend - p));
	snprintf(s->shown, sizeof(s->shown), "%.*s%s", (int)(p - s->base), s->base, at ? at + 1 : p);
	if ((rc = hs_open_common(s, o, url, err, errlen)) != 0)
		goto fail;
	tok[0] = '\0';
	if (jf_store_url_param(url, "token_file", path, sizeof(path)) == 1) {
		if ((rc = read_token(path, tok, sizeof(tok))) != 0) {
			jf_seterr(err, errlen, rc, "cannot read the token file %s", path);
			goto fail;
		}
	} else if (getenv("JITFARM_STORE_TOKEN") && *getenv("JITFARM_STORE_TOKEN")) {
		jf_strlcpy(tok, getenv("JITFARM_STORE_TOKEN"), sizeof(tok));
	}
	if (tok[0]) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tok);
		if ((rc = add_header(s, hdr)) != 0)
			goto fail;
	}
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdrs);
	*self = s;
	return 0;
fail:
	hs_close(s);
	return rc;
}

static int
s3_open(const char *url, const jf_store_opts_t *o, void **self, char *err, size_t errlen)
{
	hs_t *s;
	const char *p = url + 5, *slash, *q, *id, *secret, *token;
	char endpoint[1024], region[64], hdr[4200];
	size_t blen;
	int rc;

	*self = NULL;
	if (strncmp(url, "s3://", 5) != 0)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "not an s3:// URL");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return JF_ERR_NOMEM;
	s->s3 = 1;
	q = p + strcspn(p, "?");
	slash = memchr(p, '/', (size_t)(q - p));
	blen = slash ? (size_t)(slash - p) : (size_t)(q - p);
	if (blen == 0 || blen > 63) {
		rc = jf_seterr(err, errlen, JF_ERR_INVAL, "s3 URL needs a bucket: s3://bucket/prefix");
		goto fail;
	}
	if (slash && q - slash > 1) {
		size_t pl = (size_t)(q - slash - 1);

		if (pl + 2 >= sizeof(s->key_prefix)) {
			rc = jf_seterr(err, errlen, JF_ERR_INVAL, "s3 prefix too long");
			goto fail;
		}
		memcpy(s->key_prefix, slash + 1, pl);
		while (pl > 0 && s->key_prefix[pl - 1] == '/')
			s->key_prefix[--pl] = '\0';
		if (pl > 0)
			s->key_prefix[pl++] = '/';
		s->key_prefix[pl] = '\0';
	}
	if (jf_store_url_param(url, "region", region, sizeof(region)) != 1 || !region[0])
		snprintf(region, sizeof(region), "us-east-1");
	if (jf_store_url_param(url, "endpoint", endpoint, sizeof(endpoint)) != 1 || !endpoint[0])
		snprintf(endpoint, sizeof(endpoint), "https://s3.%s.amazonaws.com", region);
	while (strlen(endpoint) > 0 && endpoint[strlen(endpoint) - 1] == '/')
		endpoint[strlen(endpoint) - 1] = '\0';
	snprintf(s->bucket_url, sizeof(s->bucket_url), "%s/%.*s", endpoint, (int)blen, p);
	snprintf(s->base, sizeof(s->base), "%s/%.*s", s->bucket_url,
	    (int)(strlen(s->key_prefix) ? strlen(s->key_prefix) - 1 : 0), s->key_prefix);
	if (!s->key_prefix[0])
		jf_strlcpy(s->base, s->bucket_url, sizeof(s->base));
	snprintf(s->shown, sizeof(s->shown), "s3://%.*s/%s", (int)blen, p, s->key_prefix);
	if ((rc = hs_open_common(s, o, url, err, errlen)) != 0)
		goto fail;
	id = getenv("AWS_ACCESS_KEY_ID");
	secret = getenv("AWS_SECRET_ACCESS_KEY");
	token = getenv("AWS_SESSION_TOKEN");
	if (id == NULL || !*id || secret == NULL || !*secret) {
		rc = jf_seterr(err, errlen, JF_ERR_AUTH,
		    "s3 store: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set");
		goto fail;
	}
	snprintf(s->userpwd, sizeof(s->userpwd), "%s:%s", id, secret);
	snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", region);
	if ((rc = add_header(s, "x-amz-content-sha256: UNSIGNED-PAYLOAD")) != 0)
		goto fail;
	if (token && *token) {
		snprintf(hdr, sizeof(hdr), "x-amz-security-token: %s", token);
		if ((rc = add_header(s, hdr)) != 0)
			goto fail;
	}
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(s->h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(s->h, CURLOPT_USERPWD, s->userpwd);
	*self = s;
	return 0;
fail:
	hs_close(s);
	return rc;
}

/* --- entries ------------------------------------------------------------------------ */

static int
hs_get(void *self, const jf_key_t *k, uint8_t **blob, size_t *len)
{
	hs_t *s = self;
	char path[256], url[2400];
	int rc;

	blob_path(s, k, path, sizeof(path));
	url_for(s, path, url, sizeof(url));
	if ((rc = request(s, "GET", url, NULL, 0, HS_MAX_BODY)) != 0)
		return rc;
	if (s->status != 200)
		return status_fail(s, "GET", path);
	/* hand the response buffer over: no copy of a large blob */
	*blob = s->body;
	s->body = NULL;
	s->cap = 0;
	*len = s->len;
	return 0;
}

static uint64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
journal_name(uint64_t ts, const char *hex, char *buf, size_t len)
{
	snprintf(buf, len, "%08llu/%020llu-%s", (unsigned long long)(ts / HS_HOUR_NS),
	    (unsigned long long)ts, hex);
}

static int
hs_put(void *self, const jf_key_t *k, const uint8_t *blob, size_t len)
{
	hs_t *s = self;
	char path[256], url[2400], hex[JF_KEY_HEX_LEN + 1], name[HS_NAME_LEN + 8];
	int rc;

	blob_path(s, k, path, sizeof(path));
	url_for(s, path, url, sizeof(url));
	if ((rc = request(s, "PUT", url, blob, len, 65536)) != 0)
		return rc;
	if (s->status != 200 && s->status != 201 && s->status != 204)
		return status_fail(s, "PUT", path);
	/* then announce it: the entry is complete before anyone hears of it */
	jf_key_hex(k, hex);
	journal_name(wall_ns(), hex, name, sizeof(name));
	snprintf(path, sizeof(path), "j/%s", name);
	url_for(s, path, url, sizeof(url));
	if ((rc = request(s, "PUT", url, NULL, 0, 65536)) != 0)
		return rc;
	if (s->status != 200 && s->status != 201 && s->status != 204)
		return status_fail(s, "PUT", path);
	return 0;
}

static int
hs_exists(void *self, const jf_key_t *k)
{
	hs_t *s = self;
	char path[256], url[2400];
	int rc;

	blob_path(s, k, path, sizeof(path));
	url_for(s, path, url, sizeof(url));
	if ((rc = request(s, "HEAD", url, NULL, 0, 65536)) != 0)
		return rc;
	return s->status == 200 ? 0 : status_fail(s, "HEAD", path);
}

static int
hs_del(void *self, const jf_key_t *k)
{
	hs_t *s = self;
	char path[256], url[2400];
	int rc;

	/* S3 answers 204 whether or not the object was there */
	if (s->s3 && (rc = hs_exists(self, k)) != 0)
		return rc;
	blob_path(s, k, path, sizeof(path));
	url_for(s, path, url, sizeof(url));
	if ((rc = request(s, "DELETE", url, NULL, 0, 65536)) != 0)
		return rc;
	if (s->status != 200 && s->status != 204)
		return status_fail(s, "DELETE", path);
	return 0;
}

/* --- listings ---------------------------------------------------------------------- */

typedef int (*name_fn)(hs_t *s, const char *name, size_t nlen, int is_dir, uint64_t size,
    uint64_t mtime_ms, void *arg);

/* Find needle in [p, end); NULL if absent. */
static const char *
find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	if (p >= end || (size_t)(end - p) < n)
		return NULL;
	return memmem(p, (size_t)(end - p), needle, n);
}

/* A JSON string value after "field": in [p, end); no escapes allowed. */
static int
json_str(const char *p, const char *end, const char *field, const char **v, size_t *vlen)
{
	char pat[64];
	const char *a, *b;

	snprintf(pat, sizeof(pat), "\"%s\":", field);
	if ((a = find(p, end, pat)) == NULL)
		return -1;
	a += strlen(pat);
	while (a < end && *a == ' ')
		a++;
	if (a >= end || *a != '"')
		return -1;
	a++;
	for (b = a; b < end && *b != '"'; b++)
		if (*b == '\\')
			return -1;
	if (b >= end)
		return -1;
	*v = a;
	*vlen = (size_t)(b - a);
	return 0;
}

/* nginx autoindex_format json: [{ "name":"x", "type":"file", "mtime":"...", "size":N }, ...] */
static int
parse_autoindex(hs_t *s, const char *body, size_t len, name_fn fn, void *arg)
{
	const char *p = body, *end = body + len;
	int rc = 0;

	while (rc == 0 && (p = memchr(p, '{', (size_t)(end - p))) != NULL) {
		const char *close = memchr(p, '}', (size_t)(end - p)), *name, *type, *mt, *sz;
		size_t nlen, tlen, mlen;
		uint64_t size = 0, mtime = 0;

		if (close == NULL)
			break;
		if (json_str(p, close, "name", &name, &nlen) == 0 &&
		    json_str(p, close, "type", &type, &tlen) == 0) {
			if (json_str(p, close, "mtime", &mt, &mlen) == 0 && mlen < 64) {
				char d[64];
				time_t t;

				memcpy(d, mt, mlen);
				d[mlen] = '\0';
				if ((t = curl_getdate(d, NULL)) > 0)
					mtime = (uint64_t)t * 1000;
			}
			if ((sz = find(p, close, "\"size\":")) != NULL)
				size = strtoull(sz + 7, NULL, 10);
			rc = fn(s, name, nlen, tlen == 9 && memcmp(type, "directory", 9) == 0, size,
			    mtime, arg);
		}
		p = close + 1;
	}
	return rc;
}

/* GET a listing URL (nginx JSON) and walk it. A missing dir is empty. */
static int
http_listing(hs_t *s, const char *path, name_fn fn, void *arg)
{
	char url[2400];
	uint8_t *copy;
	size_t len;
	int rc;

	url_for(s, path, url, sizeof(url));
	if ((rc = request(s, "GET", url, NULL, 0, HS_MAX_LISTING)) != 0)
		return rc;
	if (s->status == 404)
		return 0;
	if (s->status != 200)
		return status_fail(s, "GET", path);
	/* the callbacks may issue requests of their own */
	len = s->len;
	if ((copy = malloc(len + 1)) == NULL)
		return JF_ERR_NOMEM;
	memcpy(copy, s->body, len + 1);
	rc = parse_autoindex(s, (const char *)copy, len, fn, arg);
	free(copy);
	return rc;
}

static void
xml_unescape(char *s)
{
	static const struct {
		const char *e;
		char c;
	} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' } };
	char *r = s, *w = s;

	while (*r) {
		size_t i;

		for (i = 0; i < JF_ARRAY_LEN(ents); i++) {
			size_t n = strlen(ents[i].e);

			if (strncmp(r, ents[i].e, n) == 0) {
				*w++ = ents[i].c;
				r += n;
				break;
			}
		}
		if (i == JF_ARRAY_LEN(ents))
			*w++ = *r++;
	}
	*w = '\0';
}

/* The text of <tag>...</tag> inside [p, end). */
static int
xml_text(const char *p, const char *end, const char *tag, const char **v, size_t *vlen)
{
	char open[64], close[64];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if ((a = find(p, end, open)) == NULL)
		return -1;
	a += strlen(open);
	if ((b = find(a, end, close)) == NULL)
		return -1;
	*v = a;
	*vlen = (size_t)(b - a);
	return 0;
}

static void
pct_encode(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in && o + 4 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
	}
	out[o] = '\0';
}

static uint64_t
iso_ms(const char *v, size_t n)
{
	char d[64];
	struct tm tm = { 0 };
	int y, mo, da, h, mi, se;

	if (n >= sizeof(d))
		return 0;
	memcpy(d, v, n);
	d[n] = '\0';
	if (sscanf(d, "%d-%d-%dT%d:%d:%d", &y, &mo, &da, &h, &mi, &se) != 6)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = da;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (uint64_t)timegm(&tm) * 1000;
}

/*
 * ListObjectsV2 under the key prefix + sub, after start_after (a key
 * relative to the key prefix; may be ""), page by page. fn gets each key
 * relative to the key prefix.
 */
static int
s3_listing(hs_t *s, const char *sub, const char *start_after, name_fn fn, void *arg)
{
	char token[2048] = "", url[8192], enc_prefix[1600], enc_token[6200], enc_after[1600],
	    full[1200];
	int rc = 0;

	snprintf(full, sizeof(full), "%s%s", s->key_prefix, sub);
	pct_encode(full, enc_prefix, sizeof(enc_prefix));
	enc_after[0] = '\0';
	if (start_after && *start_after) {
		snprintf(full, sizeof(full), "%s%s", s->key_prefix, start_after);
		pct_encode(full, enc_after, sizeof(enc_after));
	}
	for (;;) {
		const char *p, *end, *v;
		size_t vlen, plen = strlen(s->key_prefix);
		uint8_t *copy;
		size_t len;
		int truncated;

		/* query parameters in canonical (sorted) order, as SigV4 signs them */
		pct_encode(token, enc_token, sizeof(enc_token));
		snprintf(url, sizeof(url), "%s?%s%s%slist-type=2&max-keys=%d&prefix=%s%s%s",
		    s->bucket_url, token[0] ? "continuation-token=" : "", token[0] ? enc_token : "",
		    token[0] ? "&" : "", s->page, enc_prefix,
		    enc_after[0] ? "&start-after=" : "", enc_after);
		if ((rc = request(s, "GET", url, NULL, 0, HS_MAX_LISTING)) != 0)
			return rc;
		if (s->status != 200)
			return status_fail(s, "GET", "?list-type=2");
		len = s->len;
		if ((copy = malloc(len + 1)) == NULL)
			return JF_ERR_NOMEM;
		memcpy(copy, s->body, len + 1);
		p = (const char *)copy;
		end = p + len;
		truncated = xml_text(p, end, "IsTruncated", &v, &vlen) == 0 && vlen == 4 &&
		    memcmp(v, "true", 4) == 0;
		token[0] = '\0';
		if (truncated && xml_text(p, end, "NextContinuationToken", &v, &vlen) == 0 &&
		    vlen < sizeof(token)) {
			memcpy(token, v, vlen);
			token[vlen] = '\0';
			xml_unescape(token);
		}
		while (rc == 0 && (p = find(p, end, "<Contents>")) != NULL) {
			const char *ce = find(p, end, "</Contents>"), *key;
			size_t klen;
			uint64_t size = 0, mtime = 0;

			if (ce == NULL)
				break;
			if (xml_text(p, ce, "Key", &key, &klen) == 0 && klen > plen &&
			    memcmp(key, s->key_prefix, plen) == 0) {
				if (xml_text(p, ce, "Size", &v, &vlen) == 0)
					size = strtoull(v, NULL, 10);
				if (xml_text(p, ce, "LastModified", &v, &vlen) == 0)
					mtime = iso_ms(v, vlen);
				rc = fn(s, key + plen, klen - plen, 0, size, mtime, arg);
			}
			p = ce + 11;
		}
		free(copy);
		if (rc != 0 || !truncated)
			return rc;
		if (!token[0]) {
			snprintf(s->err, sizeof(s->err), "s3 listing truncated without a token");
			return JF_ERR_PROTO;
		}
	}
}

typedef struct list_ctx {
	jf_store_list_fn fn;
	void *arg;
} list_ctx_t;

static int
is_hex(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i]))
			return 0;
	return 1;
}

/* A blob's name (the last path element) as an entry. */
static int
on_blob(hs_t *s, const char *name, size_t nlen, int is_dir, uint64_t size, uint64_t mtime,
    void *arg)
{
	list_ctx_t *c = arg;
	jf_store_entry_t e = { .size = size, .mtime_ms = mtime };
	char hex[JF_KEY_HEX_LEN + 1];

	if (is_dir || nlen < JF_KEY_HEX_LEN)
		return 0;
	memcpy(hex, name + nlen - JF_KEY_HEX_LEN, JF_KEY_HEX_LEN);
	hex[JF_KEY_HEX_LEN] = '\0';
	if (!is_hex(hex, JF_KEY_HEX_LEN) || jf_key_from_hex(hex, &e.key) != 0)
		return 0;
	if (nlen > JF_KEY_HEX_LEN && name[nlen - JF_KEY_HEX_LEN - 1] != '/')
		return 0;
	return c->fn(&e, c->arg);
}

static int
on_fan_dir(hs_t *s, const char *name, size_t nlen, int is_dir, uint64_t size, uint64_t mtime,
    void *arg)
{
	char path[64];

	if (!is_dir || nlen != 2 || !is_hex(name, 2))
		return 0;
	snprintf(path, sizeof(path), "a/%.2s/", name);
	return http_listing(s, path, on_blob, arg);
}

static int
hs_list(void *self, jf_store_list_fn fn, void *arg)
{
	hs_t *s = self;
	list_ctx_t c = { fn, arg };

	if (s->s3)
		return s3_listing(s, "a/", "", on_blob, &c);
	return http_listing(s, "a/", on_fan_dir, &c);
}

/* --- load_all: parallel GETs ---------------------------------------------------------- */

#define HS_PAR 8                        /* transfers in flight */

typedef struct xfer {
	CURL *h;
	uint8_t *buf;
	size_t len, cap;
	size_t key;                     /* index into the key list */
	int busy;
} xfer_t;

typedef struct keys {
	jf_key_t *v;
	size_t n, cap;
} keys_t;

static int
collect(const jf_store_entry_t *e, void *arg)
{
	keys_t *k = arg;

	if (k->n == k->cap) {
		size_t nc = k->cap ? k->cap * 2 : 1024;
		jf_key_t *nv = realloc(k->v, nc * sizeof(*nv));

		if (nv == NULL)
			return JF_ERR_NOMEM;
		k->v = nv;
		k->cap = nc;
	}
	k->v[k->n++] = e->key;
	return 0;
}

static size_t
on_xbody(char *p, size_t sz, size_t n, void *arg)
{
	xfer_t *x = arg;
	size_t add = sz * n;

	if (add > HS_MAX_BODY - x->len)
		return 0;
	if (x->len + add > x->cap) {
		size_t nc = x->cap ? x->cap : 65536;
		uint8_t *nb;

		while (nc < x->len + add)
			nc *= 2;
		if ((nb = realloc(x->buf, nc)) == NULL)
			return 0;
		x->buf = nb;
		x->cap = nc;
	}
	memcpy(x->buf + x->len, p, add);
	x->len += add;
	return add;
}

static int hs_list(void *self, jf_store_list_fn fn, void *arg);

/*
 * List, then GET every entry with HS_PAR transfers in flight (a multi
 * handle, each transfer on a kept-alive connection of its own). An entry
 * deleted since the listing is skipped; any other failure stops the walk.
 */
static int
hs_load_all(void *self, jf_store_blob_fn fn, void *arg)
{
	hs_t *s = self;
	keys_t keys = { 0 };
	xfer_t x[HS_PAR];
	CURLM *m = NULL;
	size_t next = 0, i;
	int active = 0, rc;

	memset(x, 0, sizeof(x));
	if ((rc = hs_list(self, collect, &keys)) != 0 || keys.n == 0)
		goto out;
	/* a plain GET from the store's handle: its headers, auth and timeouts */
	curl_easy_setopt(s->h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, NULL);
	if ((m = curl_multi_init()) == NULL) {
		rc = JF_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < HS_PAR; i++) {
		if ((x[i].h = curl_easy_duphandle(s->h)) == NULL) {
			rc = JF_ERR_NOMEM;
			goto out;
		}
		curl_easy_setopt(x[i].h, CURLOPT_WRITEFUNCTION, on_xbody);
		curl_easy_setopt(x[i].h, CURLOPT_WRITEDATA, &x[i]);
		curl_easy_setopt(x[i].h, CURLOPT_PRIVATE, &x[i]);
	}
	while (rc == 0 && (next < keys.n || active > 0)) {
		CURLMsg *msg;
		int running, q;

		for (i = 0; i < HS_PAR && next < keys.n; i++) {
			char path[256], url[2400];

			if (x[i].busy)
				continue;
			blob_path(s, &keys.v[next], path, sizeof(path));
			url_for(s, path, url, sizeof(url));
			curl_easy_setopt(x[i].h, CURLOPT_URL, url);
			x[i].len = 0;
			x[i].key = next++;
			if (curl_multi_add_handle(m, x[i].h) != CURLM_OK) {
				rc = JF_ERR_NOMEM;
				break;
			}
			x[i].busy = 1;
			active++;
		}
		if (rc != 0 || curl_multi_perform(m, &running) != CURLM_OK) {
			rc = rc ? rc : JF_ERR_STORE;
			break;
		}
		while (rc == 0 && (msg = curl_multi_info_read(m, &q)) != NULL) {
			xfer_t *t = NULL;
			long status = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			curl_multi_remove_handle(m, msg->easy_handle);
			t->busy = 0;
			active--;
			if (msg->data.result != CURLE_OK) {
				rc = msg->data.result == CURLE_OPERATION_TIMEDOUT ? JF_ERR_TIMEOUT :
				    JF_ERR_STORE;
				snprintf(s->err, sizeof(s->err), "GET %s/a/...: %s", s->shown,
				    curl_easy_strerror(msg->data.result));
				break;
			}
			curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
			if (status == 404)
				continue;       /* deleted since the listing */
			if (status != 200) {
				s->status = status;
				s->len = 0;
				rc = status_fail(s, "GET", "a/...");
				break;
			}
			rc = fn(&keys.v[t->key], t->buf, t->len, arg);
		}
		if (rc == 0 && active > 0)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
out:
	for (i = 0; i < HS_PAR; i++) {
		if (x[i].h) {
			if (x[i].busy)
				curl_multi_remove_handle(m, x[i].h);
			curl_easy_cleanup(x[i].h);
		}
		free(x[i].buf);
	}
	if (m)
		curl_multi_cleanup(m);
	free(keys.v);
	return rc;
}

/* --- watch --------------------------------------------------------------------------- */

/* Parse a journal name "hour/ts-hex" (or the cursor "0"): its ts. */
static int
name_ts(const char *name, size_t n, uint64_t *ts)
{
	char *end;

	if (n == 1 && name[0] == '0') {
		*ts = 0;
		return 0;
	}
	if (n != HS_NAME_LEN || name[8] != '/' || name[29] != '-' || !is_hex(name + 30, 64))
		return -1;
	errno = 0;
	*ts = strtoull(name + 9, &end, 10);
	return end == name + 29 && errno == 0 ? 0 : -1;
}

typedef struct jctx {
	char (*names)[HS_NAME_LEN + 1];
	size_t n, cap;
	uint64_t from;
	const char *hour_prefix;        /* http: "hour/" of the dir being listed */
} jctx_t;

static int
on_journal(hs_t *s, const char *name, size_t nlen, int is_dir, uint64_t size, uint64_t mtime,
    void *arg)
{
	jctx_t *c = arg;
	char full[HS_NAME_LEN + 1];
	uint64_t ts;

	if (is_dir)
		return 0;
	if (c->hour_prefix) {
		if (nlen != HS_NAME_LEN - 9)
			return 0;
		snprintf(full, sizeof(full), "%s%.*s", c->hour_prefix, (int)nlen, name);
	} else {
		/* s3: "j/hour/ts-hex" */
		if (nlen != HS_NAME_LEN + 2 || memcmp(name, "j/", 2) != 0)
			return 0;
		memcpy(full, name + 2, HS_NAME_LEN);
		full[HS_NAME_LEN] = '\0';
	}
	if (name_ts(full, HS_NAME_LEN, &ts) != 0 || ts <= c->from)
		return 0;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 256;
		void *nn = realloc(c->names, nc * sizeof(*c->names));

		if (nn == NULL)
			return JF_ERR_NOMEM;
		c->names = nn;
		c->cap = nc;
	}
	memcpy(c->names[c->n++], full, HS_NAME_LEN + 1);
	return 0;
}

static int
on_hour_dir(hs_t *s, const char *name, size_t nlen, int is_dir, uint64_t size, uint64_t mtime,
    void *arg)
{
	jctx_t *c = arg;
	char path[64], hp[16];
	unsigned long long hour;
	int rc;

	if (!is_dir || nlen != 8 || !isdigit((unsigned char)name[0]))
		return 0;
	hour = strtoull(name, NULL, 10);
	if (hour < c->from / HS_HOUR_NS)
		return 0;
	snprintf(hp, sizeof(hp), "%.8s/", name);
	snprintf(path, sizeof(path), "j/%.8s/", name);
	c->hour_prefix = hp;
	rc = http_listing(s, path, on_journal, c);
	c->hour_prefix = NULL;
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The seen set is kept sorted by name: lookups are binary searches. */
static size_t
seen_pos(const hs_t *s, const char *name, int *found)
{
	size_t lo = 0, hi = s->nseen;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->seen[mid].name, name);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
seen_has(const hs_t *s, const char *name)
{
	int found;

	(void)seen_pos(s, name, &found);
	return found;
}

static int
seen_add(hs_t *s, const char *name)
{
	int found;
	size_t at = seen_pos(s, name, &found);

	if (found)
		return 0;
	if (s->nseen == s->capseen) {
		size_t nc = s->capseen ? s->capseen * 2 : 64;
		seen_t *ns = realloc(s->seen, nc * sizeof(*ns));

		if (ns == NULL)
			return JF_ERR_NOMEM;
		s->seen = ns;
		s->capseen = nc;
	}
	memmove(&s->seen[at + 1], &s->seen[at], (s->nseen - at) * sizeof(*s->seen));
	jf_strlcpy(s->seen[at].name, name, HS_NAME_LEN + 1);
	s->nseen++;
	return 0;
}

static void
seen_prune(hs_t *s, uint64_t from)
{
	size_t i, w = 0;

	for (i = 0; i < s->nseen; i++) {
		uint64_t ts;

		if (name_ts(s->seen[i].name, HS_NAME_LEN, &ts) == 0 && ts > from)
			s->seen[w++] = s->seen[i];
	}
	s->nseen = w;
}

/* The journal names with a time after from, sorted, into c. */
static int
journal_scan(hs_t *s, uint64_t from, jctx_t *c)
{
	int rc;

	c->n = 0;
	c->from = from;
	if (s->s3) {
		char after[64];

		snprintf(after, sizeof(after), "j/%08llu/%020llu",
		    (unsigned long long)(from / HS_HOUR_NS), (unsigned long long)from);
		rc = s3_listing(s, "j/", after, on_journal, c);
	} else {
		rc = http_listing(s, "j/", on_hour_dir, c);
	}
	if (rc == 0)
		qsort(c->names, c->n, sizeof(*c->names), name_cmp);
	return rc;
}

/*
 * "Now" as a journal name (hex 0 sorts before any real name at this
 * instant). The names already in the lookback window are marked as
 * delivered for this handle, so a watch from this cursor does not bring
 * back what a listing taken after it covers.
 */
static int
hs_cursor(void *self, char *cursor, size_t len)
{
	hs_t *s = self;
	uint64_t ts = wall_ns(), lb = (uint64_t)s->lookback_ms * 1000000ull;
	jctx_t c = { 0 };
	size_t i;
	int rc;

	if (len <= HS_NAME_LEN)
		return JF_ERR_INVAL;
	if ((rc = journal_scan(s, ts > lb ? ts - lb : 0, &c)) == 0) {
		seen_prune(s, c.from);
		for (i = 0; i < c.n && rc == 0; i++)
			if (!seen_has(s, c.names[i]))
				rc = seen_add(s, c.names[i]);
	}
	free(c.names);
	if (rc == 0)
		snprintf(cursor, len, "%08llu/%020llu-%064d", (unsigned long long)(ts / HS_HOUR_NS),
		    (unsigned long long)ts, 0);
	return rc;
}

static int
hs_watch(void *self, char *cursor, size_t len, int timeout_ms, jf_store_watch_fn fn, void *arg)
{
	hs_t *s = self;
	uint64_t deadline = jf_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	uint64_t cts, lb = (uint64_t)s->lookback_ms * 1000000ull;
	jctx_t c = { 0 };
	int rc = 0;

	if (name_ts(cursor, strlen(cursor), &cts) != 0 || len <= HS_NAME_LEN) {
		snprintf(s->err, sizeof(s->err), "bad cursor '%.100s'", cursor);
		return JF_ERR_INVAL;
	}
	for (;;) {
		size_t i;
		int delivered = 0;
		uint64_t now;

		if ((rc = journal_scan(s, cts > lb ? cts - lb : 0, &c)) != 0)
			break;
		seen_prune(s, c.from);
		for (i = 0; i < c.n && rc == 0; i++) {
			jf_key_t k;

			if (seen_has(s, c.names[i]))
				continue;
			if (jf_key_from_hex(c.names[i] + 30, &k) != 0)
				continue;
			if ((rc = seen_add(s, c.names[i])) != 0)
				break;
			if (strcmp(c.names[i], cursor) > 0) {
				jf_strlcpy(cursor, c.names[i], len);
				(void)name_ts(cursor, strlen(cursor), &cts);
			}
			delivered++;
			rc = fn(&k, cursor, arg);
		}
		if (rc != 0 || delivered)
			break;
		now = jf_now_ns();
		if (now >= deadline)
			break;
		{
			uint64_t left = (deadline - now) / 1000000ull;
			long ms = (long)JF_MIN((uint64_t)s->poll_ms, left ? left : 1);
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
	}
	free(c.names);
	return rc;
}

static const char *
hs_errstr(void *self)
{
	hs_t *s = self;

	return s->err[0] ? s->err : "no error";
}

static void
hs_close(void *self)
{
	hs_t *s = self;

	if (s == NULL)
		return;
	if (s->h)
		curl_easy_cleanup(s->h);
	curl_slist_free_all(s->hdrs);
	free(s->body);
	free(s->seen);
	free(s);
}

const jf_store_ops_t jf_store_http_ops = {
	.scheme = "http",
	.open = http_open,
	.get = hs_get,
	.put = hs_put,
	.del = hs_del,
	.exists = hs_exists,
	.list = hs_list,
	.cursor = hs_cursor,
	.watch = hs_watch,
	.errstr = hs_errstr,
	.close = hs_close,
	.load_all = hs_load_all,
};

const jf_store_ops_t jf_store_s3_ops = {
	.scheme = "s3",
	.open = s3_open,
	.get = hs_get,
	.put = hs_put,
	.del = hs_del,
	.exists = hs_exists,
	.list = hs_list,
	.cursor = hs_cursor,
	.watch = hs_watch,
	.errstr = hs_errstr,
	.close = hs_close,
	.load_all = hs_load_all,
};
