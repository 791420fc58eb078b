/*
 * jobs.h - the compile queue and its workers: a job fetches the
 * program's artifact from the store (compiled already somewhere in the
 * cluster) or has the farm compile it, then verifies and loads it.
 */
#ifndef JF_RT_JOBS_H
#define JF_RT_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

/* Job sources. */
enum { J_HOT = 1, J_AOT, J_NOW };

/* Queue a job for id (lock held). J_NOW goes to the front. Unless force,
 * refuses with JF_ERR_BUSY once JF_TUNE_MAX_PENDING are queued or
 * running. Returns 0, JF_ERR_BUSY or JF_ERR_NOMEM. */
int jf_jobs_enqueue(jf_runtime_t *rt, const uint64_t id[4], int source, int force);
/* Start n workers (rt->workers). Returns 0 or a jf_err (err says why);
 * the workers started so far run until jf_jobs_join. */
int jf_jobs_start(jf_runtime_t *rt, int n, char *err, size_t errlen);
/* Wait for the workers after rt->stopping was set; frees rt->workers. */
void jf_jobs_join(jf_runtime_t *rt);
/* Free the jobs still queued (at close). */
void jf_jobs_free_queued(jf_runtime_t *rt);

#endif
