/*
 * registry.h - the writer side's records: one per program id the runtime
 * knows (queued, loaded, negative or leaving), the dirty list that feeds
 * the next published map, and the set of artifact keys already handled.
 * Functions marked "lock held" need rt->lock; the others take it.
 */
#ifndef JF_RT_REGISTRY_H
#define JF_RT_REGISTRY_H

#include <stdint.h>

#include "rt.h"

/* A new record for id in state (lock held); NULL when out of memory. */
jf_rec_t *jf_reg_rec_new(jf_runtime_t *rt, const uint64_t id[4], int state);
/* Mark a record for the next map and wake the backend (lock held). */
void jf_reg_mark_dirty(jf_runtime_t *rt, jf_rec_t *r);
/* Put a loaded program into the registry (lock held). Returns 1 when it
 * was taken, 0 when the id was already loaded or memory ran out (the
 * caller frees p). The event kind is reported once lookups can see it. */
int jf_reg_install(jf_runtime_t *rt, const uint64_t id[4], jf_program_t *p, int kind,
    uint64_t ns);
/* A negative outcome for id, remembered for the negative TTL (lock held). */
void jf_reg_set_negative(jf_runtime_t *rt, const uint64_t id[4], int reason, int result);

/* The set of artifact keys already handled (takes rt->lock). */
int jf_reg_seen_test(jf_runtime_t *rt, const jf_key_t *k);
void jf_reg_seen_mark(jf_runtime_t *rt, const jf_key_t *k);
void jf_reg_seen_unmark(jf_runtime_t *rt, const jf_key_t *k);

#endif
