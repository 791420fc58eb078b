/*
 * registry.c - the records behind the map (registry.h).
 *
 * The host's threads only ever read an immutable map; every change is
 * made here, to records under rt->lock. A record that changes is marked
 * dirty, and the backend derives the next map from the current one and
 * the dirty records (publish.c).
 */
#include <string.h>

#include "registry.h"

jf_rec_t *
jf_reg_rec_new(jf_runtime_t *rt, const uint64_t id[4], int state)
{
	jf_rec_t *r;

	if ((r = jf_calloc(1, sizeof(*r))) == NULL)
		return NULL;
	memcpy(r->id, id, 32);
	r->state = state;
	if (jf_idtab_put(&rt->reg, id, r) != 0) {
		jf_free(r);
		return NULL;
	}
	return r;
}

void
jf_reg_mark_dirty(jf_runtime_t *rt, jf_rec_t *r)
{
	if (!r->dirty) {
		r->dirty = 1;
		r->next_dirty = rt->dirty;
		rt->dirty = r;
	}
	pthread_cond_signal(&rt->bk_cv);
}

int
jf_reg_install(jf_runtime_t *rt, const uint64_t id[4], jf_program_t *p, int kind, uint64_t ns)
{
	jf_rec_t *rec = jf_idtab_get(&rt->reg, id);
	uint64_t kw[4];

	if (rec != NULL && rec->state == R_LOADED)
		return 0;
	if (rec == NULL && (rec = jf_reg_rec_new(rt, id, R_LOADED)) == NULL)
		return 0;
	rec->state = R_LOADED;
	rec->prog = p;
	rec->result = 0;
	rec->ev_kind = kind;
	rec->ev_ns = ns;
	rec->last_used_ms = jf_rt_now_ms();
	rt->code_bytes += p->code_bytes;
	/* best effort: without the mark the feed may fetch it once more */
	jf_id_words(p->key.b, kw);
	(void)jf_idtab_put(&rt->seen, kw, (void *)1);
	jf_hot_forget(&rt->hot, id);
	jf_reg_mark_dirty(rt, rec);
	return 1;
}

void
jf_reg_set_negative(jf_runtime_t *rt, const uint64_t id[4], int reason, int result)
{
	jf_rec_t *rec = jf_idtab_get(&rt->reg, id);

	if (rec == NULL && (rec = jf_reg_rec_new(rt, id, R_NEG)) == NULL)
		return;
	if (rec->state == R_LOADED)
		return;
	rec->state = R_NEG;
	rec->reason = reason;
	rec->result = result;
	rec->expires_ms = jf_rt_now_ms() + (uint64_t)TUNE(rt, JF_TUNE_NEGATIVE_TTL_MS);
	jf_reg_mark_dirty(rt, rec);
}

/* set: 1 mark, 0 test, -1 unmark */
static int
seen_op(jf_runtime_t *rt, const jf_key_t *k, int op)
{
	uint64_t kw[4];
	int s = 0;

	jf_id_words(k->b, kw);
	pthread_mutex_lock(&rt->lock);
	if (op == 0)
		s = jf_idtab_get(&rt->seen, kw) != NULL;
	else if (op > 0)
		(void)jf_idtab_put(&rt->seen, kw, (void *)1);   /* best effort */
	else
		jf_idtab_del(&rt->seen, kw);
	pthread_mutex_unlock(&rt->lock);
	return s;
}

int jf_reg_seen_test(jf_runtime_t *rt, const jf_key_t *k) { return seen_op(rt, k, 0); }
void jf_reg_seen_mark(jf_runtime_t *rt, const jf_key_t *k) { seen_op(rt, k, 1); }
void jf_reg_seen_unmark(jf_runtime_t *rt, const jf_key_t *k) { seen_op(rt, k, -1); }
