/*
 * test_map.c - the read side under fire: 8 threads look up while a
 * writer swaps the map thousands of times, adding and removing programs.
 *
 * What is checked:
 *   - a key present in every map is never missed (no spurious miss while
 *     the writer works);
 *   - an entry's fields always belong together (no torn read): fn and the
 *     program both derive from the id;
 *   - no reader ever sees reclaimed memory: retired programs are marked
 *     dead (not freed) when reclamation decides they are safe, and readers
 *     assert every program they get is alive; retired maps are poisoned
 *     and then really freed, so the sanitizer builds catch a premature
 *     free as a use-after-free;
 *   - per-thread counters add up exactly once the readers are done.
 * This file needs only runtime/map.c, so tests/runtime/test_tsan.sh can
 * build it under ThreadSanitizer by itself.
 */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/map.h"
#include "support.h"

#define NREADERS 8
#define NSTABLE 1000
#define NCHURN 64
#define ALIVE 0xA11CEu
#define DEAD 0xDEADu

#ifdef JF_SANITIZE
#define YIELD_EVERY 64
#else
#define YIELD_EVERY 512
#endif

#ifndef SWAPS
#ifdef JF_SANITIZE
#define SWAPS 500               /* the sanitizer build is 10-20x slower */
#else
#define SWAPS 3000
#endif
#endif

typedef struct prog {
	uint64_t id0;
	_Atomic unsigned magic;
} prog_t;

typedef struct retired {
	uint64_t epoch;
	jf_map_t *map;                  /* or */
	prog_t *prog;
} retired_t;

static jf_readside_t rs;
static _Atomic int stop;
static _Atomic uint64_t errors_miss, errors_torn, errors_dead;
static uint64_t stable[NSTABLE][4];
static _Atomic uint64_t churn_ids[NCHURN][4];     /* the current generation */

static void
make_id(uint64_t id[4], uint64_t a, uint64_t b)
{
	id[0] = a * 0x9E3779B97F4A7C15ull + b;
	id[1] = ~a;
	id[2] = b * 31 + 7;
	id[3] = a ^ (b << 17);
}

static void *
fn_of(const uint64_t id[4])
{
	return (void *)(uintptr_t)((id[0] ^ id[3]) | 1);
}

static void
check_slot(const jf_mslot_t *s, const uint64_t id[4])
{
	prog_t *p = (prog_t *)s->meta;

	if (s->fn != fn_of(id) || p == NULL || p->id0 != id[0])
		atomic_fetch_add(&errors_torn, 1);
	else if (atomic_load_explicit(&p->magic, memory_order_relaxed) != ALIVE)
		atomic_fetch_add(&errors_dead, 1);
}

typedef struct rstat {
	uint64_t lookups, hits, misses;
} rstat_t;

static void *
reader(void *arg)
{
	rstat_t *st = arg;
	uint64_t i = 0, r = (uint64_t)(uintptr_t)arg;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		jf_tslot_t *ts = jf_tslot_get(&rs);
		const jf_mslot_t *s;
		uint64_t id[4];

		ck_assert_ptr_nonnull(ts);
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		if ((r >> 33) % 4 == 0) {
			/* a churning key: may or may not be there */
			unsigned k = (unsigned)((r >> 40) % NCHURN), j;

			for (j = 0; j < 4; j++)
				id[j] = atomic_load_explicit(&churn_ids[k][j], memory_order_relaxed);
			s = jf_rs_lookup(&rs, ts, id);
			if (s != NULL) {
				check_slot(s, id);
				jf_ctr_inc(&ts->hits);
				st->hits++;
			} else {
				jf_ctr_inc(&ts->misses);
				jf_rs_event(ts, id, JF_EV_MISS);
				st->misses++;
			}
		} else {
			const uint64_t *sid = stable[(r >> 40) % NSTABLE];

			s = jf_rs_lookup(&rs, ts, sid);
			if (s == NULL) {
				atomic_fetch_add(&errors_miss, 1);
				jf_ctr_inc(&ts->misses);
				st->misses++;
			} else {
				check_slot(s, sid);
				jf_ctr_inc(&ts->hits);
				st->hits++;
			}
		}
		st->lookups++;
		/* now and then, go offline the way jf_thread_offline does */
		if (++i % 4096 == 0)
			atomic_store_explicit(&ts->qs, JF_QS_OFFLINE, memory_order_release);
		/* 8 readers share 2 cores with the writer: let it run */
		if (i % YIELD_EVERY == 0)
			sched_yield();
	}
	return NULL;
}

