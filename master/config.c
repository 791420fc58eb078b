/*
 * config.c - the master's configuration from flags, a config file and the
 * environment, in that order of precedence (flags win).
 *
 * One table describes every option once: its flag name, its type, where
 * it goes and its help text. The same name works in all three places:
 * "--queue-limit 64" on the command line, "queue-limit = 64" in the file
 * named by --config (or $JITFARM_CONFIG), and JITFARM_QUEUE_LIMIT=64 in
 * the environment. Sources are applied lowest first, so each overwrites
 * the one before. --listen is the one list: any --listen flag replaces
 * the listens from the file and the environment (where it is a
 * comma-separated list) instead of adding to them.
 */
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/log.h"
#include "common/util.h"
#include "common/mem.h"
#include "common/key.h"
#include "storage/store.h"
#include "master/config.h"

enum otype { O_STR, O_INT, O_U64, O_LEVEL, O_LISTEN };

typedef struct opt {
	const char *name;
	enum otype type;
	size_t off;
	const char *arg;
	const char *help;
} opt_t;

#define OFF(f) offsetof(jf_mconfig_t, f)

static const opt_t opts[] = {
	{ "listen", O_LISTEN, 0, "ADDR",
	  "where to serve HTTP: HOST:PORT, [V6]:PORT or unix:PATH; repeatable\n"
	  "(default 127.0.0.1:7070)" },
	{ "store", O_STR, OFF(store_url), "URL",
	  "artifact store: file:///dir, redis://host:port/db, http://..., s3://...,\n"
	  "tiered:LOCAL,REMOTE (default $JITFARM_STORE or file://~/.cache/jitfarm)" },
	{ "workers", O_INT, OFF(workers), "N",
	  "concurrent sandboxed compile workers (default: number of cores)" },
	{ "compile-timeout", O_INT, OFF(compile_timeout_s), "SECONDS",
	  "deadline for one compile; the worker is killed after it (default 120)" },
	{ "max-request-bytes", O_U64, OFF(max_request_bytes), "N",
	  "largest accepted request body (IR); larger is 413 (default 67108864)" },
	{ "queue-limit", O_INT, OFF(queue_limit), "N",
	  "compiles allowed to wait beyond the busy workers; more is 503 (default 256)" },
	{ "tokens", O_STR, OFF(tokens_path), "FILE",
	  "bearer tokens, one \"TOKEN read|compile|admin[,...] [NAME]\" a line;\n"
	  "reloaded on SIGHUP. Without it the API is open (default none)" },
	{ "signing-key", O_STR, OFF(signing_key_path), "FILE",
	  "Ed25519 private key (PEM, from `jitfarm keygen`): sign every artifact" },
	{ "log-level", O_LEVEL, OFF(log_level), "LEVEL",
	  "error, warn, info (one line per request) or debug (default info)" },
	{ "store-threads", O_INT, OFF(store_threads), "N",
	  "threads doing blocking store I/O off the event loop (default 4)" },
	{ "http-timeout", O_INT, OFF(http_timeout_s), "SECONDS",
	  "read/write timeout of a client connection, against slow clients (default 30)" },
	{ "max-header-bytes", O_INT, OFF(max_header_bytes), "N",
	  "largest accepted request head (default 16384)" },
	{ "max-body-held", O_U64, OFF(max_body_held), "N",
	  "request-body bytes held at once over all requests; a body past it is\n"
	  "503 with Retry-After before it is read (default 268435456)" },
	{ "conn-filter", O_INT, OFF(conn_filter), "0|1",
	  "1: read every request head before evhttp (token, limits and strict\n"
	  "parsing before the body, connection cap, deadlines); not yet the\n"
	  "default: it still crashes under the HTTP fuzzer (default 0)" },
	{ "max-connections", O_INT, OFF(max_connections), "N",
	  "client connections at once; lowered to the fd limit less --fd-reserve;\n"
	  "past it the oldest idle one is closed, else 503 (default 1024)" },
	{ "fd-reserve", O_INT, OFF(fd_reserve), "N",
	  "fds kept free of client connections for workers and the store (default 64)" },
	{ "head-timeout", O_INT, OFF(head_timeout_s), "SECONDS",
	  "a request head must arrive within this once it began (default 10)" },
	{ "request-timeout", O_INT, OFF(request_timeout_s), "SECONDS",
	  "a request's head and body must arrive within this (default 300)" },
	{ "min-rate", O_U64, OFF(min_rate), "BYTES/S",
	  "slowest accepted body upload after its first seconds (default 16384)" },
	{ "drain-timeout", O_INT, OFF(drain_timeout_s), "SECONDS",
	  "on SIGTERM, how long in-flight compiles may finish (default 30)" },
	{ "lease-ms", O_INT, OFF(lease_ms), "MS",
	  "cluster-wide compile lease on stores that support it (default:\n"
	  "compile timeout + 10 s)" },
	{ "quarantine-ttl", O_INT, OFF(quarantine_ttl_s), "SECONDS",
	  "how long an input that crashed workers twice is refused (default 600)" },
	{ "name", O_STR, OFF(name), "NAME",
	  "this master's name in manifests and logs (default HOST/PID)" },
	{ "config", O_STR, OFF(config_path), "FILE",
	  "read \"name = value\" lines (the names of these flags) from FILE" },
};

