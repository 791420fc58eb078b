/*
 * evict.h - what leaves the map: negative entries past their TTL, code
 * idle longer than JF_TUNE_IDLE_EVICT_MS, and the least recently used
 * code while loaded bytes exceed JF_TUNE_CODE_BUDGET.
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

/* One scan at time now (lock held): expired negative entries leave the
 * map; evicted programs (at most max) go to gone[], which the caller
 * retires with the next publish, and notes[]. Returns how many. */
size_t jf_evict_scan(jf_runtime_t *rt, uint64_t now, jf_program_t **gone,
    jf_evict_note_t *notes, size_t max);

#endif
