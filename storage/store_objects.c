/*
 * store_objects.c - the object layout and the journal watch shared by the
 * HTTP and S3 stores (store_objects.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/buf.h"
#include "common/mem.h"
#include "common/util.h"
#include "store_objects.h"

#define OBJS_MAX_BODY ((size_t)JF_BLOB_HEADER_LEN + JF_BLOB_MAX_MANIFEST + \
	JF_BLOB_MAX_PAYLOAD + JF_SIG_LEN)
#define OBJS_SMALL 65536
#define OBJS_HOUR_NS 3600000000000ull

int
jf_objs_init(jf_objs_t *o, const jf_objs_hooks_t *hooks, const char *url,
    const jf_store_opts_t *opts, char *err, size_t errlen)
{
	o->hooks = hooks;
	o->poll_ms = jf_store_url_long(url, "poll_ms", 200);
	o->lookback_ms = jf_store_url_long(url, "lookback_ms", 10000);
	if (o->poll_ms <= 0 || o->lookback_ms < 0)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "bad poll_ms or lookback_ms");
	return jf_curl_init(&o->c, opts, err, errlen);
}

void
jf_objs_close(void *self)
{
	jf_objs_t *o = self;

	if (o == NULL)
		return;
	jf_curl_cleanup(&o->c);
	jf_free(o->seen);
	jf_free(o);
}

static void
url_for(const jf_objs_t *o, const char *path, char *buf, size_t len)
{
	if (strstr(path, "://") != NULL)
		jf_strlcpy(buf, path, len);
	else
		snprintf(buf, len, "%s/%s", o->base, path);
}

int
jf_objs_request(jf_objs_t *o, const char *method, const char *path, const uint8_t *body,
    size_t blen, size_t max)
{
	struct curl_slist *extra = NULL;
	char url[8192];
	int rc;

	url_for(o, path, url, sizeof(url));
	if (o->hooks->headers != NULL &&
	    (rc = o->hooks->headers(o, method, url, body, blen, &extra)) != 0) {
		curl_slist_free_all(extra);
		return rc;
	}
	rc = jf_curl_request(&o->c, method, url, extra, body, blen, max);
	curl_slist_free_all(extra);
	return rc;
}

static void
blob_path(const jf_key_t *k, char *buf, size_t len)
{
	char hex[JF_KEY_HEX_LEN + 1];

	jf_key_hex(k, hex);
	snprintf(buf, len, "a/%.2s/%s", hex, hex);
}

static int
is_hex(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i]))
			return 0;
	return 1;
}

/* --- entries -------------------------------------------------------------------- */

int
jf_objs_get(void *self, const jf_key_t *k, uint8_t **blob, size_t *len)
{
	jf_objs_t *o = self;
	char path[256];
	int rc;

	blob_path(k, path, sizeof(path));
	if ((rc = jf_objs_request(o, "GET", path, NULL, 0, OBJS_MAX_BODY)) != 0)
		return rc;
	if (o->c.status != 200)
		return jf_curl_status_fail(&o->c, "GET", path);
	/* hand the response buffer over: no copy of a large blob */
	if ((*blob = jf_curl_body_take(&o->c, len)) == NULL)
		return JF_ERR_NOMEM;
	return 0;
}

static uint64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
put_ok(jf_objs_t *o, const char *path)
{
	if (o->c.status != 200 && o->c.status != 201 && o->c.status != 204)
		return jf_curl_status_fail(&o->c, "PUT", path);
	return 0;
}

int
jf_objs_put(void *self, const jf_key_t *k, const uint8_t *blob, size_t len)
{
	jf_objs_t *o = self;
	char path[256], hex[JF_KEY_HEX_LEN + 1];
	uint64_t ts;
	int rc;

	blob_path(k, path, sizeof(path));
	if ((rc = jf_objs_request(o, "PUT", path, blob, len, OBJS_SMALL)) != 0 ||
	    (rc = put_ok(o, path)) != 0)
		return rc;
	/* then announce it: the entry is complete before anyone hears of it */
	jf_key_hex(k, hex);
	ts = wall_ns();
	snprintf(path, sizeof(path), "j/%08llu/%020llu-%s",
	    (unsigned long long)(ts / OBJS_HOUR_NS), (unsigned long long)ts, hex);
	if ((rc = jf_objs_request(o, "PUT", path, NULL, 0, OBJS_SMALL)) != 0)
		return rc;
	return put_ok(o, path);
}

int
jf_objs_exists(void *self, const jf_key_t *k)
{
	jf_objs_t *o = self;
	char path[256];
	int rc;

	blob_path(k, path, sizeof(path));
	if ((rc = jf_objs_request(o, "HEAD", path, NULL, 0, OBJS_SMALL)) != 0)
		return rc;
	return o->c.status == 200 ? 0 : jf_curl_status_fail(&o->c, "HEAD", path);
}

