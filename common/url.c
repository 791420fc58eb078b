/*
 * url.c - URLs through libcurl's URL API (url.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "jitfarm/error.h"
#include "url.h"
#include "util.h"

static int
url_copy(CURLU *h, CURLUPart what, unsigned flags, char *out, size_t outlen)
{
	char *v = NULL;
	CURLUcode rc;
	size_t l;

	out[0] = '\0';
	rc = curl_url_get(h, what, &v, flags);
	if (rc != CURLUE_OK)
		return 0;       /* the part is absent */
	l = strlen(v);
	if (l >= outlen) {
		curl_free(v);
		return JF_ERR_TOOBIG;
	}
	memcpy(out, v, l + 1);
	curl_free(v);
	return 0;
}

/* A decoded part must not hide a NUL: decode it ourselves from the raw form. */
static int
url_copy_decoded(CURLU *h, CURLUPart what, char *out, size_t outlen)
{
	char raw[JF_URL_PART_MAX * 3];
	int r;

	if ((r = url_copy(h, what, 0, raw, sizeof(raw))) != 0)
		return r;
	return jf_url_decode(raw, strlen(raw), out, outlen);
}

int
jf_url_parse(const char *s, jf_url_t *u, char *err, size_t errlen)
{
	char port[16], tmp[JF_URL_PART_MAX + 64];
	const char *colon;
	CURLU *h;
	CURLUcode rc;
	size_t i;
	int r = 0;

	memset(u, 0, sizeof(*u));
	if (s == NULL || (colon = strchr(s, ':')) == NULL || colon == s ||
	    (size_t)(colon - s) >= sizeof(u->scheme))
		return jf_seterr(err, errlen, JF_ERR_INVAL, "'%s': not a URL (no scheme)",
		    s ? s : "");
	for (i = 0; s + i < colon; i++)
		u->scheme[i] = (char)tolower((unsigned char)s[i]);
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "URL holds a control character");
	/* unix:/path and unix:path have no authority for curl to parse */
	if (strcmp(u->scheme, "unix") == 0) {
		if (jf_strlcpy(u->path, colon + 1, sizeof(u->path)) >= sizeof(u->path))
			return jf_seterr(err, errlen, JF_ERR_TOOBIG, "URL path too long");
		if (u->path[0] == '\0')
			return jf_seterr(err, errlen, JF_ERR_INVAL, "'%s': no socket path", s);
		return 0;
	}
	if ((h = curl_url()) == NULL)
		return jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
	rc = curl_url_set(h, CURLUPART_URL, s,
	    CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
	if (rc != CURLUE_OK) {
		curl_url_cleanup(h);
		return jf_seterr(err, errlen, JF_ERR_INVAL, "'%s': %s", s, curl_url_strerror(rc));
	}
	if ((r = url_copy_decoded(h, CURLUPART_USER, u->user, sizeof(u->user))) != 0)
		goto out;
	{
		char *pw = NULL;

		if (curl_url_get(h, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK) {
			u->has_password = 1;
			curl_free(pw);
		}
	}
	if ((r = url_copy(h, CURLUPART_PASSWORD, 0, tmp, sizeof(tmp))) != 0 ||
	    (r = jf_url_decode(tmp, strlen(tmp), u->password, sizeof(u->password))) != 0 ||
	    (r = url_copy(h, CURLUPART_HOST, 0, tmp, sizeof(tmp))) != 0)
		goto out;
	/* curl keeps IPv6 literals in brackets */
	if (tmp[0] == '[') {
		size_t l = strlen(tmp);

		if (l < 3 || tmp[l - 1] != ']') {
			r = JF_ERR_INVAL;
			goto out;
		}
		tmp[l - 1] = '\0';
		memmove(tmp, tmp + 1, l - 1);
	}
	if (jf_strlcpy(u->host, tmp, sizeof(u->host)) >= sizeof(u->host)) {
		r = JF_ERR_TOOBIG;
		goto out;
	}
	if ((r = url_copy(h, CURLUPART_PORT, 0, port, sizeof(port))) != 0)
		goto out;
	if (port[0] != '\0') {
		char *end;
		long p = strtol(port, &end, 10);

		if (*end != '\0' || p <= 0 || p > 65535) {
			r = JF_ERR_INVAL;
			goto out;
		}
		u->port = (int)p;
	}
	if ((r = url_copy_decoded(h, CURLUPART_PATH, u->path, sizeof(u->path))) != 0 ||
	    (r = url_copy(h, CURLUPART_QUERY, 0, u->query, sizeof(u->query))) != 0)
		goto out;
out:
	curl_url_cleanup(h);
	if (r == JF_ERR_TOOBIG)
		return jf_seterr(err, errlen, r, "'%s': a part of the URL is too long", s);
	if (r != 0)
		return jf_seterr(err, errlen, r, "'%s': malformed URL", s);
	return 0;
}

void
jf_url_host_fmt(const char *host, char *out, size_t outlen)
{
	if (strchr(host, ':') != NULL)
		snprintf(out, outlen, "[%s]", host);
	else
		snprintf(out, outlen, "%s", host);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
jf_url_decode(const char *in, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)in[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = hexval((unsigned char)in[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)in[i + 2])) < 0)
				return JF_ERR_INVAL;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0)
			return JF_ERR_INVAL;
		if (o + 1 >= outlen)
			return JF_ERR_TOOBIG;
		out[o++] = (char)c;
	}
	if (outlen == 0)
		return JF_ERR_TOOBIG;
	out[o] = '\0';
	return 0;
}

