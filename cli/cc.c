/*
 * cc.c - `jitfarm cc`: a C compiler wrapper whose optimisation and code
 * generation go through the farm and its cache.
 *
 *   make CC="jitfarm cc"          (or CC="jitfarm cc clang-19")
 *
 * For `-c foo.c -o foo.o ...` it runs clang's frontend alone, to
 * unoptimised bitcode with the same flags (-emit-llvm -Xclang
 * -disable-llvm-passes), and hands the bitcode to the cached compile path
 * every jitfarm command uses (jf_cli_compile_cached: the store, then the
 * farm or the local sandboxed compile). The object lands where the
 * compiler would have written it. Anything else (linking, -E, -S, several
 * sources, options the bitcode does not carry: cc_args.c) goes to the
 * real compiler, and so does any failure of the cache itself: the build
 * never fails because of jitfarm.
 *
 * Two cache levels sit in front of the frontend, as in ccache:
 *
 *  - direct mode: key = compiler identity + normalised arguments + the
 *    source's SHA-256 (cc_key.c). Its entry (cc_entry.c) lists every
 *    header the compile read, with their hashes (learned from clang on
 *    the miss), and the artifact key of the object. A hit re-hashes those
 *    headers and, when all match, fetches the object: no preprocessor, no
 *    frontend.
 *  - preprocessor mode, the fallback: key = compiler identity + the
 *    arguments that still matter after preprocessing + the SHA-256 of
 *    `clang -E`. It costs a preprocessor run but no frontend.
 *
 * The stages of one compile are the functions below, in order:
 * cc_prepare, cc_try_direct, cc_try_pp, cc_miss, cc_remember. Entries are
 * stored in the artifact store, so a shared store (Redis, S3) shares them
 * between CI runners. Paths under the base directory
 * ($JITFARM_CC_BASEDIR, default the working directory) are made relative,
 * in the key and in the command that runs, so two checkouts share
 * entries; the working directory enters the key only for -g compiles
 * that do not map it away with -fdebug-prefix-map.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/key.h"
#include "common/mem.h"
#include "common/util.h"
#include "storage/store.h"
#include "cli/cli.h"
#include "cli/cc.h"
#include "cli/cc_entry.h"
#include "cli/cc_key.h"
#include "cli/cc_run.h"

#define CC_MAX_ENTRY (16u << 20)

int jf_cmd_cc(int argc, char **argv);

typedef struct cc_ctx {
	jf_cc_args_t a;
	jf_cli_compile_opts_t o;
	char url[4200];
	char cwd[PATH_MAX];
	const char *base;
	char tmp[PATH_MAX];             /* private temp dir */
	char hdrs[PATH_MAX + 16];       /* $tmp/headers: clang's header list */
	jf_store_t *store;
	int verbose, direct;
	int front;                      /* jitfarm-cc: no compiler in this binary */
	int direct_checked;             /* the front already missed in direct mode */
	char ident[JF_CC_IDENT_MAX];    /* compiler identity */
	uint8_t src_sha[32];
	int volatile_src;               /* __DATE__ or __TIME__ in the source */
	jf_key_t dkey, pkey;            /* direct and preprocessor-mode keys */
	int have_pkey;
} cc_ctx_t;

/* Results of cc_cached beyond 0 (done) and negative (cache failure). */
#define CC_NEED_FULL 1000               /* front: a direct miss, for jitfarm cc */
#define CC_NEXT 1001                    /* a stage did not answer: go on */

static void
vmsg(const cc_ctx_t *c, const char *fmt, const char *x, const char *y)
{
	if (c->verbose) {
		fprintf(stderr, "jitfarm cc: ");
		fprintf(stderr, fmt, x, y);
		fputc('\n', stderr);
	}
}

/* Read a file into memory to jf_free; *buf NULL when it cannot be read. */
static void
slurp(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	uint8_t *b = NULL;
	size_t l = 0;

	*buf = NULL;
	*len = 0;
	if (jf_file_read(path, max, &b, &l) != 0)
		return;
	*buf = l > 0 ? jf_memdup(b, l) : NULL;
	*len = *buf != NULL ? l : 0;
	free(b);        /* jf_file_read's buffer is the C library's */
}