int
jf_objs_del(void *self, const jf_key_t *k)
{
	jf_objs_t *o = self;
	char path[256];
	int rc;

	if (o->hooks->delete_blind && (rc = jf_objs_exists(self, k)) != 0)
		return rc;
	blob_path(k, path, sizeof(path));
	if ((rc = jf_objs_request(o, "DELETE", path, NULL, 0, OBJS_SMALL)) != 0)
		return rc;
	if (o->c.status != 200 && o->c.status != 204)
		return jf_curl_status_fail(&o->c, "DELETE", path);
	return 0;
}

/* --- listing ---------------------------------------------------------------------- */

typedef struct list_ctx {
	jf_store_list_fn fn;
	void *arg;
	jf_key_t *keys;                 /* load_all: the keys, collected */
	size_t n, cap;
} list_ctx_t;

/* "a/<ab>/<hex>", exactly, as an entry. */
static int
on_blob(jf_objs_t *o, const char *name, uint64_t size, uint64_t mtime, void *arg)
{
	list_ctx_t *c = arg;
	jf_store_entry_t e = { .size = size, .mtime_ms = mtime };

	(void)o;
	if (strlen(name) != 5 + JF_KEY_HEX_LEN || strncmp(name, "a/", 2) != 0 ||
	    name[4] != '/' || !is_hex(name + 5, JF_KEY_HEX_LEN) ||
	    memcmp(name + 2, name + 5, 2) != 0 || jf_key_from_hex(name + 5, &e.key) != 0)
		return 0;
	return c->fn(&e, c->arg);
}

int
jf_objs_list(void *self, jf_store_list_fn fn, void *arg)
{
	jf_objs_t *o = self;
	list_ctx_t c = { .fn = fn, .arg = arg };

	return o->hooks->list(o, "a/", "", on_blob, &c);
}

/* --- load_all: parallel GETs ---------------------------------------------------- */

static int
collect(const jf_store_entry_t *e, void *arg)
{
	list_ctx_t *c = arg;

	return JF_VEC_PUSH(c->keys, c->n, c->cap, e->key);
}

typedef struct load_ctx {
	jf_objs_t *o;
	list_ctx_t keys;
	jf_store_blob_fn fn;
	void *arg;
} load_ctx_t;

static int
load_url(size_t i, char *url, size_t len, struct curl_slist **extra, void *arg)
{
	load_ctx_t *l = arg;
	char path[256];

	blob_path(&l->keys.keys[i], path, sizeof(path));
	url_for(l->o, path, url, len);
	if (l->o->hooks->headers != NULL)
		return l->o->hooks->headers(l->o, "GET", url, NULL, 0, extra);
	return 0;
}

static int
load_done(size_t i, const uint8_t *body, size_t len, void *arg)
{
	load_ctx_t *l = arg;

	return l->fn(&l->keys.keys[i], body, len, l->arg);
}

/*
 * List, then GET every entry with JF_CURL_PAR transfers in flight. An
 * entry deleted since the listing is skipped; any other failure stops the
 * walk.
 */
int
jf_objs_load_all(void *self, jf_store_blob_fn fn, void *arg)
{
	load_ctx_t l = { .o = self, .fn = fn, .arg = arg };
	int rc;

	l.keys.fn = collect;
	l.keys.arg = &l.keys;
	if ((rc = jf_objs_list(self, collect, &l.keys)) == 0)
		rc = jf_curl_get_many(&l.o->c, l.keys.n, OBJS_MAX_BODY, load_url, load_done, &l);
	jf_free(l.keys.keys);
	return rc;
}

/* --- watch ------------------------------------------------------------------------ */

/* Parse a journal name "hour/ts-hex" (or the cursor "0"): its ts. */
static int
name_ts(const char *name, size_t n, uint64_t *ts)
{
	char *end;

	if (n == 1 && name[0] == '0') {
		*ts = 0;
		return 0;
	}
	if (n != JF_OBJS_NAME_LEN || name[8] != '/' || name[29] != '-' || !is_hex(name + 30, 64))
		return -1;
	errno = 0;
	*ts = strtoull(name + 9, &end, 10);
	return end == name + 29 && errno == 0 ? 0 : -1;
}

typedef char jname_t[JF_OBJS_NAME_LEN + 1];

typedef struct jctx {
	jname_t *names;
	size_t n, cap;
	uint64_t from;
} jctx_t;

