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
 *    source's SHA-256. Its entry lists every header the compile read,
 *    with their hashes (learned from clang on the miss), and the artifact
 *    key of the object. A hit re-hashes those headers and, when all
 *    match, fetches the object: no preprocessor, no frontend.
 *  - preprocessor mode, the fallback: key = compiler identity + the
 *    arguments that still matter after preprocessing + the SHA-256 of
 *    `clang -E`. It costs a preprocessor run but no frontend.
 *
 * Entries are stored in the artifact store as blobs of namespace
 * "jitfarm-cc" whose payload is the entry text below, so a shared store
 * (Redis, S3) shares them between CI runners. Paths under the base
 * directory ($JITFARM_CC_BASEDIR, default the working directory) are made
 * relative, in the key and in the command that runs, so two checkouts
 * share entries; the working directory enters the key only for -g
 * compiles that do not map it away with -fdebug-prefix-map.
 *
 * Entry text:  "jitfarm-cc 1\n" "object HEX\n" ("header SHA PATH\n")*
 *              "depfile N\n" N bytes "\n" "stderr N\n" N bytes "\n"
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/mem.h"
#include "common/key.h"
#include "common/util.h"
#include "storage/store.h"
#include "cli/cli.h"
#include "cli/cc.h"

extern char **environ;

#define CC_NS "jitfarm-cc"
#define CC_MAX_SOURCE (256u << 20)
#define CC_MAX_ENTRY (16u << 20)
#define CC_MAX_HEADERS 20000

int jf_cmd_cc(int argc, char **argv);

typedef struct cc_header {
	char *path;                     /* as stored: relative under base, else absolute */
	uint8_t sha[32];
} cc_header_t;

typedef struct cc_entry {
	jf_key_t object;
	cc_header_t *h;
	size_t nh;
	uint8_t *dep;                   /* depfile bytes or NULL */
	size_t dep_len;
	uint8_t *err;                   /* the frontend's stderr, replayed on hits */
	size_t err_len;
} cc_entry_t;

typedef struct cc_ctx {
	jf_cc_args_t a;
	jf_cli_compile_opts_t o;
	char url[4200];
	char cwd[PATH_MAX];
	const char *base;
	char tmp[PATH_MAX];             /* private temp dir */
	jf_store_t *store;
	int verbose, direct;
	int front;                      /* jitfarm-cc: no compiler in this binary */
	int direct_checked;             /* the front already missed in direct mode */
	char ident[PATH_MAX + 128];     /* compiler identity */
	uint8_t src_sha[32];
	int volatile_src;               /* __DATE__ or __TIME__ in the source */
} cc_ctx_t;

static void
vmsg(const cc_ctx_t *c, const char *fmt, const char *x, const char *y)
{
	if (c->verbose) {
		fprintf(stderr, "jitfarm cc: ");
		fprintf(stderr, fmt, x, y);
		fputc('\n', stderr);
	}
}

static void
entry_free(cc_entry_t *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->nh; i++)
		free(e->h[i].path);
	free(e->h);
	free(e->dep);
	free(e->err);
	memset(e, 0, sizeof(*e));
}

/* --- hashing ------------------------------------------------------------------ */

/* A key is the SHA-256 of length-prefixed fields. */
static void
kh_field(EVP_MD_CTX *h, const void *p, size_t n)
{
	uint8_t len[8];

	jf_put_u64(len, n);
	EVP_DigestUpdate(h, len, sizeof(len));
	EVP_DigestUpdate(h, p, n);
}

static void
kh_str(EVP_MD_CTX *h, const char *s)
{
	kh_field(h, s, strlen(s));
}

/* Hash a file's content. Returns 0, or JF_ERR_IO when unreadable. */
static int
hash_file(const char *path, uint8_t out[32], int *volatile_macros)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = jf_file_read(path, CC_MAX_SOURCE, &buf, &len)) != 0)
		return r;
	jf_sha256(buf, len, out);
	if (volatile_macros != NULL)
		*volatile_macros = memmem(buf, len, "__DATE__", 8) != NULL ||
		    memmem(buf, len, "__TIME__", 8) != NULL ||
		    memmem(buf, len, "__TIMESTAMP__", 13) != NULL;
	free(buf);
	return 0;
}

