/*
 * backend.h - the runtime's background threads: the backend thread
 * (drains lookup events, promotes hot programs, evicts, publishes,
 * reclaims), the watcher (feed.h) and the compile workers (jobs.h).
 */
#ifndef JF_RT_BACKEND_H
#define JF_RT_BACKEND_H

#include <stddef.h>

#include "rt.h"

/* Start every background thread. Returns 0 or a jf_err (err says why);
 * on failure jf_backend_stop still stops what started. */
int jf_backend_start(jf_runtime_t *rt, char *err, size_t errlen);
/* Stop and join them all, and the local farm (a compile in flight on it
 * ends when the farm does). */
void jf_backend_stop(jf_runtime_t *rt);

#endif
