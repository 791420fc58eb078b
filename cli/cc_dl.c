/*
 * cc_dl.c - libcurl, hiredis and libcrypto for the jitfarm-cc binary,
 * loaded only when something needs them.
 *
 * A cache hit on a file:// store needs none of them, yet linking them
 * costs every process their loading: libcurl alone brings in about 25
 * shared libraries (GnuTLS, Kerberos, LDAP, libssh2, ...), and libcrypto
 * with its first SHA-256 costs about 6 ms a process here (its provider
 * set-up), more than half a ccache hit. jitfarm-cc links this file
 * instead: each function the store backends and the signing code call is
 * defined here and forwards to the real one, found with dlopen/dlsym at
 * its first call. When a library is missing, the calls fail the way the
 * library reports failure (NULL, an error code), the store does not
 * open, and the compile still runs.
 *
 * SHA-256, the one digest the key, the blobs and the entries use, is not
 * forwarded but computed here (cc_sha256.c): EVP_sha256() returns a
 * token this file knows, and the EVP_Digest* calls on it never reach
 * libcrypto. An EVP_MD_CTX made here carries a real one, made on demand,
 * for the Ed25519 signing calls, which do go to libcrypto.
 *
 * Only jitfarm-cc links it (the Makefile keeps it out of the jitfarm
 * binary). The signatures come from the libraries' own headers, so the
 * compiler checks that each forwarder matches. curl_easy_setopt and
 * curl_easy_getinfo are variadic: their one argument's type follows from
 * the option number, as libcurl itself reads it.
 */
#define CURL_DISABLE_TYPECHECK 1

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "cli/cc_sha256.h"

static void *curl_lib, *redis_lib, *crypto_lib;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT, redis_once = PTHREAD_ONCE_INIT;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void *
lib_open(const char *const *names)
{
	void *h = NULL;

	for (; *names != NULL && h == NULL; names++)
		h = dlopen(*names, RTLD_NOW | RTLD_LOCAL);
	return h;
}

static void
curl_load(void)
{
	static const char *const names[] = { "libcurl.so.4", "libcurl-gnutls.so.4", NULL };

	curl_lib = lib_open(names);
}

static void
redis_load(void)
{
	static const char *const names[] = { "libhiredis.so.0.14", "libhiredis.so.1.1.0",
		"libhiredis.so.1.0.0", "libhiredis.so", NULL };

	redis_lib = lib_open(names);
}

