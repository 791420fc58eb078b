/*
 * test_identity.c - program identity a compile client cannot forge
 * (docs/security.md, "Program identity"), against the real master on
 * loopback: the poisoning attack, the DELETE-and-republish route, and
 * namespace-limited publishers.
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
#include "common/util.h"
#include "master.h"
#include "support.h"

#include "http.h"

static const char evil_ll[] =
    "define i32 @evil_sub(i32 %a, i32 %b) {\n"
    "  %c = sub i32 %a, %b\n"
    "  ret i32 %c\n"
    "}\n";

static const char toks[] =
    "compiletoken1 compile builder\n"
    "publishevm01 publish:evm evm-publisher\n"
    "compileevm01 compile:evm evm-builder\n"
    "readtoken123 read reader\n"
    "admintoken123 admin ops\n";

static jft_master_t m;

static void
start(void)
{
	const char *extra[3] = { "--tokens", NULL, NULL };
	jft_master_opts_t o = { .args = extra };
	char path[4200];
	char *d = jft_tmpdir("idtok");

	snprintf(path, sizeof(path), "%s/tokens", d);
	ck_assert_int_eq(jft_write(path, toks, strlen(toks)), 0);
	extra[1] = path;
	ck_assert_msg(jft_master_start(&m, "m-identity", &o) == 0, "master did not start");
	free(d);        /* leaked dir is small; the master has read the file */
}

static void
stop(void)
{
	char why[512];

	ck_assert_msg(jft_master_stop(&m, why, sizeof(why)) == 0, "%s", why);
}

/* The victim's host-chosen program id. */
static void
victim_id(char hex[JF_KEY_HEX_LEN + 1])
{
	jf_key_t k;

	ck_assert_int_eq(jf_sha256("victim program #1", 17, k.b), 0);
	jf_key_hex(&k, hex);
}

static long
compile(const char *token, const char *ns, const char *program, const char *ll,
    jft_resp_t *r)
{
	char url[8400];

	snprintf(url, sizeof(url), "%s/v1/compile?namespace=%s%s%s", m.url, ns,
	    program != NULL ? "&program=" : "", program != NULL ? program : "");
	return jft_http("POST", url, ll, strlen(ll), token, r);
}

/* The store holds no entry at all. */
static int
store_empty(void)
{
	char url[4400];
	jft_resp_t r;
	int empty;

	snprintf(url, sizeof(url), "%s/v1/artifacts", m.url);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, "readtoken123", &r), 200);
	empty = r.len == 0 || strspn(r.body, " \n[]{}") == r.len ||
	    strstr(r.body, "\"artifacts\":[]") != NULL;
	jft_resp_free(&r);
	return empty;
}

/* The answer holds the victim's code and not the attacker's. */
static void
assert_victim_code(const jft_resp_t *r)
{
	jf_artifact_t a;
	char err[256];
	size_t i;
	int victim = 0;

	ck_assert_msg(jf_blob_decode((const uint8_t *)r->body, r->len, NULL, &a, err,
	    sizeof(err)) == 0, "%s", err);
	for (i = 0; i < a.m.nsymbols; i++) {
		ck_assert_msg(strcmp(a.m.symbols[i], "evil_sub") != 0, "the attacker's code was served");
		victim |= strcmp(a.m.symbols[i], "victim_add") == 0;
	}
	ck_assert(victim);
	jf_artifact_free(&a);
}

START_TEST(t_poisoning_refused)
{
	char vid[JF_KEY_HEX_LEN + 1], own[JF_KEY_HEX_LEN + 1];
	jf_key_t k;
	jft_resp_t r;

	start();
	victim_id(vid);
	/* a compile-only client sends its IR under the victim's id */
	ck_assert_int_eq(compile("compiletoken1", "evm", vid, evil_ll, &r), 403);
	ck_assert_msg(strstr(r.body, "publish") != NULL, "the 403 names the scope: %s", r.body);
	jft_resp_free(&r);
	ck_assert_int_eq(compile("compileevm01", "evm", vid, evil_ll, &r), 403);
	jft_resp_free(&r);
	ck_assert(store_empty());
	/* its own IR under its own content id, or without an id: fine */
	ck_assert_int_eq(jf_program_id_from_ir(evil_ll, strlen(evil_ll), &k), 0);
	jf_key_hex(&k, own);
	ck_assert_int_eq(compile("compiletoken1", "evm", own, evil_ll, &r), 200);
	jft_resp_free(&r);
	ck_assert_int_eq(compile("compiletoken1", "evm", NULL, evil_ll, &r), 200);
	jft_resp_free(&r);
	/* the publisher binds the victim's id: a miss (nothing was planted),
	 * and the consumer gets the victim's code */
	ck_assert_int_eq(compile("publishevm01", "evm", vid, jft_victim_ll, &r), 200);
	ck_assert_msg(strstr(r.headers, "X-Jitfarm-Cache: miss") != NULL, "%s", r.headers);
	assert_victim_code(&r);
	jft_resp_free(&r);
	/* the attacker asking again still cannot get anything for that id */
	ck_assert_int_eq(compile("compiletoken1", "evm", vid, evil_ll, &r), 403);
	jft_resp_free(&r);
	stop();
}
END_TEST

