/*
 * store_s3.c - the S3 store: s3://bucket/prefix?endpoint=http://host:port&region=R.
 *
 * Path-style requests on the endpoint (without one,
 * https://s3.R.amazonaws.com). The object layout and the journal watch
 * are store_objects.c's; listings are ListObjectsV2 with continuation
 * tokens, read with bounded scans of the XML.
 *
 * Requests are signed by libcurl (CURLOPT_AWS_SIGV4) with
 * $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY ($AWS_SESSION_TOKEN when
 * set); the body is sent as UNSIGNED-PAYLOAD in x-amz-content-sha256,
 * which S3 requires and libcurl uses as the payload hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "common/url.h"
#include "common/util.h"
#include "store_objects.h"
#include "store_s3.h"

#define S3_MAX_LISTING (64u << 20)

typedef struct s3_store {
	jf_objs_t o;                    /* first: the vtable's self */
	char key_prefix[512];           /* object key prefix ("" or "p/") */
	char bucket_url[1536];          /* endpoint/bucket */
	char sigv4[160];
	char userpwd[1024];
	int page;
} s3_store_t;

/* Find needle in [p, end); NULL if absent. */
static const char *
find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	if (p >= end || (size_t)(end - p) < n)
		return NULL;
	return memmem(p, (size_t)(end - p), needle, n);
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

