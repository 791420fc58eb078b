/*
 * cc_hashcache.h - a per-user cache of file hashes for `jitfarm cc`
 * (cc_hashcache.c), so that a hit does not read and hash every header
 * again when nothing changed, as ccache's inode cache.
 */
#ifndef JF_CLI_CC_HASHCACHE_H
#define JF_CLI_CC_HASHCACHE_H

#include <stdint.h>
#include <sys/stat.h>

/* The SHA-256 (and the __DATE__/__TIME__ flag) recorded for the file
 * st describes. Returns 1 when found, 0 otherwise (also when the cache is
 * off or cannot be opened). */
int jf_cc_hc_get(const struct stat *st, uint8_t sha[32], int *volatile_macros);

/* Record them for the file st describes, unless it changed too recently
 * to be told apart from a later change (mtime or ctime within 2 s). */
void jf_cc_hc_put(const struct stat *st, const uint8_t sha[32], int volatile_macros);

#endif
