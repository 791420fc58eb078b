/*
 * supervisor.h - the pool's supervisor thread (supervisor.c).
 */
#ifndef JF_SUPERVISOR_H
#define JF_SUPERVISOR_H

#include <stddef.h>

#include "worker/pool_internal.h"

/* The size of the poll set for the pool's options: the wake fd, the
 * zygote's socket and pidfd, and one channel per live worker. */
size_t jf_supervisor_pollcap(const jf_pool_opts_t *o);
/* The thread's body (pthread_create's start routine, arg is the pool):
 * runs until p->stop, with p->pfd and p->pw allocated beforehand. */
void *jf_supervisor_run(void *arg);

#endif
