/*
 * store.c - jf_store_open: parse the URL once (jf_url_parse), pick the
 * backend by its scheme, read the common options from the query string,
 * and wrap the backend in a generic handle (store_handle.c).
 *
 * A tiered URL is two store URLs; both parts are opened here, as full
 * handles with their own retries and breakers, and handed to the tiered
 * backend, which never opens a store itself.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "common/url.h"
#include "common/util.h"
#include "store.h"
#include "store_file.h"
#include "store_http.h"
#include "store_redis.h"
#include "store_s3.h"
#include "store_tiered.h"

/* Backends, by scheme. */
static const struct {
	const char *scheme;
	const jf_store_ops_t *ops;
} backends[] = {
	{ "file", &jf_store_file_ops },
	{ "redis", &jf_store_redis_ops },
	{ "http", &jf_store_http_ops },
	{ "https", &jf_store_http_ops },
	{ "s3", &jf_store_s3_ops },
};

/* The common options a URL may carry; they override opts. */
static int
opts_from_url(const char *url, jf_store_opts_t *o, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
		int zero_ok;
	} ints[] = {
		{ "connect_timeout_ms", offsetof(jf_store_opts_t, connect_timeout_ms), 0 },
		{ "timeout_ms", offsetof(jf_store_opts_t, op_timeout_ms), 0 },
		{ "read_only", offsetof(jf_store_opts_t, read_only), 1 },
		{ "retries", offsetof(jf_store_opts_t, retries), 1 },
		{ "breaker_threshold", offsetof(jf_store_opts_t, breaker_threshold), 0 },
		{ "breaker_cooldown_ms", offsetof(jf_store_opts_t, breaker_cooldown_ms), 0 },
		{ "page_size", offsetof(jf_store_opts_t, page_size), 0 },
	};
	char probe[8];
	size_t i;

	if (jf_store_url_param(url, "_", probe, sizeof(probe)) == JF_ERR_INVAL)
		return jf_seterr(err, errlen, JF_ERR_INVAL,
		    "malformed query in store URL (a name given twice, or a bad escape)");
	for (i = 0; i < JF_ARRAY_LEN(ints); i++) {
		long v = jf_store_url_long(url, ints[i].name, -2);

		if (v == -2)
			continue;
		if (v < 0 || v > 3600000)
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "bad value for %s in store URL", ints[i].name);
		if (v == 0 && !ints[i].zero_ok)
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "%s must be positive", ints[i].name);
		*(int *)((char *)o + ints[i].off) = (int)v;
	}
	return 0;
}

static void
opts_normalise(const jf_store_opts_t *in, jf_store_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	if (in)
		*o = *in;
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = 2000;
	if (o->op_timeout_ms <= 0)
		o->op_timeout_ms = 10000;
	if (o->retries == 0)
		o->retries = 2;
	else if (o->retries < 0)
		o->retries = 0;
	if (o->breaker_threshold <= 0)
		o->breaker_threshold = 5;
	if (o->breaker_cooldown_ms <= 0)
		o->breaker_cooldown_ms = 5000;
	if (o->page_size <= 0)
		o->page_size = 1000;
}

/* tiered:LOCAL_URL,REMOTE_URL: two stores, each with its own options. */
static int
open_tiered(const char *url, const jf_store_opts_t *o, jf_store_t **out, char *err,
    size_t errlen)
{
	const char *spec = url + 7, *comma = strchr(spec, ',');
	jf_store_opts_t po = *o;
	jf_store_t *local = NULL, *remote = NULL;
	char part[1024];
	void *self;
	int r;

	if (comma == NULL || comma == spec || comma[1] == '\0' ||
	    (size_t)(comma - spec) >= sizeof(part))
		return jf_seterr(err, errlen, JF_ERR_INVAL,
		    "bad tiered URL (want tiered:LOCAL_URL,REMOTE_URL)");
	if (strncmp(spec, "tiered:", 7) == 0 || strncmp(comma + 1, "tiered:", 7) == 0)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "tiered stores do not nest");
	memcpy(part, spec, (size_t)(comma - spec));
	part[comma - spec] = '\0';
	/* o is already normalised: 0 retries means none, not the default */
	if (po.retries == 0)
		po.retries = -1;
	if ((r = jf_store_open(part, &po, &local, err, errlen)) != 0 ||
	    (r = jf_store_open(comma + 1, &po, &remote, err, errlen)) != 0 ||
	    (r = jf_store_tiered_new(local, remote, &self)) != 0) {
		jf_store_close(local);
		jf_store_close(remote);
		return r;
	}
	/* the tiered backend now owns both parts */
	return jf_store_handle_new(&jf_store_tiered_ops, self, o, out);
}

int
jf_store_open(const char *url, const jf_store_opts_t *opts, jf_store_t **out,
    char *err, size_t errlen)
{
	const jf_store_ops_t *ops = NULL;
	jf_store_opts_t o;
	jf_url_t *u = NULL;
	void *self = NULL;
	char why[512];
	size_t i;
	int r;

	*out = NULL;
	opts_normalise(opts, &o);
	if (url == NULL)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "no store URL");
	if (strncmp(url, "tiered:", 7) == 0)
		return open_tiered(url, &o, out, err, errlen);
	if ((u = jf_malloc(sizeof(*u))) == NULL)
		return JF_ERR_NOMEM;
	if ((r = jf_url_parse(url, u, why, sizeof(why))) != 0) {
		jf_seterr(err, errlen, r, "bad store URL: %s", why);
		goto out;
	}
	for (i = 0; i < JF_ARRAY_LEN(backends); i++)
		if (strcmp(u->scheme, backends[i].scheme) == 0)
			ops = backends[i].ops;
	if (ops == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_INVAL,
		    "unsupported store URL '%s' (want file://, redis://, http(s)://, s3:// or tiered:)",
		    url);
		goto out;
	}
	if ((r = opts_from_url(url, &o, err, errlen)) != 0 ||
	    (r = ops->open(url, u, &o, &self, err, errlen)) != 0)
		goto out;
	r = jf_store_handle_new(ops, self, &o, out);
out:
	jf_free(u);
	return r;
}

const char *
jf_store_default_url(char *buf, size_t len)
{
	const char *e = getenv("JITFARM_STORE");

	if (e != NULL && *e)
		snprintf(buf, len, "%s", e);
	else if ((e = getenv("XDG_CACHE_HOME")) != NULL && *e == '/')
		snprintf(buf, len, "file://%s/jitfarm", e);
	else if ((e = getenv("HOME")) != NULL && *e == '/')
		snprintf(buf, len, "file://%s/.cache/jitfarm", e);
	else
		snprintf(buf, len, "file:///tmp/jitfarm-cache-%d", (int)getuid());
	return buf;
}
