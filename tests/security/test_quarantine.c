/*
 * test_quarantine.c - targeted quarantine, against the real master on
 * loopback: a request that crashes workers (the test build's fault
 * marker) under a victim's program id quarantines only its own IR; the
 * victim's real, different IR under that id still compiles.
 */
#define _GNU_SOURCE 1
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/key.h"
#include "master.h"
#include "support.h"

#include "http.h"

static const char crash_ll[] =
    "; jitfarm-test-fault: segv\n"
    "define i32 @victim_add(i32 %a, i32 %b) {\n"
    "  %c = add i32 %a, %b\n"
    "  ret i32 %c\n"
    "}\n";

START_TEST(t_targeted_quarantine)
{
	jft_master_t m;
	jft_master_opts_t o = { 0 };
	char url[8400], vid[JF_KEY_HEX_LEN + 1], why[512];
	jf_key_t k;
	jft_resp_t r;
	long st;

	/* an open master: the caller may name any id (as a publisher could) */
	ck_assert_msg(jft_master_start(&m, "m-quarantine", &o) == 0, "master did not start");
	ck_assert_int_eq(jf_sha256("victim program #2", 17, k.b), 0);
	jf_key_hex(&k, vid);
	snprintf(url, sizeof(url), "%s/v1/compile?namespace=evm&program=%s", m.url, vid);
	/* the crash and its retry quarantine the crashing IR */
	st = jft_http("POST", url, crash_ll, strlen(crash_ll), NULL, &r);
	ck_assert_msg(st == 422, "crash answered %ld: %s", st, r.body);
	jft_resp_free(&r);
	st = jft_http("POST", url, crash_ll, strlen(crash_ll), NULL, &r);
	ck_assert_msg(st == 422 && strstr(r.body, "quarantin") != NULL,
	    "the crashing IR is quarantined: %ld %s", st, r.body);
	jft_resp_free(&r);
	/* the victim's own IR under its id is not refused */
	st = jft_http("POST", url, jft_victim_ll, strlen(jft_victim_ll), NULL, &r);
	ck_assert_msg(st == 200, "the victim's compile answered %ld: %s", st, r.body);
	jft_resp_free(&r);
	/* nor under another id, nor without one */
	snprintf(url, sizeof(url), "%s/v1/compile?namespace=evm", m.url);
	st = jft_http("POST", url, jft_victim_ll, strlen(jft_victim_ll), NULL, &r);
	ck_assert_msg(st == 200, "answered %ld: %s", st, r.body);
	jft_resp_free(&r);
	ck_assert_msg(jft_master_stop(&m, why, sizeof(why)) == 0, "%s", why);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		t_targeted_quarantine, NULL
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);

	return jft_suite_run(jft_suite("quarantine", 120, tests, NULL)) != 0;
}
