/*
 * cc.c - `jitfarm cc`: a C compiler wrapper with a shared cache whose
 * objects are byte for byte what clang writes.
 *
 *   make CC="jitfarm-cc"          (or CC="jitfarm cc clang-19")
 *
 * Correct by construction: every object in the cache was written by the
 * real compiler, run on the same command line in the same environment,
 * and is served again only under a key that covers what can change it
 * (cc_key.c: the compiler and its libraries, the environment clang
 * reads, every argument, the working directory when debug info records
 * it, and the content of every file the compile read). A compile the
 * cache cannot stand in for (linking, -E, several sources, options that
 * write other files or read files the key does not cover: cc_args.c)
 * runs the real compiler with the user's own arguments, and so does any
 * failure of the cache itself: the build never fails because of jitfarm.
 *
 * Two cache levels, as in ccache:
 *
 *  - direct mode: key = compiler identity + environment + arguments +
 *    the source's SHA-256. Its entry (cc_entry.c) lists every file the
 *    compile read, from clang's own include graph of the miss
 *    (-dependency-dot, which leaves the depfile as the user asked for
 *    it), with their hashes. A hit re-hashes them and, when all match,
 *    writes the stored object: no preprocessor, no compiler.
 *  - preprocessor mode, when direct mode cannot be used (a source or
 *    header uses __DATE__/__TIME__, a sysroot, --no-direct) or when asked
 *    for (--preprocessed): key = the same minus preprocessor-only
 *    arguments + the SHA-256 of `clang -E`.
 *
 * A miss is one clang run, the user's compile with the object going to a
 * private temp file and clang's include graph written beside it; the
 * object is then copied to -o (or stdout for `-o -`) and stored.
 *
 * The stages of one compile are the functions below, in order:
 * cc_prepare, cc_try_direct, cc_try_pp, cc_miss, cc_remember. Paths are
 * rewritten only when a base directory is set ($JITFARM_CC_BASEDIR, as
 * ccache's base_dir): absolute paths under it become relative, in the key
 * and in the command that runs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/buf.h"
#include "common/key.h"
#include "common/mem.h"
#include "common/util.h"
#include "storage/store.h"
#include "cli/cli.h"
#include "cli/cc.h"
#include "cli/cc_args.h"
#include "cli/cc_stats.h"
#include "cli/cc_entry.h"
#include "cli/cc_key.h"
#include "cli/cc_run.h"

#define CC_MAX_OUTPUT (1u << 30)

int jf_cmd_cc(int argc, char **argv);

typedef struct cc_ctx {
	jf_cc_args_t a;
	const char *store_url;
	char url[4200];
	char cwd[PATH_MAX];             /* as clang records it (jf_cc_cwd) */
	const char *base;               /* NULL: no path rewriting */
	char tmp[PATH_MAX];             /* private temp dir */
	char dot[PATH_MAX + 16];        /* $tmp/deps.dot: clang's include graph */
	jf_store_t *store;
	int verbose, direct, pp_mode;
	char ident[JF_CC_IDENT_MAX];    /* compiler identity */
	uint8_t src_sha[32];
	int volatile_src;               /* __DATE__ or __TIME__ in the source */
	int use_direct;                 /* direct mode applies to this compile */
	jf_key_t dkey, pkey;            /* direct and preprocessor-mode keys */
	int have_pkey;
} cc_ctx_t;

/* Results of the stages beyond 0 (done), positive (the compiler's own
 * exit status) and negative (cache failure). */
#define CC_NEXT 1001                    /* a stage did not answer: go on */
#define CC_FALLBACK 1002                /* the real compiler must run (reason set) */

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
	jf_free(b);     /* jf_file_read allocates through the jf_ family */
}

/* Copy bytes to stderr (the compiler's diagnostics). */
static void
replay(const uint8_t *buf, size_t len)
{
	if (len > 0)
		(void)jf_write_full(2, buf, len);
}

/* Write the object where the compiler would: -o's file, or stdout. */
static int
write_object(const cc_ctx_t *c, const uint8_t *obj, size_t len)
{
	if (strcmp(c->a.out, "-") == 0)
		return jf_write_full(1, obj, len) == 0 ? 0 : JF_ERR_IO;
	return jf_cli_write_output(c->a.out, obj, len);
}

/* Fetch the object named by e and write it (and the depfile) out.
 * JF_ERR_NOTFOUND when the object is gone from the store or is not the
 * one the entry names. */
