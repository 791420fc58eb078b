/*
 * evict.h - what leaves the map: negative entries past their TTL, code
 * idle longer than JF_TUNE_IDLE_EVICT_MS, code the host asked to evict,
 * and the least recently used code while loaded bytes exceed
 * JF_TUNE_CODE_BUDGET; and the use ticks that say what was used when.
 */
#ifndef JF_RT_EVICT_H
#define JF_RT_EVICT_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

/* An evicted program, for the event callback. */
typedef struct jf_evict_note {
	uint64_t id[4];
	jf_key_t key;
} jf_evict_note_t;

/* Set the tick length and start tick 1 (at open, before any lookup). */
void jf_evict_ticks_init(jf_runtime_t *rt, uint64_t now);
/* Start a new use tick when the current one is over (backend thread,
 * lock held). */
void jf_evict_tick(jf_runtime_t *rt, uint64_t now);
/* Fold the use marks of a retired map into the records (lock held),
 * before the map is freed. */
void jf_evict_fold_map(jf_runtime_t *rt, const jf_map_t *m);
/* One scan at time now (lock held): expired negative entries leave the
 * map; evicted programs (at most max) go to gone[], which the caller
 * retires with the next publish, and notes[]. Returns how many. */
size_t jf_evict_scan(jf_runtime_t *rt, uint64_t now, jf_program_t **gone,
    jf_evict_note_t *notes, size_t max);

#endif
