/*
 * test_oom.c - libjitfarm out of memory: a host allocator that fails the
 * Nth allocation (and, in a second pass, every allocation from the Nth
 * on), for every N that open, preload, promotion, a fetch from the store
 * and close reach. The runtime must answer JF_ERR_NOMEM or go on with
 * less (a program not loaded is interpreted: NOT_READY), never crash,
 * never run wrong code, and give back every block it took: the
 * allocator counts live blocks, and the count is 0 after close (and
 * after a failed open). Run under ASan by the sanitizer build.
 */
#include "rt_helpers.h"
#include "common/mem.h"
#include "support.h"

static char *dir, *url;

static _Atomic long n_alloc, n_live, fail_at, fail_from;

static void *
oom_alloc(size_t n, void *arg)
{
	long k = atomic_fetch_add(&n_alloc, 1) + 1;
	void *p;

	(void)arg;
	if (k == atomic_load(&fail_at) ||
	    (atomic_load(&fail_from) > 0 && k >= atomic_load(&fail_from)))
		return NULL;
	if ((p = malloc(n)) != NULL)
		atomic_fetch_add(&n_live, 1);
	return p;
}

static void
oom_free(void *p, void *arg)
{
	(void)arg;
	atomic_fetch_sub(&n_live, 1);
	free(p);
}

static void
setup(void)
{
	unsigned k;

	dir = jft_tmpdir("rtoom");
	url = file_url(dir);
	ck_assert_int_eq(jf_llvm_init(), 0);
	for (k = 0; k < 4; k++)
		put_prog(url, k, RT_NS, NULL);
}

static void
teardown(void)
{
	jft_rmtree(dir);
	free(dir);
	free(url);
}

/* One life of a runtime under the allocator's current failure plan.
 * Returns how many allocations it made. */
static long
one_life(int *opened)
{
	jf_runtime_t *rt = NULL;
	jf_config_t *c = rt_config(url, "none");
	char err[1024] = "";
	uint8_t id[32];
	unsigned k, round;
	int r;

	ck_assert_int_eq(jf_config_set_allocator(c, oom_alloc, oom_free, NULL), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_WATCH, 0), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, 1), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_DRAIN_INTERVAL_MS, 1), 0);
	/* programs 0..2 are preloaded; 3 is in the store but only fetched
	 * on demand (jf_compile_now); 9 is nowhere */
	atomic_store(&n_alloc, 0);
	atomic_store(&n_live, 0);
	r = jf_runtime_open(c, &rt, err, sizeof(err));
	jf_config_free(c);
	*opened = r == 0;
	if (r != 0) {
		ck_assert_msg(r == JF_ERR_NOMEM, "open failed with %s (%s), not out of memory",
		    jf_strerror(r), err);
		ck_assert_ptr_null(rt);
		ck_assert_int_eq(atomic_load(&n_live), 0);
		return atomic_load(&n_alloc);
	}
	prog_id(3, id);
	r = jf_compile_now(rt, id, 10000);
	ck_assert_msg(r == 0 || r == JF_ERR_NOMEM || r == JF_ERR_NOTFOUND,
	    "compile_now: %s", jf_strerror(r));
	for (round = 0; round < 20; round++) {
		for (k = 0; k < 4; k++) {
			jf_decision_t d;

			prog_id(k, id);
			d = jf_lookup(rt, id);
			if (d.fn != NULL)
				ck_assert_int_eq(((entry_fn)d.fn)(5), 6 * (int64_t)(k + 2));
			else
				ck_assert_int_ne(d.reason, JF_COMPILED);
		}
		prog_id(9, id);
		ck_assert_ptr_null(jf_lookup(rt, id).fn);
		usleep(500);
	}
	jf_runtime_close(rt);
	ck_assert_msg(atomic_load(&n_live) == 0, "%ld blocks leaked", atomic_load(&n_live));
	return atomic_load(&n_alloc);
}

START_TEST(test_fail_nth)
{
	long total, n, opened_at = 0;
	int opened;

	atomic_store(&fail_at, 0);
	atomic_store(&fail_from, 0);
	total = one_life(&opened);
	ck_assert(opened);
	ck_assert_int_gt(total, 10);
	fprintf(stderr, "oom: one life makes %ld allocations; failing each of them in turn\n", total);
	for (n = 1; n <= total + 20; n++) {
		atomic_store(&fail_at, n);
		one_life(&opened);
		if (opened && opened_at == 0)
			opened_at = n;
	}
	/* some early allocation must be one open cannot do without */
	ck_assert_int_gt(opened_at, 1);
	atomic_store(&fail_at, 0);
}
END_TEST

START_TEST(test_fail_from_nth)
{
	long total, n;
	int opened;

	atomic_store(&fail_at, 0);
	atomic_store(&fail_from, 0);
	total = one_life(&opened);
	for (n = 1; n <= total + 20; n += 3) {
		atomic_store(&fail_from, n);
		one_life(&opened);
	}
	atomic_store(&fail_from, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("oom");
	TCase *tc = tcase_create("oom");

	/* A host allocator must be known before the library's first block
	 * (mem.h); the fixtures below already use the library. */
	if (jf_mem_register(oom_alloc, oom_free, NULL, NULL) == NULL)
		return 1;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_fail_nth);
	tcase_add_test(tc, test_fail_from_nth);
	suite_add_tcase(s, tc);
	return jft_suite_run(s) != 0;
}
