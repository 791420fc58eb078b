/*
 * cmd_compile.c - `jitfarm compile`, and the cached compile that every
 * compiling command shares (jf_cli_compile_cached, cli.h).
 *
 * The key is derived before any IR is compiled (it needs only the IR's
 * hash and the resolved target), so a hit costs one store read: the
 * object comes out of the store and nothing is compiled. A miss goes to
 * the first backend that wants the options, and its artifact goes into
 * the store for the next caller. The store is an accelerator, never a
 * requirement: when it cannot be opened, read or written, the command
 * says so and compiles anyway.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/mem.h"
#include "common/key.h"
#include "common/util.h"
#include "storage/store.h"
#include "compiler/compile.h"
#include "cli/cli.h"

/* Tried in order on a cache miss; the first that wants the options
 * compiles. A farm client goes before "local" (wanted when --farm is
 * given). Kept here, with its only user, so the compile path does not
 * reach back into main.c. */
static const jf_cli_backend_t backends[] = {
	{ "local", jf_cli_local_wanted, jf_cli_local_compile },
	{ NULL, NULL, NULL }
};

static const jf_cli_backend_t *
pick_backend(const jf_cli_compile_opts_t *o)
{
	const jf_cli_backend_t *b;

	for (b = backends; b->name != NULL; b++)
		if (b->wanted(o))
			return b;
	return NULL;
}

int
jf_cli_compile_cached(const jf_cli_compile_opts_t *o, const uint8_t *ir,
    size_t ir_len, jf_artifact_t *out, int *hit, char *err, size_t errlen)
{
	jf_compile_req_t req;
	jf_target_t target;
	jf_key_t key;
	jf_store_opts_t so;
	jf_store_t *store = NULL;
	const jf_cli_backend_t *be;
	char url[4200], hex[JF_KEY_HEX_LEN + 1], serr[512];
	uint8_t *blob = NULL;
	size_t blen = 0;
	int r;

	memset(out, 0, sizeof(*out));
	*hit = 0;
	memset(&req, 0, sizeof(req));
	req.ir = ir;
	req.ir_len = ir_len;
	if ((r = jf_spec_set(&req.spec, o->ns, NULL, o->triple, o->cpu, o->features,
	    o->opt, err, errlen)) != 0)
		return r;
	req.symbols = o->nsymbols ? o->symbols : NULL;
	req.nsymbols = o->nsymbols;
	jf_cli_store_url(o->store_url, url, sizeof(url));

	if ((r = jf_compile_key(&req, &target, &key, err, errlen)) != 0)
		goto out;
	jf_key_hex(&key, hex);

	if (!o->no_cache) {
		memset(&so, 0, sizeof(so));
		if (jf_store_open(url, &so, &store, serr, sizeof(serr)) != 0) {
			jf_cli_err("warning: store %s unavailable (%s); compiling without it",
			    url, serr);
			store = NULL;
		}
	}
	if (store != NULL) {
		r = jf_store_get(store, &key, &blob, &blen);
		if (r == 0) {
			r = jf_blob_decode(blob, blen, NULL, out, serr, sizeof(serr));
			if (r == 0 && jf_key_eq(&out->m.key, &key)) {
				*hit = 1;
				jf_free(blob);  /* the store's: jf_free, not free */
				blob = NULL;
				goto done;
			}
			jf_cli_err("warning: cached entry %s unusable (%s); recompiling",
			    hex, r ? serr : "key mismatch");
			jf_artifact_free(out);
		} else if (r != JF_ERR_NOTFOUND) {
			jf_cli_err("warning: store read failed (%s: %s); compiling",
			    jf_strerror(r), jf_store_errstr(store));
		}
		jf_free(blob);
		blob = NULL;
	}

	if ((be = pick_backend(o)) == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_UNSUPPORTED, "no compile backend for these options");
		goto out;
	}
	if (o->verbose)
		fprintf(stderr, "cache: miss %s\n", hex);
	if ((r = be->compile(o, &req, out, err, errlen)) != 0)
		goto out;
	if (store != NULL) {
		if ((r = jf_blob_encode(out, NULL, &blob, &blen)) == 0)
			r = jf_store_put(store, &key, blob, blen);
		if (r != 0)
			jf_cli_err("warning: could not store %s (%s: %s)", hex,
			    jf_strerror(r), jf_store_errstr(store));
		r = 0;
	}