void
jf_mconfig_usage(FILE *fp)
{
	size_t i;

	fprintf(fp,
	    "usage: jitfarm-master [options]\n\n"
	    "The jitfarm master: HTTP API for compiles and artifacts, single-flight\n"
	    "scheduling onto sandboxed workers, store-through and publishing.\n"
	    "Every option can also be set in the config file (name = value) or in\n"
	    "the environment as JITFARM_NAME (upper case, '-' as '_'); flags win,\n"
	    "then the environment, then the file. Signals: SIGTERM/SIGINT drain and\n"
	    "exit 0, SIGHUP reloads the token file.\n\n");
	for (i = 0; i < JF_ARRAY_LEN(opts); i++) {
		char head[64];
		const char *h = opts[i].help, *nl;

		snprintf(head, sizeof(head), "--%s %s", opts[i].name, opts[i].arg);
		fprintf(fp, "  %-28s ", head);
		while ((nl = strchr(h, '\n')) != NULL) {
			fprintf(fp, "%.*s\n  %-28s ", (int)(nl - h), h, "");
			h = nl + 1;
		}
		fprintf(fp, "%s\n", h);
	}
	fprintf(fp, "  %-28s %s\n  %-28s %s\n", "--help", "this text",
	    "--version", "print the version and exit");
}

static void
listen_clear(jf_mconfig_t *c)
{
	int i;

	for (i = 0; i < c->nlisten; i++)
		jf_free(c->listen[i]);
	c->nlisten = 0;
}

static int
listen_add(jf_mconfig_t *c, const char *v, char *err, size_t errlen)
{
	if (c->nlisten >= JF_MASTER_MAX_LISTEN)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "too many --listen (max %d)",
		    JF_MASTER_MAX_LISTEN);
	if (*v == '\0')
		return jf_seterr(err, errlen, JF_ERR_INVAL, "empty --listen");
	c->listen[c->nlisten++] = jf_xstrdup(v);
	return 0;
}

