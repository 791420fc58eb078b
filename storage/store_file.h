/*
 * store_file.h - internals of the file store shared between its parts:
 * store_file.c (entries) and store_file_watch.c (the change journal and
 * its inotify watch, and gc).
 */
#ifndef JF_STORE_FILE_H
#define JF_STORE_FILE_H

#include "store.h"

typedef struct jf_file_store {
	char root[4096];
	int read_only;
	int inotify_fd;
	char err[512];
} jf_file_store_t;

int jf_file_store_path(const jf_file_store_t *fs, const jf_key_t *k, char *buf, size_t len);
int jf_file_store_scan(jf_file_store_t *fs, jf_store_list_fn fn, void *arg);

/* The change journal: ROOT/journal, one 64-hex key + '\n' per put,
 * appended with O_APPEND. The cursor is the byte offset, in decimal. */
int jf_file_store_journal_append(jf_file_store_t *fs, const jf_key_t *k);
int jf_file_store_cursor(void *self, char *cursor, size_t len);
int jf_file_store_watch(void *self, char *cursor, size_t len, int timeout_ms,
    jf_store_watch_fn fn, void *arg);

/* Trim least-recently-used entries until the store holds at most
 * max_bytes. Reports what was removed. */
int jf_file_store_gc(const char *root, uint64_t max_bytes, uint64_t *removed_entries,
    uint64_t *removed_bytes);

#endif