/* Copy bytes to stderr (the compiler's diagnostics). */
static void
replay(const uint8_t *buf, size_t len)
{
	if (len > 0)
		(void)jf_write_full(2, buf, len);
}

/* Fetch the object named by e and write it (and the depfile) out.
 * JF_ERR_NOTFOUND when the object is gone from the store. */
static int
deliver(cc_ctx_t *c, const jf_cc_entry_t *e)
{
	jf_artifact_t art;
	uint8_t *blob = NULL;
	size_t blen = 0;
	char why[256];
	int r;

	memset(&art, 0, sizeof(art));
	if ((r = jf_store_get(c->store, &e->object, &blob, &blen)) != 0)
		goto out;
	if ((r = jf_blob_decode(blob, blen, NULL, &art, why, sizeof(why))) != 0 ||
	    !jf_key_eq(&art.m.key, &e->object)) {
		r = JF_ERR_NOTFOUND;
		goto out;
	}
	if ((r = jf_cli_write_output(c->a.out, art.payload, art.payload_len)) != 0)
		goto out;
	if (c->a.has_dep && c->a.dep_path != NULL &&
	    (r = jf_cli_write_output(c->a.dep_path, e->dep, e->dep_len)) != 0)
		goto out;
	replay(e->err, e->err_len);
out:
	jf_artifact_free(&art);
	jf_free(blob);  /* the store's buffer: jf_malloc since storage moved to it */
	return r;
}

/* A hit on e: deliver it, say so and count it. CC_NEXT when the object
 * is gone. */
static int
cc_hit(cc_ctx_t *c, const jf_cc_entry_t *e, const char *how, const char *counter)
{
	char hex[JF_KEY_HEX_LEN + 1];

	if (deliver(c, e) != 0)
		return CC_NEXT;
	jf_key_hex(&e->object, hex);
	vmsg(c, how, c->a.src, hex);
	jf_cli_stats_bump(c->url, counter, 1);
	return 0;
}

/* Store e under the direct key when its headers can be trusted there:
 * none uses __DATE__/__TIME__, and a wanted depfile is in e. */
static void
remember_direct(cc_ctx_t *c, jf_cc_entry_t *e)
{
	int vol_hdr = 0;

	if (c->direct && !c->volatile_src &&
	    jf_cc_entry_add_headers(e, c->hdrs, c->cwd, c->base, &vol_hdr) == 0 && !vol_hdr &&
	    (!c->a.has_dep || e->dep != NULL) && jf_cc_entry_put(c->store, &c->dkey, e) != 0)
		vmsg(c, "could not store a cc entry%s%s", "", "");
}

/* Stage 0: the compiler's identity, the source's hash, the direct key. */
static int
cc_prepare(cc_ctx_t *c)
{
	int r;

	snprintf(c->hdrs, sizeof(c->hdrs), "%s/headers", c->tmp);
	if ((r = jf_cc_compiler_ident(c->a.compiler, c->ident, sizeof(c->ident))) != 0) {
		vmsg(c, "compiler %s not found%s", c->a.compiler, "");
		return r;
	}
	if ((r = jf_cc_hash_file(c->a.src, c->src_sha, &c->volatile_src)) != 0)
		return r;
	jf_cc_key_direct(&c->a, c->ident, c->cwd, c->src_sha, &c->dkey);
	return 0;
}

/* Stage 1, direct mode: no preprocessor, no frontend. */
static int
cc_try_direct(cc_ctx_t *c)
{
	jf_cc_entry_t got;
	int r;

	if (c->store == NULL || !c->direct || c->volatile_src || c->direct_checked)
		return CC_NEXT;
	r = jf_cc_entry_get(c->store, &c->dkey, &got);
	if (r == 0)
		r = jf_cc_entry_headers_match(&got) ?
		    cc_hit(c, &got, "%s: hit (direct) %s", "cc-direct-hits") : CC_NEXT;
	else if (r != JF_ERR_NOTFOUND)
		vmsg(c, "store read failed: %s%s", jf_strerror(r), "");
	jf_cc_entry_free(&got);
	return r == 0 ? 0 : CC_NEXT;
}

/* Stage 2, preprocessor mode (not when a depfile is wanted: only the
 * frontend writes it). A failing preprocessor run is the frontend's to
 * report. */
