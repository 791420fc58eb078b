/*
 * test_reenter.c - nested lookups, as an EVM host's CALL makes them: the
 * native code of a program calls back into the host, and the host looks
 * the callee up and runs it, natively or interpreted, down to depth 64.
 * Meanwhile the runtime is kept churning: idle eviction at 20 ms, a code
 * budget of a few programs, pushes of new artifacts through the store's
 * change feed (each a load, a swap and budget evictions), and, from
 * another thread, explicit evictions and clears. At some depths the host
 * waits, inside the callee, until the program of an outer frame has been
 * evicted and everything retired has been reclaimed, so an outer frame
 * returns into code that is gone unless the runtime kept it.
 *
 * Every chain is checked against an interpreter of the same programs.
 * Each native call runs inside jf_enter/jf_leave; built with
 * -DJF_REENTER_TODAY the test uses only the API the runtime had before
 * scopes existed (no jf_enter, no jf_runtime_evict), and against that
 * runtime it dies with SIGSEGV.
 *
 * Under ThreadSanitizer (the whole library instrumented):
 *   make SANITIZE=thread BUILD=build/tsan build/tsan/test/runtime/test_reenter
 */
#include "rt_helpers.h"
#include "support.h"

#define NP 8                    /* programs the chains call */
#define NPUSH 48                /* programs pushed to make churn */
#define DEPTH 64
#define THREADS 2

typedef int64_t (*nest_fn)(int64_t, int64_t);

static char *dir, *url;
static jf_runtime_t *the_rt;
static uint8_t ids[NP + NPUSH][32];
static uint8_t *blobs[NP + NPUSH];
static size_t blob_len[NP + NPUSH];
static jf_key_t keys[NP + NPUSH];
static _Atomic int stop_storm;
static _Atomic long native_calls, nested_native, waits_done;

/* The IR of program k: jf_entry(d, x) = host_nest(k, d, x) * (k + 3) + k. */
static char *
nest_ir(unsigned k)
{
	char *s;

	if (asprintf(&s,
	    "declare i64 @host_nest(i64, i64, i64)\n"
	    "define i64 @jf_entry(i64 %%d, i64 %%x) {\n"
	    "  %%a = call i64 @host_nest(i64 %u, i64 %%d, i64 %%x)\n"
	    "  %%b = mul i64 %%a, %u\n"
	    "  %%c = add i64 %%b, %u\n"
	    "  ret i64 %%c\n"
	    "}\n", k, k + 3, k) < 0)
		abort();
	return s;
}

/* Compile program k once, keep its blob, id and key. */
static void
nest_build(unsigned k)
{
	char *ir = nest_ir(k);

	rt_compile_blob(ir, RT_NS, NULL, &blobs[k], &blob_len[k], &keys[k]);
	jf_program_id_from_ir(ir, strlen(ir), (jf_key_t *)ids[k]);
	free(ir);
}

static void
nest_put(jf_store_t *st, unsigned k)
{
	ck_assert_msg(jf_store_put(st, &keys[k], blobs[k], blob_len[k]) == 0, "put: %s",
	    jf_store_errstr(st));
}

static jf_store_t *
store_open(void)
{
	jf_store_opts_t so;
	jf_store_t *st;
	char err[512];

	memset(&so, 0, sizeof(so));
	ck_assert_msg(jf_store_open(url, &so, &st, err, sizeof(err)) == 0, "store: %s", err);
	return st;
}

/* ---- the host: interpreter, and the callback native code makes ---------------- */

static uint64_t interp(unsigned k, uint64_t d, uint64_t x);

static unsigned
callee_of(unsigned k, uint64_t d, uint64_t x)
{
	return (unsigned)((x + d * 7 + k) % NP);
}

static uint64_t
interp_nest(unsigned k, uint64_t d, uint64_t x)
{
	if (d == 0)
		return x + k;
	return interp(callee_of(k, d, x), d - 1, x * 3 + 1);
}

static uint64_t
interp(unsigned k, uint64_t d, uint64_t x)
{
	return interp_nest(k, d, x) * (k + 3) + k;
}

/* Inside a callee: wait (bounded) until the runtime has evicted
 * something, look up once more (a thread's next lookup is where, without
 * a scope, it lets go of what it held), and wait until everything retired
 * is reclaimed. Without scopes that frees the code of the frames below. */
