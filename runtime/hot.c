/*
 * hot.c - the hotness table: how many misses each program id has had.
 *
 * A fixed array, probed within a window of HOT_WINDOW slots from the id's
 * home. A new id takes a free slot in its window, or else pushes out the
 * coldest entry of the window: a full table never locks new keys out, and
 * what it forgets is what was least likely to turn hot. Counts are halved
 * now and then (jf_hot_decay), so old misses age out. Only the backend
 * thread touches it.
 */
#include <string.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "hot.h"

#define HOT_WINDOW 16

int
jf_hot_init(jf_hot_t *h, size_t cap)
{
	size_t c = HOT_WINDOW;

	memset(h, 0, sizeof(*h));
	while (c < cap)
		c <<= 1;
	if ((h->ents = jf_calloc(c, sizeof(*h->ents))) == NULL)
		return JF_ERR_NOMEM;
	h->cap = c;
	return 0;
}

void
jf_hot_fini(jf_hot_t *h)
{
	jf_free(h->ents);
	h->ents = NULL;
}

static size_t
hot_home(const jf_hot_t *h, const uint64_t id[4])
{
	return (size_t)((id[0] * 0x9E3779B97F4A7C15ull) >> 20) & (h->cap - 1);
}

uint32_t
jf_hot_bump(jf_hot_t *h, const uint64_t id[4])
{
	size_t i, at = hot_home(h, id), j;
	jf_hot_ent_t *free_ = NULL, *coldest = NULL, *e;

	for (i = 0; i < HOT_WINDOW; i++) {
		j = (at + i) & (h->cap - 1);
		e = &h->ents[j];
		if (e->count == 0) {
			if (free_ == NULL)
				free_ = e;
			continue;
		}
		if (memcmp(e->id, id, 32) == 0) {
			if (e->count < UINT32_MAX)
				e->count++;
			return e->count;
		}
		if (coldest == NULL || e->count < coldest->count)
			coldest = e;
	}
	if (free_ != NULL) {
		e = free_;
		h->n++;
	} else {
		e = coldest;
		h->replaced++;
	}
	memcpy(e->id, id, 32);
	e->count = 1;
	return 1;
}

void
jf_hot_forget(jf_hot_t *h, const uint64_t id[4])
{
	size_t i, at = hot_home(h, id);

	for (i = 0; i < HOT_WINDOW; i++) {
		jf_hot_ent_t *e = &h->ents[(at + i) & (h->cap - 1)];

		if (e->count != 0 && memcmp(e->id, id, 32) == 0) {
			e->count = 0;
			h->n--;
			return;
		}
	}
}

void
jf_hot_decay(jf_hot_t *h)
{
	size_t i;

	for (i = 0; i < h->cap; i++) {
		if (h->ents[i].count == 0)
			continue;
		h->ents[i].count >>= 1;
		if (h->ents[i].count == 0)
			h->n--;
	}
}