START_TEST(t_delete_and_republish)
{
	char vid[JF_KEY_HEX_LEN + 1], key[JF_KEY_HEX_LEN + 1], url[4400];
	const char *h;
	jft_resp_t r;

	start();
	victim_id(vid);
	ck_assert_int_eq(compile("publishevm01", "evm", vid, jft_victim_ll, &r), 200);
	ck_assert((h = strstr(r.headers, "X-Jitfarm-Key: ")) != NULL);
	memcpy(key, h + 15, JF_KEY_HEX_LEN);
	key[JF_KEY_HEX_LEN] = '\0';
	jft_resp_free(&r);
	snprintf(url, sizeof(url), "%s/v1/artifacts/%s", m.url, key);
	ck_assert_int_lt(jft_http("DELETE", url, NULL, 0, "admintoken123", &r), 300);
	jft_resp_free(&r);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, "readtoken123", &r), 404);
	jft_resp_free(&r);
	/* the id is free again: a compile client still cannot bind it */
	ck_assert_int_eq(compile("compiletoken1", "evm", vid, evil_ll, &r), 403);
	jft_resp_free(&r);
	ck_assert_int_eq(jft_http("GET", url, NULL, 0, "readtoken123", &r), 404);
	jft_resp_free(&r);
	ck_assert(store_empty());
	/* the publisher republishes; the entry holds the victim's code */
	ck_assert_int_eq(compile("publishevm01", "evm", vid, jft_victim_ll, &r), 200);
	assert_victim_code(&r);
	jft_resp_free(&r);
	stop();
}
END_TEST

START_TEST(t_publisher_limited_to_namespace)
{
	char vid[JF_KEY_HEX_LEN + 1];
	jft_resp_t r;

	start();
	victim_id(vid);
	/* publish:evm cannot bind an id in another namespace */
	ck_assert_int_eq(compile("publishevm01", "wasm", vid, evil_ll, &r), 403);
	ck_assert_msg(strstr(r.body, "publish") != NULL && strstr(r.body, "wasm") != NULL,
	    "%s", r.body);
	jft_resp_free(&r);
	/* nor, in another namespace, compile at all (publish:evm is only evm) */
	ck_assert_int_eq(compile("publishevm01", "wasm", NULL, evil_ll, &r), 403);
	jft_resp_free(&r);
	/* compile:evm is limited the same way */
	ck_assert_int_eq(compile("compileevm01", "wasm", NULL, evil_ll, &r), 403);
	ck_assert_msg(strstr(r.body, "compile") != NULL, "%s", r.body);
	jft_resp_free(&r);
	ck_assert(store_empty());
	ck_assert_int_eq(compile("compileevm01", "evm", NULL, evil_ll, &r), 200);
	jft_resp_free(&r);
	/* a namespace-limited token has none of the global read routes */
	{
		char url[4400];

		snprintf(url, sizeof(url), "%s/v1/artifacts", m.url);
		ck_assert_int_eq(jft_http("GET", url, NULL, 0, "compileevm01", &r), 403);
		jft_resp_free(&r);
	}
	/* admin implies publish everywhere; read cannot compile */
	ck_assert_int_eq(compile("admintoken123", "wasm", vid, jft_victim_ll, &r), 200);
	jft_resp_free(&r);
	ck_assert_int_eq(compile("readtoken123", "evm", NULL, jft_victim_ll, &r), 403);
	jft_resp_free(&r);
	ck_assert_int_eq(compile("unknowntoken9", "evm", NULL, jft_victim_ll, &r), 401);
	jft_resp_free(&r);
	stop();
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		t_poisoning_refused, t_delete_and_republish,
		t_publisher_limited_to_namespace, NULL
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);

	return jft_suite_run(jft_suite("identity", 120, tests, NULL)) != 0;
}
