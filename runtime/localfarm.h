/*
 * localfarm.h - the runtime's private jitfarm-master (farm "local"),
 * started with posix_spawn on a unix socket in a temporary directory.
 */
#ifndef JF_RT_LOCALFARM_H
#define JF_RT_LOCALFARM_H

#include <stddef.h>

#include "rt.h"

/* Start it; sets rt->farm_url, rt->master_pid and rt->master_dir.
 * Returns 0 or a jf_err (err says why). */
int jf_localfarm_start(jf_runtime_t *rt, const char *master_path, char *err,
    size_t errlen);
/* Stop it and remove its directory. Safe to call again. */
void jf_localfarm_stop(jf_runtime_t *rt);

#endif
