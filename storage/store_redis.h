/*
 * store_redis.h - the Redis store (store_redis.c).
 */
#ifndef JF_STORE_REDIS_H
#define JF_STORE_REDIS_H

#include "store_backend.h"

extern const jf_store_ops_t jf_store_redis_ops;

#endif
