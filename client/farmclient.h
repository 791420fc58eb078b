/*
 * farmclient.h - a small blocking client for a jitfarm master's HTTP API
 * (docs/api.md), built on libcurl.
 *
 * The runtime's backend thread and the CLI use it to send compiles to a
 * farm and to read, inspect and delete artifacts there. A farm URL is
 * either "http://host:port[/prefix]" (https too; an IPv6 host in brackets,
 * http://[::1]:7070) or "unix:/path/to/socket" for a master listening on
 * a Unix socket, parsed by curl_url(). A bearer token is sent when given.
 *
 * Library code: nothing here aborts or exits; out of memory is
 * JF_ERR_NOMEM. Buffers returned to the caller are freed with jf_free.
 *
 * Errors map back onto the jf_err space: the master's JSON error body
 * names the code ({"error": "parse", ...}) and that name is turned back
 * into the code, with the master's message copied into err. Transport
 * failures are JF_ERR_IO (or JF_ERR_TIMEOUT), 401/403 are JF_ERR_AUTH,
 * 404 is JF_ERR_NOTFOUND, 413 is JF_ERR_TOOBIG, 503 is JF_ERR_BUSY.
 *
 * A jf_farm_t is used by one thread at a time (one curl handle inside,
 * which keeps the connection alive between calls); open one per thread.
 */
#ifndef JF_FARMCLIENT_H
#define JF_FARMCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"

typedef struct jf_farm jf_farm_t;

typedef struct jf_farm_opts {
	const char *url;                /* http://host:port[/prefix] or unix:PATH */
	const char *token;              /* bearer token or NULL */
	int connect_timeout_ms;         /* 0: 2000 */
	int timeout_ms;                 /* whole-request limit; 0: 300000 */
} jf_farm_opts_t;

/* What to compile: the IR and the spec (common/key.h; fill it with
 * jf_spec_set). Empty strings take the master's defaults, opt 0 means
 * the master's default ('2'), no program id means the SHA-256 of the IR. */
typedef struct jf_farm_compile {
	const uint8_t *ir;              /* .ll or .bc bytes */
	size_t ir_len;
	jf_spec_t spec;
	int nowait;                     /* 1: wait=0, answer 202 with the key only */
} jf_farm_compile_t;

typedef struct jf_farm_result {
	int status;                     /* HTTP status (0 when none arrived) */
	jf_key_t key;                   /* X-Jitfarm-Key */
	char cache[16];                 /* X-Jitfarm-Cache: hit, miss, joined */
	uint8_t *blob;                  /* the artifact blob; jf_farm_result_free */
	size_t blob_len;
	int retry_after;                /* seconds, from Retry-After on 503 */
} jf_farm_result_t;

/* Open a client. Returns 0 or JF_ERR_INVAL/NOMEM with a message. */
int jf_farm_open(const jf_farm_opts_t *o, jf_farm_t **out, char *err, size_t errlen);
void jf_farm_close(jf_farm_t *f);

/*
 * Compile through the farm. On success (0) res->blob holds the artifact
 * blob (not decoded here; use jf_blob_decode with the farm's public key)
 * and res->key/cache the headers; with nowait, 0 means accepted (202)
 * and only res->key is set. On failure res->status still tells the HTTP
 * status and err the master's message. res is zeroed on entry; free its
 * blob with jf_farm_result_free.
 */
int jf_farm_compile(jf_farm_t *f, const jf_farm_compile_t *c, jf_farm_result_t *res,
    char *err, size_t errlen);
void jf_farm_result_free(jf_farm_result_t *res);

/* GET /v1/artifacts/<key>: the caller frees *blob with jf_free. */
int jf_farm_get(jf_farm_t *f, const jf_key_t *k, uint8_t **blob, size_t *len,
    char *err, size_t errlen);
/* HEAD: 0 when present (*size set if size != NULL), JF_ERR_NOTFOUND if not. */
int jf_farm_head(jf_farm_t *f, const jf_key_t *k, uint64_t *size, char *err,
    size_t errlen);
/* DELETE (admin scope). 0, or JF_ERR_NOTFOUND when there was nothing. */
int jf_farm_delete(jf_farm_t *f, const jf_key_t *k, char *err, size_t errlen);

/* GET /v1/artifacts: every key in the farm's store, one callback each.
 * Return non-zero from fn to stop (that value is returned). */
typedef int (*jf_farm_list_fn)(const jf_key_t *k, uint64_t size, void *arg);
int jf_farm_list(jf_farm_t *f, jf_farm_list_fn fn, void *arg, char *err, size_t errlen);

/* Map a master error name ("parse", "busy", ...) back to its jf_err;
 * JF_ERR_PROTO for an unknown name. */
int jf_farm_err_from_name(const char *name);

#endif