/* Set one option from text. from says where it came from, for errors. */
static int
set_opt(jf_mconfig_t *c, const opt_t *o, const char *v, const char *from,
    char *err, size_t errlen)
{
	void *field = (char *)c + o->off;
	char *end;
	long long n;

	switch (o->type) {
	case O_STR:
		jf_free(*(char **)field);
		*(char **)field = jf_xstrdup(v);
		return 0;
	case O_INT:
	case O_U64:
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < 0 ||
		    (o->type == O_INT && n > 1000000000))
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "%s: --%s wants a non-negative number, not \"%s\"", from, o->name, v);
		if (o->type == O_INT)
			*(int *)field = (int)n;
		else
			*(uint64_t *)field = (uint64_t)n;
		return 0;
	case O_LEVEL:
		if ((n = jf_log_level_parse(v)) < 0)
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "%s: --log-level wants error, warn, info or debug, not \"%s\"", from, v);
		*(int *)field = (int)n;
		return 0;
	case O_LISTEN: {
		char buf[1024], *p, *save = NULL;
		int r;

		if (jf_strlcpy(buf, v, sizeof(buf)) >= sizeof(buf))
			return jf_seterr(err, errlen, JF_ERR_INVAL, "%s: listen address too long", from);
		for (p = strtok_r(buf, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save))
			if ((r = listen_add(c, p, err, errlen)) != 0)
				return r;
		return 0;
	}
	}
	return JF_ERR_INVAL;
}

static const opt_t *
find_opt(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < JF_ARRAY_LEN(opts); i++)
		if (strlen(opts[i].name) == n && strncmp(opts[i].name, name, n) == 0)
			return &opts[i];
	return NULL;
}

static int
load_file(jf_mconfig_t *c, const char *path, char *err, size_t errlen)
{
	uint8_t *data = NULL;
	size_t len;
	char *line, *save = NULL, from[1100];
	int r, lineno = 0, listens = 0;

	if ((r = jf_file_read(path, 1u << 20, &data, &len)) != 0) {
		r = jf_seterr(err, errlen, r, "cannot read config %s: %s", path, jf_strerror(r));
		goto out;
	}
	for (line = strtok_r((char *)data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *eq, *k, *v;
		const opt_t *o;

		lineno++;
		k = jf_trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			r = jf_seterr(err, errlen, JF_ERR_INVAL, "%s:%d: want name = value",
			    path, lineno);
			goto out;
		}
		*eq = '\0';
		k = jf_trim(k);
		v = jf_trim(eq + 1);
		if ((o = find_opt(k, strlen(k))) == NULL || strcmp(k, "config") == 0) {
			r = jf_seterr(err, errlen, JF_ERR_INVAL, "%s:%d: unknown option \"%s\"",
			    path, lineno, k);
			goto out;
		}
		if (o->type == O_LISTEN && listens++ == 0)
			listen_clear(c);
		snprintf(from, sizeof(from), "%s:%d", path, lineno);
		if ((r = set_opt(c, o, v, from, err, errlen)) != 0)
			goto out;
	}
	r = 0;
out:
	free(data);
	return r;
}

static int
load_env(jf_mconfig_t *c, char *err, size_t errlen)
{
	size_t i, j;
	int r;

	for (i = 0; i < JF_ARRAY_LEN(opts); i++) {
		char name[64] = "JITFARM_";
		const char *v;

		for (j = 0; opts[i].name[j] && j + 9 < sizeof(name); j++)
			name[8 + j] = opts[i].name[j] == '-' ? '_' :
			    (char)toupper((unsigned char)opts[i].name[j]);
		name[8 + j] = '\0';
		if (strcmp(opts[i].name, "config") == 0 || (v = getenv(name)) == NULL || !*v)
			continue;
		if (opts[i].type == O_LISTEN)
			listen_clear(c);
		if ((r = set_opt(c, &opts[i], v, name, err, errlen)) != 0)
			return r;
	}
	return 0;
}

static void
defaults(jf_mconfig_t *c)
{
	memset(c, 0, sizeof(*c));
	c->compile_timeout_s = 120;
	c->max_request_bytes = 64u << 20;
	c->queue_limit = 256;
	c->log_level = JF_LOG_INFO;
	c->store_threads = 4;
	c->http_timeout_s = 30;
	c->max_header_bytes = 16384;
	c->drain_timeout_s = 30;
	c->quarantine_ttl_s = 600;
	c->max_body_held = 256u << 20;
	c->max_connections = 1024;
	c->fd_reserve = 64;
	c->head_timeout_s = 10;
	c->request_timeout_s = 300;
	c->min_rate = 16384;
}

