/*
 * test_runtime.c - libjitfarm against a real file store and real LLVM:
 * preload, push, signatures, promotion at exactly the threshold with one
 * fetch per key under concurrent misses, compile-now, eviction that
 * really unmaps code, stats that add up under concurrency, and the
 * disabled runtime. Programs are compiled in-process by the engine and
 * put into the store, as a farm would; the tests that compile through a
 * farm are in test_farm.c.
 */
#include <errno.h>
#include <sys/mman.h>

#include "rt_helpers.h"
#include "runtime/publish.h"
#include "runtime/rt.h"
#include "common/mem.h"
#include "support.h"


START_TEST(test_preload)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	jf_stats_t st;
	unsigned k;

	for (k = 0; k < 5; k++)
		put_prog(rt_url, k, RT_NS, NULL);
	put_prog(rt_url, 7, "other-namespace", NULL);
	c = rt_config(rt_url, "none");
	rt = rt_open(c);
	/* the first map is up when open returns */
	for (k = 0; k < 5; k++) {
		uint8_t id[32];
		jf_decision_t d;

		prog_id(k, id);
		d = jf_lookup(rt, id);
		ck_assert_int_eq(d.reason, JF_COMPILED);
		ck_assert_ptr_nonnull(d.fn);
		ck_assert_int_eq(((entry_fn)d.fn)(3), 4 * (int64_t)(k + 2));
		ck_assert_ptr_eq(jf_program_symbol(d.prog, "jf_entry"), d.fn);
		ck_assert_ptr_null(jf_program_symbol(d.prog, "nope"));
		ck_assert_ptr_nonnull(jf_program_key(d.prog));
	}
	{
		uint8_t id[32];

		prog_id(7, id);         /* another namespace's: not loaded */
		ck_assert_int_eq(jf_lookup(rt, id).reason, JF_INTERP_NOT_READY);
	}
	st = rt_stats(rt);
	ck_assert_uint_eq(st.preloaded, 5);
	ck_assert_uint_eq(st.programs, 5);
	ck_assert_uint_eq(st.rejected, 0);
	ck_assert_int_eq(atomic_load(&ev_count[JF_EV_PRELOAD]), 5);
	jf_runtime_close(rt);
	jf_config_free(c);
}
END_TEST

START_TEST(test_push)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	jf_decision_t d;
	uint8_t id[32];
	uint64_t t0;

	put_prog(rt_url, 0, RT_NS, NULL);
	c = rt_config(rt_url, "none");
	rt = rt_open(c);
	prog_id(1, id);
	ck_assert_int_eq(jf_lookup(rt, id).reason, JF_INTERP_NOT_READY);
	/* another node's farm stores a program: this node's map gains it */
	t0 = jf_now_ns();
	put_prog(rt_url, 1, RT_NS, NULL);
	d = wait_compiled(rt, id, 5000);
	ck_assert_int_eq(d.reason, JF_COMPILED);
	ck_assert_int_eq(((entry_fn)d.fn)(1), 2 * 3);
	ck_assert_uint_eq(rt_stats(rt).pushed, 1);
	ck_assert_int_eq(atomic_load(&ev_count[JF_EV_PUSH]), 1);
	ck_assert_uint_lt(jf_now_ns() - t0, 5000000000ull);
	jf_runtime_close(rt);
	jf_config_free(c);
}
END_TEST

