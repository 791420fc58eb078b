/*
 * store_file_gc.c - the file store's garbage collector: trim the least
 * recently used entries (get() touches the timestamps it reads) until the
 * store fits its budget. Removing an entry is safe at any time: a reader
 * holds an open file or sees a miss, never half a blob.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/buf.h"
#include "common/mem.h"
#include "common/util.h"
#include "store_file_gc.h"
#include "store_file_dir.h"

typedef struct gc_ent {
	jf_key_t key;
	uint64_t size, atime_ns;
} gc_ent_t;

typedef struct gc_ctx {
	gc_ent_t *v;
	size_t n, cap;
	uint64_t total;
	jf_file_store_t *fs;
	int oom;
} gc_ctx_t;

static int
gc_collect(const jf_store_entry_t *e, void *arg)
{
	gc_ctx_t *c = arg;
	char path[4200];
	struct stat st;

	if (jf_vec_grow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v)) != 0) {
		c->oom = 1;
		return 1;
	}
	c->v[c->n].key = e->key;
	c->v[c->n].size = e->size;
	c->v[c->n].atime_ns = e->mtime_ms * 1000000ull;
	if (jf_file_store_path(c->fs, &e->key, path, sizeof(path)) == 0 &&
	    stat(path, &st) == 0)
		c->v[c->n].atime_ns = (uint64_t)st.st_atim.tv_sec * 1000000000ull +
		    (uint64_t)st.st_atim.tv_nsec;
	c->total += e->size;
	c->n++;
	return 0;
}

static int
gc_cmp(const void *a, const void *b)
{
	const gc_ent_t *x = a, *y = b;

	if (x->atime_ns != y->atime_ns)
		return x->atime_ns < y->atime_ns ? -1 : 1;
	return memcmp(x->key.b, y->key.b, JF_KEY_LEN);
}

int
jf_file_store_gc(const char *root, uint64_t max_bytes, uint64_t *removed_entries,
    uint64_t *removed_bytes)
{
	jf_file_store_t fs = { .inotify_fd = -1 };
	gc_ctx_t c = { .fs = &fs };
	size_t i;
	int r;

	*removed_entries = *removed_bytes = 0;
	jf_strlcpy(fs.root, root, sizeof(fs.root));
	if ((r = jf_file_store_scan(&fs, gc_collect, &c)) != 0 && !c.oom)
		goto out;
	if (c.oom) {
		r = JF_ERR_NOMEM;
		goto out;
	}
	/* oldest access first: get() touches the timestamps it reads */
	qsort(c.v, c.n, sizeof(*c.v), gc_cmp);
	for (i = 0; i < c.n && c.total > max_bytes; i++) {
		char path[4200];

		if (jf_file_store_path(&fs, &c.v[i].key, path, sizeof(path)) != 0 ||
		    unlink(path) != 0)
			continue;
		c.total -= c.v[i].size;
		(*removed_entries)++;
		*removed_bytes += c.v[i].size;
	}
	r = 0;
out:
	jf_free(c.v);
	return r;
}
