/*
 * hot.h - the hotness table: a bounded count of misses per program id
 * (window probing, coldest entry replaced, periodic halving; hot.c).
 * Only the backend thread touches it.
 */
#ifndef JF_RT_HOT_H
#define JF_RT_HOT_H

#include <stddef.h>
#include <stdint.h>

typedef struct jf_hot_ent {
	uint64_t id[4];
	uint32_t count;                 /* 0: empty */
	uint32_t pad;
} jf_hot_ent_t;

typedef struct jf_hot {
	jf_hot_ent_t *ents;
	size_t cap;                     /* power of two */
	size_t n;
	uint64_t replaced;              /* cold entries pushed out by new keys */
} jf_hot_t;

/* Returns 0 or JF_ERR_NOMEM. */
int jf_hot_init(jf_hot_t *h, size_t cap);
void jf_hot_fini(jf_hot_t *h);
/* Count one miss; returns the new count. */
uint32_t jf_hot_bump(jf_hot_t *h, const uint64_t id[4]);
void jf_hot_forget(jf_hot_t *h, const uint64_t id[4]);
/* Halve every count, dropping those that reach 0. */
void jf_hot_decay(jf_hot_t *h);

#endif
