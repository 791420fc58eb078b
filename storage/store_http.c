/*
 * store_http.c - the plain HTTP store: GET/PUT/DELETE, with listings as
 * nginx's WebDAV module and autoindex serve them (http://, https://).
 *
 *   http://[user:pw@]host[:port]/path?token_file=PATH&poll_ms=&lookback_ms=
 *
 * The object layout and the journal watch are store_objects.c's. A
 * listing is nginx's autoindex in JSON (autoindex_format json), parsed
 * with jansson; directories are walked one level at a time. Auth is basic
 * (userinfo in the URL, percent-decoded) or a bearer token
 * ($JITFARM_STORE_TOKEN or ?token_file=PATH).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "jitfarm/error.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/url.h"
#include "common/util.h"
#include "store_http.h"
#include "store_objects.h"

#define HTTP_MAX_LISTING (64u << 20)
#define HTTP_MAX_DEPTH 4

typedef struct http_store {
	jf_objs_t o;                    /* first: the vtable's self */
} http_store_t;

/* nginx autoindex_format json: [{ "name":"x", "type":"file"|"directory",
 * "mtime":"...", "size":N }, ...] */
static int
walk_listing(jf_objs_t *o, const char *sub, const char *start_after, jf_objs_name_fn fn,
    void *arg, int depth)
{
	json_t *root = NULL, *e;
	uint8_t *body;
	size_t len, i;
	char why[256];
	int rc;

	if (depth > HTTP_MAX_DEPTH)
		return 0;
	if ((rc = jf_objs_request(o, "GET", sub, NULL, 0, HTTP_MAX_LISTING)) != 0)
		return rc;
	if (o->c.status == 404)
		return 0;               /* a missing dir is empty */
	if (o->c.status != 200)
		return jf_curl_status_fail(&o->c, "GET", sub);
	/* the callbacks may issue requests of their own */
	if ((body = jf_curl_body_take(&o->c, &len)) == NULL)
		return JF_ERR_NOMEM;
	rc = jf_json_parse(body, len, &root, why, sizeof(why));
	jf_free(body);
	if (rc != 0 || !json_is_array(root)) {
		snprintf(o->c.err, sizeof(o->c.err), "GET %s/%s: not a JSON listing: %s",
		    o->c.shown, sub, rc ? why : "not an array");
		json_decref(root);
		return JF_ERR_PROTO;
	}
	json_array_foreach(root, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *mt = json_string_value(json_object_get(e, "mtime"));
		json_t *sz = json_object_get(e, "size");
		char path[512];
		uint64_t size = 0, mtime = 0;
		time_t t;

		if (name == NULL || type == NULL || name[0] == '\0' || strchr(name, '/') ||
		    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (strcmp(type, "directory") == 0) {
			if ((size_t)snprintf(path, sizeof(path), "%s%s/", sub, name) >= sizeof(path))
				continue;
			/* a directory wholly before start_after holds nothing after it */
			if (strncmp(path, start_after, strlen(path)) < 0)
				continue;
			if ((rc = walk_listing(o, path, start_after, fn, arg, depth + 1)) != 0)
				break;
			continue;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s%s", sub, name) >= sizeof(path) ||
		    strcmp(path, start_after) <= 0)
			continue;
		if (json_is_integer(sz) && json_integer_value(sz) > 0)
			size = (uint64_t)json_integer_value(sz);
		if (mt != NULL && (t = curl_getdate(mt, NULL)) > 0)
			mtime = (uint64_t)t * 1000;
		if ((rc = fn(o, path, size, mtime, arg)) != 0)
			break;
	}
	json_decref(root);
	return rc;
}

static int
http_list(jf_objs_t *o, const char *sub, const char *start_after, jf_objs_name_fn fn,
    void *arg)
{
	return walk_listing(o, sub, start_after, fn, arg, 0);
}

static const jf_objs_hooks_t http_hooks = {
	.list = http_list,
};

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
	rc = n == 0 || n >= len ? JF_ERR_INVAL : 0;
	if (rc == 0) {
		memcpy(buf, t, n);
		buf[n] = '\0';
	}
	free(t);                /* jf_file_read's buffer is libc's */
	return rc;
}

static int
http_open(const char *url, const jf_url_t *u, const jf_store_opts_t *opts, void **self,
    char *err, size_t errlen)
{
	http_store_t *s;
	char tok[1024], path[1024], hdr[1100], host[300], port[16], epath[3 * JF_URL_PART_MAX];
	const char *env = getenv("JITFARM_STORE_TOKEN");
	size_t n;
	int rc;

	*self = NULL;
	if (u->host[0] == '\0')
		return jf_seterr(err, errlen, JF_ERR_INVAL, "http store URL needs a host: %s", url);
	if ((s = jf_calloc(1, sizeof(*s))) == NULL)
		return JF_ERR_NOMEM;
	if ((rc = jf_objs_init(&s->o, &http_hooks, url, opts, err, errlen)) != 0)
		goto fail;
	jf_url_host_fmt(u->host, host, sizeof(host));
	port[0] = '\0';
	if (u->port)
		snprintf(port, sizeof(port), ":%d", u->port);
	if ((rc = jf_url_encode(u->path, 1, epath, sizeof(epath))) != 0 ||
	    (size_t)snprintf(s->o.base, sizeof(s->o.base), "%s://%s%s%s", u->scheme, host, port,
	    epath) >= sizeof(s->o.base)) {
		rc = jf_seterr(err, errlen, JF_ERR_INVAL, "store URL too long");
		goto fail;
	}
	n = strlen(s->o.base);
	while (n > 0 && s->o.base[n - 1] == '/')
		s->o.base[--n] = '\0';
	/* the URL without credentials, for messages */
	jf_strlcpy(s->o.c.shown, s->o.base, sizeof(s->o.c.shown));
	if (u->user[0] != '\0' || u->has_password) {
		curl_easy_setopt(s->o.c.h, CURLOPT_USERNAME, u->user);
		curl_easy_setopt(s->o.c.h, CURLOPT_PASSWORD, u->password);
	}
	tok[0] = '\0';
	if ((rc = jf_store_url_param(url, "token_file", path, sizeof(path))) == 1) {
		if ((rc = read_token(path, tok, sizeof(tok))) != 0) {
			jf_seterr(err, errlen, rc, "cannot read the token file %s", path);
			goto fail;
		}
	} else if (rc < 0) {
		jf_seterr(err, errlen, rc, "bad token_file in store URL");
		goto fail;
	} else if (env != NULL && *env) {
		jf_strlcpy(tok, env, sizeof(tok));
	}
	if (tok[0]) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tok);
		if ((rc = jf_curl_header_add(&s->o.c, hdr)) != 0)
			goto fail;
	}
	*self = s;
	return 0;
fail:
	jf_objs_close(s);
	return rc;
}

const jf_store_ops_t jf_store_http_ops = JF_OBJS_OPS("http", http_open);