static int
cc_try_pp(cc_ctx_t *c)
{
	char pp[PATH_MAX + 16], env1[] = "CC_PRINT_HEADERS=1", env2[PATH_MAX + 64];
	char *envx[3] = { env1, env2, NULL }, **argv;
	const char *extra[] = { "-E", "-o", pp, NULL };
	jf_cc_entry_t got, e;
	uint8_t pp_sha[32];
	int st, r;

	if (c->store == NULL || c->a.has_dep)
		return CC_NEXT;
	snprintf(pp, sizeof(pp), "%s/pp.i", c->tmp);
	snprintf(env2, sizeof(env2), "CC_PRINT_HEADERS_FILE=%s", c->hdrs);
	argv = jf_cc_argv_build(&c->a, (1u << JF_CC_ARG_COMPILE) | (1u << JF_CC_ARG_OUT) |
	    (1u << JF_CC_ARG_DEP), extra);
	unlink(c->hdrs);
	st = jf_cc_run(argv, envx, NULL, "/dev/null");
	jf_free(argv);
	if (st != 0 || jf_cc_hash_file(pp, pp_sha, NULL) != 0)
		return CC_NEXT;
	jf_cc_key_pp(&c->a, c->ident, c->cwd, pp_sha, &c->pkey);
	c->have_pkey = 1;
	if (jf_cc_entry_get(c->store, &c->pkey, &got) != 0)
		return CC_NEXT;
	if ((r = cc_hit(c, &got, "%s: hit (preprocessed) %s", "cc-preprocessed-hits")) == 0) {
		/* remember the headers for a direct hit next time */
		memset(&e, 0, sizeof(e));
		e.object = got.object;
		e.err = got.err;
		e.err_len = got.err_len;
		got.err = NULL;
		remember_direct(c, &e);
		jf_cc_entry_free(&e);
	}
	jf_cc_entry_free(&got);
	return r;
}

/* The frontend's command line: bitcode to bc, and the depfile naming the
 * real output. Free with jf_free. */
static char **
frontend_argv(const cc_ctx_t *c, const char *bc)
{
	const char *extra[12];
	size_t n = 0;

	extra[n++] = "-o";
	extra[n++] = bc;
	extra[n++] = "-emit-llvm";
	extra[n++] = "-Xclang";
	extra[n++] = "-disable-llvm-passes";
	if (c->a.has_dep && !c->a.dep_has_mf) {
		extra[n++] = "-MF";
		extra[n++] = c->a.dep_path;
	}
	if (c->a.has_dep && !c->a.dep_has_mt) {
		extra[n++] = "-MT";
		extra[n++] = c->a.out;
	}
	extra[n] = NULL;
	return jf_cc_argv_build(&c->a, 1u << JF_CC_ARG_OUT, extra);
}

/* Stage 3, a miss: the frontend to bitcode, then the cached compile.
 * Fills e (object, diagnostics, depfile) for cc_remember. */
static int
cc_miss(cc_ctx_t *c, jf_cc_entry_t *e)
{
	char bc[PATH_MAX + 16], errf[PATH_MAX + 16], env2[PATH_MAX + 64], err[1024];
	char env1[] = "CC_PRINT_HEADERS=1", *envx[3] = { env1, env2, NULL }, **argv;
	char hex[JF_KEY_HEX_LEN + 1];
	jf_artifact_t art;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r, st, hit = 0;

	memset(&art, 0, sizeof(art));
	snprintf(bc, sizeof(bc), "%s/out.bc", c->tmp);
	snprintf(errf, sizeof(errf), "%s/stderr", c->tmp);
	snprintf(env2, sizeof(env2), "CC_PRINT_HEADERS_FILE=%s", c->hdrs);
	argv = frontend_argv(c, bc);
	unlink(c->hdrs);
	st = jf_cc_run(argv, envx, NULL, errf);
	jf_free(argv);
	slurp(errf, CC_MAX_ENTRY, &e->err, &e->err_len);
	replay(e->err, e->err_len);
	if (st != 0)
		return st;      /* < 0: could not run; > 0: the user's code does not compile */
	if ((r = jf_file_read(bc, JF_DEFAULT_MAX_IR, &buf, &len)) != 0)
		return r;
	c->o.opt = c->a.opt;
	r = jf_cc_compile(&c->o, buf, len, &art, &hit, err, sizeof(err));
	free(buf);      /* jf_file_read's buffer is the C library's */
	if (r != 0) {
		vmsg(c, "compile failed: %s%s", err, "");
		goto out;
	}
	if ((r = jf_cli_write_output(c->a.out, art.payload, art.payload_len)) != 0)
		goto out;
	e->object = art.m.key;
	jf_key_hex(&e->object, hex);
	vmsg(c, "%s: miss %s", c->a.src, hex);
	jf_cli_stats_bump(c->url, "cc-misses", 1);
out:
	jf_artifact_free(&art);
	return r;
}

