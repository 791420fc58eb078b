/*
 * idtab.c - the writer side's hash table from ids to pointers (idtab.h).
 *
 * Ids are hashes already, so the first word, mixed by a multiply, picks
 * the slot. Deletion shifts the following run back instead of leaving
 * tombstones, so a table that sees many inserts and deletes (programs
 * evicted and loaded again) never degrades.
 */
#include <string.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "idtab.h"

static size_t
home(const uint64_t id[4], size_t cap)
{
	return (size_t)((id[0] * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

void
jf_idtab_init(jf_idtab_t *t)
{
	memset(t, 0, sizeof(*t));
}

void
jf_idtab_fini(jf_idtab_t *t)
{
	jf_free(t->ents);
	t->ents = NULL;
	t->cap = t->n = 0;
}

void *
jf_idtab_get(const jf_idtab_t *t, const uint64_t id[4])
{
	size_t i;

	if (t->n == 0)
		return NULL;
	for (i = home(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
		const jf_idtab_ent_t *e = &t->ents[i];

		if (e->val == NULL)
			return NULL;
		if (memcmp(e->id, id, 32) == 0)
			return e->val;
	}
}

static void
put_nogrow(jf_idtab_t *t, const uint64_t id[4], void *val)
{
	size_t i;

	for (i = home(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
		jf_idtab_ent_t *e = &t->ents[i];

		if (e->val == NULL) {
			memcpy(e->id, id, 32);
			e->val = val;
			t->n++;
			return;
		}
		if (memcmp(e->id, id, 32) == 0) {
			e->val = val;
			return;
		}
	}
}

int
jf_idtab_put(jf_idtab_t *t, const uint64_t id[4], void *val)
{
	if ((t->n + 1) * 4 > t->cap * 3) {
		size_t ncap = t->cap ? t->cap * 2 : 64, i;
		jf_idtab_ent_t *old = t->ents, *ne;
		size_t ocap = t->cap;

		if ((ne = jf_calloc(ncap, sizeof(*ne))) == NULL)
			return JF_ERR_NOMEM;
		t->ents = ne;
		t->cap = ncap;
		t->n = 0;
		for (i = 0; i < ocap; i++)
			if (old[i].val != NULL)
				put_nogrow(t, old[i].id, old[i].val);
		jf_free(old);
	}
	put_nogrow(t, id, val);
	return 0;
}

void *
jf_idtab_del(jf_idtab_t *t, const uint64_t id[4])
{
	size_t i, j, mask = t->cap - 1;
	void *val;

	if (t->n == 0)
		return NULL;
	for (i = home(id, t->cap);; i = (i + 1) & mask) {
		if (t->ents[i].val == NULL)
			return NULL;
		if (memcmp(t->ents[i].id, id, 32) == 0)
			break;
	}
	val = t->ents[i].val;
	t->ents[i].val = NULL;
	t->n--;
	/* shift back every following entry that may move into the hole */
	for (j = (i + 1) & mask; t->ents[j].val != NULL; j = (j + 1) & mask) {
		size_t h = home(t->ents[j].id, t->cap);

		/* can the entry at j live at i? (h is cyclically outside (i, j]) */
		if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
			t->ents[i] = t->ents[j];
			t->ents[j].val = NULL;
			i = j;
		}
	}
	return val;
}
