/*
 * fuzz_common.c - what the harnesses share (fuzz.h): the Ed25519 key pair
 * and the blob properties that fuzz_blob and fuzz_manifest both check.
 *
 * The key pair is made from a fixed seed, so the signed seeds gen_corpus.c
 * writes verify in the harnesses and the fuzzer starts from inputs that
 * reach the signature check's success path. Each key is made once and kept
 * for the life of the process.
 */
#include <stdint.h>
#include <openssl/evp.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/key.h"

#include "fuzz.h"

static const uint8_t seed[32] = {
	0x6a, 0x69, 0x74, 0x66, 0x61, 0x72, 0x6d, 0x2d, 0x66, 0x75, 0x7a, 0x7a,
	0x2d, 0x73, 0x65, 0x65, 0x64, 0x2d, 0x6e, 0x6f, 0x74, 0x2d, 0x61, 0x2d,
	0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x21, 0x21
};

void *
fz_sign_key(void)
{
	static EVP_PKEY *k;

	if (k == NULL)
		k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	return k;
}

void *
fz_verify_key(void)
{
	static EVP_PKEY *k;
	uint8_t pub[32];
	size_t n = sizeof(pub);

	if (k == NULL && fz_sign_key() != NULL &&
	    EVP_PKEY_get_raw_public_key(fz_sign_key(), pub, &n) == 1)
		k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, n);
	return k;
}

static int
str_eq(const char *a, const char *b)
{
	/* the encoder writes a missing string as an empty one */
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int
fz_manifest_eq(const jf_manifest_t *a, const jf_manifest_t *b)
{
	size_t i;

	if (memcmp(&a->key, &b->key, sizeof(a->key)) != 0 ||
	    memcmp(&a->program_id, &b->program_id, sizeof(a->program_id)) != 0 ||
	    !str_eq(a->ns, b->ns) ||
	    strcmp(a->target.triple, b->target.triple) != 0 ||
	    strcmp(a->target.cpu, b->target.cpu) != 0 ||
	    strcmp(a->target.features, b->target.features) != 0 ||
	    a->target.opt != b->target.opt || !str_eq(a->compiler, b->compiler) ||
	    a->nsymbols != b->nsymbols || a->payload_size != b->payload_size ||
	    memcmp(a->payload_sha256, b->payload_sha256, 32) != 0 ||
	    a->compile_ns != b->compile_ns || a->created_ms != b->created_ms ||
	    !str_eq(a->producer, b->producer))
		return 0;
	for (i = 0; i < a->nsymbols; i++)
		if (strcmp(a->symbols[i], b->symbols[i]) != 0)
			return 0;
	return 1;
}

void
fz_blob_check(const uint8_t *data, size_t size)
{
	jf_artifact_t a, b, v;
	jf_manifest_t m, c;
	uint8_t sha[32], *enc = NULL;
	size_t enclen = 0;
	char err[256];
	int rd, rp, rv;

	rd = jf_blob_decode(data, size, NULL, &a, err, sizeof(err));
	rp = jf_blob_peek(data, size, &m, err, sizeof(err));
	rv = jf_blob_decode(data, size, fz_verify_key(), &v, err, sizeof(err));
	/* peek is decode without the payload copy: the same verdict */
	FZ_CHECK(rd == rp);
	/* a blob that verifies decodes without a key too, and was signed */
	FZ_CHECK(rv != 0 || (rd == 0 && v.signed_));
	if (rv == 0)
		jf_artifact_free(&v);
	if (rp == 0) {
		FZ_CHECK(fz_manifest_eq(&a.m, &m));
		jf_manifest_free(&m);
	}
	if (rd != 0)
		return;
	/* what a decoded artifact promises its users */
	FZ_CHECK(a.payload_len == a.m.payload_size);
	jf_sha256(a.payload, a.payload_len, sha);
	FZ_CHECK(memcmp(sha, a.m.payload_sha256, 32) == 0);
	FZ_CHECK(jf_opt_valid(a.m.target.opt));
	FZ_CHECK(a.m.ns == NULL || strlen(a.m.ns) < JF_NS_MAX);
	FZ_CHECK(a.m.nsymbols <= JF_BLOB_MAX_SYMBOLS);
	FZ_CHECK(jf_manifest_copy(&c, &a.m) == 0);
	FZ_CHECK(fz_manifest_eq(&a.m, &c));
	jf_manifest_free(&c);
	/* what decodes re-encodes, and decodes again to the same thing,
	 * signed or not */
	FZ_CHECK(jf_blob_encode(&a, a.signed_ ? fz_sign_key() : NULL, &enc, &enclen) == 0);
	rd = jf_blob_decode(enc, enclen, a.signed_ ? fz_verify_key() : NULL, &b,
	    err, sizeof(err));
	if (rd != 0)
		fprintf(stderr, "re-encoded blob does not decode: %s\n", err);
	FZ_CHECK(rd == 0);
	FZ_CHECK(fz_manifest_eq(&a.m, &b.m));
	FZ_CHECK(b.payload_len == a.payload_len &&
	    memcmp(b.payload, a.payload, a.payload_len) == 0);
	jf_artifact_free(&b);
	fz_free(enc);
	jf_artifact_free(&a);
}