/* Stage 4: the miss's entries, under the preprocessor-mode key (when
 * there is one) and the direct key. */
static void
cc_remember(cc_ctx_t *c, jf_cc_entry_t *e)
{
	if (c->store == NULL)
		return;
	if (c->a.has_dep && c->a.dep_path != NULL)
		slurp(c->a.dep_path, CC_MAX_ENTRY, &e->dep, &e->dep_len);
	if (c->have_pkey && jf_cc_entry_put(c->store, &c->pkey, e) != 0)
		vmsg(c, "could not store a cc entry%s%s", "", "");
	remember_direct(c, e);
}

/*
 * The cached compile. Returns 0 when the object was written, a positive
 * compiler exit status when the user's code does not compile (its
 * diagnostics already printed), CC_NEED_FULL when the front must hand
 * over, or a negative jf_err when the cache path failed and the real
 * compiler should run instead.
 */
static int
cc_cached(cc_ctx_t *c)
{
	jf_cc_entry_t e;
	int r;

	if ((r = cc_prepare(c)) != 0 || (r = cc_try_direct(c)) != CC_NEXT)
		return r;
	/* the front (jitfarm-cc) has no compiler: the rest is jitfarm's */
	if (c->front)
		return CC_NEED_FULL;
	if ((r = cc_try_pp(c)) != CC_NEXT)
		return r;
	memset(&e, 0, sizeof(e));
	if ((r = cc_miss(c, &e)) == 0)
		cc_remember(c, &e);
	jf_cc_entry_free(&e);
	return r;
}

