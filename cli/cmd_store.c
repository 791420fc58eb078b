/*
 * cmd_store.c - the store commands: get, put, ls, stat, gc.
 *
 * They work on any store URL through the generic store interface, except
 * gc, which trims a file:// store in place (remote stores have their own
 * expiry: Redis maxmemory, bucket lifecycle rules).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/mem.h"
#include "common/key.h"
#include "common/util.h"
#include "storage/store.h"
#include "storage/store_file_gc.h"
#include "cli/cli.h"

int jf_cmd_get(int argc, char **argv);
int jf_cmd_put(int argc, char **argv);
int jf_cmd_ls(int argc, char **argv);
int jf_cmd_stat(int argc, char **argv);
int jf_cmd_gc(int argc, char **argv);

/* Parse "[--store URL]" plus the command's own options. Positional
 * arguments go to pos (up to npos). Returns -1 on a usage error. */
typedef struct store_args {
	const char *store, *out, *max_bytes;
	int blob;
	const char *pos[2];
	int npos;
} store_args_t;

static int
parse_store_args(int argc, char **argv, store_args_t *a, int npos_max,
    int want_out, int want_blob, int want_max)
{
	int i, r;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		if ((r = jf_cli_opt(argc, argv, &i, "--store", &a->store)) != 0) {
			if (r < 0)
				return -1;
			continue;
		}
		if (want_out && (r = jf_cli_opt(argc, argv, &i, "-o", &a->out)) != 0) {
			if (r < 0)
				return -1;
			continue;
		}
		if (want_max && (r = jf_cli_opt(argc, argv, &i, "--max-bytes",
		    &a->max_bytes)) != 0) {
			if (r < 0)
				return -1;
			continue;
		}
		if (want_blob && strcmp(argv[i], "--blob") == 0) {
			a->blob = 1;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			jf_cli_err("unknown option '%s'", argv[i]);
			return -1;
		}
		if (a->npos >= npos_max) {
			jf_cli_err("unexpected argument '%s'", argv[i]);
			return -1;
		}
		a->pos[a->npos++] = argv[i];
	}
	return 0;
}

static int
open_store(const char *given, int read_only, jf_store_t **s, char *url, size_t urllen)
{
	jf_store_opts_t so;
	char err[512];
	int r;

	memset(&so, 0, sizeof(so));
	so.read_only = read_only;
	jf_cli_store_url(given, url, urllen);
	if ((r = jf_store_open(url, &so, s, err, sizeof(err))) != 0)
		jf_cli_err("cannot open store %s: %s", url, err);
	return r;
}

int
jf_cmd_get(int argc, char **argv)
{
	store_args_t a;
	jf_store_t *s = NULL;
	jf_artifact_t art;
	jf_key_t key;
	uint8_t *blob = NULL;
	size_t len = 0;
	char url[4200], err[512];
	int r, rc = JF_EXIT_FAIL;

	memset(&art, 0, sizeof(art));
	if (parse_store_args(argc, argv, &a, 1, 1, 1, 0) != 0 || a.npos != 1 ||
	    a.out == NULL)
		return jf_cli_usage("get");
	if (strlen(a.pos[0]) != JF_KEY_HEX_LEN || jf_key_from_hex(a.pos[0], &key) != 0) {
		jf_cli_err("'%s' is not a key (64 hex digits)", a.pos[0]);
		return jf_cli_usage("get");
	}
	if (open_store(a.store, 1, &s, url, sizeof(url)) != 0)
		goto out;
	if ((r = jf_store_get(s, &key, &blob, &len)) != 0) {
		jf_cli_err("%s: %s", a.pos[0], r == JF_ERR_NOTFOUND ? "not in the store" :
		    jf_store_errstr(s));
		goto out;
	}
	if (!a.blob && (r = jf_blob_decode(blob, len, NULL, &art, err, sizeof(err))) != 0) {
		jf_cli_err("%s: %s", a.pos[0], err);
		goto out;
	}
	if (jf_cli_write_output(a.out, a.blob ? blob : art.payload,
	    a.blob ? len : art.payload_len) != 0) {
		jf_cli_err("%s: cannot write: %s", a.out, strerror(errno));
		goto out;
	}
	rc = JF_EXIT_OK;
out:
	jf_artifact_free(&art);
	jf_free(blob);
	jf_store_close(s);
	return rc;
}

int
jf_cmd_put(int argc, char **argv)
{
	store_args_t a;
	jf_store_t *s = NULL;
	jf_manifest_t m;
	uint8_t *blob = NULL;
	size_t len = 0;
	char url[4200], err[512], hex[JF_KEY_HEX_LEN + 1];
	int r, rc = JF_EXIT_FAIL;

	memset(&m, 0, sizeof(m));
	if (parse_store_args(argc, argv, &a, 1, 0, 0, 0) != 0 || a.npos != 1)
		return jf_cli_usage("put");
	if ((r = jf_file_read(a.pos[0], (size_t)JF_BLOB_HEADER_LEN + JF_BLOB_MAX_MANIFEST +
	    JF_BLOB_MAX_PAYLOAD + JF_SIG_LEN, &blob, &len)) != 0) {
		jf_cli_err("%s: %s", a.pos[0], jf_strerror(r));
		goto out;
	}
	/* the key comes from the blob's own manifest, checked on decode */
	if ((r = jf_blob_peek(blob, len, &m, err, sizeof(err))) != 0) {
		jf_cli_err("%s: not an artifact blob: %s", a.pos[0], err);
		goto out;
	}
	if (open_store(a.store, 0, &s, url, sizeof(url)) != 0)
		goto out;
	if ((r = jf_store_put(s, &m.key, blob, len)) != 0) {
		jf_cli_err("%s: %s: %s", a.pos[0], jf_strerror(r), jf_store_errstr(s));
		goto out;
	}
	jf_key_hex(&m.key, hex);
	printf("%s\n", hex);
	rc = JF_EXIT_OK;
out:
	jf_manifest_free(&m);
	free(blob);
	jf_store_close(s);
	return rc;
}

