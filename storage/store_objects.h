/*
 * store_objects.h - the object layout the HTTP and S3 stores share
 * (store_objects.c), over the libcurl transport (store_curl.h):
 *
 *   BASE/a/<ab>/<hex>               the blob, fanned out by its first byte
 *   BASE/j/<hour>/<ts>-<hex>        an empty journal object per put; <ts>
 *                                   is 20 digits of wall-clock ns, <hour>
 *                                   8 digits of ts / 3600 s
 *
 * A backend (store_http.c, store_s3.c) embeds jf_objs_t as the first
 * member of its state, fills in the hooks (its listing, and the headers
 * each request needs, such as a signature) and points its vtable at the
 * jf_objs_* functions here.
 *
 * Watch polls the journal: names sort by time, so a watcher asks for the
 * names after its cursor. Writers' PUTs can finish out of time order (and
 * clocks differ a little), so each poll looks back lookback_ms before the
 * cursor and skips names this handle already delivered: an entry that
 * lands late is still delivered, at least once. The cursor is a journal
 * name; jf_store_cursor returns "now" as one, without a request.
 */
#ifndef JF_STORE_OBJECTS_H
#define JF_STORE_OBJECTS_H

#include "store_curl.h"

#define JF_OBJS_NAME_LEN (8 + 1 + 20 + 1 + JF_KEY_HEX_LEN)     /* hour/ts-hex */

typedef struct jf_objs jf_objs_t;

/* One listed object: its name relative to BASE ("a/ab/<hex>"). */
typedef int (*jf_objs_name_fn)(jf_objs_t *o, const char *name, uint64_t size,
    uint64_t mtime_ms, void *arg);

typedef struct jf_objs_hooks {
	/* Every object under BASE/sub whose name sorts after start_after
	 * ("" for all), at least those; fn may issue requests of its own. */
	int (*list)(jf_objs_t *o, const char *sub, const char *start_after, jf_objs_name_fn fn,
	    void *arg);
	/* The headers one request needs beyond the base ones (*out may stay
	 * NULL); body is what a PUT sends. NULL: none. */
	int (*headers)(jf_objs_t *o, const char *method, const char *url, const uint8_t *body,
	    size_t blen, struct curl_slist **out);
	/* DELETE answers success whether or not the object was there (S3):
	 * ask with HEAD first, so a delete of a missing key is a miss. */
	int delete_blind;
} jf_objs_hooks_t;

struct jf_objs {
	jf_curl_t c;
	const jf_objs_hooks_t *hooks;
	char base[2048];                /* request URL prefix, no trailing '/' */
	long poll_ms, lookback_ms;
	/* watch: names delivered inside the lookback window, sorted */
	char (*seen)[JF_OBJS_NAME_LEN + 1];
	size_t nseen, capseen;
};

/* Read poll_ms and lookback_ms from url and set up the transport. */
int jf_objs_init(jf_objs_t *o, const jf_objs_hooks_t *hooks, const char *url,
    const jf_store_opts_t *opts, char *err, size_t errlen);
/* One request on BASE/path (or a full URL when path holds "://"), with
 * the hook's headers: the transport's result. */
int jf_objs_request(jf_objs_t *o, const char *method, const char *path, const uint8_t *body,
    size_t blen, size_t max);

/* The vtable entries; self is the backend state, which starts with a
 * jf_objs_t. */
int jf_objs_get(void *self, const jf_key_t *k, uint8_t **blob, size_t *len);
int jf_objs_put(void *self, const jf_key_t *k, const uint8_t *blob, size_t len);
int jf_objs_del(void *self, const jf_key_t *k);
int jf_objs_exists(void *self, const jf_key_t *k);
int jf_objs_list(void *self, jf_store_list_fn fn, void *arg);
int jf_objs_cursor(void *self, char *cursor, size_t len);
int jf_objs_watch(void *self, char *cursor, size_t len, int timeout_ms,
    jf_store_watch_fn fn, void *arg);
int jf_objs_load_all(void *self, jf_store_blob_fn fn, void *arg);
const char *jf_objs_errstr(void *self);
/* Free what jf_objs_init set up and self itself (jf_malloc'd by the
 * backend, starting with its jf_objs_t). NULL is fine. */
void jf_objs_close(void *self);

/* A backend's vtable: everything but its scheme and open is shared. */
#define JF_OBJS_OPS(sch, openfn) { \
	.scheme = (sch), .open = (openfn), .get = jf_objs_get, .put = jf_objs_put, \
	.del = jf_objs_del, .exists = jf_objs_exists, .list = jf_objs_list, \
	.cursor = jf_objs_cursor, .watch = jf_objs_watch, .errstr = jf_objs_errstr, \
	.close = jf_objs_close, .load_all = jf_objs_load_all, \
}

#endif
