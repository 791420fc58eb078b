/*
 * feed.h - what the store brings without being asked: the preload at
 * open and the change feed afterwards (the watcher thread).
 */
#ifndef JF_RT_FEED_H
#define JF_RT_FEED_H

#include <stddef.h>

#include "rt.h"

/* Note the feed position, then load every matching artifact in the store
 * (with JF_TUNE_PRELOAD). Returns 0 or the jf_err of opening the store. */
int jf_feed_preload(jf_runtime_t *rt, char *err, size_t errlen);
/* Start the watcher (with JF_TUNE_WATCH), following the feed from the
 * noted position. Returns 0 or a jf_err. */
int jf_feed_start(jf_runtime_t *rt, char *err, size_t errlen);
/* Wait for the watcher after rt->stopping was set. */
void jf_feed_join(jf_runtime_t *rt);

#endif