/* The flags, last and strongest: --name value or --name=value. */
static int
load_flags(jf_mconfig_t *c, int argc, char **argv, char *err, size_t errlen)
{
	int i, r, flag_listens = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v, *eq;
		const opt_t *o;

		if (strncmp(a, "--", 2) != 0)
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "unexpected argument \"%s\" (see --help)", a);
		a += 2;
		eq = strchr(a, '=');
		if ((o = find_opt(a, eq != NULL ? (size_t)(eq - a) : strlen(a))) == NULL)
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "unknown option --%s (see --help)", a);
		if (eq != NULL) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			return jf_seterr(err, errlen, JF_ERR_INVAL, "--%s wants a value", o->name);
		}
		if (o->type == O_LISTEN && flag_listens++ == 0)
			listen_clear(c);
		if ((r = set_opt(c, o, v, "command line", err, errlen)) != 0)
			return r;
	}
	return 0;
}

/* What nothing set: defaults that depend on the machine or on other options. */
static int
fill_unset(jf_mconfig_t *c, char *err, size_t errlen)
{
	int r;

	if (c->nlisten == 0 && (r = listen_add(c, "127.0.0.1:7070", err, errlen)) != 0)
		return r;
	if (c->store_url == NULL) {
		char buf[1024];

		c->store_url = jf_xstrdup(jf_store_default_url(buf, sizeof(buf)));
	}
	if (c->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		c->workers = n > 0 ? (int)n : 1;
	}
	if (c->compile_timeout_s == 0)
		c->compile_timeout_s = 120;
	if (c->store_threads == 0)
		c->store_threads = 4;
	if (c->store_threads > 64)
		c->store_threads = 64;
	if (c->http_timeout_s == 0)
		c->http_timeout_s = 30;
	if (c->max_header_bytes < 1024)
		c->max_header_bytes = 1024;
	if (c->max_request_bytes == 0)
		c->max_request_bytes = 64u << 20;
	if (c->max_body_held < c->max_request_bytes)
		c->max_body_held = c->max_request_bytes;
	if (c->max_connections == 0)
		c->max_connections = 1024;
	if (c->head_timeout_s == 0)
		c->head_timeout_s = 10;
	if (c->request_timeout_s == 0)
		c->request_timeout_s = 300;
	if (c->lease_ms == 0)
		c->lease_ms = c->compile_timeout_s * 1000 + 10000;
	return 0;
}

int
jf_mconfig_load(jf_mconfig_t *c, int argc, char **argv, char *err, size_t errlen)
{
	const char *cfg = getenv("JITFARM_CONFIG");
	int i, r;

	defaults(c);
	/* a first pass for --config and --help, which decide what comes next */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			jf_mconfig_usage(stdout);
			return 1;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("jitfarm-master %s\n", jf_compiler_id());
			return 1;
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			cfg = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			cfg = argv[i] + 9;
	}
	if (cfg != NULL && *cfg != '\0') {
		c->config_path = jf_xstrdup(cfg);
		if ((r = load_file(c, cfg, err, errlen)) != 0)
			return r;
	}
	if ((r = load_env(c, err, errlen)) != 0 || (r = load_flags(c, argc, argv, err, errlen)) != 0)
		return r;
	return fill_unset(c, err, errlen);
}

void
jf_mconfig_free(jf_mconfig_t *c)
{
	listen_clear(c);
	jf_free(c->store_url);
	jf_free(c->tokens_path);
	jf_free(c->signing_key_path);
	jf_free(c->name);
	jf_free(c->config_path);
	memset(c, 0, sizeof(*c));
}
