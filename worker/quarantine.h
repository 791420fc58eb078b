/*
 * quarantine.h - the pool's negative cache: strikes against an input's
 * key, and the keys quarantined after repeated failures (quarantine.c).
 *
 * Not thread-safe: the pool calls it under its mutex.
 */
#ifndef JF_QUARANTINE_H
#define JF_QUARANTINE_H

#include <stdint.h>

#include "common/key.h"

#define JF_QUARANTINE_MAX 4096          /* keys remembered at most */

typedef struct jf_quarantine_entry {
	struct jf_quarantine_entry *next;
	jf_key_t key;
	int strikes, quarantined, code;
	uint64_t expires_ns;
	char msg[512];
} jf_quarantine_entry_t;

typedef struct jf_quarantine {
	jf_quarantine_entry_t *head;
	unsigned n;
	int ttl_s;                      /* how long an entry lives after its last strike */
} jf_quarantine_t;

/* The live entry for key, or NULL; expired entries are dropped on the way. */
jf_quarantine_entry_t *jf_quarantine_find(jf_quarantine_t *q, const jf_key_t *key,
    uint64_t now_ns);
/* Record a failure (code, msg) against key. Returns 1 when the key is now
 * quarantined. With no memory, or JF_QUARANTINE_MAX keys held, the strike
 * is not recorded (the input is then retried, never wrongly refused). */
int jf_quarantine_strike(jf_quarantine_t *q, const jf_key_t *key, int code,
    const char *msg);
/* Forget every entry. */
void jf_quarantine_clear(jf_quarantine_t *q);

#endif
