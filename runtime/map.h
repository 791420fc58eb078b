/*
 * map.h - the runtime's read side: the immutable program map, the
 * per-thread slots (quiescent-state counters, counters, event rings) and
 * the reclamation of retired maps and programs.
 *
 * This part needs nothing but libc, C11 atomics and common/mem.c (its
 * memory comes from jf_malloc), so the concurrency test can be built on
 * its own under ThreadSanitizer.
 *
 * The map is an open-addressing table with linear probing, built once and
 * never written after it is published. Readers load the current map with
 * one acquire load. A writer builds a new map, publishes it with one
 * release store, and retires the old one tagged with the epoch it bumps
 * right after. A reader announces, at the start of each lookup, the epoch
 * it has seen (a plain store, no fence): a value >= T proves that the
 * reader loaded the epoch after the writer's bump, so the map it loads
 * next is the new one, and by the quiescent-state contract it no longer
 * holds anything from before. Objects retired at T are freed once every
 * online slot shows >= T. Only a slot coming back online needs a full
 * fence (see jf_qs_online).
 */
#ifndef JF_RT_MAP_H
#define JF_RT_MAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define JF_QS_FREE 0                    /* slot unused */
#define JF_QS_OFFLINE UINT64_MAX        /* slot owned, thread holds nothing */

/* A map entry: 48 bytes. meta == 0 marks an empty slot; a compiled entry
 * has meta = the program pointer (never < 4096); a negative entry has
 * fn == NULL and meta = its jf_reason_t. */
typedef struct jf_mslot {
	uint64_t id[4];
	void *fn;
	uintptr_t meta;
} jf_mslot_t;

typedef struct jf_map {
	uint64_t cap;                   /* slots */
	uint64_t n;                     /* entries */
	uint64_t bytes;                 /* allocation size, for accounting */
	void *mem;                      /* the allocation (slots are aligned inside) */
	jf_mslot_t *slots;
} jf_map_t;

/* Slot index of an id: multiply-shift of its first word onto [0, cap). */
static inline uint64_t
jf_map_home(uint64_t k0, uint64_t cap)
{
	return (uint64_t)(((unsigned __int128)(k0 * 0x9E3779B97F4A7C15ull) * cap) >> 64);
}

/* Find id in m; NULL when absent. m may be NULL. */
static inline const jf_mslot_t *
jf_map_find(const jf_map_t *m, const uint64_t id[4])
{
	uint64_t i, cap;
	const jf_mslot_t *s;

	if (m == NULL || m->n == 0)
		return NULL;
	cap = m->cap;
	i = jf_map_home(id[0], cap);
	for (;;) {
		s = &m->slots[i];
		if (s->meta == 0)
			return NULL;
		if (s->id[0] == id[0] && s->id[1] == id[1] && s->id[2] == id[2] &&
		    s->id[3] == id[3])
			return s;
		if (++i == cap)
			i = 0;
	}
}

/* A new empty map for up to n entries (load factor <= 0.7). Returns NULL
 * when out of memory. */
jf_map_t *jf_map_new(uint64_t n);
/* Insert or replace; the map must have room (built with jf_map_new(n)). */
void jf_map_put(jf_map_t *m, const uint64_t id[4], void *fn, uintptr_t meta);
/*
 * A new map: old's entries, minus the ids in dels, plus adds (replacing
 * equal ids). Copies old's slots wholesale when nothing is removed and
 * the result fits; rehashes otherwise, with room to grow. NULL on OOM.
 */
jf_map_t *jf_map_derive(const jf_map_t *old,
    const jf_mslot_t *adds, size_t nadds, const uint64_t (*dels)[4], size_t ndels);
void jf_map_free(jf_map_t *m);

/* ---- per-thread slots ---------------------------------------------------- */

enum { JF_EV_MISS = 1, JF_EV_HIT = 2 };

typedef struct jf_lev {
	uint64_t id[4];
	uint32_t kind;
	uint32_t pad;
} jf_lev_t;

/* One per thread that looks up; cache-line aligned, owner-written except
 * for tail (the consumer's) and qs transitions at release. */
typedef struct jf_tslot {
	_Alignas(64) _Atomic uint64_t qs;       /* epoch seen, FREE or OFFLINE */
	_Atomic uint64_t hits, misses, negative, dropped;
	uint32_t sample;                        /* owner-only hit sampling counter */
	_Atomic uint32_t head;                  /* producer position */
	_Atomic uintptr_t owner;                /* owning thread's token */
	struct jf_readside *rs;                 /* back pointer for the exit hook */
	_Alignas(64) _Atomic uint32_t tail;     /* consumer position */
	uint32_t mask;                          /* ring size - 1 */
	jf_lev_t *ring;
} jf_tslot_t;

