/*
 * evict.c - expiry and eviction (evict.h). Runs on the backend thread
 * under rt->lock; an evicted record turns R_GONE and dirty, so the next
 * published map drops it, and its program is retired with that map.
 */
#include <string.h>

#include "evict.h"
#include "registry.h"

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
	jf_reg_mark_dirty(rt, r);
}

size_t
jf_evict_scan(jf_runtime_t *rt, uint64_t now, jf_program_t **gone, jf_evict_note_t *notes,
    size_t max)
{
	uint64_t idle = (uint64_t)TUNE(rt, JF_TUNE_IDLE_EVICT_MS);
	uint64_t budget = (uint64_t)TUNE(rt, JF_TUNE_CODE_BUDGET);
	size_t i, n = 0;

	for (i = 0; i < rt->reg.cap && n < max; i++) {
		jf_rec_t *r = rt->reg.ents[i].val;

		if (r == NULL)
			continue;
		if (r->state == R_NEG && r->expires_ms <= now) {
			r->state = R_GONE;
			jf_reg_mark_dirty(rt, r);
		} else if (r->state == R_LOADED && idle > 0 && !r->dirty &&
		    now - r->last_used_ms >= idle) {
			evict_rec(rt, r, gone, notes, n++);
		}
	}
	while (budget > 0 && rt->code_bytes > budget && n < max) {
		jf_rec_t *lru = NULL;

		for (i = 0; i < rt->reg.cap; i++) {
			jf_rec_t *r = rt->reg.ents[i].val;

			if (r != NULL && r->state == R_LOADED &&
			    (lru == NULL || r->last_used_ms < lru->last_used_ms))
				lru = r;
		}
		if (lru == NULL)
			break;
		evict_rec(rt, lru, gone, notes, n++);
	}
	return n;
}
