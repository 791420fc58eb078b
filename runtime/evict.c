/*
 * evict.c - expiry, eviction and use ticks (evict.h). Runs on the backend
 * thread under rt->lock; an evicted record turns R_GONE and dirty, so the
 * next published map drops it, and its program is retired with that map
 * (freed once no reader, scope or pin can still hold it: publish.c).
 *
 * Exact idle eviction. With idle eviction or a code budget on, every hit
 * stores the current use tick into its map
 * slot when the slot does not show it already (one store per program per
 * tick). A tick lasts tick_ms (1/16 of the idle time, at least the drain
 * interval); the start of the last JF_TICK_HIST ticks is remembered. A
 * mark m therefore says "used before tick m + 1 began", and the latest
 * tick says "used until now". A program is idle only when the latest
 * mark found for it, in the current map, in retired maps not yet freed,
 * or folded from freed ones into its record, ended at least the idle
 * time ago. Sampling plays no part: a program used within the window is
 * never evicted for idleness, and one unused is evicted at most one tick
 * (plus a 50 ms scan) late.
 */
#include <string.h>

#include "evict.h"
#include "registry.h"

void
jf_evict_ticks_init(jf_runtime_t *rt, uint64_t now)
{
	uint64_t idle = (uint64_t)TUNE(rt, JF_TUNE_IDLE_EVICT_MS);
	uint64_t g = idle > 0 ? idle / 16 : 50;

	/* without idle eviction or a budget nobody reads the marks: the
	 * tick stays 0 and hits store nothing */
	if (idle == 0 && TUNE(rt, JF_TUNE_CODE_BUDGET) == 0)
		return;
	if (g < (uint64_t)TUNE(rt, JF_TUNE_DRAIN_INTERVAL_MS))
		g = (uint64_t)TUNE(rt, JF_TUNE_DRAIN_INTERVAL_MS);
	rt->tick_ms = g > 0 ? g : 1;
	rt->tick_start[1 % JF_TICK_HIST] = now;
	atomic_store(&rt->rs.tick, 1);
}

void
jf_evict_tick(jf_runtime_t *rt, uint64_t now)
{
	uint32_t cur = atomic_load_explicit(&rt->rs.tick, memory_order_relaxed);

	if (cur == 0 || now - rt->tick_start[cur % JF_TICK_HIST] < rt->tick_ms)
		return;
	rt->tick_start[(cur + 1) % JF_TICK_HIST] = now;
	atomic_store_explicit(&rt->rs.tick, cur + 1, memory_order_relaxed);
}

/* The latest time a use marked with tick m can have happened. */
static uint64_t
tick_end(const jf_runtime_t *rt, uint32_t m, uint64_t now)
{
	uint32_t cur = atomic_load_explicit(&rt->rs.tick, memory_order_relaxed);

	if (m >= cur)
		return now;
	if (cur - m >= JF_TICK_HIST - 1)
		m = cur - (JF_TICK_HIST - 2);   /* older than the history: no later than this */
	return rt->tick_start[(m + 1) % JF_TICK_HIST];
}

/* The use mark of r's program in map m (0: none). */
static uint32_t
mark_in(const jf_map_t *m, const jf_rec_t *r)
{
	const jf_mslot_t *s = jf_map_find(m, r->id);

	if (s == NULL || s->meta != (uintptr_t)r->prog)
		return 0;
	return atomic_load_explicit(&((jf_mslot_t *)s)->used, memory_order_relaxed);
}

static void
raise_tick(jf_rec_t *r, uint32_t t)
{
	if (t > r->last_tick)
		r->last_tick = t;
}

void
jf_evict_fold_map(jf_runtime_t *rt, const jf_map_t *m)
{
	uint64_t i;

	for (i = 0; m != NULL && i < m->cap; i++) {
		const jf_mslot_t *s = &m->slots[i];
		uint32_t u;
		jf_rec_t *r;

		if (s->fn == NULL || (u = atomic_load_explicit(&((jf_mslot_t *)s)->used,
		    memory_order_relaxed)) == 0)
			continue;
		if ((r = jf_idtab_get(&rt->reg, s->id)) != NULL && r->state == R_LOADED &&
		    (uintptr_t)r->prog == s->meta)
			raise_tick(r, u);
	}
}

/* Bring r->last_tick up to every mark a reader may have left (lock held). */
static void
gather_marks(jf_runtime_t *rt, jf_rec_t *r)
{
	size_t i;

	raise_tick(r, mark_in(atomic_load(&rt->rs.map), r));
	for (i = 0; i < rt->nretired; i++)
		if (rt->retired[i].map != NULL)
			raise_tick(r, mark_in(rt->retired[i].map, r));
}

/* Take r's program out of the registry into gone[n]/notes[n]. */
static void
evict_rec(jf_runtime_t *rt, jf_rec_t *r, jf_program_t **gone, jf_evict_note_t *notes,
    size_t n)
{
	memcpy(notes[n].id, r->id, 32);
	notes[n].key = r->prog->key;
	gone[n] = r->prog;
	rt->code_bytes -= r->prog->code_bytes;
	r->prog = NULL;
	r->state = R_GONE;
	r->evict_req = 0;
	jf_reg_mark_dirty(rt, r);
}

size_t
jf_evict_scan(jf_runtime_t *rt, uint64_t now, jf_program_t **gone, jf_evict_note_t *notes,
    size_t max)
{
	uint64_t idle = (uint64_t)TUNE(rt, JF_TUNE_IDLE_EVICT_MS);
	uint64_t budget = (uint64_t)TUNE(rt, JF_TUNE_CODE_BUDGET);
	int asked = 0;
	size_t i, n = 0;

	for (i = 0; i < rt->reg.cap && n < max; i++) {
		jf_rec_t *r = rt->reg.ents[i].val;

		if (r == NULL)
			continue;
		if (r->state == R_NEG && r->expires_ms <= now) {
			r->state = R_GONE;
			jf_reg_mark_dirty(rt, r);
			continue;
		}
		if (r->state != R_LOADED)
			continue;
		if (r->evict_req) {
			evict_rec(rt, r, gone, notes, n++);
			continue;
		}
		if (idle == 0 || r->dirty)
			continue;
		gather_marks(rt, r);
		if (now - tick_end(rt, r->last_tick, now) >= idle)
			evict_rec(rt, r, gone, notes, n++);
	}
	for (i = 0; i < rt->reg.cap && !asked; i++) {
		jf_rec_t *r = rt->reg.ents[i].val;

		asked = r != NULL && r->state == R_LOADED && r->evict_req;
	}
	rt->evict_asked = asked;
	/* over the budget, or a load waits for room (artifact.c) */
	while (budget > 0 && rt->code_bytes + rt->room_wanted > budget && n < max) {
		jf_rec_t *lru = NULL;

		for (i = 0; i < rt->reg.cap; i++) {
			jf_rec_t *r = rt->reg.ents[i].val;

			if (r == NULL || r->state != R_LOADED)
				continue;
			gather_marks(rt, r);
			if (lru == NULL || r->last_tick < lru->last_tick)
				lru = r;
		}
		if (lru == NULL)
			break;
		evict_rec(rt, lru, gone, notes, n++);
	}
	return n;
}