START_TEST(test_signatures)
{
	char priv_a[4200], pub_a[4200], priv_b[4200], pub_b[4200], err[512];
	void *ka, *kb;
	jf_runtime_t *rt;
	jf_config_t *c;
	jf_stats_t st;
	uint8_t id[32];

	snprintf(priv_a, sizeof(priv_a), "%s/a.key", rt_dir);
	snprintf(pub_a, sizeof(pub_a), "%s/a.pub", rt_dir);
	snprintf(priv_b, sizeof(priv_b), "%s/b.key", rt_dir);
	snprintf(pub_b, sizeof(pub_b), "%s/b.pub", rt_dir);
	ck_assert_int_eq(jf_sign_keygen(priv_a, pub_a, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_sign_keygen(priv_b, pub_b, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_sign_load_private(priv_a, &ka, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_sign_load_private(priv_b, &kb, err, sizeof(err)), 0);

	put_prog(rt_url, 0, RT_NS, ka);    /* good */
	put_prog(rt_url, 1, RT_NS, kb);    /* signed by a stranger */
	put_prog(rt_url, 2, RT_NS, NULL);  /* unsigned */
	c = rt_config(rt_url, "none");
	ck_assert_int_eq(jf_config_set_public_key(c, pub_a), 0);
	rt = rt_open(c);
	prog_id(0, id);
	ck_assert_int_eq(jf_lookup(rt, id).reason, JF_COMPILED);
	prog_id(1, id);
	ck_assert_ptr_null(jf_lookup(rt, id).fn);
	prog_id(2, id);
	ck_assert_ptr_null(jf_lookup(rt, id).fn);
	st = rt_stats(rt);
	ck_assert_uint_eq(st.preloaded, 1);
	ck_assert_uint_eq(st.rejected, 2);
	ck_assert_int_eq(atomic_load(&ev_count[JF_EV_REJECT]), 2);
	/* a rejection names the program its manifest claims */
	ck_assert_int_eq(atomic_load(&ev_noid[JF_EV_REJECT]), 0);

	/* pushed with a bad signature: rejected, never loaded */
	put_prog(rt_url, 3, RT_NS, kb);
	prog_id(3, id);
	{
		uint64_t end = jf_now_ns() + 5000000000ull;

		while (rt_stats(rt).rejected < 3 && jf_now_ns() < end)
			usleep(5000);
	}
	ck_assert_uint_eq(rt_stats(rt).rejected, 3);
	ck_assert_ptr_null(jf_lookup(rt, id).fn);
	ck_assert_uint_eq(rt_stats(rt).programs, 1);
	/* a good one still gets in */
	put_prog(rt_url, 4, RT_NS, ka);
	prog_id(4, id);
	ck_assert_int_eq(wait_compiled(rt, id, 5000).reason, JF_COMPILED);
	jf_runtime_close(rt);
	jf_config_free(c);
	jf_key_free_pkey(ka);
	jf_key_free_pkey(kb);
}
END_TEST

static void
wait_promotions(jf_runtime_t *rt, uint64_t want)
{
	uint64_t end = jf_now_ns() + 5000000000ull;

	while (rt_stats(rt).promotions < want && jf_now_ns() < end)
		usleep(2000);
}

START_TEST(test_promotion_exact)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	uint8_t id[32], id2[32];
	int i;

	put_prog(rt_url, 0, RT_NS, NULL);
	put_prog(rt_url, 1, RT_NS, NULL);
	c = rt_config(rt_url, "none");
	/* only on-demand fetches: no preload, no feed */
	jf_config_set_tune(c, JF_TUNE_PRELOAD, 0);
	jf_config_set_tune(c, JF_TUNE_WATCH, 0);
	jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, 50);
	jf_config_set_tune(c, JF_TUNE_EVENT_BUFFER, 16384);
	rt = rt_open(c);
	prog_id(0, id);
	prog_id(1, id2);

	for (i = 0; i < 49; i++)
		ck_assert_int_eq(jf_lookup(rt, id).reason, JF_INTERP_NOT_READY);
	usleep(100 * 1000);     /* many drain intervals */
	ck_assert_uint_eq(rt_stats(rt).promotions, 0);
	ck_assert_uint_eq(rt_stats(rt).hot_tracked, 1);
	(void)jf_lookup(rt, id);        /* the 50th */
	wait_promotions(rt, 1);
	ck_assert_uint_eq(rt_stats(rt).promotions, 1);
	ck_assert_int_eq(wait_compiled(rt, id, 5000).reason, JF_COMPILED);

	/* 8 threads miss one cold key at once: one promotion, one fetch */
	rt_lookup_storm(rt, id2, 2000);
	ck_assert_int_eq(wait_compiled(rt, id2, 5000).reason, JF_COMPILED);
	usleep(50 * 1000);
	ck_assert_uint_eq(rt_stats(rt).promotions, 2);
	ck_assert_uint_eq(rt_stats(rt).fetches, 2);
	ck_assert_int_eq(atomic_load(&ev_count[JF_EV_FETCH]), 2);
	jf_runtime_close(rt);
	jf_config_free(c);
}
END_TEST

START_TEST(test_compile_now_and_negative)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	uint8_t id[32], missing[32];

	put_prog(rt_url, 0, RT_NS, NULL);
	c = rt_config(rt_url, "none");
	jf_config_set_tune(c, JF_TUNE_PRELOAD, 0);
	jf_config_set_tune(c, JF_TUNE_WATCH, 0);
	jf_config_set_tune(c, JF_TUNE_NEGATIVE_TTL_MS, 300);
	rt = rt_open(c);
	prog_id(0, id);
	ck_assert_int_eq(jf_compile_now(rt, id, 5000), 0);
	/* no waiting: the map that holds it is published already */
	ck_assert_int_eq(jf_lookup(rt, id).reason, JF_COMPILED);

	/* not in the store, no farm: a negative entry, until its TTL */
	prog_id(9, missing);
	ck_assert_int_eq(jf_compile_now(rt, missing, 5000), JF_ERR_NOTFOUND);
	/* the stats agree with the reason: NOT_READY is a miss, whether
	 * remembered or not */
	ck_assert_int_eq(jf_lookup(rt, missing).reason, JF_INTERP_NOT_READY);
	ck_assert_uint_eq(rt_stats(rt).negative, 0);
	ck_assert_uint_eq(rt_stats(rt).misses, 1);
	usleep(600 * 1000);
	ck_assert_int_eq(jf_lookup(rt, missing).reason, JF_INTERP_NOT_READY);
	ck_assert_uint_eq(rt_stats(rt).negative, 0);    /* expired: a plain miss */
	ck_assert_uint_eq(rt_stats(rt).misses, 2);

	/* prepare_aot: queued and fetched in the background */
	put_prog(rt_url, 9, RT_NS, NULL);
	ck_assert_int_eq(jf_prepare_aot(rt, missing, 1), 0);
	ck_assert_int_eq(wait_compiled(rt, missing, 5000).reason, JF_COMPILED);

	/* paused: nothing blocks, compile_now refuses at once */
	jf_runtime_pause(rt);
	ck_assert_int_eq(jf_compile_now(rt, missing, 5000), JF_ERR_BUSY);
	ck_assert_int_eq(jf_lookup(rt, id).reason, JF_COMPILED);
	jf_runtime_resume(rt);
	jf_runtime_close(rt);
	jf_config_free(c);
}
END_TEST

