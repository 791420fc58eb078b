/*
 * store_http.h - the plain HTTP / WebDAV store (store_http.c).
 */
#ifndef JF_STORE_HTTP_H
#define JF_STORE_HTTP_H

#include "store_backend.h"

extern const jf_store_ops_t jf_store_http_ops;

#endif