/* Copy [v, v+n) with its XML entities decoded into out. */
static int
xml_copy(const char *v, size_t n, char *out, size_t outlen)
{
	if (n >= outlen)
		return -1;
	memcpy(out, v, n);
	out[n] = '\0';
	xml_unescape(out);
	return 0;
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

/* One page's <Contents>: each key under the prefix, relative to it. */
static int
s3_page(s3_store_t *s, const char *p, const char *end, jf_objs_name_fn fn, void *arg)
{
	size_t plen = strlen(s->key_prefix);
	int rc = 0;

	while (rc == 0 && (p = find(p, end, "<Contents>")) != NULL) {
		const char *ce = find(p, end, "</Contents>"), *v;
		char key[1024];
		size_t vlen;
		uint64_t size = 0, mtime = 0;

		if (ce == NULL)
			break;
		if (xml_text(p, ce, "Key", &v, &vlen) == 0 && xml_copy(v, vlen, key, sizeof(key)) == 0 &&
		    strlen(key) > plen && memcmp(key, s->key_prefix, plen) == 0) {
			if (xml_text(p, ce, "Size", &v, &vlen) == 0)
				size = strtoull(v, NULL, 10);
			if (xml_text(p, ce, "LastModified", &v, &vlen) == 0)
				mtime = iso_ms(v, vlen);
			rc = fn(&s->o, key + plen, size, mtime, arg);
		}
		p = ce + 11;
	}
	return rc;
}

/*
 * ListObjectsV2 under the key prefix + sub, after start_after (relative to
 * the key prefix; may be ""), page by page.
 */
static int
s3_list(jf_objs_t *o, const char *sub, const char *start_after, jf_objs_name_fn fn, void *arg)
{
	s3_store_t *s = (s3_store_t *)o;
	char token[2048] = "", url[8192], enc_prefix[1600], enc_token[6200], enc_after[1600],
	    full[1200];
	int rc = 0;

	snprintf(full, sizeof(full), "%s%s", s->key_prefix, sub);
	if (jf_url_encode(full, 0, enc_prefix, sizeof(enc_prefix)) != 0)
		return JF_ERR_TOOBIG;
	enc_after[0] = '\0';
	if (start_after && *start_after) {
		snprintf(full, sizeof(full), "%s%s", s->key_prefix, start_after);
		if (jf_url_encode(full, 0, enc_after, sizeof(enc_after)) != 0)
			return JF_ERR_TOOBIG;
	}
	for (;;) {
		const char *p, *end, *v;
		uint8_t *body;
		size_t len, vlen;
		int truncated;

		/* query parameters in canonical (sorted) order, as SigV4 signs them */
		if (jf_url_encode(token, 0, enc_token, sizeof(enc_token)) != 0)
			return JF_ERR_TOOBIG;
		snprintf(url, sizeof(url), "%s?%s%s%slist-type=2&max-keys=%d&prefix=%s%s%s",
		    s->bucket_url, token[0] ? "continuation-token=" : "", token[0] ? enc_token : "",
		    token[0] ? "&" : "", s->page, enc_prefix,
		    enc_after[0] ? "&start-after=" : "", enc_after);
		if ((rc = jf_objs_request(o, "GET", url, NULL, 0, S3_MAX_LISTING)) != 0)
			return rc;
		if (o->c.status != 200)
			return jf_curl_status_fail(&o->c, "GET", "?list-type=2");
		/* the callbacks may issue requests of their own */
		if ((body = jf_curl_body_take(&o->c, &len)) == NULL)
			return JF_ERR_NOMEM;
		p = (const char *)body;
		end = p + len;
		truncated = xml_text(p, end, "IsTruncated", &v, &vlen) == 0 && vlen == 4 &&
		    memcmp(v, "true", 4) == 0;
		token[0] = '\0';
		if (truncated && xml_text(p, end, "NextContinuationToken", &v, &vlen) == 0)
			(void)xml_copy(v, vlen, token, sizeof(token));
		rc = s3_page(s, p, end, fn, arg);
		jf_free(body);
		if (rc != 0 || !truncated)
			return rc;
		if (!token[0]) {
			snprintf(o->c.err, sizeof(o->c.err), "s3 listing truncated without a token");
			return JF_ERR_PROTO;
		}
	}
}

static const jf_objs_hooks_t s3_hooks = {
	.list = s3_list,
	.delete_blind = 1,              /* S3 answers 204 whether or not it was there */
};

/* The key prefix from the URL's path: "" or "p/" (no leading '/'). */
static int
key_prefix_set(s3_store_t *s, const char *path)
{
	size_t pl;

	while (*path == '/')
		path++;
	pl = strlen(path);
	while (pl > 0 && path[pl - 1] == '/')
		pl--;
	if (pl + 2 >= sizeof(s->key_prefix))
		return -1;
	memcpy(s->key_prefix, path, pl);
	if (pl > 0)
		s->key_prefix[pl++] = '/';
	s->key_prefix[pl] = '\0';
	return 0;
}

static int
s3_open(const char *url, const jf_url_t *u, const jf_store_opts_t *opts, void **self,
    char *err, size_t errlen)
{
	s3_store_t *s;
	const char *id, *secret, *token;
	char endpoint[1024], region[64], hdr[4200], enc[1600];
	size_t n;
	int rc;

	*self = NULL;
	if (u->host[0] == '\0' || strlen(u->host) > 63)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "s3 URL needs a bucket: s3://bucket/prefix");
	if ((s = jf_calloc(1, sizeof(*s))) == NULL)
		return JF_ERR_NOMEM;
	s->page = opts->page_size;
	if (key_prefix_set(s, u->path) != 0) {
		rc = jf_seterr(err, errlen, JF_ERR_INVAL, "s3 prefix too long");
		goto fail;
	}
	if ((rc = jf_objs_init(&s->o, &s3_hooks, url, opts, err, errlen)) != 0)
		goto fail;
	if (jf_store_url_param(url, "region", region, sizeof(region)) != 1 || !region[0])
		snprintf(region, sizeof(region), "us-east-1");
	if (jf_store_url_param(url, "endpoint", endpoint, sizeof(endpoint)) != 1 || !endpoint[0])
		snprintf(endpoint, sizeof(endpoint), "https://s3.%s.amazonaws.com", region);
	n = strlen(endpoint);
	while (n > 0 && endpoint[n - 1] == '/')
		endpoint[--n] = '\0';
	snprintf(s->bucket_url, sizeof(s->bucket_url), "%s/%s", endpoint, u->host);
	if (jf_url_encode(s->key_prefix, 1, enc, sizeof(enc)) != 0) {
		rc = jf_seterr(err, errlen, JF_ERR_INVAL, "s3 prefix too long");
		goto fail;
	}
	n = strlen(enc);
	snprintf(s->o.base, sizeof(s->o.base), "%s%s%.*s", s->bucket_url, n ? "/" : "",
	    (int)(n ? n - 1 : 0), enc);
	snprintf(s->o.c.shown, sizeof(s->o.c.shown), "s3://%s/%s", u->host, s->key_prefix);
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
	if ((rc = jf_curl_header_add(&s->o.c, "x-amz-content-sha256: UNSIGNED-PAYLOAD")) != 0)
		goto fail;
	if (token && *token) {
		snprintf(hdr, sizeof(hdr), "x-amz-security-token: %s", token);
		if ((rc = jf_curl_header_add(&s->o.c, hdr)) != 0)
			goto fail;
	}
	curl_easy_setopt(s->o.c.h, CURLOPT_HTTPHEADER, s->o.c.base);
	curl_easy_setopt(s->o.c.h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(s->o.c.h, CURLOPT_USERPWD, s->userpwd);
	*self = s;
	return 0;
fail:
	jf_objs_close(s);
	return rc;
}

const jf_store_ops_t jf_store_s3_ops = JF_OBJS_OPS("s3", s3_open);