static void
drain_fn(const jf_lev_t *ev, void *arg)
{
	(*(uint64_t *)arg)++;
	(void)ev;
}

START_TEST(test_swap_storm)
{
	pthread_t th[NREADERS];
	rstat_t st[NREADERS];
	retired_t *ret;
	size_t nret = 0, cap = 1 << 16, i, j, freed = 0;
	jf_mslot_t adds[NCHURN + NSTABLE];
	uint64_t dels[NCHURN][4], drained = 0, hits, misses, neg, dropped, noslot;
	uint64_t tot_l = 0, tot_h = 0, tot_m = 0;
	prog_t *cur[NCHURN], **graveyard;
	size_t ngrave = 0;
	jf_map_t *m, *old;
	int gen;

	ck_assert_int_eq(jf_readside_init(&rs, NREADERS + 2, 1024), 0);
	ret = calloc(cap, sizeof(*ret));
	graveyard = calloc((size_t)(SWAPS + 2) * NCHURN + NSTABLE, sizeof(*graveyard));
	/* the first map: stable keys plus generation 0 of the churning ones */
	for (i = 0; i < NSTABLE; i++) {
		prog_t *p = calloc(1, sizeof(*p));

		make_id(stable[i], i, 1);
		p->id0 = stable[i][0];
		atomic_init(&p->magic, ALIVE);
		graveyard[ngrave++] = p;
		memcpy(adds[i].id, stable[i], 32);
		adds[i].fn = fn_of(stable[i]);
		adds[i].meta = (uintptr_t)p;
	}
	for (i = 0; i < NCHURN; i++) {
		uint64_t id[4];

		make_id(id, i, 1000);
		cur[i] = calloc(1, sizeof(prog_t));
		cur[i]->id0 = id[0];
		atomic_init(&cur[i]->magic, ALIVE);
		for (j = 0; j < 4; j++)
			atomic_store(&churn_ids[i][j], id[j]);
		memcpy(adds[NSTABLE + i].id, id, 32);
		adds[NSTABLE + i].fn = fn_of(id);
		adds[NSTABLE + i].meta = (uintptr_t)cur[i];
	}
	m = jf_map_derive(NULL, adds, NSTABLE + NCHURN, NULL, 0);
	ck_assert_ptr_nonnull(m);
	jf_rs_publish(&rs, m, &old);
	ck_assert_ptr_null(old);

	memset(st, 0, sizeof(st));
	for (i = 0; i < NREADERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader, &st[i]), 0);

	for (gen = 1; gen <= SWAPS; gen++) {
		/* replace half of the churning keys with a new generation */
		size_t na = 0, nd = 0;
		uint64_t epoch;
		prog_t *gone[NCHURN];
		size_t ngone = 0;

		for (i = (size_t)gen % 2; i < NCHURN; i += 2) {
			uint64_t id[4];

			for (j = 0; j < 4; j++)
				dels[nd][j] = atomic_load(&churn_ids[i][j]);
			nd++;
			gone[ngone++] = cur[i];
			make_id(id, i, 1000 + (uint64_t)gen);
			cur[i] = calloc(1, sizeof(prog_t));
			cur[i]->id0 = id[0];
			atomic_init(&cur[i]->magic, ALIVE);
			memcpy(adds[na].id, id, 32);
			adds[na].fn = fn_of(id);
			adds[na].meta = (uintptr_t)cur[i];
			na++;
		}
		m = jf_map_derive(atomic_load(&rs.map), adds, na,
		    (const uint64_t (*)[4])dels, nd);
		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(m->n, NSTABLE + NCHURN);
		epoch = jf_rs_publish(&rs, m, &old);
		/* readers pick ids of the new generation only after the swap */
		for (i = (size_t)gen % 2, j = 0; i < NCHURN; i += 2, j++) {
			size_t w;

			for (w = 0; w < 4; w++)
				atomic_store(&churn_ids[i][w], adds[j].id[w]);
		}
		ck_assert_uint_lt(nret + 1 + ngone, cap);
		ret[nret].epoch = epoch;
		ret[nret].map = old;
		ret[nret++].prog = NULL;
		for (i = 0; i < ngone; i++) {
			ret[nret].epoch = epoch;
			ret[nret].map = NULL;
			ret[nret++].prog = gone[i];
		}
		/* reclaim what every reader has moved past */
		{
			uint64_t min = jf_rs_min_epoch(&rs);
			size_t k = 0;

			for (i = 0; i < nret; i++) {
				if (ret[i].epoch <= min) {
					if (ret[i].map != NULL) {
						memset(ret[i].map->slots, 0xA5,
						    ret[i].map->cap * sizeof(jf_mslot_t));
						jf_map_free(ret[i].map);
					} else {
						atomic_store(&ret[i].prog->magic, DEAD);
						graveyard[ngrave++] = ret[i].prog;
					}
					freed++;
				} else {
					ret[k++] = ret[i];
				}
			}
			nret = k;
		}
		if (gen % 64 == 0)
			jf_rs_drain(&rs, drain_fn, &drained, SIZE_MAX);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < NREADERS; i++)
		pthread_join(th[i], NULL);

	ck_assert_uint_eq(atomic_load(&errors_miss), 0);
	ck_assert_uint_eq(atomic_load(&errors_torn), 0);
	ck_assert_uint_eq(atomic_load(&errors_dead), 0);
	/* reclamation made progress while the readers ran */
	ck_assert_uint_gt(freed, (size_t)SWAPS / 2);

	for (i = 0; i < NREADERS; i++) {
		tot_l += st[i].lookups;
		tot_h += st[i].hits;
		tot_m += st[i].misses;
	}
	jf_rs_counts(&rs, &hits, &misses, &neg, &dropped, &noslot);
	ck_assert_uint_eq(hits, tot_h);
	ck_assert_uint_eq(misses, tot_m);
	ck_assert_uint_eq(hits + misses, tot_l);
	ck_assert_uint_eq(noslot, 0);
	jf_rs_drain(&rs, drain_fn, &drained, SIZE_MAX);
	/* every miss event was either drained or counted as dropped */
	ck_assert_uint_eq(drained + dropped, tot_m);
	ck_assert_uint_gt(tot_l, 10000);

	/* teardown: everything left is unreachable now */
	for (i = 0; i < nret; i++) {
		if (ret[i].map != NULL)
			jf_map_free(ret[i].map);
		else
			free(ret[i].prog);
	}
	jf_rs_publish(&rs, NULL, &old);
	jf_map_free(old);
	for (i = 0; i < NCHURN; i++)
		free(cur[i]);
	for (i = 0; i < ngrave; i++)
		free(graveyard[i]);
	free(graveyard);
	free(ret);
	jf_readside_fini(&rs);
}
END_TEST