static int
mapped(void *addr)
{
	void *page = (void *)((uintptr_t)addr & ~(uintptr_t)4095);

	return msync(page, 4096, MS_ASYNC) == 0 || errno != ENOMEM;
}

START_TEST(test_eviction_frees_code)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	jf_decision_t d;
	uint8_t id[32];
	uint64_t end;
	void *fn;

	put_prog(rt_url, 0, RT_NS, NULL);
	c = rt_config(rt_url, "none");
	jf_config_set_tune(c, JF_TUNE_IDLE_EVICT_MS, 200);
	rt = rt_open(c);
	prog_id(0, id);
	d = jf_lookup(rt, id);
	ck_assert_int_eq(d.reason, JF_COMPILED);
	fn = d.fn;
	ck_assert(mapped(fn));
	ck_assert_uint_gt(rt_stats(rt).code_bytes, 0);
	/* this thread holds the decision: nothing may be freed under it */
	usleep(600 * 1000);
	ck_assert_uint_eq(rt_stats(rt).evicted, 1);
	ck_assert(mapped(fn));
	ck_assert_int_eq(((entry_fn)fn)(1), 4);
	ck_assert_uint_ge(rt_stats(rt).pending_reclaim, 1);
	/* let go: the code is unloaded and its pages unmapped */
	jf_thread_offline(rt);
	end = jf_now_ns() + 5000000000ull;
	while (rt_stats(rt).pending_reclaim > 0 && jf_now_ns() < end)
		usleep(5000);
	ck_assert_uint_eq(rt_stats(rt).pending_reclaim, 0);
	ck_assert(!mapped(fn));
	ck_assert_uint_eq(rt_stats(rt).code_bytes, 0);
	ck_assert_uint_eq(rt_stats(rt).programs, 0);
	ck_assert_int_eq(atomic_load(&ev_count[JF_EV_EVICT]), 1);
	/* wanted again: fetched and loaded anew */
	ck_assert_int_eq(jf_compile_now(rt, id, 5000), 0);
	d = jf_lookup(rt, id);
	ck_assert_ptr_nonnull(d.fn);
	ck_assert_int_eq(((entry_fn)d.fn)(1), 4);
	jf_runtime_close(rt);
	jf_config_free(c);
}
END_TEST