static void
wait_churn(void)
{
	jf_stats_t st;
	uint64_t ev0, end;

	ck_assert_int_eq(jf_runtime_stats(the_rt, &st, sizeof(st)), 0);
	ev0 = st.evicted;
#ifndef JF_REENTER_TODAY
	jf_runtime_clear(the_rt);
#endif
	end = jf_now_ns() + 60 * 1000000ull;
	do {
		usleep(1000);
		ck_assert_int_eq(jf_runtime_stats(the_rt, &st, sizeof(st)), 0);
	} while (jf_now_ns() < end && st.evicted == ev0);
	(void)jf_lookup(the_rt, ids[0]);
	end = jf_now_ns() + 60 * 1000000ull;
	do {
		usleep(1000);
		ck_assert_int_eq(jf_runtime_stats(the_rt, &st, sizeof(st)), 0);
	} while (jf_now_ns() < end && st.pending_reclaim > 0);
	atomic_fetch_add(&waits_done, 1);
}

static uint64_t run(unsigned k, uint64_t d, uint64_t x);

/* The host's side of CALL, from program k at depth d: run the callee
 * (natively when the runtime has it). */
static uint64_t
call_out(unsigned k, uint64_t d, uint64_t x, int from_native)
{
	uint64_t r;

	if (d == 0)
		return x + k;
	r = run(callee_of(k, d, x), d - 1, x * 3 + 1);
	/* about to return into an outer program's native frame, whose code
	 * must still be there */
	if (from_native && d % 21 == 0 && (x & 3) == 0)
		wait_churn();
	return r;
}

/* What the native code of program k calls. */
static int64_t
host_nest(int64_t k, int64_t d, int64_t x)
{
	return (int64_t)call_out((unsigned)k, (uint64_t)d, (uint64_t)x, 1);
}

/* Run program k at depth d on x: natively when the runtime has it. */
static uint64_t
run(unsigned k, uint64_t d, uint64_t x)
{
	jf_decision_t dec;
	uint64_t r;

#ifndef JF_REENTER_TODAY
	jf_enter(the_rt);
#endif
	dec = jf_lookup(the_rt, ids[k]);
	if (dec.fn != NULL) {
		atomic_fetch_add(&native_calls, 1);
		if (d < DEPTH)
			atomic_fetch_add(&nested_native, 1);
		r = (uint64_t)((nest_fn)dec.fn)((int64_t)d, (int64_t)x);
	} else {
		/* the interpreter's CALL goes through the host as well */
		r = call_out(k, d, x, 0) * (k + 3) + k;
	}
#ifndef JF_REENTER_TODAY
	jf_leave(the_rt);
#endif
	return r;
}

/* ---- the storm ------------------------------------------------------------------ */

static void *
storm_thread(void *arg)
{
	jf_store_t *st = store_open();
	unsigned n = 0, k, i;

	(void)arg;
	for (i = 0; !atomic_load(&stop_storm); i++) {
		/* a push: the watcher loads it, swaps, and the budget evicts */
		if (i % 4 == 0 && n < NPUSH)
			nest_put(st, NP + n++);
#ifndef JF_REENTER_TODAY
		k = (unsigned)(jf_now_ns() / 1000) % NP;
		if (i % 4 == 2)
			(void)jf_runtime_evict(the_rt, ids[k]);
		if (i % 40 == 39)
			(void)jf_runtime_clear(the_rt);
#else
		(void)k;
#endif
		usleep(5000);
	}
	jf_store_close(st);
	return NULL;
}

typedef struct chain_arg {
	unsigned seed;
	uint64_t until_ns;
	int chains;
	int mismatches;
} chain_arg_t;

static void *
chain_thread(void *arg)
{
	chain_arg_t *a = arg;
	uint64_t x = a->seed;
	int i;

	a->chains = 0;

	for (i = 0; jf_now_ns() < a->until_ns; i++) {
		unsigned k = (unsigned)(x % NP);
		uint64_t want = interp(k, DEPTH, x), got = run(k, DEPTH, x);

		if (want != got)
			a->mismatches++;
		a->chains++;
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	}
	jf_thread_offline(the_rt);
	return NULL;
}

static void
setup(void)
{
	unsigned k;

	dir = jft_tmpdir("rtnest");
	url = file_url(dir);
	ck_assert_int_eq(jf_llvm_init(), 0);
	for (k = 0; k < NP + NPUSH; k++)
		nest_build(k);
}

static void
teardown(void)
{
	unsigned k;

	for (k = 0; k < NP + NPUSH; k++)
		jf_free(blobs[k]);
	jft_rmtree(dir);
	free(dir);
	free(url);
}

