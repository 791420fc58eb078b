/*
 * store_redis.c - the Redis store (hiredis): blobs, an index, and a
 * Redis Stream that is the push bus.
 *
 *   PREFIX:a:<hex>   the blob (optionally with a TTL)
 *   PREFIX:i         sorted set of every key's hex, scored by put time (ms)
 *   PREFIX:s         stream: one entry {k: <hex>} per new key, MAXLEN ~ N
 *   PREFIX:l:<hex>   a lease (SET NX PX with a token unique to the handle)
 *
 * A put is one Lua script, so the blob, the index and the stream entry
 * change together, and a key that already existed adds no stream entry:
 * concurrent puts of one key publish it once. A watcher reads the stream
 * with XREAD BLOCK from its own last id; after a dropped connection it
 * reconnects and reads again from that id, so nothing is lost while the
 * entries are still in the stream. If they were trimmed away (the cursor
 * is older than the stream's first entry and entries were trimmed), or
 * the stream is younger than the cursor (the data was lost), the watcher
 * gets JF_ERR_RESYNC and must list again. list and load_all pipeline
 * their reads in pages.
 *
 * URL: redis://[user:pw@]host[:port][/db]?prefix=jf&ttl_s=N&maxlen=N
 *
 * hiredis writes with write(2), which raises SIGPIPE on a connection the
 * server closed; a library may not change the host's signal dispositions,
 * so every exchange blocks SIGPIPE for the calling thread and swallows a
 * SIGPIPE it caused.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "jitfarm/error.h"
#include "common/util.h"
#include "common/mem.h"
#include "store_redis.h"

#define RS_XREAD_COUNT 1000
#define RS_MAXLEN_DEFAULT 100000

typedef struct rs {
	redisContext *c;
	unsigned gen;                   /* bumped on every new connection */
	char host[256];
	int port, db;
	char user[128], pw[256];
	char prefix[128];
	char k_index[160], k_stream[160];
	long ttl_s, maxlen;
	int connect_ms, op_ms, page;
	char token[33];                 /* lease owner token */
	char err[512];
} rs_t;

/* Put: KEYS blob, index, stream; ARGV blob, hex, maxlen, ttl_ms.
 * Returns 1 when the key is new (and was published). */
static const char put_lua[] =
    "local new = redis.call('EXISTS', KEYS[1]) == 0\n"
    "if tonumber(ARGV[4]) > 0 then\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])\n"
    "else\n"
    "  redis.call('SET', KEYS[1], ARGV[1])\n"
    "end\n"
    "local t = redis.call('TIME')\n"
    "local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[2], ms, ARGV[2])\n"
    "if tonumber(ARGV[4]) > 0 then\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ms - tonumber(ARGV[4]))\n"
    "  redis.call('ZADD', KEYS[2], ms, ARGV[2])\n"
    "end\n"
    "if new then\n"
    "  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'k', ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* Del: KEYS blob, index; ARGV hex. Returns how many blobs were removed. */
static const char del_lua[] =
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "return redis.call('DEL', KEYS[1])\n";

/* Release a lease only if this handle's token still holds it. */
static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

/* --- SIGPIPE guard --------------------------------------------------------- */

typedef struct pipe_guard {
	sigset_t old;
	int pending_before;
} pipe_guard_t;

