/*
 * store_file_dir.h - the file store's directory layout, shared by its
 * parts: the entries (store_file.c), the change journal
 * (store_file_journal.c) and the garbage collector (store_file_gc.c).
 *
 *   ROOT/ab/abcdef...   one blob per key, fanned out by the key's first
 *                       byte so no directory grows past a few thousand
 *                       entries at a million keys.
 *   ROOT/journal        the change journal (store_file_journal.h)
 */
#ifndef JF_STORE_FILE_DIR_H
#define JF_STORE_FILE_DIR_H

#include "store_backend.h"

typedef struct jf_file_store {
	char root[4096];
	int read_only;
	int inotify_fd;
	char err[512];
} jf_file_store_t;

/* ROOT/ab/<hex> into buf; JF_ERR_INVAL if it does not fit. */
int jf_file_store_path(const jf_file_store_t *fs, const jf_key_t *k, char *buf, size_t len);
/* Every finished entry (64 hex digits, no temp suffix), with its size and
 * mtime, in fan-out order. */
int jf_file_store_scan(jf_file_store_t *fs, jf_store_list_fn fn, void *arg);

#endif
