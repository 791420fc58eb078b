/*
 * idtab.h - a growable hash table from 32-byte ids (program ids or
 * artifact keys) to pointers, for the runtime's writer side: the program
 * registry and the set of artifact keys already seen. Linear probing with
 * backward-shift deletion, so there are no tombstones. Not thread-safe:
 * the runtime holds its lock around it.
 */
#ifndef JF_RT_IDTAB_H
#define JF_RT_IDTAB_H

#include <stddef.h>
#include <stdint.h>


typedef struct jf_idtab_ent {
	uint64_t id[4];
	void *val;                      /* NULL marks an empty slot */
} jf_idtab_ent_t;

typedef struct jf_idtab {
	jf_idtab_ent_t *ents;
	size_t cap, n;                  /* cap is a power of two */
} jf_idtab_t;

void jf_idtab_init(jf_idtab_t *t);
void jf_idtab_fini(jf_idtab_t *t);
void *jf_idtab_get(const jf_idtab_t *t, const uint64_t id[4]);
/* Insert or replace (val != NULL). Returns 0 or JF_ERR_NOMEM. */
int jf_idtab_put(jf_idtab_t *t, const uint64_t id[4], void *val);
/* Remove; returns the old value or NULL. */
void *jf_idtab_del(jf_idtab_t *t, const uint64_t id[4]);

#endif
