/*
 * store_s3.c - the S3 store:
 *
 *   s3://bucket/prefix?endpoint=http://host:port&region=R&style=path|virtual
 *       &payload=unsigned|signed&profile=NAME
 *
 * Without an endpoint, https://s3.R.amazonaws.com. style=path (the
 * default) sends /bucket/key to the endpoint; style=virtual sends /key to
 * bucket.endpoint-host, as AWS prefers and some gateways require. The
 * object layout and the journal watch are store_objects.c's; listings are
 * ListObjectsV2 with continuation tokens, read with bounded scans.
 *
 * Every request is signed here (store_sigv4.c), over exactly the headers
 * it sends: Host, x-amz-date, x-amz-content-sha256 and, with temporary
 * credentials, x-amz-security-token. payload=unsigned sends
 * UNSIGNED-PAYLOAD as the payload hash; payload=signed hashes the body,
 * as gateways that refuse unsigned payloads want. Credentials come from
 * the chain in store_s3_creds.h and are refreshed before they expire.
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
#include "store_s3_creds.h"
#include "store_sigv4.h"
#include "store_xml.h"

#define S3_MAX_LISTING (64u << 20)

typedef struct s3_store {
	jf_objs_t o;                    /* first: the vtable's self */
	char key_prefix[512];           /* object key prefix ("" or "p/") */
	char bucket_url[1536];          /* endpoint/bucket */
	char region[64];
	int page;
	int virtual;                    /* bucket in the host name */
	int sign_payload;               /* hash bodies instead of UNSIGNED-PAYLOAD */
	jf_s3_creds_t creds;
} s3_store_t;