static void
rm_tmp(const char *dir)
{
	static const char *const names[] = { "headers", "pp.i", "out.bc", "stderr", NULL };
	char p[PATH_MAX + 16];
	size_t i;

	if (dir[0] == '\0')
		return;
	for (i = 0; names[i] != NULL; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static int
env_on(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

static const char cc_usage[] =
    "usage: jitfarm cc [-v] [--store URL] [--farm URL] [--token T] [--no-direct]\n"
    "                  [COMPILER] ARGS...\n"
    "  Compile C like COMPILER (default $JITFARM_CC, else clang-19) would, with\n"
    "  the optimisation and code generation through the jitfarm cache.\n"
    "  -v            say what happened to each compile (hit, miss, why not cached)\n"
    "  --no-direct   skip direct mode (always run the preprocessor)\n"
    "  Environment: JITFARM_STORE, JITFARM_FARM, JITFARM_TOKEN, JITFARM_CC,\n"
    "  JITFARM_CC_BASEDIR (paths under it are made relative; default: the working\n"
    "  directory), JITFARM_CC_VERBOSE, JITFARM_CC_NODIRECT, JITFARM_CC_DISABLE.\n";

/* Our own options, before the compile line. Returns the index of the
 * compile line's first argument, 0 after --help, or -1 on a usage error. */
static int
cc_options(cc_ctx_t *c, int argc, char **argv)
{
	const char *v;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			c->verbose = 1;
		} else if (strcmp(argv[i], "--no-direct") == 0) {
			c->direct = 0;
		} else if (strcmp(argv[i], "--help") == 0 && i == 1 && argc == 2) {
			fputs(cc_usage, stdout);
			return 0;
		} else if ((r = jf_cli_opt(argc, argv, &i, "--store", &v)) != 0) {
			if (r < 0)
				return -1;
			c->o.store_url = v;
		} else if ((r = jf_cli_opt(argc, argv, &i, "--farm", &v)) != 0) {
			if (r < 0)
				return -1;
			c->o.farm_url = v;
		} else if ((r = jf_cli_opt(argc, argv, &i, "--token", &v)) != 0) {
			if (r < 0)
				return -1;
			c->o.farm_token = v;
		} else {
			i += strcmp(argv[i], "--") == 0;
			break;
		}
	}
	return i < argc ? i : -1;
}

/* Open the store (none: no cache, still a compile) and the temp dir, and
 * run the cached compile. */
static int
cc_run_cached(cc_ctx_t *c)
{
	jf_store_opts_t so;
	char serr[512];
	const char *td = getenv("TMPDIR");
	int r;

	memset(&so, 0, sizeof(so));
	so.retries = -1;
	so.connect_timeout_ms = 1000;
	if (jf_store_open(c->url, &so, &c->store, serr, sizeof(serr)) != 0) {
		vmsg(c, "store %s unavailable (%s): no cc cache", c->url, serr);
		c->store = NULL;
	}
	snprintf(c->tmp, sizeof(c->tmp), "%s/jitfarm-cc.XXXXXX",
	    td != NULL && td[0] == '/' ? td : "/tmp");
	if (mkdtemp(c->tmp) == NULL)
		c->tmp[0] = '\0';
	r = c->tmp[0] != '\0' ? cc_cached(c) : JF_ERR_IO;
	rm_tmp(c->tmp);
	jf_store_close(c->store);
	c->store = NULL;
	return r;
}

/*
 * `jitfarm cc` (front 0) and `jitfarm-cc` (front 1). argv[0] is the
 * command name; the compile line follows our own options.
 */
int
jf_cc_main(int argc, char **argv, int front)
{
	cc_ctx_t *c = jf_xcalloc(1, sizeof(*c));
	int first, r;

	c->verbose = env_on("JITFARM_CC_VERBOSE");
	c->direct = !env_on("JITFARM_CC_NODIRECT");
	c->front = front;
	c->direct_checked = !front && env_on("JITFARM_CC_DIRECT_CHECKED");
	unsetenv("JITFARM_CC_DIRECT_CHECKED");
	c->o.farm_url = getenv("JITFARM_FARM");
	c->o.farm_token = getenv("JITFARM_TOKEN");
	if ((first = cc_options(c, argc, argv)) <= 0) {
		if (first < 0)
			fputs(cc_usage, stderr);
		jf_free(c);
		return first < 0 ? JF_EXIT_USAGE : JF_EXIT_OK;
	}
	c->o.verbose = c->verbose;
	if (getcwd(c->cwd, sizeof(c->cwd)) == NULL) {
		jf_cli_err("cc: getcwd: %s", strerror(errno));
		jf_free(c);
		return JF_EXIT_FAIL;
	}
	c->base = getenv("JITFARM_CC_BASEDIR");
	if (c->base == NULL || c->base[0] != '/')
		c->base = c->cwd;
	if (jf_cc_args_parse(argv + first, (size_t)(argc - first), NULL, c->base, &c->a) != 0) {
		jf_cli_err("cc: getcwd: %s", strerror(errno));
		jf_free(c);
		return JF_EXIT_FAIL;
	}
	jf_cli_store_url(c->o.store_url, c->url, sizeof(c->url));
	if (env_on("JITFARM_CC_DISABLE") && c->a.reason[0] == '\0')
		snprintf(c->a.reason, sizeof(c->a.reason), "JITFARM_CC_DISABLE is set");
	if (c->a.reason[0] != '\0') {
		vmsg(c, "running %s: %s", c->a.compiler, c->a.reason);
		jf_cli_stats_bump(c->url, "cc-fallbacks", 1);
		return jf_cc_exec_real(&c->a);
	}
	r = cc_run_cached(c);
	if (r == CC_NEED_FULL || (front && r < 0)) {
		/* everything but a direct hit is the full command's */
		r = -1000;
	} else if (r < 0) {
		/* the cache failed: the build must not */
		if (c->verbose)
			fprintf(stderr, "jitfarm cc: %s: %s; running %s\n", c->a.src,
			    jf_strerror(r), c->a.compiler);
		jf_cli_stats_bump(c->url, "cc-errors", 1);
		return jf_cc_exec_real(&c->a);
	}
	jf_cc_args_free(&c->a);
	jf_free(c);
	if (r == -1000)
		return jf_cc_exec_full(argv, argc, 1);
	return r == 0 ? JF_EXIT_OK : r;
}

int
jf_cmd_cc(int argc, char **argv)
{
	return jf_cc_main(argc, argv, 0);
}
