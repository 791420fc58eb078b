/*
 * store_file.h - the embedded default store, a local directory
 * (store_file.c): file:///var/cache/jitfarm.
 */
#ifndef JF_STORE_FILE_H
#define JF_STORE_FILE_H

#include "store_backend.h"

extern const jf_store_ops_t jf_store_file_ops;

#endif