/* One page's <Contents>: each key under the prefix, relative to it. */
static int
s3_page(s3_store_t *s, const char *p, const char *end, jf_objs_name_fn fn, void *arg)
{
	size_t plen = strlen(s->key_prefix);
	int rc = 0;

	while (rc == 0 && (p = jf_xml_find(p, end, "<Contents>")) != NULL) {
		const char *ce = jf_xml_find(p, end, "</Contents>"), *v;
		char key[1024];
		size_t vlen;
		uint64_t size = 0, mtime = 0;

		if (ce == NULL)
			break;
		if (jf_xml_get(p, ce, "Key", key, sizeof(key)) == 0 && strlen(key) > plen && memcmp(key, s->key_prefix, plen) == 0) {
			if (jf_xml_text(p, ce, "Size", &v, &vlen) == 0)
				size = strtoull(v, NULL, 10);
			if (jf_xml_text(p, ce, "LastModified", &v, &vlen) == 0)
				mtime = (uint64_t)jf_xml_time_ms(v, vlen);
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
		snprintf(url, sizeof(url), "%s%s?%s%s%slist-type=2&max-keys=%d&prefix=%s%s%s",
		    s->bucket_url, s->virtual ? "/" : "", token[0] ? "continuation-token=" : "", token[0] ? enc_token : "",
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
		truncated = jf_xml_text(p, end, "IsTruncated", &v, &vlen) == 0 && vlen == 4 &&
		    memcmp(v, "true", 4) == 0;
		token[0] = '\0';
		if (truncated)
			(void)jf_xml_get(p, end, "NextContinuationToken", token, sizeof(token));
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

static void s3_close(void *self);

/* Split a URL we built ("scheme://authority/path?query") into its parts. */
static int
url_split(const char *url, char *host, size_t hlen, char *path, size_t plen, const char **query)
{
	const char *a = strstr(url, "://"), *p, *q;

	if (a == NULL)
		return JF_ERR_INVAL;
	a += 3;
	p = a + strcspn(a, "/?");
	q = strchr(p, '?');
	if ((size_t)(p - a) >= hlen || (size_t)((q ? q : p + strlen(p)) - p) + 2 > plen)
		return JF_ERR_TOOBIG;
	memcpy(host, a, (size_t)(p - a));
	host[p - a] = '\0';
	path[0] = '/';
	path[1] = '\0';
	if (*p == '/') {
		memcpy(path, p, (size_t)((q ? q : p + strlen(p)) - p));
		path[(q ? q : p + strlen(p)) - p] = '\0';
	}
	*query = q ? q + 1 : "";
	return 0;
}

static int
add(struct curl_slist **l, const char *name, const char *value)
{
	char line[4400];
	struct curl_slist *n;

	if ((size_t)snprintf(line, sizeof(line), "%s: %s", name, value) >= sizeof(line))
		return JF_ERR_TOOBIG;
	if ((n = curl_slist_append(*l, line)) == NULL)
		return JF_ERR_NOMEM;
	*l = n;
	return 0;
}

/* Sign one request: the headers it sends, each of them signed. */
static int
s3_headers(jf_objs_t *o, const char *method, const char *url, const uint8_t *body, size_t blen,
    struct curl_slist **out)
{
	s3_store_t *s = (s3_store_t *)o;
	jf_sigv4_hdr_t h[4];
	jf_sigv4_req_t r;
	char host[300], path[4096], date[JF_SIGV4_DATE_LEN + 1], hash[65], auth[512];
	const char *query;
	size_t n = 0;
	int rc;

	if ((rc = jf_s3_creds_fresh(&s->creds, o->c.err, sizeof(o->c.err))) != 0 ||
	    (rc = url_split(url, host, sizeof(host), path, sizeof(path), &query)) != 0)
		return rc;
	jf_sigv4_date((int64_t)time(NULL), date);
	if (s->sign_payload)
		jf_sigv4_hash_hex(body ? (const void *)body : "", body ? blen : 0, hash);
	else
		jf_strlcpy(hash, JF_SIGV4_UNSIGNED, sizeof(hash));
	h[n++] = (jf_sigv4_hdr_t){ "host", host };
	h[n++] = (jf_sigv4_hdr_t){ "x-amz-content-sha256", hash };
	h[n++] = (jf_sigv4_hdr_t){ "x-amz-date", date };
	if (s->creds.token[0])
		h[n++] = (jf_sigv4_hdr_t){ "x-amz-security-token", s->creds.token };
	r = (jf_sigv4_req_t){ .method = method, .path = path, .query = query, .hdrs = h,
		.nhdrs = n, .payload_hash = hash, .amz_date = date, .region = s->region,
		.service = "s3", .access_key = s->creds.id, .secret_key = s->creds.secret };
	if ((rc = jf_sigv4_sign(&r, auth, sizeof(auth))) != 0)
		return rc;
	/* exactly the signed headers go out (curl sends our Host, not its own) */
	if ((rc = add(out, "Host", host)) != 0 || (rc = add(out, "x-amz-content-sha256", hash)) != 0 ||
	    (rc = add(out, "x-amz-date", date)) != 0 ||
	    (s->creds.token[0] && (rc = add(out, "x-amz-security-token", s->creds.token)) != 0) ||
	    (rc = add(out, "Authorization", auth)) != 0)
		return rc;
	return 0;
}

static const jf_objs_hooks_t s3_hooks = {
	.list = s3_list,
	.headers = s3_headers,
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

/* One of two words for a URL option: 0 for the first (the default), 1
 * for the second, -1 for anything else. */
static int
url_choice(const char *url, const char *name, const char *a, const char *b)
{
	char v[32];
	int r = jf_store_url_param(url, name, v, sizeof(v));

	if (r == 0 || (r == 1 && strcmp(v, a) == 0))
		return 0;
	return r == 1 && strcmp(v, b) == 0 ? 1 : -1;
}

/* bucket_url for the endpoint: path style appends the bucket, virtual
 * style puts it in front of the host. */
static int
bucket_url_set(s3_store_t *s, const char *bucket, const char *endpoint, char *err,
    size_t errlen)
{
	jf_url_t *e;
	char host[300], port[16];
	int rc;

	if (!s->virtual) {
		snprintf(s->bucket_url, sizeof(s->bucket_url), "%s/%s", endpoint, bucket);
		return 0;
	}
	if ((e = jf_malloc(sizeof(*e))) == NULL)
		return JF_ERR_NOMEM;
	if ((rc = jf_url_parse(endpoint, e, err, errlen)) == 0) {
		jf_url_host_fmt(e->host, host, sizeof(host));
		port[0] = '\0';
		if (e->port)
			snprintf(port, sizeof(port), ":%d", e->port);
		if (strchr(e->host, ':') != NULL || (e->path[0] && strcmp(e->path, "/") != 0))
			rc = jf_seterr(err, errlen, JF_ERR_INVAL,
			    "style=virtual needs an endpoint with a host name and no path");
		else
			snprintf(s->bucket_url, sizeof(s->bucket_url), "%s://%s.%s%s", e->scheme,
			    bucket, host, port);
	}
	jf_free(e);
	return rc;
}

static int
s3_open(const char *url, const jf_url_t *u, const jf_store_opts_t *opts, void **self,
    char *err, size_t errlen)
{
	s3_store_t *s;
	char endpoint[1024], profile[128], enc[1600];
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
	if ((s->virtual = url_choice(url, "style", "path", "virtual")) < 0 ||
	    (s->sign_payload = url_choice(url, "payload", "unsigned", "signed")) < 0) {
		rc = jf_seterr(err, errlen, JF_ERR_INVAL,
		    "s3 URL: style is path or virtual, payload is unsigned or signed");
		goto fail;
	}
	if (jf_store_url_param(url, "region", s->region, sizeof(s->region)) != 1 || !s->region[0])
		snprintf(s->region, sizeof(s->region), "us-east-1");
	if (jf_store_url_param(url, "endpoint", endpoint, sizeof(endpoint)) != 1 || !endpoint[0])
		snprintf(endpoint, sizeof(endpoint), "https://s3.%s.amazonaws.com", s->region);
	if (jf_store_url_param(url, "profile", profile, sizeof(profile)) != 1)
		profile[0] = '\0';
	n = strlen(endpoint);
	while (n > 0 && endpoint[n - 1] == '/')
		endpoint[--n] = '\0';
	if ((rc = bucket_url_set(s, u->host, endpoint, err, errlen)) != 0)
		goto fail;
	if (jf_url_encode(s->key_prefix, 1, enc, sizeof(enc)) != 0) {
		rc = jf_seterr(err, errlen, JF_ERR_INVAL, "s3 prefix too long");
		goto fail;
	}
	n = strlen(enc);
	snprintf(s->o.base, sizeof(s->o.base), "%s%s%.*s", s->bucket_url, n ? "/" : "",
	    (int)(n ? n - 1 : 0), enc);
	snprintf(s->o.c.shown, sizeof(s->o.c.shown), "s3://%s/%.*s", u->host,
	    (int)(s->key_prefix[0] ? strlen(s->key_prefix) - 1 : 0), s->key_prefix);
	if ((rc = jf_s3_creds_init(&s->creds, s->region, profile, opts, err, errlen)) != 0)
		goto fail;
	*self = s;
	return 0;
fail:
	s3_close(s);
	return rc;
}

/* Wipe the credentials, then what every object store frees. */
static void
s3_close(void *self)
{
	s3_store_t *s = self;

	if (s != NULL)
		jf_s3_creds_clear(&s->creds);
	jf_objs_close(self);
}

const jf_store_ops_t jf_store_s3_ops = JF_OBJS_OPS("s3", s3_open, s3_close);
