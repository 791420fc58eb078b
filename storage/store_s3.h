/*
 * store_s3.h - the S3 store (store_s3.c).
 */
#ifndef JF_STORE_S3_H
#define JF_STORE_S3_H

#include "store_backend.h"

extern const jf_store_ops_t jf_store_s3_ops;

#endif
