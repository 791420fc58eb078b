/*
 * test_unsigned.c - a signing master never serves a blob it did not
 * sign, against the real master on loopback: an unsigned blob, and one
 * signed by another key, planted under the right key in the master's own
 * store, are a miss; the compile answers with a freshly signed artifact
 * and the store holds that one afterwards.
 */
#define _GNU_SOURCE 1
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/key.h"
#include "common/mem.h"
#include "storage/store.h"
#include "master.h"
#include "support.h"

#include "http.h"


/* Re-encode blob signed with sk (NULL: unsigned) and put it under key. */
static void
plant(const char *store, const jf_key_t *key, const uint8_t *blob, size_t len, void *sk)
{
	jf_store_t *st = NULL;
	jf_artifact_t a;
	uint8_t *enc;
	size_t elen;
	char err[512];

	ck_assert_msg(jf_blob_decode(blob, len, NULL, &a, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(jf_blob_encode(&a, sk, &enc, &elen), 0);
	jf_artifact_free(&a);
	ck_assert_msg(jf_store_open(store, NULL, &st, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(jf_store_put(st, key, enc, elen), 0);
	jf_free(enc);
	jf_store_close(st);
}

/* The store's entry under key verifies with vk. */
static int
stored_verifies(const char *store, const jf_key_t *key, void *vk)
{
	jf_store_t *st = NULL;
	jf_artifact_t a;
	uint8_t *blob;
	size_t len;
	char err[512];
	int ok;

	ck_assert_msg(jf_store_open(store, NULL, &st, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(jf_store_get(st, key, &blob, &len), 0);
	ok = jf_blob_decode(blob, len, vk, &a, err, sizeof(err)) == 0;
	if (ok)
		jf_artifact_free(&a);
	jf_free(blob);
	jf_store_close(st);
	return ok;
}

START_TEST(t_unsigned_and_foreign_blobs_replaced)
{
	char *d = jft_tmpdir("unsigned");
	char priv[4200], pub[4200], opriv[4200], opub[4200], err[1024], url[4400], why[512];
	const char *extra[3] = { "--signing-key", NULL, NULL };
	jft_master_opts_t o = { .args = extra };
	void *vk = NULL, *other = NULL;
	jft_master_t m;
	jf_artifact_t a;
	jf_key_t key;
	jft_resp_t r;
	const char *h;
	int round;

	snprintf(priv, sizeof(priv), "%s/key.pem", d);
	snprintf(pub, sizeof(pub), "%s/key.pub", d);
	snprintf(opriv, sizeof(opriv), "%s/other.pem", d);
	snprintf(opub, sizeof(opub), "%s/other.pub", d);
	ck_assert_msg(jf_sign_keygen(priv, pub, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(jf_sign_keygen(opriv, opub, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(jf_sign_load_public(pub, &vk, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_sign_load_private(opriv, &other, err, sizeof(err)), 0);
	extra[1] = priv;
	ck_assert_msg(jft_master_start(&m, "m-unsigned", &o) == 0, "master did not start");
	snprintf(url, sizeof(url), "%s/v1/compile", m.url);
	ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), NULL, &r), 200);
	ck_assert((h = strstr(r.headers, "X-Jitfarm-Key: ")) != NULL);
	{
		char hex[JF_KEY_HEX_LEN + 1];

		memcpy(hex, h + 15, JF_KEY_HEX_LEN);
		hex[JF_KEY_HEX_LEN] = '\0';
		ck_assert_int_eq(jf_key_from_hex(hex, &key), 0);
	}
	for (round = 0; round < 2; round++) {
		/* round 0: an unsigned blob (a node without the key wrote it);
		 * round 1: one signed by a key this master does not trust */
		plant(m.store, &key, (const uint8_t *)r.body, r.len, round == 0 ? NULL : other);
		ck_assert(!stored_verifies(m.store, &key, vk));
		jft_resp_free(&r);
		ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), NULL, &r), 200);
		ck_assert_msg(strstr(r.headers, "X-Jitfarm-Cache: miss") != NULL,
		    "round %d: a planted blob was served as a hit: %s", round, r.headers);
		ck_assert_msg(jf_blob_decode((const uint8_t *)r.body, r.len, vk, &a, err,
		    sizeof(err)) == 0, "round %d: %s", round, err);
		ck_assert(a.signed_);
		jf_artifact_free(&a);
		ck_assert_msg(stored_verifies(m.store, &key, vk), "round %d: not replaced", round);
		/* and now it is a hit */
		jft_resp_free(&r);
		ck_assert_int_eq(jft_http("POST", url, jft_add_ll, strlen(jft_add_ll), NULL, &r), 200);
		ck_assert_msg(strstr(r.headers, "X-Jitfarm-Cache: hit") != NULL, "%s", r.headers);
	}
	jft_resp_free(&r);
	ck_assert_msg(jft_master_stop(&m, why, sizeof(why)) == 0, "%s", why);
	jf_key_free_pkey(vk);
	jf_key_free_pkey(other);
	jft_rmtree(d);
	free(d);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		t_unsigned_and_foreign_blobs_replaced, NULL
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);

	return jft_suite_run(jft_suite("unsigned", 120, tests, NULL)) != 0;
}
