/*
 * mem.c - the allocator family of mem.h: libc until the first allocator is
 * registered, then a 16-byte header on every block that records its size
 * and the allocator it came from.
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
static atomic_uint mem_ntable;
static pthread_mutex_t mem_table_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(const jf_allocator_t *) mem_global;
static __thread const jf_allocator_t *mem_thread;
static atomic_int mem_used;             /* a block was allocated */
static atomic_int mem_headers;          /* blocks carry headers (fixed once set) */

const jf_allocator_t *
jf_mem_register(void *(*alloc)(size_t, void *), void (*fr)(void *, void *), void *arg,
    int *err)
{
	const jf_allocator_t *a = NULL;
	unsigned i, n;
	int e = 0;

	if (alloc == NULL || fr == NULL) {
		e = alloc == NULL && fr == NULL ? 0 : JF_ERR_INVAL;
		goto out;
	}
	pthread_mutex_lock(&mem_table_lock);
	if (!atomic_load(&mem_headers)) {
		if (atomic_load(&mem_used))
			e = JF_ERR_BUSY;
		else
			atomic_store(&mem_headers, 1);
	}
	n = atomic_load(&mem_ntable);
	for (i = 0; e == 0 && i < n && a == NULL; i++)
		if (mem_table[i].alloc == alloc && mem_table[i].free == fr &&
		    mem_table[i].arg == arg)
			a = &mem_table[i];
	if (e == 0 && a == NULL) {
		if (n < JF_MEM_MAX_ALLOCATORS) {
			mem_table[n].alloc = alloc;
			mem_table[n].free = fr;
			mem_table[n].arg = arg;
			a = &mem_table[n];
			atomic_store(&mem_ntable, n + 1);
		} else {
			e = JF_ERR_NOMEM;
		}
	}
	pthread_mutex_unlock(&mem_table_lock);
out:
	if (err != NULL)
		*err = e;
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

int
jf_mem_host_allocator(void)
{
	return atomic_load(&mem_headers);
}

static const jf_allocator_t *
current(void)
{
	const jf_allocator_t *a = mem_thread;

	return a != NULL ? a : atomic_load_explicit(&mem_global, memory_order_acquire);
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
	const jf_allocator_t *a;
	mem_hdr_t *h;

	if (!atomic_load_explicit(&mem_used, memory_order_relaxed))
		atomic_store(&mem_used, 1);
	if (!atomic_load_explicit(&mem_headers, memory_order_relaxed))
		return malloc(n ? n : 1);
	if (n > SIZE_MAX - sizeof(*h))
		return NULL;
	a = current();
	h = a != NULL ? a->alloc(sizeof(*h) + (n ? n : 1), a->arg) :
	    malloc(sizeof(*h) + (n ? n : 1));
	if (h == NULL)
		return NULL;
	h->size = n;
	h->from = a;
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
	if (!atomic_load_explicit(&mem_headers, memory_order_relaxed))
		return realloc(p, n ? n : 1);
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
	if (p == NULL)
		return;
	if (!atomic_load_explicit(&mem_headers, memory_order_relaxed))
		free(p);
	else
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