typedef struct ls_ctx {
	jf_store_t *s;
	jf_cli_ls_t ls;
} ls_ctx_t;

static int
ls_one(const jf_store_entry_t *e, void *arg)
{
	ls_ctx_t *c = arg;
	uint8_t *blob = NULL;
	size_t len = 0;

	if (c->ls.print)
		(void)jf_store_get_raw(c->s, &e->key, &blob, &len);
	jf_cli_ls_add(&c->ls, &e->key, e->size, blob, len);
	return 0;
}

int
jf_cmd_ls(int argc, char **argv)
{
	store_args_t a;
	ls_ctx_t c;
	char url[4200];
	int r, rc = JF_EXIT_FAIL;

	memset(&c, 0, sizeof(c));
	if (parse_store_args(argc, argv, &a, 0, 0, 0, 0) != 0)
		return jf_cli_usage("ls");
	if (open_store(a.store, 1, &c.s, url, sizeof(url)) != 0)
		goto out;
	c.ls.print = 1;
	if ((r = jf_store_list(c.s, ls_one, &c)) != 0) {
		jf_cli_err("cannot list %s: %s", url, jf_store_errstr(c.s));
		goto out;
	}
	rc = JF_EXIT_OK;
out:
	jf_store_close(c.s);
	return rc;
}

static const char *const usual_counters[] = { "hits", "misses", "fallbacks", "errors" };

typedef struct stat_ctx {
	uint64_t usual[4];
	char other[1024];
	size_t used;
} stat_ctx_t;

static void
stat_counter(const char *name, uint64_t value, void *arg)
{
	stat_ctx_t *c = arg;
	size_t i;

	for (i = 0; i < JF_ARRAY_LEN(usual_counters); i++)
		if (strcmp(name, usual_counters[i]) == 0) {
			c->usual[i] = value;
			return;
		}
	if (c->used < sizeof(c->other))
		c->used += (size_t)snprintf(c->other + c->used, sizeof(c->other) - c->used,
		    "%-10s %" PRIu64 "\n", name, value);
}

int
jf_cmd_stat(int argc, char **argv)
{
	store_args_t a;
	ls_ctx_t c;
	char url[4200];
	stat_ctx_t sc;
	int r, rc = JF_EXIT_FAIL;
	size_t i;

	memset(&c, 0, sizeof(c));
	memset(&sc, 0, sizeof(sc));
	if (parse_store_args(argc, argv, &a, 0, 0, 0, 0) != 0)
		return jf_cli_usage("stat");
	if (open_store(a.store, 1, &c.s, url, sizeof(url)) != 0)
		goto out;
	if ((r = jf_store_list(c.s, ls_one, &c)) != 0) {
		jf_cli_err("cannot list %s: %s", url, jf_store_errstr(c.s));
		goto out;
	}
	printf("store      %s\n", url);
	printf("entries    %" PRIu64 "\n", c.ls.entries);
	printf("bytes      %" PRIu64 "\n", c.ls.bytes);
	/* the usual counters always show (0 before they first happen), then
	 * any others that commands have added */
	if (jf_cli_stats_read(url, stat_counter, &sc) != 0)
		jf_cli_err("warning: cannot read the counters");
	for (i = 0; i < JF_ARRAY_LEN(usual_counters); i++)
		printf("%-10s %" PRIu64 "\n", usual_counters[i], sc.usual[i]);
	fputs(sc.other, stdout);
	rc = JF_EXIT_OK;
out:
	jf_store_close(c.s);
	return rc;
}

int
jf_cmd_gc(int argc, char **argv)
{
	store_args_t a;
	uint64_t max = 0, ents = 0, bytes = 0;
	char url[4200];
	int r;

	if (parse_store_args(argc, argv, &a, 0, 0, 0, 1) != 0 || a.max_bytes == NULL)
		return jf_cli_usage("gc");
	if (jf_cli_parse_size(a.max_bytes, &max) != 0) {
		jf_cli_err("bad size '%s'", a.max_bytes);
		return jf_cli_usage("gc");
	}
	jf_cli_store_url(a.store, url, sizeof(url));
	if (strncmp(url, "file://", 7) != 0) {
		jf_cli_err("gc trims file:// stores only (%s)", url);
		return JF_EXIT_FAIL;
	}
	if ((r = jf_file_store_gc(url + 7, max, &ents, &bytes)) != 0) {
		jf_cli_err("gc %s: %s", url, jf_strerror(r));
		return JF_EXIT_FAIL;
	}
	printf("removed %" PRIu64 " entries, %" PRIu64 " bytes\n", ents, bytes);
	return JF_EXIT_OK;
}
