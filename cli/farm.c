/*
 * farm.c - the `jitfarm` verbs against a farm instead of a store.
 *
 * With `--farm URL` (http://host:port or unix:PATH) on the command line,
 * or $JITFARM_FARM in the environment, compile, get, ls and stat talk to
 * a master's HTTP API (docs/api.md) through client/farmclient.c: the
 * compile runs in the farm's sandboxed workers and is cached in the
 * farm's store, and the other verbs read that store through the master.
 * `--token T` (or $JITFARM_TOKEN) is the bearer token. main.c asks
 * jf_cli_farm_dispatch() first; it takes the command only when a farm is
 * configured, so everything else behaves exactly as without a farm.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/mem.h"
#include "client/farmclient.h"
#include "common/util.h"
#include "cli/cli.h"

#define MAX_ARGS 256

int jf_cli_farm_dispatch(const char *cmd, int argc, char **argv, int *rc);

/* argv without --farm/--token (and their values), into out. */
static int
strip_farm_args(int argc, char **argv, char **out, int *outc, const char **farm,
    const char **token)
{
	int i, n = 0, r;

	for (i = 0; i < argc; i++) {
		if (i > 0 && ((r = jf_cli_opt(argc, argv, &i, "--farm", farm)) != 0 ||
		    (r = jf_cli_opt(argc, argv, &i, "--token", token)) != 0)) {
			if (r < 0)
				return -1;
			continue;
		}
		if (n >= MAX_ARGS - 1)
			return -1;
		out[n++] = argv[i];
	}
	out[n] = NULL;
	*outc = n;
	return 0;
}

static int
farm_open(const char *url, const char *token, jf_farm_t **f)
{
	jf_farm_opts_t o = { .url = url, .token = token };
	char err[512];

	if (jf_farm_open(&o, f, err, sizeof(err)) != 0) {
		jf_cli_err("%s", err);
		return -1;
	}
	return 0;
}

static int
farm_compile(jf_farm_t *f, int argc, char **argv)
{
	jf_cli_compile_opts_t o;
	jf_farm_compile_t fc;
	jf_farm_result_t res;
	jf_artifact_t a;
	const char *in = NULL, *outpath = NULL;
	uint8_t *ir = NULL;
	size_t ir_len = 0;
	char err[8192], hex[JF_KEY_HEX_LEN + 1];
	int r, rc;

	memset(&res, 0, sizeof(res));
	memset(&a, 0, sizeof(a));
	if ((rc = jf_cli_compile_args(argc, argv, &o, &in, &outpath)) != 0)
		return rc;
	rc = JF_EXIT_FAIL;
	if (o.nsymbols > 0)
		jf_cli_err("warning: --symbol is not sent to a farm; all symbols are kept");
	if (jf_cli_read_ir(in, &ir, &ir_len) != 0)
		goto out;
	memset(&fc, 0, sizeof(fc));
	fc.ir = ir;
	fc.ir_len = ir_len;
	if ((r = jf_spec_set(&fc.spec, o.ns, NULL, o.triple, o.cpu, o.features, o.opt, err,
	    sizeof(err))) != 0 || (r = jf_farm_compile(f, &fc, &res, err, sizeof(err))) != 0) {
		jf_cli_err("%s: %s", in, err);
		goto out;
	}
	if ((r = jf_blob_decode(res.blob, res.blob_len, NULL, &a, err, sizeof(err))) != 0) {
		jf_cli_err("%s: the farm sent a bad artifact: %s", in, err);
		goto out;
	}
	if (o.verbose) {
		jf_key_hex(&res.key, hex);
		fprintf(stderr, "cache: %s %s (farm)\n", res.cache, hex);
	}
	if (jf_cli_write_output(outpath, a.payload, a.payload_len) != 0) {
		jf_cli_err("%s: cannot write: %s", outpath, strerror(errno));
		goto out;
	}
	rc = JF_EXIT_OK;
out:
	jf_artifact_free(&a);
	jf_farm_result_free(&res);
	free(ir);
	return rc;
}

