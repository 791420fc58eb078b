/*
 * store_file_journal.h - the file store's change journal and its inotify
 * watch (store_file_journal.c).
 *
 * ROOT/journal holds one 64-hex key + '\n' per put, appended with
 * O_APPEND. The cursor is the byte offset, in decimal.
 */
#ifndef JF_STORE_FILE_JOURNAL_H
#define JF_STORE_FILE_JOURNAL_H

#include "store_file_dir.h"

int jf_file_store_journal_append(jf_file_store_t *fs, const jf_key_t *k);
/* The vtable's cursor and watch; self is a jf_file_store_t. */
int jf_file_store_cursor(void *self, char *cursor, size_t len);
int jf_file_store_watch(void *self, char *cursor, size_t len, int timeout_ms,
    jf_store_watch_fn fn, void *arg);

#endif
