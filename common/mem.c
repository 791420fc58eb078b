/*
 * mem.c - the allocator family of mem.h.
 *
 * Each block starts with a header that records its size, so jf_realloc
 * can copy on top of an allocator that has no realloc of its own. The
 * header is 16 bytes, which keeps the user pointer aligned as malloc's is
 * on x86-64 and aarch64.
 */
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "mem.h"

typedef struct mem_hdr {
	alignas(16) size_t size;
	const jf_allocator_t *from;     /* NULL: libc */
} mem_hdr_t;

_Static_assert(sizeof(mem_hdr_t) == 16, "the header keeps 16-byte alignment");

/* Registered allocators: never freed or changed, so a block's header may
 * point at its entry for as long as the block lives. */
static jf_allocator_t mem_table[JF_MEM_MAX_ALLOCATORS];
static _Atomic unsigned mem_ntable;
static pthread_mutex_t mem_table_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(const jf_allocator_t *) mem_global;
static __thread const jf_allocator_t *mem_thread;

const jf_allocator_t *
jf_mem_register(void *(*alloc)(size_t, void *), void (*fr)(void *, void *), void *arg,
    int *err)
{
	const jf_allocator_t *a = NULL;
	unsigned i, n;

	if (err != NULL)
		*err = (alloc == NULL) != (fr == NULL) ? JF_ERR_INVAL : 0;
	if (alloc == NULL || fr == NULL)
		return NULL;
	pthread_mutex_lock(&mem_table_lock);
	n = atomic_load(&mem_ntable);
	for (i = 0; i < n && a == NULL; i++)
		if (mem_table[i].alloc == alloc && mem_table[i].free == fr &&
		    mem_table[i].arg == arg)
			a = &mem_table[i];
	if (a == NULL && n < JF_MEM_MAX_ALLOCATORS) {
		mem_table[n].alloc = alloc;
		mem_table[n].free = fr;
		mem_table[n].arg = arg;
		a = &mem_table[n];
		atomic_store(&mem_ntable, n + 1);
	}
	pthread_mutex_unlock(&mem_table_lock);
	if (a == NULL && err != NULL)
		*err = JF_ERR_NOMEM;
	return a;
}

int
jf_mem_set_allocator(void *(*alloc)(size_t, void *), void (*fr)(void *, void *), void *arg)
{
	const jf_allocator_t *a;
	int err;

	a = jf_mem_register(alloc, fr, arg, &err);
	if (err != 0)
		return err;
	atomic_store(&mem_global, a);
	return 0;
}

const jf_allocator_t *
jf_mem_use(const jf_allocator_t *a)
{
	const jf_allocator_t *old = mem_thread;

	mem_thread = a;
	return old;
}

static const jf_allocator_t *
current(void)
{
	const jf_allocator_t *a = mem_thread;

	return a != NULL ? a : atomic_load_explicit(&mem_global, memory_order_acquire);
}

static mem_hdr_t *
raw_alloc(size_t total)
{
	const jf_allocator_t *a = current();
	mem_hdr_t *h;

	h = a != NULL ? a->alloc(total, a->arg) : malloc(total);
	if (h != NULL)
		h->from = a;
	return h;
}

static void
raw_free(mem_hdr_t *h)
{
	if (h->from != NULL)
		h->from->free(h, h->from->arg);
	else
		free(h);
}

void *
jf_malloc(size_t n)
{
	mem_hdr_t *h;

	if (n > SIZE_MAX - sizeof(*h))
		return NULL;
	if ((h = raw_alloc(sizeof(*h) + (n ? n : 1))) == NULL)
		return NULL;
	h->size = n;
	return h + 1;
}

void *
jf_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		return NULL;
	if ((p = jf_malloc(nmemb * size)) != NULL)
		memset(p, 0, nmemb * size);
	return p;
}

void *
jf_realloc(void *p, size_t n)
{
	mem_hdr_t *h;
	void *np;

	if (p == NULL)
		return jf_malloc(n);
	h = (mem_hdr_t *)p - 1;
	if (h->from == NULL && current() == NULL) {
		mem_hdr_t *nh;

		if (n > SIZE_MAX - sizeof(*h))
			return NULL;
		if ((nh = realloc(h, sizeof(*h) + (n ? n : 1))) == NULL)
			return NULL;
		nh->size = n;
		return nh + 1;
	}
	if ((np = jf_malloc(n)) == NULL)
		return NULL;
	memcpy(np, p, h->size < n ? h->size : n);
	raw_free(h);
	return np;
}

void *
jf_reallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		return NULL;
	return jf_realloc(p, nmemb * size);
}

void
jf_free(void *p)
{
	if (p != NULL)
		raw_free((mem_hdr_t *)p - 1);
}

void *
jf_memdup(const void *p, size_t n)
{
	void *d;

	if ((d = jf_malloc(n)) != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

char *
jf_strndup(const char *s, size_t n)
{
	size_t l = strnlen(s, n);
	char *d;

	if ((d = jf_malloc(l + 1)) != NULL) {
		memcpy(d, s, l);
		d[l] = '\0';
	}
	return d;
}

char *
jf_strdup(const char *s)
{
	return jf_strndup(s, SIZE_MAX);
}

/* ---- the daemon's and the CLI's family: never NULL ------------------------ */

static void *
or_die(void *p, size_t n)
{
	if (p == NULL) {
		fprintf(stderr, "jitfarm: out of memory (%zu bytes)\n", n);
		abort();
	}
	return p;
}

void *jf_xmalloc(size_t n) { return or_die(jf_malloc(n), n); }
void *jf_xcalloc(size_t m, size_t s) { return or_die(jf_calloc(m, s), m * s); }
void *jf_xrealloc(void *p, size_t n) { return or_die(jf_realloc(p, n), n); }
void *jf_xreallocarray(void *p, size_t m, size_t s) { return or_die(jf_reallocarray(p, m, s), m * s); }
char *jf_xstrdup(const char *s) { return or_die(jf_strdup(s), strlen(s)); }
char *jf_xstrndup(const char *s, size_t n) { return or_die(jf_strndup(s, n), n); }
