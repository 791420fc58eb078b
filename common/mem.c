/*
 * mem.c - the allocator family of mem.h.
 *
 * Two modes, fixed before the first allocation:
 *  - libc (the default): the family is malloc, realloc and free, so a
 *    block from jf_malloc may also be released with free() and the other
 *    way round; nothing is added to a block.
 *  - a host allocator: each block starts with a 16-byte header recording
 *    its size, so jf_realloc can copy on top of an allocator that has only
 *    alloc and free. The header keeps the user pointer 16-byte aligned, as
 *    malloc's is on x86-64 and aarch64. Here every block must go back
 *    through jf_free.
 * The mode cannot change once a block exists (jf_mem_set_allocator says
 * JF_ERR_BUSY), so no block is ever freed by the wrong allocator.
 */
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
} mem_hdr_t;

_Static_assert(sizeof(mem_hdr_t) == 16, "the header keeps 16-byte alignment");

static struct {
	void *(*alloc)(size_t, void *);
	void (*free)(void *, void *);
	void *arg;
} mem_hooks;
static atomic_int mem_used;             /* 1 once any block was allocated */

int
jf_mem_set_allocator(void *(*alloc)(size_t, void *), void (*fr)(void *, void *), void *arg)
{
	if ((alloc == NULL) != (fr == NULL))
		return JF_ERR_INVAL;
	if (alloc == mem_hooks.alloc && fr == mem_hooks.free && arg == mem_hooks.arg)
		return 0;
	if (atomic_load(&mem_used))
		return JF_ERR_BUSY;
	mem_hooks.alloc = alloc;
	mem_hooks.free = fr;
	mem_hooks.arg = alloc != NULL ? arg : NULL;
	return 0;
}

int
jf_mem_host_allocator(void)
{
	return mem_hooks.alloc != NULL;
}

void *
jf_malloc(size_t n)
{
	mem_hdr_t *h;

	atomic_store_explicit(&mem_used, 1, memory_order_relaxed);
	if (mem_hooks.alloc == NULL)
		return malloc(n ? n : 1);
	if (n > SIZE_MAX - sizeof(*h))
		return NULL;
	if ((h = mem_hooks.alloc(sizeof(*h) + (n ? n : 1), mem_hooks.arg)) == NULL)
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
	if (mem_hooks.alloc == NULL)
		return realloc(p, n ? n : 1);
	h = (mem_hdr_t *)p - 1;
	if ((np = jf_malloc(n)) == NULL)
		return NULL;
	memcpy(np, p, h->size < n ? h->size : n);
	mem_hooks.free(h, mem_hooks.arg);
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
	if (mem_hooks.alloc == NULL)
		free(p);
	else
		mem_hooks.free((mem_hdr_t *)p - 1, mem_hooks.arg);
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