/* A thread that exits gives its slot back, with its counters. */
static void *
one_lookup(void *arg)
{
	jf_readside_t *r = arg;
	jf_tslot_t *ts = jf_tslot_get(r);
	uint64_t id[4] = { 1, 2, 3, 4 };

	if (ts != NULL) {
		jf_rs_lookup(r, ts, id);
		jf_ctr_inc(&ts->misses);
	}
	return ts;
}

START_TEST(test_slots_recycle)
{
	jf_readside_t r;
	uint64_t h, m, n, d, ns;
	int i;

	ck_assert_int_eq(jf_readside_init(&r, 2, 16), 0);
	for (i = 0; i < 10; i++) {
		pthread_t t;
		void *res;

		ck_assert_int_eq(pthread_create(&t, NULL, one_lookup, &r), 0);
		pthread_join(t, &res);
		ck_assert_ptr_nonnull(res);
	}
	jf_rs_counts(&r, &h, &m, &n, &d, &ns);
	ck_assert_uint_eq(m, 10);
	ck_assert_uint_eq(ns, 0);
	/* a slot held by a thread that is not looking up blocks nothing once
	 * it is offline, and every free slot is ignored */
	ck_assert_uint_eq(jf_rs_min_epoch(&r), UINT64_MAX);
	jf_readside_fini(&r);
}
END_TEST

