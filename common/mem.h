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
 * a caller (store gets, blobs, listings, file reads), is freed with
 * jf_free.
 *
 * Two modes, chosen before the first block is allocated and fixed after:
 *  - libc (the default, and all the daemon and the CLI use): the family is
 *    malloc, realloc and free themselves, with nothing added to a block, so
 *    free() and jf_free are interchangeable.
 *  - host allocators (once one is registered): each block carries its size
 *    and the allocator it came from in a 16-byte header, so jf_realloc
 *    works on top of an allocator that has only alloc and free, and
 *    jf_free returns a block to the allocator that gave it, whichever
 *    thread frees it. Only jf_free may release such a block.
 * Registering the first allocator after a block exists is refused with
 * JF_ERR_BUSY, so no block is ever released by the wrong allocator: a host
 * registers its allocator first (jf_config_set_allocator before anything
 * else that allocates).
 *
 * Which allocator serves an allocation: the calling thread's, when one is
 * set (jf_mem_use; a runtime sets its own on its threads and around the
 * calls a host makes into it), else the process-wide one
 * (jf_mem_set_allocator), else libc's malloc.
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

/* The process-wide allocator; NULL for both restores libc's malloc for new
 * blocks. Changing it while blocks live is safe once headers are on: each
 * block goes back to the allocator it came from. Returns 0, JF_ERR_INVAL
 * (only one of the two functions given), JF_ERR_BUSY (the first allocator,
 * registered after blocks exist) or JF_ERR_NOMEM (JF_MEM_MAX_ALLOCATORS
 * different allocators were registered already). */
int jf_mem_set_allocator(void *(*alloc)(size_t, void *), void (*free)(void *, void *),
    void *arg);
/* A stable handle for an allocator (the same one for the same three
 * values), valid for the life of the process; NULL for libc's (both
 * functions NULL) or on an error (*err as for jf_mem_set_allocator, else 0). */
#define JF_MEM_MAX_ALLOCATORS 64
const jf_allocator_t *jf_mem_register(void *(*alloc)(size_t, void *),
    void (*free)(void *, void *), void *arg, int *err);
/* Make a the calling thread's allocator (NULL: the process-wide one
 * again); returns the one it replaces, to restore with jf_mem_use. */
const jf_allocator_t *jf_mem_use(const jf_allocator_t *a);
/* 1 once blocks carry headers (an allocator was registered). */
int jf_mem_host_allocator(void);

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
