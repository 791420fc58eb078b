/*
 * store_file_gc.h - garbage collection of a file store (store_file_gc.c),
 * for `jitfarm gc`.
 */
#ifndef JF_STORE_FILE_GC_H
#define JF_STORE_FILE_GC_H

#include <stdint.h>

/* Trim least-recently-used entries of the store at root until it holds at
 * most max_bytes. Reports what was removed. */
int jf_file_store_gc(const char *root, uint64_t max_bytes, uint64_t *removed_entries,
    uint64_t *removed_bytes);

#endif