/* The shared read-side state of one runtime. */
typedef struct jf_readside {
	pthread_key_t key;                      /* releases a slot at thread exit */
	_Alignas(64) _Atomic(jf_map_t *) map;
	_Atomic uint64_t epoch;                 /* starts at 1 */
	uint32_t sample_mask;                   /* hit sampling: record when (n & mask) == 0 */
	int enabled;
	uint64_t id;                            /* unique per runtime, for the TLS cache */
	jf_tslot_t *slots;              /* aligned inside slots_mem */
	void *slots_mem;
	uint32_t nslots;
	int key_ok;
	/* counters of slots whose threads have gone */
	_Atomic uint64_t gone_hits, gone_misses, gone_negative, gone_dropped, no_slot;
} jf_readside_t;

int jf_readside_init(jf_readside_t *rs, uint32_t nslots,
    uint32_t ring_size, uint32_t sample);
void jf_readside_fini(jf_readside_t *rs);

/* A small per-thread cache of (runtime id, slot) pairs. */
typedef struct jf_tls_ent {
	uint64_t id;
	jf_tslot_t *ts;
} jf_tls_ent_t;
#define JF_TLS_CACHE 4
extern __thread jf_tls_ent_t jf_tls_cache[JF_TLS_CACHE]
	__attribute__((tls_model("initial-exec")));

jf_tslot_t *jf_tslot_get_slow(jf_readside_t *rs);

/* The calling thread's slot, claiming one on first use; NULL when every
 * slot is taken. One thread-local load and compare after the first call. */
static inline jf_tslot_t *
jf_tslot_get(jf_readside_t *rs)
{
	if (__builtin_expect(jf_tls_cache[0].id == rs->id, 1))
		return jf_tls_cache[0].ts;
	return jf_tslot_get_slow(rs);
}

/* The calling thread's slot if it has one; never claims. */
jf_tslot_t *jf_tslot_peek(jf_readside_t *rs);

/* Owner-only counter bump: a plain load and store, no lock prefix. */
static inline void
jf_ctr_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}
/* Give up the calling thread's slot on rs (folds its counters). */
void jf_tslot_release(jf_readside_t *rs, jf_tslot_t *ts);
/* Forget rs in this thread's cache (at close). */
void jf_tslot_forget(jf_readside_t *rs);

/*
 * The core of jf_lookup: announce, load the map, probe, record. Returns
 * the entry or NULL; *reason is set for both. Never blocks.
 */
static inline const jf_mslot_t *
jf_rs_lookup(jf_readside_t *rs, jf_tslot_t *ts, const uint64_t id[4])
{
	const jf_mslot_t *s;
	const jf_map_t *m;
	uint64_t e = atomic_load_explicit(&rs->epoch, memory_order_acquire);

	if (__builtin_expect(atomic_load_explicit(&ts->qs, memory_order_relaxed) ==
	    JF_QS_OFFLINE, 0)) {
		/* coming back online: the writer may have skipped this slot, so
		 * this is the Dekker case against jf_rs_publish and
		 * jf_rs_min_epoch; sequentially consistent store and load */
		atomic_store_explicit(&ts->qs, e, memory_order_seq_cst);
		m = atomic_load_explicit(&rs->map, memory_order_seq_cst);
	} else {
		atomic_store_explicit(&ts->qs, e, memory_order_release);
		m = atomic_load_explicit(&rs->map, memory_order_acquire);
	}
	s = jf_map_find(m, id);
	return s;
}

/* Record an event in the slot's ring; drops and counts when full. */
static inline void
jf_rs_event(jf_tslot_t *ts, const uint64_t id[4], uint32_t kind)
{
	uint32_t h = atomic_load_explicit(&ts->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&ts->tail, memory_order_acquire);
	jf_lev_t *ev;

	if (h - t > ts->mask) {
			jf_ctr_inc(&ts->dropped);
		return;
	}
	ev = &ts->ring[h & ts->mask];
	ev->id[0] = id[0];
	ev->id[1] = id[1];
	ev->id[2] = id[2];
	ev->id[3] = id[3];
	ev->kind = kind;
	atomic_store_explicit(&ts->head, h + 1, memory_order_release);
}

/* Drain up to max events from every slot into fn; returns how many. */
typedef void (*jf_lev_fn)(const jf_lev_t *ev, void *arg);
size_t jf_rs_drain(jf_readside_t *rs, jf_lev_fn fn, void *arg, size_t max);

/* Publish a new map; returns the epoch the old one is retired with
 * (free it once jf_rs_safe(rs, epoch) is true). */
uint64_t jf_rs_publish(jf_readside_t *rs, jf_map_t *m, jf_map_t **old);
/* Bump the epoch for something unpublished (an evicted program). */
uint64_t jf_rs_retire_epoch(jf_readside_t *rs);
/* True when every online slot has passed epoch. */
int jf_rs_safe(jf_readside_t *rs, uint64_t epoch);
/* The lowest epoch announced by an online slot (UINT64_MAX when none). */
uint64_t jf_rs_min_epoch(jf_readside_t *rs);

/* Counter totals over live and gone slots. */
void jf_rs_counts(jf_readside_t *rs, uint64_t *hits,
    uint64_t *misses, uint64_t *negative, uint64_t *dropped, uint64_t *no_slot);

/* Load 32 bytes as four words (unaligned-safe). */
static inline void
jf_id_words(const uint8_t *p, uint64_t w[4])
{
	__builtin_memcpy(w, p, 32);
}

#endif
