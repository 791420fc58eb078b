/*
 * test_evict.c - eviction that is exact: a program used every 5 ms is
 * never evicted for idleness at 300 ms while one unused is; a code budget
 * that loaded bytes never pass, sampled from another thread while
 * programs churn through it; and memory given back once evicted code is
 * unloaded: RSS drops by the code's pages, and what the heap keeps (LLVM's
 * tables, measured here at about 40 kB a program) is reused by the next
 * loads, never grown.
 */
#include "rt_helpers.h"
#include "support.h"


static uint8_t evicted_id[32];
static _Atomic int evicted_n;

static void
note_evict(void *arg, const jf_event_t *ev)
{
	(void)arg;
	if (ev->kind == JF_EV_EVICT && ev->program_id != NULL) {
		memcpy(evicted_id, ev->program_id, 32);
		atomic_fetch_add(&evicted_n, 1);
	}
}

START_TEST(test_idle_exact)
{
	jf_runtime_t *rt;
	jf_config_t *c;
	uint8_t used[32], idle[32], other[32];
	uint64_t end, last;
	int i;

	put_prog(rt_url, 0, RT_NS, NULL);
	put_prog(rt_url, 1, RT_NS, NULL);
	prog_id(0, used);
	prog_id(1, idle);
	prog_id(2, other);
	c = rt_config(rt_url, "none");
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_IDLE_EVICT_MS, 300), 0);
	ck_assert_int_eq(jf_config_set_event_callback(c, note_evict, NULL), 0);
	rt = rt_open(c);
	/* 4 s of a lookup every 5 ms, among misses of another program that
	 * keep the event ring busy */
	end = jf_now_ns() + 4000000000ull;
	last = jf_now_ns();
	for (i = 0; jf_now_ns() < end; i++) {
		jf_decision_t d = jf_lookup(rt, used);
		uint64_t now = jf_now_ns();

		/* (a host stalled past the window may lose it: that is idle) */
		ck_assert_msg(d.fn != NULL, "used every 5 ms, evicted after %d uses, %llu ms "
		    "after the last", i, (unsigned long long)(now - last) / 1000000);
		last = now;
		ck_assert_int_eq(((entry_fn)d.fn)(1), 2 * 2);
		(void)jf_lookup(rt, other);
		usleep(5000);
	}
	/* the idle one went, once, and only it */
	ck_assert_int_eq(atomic_load(&evicted_n), 1);
	ck_assert_int_eq(memcmp(evicted_id, idle, 32), 0);
	ck_assert_ptr_null(jf_lookup(rt, idle).fn);
	ck_assert_uint_eq(rt_stats(rt).evicted, 1);
	ck_assert_int_eq(jf_runtime_close(rt), 0);
	jf_config_free(c);
}
END_TEST

typedef struct sampler {
	jf_runtime_t *rt;
	_Atomic int stop;
	uint64_t max_bytes, samples;
} sampler_t;

static void *
sample_thread(void *arg)
{
	sampler_t *s = arg;

	while (!atomic_load(&s->stop)) {
		jf_stats_t st;

		if (jf_runtime_stats(s->rt, &st, sizeof(st)) == 0) {
			if (st.code_bytes > s->max_bytes)
				s->max_bytes = st.code_bytes;
			s->samples++;
		}
		usleep(200);
	}
	return NULL;
}

