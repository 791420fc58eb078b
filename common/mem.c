/*
 * mem.c - the allocator family of mem.h.
 *
 * Each block starts with a header that records its size, so jf_realloc
 * can copy on top of an allocator that has no realloc of its own. The
 * header is 16 bytes, which keeps the user pointer aligned as malloc's is
 * on x86-64 and aarch64.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void
jf_mem_set_allocator(void *(*alloc)(size_t, void *), void (*fr)(void *, void *), void *arg)
{
	if (alloc == NULL || fr == NULL) {
		mem_hooks.alloc = NULL;
		mem_hooks.free = NULL;
		mem_hooks.arg = NULL;
		return;
	}
	mem_hooks.alloc = alloc;
	mem_hooks.free = fr;
	mem_hooks.arg = arg;
}

static mem_hdr_t *
raw_alloc(size_t total)
{
	if (mem_hooks.alloc != NULL)
		return mem_hooks.alloc(total, mem_hooks.arg);
	return malloc(total);
}

static void
raw_free(mem_hdr_t *h)
{
	if (mem_hooks.free != NULL)
		mem_hooks.free(h, mem_hooks.arg);
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
	if (mem_hooks.alloc == NULL) {
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
