/*
 * quarantine.c - strikes and quarantined keys (quarantine.h).
 *
 * A short list is enough: an entry exists only for an input that failed
 * within the TTL, and the list is capped. The key is the artifact key (or
 * a hash of everything the worker would see), which a client cannot
 * choose without also changing the input.
 */
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "worker/quarantine.h"

jf_quarantine_entry_t *
jf_quarantine_find(jf_quarantine_t *q, const jf_key_t *key, uint64_t now_ns)
{
	jf_quarantine_entry_t **pp = &q->head;

	while (*pp != NULL) {
		jf_quarantine_entry_t *e = *pp;

		if (e->expires_ns <= now_ns) {
			*pp = e->next;
			jf_free(e);
			q->n--;
			continue;
		}
		if (memcmp(e->key.b, key->b, JF_KEY_LEN) == 0)
			return e;
		pp = &e->next;
	}
	return NULL;
}

int
jf_quarantine_strike(jf_quarantine_t *q, const jf_key_t *key, int code, const char *msg)
{
	uint64_t now = jf_now_ns();
	jf_quarantine_entry_t *e = jf_quarantine_find(q, key, now);

	if (e == NULL) {
		if (q->n >= JF_QUARANTINE_MAX || (e = jf_calloc(1, sizeof(*e))) == NULL)
			return 0;
		e->key = *key;
		e->next = q->head;
		q->head = e;            /* the list now owns e */
		q->n++;
	}
	e->strikes++;
	e->code = code;
	jf_strlcpy(e->msg, msg, sizeof(e->msg));
	e->expires_ns = now + (uint64_t)q->ttl_s * 1000000000ull;
	if (e->strikes >= 2 && !e->quarantined) {
		e->quarantined = 1;
		jf_warn("pool: input quarantined for %d s after repeated failures: %s",
		    q->ttl_s, msg);
	}
	return e->quarantined;
}

void
jf_quarantine_clear(jf_quarantine_t *q)
{
	jf_quarantine_entry_t *e;

	while ((e = q->head) != NULL) {
		q->head = e->next;
		jf_free(e);
	}
	q->n = 0;
}
