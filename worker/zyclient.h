/*
 * zyclient.h - the pool's side of the zygote fork-server (zyclient.c).
 * Under the pool's mutex, except during jf_pool_create.
 */
#ifndef JF_ZYCLIENT_H
#define JF_ZYCLIENT_H

#include <stddef.h>

#include "worker/pool_internal.h"

/* Start a zygote. With use_fork (only while this process is
 * single-threaded) it is a fork of this process; otherwise this binary is
 * re-executed in zygote mode. Returns 0 or JF_ERR_SYSTEM with err. */
int jf_zyclient_start(jf_pool_t *p, int use_fork, char *err, size_t errlen);
/* Wait (up to JF_POOL_HELLO_MS) for a new zygote's hello. */
int jf_zyclient_hello_wait(jf_pool_t *p, char *err, size_t errlen);
/* Ask for one more worker. Returns 0 or -1 (the socket is full or gone). */
int jf_zyclient_spawn(jf_pool_t *p);
/* Read every message waiting from the zygote. Returns 0, or -1 when it
 * has gone or broke the protocol (then call jf_zyclient_lost). */
int jf_zyclient_read(jf_pool_t *p);
/* Kill and reap the zygote and close its fds. */
void jf_zyclient_reap(jf_pool_t *p);
/* The zygote is gone, and its workers with it: settle or re-queue their
 * requests and schedule a restart. */
void jf_zyclient_lost(jf_pool_t *p);

#endif
