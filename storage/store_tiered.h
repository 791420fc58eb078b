/*
 * store_tiered.h - a local store in front of a remote one (store_tiered.c).
 * jf_store_open parses tiered:LOCAL_URL,REMOTE_URL, opens both parts and
 * hands them over here.
 */
#ifndef JF_STORE_TIERED_H
#define JF_STORE_TIERED_H

#include "store_handle.h"

extern const jf_store_ops_t jf_store_tiered_ops;

/* The backend state for two open handles, which it now owns (on failure,
 * JF_ERR_NOMEM, the caller still does). */
int jf_store_tiered_new(jf_store_t *local, jf_store_t *remote, void **self);

#endif
