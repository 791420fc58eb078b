/*
 * publish.h - from dirty records to the next map, and reclamation:
 * derive the new map, swap it in with one store, retire the old map and
 * unloaded programs under the swap's epoch, and free them once every
 * reader has announced that epoch (map.h).
 */
#ifndef JF_RT_PUBLISH_H
#define JF_RT_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

/* A load event held back until its program is visible. */
typedef struct jf_pubev {
	int kind;
	uint64_t id[4];
	jf_key_t key;
	uint64_t ns;
} jf_pubev_t;

/* Make room to retire n more objects (lock held): whoever takes
 * something out of the map reserves first, so retiring never fails and
 * nothing is freed early or leaked. Returns 0 or JF_ERR_NOMEM. */
int jf_pub_reserve(jf_runtime_t *rt, size_t n);
/* Publish the dirty records, retiring gone[] (programs evicted in this
 * batch) with the old map (lock held). Load events of programs that
 * became visible go to *evs (jf_free'd by jf_pub_report), *nevs of them,
 * for the caller to report after unlocking. On out of memory the records
 * stay dirty and are retried with the next batch. */
void jf_pub_locked(jf_runtime_t *rt, jf_program_t **gone, size_t ngone, jf_pubev_t **evs,
    size_t *nevs);
/* Report and free what jf_pub_locked returned (no lock held). */
void jf_pub_report(jf_runtime_t *rt, jf_pubev_t *evs, size_t n);
/* Publish every dirty record now (takes the lock). */
void jf_pub_now(jf_runtime_t *rt);
/* Benches and tests: publish a map built elsewhere (entries that are not
 * programs); the old map is freed once readers moved on. */
void jf_pub_map(jf_runtime_t *rt, jf_map_t *m);
/* Free what every reader has moved past (all: everything; only when no
 * reader can remain). */
void jf_pub_reclaim(jf_runtime_t *rt, int all);

#endif