/* "j/hour/ts-hex" after c->from, into c->names without the "j/". */
static int
on_journal(jf_objs_t *o, const char *name, uint64_t size, uint64_t mtime, void *arg)
{
	jctx_t *c = arg;
	uint64_t ts;

	(void)o;
	(void)size;
	(void)mtime;
	if (strlen(name) != JF_OBJS_NAME_LEN + 2 || strncmp(name, "j/", 2) != 0 ||
	    name_ts(name + 2, JF_OBJS_NAME_LEN, &ts) != 0 || ts <= c->from)
		return 0;
	if (jf_vec_grow((void **)&c->names, &c->cap, c->n + 1, sizeof(*c->names)) != 0)
		return JF_ERR_NOMEM;
	memcpy(c->names[c->n++], name + 2, JF_OBJS_NAME_LEN + 1);
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The seen set is kept sorted by name: lookups are binary searches. */
static size_t
seen_pos(const jf_objs_t *o, const char *name, int *found)
{
	size_t lo = 0, hi = o->nseen;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(o->seen[mid], name);

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
seen_has(const jf_objs_t *o, const char *name)
{
	int found;

	(void)seen_pos(o, name, &found);
	return found;
}

static int
seen_add(jf_objs_t *o, const char *name)
{
	int found;
	size_t at = seen_pos(o, name, &found);

	if (found)
		return 0;
	if (jf_vec_grow((void **)&o->seen, &o->capseen, o->nseen + 1, sizeof(*o->seen)) != 0)
		return JF_ERR_NOMEM;
	memmove(&o->seen[at + 1], &o->seen[at], (o->nseen - at) * sizeof(*o->seen));
	jf_strlcpy(o->seen[at], name, JF_OBJS_NAME_LEN + 1);
	o->nseen++;
	return 0;
}

static void
seen_prune(jf_objs_t *o, uint64_t from)
{
	size_t i, w = 0;

	for (i = 0; i < o->nseen; i++) {
		uint64_t ts;

		if (name_ts(o->seen[i], JF_OBJS_NAME_LEN, &ts) == 0 && ts > from)
			memcpy(o->seen[w++], o->seen[i], sizeof(*o->seen));
	}
	o->nseen = w;
}

/* The journal names with a time after from, sorted, into c. */
static int
journal_scan(jf_objs_t *o, uint64_t from, jctx_t *c)
{
	char after[64];
	int rc;

	c->n = 0;
	c->from = from;
	snprintf(after, sizeof(after), "j/%08llu/%020llu",
	    (unsigned long long)(from / OBJS_HOUR_NS), (unsigned long long)from);
	if ((rc = o->hooks->list(o, "j/", after, on_journal, c)) == 0)
		qsort(c->names, c->n, sizeof(*c->names), name_cmp);
	return rc;
}

/*
 * "Now" as a journal name (hex 0 sorts before any real name at this
 * instant). The names already in the lookback window are marked as
 * delivered for this handle, so a watch from this cursor does not bring
 * back what a listing taken after it covers.
 */
int
jf_objs_cursor(void *self, char *cursor, size_t len)
{
	jf_objs_t *o = self;
	uint64_t ts = wall_ns(), lb = (uint64_t)o->lookback_ms * 1000000ull;
	jctx_t c = { 0 };
	size_t i;
	int rc;

	if (len <= JF_OBJS_NAME_LEN)
		return JF_ERR_INVAL;
	if ((rc = journal_scan(o, ts > lb ? ts - lb : 0, &c)) == 0) {
		seen_prune(o, c.from);
		for (i = 0; i < c.n && rc == 0; i++)
			rc = seen_add(o, c.names[i]);
	}
	jf_free(c.names);
	if (rc == 0)
		snprintf(cursor, len, "%08llu/%020llu-%064d",
		    (unsigned long long)(ts / OBJS_HOUR_NS), (unsigned long long)ts, 0);
	return rc;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
jf_objs_watch(void *self, char *cursor, size_t len, int timeout_ms, jf_store_watch_fn fn,
    void *arg)
{
	jf_objs_t *o = self;
	uint64_t deadline = jf_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	uint64_t cts, lb = (uint64_t)o->lookback_ms * 1000000ull;
	jctx_t c = { 0 };
	int rc = 0;

	if (name_ts(cursor, strlen(cursor), &cts) != 0 || len <= JF_OBJS_NAME_LEN) {
		snprintf(o->c.err, sizeof(o->c.err), "bad cursor '%.100s'", cursor);
		return JF_ERR_INVAL;
	}
	for (;;) {
		size_t i;
		int delivered = 0;
		uint64_t now, left;

		if ((rc = journal_scan(o, cts > lb ? cts - lb : 0, &c)) != 0)
			break;
		seen_prune(o, c.from);
		for (i = 0; i < c.n && rc == 0; i++) {
			jf_key_t k;

			if (seen_has(o, c.names[i]) || jf_key_from_hex(c.names[i] + 30, &k) != 0)
				continue;
			if ((rc = seen_add(o, c.names[i])) != 0)
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
		left = (deadline - now) / 1000000ull;
		sleep_ms((long)JF_MIN((uint64_t)o->poll_ms, left ? left : 1));
	}
	jf_free(c.names);
	return rc;
}

const char *
jf_objs_errstr(void *self)
{
	jf_objs_t *o = self;

	return o->c.err[0] ? o->c.err : "no error";
}