/* The compiler's identity: its resolved path, size and mtime (as ccache's
 * default check), and this program's compiler id. */
static int
compiler_ident(cc_ctx_t *c)
{
	char found[PATH_MAX], real[PATH_MAX];
	const char *path = getenv("PATH"), *p;
	struct stat st;
	int ok = 0;

	if (strchr(c->a.compiler, '/') != NULL) {
		ok = jf_strlcpy(found, c->a.compiler, sizeof(found)) < sizeof(found);
	} else {
		for (p = path ? path : "/usr/bin:/bin"; p != NULL && !ok; ) {
			const char *e = strchr(p, ':');
			size_t l = e ? (size_t)(e - p) : strlen(p);

			if ((size_t)snprintf(found, sizeof(found), "%.*s/%s", (int)l, p,
			    c->a.compiler) < sizeof(found) && access(found, X_OK) == 0)
				ok = 1;
			p = e ? e + 1 : NULL;
		}
	}
	if (!ok || realpath(found, real) == NULL || stat(real, &st) != 0)
		return JF_ERR_NOTFOUND;
	snprintf(c->ident, sizeof(c->ident), "%s|%lld|%lld.%09ld|%s", real,
	    (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
	    jf_compiler_id());
	return 0;
}

/* Is this argument part of the direct-mode key? Everything but the
 * output, which matters only for a depfile's target. */
static void
key_args(EVP_MD_CTX *h, const cc_ctx_t *c, int pp)
{
	size_t i;

	for (i = 0; i < c->a.argc; i++) {
		jf_cc_argkind_t k = c->a.kind[i];

		if (k == JF_CC_ARG_OUT && !c->a.has_dep)
			continue;
		if (pp && (k == JF_CC_ARG_CPP || k == JF_CC_ARG_DEP || k == JF_CC_ARG_OUT ||
		    k == JF_CC_ARG_SRC))
			continue;
		kh_field(h, &k, 1);
		kh_str(h, c->a.keytext[i] != NULL ? c->a.keytext[i] : c->a.argv[i]);
	}
	/* debug info records the working directory unless it is mapped */
	if (c->a.has_debug && !c->a.debug_mapped)
		kh_str(h, c->cwd);
}

static void
key_direct(const cc_ctx_t *c, jf_key_t *out)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned n = 0;

	if (h == NULL)
		abort();
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	kh_str(h, "jitfarm-cc/direct/1");
	kh_str(h, c->ident);
	key_args(h, c, 0);
	kh_field(h, c->src_sha, 32);
	EVP_DigestFinal_ex(h, out->b, &n);
	EVP_MD_CTX_free(h);
}

static void
key_pp(const cc_ctx_t *c, const uint8_t pp_sha[32], jf_key_t *out)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned n = 0;

	if (h == NULL)
		abort();
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	kh_str(h, "jitfarm-cc/pp/1");
	kh_str(h, c->ident);
	key_args(h, c, 1);
	kh_field(h, pp_sha, 32);
	EVP_DigestFinal_ex(h, out->b, &n);
	EVP_MD_CTX_free(h);
}

/* --- entries in the store ------------------------------------------------------- */

static int
entry_encode(const cc_entry_t *e, char **out, size_t *outlen)
{
	char hex[JF_KEY_HEX_LEN + 1], shahex[65];
	size_t cap = 256 + e->dep_len + e->err_len, len = 0, i;
	char *b;

	for (i = 0; i < e->nh; i++)
		cap += strlen(e->h[i].path) + 80;
	if ((b = malloc(cap)) == NULL)
		return JF_ERR_NOMEM;
	jf_key_hex(&e->object, hex);
	len += (size_t)snprintf(b + len, cap - len, "jitfarm-cc 1\nobject %s\n", hex);
	for (i = 0; i < e->nh; i++) {
		jf_hex_encode(e->h[i].sha, 32, shahex);
		len += (size_t)snprintf(b + len, cap - len, "header %s %s\n", shahex,
		    e->h[i].path);
	}
	len += (size_t)snprintf(b + len, cap - len, "depfile %zu\n", e->dep_len);
	if (e->dep_len)
		memcpy(b + len, e->dep, e->dep_len);
	len += e->dep_len;
	b[len++] = '\n';
	len += (size_t)snprintf(b + len, cap - len, "stderr %zu\n", e->err_len);
	if (e->err_len)
		memcpy(b + len, e->err, e->err_len);
	len += e->err_len;
	b[len++] = '\n';
	*out = b;
	*outlen = len;
	return 0;
}

