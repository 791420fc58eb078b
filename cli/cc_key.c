/*
 * cc_key.c - the keys of `jitfarm cc` (cc_key.h says what goes in).
 *
 * The environment list is clang's: the driver turns CPATH and the
 * *_INCLUDE_PATH variables into include directories, the frontend reads
 * SOURCE_DATE_EPOCH for __DATE__/__TIME__, COMPILER_PATH changes where
 * the driver looks for its tools, RC_DEBUG_OPTIONS puts the command line
 * into debug info, CLANG_NO_DEFAULT_CONFIG turns configuration files off,
 * and the locale variables change the messages a hit replays (the same
 * set ccache hashes, plus clang's own).
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "jitfarm/error.h"
#include "common/buf.h"
#include "common/util.h"
#include "cli/cc_key.h"

static const char *const env_keyed[] = {
	"CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH",
	"OBJCPLUS_INCLUDE_PATH", "SOURCE_DATE_EPOCH", "COMPILER_PATH", "RC_DEBUG_OPTIONS",
	"CLANG_NO_DEFAULT_CONFIG", "SDKROOT", "MACOSX_DEPLOYMENT_TARGET",
	"LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", NULL
};

static const char *const env_unsafe[] = {
	"CCC_OVERRIDE_OPTIONS", "CC_PRINT_OPTIONS", "CC_PRINT_HEADERS", "CC_LOG_DIAGNOSTICS",
	"CC_PRINT_PROC_STAT", "CC_PRINT_INTERNAL_STAT", "CLANG_CRASH_DIAGNOSTICS_DIR", NULL
};

/* Configuration files clang 19 loads by itself from its own directory. */
static const char *const config_names[] = {
	"clang.cfg", "x86_64-pc-linux-gnu-clang.cfg", "x86_64-pc-linux-gnu.cfg",
	"x86_64-unknown-linux-gnu-clang.cfg", "x86_64-unknown-linux-gnu.cfg",
	"x86_64-linux-gnu-clang.cfg", "x86_64-linux-gnu.cfg", NULL
};

const char *
jf_cc_env_unsafe(void)
{
	size_t i;

	for (i = 0; env_unsafe[i] != NULL; i++)
		if (getenv(env_unsafe[i]) != NULL)
			return env_unsafe[i];
	return NULL;
}