static void
guard_on(pipe_guard_t *g)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pend);
	g->pending_before = sigismember(&pend, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void
guard_off(pipe_guard_t *g)
{
	sigset_t set, pend;
	int saved = errno;

	sigpending(&pend);
	if (!g->pending_before && sigismember(&pend, SIGPIPE)) {
		struct timespec zero = { 0, 0 };

		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	errno = saved;
}

/* --- connection ------------------------------------------------------------ */

static struct timeval
ms_tv(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

static void
drop(rs_t *r)
{
	if (r->c) {
		redisFree(r->c);
		r->c = NULL;
	}
}

/* Map a broken-context error to a jf code, note it and drop the link. */
static int
ctx_fail(rs_t *r, const char *what)
{
	int code = JF_ERR_STORE;

	if (r->c && r->c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == ETIMEDOUT))
		code = JF_ERR_TIMEOUT;
	snprintf(r->err, sizeof(r->err), "redis %s:%d: %s: %s", r->host, r->port, what,
	    r->c ? (r->c->errstr[0] ? r->c->errstr : "connection lost") : "not connected");
	drop(r);
	return code;
}

/* An error reply: auth errors are JF_ERR_AUTH, a server still loading or
 * out of memory is a transient JF_ERR_STORE, the rest JF_ERR_STORE too. */
static int
reply_fail(rs_t *r, const redisReply *rep, const char *what)
{
	snprintf(r->err, sizeof(r->err), "redis %s:%d: %s: %.*s", r->host, r->port, what,
	    rep->str ? (int)JF_MIN(rep->len, 300) : 0, rep->str ? rep->str : "");
	if (rep->str && (strncmp(rep->str, "NOAUTH", 6) == 0 ||
	    strncmp(rep->str, "WRONGPASS", 9) == 0 || strncmp(rep->str, "NOPERM", 6) == 0))
		return JF_ERR_AUTH;
	return JF_ERR_STORE;
}

static int cmd(rs_t *r, redisReply **out, int argc, const char **argv, const size_t *lens,
    const char *what);

static int
conn(rs_t *r)
{
	pipe_guard_t g;
	redisReply *rep = NULL;
	int rc;

	if (r->c)
		return 0;
	guard_on(&g);
	r->c = redisConnectWithTimeout(r->host, r->port, ms_tv(r->connect_ms));
	guard_off(&g);
	if (r->c == NULL) {
		snprintf(r->err, sizeof(r->err), "redis %s:%d: out of memory", r->host, r->port);
		return JF_ERR_NOMEM;
	}
	if (r->c->err) {
		rc = r->c->err == REDIS_ERR_IO && (errno == ETIMEDOUT || errno == EINPROGRESS) ?
		    JF_ERR_TIMEOUT : JF_ERR_STORE;
		snprintf(r->err, sizeof(r->err), "redis %s:%d: connect: %s", r->host, r->port,
		    r->c->errstr);
		drop(r);
		return rc;
	}
	redisSetTimeout(r->c, ms_tv(r->op_ms));
	redisEnableKeepAlive(r->c);
	r->gen++;
	if (r->pw[0]) {
		const char *av[3] = { "AUTH", r->user[0] ? r->user : r->pw, r->pw };
		size_t al[3] = { 4, strlen(av[1]), strlen(r->pw) };

		if ((rc = cmd(r, &rep, r->user[0] ? 3 : 2, av, al, "AUTH")) != 0)
			goto fail;
		freeReplyObject(rep);
		rep = NULL;
	}
	if (r->db != 0) {
		char db[16];
		const char *av[2] = { "SELECT", db };
		size_t al[2] = { 6, 0 };

		snprintf(db, sizeof(db), "%d", r->db);
		al[1] = strlen(db);
		if ((rc = cmd(r, &rep, 2, av, al, "SELECT")) != 0)
			goto fail;
		freeReplyObject(rep);
	}
	return 0;
fail:
	drop(r);
	return rc;
}

/* One command; *out is the reply (never an error reply) on success. */
static int
cmd(rs_t *r, redisReply **out, int argc, const char **argv, const size_t *lens,
    const char *what)
{
	pipe_guard_t g;
	redisReply *rep;
	int rc;

	*out = NULL;
	if ((rc = conn(r)) != 0)
		return rc;
	guard_on(&g);
	rep = redisCommandArgv(r->c, argc, argv, lens);
	guard_off(&g);
	if (rep == NULL)
		return ctx_fail(r, what);
	if (rep->type == REDIS_REPLY_ERROR) {
		rc = reply_fail(r, rep, what);
		freeReplyObject(rep);
		return rc;
	}
	*out = rep;
	return 0;
}

/* --- open ------------------------------------------------------------------ */

static int
rs_open(const char *url, const jf_url_t *u, const jf_store_opts_t *o, void **self, char *err,
    size_t errlen)
{
	rs_t *r;
	const char *db;
	int rc = JF_ERR_INVAL;
	uint8_t rnd[16];

	*self = NULL;
	if ((r = jf_calloc(1, sizeof(*r))) == NULL)
		return JF_ERR_NOMEM;
	if (u->host[0] == '\0' || jf_strlcpy(r->host, u->host, sizeof(r->host)) >= sizeof(r->host))
		goto bad;
	/* redis://user:pw@host (ACL) or redis://:pw@host; redis://pw@host
	 * (no ':') is the password alone, as redis-cli reads it */
	if (u->has_password) {
		if (jf_strlcpy(r->user, u->user, sizeof(r->user)) >= sizeof(r->user) ||
		    jf_strlcpy(r->pw, u->password, sizeof(r->pw)) >= sizeof(r->pw))
			goto bad;
	} else if (jf_strlcpy(r->pw, u->user, sizeof(r->pw)) >= sizeof(r->pw)) {
		goto bad;
	}
	r->port = u->port ? u->port : 6379;
	db = u->path[0] == '/' ? u->path + 1 : u->path;
	if (*db) {
		char *end;
		long n = strtol(db, &end, 10);

		if (n < 0 || n > 1000000 || *end != '\0' || end == db)
			goto bad;
		r->db = (int)n;
	}
	if ((rc = jf_store_url_param(url, "prefix", r->prefix, sizeof(r->prefix))) == 0)
		snprintf(r->prefix, sizeof(r->prefix), "jf");
	rc = JF_ERR_INVAL;
	if (r->prefix[0] == '\0' || strlen(r->prefix) > 100)
		goto bad;
	r->ttl_s = jf_store_url_long(url, "ttl_s", 0);
	r->maxlen = jf_store_url_long(url, "maxlen", RS_MAXLEN_DEFAULT);
	if (r->ttl_s < 0 || r->maxlen <= 0)
		goto bad;
	snprintf(r->k_index, sizeof(r->k_index), "%s:i", r->prefix);
	snprintf(r->k_stream, sizeof(r->k_stream), "%s:s", r->prefix);
	r->connect_ms = o->connect_timeout_ms;
	r->op_ms = o->op_timeout_ms;
	r->page = o->page_size;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		rc = JF_ERR_SYSTEM;
		goto out;
	}
	jf_hex_encode(rnd, sizeof(rnd), r->token);
	/* connect lazily: a store that is down now may be up at the first call */
	*self = r;
	return 0;
bad:
	jf_seterr(err, errlen, JF_ERR_INVAL,
	    "bad redis URL (want redis://[user:pw@]host:port/db?prefix=jf&ttl_s=&maxlen=)");
out:
	jf_free(r);
	return rc;
}

static void
blob_key(const rs_t *r, const jf_key_t *k, char *buf, size_t len, char *hex)
{
	jf_key_hex(k, hex);
	snprintf(buf, len, "%s:a:%s", r->prefix, hex);
}

/* --- entries ---------------------------------------------------------------- */

/* verb on k's blob key ("GET", "EXISTS"): the reply, as cmd gives it. */
static int
key_cmd(rs_t *r, const char *verb, const jf_key_t *k, redisReply **rep)
{
	char key[256], hex[JF_KEY_HEX_LEN + 1];
	const char *av[2] = { verb, key };
	size_t al[2];

	blob_key(r, k, key, sizeof(key), hex);
	al[0] = strlen(verb);
	al[1] = strlen(key);
	return cmd(r, rep, 2, av, al, verb);
}

static int
rs_get(void *self, const jf_key_t *k, uint8_t **blob, size_t *len)
{
	rs_t *r = self;
	redisReply *rep;
	int rc;

	if ((rc = key_cmd(r, "GET", k, &rep)) != 0)
		return rc;
	if (rep->type == REDIS_REPLY_NIL) {
		rc = JF_ERR_NOTFOUND;
	} else if (rep->type != REDIS_REPLY_STRING) {
		snprintf(r->err, sizeof(r->err), "redis: GET answered type %d", rep->type);
		rc = JF_ERR_PROTO;
	} else if ((*blob = jf_malloc(rep->len ? rep->len : 1)) == NULL) {
		rc = JF_ERR_NOMEM;
	} else {
		memcpy(*blob, rep->str, rep->len);
		*len = rep->len;
	}
	freeReplyObject(rep);
	return rc;
}

static int
rs_put(void *self, const jf_key_t *k, const uint8_t *blob, size_t len)
{
	rs_t *r = self;
	char key[256], hex[JF_KEY_HEX_LEN + 1], maxlen[32], ttl[32];
	const char *av[10] = { "EVAL", put_lua, "3", key, r->k_index, r->k_stream,
	    (const char *)blob, hex, maxlen, ttl };
	size_t al[10];
	redisReply *rep;
	int i, rc;

	blob_key(r, k, key, sizeof(key), hex);
	snprintf(maxlen, sizeof(maxlen), "%ld", r->maxlen);
	snprintf(ttl, sizeof(ttl), "%ld", r->ttl_s * 1000);
	for (i = 0; i < 10; i++)
		al[i] = strlen(av[i] ? av[i] : "");
	al[6] = len;
	if ((rc = cmd(r, &rep, 10, av, al, "put")) != 0)
		return rc;
	freeReplyObject(rep);
	return 0;
}

static int
rs_del(void *self, const jf_key_t *k)
{
	rs_t *r = self;
	char key[256], hex[JF_KEY_HEX_LEN + 1];
	const char *av[6] = { "EVAL", del_lua, "2", key, r->k_index, hex };
	size_t al[6];
	redisReply *rep;
	int i, rc;

	blob_key(r, k, key, sizeof(key), hex);
	for (i = 0; i < 6; i++)
		al[i] = strlen(av[i]);
	if ((rc = cmd(r, &rep, 6, av, al, "del")) != 0)
		return rc;
	rc = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0 ? 0 : JF_ERR_NOTFOUND;
	freeReplyObject(rep);
	return rc;
}

static int
rs_exists(void *self, const jf_key_t *k)
{
	rs_t *r = self;
	redisReply *rep;
	int rc;

	if ((rc = key_cmd(r, "EXISTS", k, &rep)) != 0)
		return rc;
	rc = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0 ? 0 : JF_ERR_NOTFOUND;
	freeReplyObject(rep);
	return rc;
}

/*
 * Walk the index in pages of r->page, by score (put time) and then by
 * name: each page starts at the last score seen, skipping the members at
 * that score already seen, so entries added or removed meanwhile never
 * shift the walk. For each page, either report the entries (lfn) or
 * pipeline one GET per entry and report the blobs (bfn). Entries that
 * vanish meanwhile are skipped.
 */
static int
walk(rs_t *r, jf_store_list_fn lfn, jf_store_blob_fn bfn, void *arg)
{
	char min[64] = "-inf";
	long same = 0;
	int rc = 0;

	for (;;) {
		char off[32], cnt[32];
		const char *av[9] = { "ZRANGE", r->k_index, min, "+inf", "BYSCORE", "LIMIT", off, cnt,
			"WITHSCORES" };
		size_t al[9];
		redisReply *rep;
		size_t i, n, k;

		snprintf(off, sizeof(off), "%ld", same);
		snprintf(cnt, sizeof(cnt), "%d", r->page);
		for (i = 0; i < 9; i++)
			al[i] = strlen(av[i]);
		if ((rc = cmd(r, &rep, 9, av, al, "ZRANGE")) != 0)
			return rc;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2) {
			freeReplyObject(rep);
			snprintf(r->err, sizeof(r->err), "redis: bad ZRANGE reply");
			return JF_ERR_PROTO;
		}
		for (i = 0; i < rep->elements; i++)
			if (rep->element[i]->type != REDIS_REPLY_STRING) {
				freeReplyObject(rep);
				snprintf(r->err, sizeof(r->err), "redis: bad ZRANGE reply");
				return JF_ERR_PROTO;
			}
		n = rep->elements / 2;
		if (bfn != NULL && n > 0) {
			pipe_guard_t g;
			redisReply **got;
			size_t sent = 0;

			/* pipeline the page's GETs: one round trip for the page. All
			 * replies are read before any is delivered, as the callback
			 * may itself talk to the store (to drop a corrupt entry). */
			if ((got = jf_calloc(n, sizeof(*got))) == NULL) {
				freeReplyObject(rep);
				return JF_ERR_NOMEM;
			}
			guard_on(&g);
			for (i = 0; i < n; i++) {
				char key[256];
				const char *gv[2] = { "GET", key };
				size_t gl[2] = { 3, 0 };
				const redisReply *e = rep->element[2 * i];

				if (e->type != REDIS_REPLY_STRING || e->len != JF_KEY_HEX_LEN)
					continue;
				snprintf(key, sizeof(key), "%s:a:%.*s", r->prefix, (int)e->len, e->str);
				gl[1] = strlen(key);
				if (redisAppendCommandArgv(r->c, 2, gv, gl) != REDIS_OK) {
					rc = JF_ERR_NOMEM;
					break;
				}
				sent++;
			}
			for (i = 0; i < n && rc == 0; i++) {
				const redisReply *e = rep->element[2 * i];

				if (e->type != REDIS_REPLY_STRING || e->len != JF_KEY_HEX_LEN)
					continue;
				if (redisGetReply(r->c, (void **)&got[i]) != REDIS_OK || got[i] == NULL)
					rc = ctx_fail(r, "pipelined GET");
			}
			guard_off(&g);
			if (rc != 0)
				drop(r);        /* discards whatever is still queued */
			for (i = 0; i < n; i++) {
				const redisReply *e = rep->element[2 * i];
				jf_key_t k;

				if (rc == 0 && got[i] && got[i]->type == REDIS_REPLY_STRING &&
				    jf_key_from_hex(e->str, &k) == 0)
					rc = bfn(&k, (const uint8_t *)got[i]->str, got[i]->len, arg);
				if (got[i])
					freeReplyObject(got[i]);
			}
			jf_free(got);
		} else if (lfn != NULL) {
			for (i = 0; i < n && rc == 0; i++) {
				const redisReply *e = rep->element[2 * i], *sc = rep->element[2 * i + 1];
				jf_store_entry_t ent = { 0 };

				if (e->type != REDIS_REPLY_STRING || e->len != JF_KEY_HEX_LEN ||
				    jf_key_from_hex(e->str, &ent.key) != 0)
					continue;
				if (sc->type == REDIS_REPLY_STRING)
					ent.mtime_ms = strtoull(sc->str, NULL, 10);
				rc = lfn(&ent, arg);
			}
		}
		if (rc == 0 && n == (size_t)r->page) {
			const redisReply *last = rep->element[2 * n - 1];

			if (last->len >= sizeof(min)) {
				rc = JF_ERR_PROTO;
			} else if (strlen(min) == last->len && memcmp(min, last->str, last->len) == 0) {
				same += (long)n;        /* the whole page had the same score */
			} else {
				for (k = 0; k < n && strcmp(rep->element[2 * (n - 1 - k) + 1]->str,
				    last->str) == 0; k++)
					;
				same = (long)k;
				memcpy(min, last->str, last->len);
				min[last->len] = '\0';
			}
		}
		freeReplyObject(rep);
		if (rc != 0 || n < (size_t)r->page)
			return rc;
	}
}