START_TEST(test_nested_under_eviction_storm)
{
	jf_config_t *c;
	jf_store_t *st;
	pthread_t storm, th[THREADS];
	chain_arg_t ca[THREADS];
	jf_stats_t s;
	unsigned k;
	int i, bad = 0, chains = 0;

	st = store_open();
	for (k = 0; k < NP; k++)
		nest_put(st, k);
	jf_store_close(st);
	c = rt_config(url, "none");
	ck_assert_int_eq(jf_config_add_symbol(c, "host_nest", (void *)host_nest), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, 1), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_IDLE_EVICT_MS, 20), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_DRAIN_INTERVAL_MS, 1), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_NEGATIVE_TTL_MS, 5), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_CODE_BUDGET, (int64_t)blob_len[0] * 12),
	    0);
	the_rt = rt_open(c);
	jf_config_free(c);
	ck_assert_int_eq(jf_runtime_stats(the_rt, &s, sizeof(s)), 0);
	ck_assert_uint_ge(s.preloaded, 3);

	ck_assert_int_eq(pthread_create(&storm, NULL, storm_thread, NULL), 0);
	for (i = 0; i < THREADS; i++) {
		ca[i].seed = 12345u + 7919u * (unsigned)i;
		ca[i].until_ns = jf_now_ns() + 2000000000ull;
		ca[i].mismatches = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, chain_thread, &ca[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		bad += ca[i].mismatches;
		chains += ca[i].chains;
	}
	atomic_store(&stop_storm, 1);
	pthread_join(storm, NULL);
	ck_assert_int_eq(jf_runtime_stats(the_rt, &s, sizeof(s)), 0);
	fprintf(stderr, "reenter: %d chains of depth %d, %ld native calls (%ld nested), %ld waits inside callees; "
	    "%llu evicted, %llu pushed, %llu swaps, %llu loaded on demand\n",
	    chains, DEPTH, atomic_load(&native_calls), atomic_load(&nested_native), atomic_load(&waits_done),
	    (unsigned long long)s.evicted, (unsigned long long)s.pushed,
	    (unsigned long long)s.swaps, (unsigned long long)s.fetches);
	ck_assert_int_eq(bad, 0);
	/* the storm really happened, and native frames really nested */
	ck_assert_int_gt(atomic_load(&nested_native), 100);
	ck_assert_uint_gt(s.evicted, 20);
	ck_assert_uint_gt(s.pushed, 5);
	ck_assert_uint_gt(s.fetches, 5);
#ifndef JF_REENTER_TODAY
	ck_assert_int_eq(jf_runtime_close(the_rt), 0);
#else
	jf_runtime_close(the_rt);
#endif
}
END_TEST

#ifndef JF_REENTER_TODAY
/* close refuses while a scope is open or a pin is held, and works after */
START_TEST(test_close_with_pins)
{
	jf_config_t *c;
	jf_store_t *st = store_open();
	jf_decision_t d;
	uint64_t end;

	nest_put(st, 0);
	jf_store_close(st);
	c = rt_config(url, "none");
	ck_assert_int_eq(jf_config_add_symbol(c, "host_nest", (void *)host_nest), 0);
	the_rt = rt_open(c);
	jf_config_free(c);

	jf_enter(the_rt);
	d = jf_lookup(the_rt, ids[0]);
	ck_assert_ptr_nonnull(d.fn);
	ck_assert_int_eq(jf_runtime_close(the_rt), JF_ERR_BUSY);
	ck_assert_int_eq(jf_program_pin(the_rt, d.prog), 0);
	jf_leave(the_rt);
	ck_assert_int_eq(jf_runtime_close(the_rt), JF_ERR_BUSY);
	/* still working: a pinned program survives its eviction */
	ck_assert_int_eq(jf_runtime_evict(the_rt, ids[0]), 0);
	jf_thread_offline(the_rt);
	end = jf_now_ns() + 5000000000ull;
	while (jf_now_ns() < end) {
		jf_stats_t s;

		ck_assert_int_eq(jf_runtime_stats(the_rt, &s, sizeof(s)), 0);
		if (s.evicted == 1 && s.programs == 0)
			break;
		usleep(2000);
	}
	usleep(50 * 1000);      /* several reclaim rounds */
	ck_assert_int_eq((int)((nest_fn)d.fn)(0, 5), (5 + 0) * 3 + 0);
	jf_program_unpin(the_rt, d.prog);
	ck_assert_int_eq(jf_runtime_close(the_rt), 0);
}
END_TEST
#endif

int
main(void)
{
	Suite *s = suite_create("reenter");
	TCase *tc = tcase_create("reenter");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_nested_under_eviction_storm);
#ifndef JF_REENTER_TODAY
	tcase_add_test(tc, test_close_with_pins);
#endif
	suite_add_tcase(s, tc);
	return jft_suite_run(s) != 0;
}