int
jf_cc_cwd(char *buf, size_t len)
{
	const char *pwd = getenv("PWD");
	struct stat a, b;

	if (pwd != NULL && pwd[0] == '/' && strlen(pwd) < len && stat(pwd, &a) == 0 &&
	    stat(".", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		memcpy(buf, pwd, strlen(pwd) + 1);
		return 0;
	}
	return getcwd(buf, len) != NULL ? 0 : JF_ERR_SYSTEM;
}

/* Find compiler in PATH (or take it as a path). */
static int
find_compiler(const char *compiler, char *found, size_t len)
{
	const char *path = getenv("PATH"), *p, *e;
	size_t l;

	if (strchr(compiler, '/') != NULL)
		return jf_strlcpy(found, compiler, len) < len ? 0 : JF_ERR_NOTFOUND;
	for (p = path ? path : "/usr/bin:/bin"; p != NULL; p = e ? e + 1 : NULL) {
		e = strchr(p, ':');
		l = e ? (size_t)(e - p) : strlen(p);
		if ((size_t)snprintf(found, len, "%.*s/%s", (int)l, l ? p : ".", compiler) < len &&
		    access(found, X_OK) == 0)
			return 0;
	}
	return JF_ERR_NOTFOUND;
}

static void
ident_stat(jf_buf_t *b, const char *path, const struct stat *st)
{
	jf_buf_printf(b, "%s|%lld|%lld.%09ld\n", path, (long long)st->st_size,
	    (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

/* The shared libraries of an LLVM install: DIR/../lib/lib{LLVM,clang-cpp}*.so* */
static void
ident_libs(jf_buf_t *b, const char *dir)
{
	char lib[PATH_MAX], p[PATH_MAX + 256];
	struct dirent *d;
	struct stat st;
	DIR *dp;

	snprintf(lib, sizeof(lib), "%s/../lib", dir);
	if ((dp = opendir(lib)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if ((strncmp(d->d_name, "libLLVM", 7) != 0 &&
		    strncmp(d->d_name, "libclang-cpp", 12) != 0) || strstr(d->d_name, ".so") == NULL)
			continue;
		snprintf(p, sizeof(p), "%s/%s", lib, d->d_name);
		if (stat(p, &st) == 0)
			ident_stat(b, d->d_name, &st);
	}
	closedir(dp);
}

/* A configuration file clang would load from dir, or NULL. */
static int
has_config(const char *dir, char *why, size_t whylen)
{
	char p[PATH_MAX + 64];
	size_t i;

	for (i = 0; config_names[i] != NULL; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, config_names[i]);
		if (access(p, F_OK) == 0) {
			snprintf(why, whylen, "clang configuration file %s", p);
			return 1;
		}
	}
	return 0;
}

int
jf_cc_compiler_ident(const char *compiler, char *out, size_t len, char *why, size_t whylen)
{
	char found[PATH_MAX], real[PATH_MAX], dir[PATH_MAX], *sl;
	jf_buf_t b = JF_BUF_INIT;
	struct stat st;
	int r;

	if ((r = find_compiler(compiler, found, sizeof(found))) != 0 ||
	    realpath(found, real) == NULL || stat(real, &st) != 0)
		return JF_ERR_NOTFOUND;
	jf_strlcpy(dir, found, sizeof(dir));
	if ((sl = strrchr(dir, '/')) != NULL)
		*sl = '\0';
	if (has_config(dir, why, whylen))
		return JF_ERR_UNSUPPORTED;
	jf_strlcpy(dir, real, sizeof(dir));
	if ((sl = strrchr(dir, '/')) != NULL)
		*sl = '\0';
	if (has_config(dir, why, whylen))
		return JF_ERR_UNSUPPORTED;
	ident_stat(&b, real, &st);
	ident_libs(&b, dir);
	jf_buf_puts(&b, jf_compiler_id());
	jf_buf_putc(&b, '\0');
	if (jf_buf_error(&b) != 0 || b.len > len) {
		jf_buf_free(&b);
		return JF_ERR_TOOBIG;
	}
	memcpy(out, b.p, b.len);
	jf_buf_free(&b);
	return 0;
}

/* A field: its length (8 bytes, big-endian), then its bytes. */
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

/* Each variable of env_keyed as set, or marked unset. */
static void
key_env(EVP_MD_CTX *h)
{
	const char *v;
	size_t i;

	for (i = 0; env_keyed[i] != NULL; i++) {
		v = getenv(env_keyed[i]);
		kh_str(h, env_keyed[i]);
		kh_str(h, v != NULL ? "=" : "unset");
		if (v != NULL)
			kh_str(h, v);
	}
}

/* The arguments: everything but the output, which matters only for a
 * depfile's target; after preprocessing (pp), not what only reaches the
 * preprocessor or names files (the preprocessed text has those). */
static void
key_args(EVP_MD_CTX *h, const jf_cc_args_t *a, const char *cwd, int pp)
{
	size_t i;

	for (i = 0; i < a->argc; i++) {
		jf_cc_argkind_t k = a->kind[i];
		uint8_t kb = (uint8_t)k;

		if (k == JF_CC_ARG_OUT && !a->has_dep)
			continue;
		if (pp && (k == JF_CC_ARG_CPP || k == JF_CC_ARG_DEP || k == JF_CC_ARG_OUT))
			continue;
		kh_field(h, &kb, 1);
		kh_str(h, a->keytext[i] != NULL ? a->keytext[i] : a->argv[i]);
	}
	/* debug info records the working directory unless it is mapped */
	kh_str(h, a->has_debug && !a->debug_mapped ? cwd : "");
}

static void
key_make(const char *tag, const jf_cc_args_t *a, const char *ident, const char *cwd,
    int pp, const uint8_t sha[32], jf_key_t *out)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned n = 0;

	if (h == NULL)
		abort();        /* the CLI's OOM policy */
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	kh_str(h, tag);
	kh_str(h, ident);
	key_env(h);
	key_args(h, a, cwd, pp);
	kh_field(h, sha, 32);
	EVP_DigestFinal_ex(h, out->b, &n);
	EVP_MD_CTX_free(h);
}

void
jf_cc_key_direct(const jf_cc_args_t *a, const char *ident, const char *cwd,
    const uint8_t src_sha[32], jf_key_t *out)
{
	key_make("jitfarm-cc/direct/2", a, ident, cwd, 0, src_sha, out);
}

void
jf_cc_key_pp(const jf_cc_args_t *a, const char *ident, const char *cwd,
    const uint8_t pp_sha[32], jf_key_t *out)
{
	key_make("jitfarm-cc/pp/2", a, ident, cwd, 1, pp_sha, out);
}

void
jf_cc_key_object(const uint8_t *obj, size_t len, jf_key_t *out)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned n = 0;

	if (h == NULL)
		abort();
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	kh_str(h, "jitfarm-cc/object/1");
	kh_field(h, obj, len);
	EVP_DigestFinal_ex(h, out->b, &n);
	EVP_MD_CTX_free(h);
}