static int
rs_list(void *self, jf_store_list_fn fn, void *arg)
{
	return walk(self, fn, NULL, arg);
}

static int
rs_load_all(void *self, jf_store_blob_fn fn, void *arg)
{
	return walk(self, NULL, fn, arg);
}

/* --- the stream -------------------------------------------------------------- */

typedef struct sid {
	unsigned long long ms, seq;
} sid_t;

static int
sid_parse(const char *s, size_t n, sid_t *id)
{
	char buf[64], *end, *dash;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if ((dash = strchr(buf, '-')) == NULL || buf[0] == '-' || dash[1] == '\0')
		return -1;
	*dash = '\0';
	errno = 0;
	id->ms = strtoull(buf, &end, 10);
	if (*end || errno)
		return -1;
	id->seq = strtoull(dash + 1, &end, 10);
	if (*end || errno || buf[0] < '0' || buf[0] > '9' || dash[1] < '0' || dash[1] > '9')
		return -1;
	return 0;
}

static int
sid_cmp(const sid_t *a, const sid_t *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

typedef struct sinfo {
	int exists;
	sid_t last, first;
	int has_first;
	long long length, added;        /* added: -1 when the server does not say */
} sinfo_t;

/* Read an XINFO STREAM reply (an error reply "no such key" means there
 * is no stream yet). Consumes nothing; rep stays the caller's. */
static int
parse_info(rs_t *r, const redisReply *rep, sinfo_t *si)
{
	size_t i;

	memset(si, 0, sizeof(*si));
	si->added = -1;
	if (rep->type == REDIS_REPLY_ERROR) {
		if (rep->str && strstr(rep->str, "no such key"))
			return 0;
		return reply_fail(r, rep, "XINFO");
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2)
		goto bad;
	si->exists = 1;
	for (i = 0; i + 1 < rep->elements; i += 2) {
		const redisReply *f = rep->element[i], *v = rep->element[i + 1];

		if (f->type != REDIS_REPLY_STRING && f->type != REDIS_REPLY_STATUS)
			continue;
		if (strcmp(f->str, "last-generated-id") == 0) {
			if (v->type != REDIS_REPLY_STRING && v->type != REDIS_REPLY_STATUS)
				goto bad;
			if (sid_parse(v->str, v->len, &si->last) != 0)
				goto bad;
		} else if (strcmp(f->str, "length") == 0 && v->type == REDIS_REPLY_INTEGER) {
			si->length = v->integer;
		} else if (strcmp(f->str, "entries-added") == 0 && v->type == REDIS_REPLY_INTEGER) {
			si->added = v->integer;
		} else if (strcmp(f->str, "first-entry") == 0 && v->type == REDIS_REPLY_ARRAY &&
		    v->elements >= 1 && v->element[0]->type == REDIS_REPLY_STRING) {
			if (sid_parse(v->element[0]->str, v->element[0]->len, &si->first) != 0)
				goto bad;
			si->has_first = 1;
		}
	}
	return 0;
bad:
	snprintf(r->err, sizeof(r->err), "redis: unexpected XINFO STREAM reply");
	return JF_ERR_PROTO;
}

static int
stream_info(rs_t *r, sinfo_t *si)
{
	const char *av[3] = { "XINFO", "STREAM", r->k_stream };
	size_t al[3] = { 5, 6, strlen(r->k_stream) };
	pipe_guard_t g;
	redisReply *rep;
	int rc;

	if ((rc = conn(r)) != 0)
		return rc;
	guard_on(&g);
	rep = redisCommandArgv(r->c, 3, av, al);
	guard_off(&g);
	if (rep == NULL)
		return ctx_fail(r, "XINFO");
	rc = parse_info(r, rep, si);
	freeReplyObject(rep);
	return rc;
}

static int
rs_cursor(void *self, char *cursor, size_t len)
{
	rs_t *r = self;
	sinfo_t si;
	int rc;

	if ((rc = stream_info(r, &si)) != 0)
		return rc;
	if (!si.exists)
		snprintf(cursor, len, "0-0");
	else
		snprintf(cursor, len, "%llu-%llu", si.last.ms, si.last.seq);
	return 0;
}

/* Is the cursor still good, given the stream's state? 0 or JF_ERR_RESYNC. */
static int
check_cursor(rs_t *r, const sid_t *cur, const sinfo_t *sip)
{
	sid_t zero = { 0, 0 };
	sinfo_t si = *sip;

	if (!si.exists) {
		if (sid_cmp(cur, &zero) == 0)
			return 0;
		snprintf(r->err, sizeof(r->err), "redis: the stream %s is gone; resync",
		    r->k_stream);
		return JF_ERR_RESYNC;
	}
	if (sid_cmp(cur, &si.last) > 0) {
		snprintf(r->err, sizeof(r->err),
		    "redis: cursor is past the stream's last id (data lost?); resync");
		return JF_ERR_RESYNC;
	}
	/* entries were trimmed, and the cursor is older than what is left */
	if ((si.added < 0 || si.added > si.length) &&
	    (si.has_first ? sid_cmp(cur, &si.first) < 0 : sid_cmp(cur, &si.last) < 0)) {
		snprintf(r->err, sizeof(r->err),
		    "redis: entries after the cursor were trimmed from the stream; resync");
		return JF_ERR_RESYNC;
	}
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Each round sends XINFO STREAM and XREAD [BLOCK] together: the first
 * answers at once and says whether the cursor is still good (if not, the
 * connection, with the XREAD still blocking on it, is dropped), the
 * second waits for entries. A dropped connection is reconnected with
 * backoff until the deadline, and the read resumes from the same cursor.
 */
static int
rs_watch(void *self, char *cursor, size_t len, int timeout_ms, jf_store_watch_fn fn,
    void *arg)
{
	rs_t *r = self;
	uint64_t deadline = jf_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	long backoff = 20;
	sid_t cur;
	int rc = 0;

	if (sid_parse(cursor, strlen(cursor), &cur) != 0 || len < 48) {
		snprintf(r->err, sizeof(r->err), "redis: bad cursor '%.40s'", cursor);
		return JF_ERR_INVAL;
	}
	for (;;) {
		char block[32], count[16];
		const char *iv[3] = { "XINFO", "STREAM", r->k_stream };
		size_t il[3] = { 5, 6, strlen(r->k_stream) };
		const char *av[8];
		size_t al[8];
		redisReply *info = NULL, *rep = NULL;
		pipe_guard_t g;
		sinfo_t si;
		uint64_t now = jf_now_ns();
		long left = now < deadline ? (long)((deadline - now) / 1000000ull) : 0;
		int argc = 0, delivered = 0, ok;
		size_t i;

		if ((rc = conn(r)) != 0) {
			/* down: reconnect and resume from the same cursor until the deadline */
			if (rc == JF_ERR_AUTH || rc == JF_ERR_NOMEM || left <= 0)
				return rc;
			sleep_ms(JF_MIN(backoff, left));
			backoff = JF_MIN(backoff * 2, 500);
			continue;
		}
		snprintf(count, sizeof(count), "%d", RS_XREAD_COUNT);
		snprintf(block, sizeof(block), "%ld", left);
		av[argc++] = "XREAD";
		av[argc++] = "COUNT";
		av[argc++] = count;
		if (left > 0) {
			av[argc++] = "BLOCK";
			av[argc++] = block;
		}
		av[argc++] = "STREAMS";
		av[argc++] = r->k_stream;
		av[argc++] = cursor;
		for (i = 0; i < (size_t)argc; i++)
			al[i] = strlen(av[i]);
		redisSetTimeout(r->c, ms_tv(left + r->op_ms));
		guard_on(&g);
		ok = redisAppendCommandArgv(r->c, 3, iv, il) == REDIS_OK &&
		    redisAppendCommandArgv(r->c, argc, av, al) == REDIS_OK &&
		    redisGetReply(r->c, (void **)&info) == REDIS_OK && info != NULL;
		guard_off(&g);
		if (!ok) {
			rc = ctx_fail(r, "XINFO/XREAD");
			if (left <= 0)
				return rc;
			continue;
		}
		rc = parse_info(r, info, &si);
		freeReplyObject(info);
		if (rc == 0)
			rc = check_cursor(r, &cur, &si);
		if (rc != 0) {
			drop(r);        /* the XREAD is still pending on it */
			return rc;
		}
		guard_on(&g);
		ok = redisGetReply(r->c, (void **)&rep) == REDIS_OK && rep != NULL;
		guard_off(&g);
		if (!ok) {
			rc = ctx_fail(r, "XREAD");
			if (left <= 0)
				return rc;
			continue;       /* reconnect and read again from cursor */
		}
		redisSetTimeout(r->c, ms_tv(r->op_ms));
		if (rep->type == REDIS_REPLY_ERROR) {
			rc = reply_fail(r, rep, "XREAD");
			freeReplyObject(rep);
			return rc;
		}
		if (rep->type == REDIS_REPLY_NIL) {
			freeReplyObject(rep);
			return 0;       /* nothing new before the deadline */
		}
		/* [[stream, [[id, [field, value, ...]], ...]]] */
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
		    rep->element[0]->type == REDIS_REPLY_ARRAY &&
		    rep->element[0]->elements == 2 &&
		    rep->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
			const redisReply *ents = rep->element[0]->element[1];

			for (i = 0; i < ents->elements && rc == 0; i++) {
				const redisReply *e = ents->element[i], *id, *fv;
				sid_t nid;
				jf_key_t k;
				size_t j;
				int found = 0;

				if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
					continue;
				id = e->element[0];
				fv = e->element[1];
				if (id->type != REDIS_REPLY_STRING || id->len >= len ||
				    sid_parse(id->str, id->len, &nid) != 0)
					continue;
				memcpy(cursor, id->str, id->len);
				cursor[id->len] = '\0';
				cur = nid;
				if (fv->type != REDIS_REPLY_ARRAY)
					continue;
				for (j = 0; j + 1 < fv->elements; j += 2) {
					const redisReply *f = fv->element[j], *v = fv->element[j + 1];

					if (f->type == REDIS_REPLY_STRING && f->len == 1 && f->str[0] == 'k' &&
					    v->type == REDIS_REPLY_STRING && v->len == JF_KEY_HEX_LEN &&
					    jf_key_from_hex(v->str, &k) == 0)
						found = 1;
				}
				if (!found)
					continue;       /* not ours: skip, cursor moved past it */
				delivered++;
				rc = fn(&k, cursor, arg);
			}
		}
		freeReplyObject(rep);
		if (rc != 0 || delivered || jf_now_ns() >= deadline)
			return rc;
	}
}

/* --- leases -------------------------------------------------------------------- */

static int
rs_lease(void *self, const jf_key_t *k, int ttl_ms, int *acquired)
{
	rs_t *r = self;
	char key[256], hex[JF_KEY_HEX_LEN + 1], px[32];
	const char *av[6] = { "SET", key, r->token, "NX", "PX", px };
	size_t al[6];
	redisReply *rep;
	int i, rc;

	*acquired = 0;
	jf_key_hex(k, hex);
	snprintf(key, sizeof(key), "%s:l:%s", r->prefix, hex);
	snprintf(px, sizeof(px), "%d", ttl_ms);
	for (i = 0; i < 6; i++)
		al[i] = strlen(av[i]);
	if ((rc = cmd(r, &rep, 6, av, al, "lease")) != 0)
		return rc;
	*acquired = rep->type == REDIS_REPLY_STATUS;
	freeReplyObject(rep);
	return 0;
}

static int
rs_lease_release(void *self, const jf_key_t *k)
{
	rs_t *r = self;
	char key[256], hex[JF_KEY_HEX_LEN + 1];
	const char *av[5] = { "EVAL", release_lua, "1", key, r->token };
	size_t al[5];
	redisReply *rep;
	int i, rc;

	jf_key_hex(k, hex);
	snprintf(key, sizeof(key), "%s:l:%s", r->prefix, hex);
	for (i = 0; i < 5; i++)
		al[i] = strlen(av[i]);
	if ((rc = cmd(r, &rep, 5, av, al, "release")) != 0)
		return rc;
	freeReplyObject(rep);
	return 0;
}

static const char *
rs_errstr(void *self)
{
	rs_t *r = self;

	return r->err[0] ? r->err : "no error";
}

static void
rs_close(void *self)
{
	rs_t *r = self;

	if (r == NULL)
		return;
	drop(r);
	jf_free(r);
}

const jf_store_ops_t jf_store_redis_ops = {
	.scheme = "redis",
	.open = rs_open,
	.get = rs_get,
	.put = rs_put,
	.del = rs_del,
	.exists = rs_exists,
	.list = rs_list,
	.cursor = rs_cursor,
	.watch = rs_watch,
	.errstr = rs_errstr,
	.close = rs_close,
	.load_all = rs_load_all,
	.lease = rs_lease,
	.lease_release = rs_lease_release,
};
