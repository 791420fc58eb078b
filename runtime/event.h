/*
 * event.h - delivering jf_event_t to the host's event callback.
 * A leaf: every part of the runtime that has something to report calls
 * it, and it calls nothing of theirs.
 */
#ifndef JF_RT_EVENT_H
#define JF_RT_EVENT_H

#include <stdint.h>

#include "rt.h"

/* Report one event (no lock held). id (four words) and key may be NULL;
 * msg NULL means "". Everything the callback sees lives only during the
 * call. */
void jf_event_report(jf_runtime_t *rt, int kind, const uint64_t *id, const jf_key_t *key,
    uint64_t ns, int result, const char *msg);

#endif
