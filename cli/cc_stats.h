/*
 * cc_stats.h - the counters of `jitfarm cc` (cc_stats.c).
 */
#ifndef JF_CLI_CC_STATS_H
#define JF_CLI_CC_STATS_H

#include <stdio.h>

/* Print the cc counters of the store at url (cc_stats.c): hits (direct,
 * preprocessed), misses, fallbacks by reason, errors. */
void jf_cc_stats_show(const char *url, FILE *out);

#endif
