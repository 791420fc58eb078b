/*
 * store.h - the artifact store: one interface, several backends.
 *
 * A store maps artifact keys to blobs (common/blob.h) and is also the bus
 * that tells nodes about new entries (watch). The backend is chosen from
 * the URL at open time and reached through a const vtable
 * (store_backend.h):
 *
 *   file:///var/cache/jitfarm                       store_file.c
 *   redis://[user:pw@]host:port/db?prefix=jf        store_redis.c
 *   http://host/path, https://...                   store_http.c
 *   s3://bucket/prefix?endpoint=...&region=...      store_s3.c (SigV4)
 *   tiered:LOCAL_URL,REMOTE_URL                     store_tiered.c
 *
 * Every URL is parsed by jf_url_parse (common/url.h, on curl_url), so
 * IPv6 literals (redis://[::1]:6379) and percent-encoded userinfo work
 * the same everywhere. What a handle does once open is in store_handle.h;
 * this header is what callers include.
 */
#ifndef JF_STORE_H
#define JF_STORE_H

#include <stddef.h>

#include "store_handle.h"

int jf_store_open(const char *url, const jf_store_opts_t *opts, jf_store_t **out,
    char *err, size_t errlen);

/* The default store URL: $JITFARM_STORE, else file://$XDG_CACHE_HOME/jitfarm,
 * else file://$HOME/.cache/jitfarm. Writes into buf. */
const char *jf_store_default_url(char *buf, size_t len);

#endif
