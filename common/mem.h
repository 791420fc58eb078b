/*
 * mem.h - the one allocator every part of jitfarm allocates through.
 *
 * The OOM policy, decided once:
 *  - The library (common, compiler, storage, worker, runtime) never aborts
 *    and never exits on allocation failure. It allocates with jf_malloc and
 *    friends, checks every result and returns JF_ERR_NOMEM. When a host
 *    sets an allocator (jf_mem_set_allocator, or the runtime's
 *    jf_config_set_allocator), all of the library's own memory comes from
 *    it; memory that LLVM, libcurl, hiredis, OpenSSL or jansson allocate
 *    for themselves does not.
 *  - The daemon and the CLI cannot do anything useful without memory, so
 *    they allocate with the jf_x* family below, which aborts with a message
 *    on failure. The library never calls jf_x* (tests/layers.sh checks it).
 *
 * Every pointer from this family, and every buffer the library returns to
 * a caller (store gets, blobs, listings), is freed with jf_free. Each block
 * carries its size and the allocator it came from in a small header, so
 * jf_realloc works on top of a host allocator that offers only alloc and
 * free, and jf_free always returns a block to the allocator that gave it.
 *
 * Which allocator serves an allocation: the calling thread's, when one is
 * set (jf_mem_use; a runtime sets its own on its threads and around the
 * calls a host makes into it), else the process-wide one
 * (jf_mem_set_allocator), else libc's malloc and free.
 */
#ifndef JF_MEM_H
#define JF_MEM_H

#include <stddef.h>

/* An allocator: alloc(size, arg) returns memory aligned for any type, or
 * NULL; free(ptr, arg). */
typedef struct jf_allocator {
	void *(*alloc)(size_t, void *);
	void (*free)(void *, void *);
	void *arg;
} jf_allocator_t;

/* The process-wide allocator. NULL for both restores libc's malloc and
 * free. Changing it while blocks live is safe: each block goes back to
 * the allocator it came from. Returns 0, or JF_ERR_NOMEM when
 * JF_MEM_MAX_ALLOCATORS different allocators were registered already. */
int jf_mem_set_allocator(void *(*alloc)(size_t, void *), void (*free)(void *, void *),
    void *arg);
/* A stable handle for an allocator (the same one for the same three
 * values), valid for the life of the process; NULL for libc's (both
 * functions NULL) or when JF_MEM_MAX_ALLOCATORS are registered already
 * (*err then JF_ERR_NOMEM, else 0). */
#define JF_MEM_MAX_ALLOCATORS 64
const jf_allocator_t *jf_mem_register(void *(*alloc)(size_t, void *),
    void (*free)(void *, void *), void *arg, int *err);
/* Make a the calling thread's allocator (NULL: the process-wide one
 * again); returns the one it replaces, to restore with jf_mem_use. */
const jf_allocator_t *jf_mem_use(const jf_allocator_t *a);

void *jf_malloc(size_t n);
void *jf_calloc(size_t nmemb, size_t size);     /* zeroed; overflow-checked */
void *jf_realloc(void *p, size_t n);            /* NULL p: jf_malloc */
/* Grow an array to hold at least nmemb items of size bytes; overflow-checked. */
void *jf_reallocarray(void *p, size_t nmemb, size_t size);
void jf_free(void *p);
char *jf_strdup(const char *s);
char *jf_strndup(const char *s, size_t n);
void *jf_memdup(const void *p, size_t n);

/* Daemon and CLI only: the same, but they never return NULL. */
void *jf_xmalloc(size_t n);
void *jf_xcalloc(size_t nmemb, size_t size);
void *jf_xrealloc(void *p, size_t n);
void *jf_xreallocarray(void *p, size_t nmemb, size_t size);
char *jf_xstrdup(const char *s);
char *jf_xstrndup(const char *s, size_t n);

#endif
