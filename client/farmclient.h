/*
 * farmclient.h - a small blocking client for a jitfarm master's HTTP API
 * (docs/api.md), built on libcurl.
 *
 * The runtime's backend thread and the CLI use it to send compiles to a
 * farm and to read, inspect and delete artifacts there. A farm URL is
 * either "http://host:port" (https too) or "unix:/path/to/socket" for a
 * master listening on a Unix socket. A bearer token is sent when given.
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

/* What to compile. Unset strings take the master's defaults. */
typedef struct jf_farm_compile {
	const uint8_t *ir;              /* .ll or .bc bytes */
	size_t ir_len;
	const char *ns;                 /* namespace or NULL */
	const jf_key_t *program_id;     /* NULL: SHA-256 of the IR */
	const char *triple;
	const char *cpu;
	const char *features;
	char opt;                       /* 0: master default ('2') */
	int nowait;                     /* 1: wait=0, answer 202 with the key only */
} jf_farm_compile_t;

typedef struct jf_farm_result {
	int status;                     /* HTTP status (0 when none arrived) */
	jf_key_t key;                   /* X-Jitfarm-Key */
	char cache[16];                 /* X-Jitfarm-Cache: hit, miss, joined */
	uint8_t *blob;                  /* the artifact blob; caller frees */
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

/* GET /v1/artifacts/<key>: *blob malloc'd, caller frees. */
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

/*
 * GET /v1/events: server-sent events. fn is called for each event with
 * its id (the store cursor after it: pass it back as last_id to resume),
 * its type ("artifact", or "resync" when the resume point is gone and
 * the caller should re-list) and its data (a JSON object with "key" and
 * the manifest summary). last_id NULL or "" starts at the live end.
 * Returns when fn returns non-zero (that value), when the server closes
 * the stream (0), or after duration_ms (0 when it simply ran out;
 * duration_ms 0 means no limit). last_id_out, if given, receives the id
 * of the last event seen.
 */
typedef int (*jf_farm_event_fn)(const char *id, const char *type, const char *data,
    void *arg);
int jf_farm_events(jf_farm_t *f, const char *last_id, int duration_ms,
    jf_farm_event_fn fn, void *arg, char *last_id_out, size_t last_id_len,
    char *err, size_t errlen);

/* Map a master error name ("parse", "busy", ...) back to its jf_err;
 * JF_ERR_PROTO for an unknown name. */
int jf_farm_err_from_name(const char *name);

#endif
