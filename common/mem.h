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
 *    on failure. The library never calls jf_x* (tests/shape/check_layers.py checks it).
 *
 * Every pointer from this family, and every buffer the library returns to
 * a caller (store gets, blobs, listings, file reads), is freed with
 * jf_free. Without a host allocator the family is libc's own malloc,
 * realloc and free, so free() works too; with one, blocks carry a small
 * size header (jf_realloc copies on top of an allocator that has only
 * alloc and free) and only jf_free may release them.
 */
#ifndef JF_MEM_H
#define JF_MEM_H

#include <stddef.h>

/*
 * Route all of the library's own memory through alloc(size, arg) (memory
 * aligned for any type, or NULL) and free(ptr, arg); NULL for both is
 * libc. The choice is per process and must be made before the first
 * block is allocated: afterwards a different allocator is refused with
 * JF_ERR_BUSY (setting the same one again is fine). JF_ERR_INVAL when only
 * one of the two functions is given.
 */
int jf_mem_set_allocator(void *(*alloc)(size_t, void *), void (*free)(void *, void *),
    void *arg);
/* 1 when a host allocator is in use. */
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