static void
crypto_load(void)
{
	static const char *const names[] = { "libcrypto.so.3", NULL };
	int (*init)(uint64_t, const OPENSSL_INIT_SETTINGS *);

	if ((crypto_lib = lib_open(names)) == NULL)
		return;
	/* signing needs no configuration file either */
	if ((*(void **)&init = dlsym(crypto_lib, "OPENSSL_init_crypto")) != NULL)
		(void)init(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

static void *
crypto_sym(const char *name)
{
	pthread_once(&crypto_once, crypto_load);
	return crypto_lib != NULL ? dlsym(crypto_lib, name) : NULL;
}

static void *
curl_sym(const char *name)
{
	pthread_once(&curl_once, curl_load);
	return curl_lib != NULL ? dlsym(curl_lib, name) : NULL;
}

static void *
redis_sym(const char *name)
{
	pthread_once(&redis_once, redis_load);
	return redis_lib != NULL ? dlsym(redis_lib, name) : NULL;
}

/* Define f (returning type ret, args params, called with args) as a
 * forwarder to the library's own f; fail is what it returns when the
 * library or the symbol is missing. */
#define FWD(lib, ret, f, params, args, fail)                                    \
	ret f params                                                            \
	{                                                                       \
		static ret (*real) params;                                      \
		if (real == NULL)                                               \
			*(void **)&real = lib##_sym(#f);                        \
		return real != NULL ? real args : fail;                         \
	}
#define FWDV(lib, f, params, args)                                              \
	void f params                                                           \
	{                                                                       \
		static void (*real) params;                                     \
		if (real == NULL)                                               \
			*(void **)&real = lib##_sym(#f);                        \
		if (real != NULL)                                               \
			real args;                                              \
	}

FWD(curl, CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)
FWD(curl, CURL *, curl_easy_init, (void), (), NULL)
FWD(curl, CURL *, curl_easy_duphandle, (CURL *h), (h), NULL)
FWD(curl, CURLcode, curl_easy_perform, (CURL *h), (h), CURLE_FAILED_INIT)
FWDV(curl, curl_easy_cleanup, (CURL *h), (h))
FWDV(curl, curl_easy_reset, (CURL *h), (h))
FWD(curl, const char *, curl_easy_strerror, (CURLcode c), (c), "libcurl is not available")
FWD(curl, char *, curl_easy_escape, (CURL *h, const char *s, int n), (h, s, n), NULL)
FWDV(curl, curl_free, (void *p), (p))
FWD(curl, time_t, curl_getdate, (const char *p, const time_t *u), (p, u), (time_t)-1)
FWD(curl, struct curl_slist *, curl_slist_append, (struct curl_slist *l, const char *s),
    (l, s), NULL)
FWDV(curl, curl_slist_free_all, (struct curl_slist *l), (l))
FWD(curl, CURLM *, curl_multi_init, (void), (), NULL)
FWD(curl, CURLMcode, curl_multi_add_handle, (CURLM *m, CURL *h), (m, h), CURLM_INTERNAL_ERROR)
FWD(curl, CURLMcode, curl_multi_remove_handle, (CURLM *m, CURL *h), (m, h),
    CURLM_INTERNAL_ERROR)
FWD(curl, CURLMcode, curl_multi_perform, (CURLM *m, int *running), (m, running),
    CURLM_INTERNAL_ERROR)
FWD(curl, CURLMcode, curl_multi_poll, (CURLM *m, struct curl_waitfd extra[], unsigned int n,
    int timeout_ms, int *numfds), (m, extra, n, timeout_ms, numfds), CURLM_INTERNAL_ERROR)
FWD(curl, CURLMcode, curl_multi_cleanup, (CURLM *m), (m), CURLM_INTERNAL_ERROR)
FWD(curl, CURLMsg *, curl_multi_info_read, (CURLM *m, int *left), (m, left), NULL)
FWD(curl, CURLU *, curl_url, (void), (), NULL)
FWDV(curl, curl_url_cleanup, (CURLU *u), (u))
FWD(curl, CURLUcode, curl_url_get, (CURLU *u, CURLUPart what, char **part, unsigned int flags),
    (u, what, part, flags), CURLUE_OUT_OF_MEMORY)
FWD(curl, CURLUcode, curl_url_set, (CURLU *u, CURLUPart what, const char *part,
    unsigned int flags), (u, what, part, flags), CURLUE_OUT_OF_MEMORY)
FWD(curl, const char *, curl_url_strerror, (CURLUcode c), (c), "libcurl is not available")

CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	static CURLcode (*real)(CURL *, CURLoption, ...);
	CURLcode r = CURLE_FAILED_INIT;
	va_list ap;

	if (real == NULL)
		*(void **)&real = curl_sym("curl_easy_setopt");
	if (real == NULL)
		return r;
	va_start(ap, opt);
	/* the option number's range says the argument's type (curl.h's
	 * CURLOPTTYPE_* bases) */
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		r = real(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		r = real(h, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		r = real(h, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		r = real(h, opt, va_arg(ap, curl_off_t));
	else
		r = real(h, opt, va_arg(ap, void *));
	va_end(ap);
	return r;
}

CURLcode
curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	static CURLcode (*real)(CURL *, CURLINFO, ...);
	CURLcode r = CURLE_FAILED_INIT;
	va_list ap;

	if (real == NULL)
		*(void **)&real = curl_sym("curl_easy_getinfo");
	if (real == NULL)
		return r;
	va_start(ap, info);
	r = real(h, info, va_arg(ap, void *));  /* always a pointer to the result */
	va_end(ap);
	return r;
}

FWD(redis, redisContext *, redisConnectWithTimeout, (const char *ip, int port,
    const struct timeval tv), (ip, port, tv), NULL)
FWD(redis, int, redisEnableKeepAlive, (redisContext *c), (c), REDIS_ERR)
FWD(redis, int, redisSetTimeout, (redisContext *c, const struct timeval tv), (c, tv), REDIS_ERR)
FWDV(redis, redisFree, (redisContext *c), (c))
FWD(redis, int, redisGetReply, (redisContext *c, void **reply), (c, reply), REDIS_ERR)
FWD(redis, int, redisAppendCommandArgv, (redisContext *c, int argc, const char **argv,
    const size_t *argvlen), (c, argc, argv, argvlen), REDIS_ERR)
FWD(redis, void *, redisCommandArgv, (redisContext *c, int argc, const char **argv,
    const size_t *argvlen), (c, argc, argv, argvlen), NULL)
FWDV(redis, freeReplyObject, (void *reply), (reply))

/* --- libcrypto ------------------------------------------------------------------ */

/* Our EVP_MD_CTX: a SHA-256 state, or a real context for signing. */
struct evp_md_ctx_st {
	jf_cc_sha256_t sha;
	int sha_on;
	EVP_MD_CTX *real;
};

static const char sha256_token;         /* what EVP_sha256() returns here */
#define IS_SHA256(md) ((const void *)(md) == (const void *)&sha256_token)

const EVP_MD *
EVP_sha256(void)
{
	return (const EVP_MD *)(const void *)&sha256_token;
}

int
OPENSSL_init_crypto(uint64_t opts, const OPENSSL_INIT_SETTINGS *settings)
{
	(void)opts;
	(void)settings;
	return 1;       /* libcrypto, when it loads, is set up without its config */
}

EVP_MD_CTX *
EVP_MD_CTX_new(void)
{
	return calloc(1, sizeof(EVP_MD_CTX));
}

void
EVP_MD_CTX_free(EVP_MD_CTX *c)
{
	void (*real)(EVP_MD_CTX *);

	if (c == NULL)
		return;
	if (c->real != NULL && (*(void **)&real = crypto_sym("EVP_MD_CTX_free")) != NULL)
		real(c->real);
	free(c);
}

int
EVP_DigestInit_ex(EVP_MD_CTX *c, const EVP_MD *md, ENGINE *e)
{
	(void)e;
	if (!IS_SHA256(md))
		return 0;
	jf_cc_sha256_init(&c->sha);
	c->sha_on = 1;
	return 1;
}

int
EVP_DigestUpdate(EVP_MD_CTX *c, const void *p, size_t n)
{
	if (!c->sha_on)
		return 0;
	jf_cc_sha256_update(&c->sha, p, n);
	return 1;
}

int
EVP_DigestFinal_ex(EVP_MD_CTX *c, unsigned char *out, unsigned int *n)
{
	if (!c->sha_on)
		return 0;
	jf_cc_sha256_final(&c->sha, out);
	c->sha_on = 0;
	if (n != NULL)
		*n = 32;
	return 1;
}

int
EVP_Digest(const void *p, size_t len, unsigned char *out, unsigned int *n, const EVP_MD *md,
    ENGINE *e)
{
	jf_cc_sha256_t s;

	(void)e;
	if (!IS_SHA256(md))
		return 0;
	jf_cc_sha256_init(&s);
	jf_cc_sha256_update(&s, p, len);
	jf_cc_sha256_final(&s, out);
	if (n != NULL)
		*n = 32;
	return 1;
}

/* The real context behind c, and the real digest for md. */
static EVP_MD_CTX *
real_ctx(EVP_MD_CTX *c)
{
	EVP_MD_CTX *(*mk)(void);

	if (c->real == NULL && (*(void **)&mk = crypto_sym("EVP_MD_CTX_new")) != NULL)
		c->real = mk();
	return c->real;
}

static const EVP_MD *
real_md(const EVP_MD *md)
{
	const EVP_MD *(*sha)(void);

	if (md == NULL || !IS_SHA256(md))
		return md;
	return (*(void **)&sha = crypto_sym("EVP_sha256")) != NULL ? sha() : NULL;
}

/* The S3 signer's HMAC-SHA256 (store_sigv4.c), with the real digest. */
unsigned char *
HMAC(const EVP_MD *md, const void *key, int keylen, const unsigned char *d, size_t n,
    unsigned char *out, unsigned int *outlen)
{
	unsigned char *(*real)(const EVP_MD *, const void *, int, const unsigned char *, size_t,
	    unsigned char *, unsigned int *);
	const EVP_MD *rmd = real_md(md);

	if ((*(void **)&real = crypto_sym("HMAC")) == NULL || rmd == NULL)
		return NULL;
	return real(rmd, key, keylen, d, n, out, outlen);
}

/* Wiping secrets needs no library. */
void
OPENSSL_cleanse(void *p, size_t n)
{
	explicit_bzero(p, n);
}

int
EVP_DigestSignInit(EVP_MD_CTX *c, EVP_PKEY_CTX **pctx, const EVP_MD *md, ENGINE *e,
    EVP_PKEY *pkey)
{
	int (*real)(EVP_MD_CTX *, EVP_PKEY_CTX **, const EVP_MD *, ENGINE *, EVP_PKEY *);

	if ((*(void **)&real = crypto_sym("EVP_DigestSignInit")) == NULL || real_ctx(c) == NULL)
		return 0;
	return real(c->real, pctx, real_md(md), e, pkey);
}

int
EVP_DigestVerifyInit(EVP_MD_CTX *c, EVP_PKEY_CTX **pctx, const EVP_MD *md, ENGINE *e,
    EVP_PKEY *pkey)
{
	int (*real)(EVP_MD_CTX *, EVP_PKEY_CTX **, const EVP_MD *, ENGINE *, EVP_PKEY *);

	if ((*(void **)&real = crypto_sym("EVP_DigestVerifyInit")) == NULL || real_ctx(c) == NULL)
		return 0;
	return real(c->real, pctx, real_md(md), e, pkey);
}

int
EVP_DigestSign(EVP_MD_CTX *c, unsigned char *sig, size_t *siglen, const unsigned char *tbs,
    size_t tbslen)
{
	int (*real)(EVP_MD_CTX *, unsigned char *, size_t *, const unsigned char *, size_t);

	if (c->real == NULL || (*(void **)&real = crypto_sym("EVP_DigestSign")) == NULL)
		return 0;
	return real(c->real, sig, siglen, tbs, tbslen);
}

int
EVP_DigestVerify(EVP_MD_CTX *c, const unsigned char *sig, size_t siglen,
    const unsigned char *tbs, size_t tbslen)
{
	int (*real)(EVP_MD_CTX *, const unsigned char *, size_t, const unsigned char *, size_t);

	if (c->real == NULL || (*(void **)&real = crypto_sym("EVP_DigestVerify")) == NULL)
		return -1;
	return real(c->real, sig, siglen, tbs, tbslen);
}

FWD(crypto, EVP_PKEY_CTX *, EVP_PKEY_CTX_new_id, (int id, ENGINE *e), (id, e), NULL)
FWDV(crypto, EVP_PKEY_CTX_free, (EVP_PKEY_CTX *c), (c))
FWDV(crypto, EVP_PKEY_free, (EVP_PKEY *k), (k))
FWD(crypto, int, EVP_PKEY_get_id, (const EVP_PKEY *k), (k), 0)
FWD(crypto, int, EVP_PKEY_keygen_init, (EVP_PKEY_CTX *c), (c), 0)
FWD(crypto, int, EVP_PKEY_keygen, (EVP_PKEY_CTX *c, EVP_PKEY **k), (c, k), 0)
FWD(crypto, EVP_PKEY *, PEM_read_PUBKEY, (FILE *fp, EVP_PKEY **x, pem_password_cb *cb, void *u),
    (fp, x, cb, u), NULL)
FWD(crypto, EVP_PKEY *, PEM_read_PrivateKey, (FILE *fp, EVP_PKEY **x, pem_password_cb *cb,
    void *u), (fp, x, cb, u), NULL)
FWD(crypto, int, PEM_write_PUBKEY, (FILE *fp, const EVP_PKEY *x), (fp, x), 0)
FWD(crypto, int, PEM_write_PrivateKey, (FILE *fp, const EVP_PKEY *x, const EVP_CIPHER *enc,
    const unsigned char *kstr, int klen, pem_password_cb *cb, void *u),
    (fp, x, enc, kstr, klen, cb, u), 0)