START_TEST(test_out_of_slots)
{
	jf_readside_t r;
	jf_tslot_t *mine;

	ck_assert_int_eq(jf_readside_init(&r, 1, 16), 0);
	mine = jf_tslot_get(&r);
	ck_assert_ptr_nonnull(mine);
	{
		pthread_t t;
		void *res = (void *)1;

		ck_assert_int_eq(pthread_create(&t, NULL, one_lookup, &r), 0);
		pthread_join(t, &res);
		ck_assert_ptr_null(res);        /* no slot: refused, not blocked */
	}
	ck_assert_uint_eq(atomic_load(&r.no_slot), 1);
	jf_tslot_release(&r, mine);
	jf_readside_fini(&r);
}
END_TEST

START_TEST(test_full_ring_drops)
{
	jf_readside_t r;
	jf_tslot_t *ts;
	uint64_t id[4] = { 9, 9, 9, 9 }, drained = 0, h, m, n, d, ns;
	int i;

	ck_assert_int_eq(jf_readside_init(&r, 1, 16), 0);
	ts = jf_tslot_get(&r);
	for (i = 0; i < 100; i++)
		jf_rs_event(ts, id, JF_EV_MISS);
	jf_rs_counts(&r, &h, &m, &n, &d, &ns);
	ck_assert_uint_eq(d, 100 - 16);
	ck_assert_uint_eq(jf_rs_drain(&r, drain_fn, &drained, SIZE_MAX), 16);
	jf_rs_event(ts, id, JF_EV_MISS);
	ck_assert_uint_eq(jf_rs_drain(&r, drain_fn, &drained, SIZE_MAX), 1);
	jf_tslot_release(&r, ts);
	jf_readside_fini(&r);
}
END_TEST

START_TEST(test_derive_grow)
{
	jf_map_t *m = NULL, *n;
	jf_mslot_t add;
	uint64_t i, id[4];
	static prog_t p = { 0, ALIVE };

	for (i = 0; i < 5000; i++) {
		make_id(add.id, i, 7);
		add.fn = fn_of(add.id);
		add.meta = (uintptr_t)&p;
		n = jf_map_derive(m, &add, 1, NULL, 0);
		ck_assert_ptr_nonnull(n);
		jf_map_free(m);
		m = n;
	}
	ck_assert_uint_eq(m->n, 5000);
	for (i = 0; i < 5000; i++) {
		make_id(id, i, 7);
		ck_assert_ptr_nonnull(jf_map_find(m, id));
	}
	make_id(id, 5001, 7);
	ck_assert_ptr_null(jf_map_find(m, id));
	/* removing every other key rehashes */
	{
		uint64_t (*dels)[4] = calloc(2500, sizeof(*dels));

		for (i = 0; i < 2500; i++)
			make_id(dels[i], i * 2, 7);
		n = jf_map_derive(m, NULL, 0, (const uint64_t (*)[4])dels, 2500);
		ck_assert_uint_eq(n->n, 2500);
		for (i = 0; i < 5000; i++) {
			make_id(id, i, 7);
			ck_assert((jf_map_find(n, id) != NULL) == (i % 2 == 1));
		}
		free(dels);
		jf_map_free(n);
	}
	jf_map_free(m);
}
END_TEST

static Suite *
suite(void)
{
	const TTest *tests[] = {
		test_swap_storm, test_slots_recycle, test_out_of_slots, test_full_ring_drops,
		NULL
	};
	TCase *tc;
	Suite *s = jft_suite("map", 120, tests, &tc);

	if (getenv("JF_MAP_QUICK") == NULL)
		tcase_add_test(tc, test_derive_grow);
	return s;
}

int
main(void)
{
	return jft_suite_run(suite()) != 0;
}