START_TEST(test_code_budget)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	jf_stats_t st;
	unsigned k;
	uint64_t budget;

	for (k = 0; k < 4; k++)
		put_prog(rt_url, k, RT_NS, NULL);
	c = rt_config(rt_url, "none");
	rt = rt_open(c);
	st = rt_stats(rt);
	ck_assert_uint_eq(st.programs, 4);
	jf_runtime_close(rt);
	/* a budget for two of them: the preload stops there (the budget is
	 * hard: nothing is loaded beyond it, not even for a moment) */
	budget = st.code_bytes / 2;
	jf_config_set_tune(c, JF_TUNE_CODE_BUDGET, (int64_t)budget);
	rt = rt_open(c);
	st = rt_stats(rt);
	ck_assert_uint_eq(st.preloaded, 2);
	ck_assert_uint_eq(st.programs, 2);
	ck_assert_uint_le(st.code_bytes, budget);
	ck_assert_uint_eq(st.evicted, 0);
	/* one not preloaded, wanted now: the least recently used makes room */
	for (k = 0; k < 4; k++) {
		uint8_t id[32];

		prog_id(k, id);
		if (jf_lookup(rt, id).fn == NULL) {
			ck_assert_int_eq(jf_compile_now(rt, id, 5000), 0);
			break;
		}
	}
	st = rt_stats(rt);
	ck_assert_uint_eq(st.evicted, 1);
	ck_assert_uint_le(st.code_bytes, budget);
	jf_runtime_close(rt);
	jf_config_free(c);
}
END_TEST

typedef struct counter_arg {
	jf_runtime_t *rt;
	const uint8_t *hit, *miss;
	int n;
} counter_arg_t;

static void *
counter_thread(void *arg)
{
	counter_arg_t *a = arg;
	int i;

	for (i = 0; i < a->n; i++) {
		jf_decision_t d = jf_lookup(a->rt, (i % 3) ? a->hit : a->miss);

		if ((i % 3 != 0) != (d.fn != NULL))
			return (void *)1;
	}
	return NULL;
}

START_TEST(test_stats_concurrent)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	jf_stats_t st;
	uint8_t hit[32], miss[32];
	pthread_t th[6];
	counter_arg_t a;
	int i, n = 30000;

	put_prog(rt_url, 0, RT_NS, NULL);
	c = rt_config(rt_url, "none");
	jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, 1 << 24);
	rt = rt_open(c);
	prog_id(0, hit);
	memset(miss, 0x5a, sizeof(miss));
	a.rt = rt;
	a.hit = hit;
	a.miss = miss;
	a.n = n;
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, counter_thread, &a), 0);
	for (i = 0; i < 6; i++) {
		void *res;

		pthread_join(th[i], &res);
		ck_assert_ptr_null(res);
	}
	st = rt_stats(rt);
	ck_assert_uint_eq(st.lookups, 6ull * n);
	ck_assert_uint_eq(st.misses, 6ull * (n / 3));
	ck_assert_uint_eq(st.hits, 6ull * (n - n / 3));
	ck_assert_uint_eq(st.no_slot, 0);
	jf_runtime_close(rt);
	jf_config_free(c);
}
END_TEST

static _Atomic size_t host_allocs, host_frees;

static void *
host_alloc(size_t n, void *arg)
{
	(void)arg;
	atomic_fetch_add(&host_allocs, 1);
	return malloc(n);
}

static void
host_free(void *p, void *arg)
{
	(void)arg;
	atomic_fetch_add(&host_frees, 1);
	free(p);
}