/* Take the next line of [*p, end) without its '\n' into line (NUL-ended);
 * JF_ERR_FORMAT when there is none or it is too long. */
static int
next_line(const uint8_t **p, const uint8_t *end, char *line, size_t max)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t l;

	if (nl == NULL || (l = (size_t)(nl - *p)) >= max)
		return JF_ERR_FORMAT;
	memcpy(line, *p, l);
	line[l] = '\0';
	*p = nl + 1;
	return 0;
}

/* A "NAME N\n" + N bytes + "\n" section. */
static int
take_section(const uint8_t **p, const uint8_t *end, const char *name, uint8_t **out,
    size_t *outlen)
{
	char line[64], want[32];
	unsigned long long n;
	int r;

	if ((r = next_line(p, end, line, sizeof(line))) != 0)
		return r;
	snprintf(want, sizeof(want), "%s %%llu", name);
	if (sscanf(line, want, &n) != 1 || n > (unsigned long long)(end - *p) ||
	    (size_t)(end - *p) - n < 1 || (*p)[n] != '\n')
		return JF_ERR_FORMAT;
	*out = NULL;
	*outlen = (size_t)n;
	if (n > 0) {
		if ((*out = malloc((size_t)n)) == NULL)
			return JF_ERR_NOMEM;
		memcpy(*out, *p, (size_t)n);
	}
	*p += n + 1;
	return 0;
}

static int
entry_decode(const uint8_t *b, size_t len, cc_entry_t *e)
{
	const uint8_t *p = b, *end = b + len;
	char line[PATH_MAX + 128];
	int r;

	memset(e, 0, sizeof(*e));
	if ((r = next_line(&p, end, line, sizeof(line))) != 0 || strcmp(line, "jitfarm-cc 1") != 0)
		goto bad;
	if ((r = next_line(&p, end, line, sizeof(line))) != 0 || strncmp(line, "object ", 7) != 0 ||
	    jf_key_from_hex(line + 7, &e->object) != 0)
		goto bad;
	while (p < end && (size_t)(end - p) > 7 && memcmp(p, "header ", 7) == 0) {
		cc_header_t *nh;

		if ((r = next_line(&p, end, line, sizeof(line))) != 0)
			goto bad;
		if (strlen(line) < 7 + 64 + 2 || line[7 + 64] != ' ' || e->nh >= CC_MAX_HEADERS)
			goto bad;
		if ((nh = realloc(e->h, (e->nh + 1) * sizeof(*nh))) == NULL) {
			r = JF_ERR_NOMEM;
			goto out;
		}
		e->h = nh;
		line[7 + 64] = '\0';
		if (jf_hex_decode(line + 7, e->h[e->nh].sha, 32) != 0)
			goto bad;
		if ((e->h[e->nh].path = strdup(line + 7 + 65)) == NULL) {
			r = JF_ERR_NOMEM;
			goto out;
		}
		e->nh++;
	}
	if ((r = take_section(&p, end, "depfile", &e->dep, &e->dep_len)) != 0 ||
	    (r = take_section(&p, end, "stderr", &e->err, &e->err_len)) != 0)
		goto out;
	r = 0;
	goto out;
bad:
	r = JF_ERR_FORMAT;
out:
	if (r != 0)
		entry_free(e);
	return r;
}

/* Fetch the entry stored under k. JF_ERR_NOTFOUND for a miss (or an
 * unusable entry). */
