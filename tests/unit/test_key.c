/*
 * test_key.c - the artifact-key contract: a pinned vector, feature
 * canonicalisation, and sensitivity to every field of the spec.
 */
#include <check.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/key.h"
#include "common/util.h"
#include "support.h"

static jf_target_t
vector_target(void)
{
	jf_target_t t;

	memset(&t, 0, sizeof(t));
	strcpy(t.triple, "x86_64-unknown-linux-gnu");
	strcpy(t.cpu, "x86-64-v2");
	strcpy(t.features, "+sse4.2,+popcnt");
	t.opt = '2';
	return t;
}

static jf_keyspec_t
vector_spec(const jf_target_t *t)
{
	jf_keyspec_t s;

	memset(&s, 0, sizeof(s));
	s.ns = "evm";
	memset(s.program_id.b, 0xab, sizeof(s.program_id.b));
	s.target = t;
	s.compiler = "jitfarm/0.1.0 llvm/19.1.7";       /* pinned, not this build's */
	return s;
}

/* The vector in docs/format.md; it was cross-checked with an independent
 * implementation of the encoding (a few lines of Python's hashlib). */
START_TEST(test_vector)
{
	jf_target_t t = vector_target();
	jf_keyspec_t s = vector_spec(&t);
	jf_key_t k;
	char hex[65];

	ck_assert_int_eq(jf_key_derive(&s, &k), 0);
	jf_key_hex(&k, hex);
	ck_assert_str_eq(hex, "ba175ef124cc95fd9f37d4594a8c56cd4aa0424abcc795517f86f8910e855acc");
}
END_TEST

START_TEST(test_feature_order_irrelevant)
{
	jf_target_t a = vector_target(), b = vector_target();
	jf_keyspec_t sa = vector_spec(&a), sb = vector_spec(&b);
	jf_key_t ka, kb;

	strcpy(a.features, "+a,+b");
	strcpy(b.features, " +b , +a ,");
	ck_assert_int_eq(jf_key_derive(&sa, &ka), 0);
	ck_assert_int_eq(jf_key_derive(&sb, &kb), 0);
	ck_assert(jf_key_eq(&ka, &kb));
}
END_TEST

START_TEST(test_canon)
{
	static const struct {
		const char *in, *out;
		int r;
	} cases[] = {
		{ "", "", 0 },
		{ "+b,+a", "+a,+b", 0 },
		{ "+avx2,-avx512f,+sse4.2", "+avx2,-avx512f,+sse4.2", 0 },
		{ "-x,+x", "+x", 0 },           /* last mention wins */
		{ ",,+a,,", "+a", 0 },
		{ "a", "", JF_ERR_INVAL },      /* no sign */
		{ "+", "", JF_ERR_INVAL },
		{ "+a b", "", JF_ERR_INVAL },
		{ "+a;rm", "", JF_ERR_INVAL },
	};
	char out[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = jf_features_canon(cases[i].in, out, sizeof(out));

		ck_assert_msg(r == cases[i].r, "case %zu '%s': %d", i, cases[i].in, r);
		if (r == 0)
			ck_assert_str_eq(out, cases[i].out);
	}
	ck_assert_int_eq(jf_features_canon("+abc,+def", out, 5), JF_ERR_TOOBIG);
}
END_TEST

/* Every field of the spec changes the key. */
START_TEST(test_every_field_counts)
{
	jf_target_t base = vector_target();
	jf_keyspec_t s0 = vector_spec(&base);
	jf_key_t k0, k;
	int field;

	ck_assert_int_eq(jf_key_derive(&s0, &k0), 0);
	for (field = 0; field < 10; field++) {
		jf_target_t t = vector_target();
		jf_keyspec_t s = vector_spec(&t);

		switch (field) {
		case 0: s.ns = "evm2"; break;
		case 1: s.program_id.b[31] ^= 1; break;
		case 2: strcpy(t.triple, "aarch64-unknown-linux-gnu"); break;
		case 3: strcpy(t.cpu, "x86-64-v3"); break;
		case 4: strcpy(t.features, "+sse4.2"); break;
		case 5: t.opt = '3'; break;
		case 6: s.pipeline = "default<O2>,licm"; break;
		case 7: s.reloc = "static"; break;
		case 8: s.code_model = "large"; break;
		case 9: s.compiler = "jitfarm/0.1.0 llvm/19.1.8"; break;
		}
		ck_assert_int_eq(jf_key_derive(&s, &k), 0);
		ck_assert_msg(!jf_key_eq(&k, &k0), "field %d does not reach the key", field);
	}
}
END_TEST

/* Length prefixes keep neighbouring fields apart. */
START_TEST(test_no_field_shift)
{
	jf_target_t a = vector_target(), b = vector_target();
	jf_keyspec_t sa = vector_spec(&a), sb = vector_spec(&b);
	jf_key_t ka, kb;

	strcpy(a.triple, "x86_64-unknown-linux-gnux");
	strcpy(a.cpu, "86-64-v2");
	strcpy(b.triple, "x86_64-unknown-linux-gnu");
	strcpy(b.cpu, "x86-64-v2");
	ck_assert_int_eq(jf_key_derive(&sa, &ka), 0);
	ck_assert_int_eq(jf_key_derive(&sb, &kb), 0);
	ck_assert(!jf_key_eq(&ka, &kb));
}
END_TEST

START_TEST(test_bad_specs)
{
	jf_target_t t = vector_target();
	jf_keyspec_t s = vector_spec(&t);
	jf_key_t k;

	t.opt = '4';
	ck_assert_int_eq(jf_key_derive(&s, &k), JF_ERR_INVAL);
	t = vector_target();
	t.cpu[0] = '\0';
	ck_assert_int_eq(jf_key_derive(&s, &k), JF_ERR_INVAL);
	s.target = NULL;
	ck_assert_int_eq(jf_key_derive(&s, &k), JF_ERR_INVAL);
}
END_TEST

START_TEST(test_hex)
{
	jf_key_t k, k2;
	char hex[65];
	int i;

	for (i = 0; i < 32; i++)
		k.b[i] = (uint8_t)(i * 7 + 1);
	jf_key_hex(&k, hex);
	ck_assert_uint_eq(strlen(hex), 64);
	ck_assert_int_eq(jf_key_from_hex(hex, &k2), 0);
	ck_assert(jf_key_eq(&k, &k2));
	hex[5] = 'g';
	ck_assert_int_eq(jf_key_from_hex(hex, &k2), JF_ERR_INVAL);
	ck_assert_int_eq(jf_key_from_hex("abcd", &k2), JF_ERR_INVAL);
}
END_TEST

START_TEST(test_errors_have_text)
{
	int e;

	for (e = 0; e > JF_ERR__LAST; e--) {
		ck_assert_str_ne(jf_strerror(e), "unknown error");
		ck_assert_str_ne(jf_errname(e), "unknown");
	}
	ck_assert_str_eq(jf_strerror(-1000), "unknown error");
	ck_assert_str_eq(jf_strerror(5), "unknown error");
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_vector, test_feature_order_irrelevant, test_canon,
		test_every_field_counts, test_no_field_shift, test_bad_specs, test_hex,
		test_errors_have_text, NULL
	};

	return jft_suite_run(jft_suite("key", 0, tests, NULL)) != 0;
}
