/*
 * cc_key.c - the keys of `jitfarm cc` (cc_key.h says what goes in).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "jitfarm/error.h"
#include "common/util.h"
#include "cli/cc_key.h"

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

int
jf_cc_compiler_ident(const char *compiler, char *out, size_t len)
{
	char found[PATH_MAX], real[PATH_MAX];
	const char *path = getenv("PATH"), *p;
	struct stat st;
	int ok = 0;

	if (strchr(compiler, '/') != NULL) {
		ok = jf_strlcpy(found, compiler, sizeof(found)) < sizeof(found);
	} else {
		for (p = path ? path : "/usr/bin:/bin"; p != NULL && !ok; ) {
			const char *e = strchr(p, ':');
			size_t l = e ? (size_t)(e - p) : strlen(p);

			if ((size_t)snprintf(found, sizeof(found), "%.*s/%s", (int)l, p,
			    compiler) < sizeof(found) && access(found, X_OK) == 0)
				ok = 1;
			p = e ? e + 1 : NULL;
		}
	}
	if (!ok || realpath(found, real) == NULL || stat(real, &st) != 0)
		return JF_ERR_NOTFOUND;
	snprintf(out, len, "%s|%lld|%lld.%09ld|%s", real, (long long)st.st_size,
	    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, jf_compiler_id());
	return 0;
}

/* The arguments: everything but the output, which matters only for a
 * depfile's target; after preprocessing (pp), not what only reaches the
 * preprocessor or names files. */
static void
key_args(EVP_MD_CTX *h, const jf_cc_args_t *a, const char *cwd, int pp)
{
	size_t i;

	for (i = 0; i < a->argc; i++) {
		jf_cc_argkind_t k = a->kind[i];
		uint8_t kb = (uint8_t)k;

		if (k == JF_CC_ARG_OUT && !a->has_dep)
			continue;
		if (pp && (k == JF_CC_ARG_CPP || k == JF_CC_ARG_DEP || k == JF_CC_ARG_OUT ||
		    k == JF_CC_ARG_SRC))
			continue;
		kh_field(h, &kb, 1);
		kh_str(h, a->keytext[i] != NULL ? a->keytext[i] : a->argv[i]);
	}
	/* debug info records the working directory unless it is mapped */
	if (a->has_debug && !a->debug_mapped)
		kh_str(h, cwd);
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
	key_args(h, a, cwd, pp);
	kh_field(h, sha, 32);
	EVP_DigestFinal_ex(h, out->b, &n);
	EVP_MD_CTX_free(h);
}

void
jf_cc_key_direct(const jf_cc_args_t *a, const char *ident, const char *cwd,
    const uint8_t src_sha[32], jf_key_t *out)
{
	key_make("jitfarm-cc/direct/1", a, ident, cwd, 0, src_sha, out);
}

void
jf_cc_key_pp(const jf_cc_args_t *a, const char *ident, const char *cwd,
    const uint8_t pp_sha[32], jf_key_t *out)
{
	key_make("jitfarm-cc/pp/1", a, ident, cwd, 1, pp_sha, out);
}
