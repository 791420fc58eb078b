/*
 * http.h - the master's HTTP front end on libevent's evhttp: listeners,
 * routing, auth and parameter checks. The top of master/ below main.c.
 */
#ifndef JF_MASTER_HTTP_H
#define JF_MASTER_HTTP_H

#include <stddef.h>

#include "master/daemon.h"

/* Bind every --listen address and route requests to the modules. */
int jf_http_setup(jf_master_t *ms, char *err, size_t errlen);
void jf_http_stop_accepting(jf_master_t *ms);

#endif