static int
deliver(cc_ctx_t *c, const jf_cc_entry_t *e)
{
	jf_artifact_t art;
	jf_key_t k;
	int r;

	if ((r = jf_cc_object_get(c->store, &e->object, &art)) != 0)
		return r;
	jf_cc_key_object(art.payload, art.payload_len, &k);
	if (!jf_key_eq(&k, &e->object))
		r = JF_ERR_NOTFOUND;
	else if ((r = write_object(c, art.payload, art.payload_len)) == 0 && c->a.has_dep)
		r = jf_cli_write_output(c->a.dep_path, e->dep, e->dep_len);
	if (r == 0)
		replay(e->err, e->err_len);
	jf_artifact_free(&art);
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

/* Append the directories of an environment search path (colon-separated;
 * an empty element is the working directory). */
static void
dirs_env(char ***v, size_t *n, size_t *cap, const char *var)
{
	const char *p = getenv(var), *e;
	char *d;

	for (; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ":");
		d = e > p ? jf_xstrndup(p, (size_t)(e - p)) : jf_xstrdup(".");
		if (JF_VEC_PUSH(*v, *n, *cap, d) != 0)
			abort();
	}
}

/* The include search path in clang's order, as far as the command line
 * and the environment give it: the source's directory (quote includes),
 * -iquote, -I, CPATH, -isystem, C_INCLUDE_PATH, -idirafter. Free each and
 * the array with jf_free. */
static char **
search_dirs(const cc_ctx_t *c, size_t *np)
{
	static const char *const order[] = { "-iquote", "-I", "", "-isystem", "", "-idirafter" };
	const char *sl = strrchr(c->a.src, '/'), *a, *val;
	char **v = NULL, *d;
	size_t n = 0, cap = 0, i, o, l;

	d = sl != NULL ? jf_xstrndup(c->a.src, (size_t)(sl - c->a.src)) : jf_xstrdup(".");
	if (JF_VEC_PUSH(v, n, cap, d) != 0)
		abort();
	for (o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		if (order[o][0] == '\0') {
			dirs_env(&v, &n, &cap, o == 2 ? "CPATH" : "C_INCLUDE_PATH");
			continue;
		}
		l = strlen(order[o]);
		for (i = 0; i < c->a.argc; i++) {
			a = c->a.argv[i];
			if (c->a.kind[i] != JF_CC_ARG_CPP || strncmp(a, order[o], l) != 0)
				continue;
			if (a[l] == '\0' && i + 1 < c->a.argc)
				val = c->a.argv[++i];
			else if (a[l] != '\0' && (l > 2 || strcmp(order[o], "-I") == 0))
				val = a + l;
			else
				continue;
			if (JF_VEC_PUSH(v, n, cap, jf_xstrdup(val)) != 0)
				abort();
		}
	}
	*np = n;
	return v;
}

/* Store e under the direct key when the files it read can be trusted
 * there: every name in clang's graph read back, none using
 * __DATE__/__TIME__, and a wanted depfile in e. The entry also holds
 * what would shadow each header on the search path. */
static void
remember_direct(cc_ctx_t *c, jf_cc_entry_t *e)
{
	char **dirs;
	size_t nd = 0, i;
	int vol = 0, r;

	if (!c->use_direct || jf_cc_entry_add_graph(e, c->dot, c->cwd, c->base, &vol) != 0 || vol ||
	    (c->a.has_dep && e->dep == NULL))
		return;
	dirs = search_dirs(c, &nd);
	r = jf_cc_entry_add_shadows(e, dirs, nd, c->cwd, c->base);
	for (i = 0; i < nd; i++)
		jf_free(dirs[i]);
	jf_free(dirs);
	if (r != 0)
		return;
	if (jf_cc_entry_put(c->store, &c->dkey, e) != 0)
		vmsg(c, "could not store a cc entry%s%s", "", "");
}