int
jf_url_encode(const char *in, int keep_slash, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in != '\0'; in++) {
		unsigned char c = (unsigned char)*in;

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
		    (keep_slash && c == '/')) {
			if (o + 1 >= outlen)
				return JF_ERR_TOOBIG;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outlen)
				return JF_ERR_TOOBIG;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (outlen == 0)
		return JF_ERR_TOOBIG;
	out[o] = '\0';
	return 0;
}

int
jf_query_parse(const char *q, const char *const *allowed, jf_query_t *out, char *err,
    size_t errlen)
{
	const char *p = q ? q : "";

	memset(out, 0, sizeof(*out));
	while (*p != '\0') {
		const char *amp = strchr(p, '&'), *eq;
		size_t l = amp ? (size_t)(amp - p) : strlen(p);
		char name[64];
		int i, ok;

		if (l == 0) {           /* "a=1&&b=2": an empty pair */
			p += amp ? 1 : 0;
			if (amp == NULL)
				break;
			continue;
		}
		eq = memchr(p, '=', l);
		if (out->n >= JF_QUERY_MAX)
			return jf_seterr(err, errlen, JF_ERR_INVAL, "too many query parameters");
		if (jf_url_decode(p, eq ? (size_t)(eq - p) : l, name, sizeof(name)) != 0 ||
		    name[0] == '\0')
			return jf_seterr(err, errlen, JF_ERR_INVAL, "malformed query parameter name");
		if (jf_url_decode(eq ? eq + 1 : "", eq ? l - (size_t)(eq - p) - 1 : 0,
		    out->kv[out->n].value, sizeof(out->kv[out->n].value)) != 0)
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "query parameter '%s': malformed or too long value", name);
		for (i = 0; i < out->n; i++)
			if (strcmp(out->kv[i].name, name) == 0)
				return jf_seterr(err, errlen, JF_ERR_INVAL,
				    "query parameter '%s' given twice", name);
		if (allowed != NULL) {
			ok = 0;
			for (i = 0; allowed[i] != NULL; i++)
				if (strcmp(allowed[i], name) == 0)
					ok = 1;
			if (!ok)
				return jf_seterr(err, errlen, JF_ERR_INVAL,
				    "unknown query parameter '%s'", name);
		}
		memcpy(out->kv[out->n].name, name, sizeof(name));
		out->n++;
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return 0;
}

const char *
jf_query_get(const jf_query_t *q, const char *name)
{
	int i;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->kv[i].name, name) == 0)
			return q->kv[i].value;
	return NULL;
}