START_TEST(test_budget_hard)
{
	enum { N = 12 };
	jf_runtime_t *rt;
	jf_config_t *c;
	jf_stats_t st;
	sampler_t smp;
	pthread_t th;
	uint8_t ids[N][32];
	uint64_t one, budget, end;
	unsigned k;
	int native = 0;

	for (k = 0; k < N; k++) {
		put_prog(rt_url, k, RT_NS, NULL);
		prog_id(k, ids[k]);
	}
	/* the size of one program's code */
	c = rt_config(rt_url, "none");
	rt = rt_open(c);
	one = rt_stats(rt).code_bytes / N;
	ck_assert_int_eq(jf_runtime_close(rt), 0);
	budget = one * 3 + one / 2;
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_CODE_BUDGET, (int64_t)budget), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, 1), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_NEGATIVE_TTL_MS, 10), 0);
	rt = rt_open(c);
	memset(&smp, 0, sizeof(smp));
	smp.rt = rt;
	ck_assert_int_eq(pthread_create(&th, NULL, sample_thread, &smp), 0);
	/* round-robin over 12 programs through room for 3: constant churn */
	end = jf_now_ns() + 2000000000ull;
	while (jf_now_ns() < end) {
		for (k = 0; k < N; k++) {
			jf_decision_t d = jf_lookup(rt, ids[k]);

			if (d.fn != NULL) {
				ck_assert_int_eq(((entry_fn)d.fn)(2), 3 * (int64_t)(k + 2));
				native++;
			}
		}
		usleep(500);
	}
	atomic_store(&smp.stop, 1);
	pthread_join(th, NULL);
	st = rt_stats(rt);
	ck_assert_uint_gt(smp.samples, 100);
	ck_assert_msg(smp.max_bytes <= budget, "loaded %llu bytes, over the budget of %llu",
	    (unsigned long long)smp.max_bytes, (unsigned long long)budget);
	ck_assert_uint_le(st.code_bytes, budget);
	ck_assert_uint_gt(st.evicted, 10);
	ck_assert_uint_gt(st.fetches, 10);
	ck_assert_int_gt(native, 10);
	ck_assert_int_eq(jf_runtime_close(rt), 0);
	jf_config_free(c);
}
END_TEST

static long
rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%ld %ld", &pages, &rss), 2);
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Load programs 0..n-1, evict them all and wait until they are unloaded;
 * *loaded gets the RSS with them loaded, the return value the RSS after. */
static long
load_and_clear(jf_runtime_t *rt, unsigned n, long *loaded)
{
	jf_stats_t st;
	uint64_t end;
	unsigned k;

	for (k = 0; k < n; k++) {
		uint8_t id[32];

		prog_id(k, id);
		ck_assert_int_eq(jf_compile_now(rt, id, 5000), 0);
	}
	*loaded = rss_kb();
	ck_assert_int_eq(jf_runtime_clear(rt), 0);
	end = jf_now_ns() + 5000000000ull;
	do {
		usleep(5000);
		st = rt_stats(rt);
	} while ((st.programs > 0 || st.pending_reclaim > 0) && jf_now_ns() < end);
	ck_assert_uint_eq(st.programs, 0);
	ck_assert_uint_eq(st.code_bytes, 0);
	usleep(150 * 1000);     /* past the backend's heap trim */
	return rss_kb();
}

START_TEST(test_rss_after_eviction)
{
	enum { N = 300 };
	jf_runtime_t *rt;
	jf_config_t *c;
	long before, loaded[3], after[3];
	unsigned k;
	int i;

#ifdef JF_SANITIZE
	/* the sanitizer's allocator keeps freed memory in quarantine: RSS
	 * says nothing about what the runtime gives back */
	fprintf(stderr, "rss: not measured in a sanitizer build\n");
	return;
#endif
	for (k = 0; k < N; k++)
		put_prog(rt_url, k, RT_NS, NULL);
	c = rt_config(rt_url, "none");
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_PRELOAD, 0), 0);
	rt = rt_open(c);
	before = rss_kb();
	for (i = 0; i < 3; i++)
		after[i] = load_and_clear(rt, N, &loaded[i]);
	fprintf(stderr, "rss: %ld kB before; with %d programs loaded and after evicting them "
	    "all: %ld -> %ld, %ld -> %ld, %ld -> %ld kB\n", before, N, loaded[0], after[0],
	    loaded[1], after[1], loaded[2], after[2]);
	ck_assert_int_gt(loaded[0] - before, 4 * N);    /* a page or more each */
	for (i = 0; i < 3; i++) {
		/* the code's pages (at least one page a program) go back */
		ck_assert_msg(loaded[i] - after[i] >= 4 * N, "RSS %ld -> %ld kB", loaded[i],
		    after[i]);
		/* what the heap keeps is reused, never more */
		ck_assert_msg(loaded[i] <= loaded[0] + (loaded[0] - before) / 5,
		    "RSS grows: %ld then %ld kB", loaded[0], loaded[i]);
	}
	ck_assert_int_eq(jf_runtime_close(rt), 0);
	jf_config_free(c);
}
END_TEST

int
main(void)
{
	TCase *tc;
	const TTest *tests[] = {
		test_idle_exact, test_budget_hard, test_rss_after_eviction, NULL
	};
	Suite *s;

	s = jft_suite("evict", 120, tests, &tc);
	tcase_add_checked_fixture(tc, rt_setup, rt_teardown);
	return jft_suite_run(s) != 0;
}
