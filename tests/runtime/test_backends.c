/*
 * test_backends.c - preload and push from every store backend, with the
 * real servers: redis-server (a Redis Stream as the feed), nginx WebDAV
 * and s3rver (each started by the test on a free loopback port).
 *
 * For each: three programs are in the store before the runtime opens and
 * are in its first map; a fourth is put while it runs and reaches the map
 * without a restart.
 */
#include "rt_helpers.h"
#include "servers.h"
#include "support.h"

static void
preload_and_push(const char *store_url)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	jf_decision_t d;
	uint8_t id[32];
	unsigned k;

	for (k = 0; k < 3; k++)
		put_prog(store_url, k, RT_NS, NULL);
	c = rt_config(store_url, "none");
	/* only the feed may bring the fourth: no on-demand fetch after misses */
	jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, 1 << 24);
	rt = rt_open(c);
	for (k = 0; k < 3; k++) {
		prog_id(k, id);
		d = jf_lookup(rt, id);
		ck_assert_msg(d.fn != NULL, "%s: program %u not preloaded", store_url, k);
		ck_assert_int_eq(((entry_fn)d.fn)(2), 3 * (int64_t)(k + 2));
	}
	ck_assert_uint_eq(rt_stats(rt).preloaded, 3);
	put_prog(store_url, 3, RT_NS, NULL);
	prog_id(3, id);
	d = wait_compiled(rt, id, 15000);
	ck_assert_msg(d.fn != NULL, "%s: pushed program never arrived", store_url);
	ck_assert_int_eq(((entry_fn)d.fn)(2), 3 * 5);
	ck_assert_uint_eq(rt_stats(rt).pushed, 1);
	jf_runtime_close(rt);
	jf_config_free(c);
}

START_TEST(test_redis)
{
	jft_server_t *s = jft_redis_start(NULL);

	ck_assert_int_eq(jf_llvm_init(), 0);
	preload_and_push(s->url);
	jft_server_free(s);
}
END_TEST

START_TEST(test_http)
{
	jft_server_t *s = jft_nginx_start(NULL);

	ck_assert_int_eq(jf_llvm_init(), 0);
	preload_and_push(s->url);
	jft_server_free(s);
}
END_TEST

START_TEST(test_s3)
{
	jft_server_t *s = jft_s3rver_start(NULL);

	jft_s3_env();
	ck_assert_int_eq(jf_llvm_init(), 0);
	preload_and_push(s->url);
	jft_server_free(s);
}
END_TEST

static Suite *
suite(void)
{
	const TTest *tests[] = {
		test_redis, test_http, test_s3, NULL
	};
	TCase *tc;
	Suite *s = jft_suite("backends", 120, tests, &tc);

	return s;
}

int
main(void)
{
	return jft_suite_run(suite()) != 0;
}
