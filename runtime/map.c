/*
 * map.c - the immutable program map, per-thread slots and reclamation
 * (the read side described in map.h).
 *
 * Maps are built by one writer and never changed once published; a
 * successor is derived by copying the old slots wholesale (when nothing is
 * removed and the load stays under 0.7) or by rehashing. Thread slots are
 * preallocated at open, so a thread's first lookup claims one with a
 * compare-and-swap and never allocates; a pthread key gives the slot back
 * when the thread exits.
 */
#include <pthread.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "map.h"

__thread jf_tls_ent_t jf_tls_cache[JF_TLS_CACHE]
	__attribute__((tls_model("initial-exec")));
/* The address of this thread-local is the thread's token. */
static __thread char tls_token __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t rs_next_id = 1;

/* ---- maps ------------------------------------------------------------------ */

jf_map_t *
jf_map_new(uint64_t n)
{
	jf_map_t *m;
	uint64_t cap = n + n * 3 / 7 + 1;       /* load <= 0.7 */

	if (cap < 8)
		cap = 8;
	if (cap > (UINT64_MAX - 64) / sizeof(jf_mslot_t))
		return NULL;
	if ((m = jf_calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->cap = cap;
	m->bytes = cap * sizeof(jf_mslot_t) + 64;
	if ((m->mem = jf_calloc(1, m->bytes)) == NULL) {
		jf_free(m);
		return NULL;
	}
	m->slots = (jf_mslot_t *)(((uintptr_t)m->mem + 63) & ~(uintptr_t)63);
	return m;
}

void
jf_map_free(jf_map_t *m)
{
	if (m == NULL)
		return;
	jf_free(m->mem);
	jf_free(m);
}

void
jf_map_put(jf_map_t *m, const uint64_t id[4], void *fn, uintptr_t meta)
{
	uint64_t i = jf_map_home(id[0], m->cap);
	jf_mslot_t *s;

	for (;;) {
		s = &m->slots[i];
		if (s->meta == 0) {
			memcpy(s->id, id, 32);
			m->n++;
			break;
		}
		if (memcmp(s->id, id, 32) == 0)
			break;
		if (++i == m->cap)
			i = 0;
	}
	s->fn = fn;
	s->meta = meta;
}

static int
in_dels(const uint64_t id[4], const uint64_t (*dels)[4], size_t ndels)
{
	size_t i;

	for (i = 0; i < ndels; i++)
		if (memcmp(dels[i], id, 32) == 0)
			return 1;
	return 0;
}

jf_map_t *
jf_map_derive(const jf_map_t *old, const jf_mslot_t *adds,
    size_t nadds, const uint64_t (*dels)[4], size_t ndels)
{
	uint64_t oldn = old ? old->n : 0, i;
	jf_map_t *m;

	if (old != NULL && ndels == 0 && oldn + nadds <= old->cap * 7 / 10) {
		/* same geometry: copy the slots, then insert */
		if ((m = jf_calloc(1, sizeof(*m))) == NULL)
			return NULL;
		m->cap = old->cap;
		m->bytes = old->bytes;
		if ((m->mem = jf_malloc(m->bytes)) == NULL) {
			jf_free(m);
			return NULL;
		}
		m->slots = (jf_mslot_t *)(((uintptr_t)m->mem + 63) & ~(uintptr_t)63);
		memcpy(m->slots, old->slots, old->cap * sizeof(jf_mslot_t));
		m->n = old->n;
	} else {
		/* rehash, leaving room to grow so the next derive can copy */
		if ((m = jf_map_new((oldn + nadds) * 2)) == NULL)
			return NULL;
		for (i = 0; old != NULL && i < old->cap; i++) {
			const jf_mslot_t *s = &old->slots[i];

			if (s->meta != 0 && (ndels == 0 || !in_dels(s->id, dels, ndels)))
				jf_map_put(m, s->id, s->fn, s->meta);
		}
	}
	for (i = 0; i < nadds; i++)
		jf_map_put(m, adds[i].id, adds[i].fn, adds[i].meta);
	return m;
}

/* ---- thread slots -------------------------------------------------------------- */

static void
tslot_exit(void *p)
{
	jf_tslot_t *ts = p;

	if (ts != NULL && ts->rs != NULL)
		jf_tslot_release(ts->rs, ts);
}

int
jf_readside_init(jf_readside_t *rs, uint32_t nslots,
    uint32_t ring_size, uint32_t sample)
{
	uint32_t i, rsz = 16;
	size_t bytes;

	memset(rs, 0, sizeof(*rs));
	atomic_init(&rs->epoch, 1);
	rs->id = atomic_fetch_add(&rs_next_id, 1);
	rs->enabled = 1;
	while (rsz < ring_size && rsz < (1u << 24))
		rsz <<= 1;
	if (sample == 0)
		sample = 1;
	while (sample & (sample - 1))
		sample &= sample - 1;   /* round down to a power of two */
	rs->sample_mask = sample - 1;
	if (nslots == 0)
		nslots = 1;
	bytes = (size_t)nslots * sizeof(jf_tslot_t) + 64;
	if ((rs->slots_mem = jf_calloc(1, bytes)) == NULL)
		return JF_ERR_NOMEM;
	rs->slots = (jf_tslot_t *)(((uintptr_t)rs->slots_mem + 63) & ~(uintptr_t)63);
	rs->nslots = nslots;
	for (i = 0; i < nslots; i++) {
		jf_tslot_t *ts = &rs->slots[i];

		ts->rs = rs;
		ts->mask = rsz - 1;
		if ((ts->ring = jf_reallocarray(NULL, rsz, sizeof(jf_lev_t))) == NULL) {
			rs->nslots = i;
			return JF_ERR_NOMEM;
		}
	}
	if (pthread_key_create(&rs->key, tslot_exit) != 0)
		return JF_ERR_SYSTEM;
	rs->key_ok = 1;
	return 0;
}

void
jf_readside_fini(jf_readside_t *rs)
{
	uint32_t i;

	if (rs->key_ok)
		pthread_key_delete(rs->key);
	rs->key_ok = 0;
	jf_tslot_forget(rs);
	for (i = 0; rs->slots != NULL && i < rs->nslots; i++)
		jf_free(rs->slots[i].ring);
	jf_free(rs->slots_mem);
	rs->slots = NULL;
	rs->slots_mem = NULL;
}

static void
cache_insert(uint64_t id, jf_tslot_t *ts)
{
	int i;

	for (i = JF_TLS_CACHE - 1; i > 0; i--)
		jf_tls_cache[i] = jf_tls_cache[i - 1];
	jf_tls_cache[0].id = id;
	jf_tls_cache[0].ts = ts;
}

jf_tslot_t *
jf_tslot_get_slow(jf_readside_t *rs)
{
	uintptr_t me = (uintptr_t)&tls_token;
	jf_tslot_t *ts = NULL;
	uint32_t i;

	for (i = 1; i < JF_TLS_CACHE; i++) {
		if (jf_tls_cache[i].id == rs->id) {
			ts = jf_tls_cache[i].ts;
			jf_tls_cache[i].id = 0;
			cache_insert(rs->id, ts);
			return ts;
		}
	}
	/* a slot this thread owns but the cache forgot */
	for (i = 0; i < rs->nslots; i++) {
		jf_tslot_t *s = &rs->slots[i];

		if (atomic_load(&s->owner) == me &&
		    atomic_load(&s->qs) != JF_QS_FREE) {
			cache_insert(rs->id, s);
			return s;
		}
	}
	for (i = 0; i < rs->nslots; i++) {
		jf_tslot_t *s = &rs->slots[i];
		uint64_t expect = JF_QS_FREE;

		if (atomic_load_explicit(&s->qs, memory_order_relaxed) != JF_QS_FREE)
			continue;
		if (!atomic_compare_exchange_strong(&s->qs, &expect, JF_QS_OFFLINE))
			continue;
		atomic_store(&s->owner, me);
		s->sample = 0;
		/* registration, not the read path: may allocate in libc once */
		pthread_setspecific(rs->key, s);
		cache_insert(rs->id, s);
		return s;
	}
	atomic_fetch_add_explicit(&rs->no_slot, 1, memory_order_relaxed);
	return NULL;
}

jf_tslot_t *
jf_tslot_peek(jf_readside_t *rs)
{
	uintptr_t me = (uintptr_t)&tls_token;
	uint32_t i;

	for (i = 0; i < JF_TLS_CACHE; i++)
		if (jf_tls_cache[i].id == rs->id)
			return jf_tls_cache[i].ts;
	for (i = 0; i < rs->nslots; i++)
		if (atomic_load(&rs->slots[i].owner) == me &&
		    atomic_load(&rs->slots[i].qs) != JF_QS_FREE)
			return &rs->slots[i];
	return NULL;
}

void
jf_tslot_release(jf_readside_t *rs, jf_tslot_t *ts)
{
	uint32_t i;

	atomic_fetch_add(&rs->gone_hits, atomic_exchange(&ts->hits, 0));
	atomic_fetch_add(&rs->gone_misses, atomic_exchange(&ts->misses, 0));
	atomic_fetch_add(&rs->gone_negative, atomic_exchange(&ts->negative, 0));
	atomic_fetch_add(&rs->gone_dropped, atomic_exchange(&ts->dropped, 0));
	atomic_store(&ts->owner, 0);
	atomic_store_explicit(&ts->qs, JF_QS_FREE, memory_order_release);
	for (i = 0; i < JF_TLS_CACHE; i++)
		if (jf_tls_cache[i].ts == ts)
			jf_tls_cache[i].id = 0;
}

void
jf_tslot_forget(jf_readside_t *rs)
{
	uint32_t i;

	for (i = 0; i < JF_TLS_CACHE; i++)
		if (jf_tls_cache[i].id == rs->id)
			jf_tls_cache[i].id = 0;
}

/* ---- events and reclamation ------------------------------------------------------- */

size_t
jf_rs_drain(jf_readside_t *rs, jf_lev_fn fn, void *arg, size_t max)
{
	size_t n = 0;
	uint32_t i;

	for (i = 0; i < rs->nslots && n < max; i++) {
		jf_tslot_t *ts = &rs->slots[i];
		uint32_t t = atomic_load_explicit(&ts->tail, memory_order_relaxed);
		uint32_t h = atomic_load_explicit(&ts->head, memory_order_acquire);

		while (t != h && n < max) {
			fn(&ts->ring[t & ts->mask], arg);
			t++;
			n++;
		}
		atomic_store_explicit(&ts->tail, t, memory_order_release);
	}
	return n;
}

uint64_t
jf_rs_publish(jf_readside_t *rs, jf_map_t *m, jf_map_t **old)
{
	*old = atomic_exchange_explicit(&rs->map, m, memory_order_seq_cst);
	return atomic_fetch_add_explicit(&rs->epoch, 1, memory_order_seq_cst) + 1;
}

uint64_t
jf_rs_retire_epoch(jf_readside_t *rs)
{
	return atomic_fetch_add_explicit(&rs->epoch, 1, memory_order_seq_cst) + 1;
}

uint64_t
jf_rs_min_epoch(jf_readside_t *rs)
{
	uint64_t min = UINT64_MAX;
	uint32_t i;

	for (i = 0; i < rs->nslots; i++) {
		uint64_t q = atomic_load_explicit(&rs->slots[i].qs, memory_order_seq_cst);

		if (q != JF_QS_FREE && q != JF_QS_OFFLINE && q < min)
			min = q;
	}
	return min;
}

int
jf_rs_safe(jf_readside_t *rs, uint64_t epoch)
{
	return jf_rs_min_epoch(rs) >= epoch;
}

void
jf_rs_counts(jf_readside_t *rs, uint64_t *hits, uint64_t *misses,
    uint64_t *negative, uint64_t *dropped, uint64_t *no_slot)
{
	uint64_t h = atomic_load(&rs->gone_hits), m = atomic_load(&rs->gone_misses);
	uint64_t n = atomic_load(&rs->gone_negative), d = atomic_load(&rs->gone_dropped);
	uint32_t i;

	for (i = 0; i < rs->nslots; i++) {
		jf_tslot_t *ts = &rs->slots[i];

		h += atomic_load_explicit(&ts->hits, memory_order_relaxed);
		m += atomic_load_explicit(&ts->misses, memory_order_relaxed);
		n += atomic_load_explicit(&ts->negative, memory_order_relaxed);
		d += atomic_load_explicit(&ts->dropped, memory_order_relaxed);
	}
	*hits = h;
	*misses = m;
	*negative = n;
	*dropped = d;
	*no_slot = atomic_load(&rs->no_slot);
}