START_TEST(test_disabled_and_allocator)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	uint8_t id[32];

	prog_id(0, id);
	ck_assert_int_eq(jf_lookup(NULL, id).reason, JF_INTERP_DISABLED);
	c = rt_config(rt_url, "none");
	ck_assert_int_eq(jf_config_set_enabled(c, 0), 0);
	rt = rt_open(c);
	ck_assert_int_eq(jf_lookup(rt, id).reason, JF_INTERP_DISABLED);
	ck_assert_int_eq(jf_compile_now(rt, id, 10), JF_ERR_CLOSED);
	jf_runtime_close(rt);
	jf_runtime_close(NULL);

	/* the host's allocator serves the runtime's own memory */
	put_prog(rt_url, 0, RT_NS, NULL);
	ck_assert_int_eq(jf_config_set_enabled(c, 1), 0);
	ck_assert_int_eq(jf_config_set_allocator(c, host_alloc, host_free, NULL), 0);
	rt = rt_open(c);
	ck_assert_int_eq(jf_lookup(rt, id).reason, JF_COMPILED);
	jf_runtime_close(rt);
	ck_assert_uint_gt(atomic_load(&host_allocs), 0);
	ck_assert_uint_eq(atomic_load(&host_allocs), atomic_load(&host_frees));
	/* bad settings are refused */
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, 0), JF_ERR_INVAL);
	ck_assert_int_eq(jf_config_set_tune(c, 999, 1), JF_ERR_INVAL);
	ck_assert_int_eq(jf_config_set_target(c, NULL, NULL, NULL, 'x'), JF_ERR_INVAL);
	jf_config_free(c);
}
END_TEST

START_TEST(test_bad_target)
{
	jf_runtime_t *rt = NULL;
	jf_config_t *c;
	char err[512];

	c = rt_config(rt_url, "none");
	ck_assert_int_eq(jf_config_set_target(c, NULL, "nosuchcpu", NULL, '2'), 0);
	ck_assert_int_eq(jf_runtime_open(c, &rt, err, sizeof(err)), JF_ERR_TARGET);
	ck_assert_ptr_null(rt);
	ck_assert(strstr(err, "nosuchcpu") != NULL);
	jf_config_free(c);
	ck_assert_str_eq(jf_version(), JF_RUNTIME_VERSION);
}
END_TEST

/* The hotness table: a full table takes new keys by pushing out the
 * coldest, and decay ages counts out. */
START_TEST(test_hot_table)
{
	jf_hot_t h;
	uint64_t id[4] = { 0, 1, 2, 3 };
	uint64_t hot[4] = { 77, 1, 2, 3 };
	unsigned i;

	ck_assert_int_eq(jf_hot_init(&h, 16), 0);
	for (i = 0; i < 10; i++)
		ck_assert_uint_eq(jf_hot_bump(&h, hot), i + 1);
	for (i = 0; i < 1000; i++) {
		id[0] = 1000 + i;
		/* never locked out: every new key gets counted */
		ck_assert_uint_eq(jf_hot_bump(&h, id), 1);
	}
	ck_assert_uint_le(h.n, 16);
	ck_assert_uint_gt(h.replaced, 900);
	/* the hot key survived the flood of cold ones */
	ck_assert_uint_eq(jf_hot_bump(&h, hot), 11);
	jf_hot_decay(&h);               /* 11 -> 5, every 1 -> gone */
	ck_assert_uint_eq(h.n, 1);
	ck_assert_uint_eq(jf_hot_bump(&h, hot), 6);
	jf_hot_forget(&h, hot);
	ck_assert_uint_eq(h.n, 0);
	jf_hot_fini(&h);
}
END_TEST

static Suite *
suite(void)
{
	const TTest *tests[] = {
		test_preload, test_push, test_signatures, test_promotion_exact,
		test_compile_now_and_negative, test_eviction_frees_code, test_code_budget,
		test_stats_concurrent, test_disabled_and_allocator, test_bad_target,
		test_hot_table, NULL
	};
	TCase *tc;
	Suite *s = jft_suite("runtime", 60, tests, &tc);

	tcase_add_checked_fixture(tc, rt_setup, rt_teardown);
	return s;
}

int
main(void)
{
	/* A host allocator must be known before the library's first block
	 * (mem.h), and some tests use the library before they open a runtime. */
	if (jf_mem_register(host_alloc, host_free, NULL, NULL) == NULL)
		return 1;
	return jft_suite_run(suite()) != 0;
}
