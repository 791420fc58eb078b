/*
 * event.c - the host's event callback, called with a jf_event_t that is
 * built on the stack: the host must copy what it keeps.
 */
#include <string.h>

#include "event.h"

void
jf_event_report(jf_runtime_t *rt, int kind, const uint64_t *id, const jf_key_t *key,
    uint64_t ns, int result, const char *msg)
{
	jf_event_t ev;
	uint8_t idb[32];

	if (rt->ev_fn == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	if (id != NULL) {
		memcpy(idb, id, 32);
		ev.program_id = idb;
	}
	ev.key = key ? key->b : NULL;
	ev.duration_ns = ns;
	ev.result = result;
	ev.message = msg ? msg : "";
	rt->ev_fn(rt->ev_arg, &ev);
}
