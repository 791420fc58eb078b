/*
 * sign.c - Ed25519 keys for artifact signing, through OpenSSL's EVP.
 *
 * The master holds the private key and signs every blob it stores; nodes
 * hold only the public key and refuse anything unsigned or badly signed,
 * so a writable store is not a way to run code on every node. Keys are
 * PEM files (PKCS#8 private, SubjectPublicKeyInfo public), the formats
 * `openssl genpkey -algorithm ed25519` also writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "blob.h"
#include "util.h"

static int
load_pem(const char *path, int private_, void **out, char *err, size_t errlen)
{
	FILE *f;
	EVP_PKEY *k;

	*out = NULL;
	if ((f = fopen(path, "re")) == NULL)
		return jf_seterr(err, errlen, JF_ERR_IO, "%s: %s", path, strerror(errno));
	k = private_ ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
	    : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		return jf_seterr(err, errlen, JF_ERR_FORMAT, "%s: not a PEM %s key",
		    path, private_ ? "private" : "public");
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		return jf_seterr(err, errlen, JF_ERR_FORMAT, "%s: not an Ed25519 key", path);
	}
	*out = k;
	return 0;
}

int
jf_sign_load_private(const char *path, void **out, char *err, size_t errlen)
{
	return load_pem(path, 1, out, err, errlen);
}

int
jf_sign_load_public(const char *path, void **out, char *err, size_t errlen)
{
	return load_pem(path, 0, out, err, errlen);
}

void
jf_key_free_pkey(void *pkey)
{
	EVP_PKEY_free(pkey);
}

static int
write_pem(const char *path, EVP_PKEY *k, int private_, char *err, size_t errlen)
{
	FILE *f;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, private_ ? 0600 : 0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return jf_seterr(err, errlen, JF_ERR_IO, "%s: %s", path, strerror(errno));
	}
	ok = private_ ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
	    : PEM_write_PUBKEY(f, k);
	if (fclose(f) != 0)
		ok = 0;
	if (!ok)
		return jf_seterr(err, errlen, JF_ERR_IO, "%s: cannot write key", path);
	return 0;
}

int
jf_sign_keygen(const char *priv_path, const char *pub_path, char *err, size_t errlen)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *k = NULL;
	int r;

	if ((ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) == NULL)
		return JF_ERR_NOMEM;
	if (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &k) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "Ed25519 key generation failed");
	}
	EVP_PKEY_CTX_free(ctx);
	r = write_pem(priv_path, k, 1, err, errlen);
	if (r == 0)
		r = write_pem(pub_path, k, 0, err, errlen);
	EVP_PKEY_free(k);
	return r;
}

/* Internal to blob.c: sign or verify msg with an Ed25519 key. */
int jf_sign_raw(void *key, const uint8_t *msg, size_t len, uint8_t sig[JF_SIG_LEN]);
int jf_verify_raw(void *key, const uint8_t *msg, size_t len, const uint8_t sig[JF_SIG_LEN]);

int
jf_sign_raw(void *key, const uint8_t *msg, size_t len, uint8_t sig[JF_SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = JF_SIG_LEN;
	int r = JF_ERR_SIGNATURE;

	if (ctx == NULL)
		return JF_ERR_NOMEM;
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == JF_SIG_LEN)
		r = 0;
	EVP_MD_CTX_free(ctx);
	return r;
}

int
jf_verify_raw(void *key, const uint8_t *msg, size_t len, const uint8_t sig[JF_SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = JF_ERR_SIGNATURE;

	if (ctx == NULL)
		return JF_ERR_NOMEM;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestVerify(ctx, sig, JF_SIG_LEN, msg, len) == 1)
		r = 0;
	EVP_MD_CTX_free(ctx);
	return r;
}