done:
	if (*hit && o->verbose)
		fprintf(stderr, "cache: hit %s\n", hex);
	if (!o->no_cache)
		(void)jf_cli_stats_bump(url, *hit ? "hits" : "misses", 1);
	if (o->verbose && !*hit)
		fprintf(stderr, "compiled %s for %s cpu=%s -O%c in %.1f ms: %zu bytes\n",
		    hex, out->m.target.triple, out->m.target.cpu, out->m.target.opt,
		    (double)out->m.compile_ns / 1e6, out->payload_len);
out:
	if (r != 0) {
		jf_artifact_free(out);
		if (!o->no_cache)
			(void)jf_cli_stats_bump(url, "errors", 1);
	}
	free(blob);
	jf_store_close(store);
	return r;
}

int jf_cmd_compile(int argc, char **argv);

/* Read all of stdin, up to max bytes (JF_ERR_TOOBIG past that). */
static int
read_stdin(size_t max, uint8_t **out, size_t *lenp)
{
	size_t cap = 65536, len = 0;
	uint8_t *buf = malloc(cap), *nb;
	ssize_t n;

	*out = NULL;
	*lenp = 0;
	if (buf == NULL)
		return JF_ERR_NOMEM;
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				free(buf);
				return JF_ERR_TOOBIG;
			}
			if ((nb = realloc(buf, cap * 2)) == NULL) {
				free(buf);
				return JF_ERR_NOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(0, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return JF_ERR_IO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return JF_ERR_TOOBIG;
	}
	*out = buf;     /* the caller owns the input */
	*lenp = len;
	return 0;
}

/*
 * Parse the arguments of `compile`: the shared compile options, -o OUT
 * and exactly one input ("-" for stdin). Used by the local and the farm
 * paths alike. Returns 0, or the usage exit code after saying what is
 * wrong.
 */
int
jf_cli_compile_args(int argc, char **argv, jf_cli_compile_opts_t *o, const char **in,
    const char **outpath)
{
	int i, r;

	memset(o, 0, sizeof(*o));
	*in = *outpath = NULL;
	for (i = 1; i < argc; i++) {
		if ((r = jf_cli_compile_opt(o, argc, argv, &i)) < 0)
			return jf_cli_usage("compile");
		if (r > 0)
			continue;
		if ((r = jf_cli_opt(argc, argv, &i, "-o", outpath)) < 0)
			return jf_cli_usage("compile");
		if (r > 0)
			continue;
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			jf_cli_err("unknown option '%s'", argv[i]);
			return jf_cli_usage("compile");
		}
		if (*in != NULL) {
			jf_cli_err("more than one input ('%s' and '%s')", *in, argv[i]);
			return jf_cli_usage("compile");
		}
		*in = argv[i];
	}
	if (*in == NULL || *outpath == NULL) {
		jf_cli_err(*in == NULL ? "no input file" : "no output file (-o OUT.o)");
		return jf_cli_usage("compile");
	}
	return 0;
}

/* Read the IR named by in ("-" is stdin, which may be a pipe) into a
 * malloc'd buffer the caller owns. Says why on failure; returns 0 or -1. */
int
jf_cli_read_ir(const char *in, uint8_t **ir, size_t *len)
{
	int r;

	if (strcmp(in, "-") == 0)
		r = read_stdin(JF_DEFAULT_MAX_IR, ir, len);
	else
		r = jf_file_read(in, JF_DEFAULT_MAX_IR, ir, len);
	if (r == 0)
		return 0;
	if (r == JF_ERR_TOOBIG)
		jf_cli_err("%s: input over the size limit of %u bytes", in, JF_DEFAULT_MAX_IR);
	else
		jf_cli_err("%s: %s", in, r == JF_ERR_NOTFOUND ? "no such file" : jf_strerror(r));
	return -1;
}

int
jf_cmd_compile(int argc, char **argv)
{
	jf_cli_compile_opts_t o;
	jf_artifact_t a;
	const char *in = NULL, *outpath = NULL;
	uint8_t *ir = NULL;
	size_t ir_len = 0;
	char err[8192];
	int r, hit = 0, rc;

	if ((rc = jf_cli_compile_args(argc, argv, &o, &in, &outpath)) != 0)
		return rc;
	rc = JF_EXIT_FAIL;
	if (jf_cli_read_ir(in, &ir, &ir_len) != 0)
		goto out;
	if ((r = jf_cli_compile_cached(&o, ir, ir_len, &a, &hit, err, sizeof(err))) != 0) {
		jf_cli_err("%s: %s", in, err);
		goto out;
	}
	r = jf_cli_write_output(outpath, a.payload, a.payload_len);
	jf_artifact_free(&a);
	if (r != 0) {
		jf_cli_err("%s: cannot write: %s", outpath, strerror(errno));
		goto out;
	}
	rc = JF_EXIT_OK;
out:
	free(ir);
	return rc;
}