static int
entry_get(cc_ctx_t *c, const jf_key_t *k, cc_entry_t *e)
{
	jf_artifact_t art;
	uint8_t *blob = NULL;
	size_t blen = 0;
	char why[256];
	int r;

	memset(e, 0, sizeof(*e));
	memset(&art, 0, sizeof(art));
	if ((r = jf_store_get(c->store, k, &blob, &blen)) != 0)
		goto out;
	if ((r = jf_blob_decode(blob, blen, NULL, &art, why, sizeof(why))) != 0 ||
	    art.m.ns == NULL || strcmp(art.m.ns, CC_NS) != 0) {
		r = JF_ERR_NOTFOUND;
		goto out;
	}
	if (entry_decode(art.payload, art.payload_len, e) != 0)
		r = JF_ERR_NOTFOUND;
out:
	jf_artifact_free(&art);
	jf_free(blob);
	return r;
}

static int
entry_put(cc_ctx_t *c, const jf_key_t *k, const cc_entry_t *e)
{
	jf_artifact_t art;
	char ns[] = CC_NS, producer[] = "jitfarm cc", comp[256];
	char *text = NULL;
	uint8_t *blob = NULL;
	size_t tlen = 0, blen = 0;
	int r;

	memset(&art, 0, sizeof(art));
	if ((r = entry_encode(e, &text, &tlen)) != 0)
		goto out;
	art.m.key = *k;
	art.m.ns = ns;
	art.m.program_id = *k;
	jf_strlcpy(art.m.target.triple, "jitfarm-cc-entry", sizeof(art.m.target.triple));
	jf_strlcpy(art.m.target.cpu, "none", sizeof(art.m.target.cpu));
	art.m.target.opt = '0';
	jf_strlcpy(comp, jf_compiler_id(), sizeof(comp));
	art.m.compiler = comp;
	art.m.created_ms = jf_wall_ms();
	art.m.producer = producer;
	art.payload = (uint8_t *)text;
	art.payload_len = tlen;
	if ((r = jf_blob_encode(&art, NULL, &blob, &blen)) != 0)
		goto out;
	r = jf_store_put(c->store, k, blob, blen);
out:
	if (r != 0)
		vmsg(c, "could not store a cc entry: %s%s", jf_strerror(r), "");
	free(text);
	free(blob);
	return r;
}

/* --- running the compiler ------------------------------------------------------- */

/*
 * Run argv with extra environment (NULL-terminated, may be NULL), stdout
 * to out_path (NULL: inherited) and stderr to err_path (NULL:
 * inherited). Returns the exit status (128+signal when killed), or a
 * negative jf_err when it could not start.
 */
