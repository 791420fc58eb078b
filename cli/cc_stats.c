/*
 * cc_stats.c - `jitfarm cc --show-stats`: the cc counters of the stats
 * file (stats.c) in the shape a ccache user expects.
 *
 * The counters are cc-direct-hits, cc-preprocessed-hits, cc-misses,
 * cc-errors (the cache failed and the real compiler ran), and one
 * cc-fallback-REASON for each reason the real compiler had to run
 * (cc_args.c's table names them).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cc_stats.h"

typedef struct cc_counts {
	uint64_t direct, pp, miss, err, fallback;
	char reasons[2048];
	size_t used;
} cc_counts_t;

static void
take(const char *name, uint64_t v, void *arg)
{
	cc_counts_t *k = arg;

	if (strcmp(name, "cc-direct-hits") == 0)
		k->direct = v;
	else if (strcmp(name, "cc-preprocessed-hits") == 0)
		k->pp = v;
	else if (strcmp(name, "cc-misses") == 0)
		k->miss = v;
	else if (strcmp(name, "cc-errors") == 0)
		k->err = v;
	else if (strncmp(name, "cc-fallback-", 12) == 0 && k->used < sizeof(k->reasons)) {
		k->fallback += v;
		k->used += (size_t)snprintf(k->reasons + k->used, sizeof(k->reasons) - k->used,
		    "    %-24s %" PRIu64 "\n", name + 12, v);
	}
}

void
jf_cc_stats_show(const char *url, FILE *out)
{
	cc_counts_t k;
	uint64_t hits;

	memset(&k, 0, sizeof(k));
	(void)jf_cli_stats_read(url, take, &k);
	hits = k.direct + k.pp;
	fprintf(out, "store                        %s\n", url);
	fprintf(out, "cacheable compiles           %" PRIu64 "\n", hits + k.miss);
	fprintf(out, "  hits                       %" PRIu64 "\n", hits);
	fprintf(out, "    direct                   %" PRIu64 "\n", k.direct);
	fprintf(out, "    preprocessed             %" PRIu64 "\n", k.pp);
	fprintf(out, "  misses                     %" PRIu64 "\n", k.miss);
	if (hits + k.miss > 0)
		fprintf(out, "  hit rate                   %.1f %%\n",
		    100.0 * (double)hits / (double)(hits + k.miss));
	fprintf(out, "fallbacks to the compiler    %" PRIu64 "\n", k.fallback);
	fputs(k.reasons, out);
	fprintf(out, "errors (compiler ran)        %" PRIu64 "\n", k.err);
}