static int
farm_get(jf_farm_t *f, int argc, char **argv)
{
	const char *outpath = NULL, *keyhex = NULL;
	jf_artifact_t a;
	jf_key_t key;
	uint8_t *blob = NULL;
	size_t len = 0;
	char err[1024];
	int i, r, raw = 0, rc = JF_EXIT_FAIL;

	memset(&a, 0, sizeof(a));
	for (i = 1; i < argc; i++) {
		if ((r = jf_cli_opt(argc, argv, &i, "-o", &outpath)) < 0)
			return jf_cli_usage("get");
		if (r > 0)
			continue;
		if (strcmp(argv[i], "--blob") == 0) {
			raw = 1;
			continue;
		}
		if (argv[i][0] == '-' || keyhex != NULL) {
			jf_cli_err("unexpected argument '%s'", argv[i]);
			return jf_cli_usage("get");
		}
		keyhex = argv[i];
	}
	if (keyhex == NULL || outpath == NULL)
		return jf_cli_usage("get");
	if (strlen(keyhex) != JF_KEY_HEX_LEN || jf_key_from_hex(keyhex, &key) != 0) {
		jf_cli_err("'%s' is not a key (64 hex digits)", keyhex);
		return jf_cli_usage("get");
	}
	if ((r = jf_farm_get(f, &key, &blob, &len, err, sizeof(err))) != 0) {
		jf_cli_err("%s: %s", keyhex, r == JF_ERR_NOTFOUND ? "not in the farm" : err);
		goto out;
	}
	if (!raw && jf_blob_decode(blob, len, NULL, &a, err, sizeof(err)) != 0) {
		jf_cli_err("%s: %s", keyhex, err);
		goto out;
	}
	if (jf_cli_write_output(outpath, raw ? blob : a.payload, raw ? len : a.payload_len) != 0) {
		jf_cli_err("%s: cannot write: %s", outpath, strerror(errno));
		goto out;
	}
	rc = JF_EXIT_OK;
out:
	jf_artifact_free(&a);
	jf_free(blob);
	return rc;
}

typedef struct lsctx {
	jf_farm_t *f;
	jf_cli_ls_t ls;
} lsctx_t;

static int
ls_one(const jf_key_t *k, uint64_t size, void *arg)
{
	lsctx_t *c = arg;
	char err[256];
	uint8_t *blob = NULL;
	size_t len = 0;

	/* the same columns as a local `ls`: the manifest says the target */
	if (c->ls.print)
		(void)jf_farm_get(c->f, k, &blob, &len, err, sizeof(err));
	jf_cli_ls_add(&c->ls, k, size, blob, len);
	return 0;
}

static int
farm_ls(jf_farm_t *f, const char *url, int argc, int print)
{
	lsctx_t c = { .f = f, .ls = { .print = print } };
	char err[1024];

	if (argc > 1)
		return jf_cli_usage(print ? "ls" : "stat");
	if (jf_farm_list(f, ls_one, &c, err, sizeof(err)) != 0) {
		jf_cli_err("cannot list the farm: %s", err);
		return JF_EXIT_FAIL;
	}
	if (!print) {
		printf("farm       %s\n", url);
		printf("entries    %" PRIu64 "\n", c.ls.entries);
		printf("bytes      %" PRIu64 "\n", c.ls.bytes);
	}
	return JF_EXIT_OK;
}

int
jf_cli_farm_dispatch(const char *cmd, int argc, char **argv, int *rc)
{
	const char *farm = NULL, *token = NULL;
	char *args[MAX_ARGS];
	int n, explicit;
	jf_farm_t *f = NULL;

	if (strip_farm_args(argc, argv, args, &n, &farm, &token) != 0) {
		*rc = jf_cli_usage(cmd);
		return 1;
	}
	explicit = farm != NULL;
	if (farm == NULL)
		farm = getenv("JITFARM_FARM");
	if (token == NULL)
		token = getenv("JITFARM_TOKEN");
	if (farm == NULL || *farm == '\0')
		return 0;
	if (strcmp(cmd, "compile") != 0 && strcmp(cmd, "get") != 0 &&
	    strcmp(cmd, "ls") != 0 && strcmp(cmd, "stat") != 0) {
		if (!explicit)
			return 0;       /* $JITFARM_FARM does not reach local-only verbs */
		jf_cli_err("'%s' works on a store, not through a farm", cmd);
		*rc = JF_EXIT_USAGE;
		return 1;
	}
	if (farm_open(farm, token, &f) != 0) {
		*rc = JF_EXIT_USAGE;
		return 1;
	}
	if (strcmp(cmd, "compile") == 0)
		*rc = farm_compile(f, n, args);
	else if (strcmp(cmd, "get") == 0)
		*rc = farm_get(f, n, args);
	else
		*rc = farm_ls(f, farm, n, strcmp(cmd, "ls") == 0);
	jf_farm_close(f);
	return 1;
}