static int
run(char *const *argv, char *const *extra_env, const char *out_path, const char *err_path)
{
	posix_spawn_file_actions_t fa;
	char **envp = NULL;
	size_t n = 0, m = 0, i;
	pid_t pid;
	int st, r;

	while (environ[n] != NULL)
		n++;
	while (extra_env != NULL && extra_env[m] != NULL)
		m++;
	if ((envp = calloc(n + m + 1, sizeof(*envp))) == NULL)
		return JF_ERR_NOMEM;
	for (i = 0; i < n; i++)
		envp[i] = environ[i];
	for (i = 0; i < m; i++)
		envp[n + i] = extra_env[i];
	posix_spawn_file_actions_init(&fa);
	if (out_path != NULL)
		posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (err_path != NULL)
		posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	if (r != 0) {
		errno = r;
		return JF_ERR_SYSTEM;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return JF_ERR_SYSTEM;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Copy a file to stderr (the compiler's diagnostics). */
static void
replay(const uint8_t *buf, size_t len)
{
	if (len > 0)
		(void)jf_write_full(2, buf, len);
}

/* Build compiler + args, leaving out kinds in skip (a bitmask of
 * 1 << kind), then the extra arguments. Pointers are borrowed. */
static char **
build_argv(const cc_ctx_t *c, unsigned skip, const char *const *extra)
{
	size_t n = 0, i, m = 0;
	char **v;

	while (extra != NULL && extra[m] != NULL)
		m++;
	if ((v = calloc(c->a.argc + m + 2, sizeof(*v))) == NULL)
		return NULL;
	v[n++] = c->a.compiler;
	for (i = 0; i < c->a.argc; i++)
		if (!(skip & (1u << c->a.kind[i])))
			v[n++] = c->a.argv[i];
	for (i = 0; i < m; i++)
		v[n++] = (char *)(uintptr_t)extra[i];
	v[n] = NULL;
	return v;
}

/* Read the header list clang wrote (CC_PRINT_HEADERS_FILE): one path a
 * line, repeats allowed. Fills e->h with unique paths and their hashes.
 * *volatile_hdr is set when a header uses __DATE__/__TIME__. */
static int
collect_headers(cc_ctx_t *c, const char *list, cc_entry_t *e, int *volatile_hdr)
{
	uint8_t *buf = NULL;
	size_t len = 0, i;
	char *p, *nl;
	int r, v;

	*volatile_hdr = 0;
	if ((r = jf_file_read(list, 64u << 20, &buf, &len)) != 0) {
		/* no header at all: clang writes no file */
		return r == JF_ERR_NOTFOUND || errno == ENOENT ? 0 : r;
	}
	/* make it a string */
	{
		uint8_t *b2 = realloc(buf, len + 1);

		if (b2 == NULL) {
			free(buf);
			return JF_ERR_NOMEM;
		}
		buf = b2;
		buf[len] = '\0';
	}
	for (p = (char *)buf; *p != '\0'; p = nl + 1) {
		char *rel;
		int dup = 0;
		cc_header_t *nh;

		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1 + (p[0] ? 1 : 0);
		if (*nl == '\n')
			*nl = '\0';
		if (*p == '\0')
			goto next;
		if ((rel = jf_cc_relpath(p, c->cwd, c->base)) == NULL) {
			r = JF_ERR_NOMEM;
			goto out;
		}
		for (i = 0; i < e->nh && !dup; i++)
			dup = strcmp(e->h[i].path, rel) == 0;
		if (dup || e->nh >= CC_MAX_HEADERS) {
			free(rel);
			goto next;
		}
		if ((nh = realloc(e->h, (e->nh + 1) * sizeof(*nh))) == NULL) {
			free(rel);
			r = JF_ERR_NOMEM;
			goto out;
		}
		e->h = nh;
		e->h[e->nh].path = rel;
		if ((r = hash_file(p, e->h[e->nh].sha, &v)) != 0) {
			free(rel);
			goto out;
		}
		*volatile_hdr |= v;
		e->nh++;
next:
		if (nl >= (char *)buf + len)
			break;
	}
	r = 0;
out:
	free(buf);
	return r;
}

/* Do the headers listed in e still have the same content? */
static int
headers_match(const cc_entry_t *e)
{
	uint8_t sha[32];
	size_t i;

	for (i = 0; i < e->nh; i++)
		if (hash_file(e->h[i].path, sha, NULL) != 0 || memcmp(sha, e->h[i].sha, 32) != 0)
			return 0;
	return 1;
}

/* Fetch the object named by e and write it (and the depfile) out.
 * JF_ERR_NOTFOUND when the object is gone from the store. */
static int
deliver(cc_ctx_t *c, const cc_entry_t *e)
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
	jf_free(blob);
	return r;
}

/* --- the cached compile -------------------------------------------------------- */

/* Results of cc_cached beyond 0 (done) and negative (cache failure). */
#define CC_USER_STATUS(s) (s)           /* the compiler's own non-zero exit */
#define CC_NEED_FULL 1000               /* front: a direct miss, for jitfarm cc */

/*
 * The cached compile. Returns 0 when the object was written, a positive
 * compiler exit status when the user's code does not compile (its
 * diagnostics already printed), or a negative jf_err when the cache
 * path failed and the real compiler should run instead.
 */
static int
cc_cached(cc_ctx_t *c)
{
	jf_key_t dkey, pkey;
	cc_entry_t e, got;
	jf_artifact_t art;
	char hdrs[PATH_MAX + 32], env1[] = "CC_PRINT_HEADERS=1", env2[PATH_MAX + 64];
	char pp[PATH_MAX + 16], bc[PATH_MAX + 16], errf[PATH_MAX + 16], hex[JF_KEY_HEX_LEN + 1];
	char *envx[3] = { env1, env2, NULL };
	char **argv = NULL;
	uint8_t *buf = NULL, pp_sha[32];
	size_t len = 0;
	int r, st, hit = 0, vol_hdr = 0, have_pkey = 0;
	const unsigned skip_pp = (1u << JF_CC_ARG_COMPILE) | (1u << JF_CC_ARG_OUT) |
	    (1u << JF_CC_ARG_DEP);

	memset(&e, 0, sizeof(e));
	memset(&got, 0, sizeof(got));
	memset(&art, 0, sizeof(art));
	snprintf(hdrs, sizeof(hdrs), "%s/headers", c->tmp);
	snprintf(env2, sizeof(env2), "CC_PRINT_HEADERS_FILE=%s", hdrs);
	snprintf(pp, sizeof(pp), "%s/pp.i", c->tmp);
	snprintf(bc, sizeof(bc), "%s/out.bc", c->tmp);
	snprintf(errf, sizeof(errf), "%s/stderr", c->tmp);

	if ((r = compiler_ident(c)) != 0) {
		vmsg(c, "compiler %s not found%s", c->a.compiler, "");
		goto out;
	}
	if ((r = hash_file(c->a.src, c->src_sha, &c->volatile_src)) != 0)
		goto out;
	key_direct(c, &dkey);

	/* 1. direct mode: no preprocessor, no frontend */
	if (c->store != NULL && c->direct && !c->volatile_src && !c->direct_checked) {
		r = entry_get(c, &dkey, &got);
		if (r == 0 && headers_match(&got) && (r = deliver(c, &got)) == 0) {
			jf_key_hex(&got.object, hex);
			vmsg(c, "%s: hit (direct) %s", c->a.src, hex);
			jf_cli_stats_bump(c->url, "cc-direct-hits", 1);
			goto out;
		}
		entry_free(&got);
		if (r != 0 && r != JF_ERR_NOTFOUND)
			vmsg(c, "store read failed: %s%s", jf_strerror(r), "");
	}

	/* the front (jitfarm-cc) has no compiler: the rest is jitfarm's */
	if (c->front) {
		r = CC_NEED_FULL;
		goto out;
	}

	/* 2. preprocessor mode (not when a depfile is wanted: only the
	 *    frontend writes it) */
	if (c->store != NULL && !c->a.has_dep) {
		const char *extra[] = { "-E", "-o", pp, NULL };

		if ((argv = build_argv(c, skip_pp, extra)) == NULL) {
			r = JF_ERR_NOMEM;
			goto out;
		}
		unlink(hdrs);
		st = run(argv, envx, NULL, "/dev/null");
		free(argv);
		argv = NULL;
		if (st == 0 && hash_file(pp, pp_sha, NULL) == 0) {
			key_pp(c, pp_sha, &pkey);
			have_pkey = 1;
			if (entry_get(c, &pkey, &got) == 0 && deliver(c, &got) == 0) {
				jf_key_hex(&got.object, hex);
				vmsg(c, "%s: hit (preprocessed) %s", c->a.src, hex);
				jf_cli_stats_bump(c->url, "cc-preprocessed-hits", 1);
				/* remember the headers for a direct hit next time */
				if (c->direct && collect_headers(c, hdrs, &e, &vol_hdr) == 0 && !vol_hdr) {
					e.object = got.object;
					e.err = got.err;
					e.err_len = got.err_len;
					(void)entry_put(c, &dkey, &e);
					e.err = NULL;
					e.err_len = 0;
				}
				r = 0;
				goto out;
			}
			entry_free(&got);
		}
		/* a failing preprocessor run is the frontend's to report */
	}

	/* 3. miss: the frontend to bitcode, then the cached compile */
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
		extra[n] = NULL;
		if (c->a.has_dep && !c->a.dep_has_mt) {
			/* the depfile names the real output, not our temp file */
			const char *mt[] = { "-MT", c->a.out, NULL };
			size_t k;

			for (k = 0; mt[k] != NULL; k++)
				extra[n++] = mt[k];
			extra[n] = NULL;
		}
		if ((argv = build_argv(c, 1u << JF_CC_ARG_OUT, extra)) == NULL) {
			r = JF_ERR_NOMEM;
			goto out;
		}
	}
	unlink(hdrs);
	st = run(argv, envx, NULL, errf);
	if (jf_file_read(errf, CC_MAX_ENTRY, &e.err, &e.err_len) != 0) {
		e.err = NULL;
		e.err_len = 0;
	}
	replay(e.err, e.err_len);
	if (st < 0) {
		r = st;
		goto out;
	}
	if (st != 0) {
		/* the user's code does not compile: that is the answer */
		r = CC_USER_STATUS(st);
		goto out;
	}
	if ((r = jf_file_read(bc, JF_DEFAULT_MAX_IR, &buf, &len)) != 0)
		goto out;
	c->o.opt = c->a.opt;
	{
		char err[1024];

		if ((r = jf_cc_compile(&c->o, buf, len, &art, &hit, err, sizeof(err))) != 0) {
			vmsg(c, "compile failed: %s%s", err, "");
			goto out;
		}
	}
	if ((r = jf_cli_write_output(c->a.out, art.payload, art.payload_len)) != 0)
		goto out;
	e.object = art.m.key;
	jf_key_hex(&e.object, hex);
	vmsg(c, "%s: miss %s", c->a.src, hex);
	jf_cli_stats_bump(c->url, "cc-misses", 1);
	if (c->store != NULL) {
		if (c->a.has_dep && c->a.dep_path != NULL &&
		    jf_file_read(c->a.dep_path, CC_MAX_ENTRY, &e.dep, &e.dep_len) != 0) {
			e.dep = NULL;
			e.dep_len = 0;
		}
		if (have_pkey)
			(void)entry_put(c, &pkey, &e);
		if (c->direct && !c->volatile_src && collect_headers(c, hdrs, &e, &vol_hdr) == 0 &&
		    !vol_hdr && (!c->a.has_dep || e.dep != NULL))
			(void)entry_put(c, &dkey, &e);
	}
	r = 0;
out:
	free(argv);
	free(buf);
	entry_free(&e);
	entry_free(&got);
	jf_artifact_free(&art);
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

/* Replace this process with the real compiler and the original
 * arguments. Returns only if that fails (127). */
static int
exec_real(const jf_cc_args_t *a)
{
	char **v;
	size_t i;

	if ((v = calloc(a->norig + 2, sizeof(*v))) == NULL)
		return 127;
	v[0] = a->compiler;
	for (i = 0; i < a->norig; i++)
		v[i + 1] = a->orig[i];
	fflush(NULL);
	execvp(v[0], v);
	jf_cli_err("cc: cannot run %s: %s", v[0], strerror(errno));
	free(v);
	return 127;
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

/* The front's direct miss: the same compile line to `jitfarm cc`, the
 * binary next to this one, which skips the direct lookup just made. */
static int
exec_full(char **argv, int argc, int first)
{
	char self[PATH_MAX], full[PATH_MAX + 16], *slash, **v;
	ssize_t n;
	int i, k = 0;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		return 127;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	snprintf(full, sizeof(full), "%s/jitfarm", self);
	if ((v = calloc((size_t)argc + 4, sizeof(*v))) == NULL)
		return 127;
	v[k++] = full;
	v[k++] = (char *)(uintptr_t)"cc";
	for (i = first; i < argc; i++)
		v[k++] = argv[i];
	v[k] = NULL;
	setenv("JITFARM_CC_DIRECT_CHECKED", "1", 1);
	fflush(NULL);
	execv(full, v);
	jf_cli_err("cc: cannot run %s: %s", full, strerror(errno));
	free(v);
	return 127;
}

/*
 * `jitfarm cc` (front 0) and `jitfarm-cc` (front 1). argv[0] is the
 * command name; the compile line follows our own options.
 */
int
jf_cc_main(int argc, char **argv, int front)
{
	cc_ctx_t *c;
	jf_store_opts_t so;
	char serr[512];
	int i = 1, r;
	const char *v;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		jf_cli_err("cc: out of memory");
		return JF_EXIT_FAIL;
	}
	c->verbose = env_on("JITFARM_CC_VERBOSE");
	c->direct = !env_on("JITFARM_CC_NODIRECT");
	c->front = front;
	c->direct_checked = !front && env_on("JITFARM_CC_DIRECT_CHECKED");
	unsetenv("JITFARM_CC_DIRECT_CHECKED");
	c->o.farm_url = getenv("JITFARM_FARM");
	c->o.farm_token = getenv("JITFARM_TOKEN");
	for (; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			c->verbose = 1;
		} else if (strcmp(argv[i], "--no-direct") == 0) {
			c->direct = 0;
		} else if (strcmp(argv[i], "--help") == 0 && i == 1 && argc == 2) {
			fputs(cc_usage, stdout);
			free(c);
			return JF_EXIT_OK;
		} else if ((r = jf_cli_opt(argc, argv, &i, "--store", &v)) != 0) {
			if (r < 0)
				goto usage;
			c->o.store_url = v;
		} else if ((r = jf_cli_opt(argc, argv, &i, "--farm", &v)) != 0) {
			if (r < 0)
				goto usage;
			c->o.farm_url = v;
		} else if ((r = jf_cli_opt(argc, argv, &i, "--token", &v)) != 0) {
			if (r < 0)
				goto usage;
			c->o.farm_token = v;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			break;
		}
	}
	if (i >= argc)
		goto usage;
	c->o.verbose = c->verbose;
	if (getcwd(c->cwd, sizeof(c->cwd)) == NULL) {
		jf_cli_err("cc: getcwd: %s", strerror(errno));
		free(c);
		return JF_EXIT_FAIL;
	}
	c->base = getenv("JITFARM_CC_BASEDIR");
	if (c->base == NULL || c->base[0] != '/')
		c->base = c->cwd;
	if (jf_cc_args_parse(argv + i, (size_t)(argc - i), NULL, c->base, &c->a) != 0) {
		jf_cli_err("cc: out of memory");
		free(c);
		return JF_EXIT_FAIL;
	}
	jf_cli_store_url(c->o.store_url, c->url, sizeof(c->url));
	if (env_on("JITFARM_CC_DISABLE") && c->a.reason[0] == '\0')
		snprintf(c->a.reason, sizeof(c->a.reason), "JITFARM_CC_DISABLE is set");
	if (c->a.reason[0] != '\0') {
		vmsg(c, "running %s: %s", c->a.compiler, c->a.reason);
		jf_cli_stats_bump(c->url, "cc-fallbacks", 1);
		return exec_real(&c->a);
	}

	memset(&so, 0, sizeof(so));
	so.retries = -1;
	so.connect_timeout_ms = 1000;
	if (jf_store_open(c->url, &so, &c->store, serr, sizeof(serr)) != 0) {
		vmsg(c, "store %s unavailable (%s): no cc cache", c->url, serr);
		c->store = NULL;
	}
	{
		const char *td = getenv("TMPDIR");

		snprintf(c->tmp, sizeof(c->tmp), "%s/jitfarm-cc.XXXXXX",
		    td != NULL && td[0] == '/' ? td : "/tmp");
		if (mkdtemp(c->tmp) == NULL)
			c->tmp[0] = '\0';
	}
	r = c->tmp[0] != '\0' ? cc_cached(c) : JF_ERR_IO;
	rm_tmp(c->tmp);
	jf_store_close(c->store);
	c->store = NULL;
	if (r == CC_NEED_FULL || (front && r < 0)) {
		/* everything but a direct hit is the full command's */
		jf_cc_args_free(&c->a);
		free(c);
		return exec_full(argv, argc, 1);
	}
	if (r == 0) {
		jf_cc_args_free(&c->a);
		free(c);
		return JF_EXIT_OK;
	}
	if (r > 0) {
		jf_cc_args_free(&c->a);
		free(c);
		return r;
	}
	/* the cache failed: the build must not */
	if (c->verbose)
		fprintf(stderr, "jitfarm cc: %s: %s; running %s\n", c->a.src,
		    jf_strerror(r), c->a.compiler);
	jf_cli_stats_bump(c->url, "cc-errors", 1);
	return exec_real(&c->a);

usage:
	fputs(cc_usage, stderr);
	free(c);
	return JF_EXIT_USAGE;
}

int
jf_cmd_cc(int argc, char **argv)
{
	return jf_cc_main(argc, argv, 0);
}