/* Stage 0: the compiler's identity, the source's hash, the direct key. */
static int
cc_prepare(cc_ctx_t *c)
{
	char why[JF_CC_REASON_MAX];
	int r;

	snprintf(c->dot, sizeof(c->dot), "%s/deps.dot", c->tmp);
	r = jf_cc_compiler_ident(c->a.compiler, c->ident, sizeof(c->ident), why, sizeof(why));
	if (r == JF_ERR_UNSUPPORTED) {
		snprintf(c->a.reason, sizeof(c->a.reason), "%s", why);
		jf_strlcpy(c->a.reason_slug, "reads-file", sizeof(c->a.reason_slug));
		return CC_FALLBACK;
	}
	if (r != 0) {
		vmsg(c, "compiler %s not found%s", c->a.compiler, "");
		return r;
	}
	if ((r = jf_cc_hash_file(c->a.src, c->src_sha, &c->volatile_src)) != 0)
		return r;
	c->use_direct = c->direct && !c->volatile_src && !c->a.has_sysroot;
	jf_cc_key_direct(&c->a, c->ident, c->cwd, c->src_sha, &c->dkey);
	return 0;
}

/* Stage 1, direct mode: no preprocessor, no compiler. */
static int
cc_try_direct(cc_ctx_t *c)
{
	jf_cc_entry_t got;
	int r;

	if (c->store == NULL || !c->use_direct)
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

/* The include graph for the direct entry, when one may be stored: a
 * frontend option clang's driver passes through to the compile job. */
static void
add_graph_args(const cc_ctx_t *c, const char **extra, size_t *n)
{
	if (!c->use_direct)
		return;
	extra[(*n)++] = "-Xclang";
	extra[(*n)++] = "-dependency-dot";
	extra[(*n)++] = "-Xclang";
	extra[(*n)++] = c->dot;
}

/* Stage 2, preprocessor mode (not when a depfile is wanted: its key
 * leaves out the depfile's options). A failing preprocessor run is the
 * compiler's to report. */
static int
cc_try_pp(cc_ctx_t *c)
{
	char pp[PATH_MAX + 16], **argv;
	const char *extra[12];
	jf_cc_entry_t got, e;
	uint8_t pp_sha[32];
	size_t n = 0;
	int st, r;

	if (c->store == NULL || c->a.has_dep || (c->use_direct && !c->pp_mode))
		return CC_NEXT;
	snprintf(pp, sizeof(pp), "%s/pp.i", c->tmp);
	extra[n++] = "-E";
	extra[n++] = "-o";
	extra[n++] = pp;
	add_graph_args(c, extra, &n);
	extra[n] = NULL;
	argv = jf_cc_argv_build(&c->a, (1u << JF_CC_ARG_COMPILE) | (1u << JF_CC_ARG_OUT) |
	    (1u << JF_CC_ARG_DEP), extra);
	st = jf_cc_run(argv, NULL, NULL, "/dev/null");
	jf_free(argv);
	if (st != 0 || jf_cc_hash_file(pp, pp_sha, NULL) != 0)
		return CC_NEXT;
	jf_cc_key_pp(&c->a, c->ident, c->cwd, pp_sha, &c->pkey);
	c->have_pkey = 1;
	if (jf_cc_entry_get(c->store, &c->pkey, &got) != 0)
		return CC_NEXT;
	if ((r = cc_hit(c, &got, "%s: hit (preprocessed) %s", "cc-preprocessed-hits")) == 0) {
		/* remember the files read for a direct hit next time */
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

/* The miss's command line: the user's compile, the object to obj, the
 * depfile where and as clang would write it for the real output, and
 * the include graph. Free with jf_free. */
static char **
miss_argv(const cc_ctx_t *c, const char *obj)
{
	const char *extra[16];
	size_t n = 0;

	extra[n++] = "-o";
	extra[n++] = obj;
	if (c->a.has_dep && !c->a.dep_has_mf) {
		extra[n++] = "-MF";
		extra[n++] = c->a.dep_path;
	}
	if (c->a.has_dep && !c->a.dep_has_mt) {
		/* the driver's own default target: -o's name, quoted for make */
		extra[n++] = "-MQ";
		extra[n++] = c->a.out;
	}
	add_graph_args(c, extra, &n);
	extra[n] = NULL;
	return jf_cc_argv_build(&c->a, 1u << JF_CC_ARG_OUT, extra);
}

/* Stage 3, a miss: clang compiles; its object goes where -o says. Fills
 * e (diagnostics, depfile) and *obj for cc_remember. */
static int
cc_miss(cc_ctx_t *c, jf_cc_entry_t *e, uint8_t **obj, size_t *objlen)
{
	char objf[PATH_MAX + 16], errf[PATH_MAX + 16], **argv;
	int r, st;

	snprintf(objf, sizeof(objf), "%s/out.o", c->tmp);
	snprintf(errf, sizeof(errf), "%s/stderr", c->tmp);
	argv = miss_argv(c, objf);
	st = jf_cc_run(argv, NULL, NULL, errf);
	jf_free(argv);
	slurp(errf, CC_MAX_OUTPUT, &e->err, &e->err_len);
	replay(e->err, e->err_len);
	if (st != 0)
		return st;      /* < 0: could not run; > 0: the user's code does not compile */
	slurp(objf, CC_MAX_OUTPUT, obj, objlen);
	if (*obj == NULL)
		return JF_ERR_IO;
	if ((r = write_object(c, *obj, *objlen)) != 0)
		return r;
	vmsg(c, "%s: miss%s", c->a.src, "");
	jf_cli_stats_bump(c->url, "cc-misses", 1);
	return 0;
}

/* Stage 4: the object, and the entries that lead to it under the
 * preprocessor-mode key (when there is one) and the direct key. */
static void
cc_remember(cc_ctx_t *c, jf_cc_entry_t *e, const uint8_t *obj, size_t len)
{
	if (c->store == NULL)
		return;
	jf_cc_key_object(obj, len, &e->object);
	if (jf_cc_object_put(c->store, &e->object, obj, len) != 0) {
		vmsg(c, "could not store the object%s%s", "", "");
		return;
	}
	if (c->a.has_dep)
		slurp(c->a.dep_path, CC_MAX_OUTPUT, &e->dep, &e->dep_len);
	if (c->have_pkey && jf_cc_entry_put(c->store, &c->pkey, e) != 0)
		vmsg(c, "could not store a cc entry%s%s", "", "");
	remember_direct(c, e);
}

/*
 * The cached compile. Returns 0 when the object was written, a positive
 * compiler exit status when the user's code does not compile (its
 * diagnostics already printed), CC_FALLBACK when the real compiler must
 * run for a reason now in c->a, or a negative jf_err when the cache
 * path failed and the real compiler should run instead.
 */
static int
cc_cached(cc_ctx_t *c)
{
	jf_cc_entry_t e;
	uint8_t *obj = NULL;
	size_t len = 0;
	int r;

	if ((r = cc_prepare(c)) != 0 || (r = cc_try_direct(c)) != CC_NEXT ||
	    (r = cc_try_pp(c)) != CC_NEXT)
		return r;
	memset(&e, 0, sizeof(e));
	if ((r = cc_miss(c, &e, &obj, &len)) == 0)
		cc_remember(c, &e, obj, len);
	jf_cc_entry_free(&e);
	jf_free(obj);
	return r;
}

static void
rm_tmp(const char *dir)
{
	static const char *const names[] = { "deps.dot", "pp.i", "out.o", "stderr", NULL };
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
    "usage: jitfarm cc [-v] [--store URL] [--no-direct] [--preprocessed]\n"
    "                  [COMPILER] ARGS...\n"
    "       jitfarm cc --show-stats | --zero-stats [--store URL]\n"
    "  Compile C as COMPILER (default $JITFARM_CC, else clang-19) does, through\n"
    "  a cache of the objects it writes.\n"
    "  -v              say what happened to each compile (hit, miss, why not cached)\n"
    "  --no-direct     skip direct mode (always run the preprocessor)\n"
    "  --preprocessed  after a direct miss, try preprocessor mode too\n"
    "  --show-stats    print the counters: hits, misses, fallbacks by reason, errors\n"
    "  --zero-stats    set them to zero\n"
    "  (--farm and --token are accepted and ignored: clang writes every object)\n"
    "  Environment: JITFARM_STORE, JITFARM_CC, JITFARM_CC_BASEDIR (absolute paths\n"
    "  under it are made relative; unset: no rewriting), JITFARM_CC_VERBOSE,\n"
    "  JITFARM_CC_NODIRECT, JITFARM_CC_PREPROCESSED, JITFARM_CC_DISABLE (run the\n"
    "  compiler directly).\n";

/* Our own options, before the compile line. Returns the index of the
 * compile line's first argument, 0 when done (--help, the stats), or -1
 * on a usage error. */
static int
cc_options(cc_ctx_t *c, int argc, char **argv)
{
	const char *v;
	int i, r, show = 0, zero = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			c->verbose = 1;
		} else if (strcmp(argv[i], "--no-direct") == 0) {
			c->direct = 0;
		} else if (strcmp(argv[i], "--preprocessed") == 0) {
			c->pp_mode = 1;
		} else if (strcmp(argv[i], "--show-stats") == 0 || strcmp(argv[i], "-s") == 0) {
			show = 1;
		} else if (strcmp(argv[i], "--zero-stats") == 0 || strcmp(argv[i], "-z") == 0) {
			zero = 1;
		} else if (strcmp(argv[i], "--help") == 0 && i == 1 && argc == 2) {
			fputs(cc_usage, stdout);
			return 0;
		} else if ((r = jf_cli_opt(argc, argv, &i, "--store", &v)) != 0) {
			if (r < 0)
				return -1;
			c->store_url = v;
		} else if ((r = jf_cli_opt(argc, argv, &i, "--farm", &v)) != 0 ||
		    (r = jf_cli_opt(argc, argv, &i, "--token", &v)) != 0) {
			if (r < 0)
				return -1;      /* accepted, unused: clang compiles */
		} else {
			i += strcmp(argv[i], "--") == 0;
			break;
		}
	}
	if (show || zero) {
		if (i < argc)
			return -1;
		jf_cli_store_url(c->store_url, c->url, sizeof(c->url));
		if (zero && jf_cli_stats_zero(c->url, "cc-") != 0)
			jf_cli_err("cc: cannot zero the counters");
		if (show)
			jf_cc_stats_show(c->url, stdout);
		return 0;
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

/* Why the real compiler must run, before any cache lookup: the compile
 * line, or the environment. */
static int
cc_must_fall_back(cc_ctx_t *c)
{
	const char *var;

	if (c->a.reason[0] == '\0' && (var = jf_cc_env_unsafe()) != NULL) {
		snprintf(c->a.reason, sizeof(c->a.reason), "%s is set", var);
		jf_strlcpy(c->a.reason_slug, "environment", sizeof(c->a.reason_slug));
	}
	return c->a.reason[0] != '\0';
}

/* Run the real compiler for c->a's reason, counted. */
static int
cc_fall_back(cc_ctx_t *c)
{
	char name[48];

	vmsg(c, "running %s: %s", c->a.compiler, c->a.reason);
	snprintf(name, sizeof(name), "cc-fallback-%s", c->a.reason_slug);
	jf_cli_stats_bump(c->url, name, 1);
	return jf_cc_exec_real(&c->a);
}

/*
 * `jitfarm cc` and `jitfarm-cc`. argv[0] is the command name; the compile
 * line follows our own options.
 */
int
jf_cc_main(int argc, char **argv)
{
	cc_ctx_t *c = jf_xcalloc(1, sizeof(*c));
	int first, r;

	c->verbose = env_on("JITFARM_CC_VERBOSE");
	c->direct = !env_on("JITFARM_CC_NODIRECT");
	c->pp_mode = env_on("JITFARM_CC_PREPROCESSED");
	if ((first = cc_options(c, argc, argv)) <= 0) {
		if (first < 0)
			fputs(cc_usage, stderr);
		jf_free(c);
		return first < 0 ? JF_EXIT_USAGE : JF_EXIT_OK;
	}
	c->base = getenv("JITFARM_CC_BASEDIR");
	if (c->base != NULL && c->base[0] != '/')
		c->base = NULL;
	if (jf_cc_cwd(c->cwd, sizeof(c->cwd)) != 0 ||
	    jf_cc_args_parse(argv + first, (size_t)(argc - first), NULL, c->base, &c->a) != 0) {
		jf_cli_err("cc: getcwd: %s", strerror(errno));
		jf_free(c);
		return JF_EXIT_FAIL;
	}
	if (env_on("JITFARM_CC_DISABLE"))
		return jf_cc_exec_real(&c->a);          /* straight through, uncounted */
	jf_cli_store_url(c->store_url, c->url, sizeof(c->url));
	if (cc_must_fall_back(c))
		return cc_fall_back(c);
	r = cc_run_cached(c);
	if (r == CC_FALLBACK)
		return cc_fall_back(c);
	if (r < 0) {
		/* the cache failed: the build must not */
		if (c->verbose)
			fprintf(stderr, "jitfarm cc: %s: %s; running %s\n", c->a.src,
			    jf_strerror(r), c->a.compiler);
		jf_cli_stats_bump(c->url, "cc-errors", 1);
		return jf_cc_exec_real(&c->a);
	}
	jf_cc_args_free(&c->a);
	jf_free(c);
	return r == 0 ? JF_EXIT_OK : r;
}

int
jf_cmd_cc(int argc, char **argv)
{
	return jf_cc_main(argc, argv);
}
