/*
 * cc_compile.c - the one place `jitfarm cc` reaches a compiler: the
 * bitcode goes to the farm when one is configured (--farm or
 * $JITFARM_FARM), else through the CLI's cached compile path (the store,
 * then the local sandboxed workers), like `jitfarm compile`.
 *
 * A farm answer is also put into the command's own store, where the
 * direct-mode entries point, so the next hit needs no farm at all. A farm
 * that cannot be reached or refuses the compile costs nothing but time:
 * the compile is done here instead. Kept apart from cc.c so that the
 * jitfarm-cc front binary, which links cc.c without any compiler, LLVM or
 * farm client, can leave it out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "client/farmclient.h"
#include "storage/store.h"
#include "cli/cli.h"
#include "cli/cc.h"

/* Compile on the farm; on success *art owns the artifact. */
static int
farm_compile(const struct jf_cli_compile_opts *o, const uint8_t *bc, size_t len,
    struct jf_artifact *art, int *hit, char *err, size_t errlen)
{
	jf_farm_opts_t fo;
	jf_farm_compile_t fc;
	jf_farm_result_t res;
	jf_farm_t *f = NULL;
	jf_store_opts_t so;
	jf_store_t *s = NULL;
	char url[4200], serr[256];
	int r;

	memset(&fo, 0, sizeof(fo));
	memset(&fc, 0, sizeof(fc));
	memset(&res, 0, sizeof(res));
	fo.url = o->farm_url;
	fo.token = o->farm_token;
	fo.connect_timeout_ms = 1000;
	fc.ir = bc;
	fc.ir_len = len;
	if ((r = jf_spec_set(&fc.spec, o->ns, NULL, o->triple, o->cpu, o->features, o->opt, err,
	    errlen)) != 0 || (r = jf_farm_open(&fo, &f, err, errlen)) != 0 ||
	    (r = jf_farm_compile(f, &fc, &res, err, errlen)) != 0 ||
	    (r = jf_blob_decode(res.blob, res.blob_len, NULL, art, err, errlen)) != 0)
		goto out;
	*hit = strcmp(res.cache, "miss") != 0;
	/* the entries of direct mode point into this store */
	memset(&so, 0, sizeof(so));
	so.retries = -1;
	jf_cli_store_url(o->store_url, url, sizeof(url));
	if (jf_store_open(url, &so, &s, serr, sizeof(serr)) == 0)
		(void)jf_store_put(s, &art->m.key, res.blob, res.blob_len);
	jf_store_close(s);
out:
	jf_farm_result_free(&res);
	jf_farm_close(f);
	return r;
}

int
jf_cc_compile(const struct jf_cli_compile_opts *o, const uint8_t *bc, size_t len,
    struct jf_artifact *art, int *hit, char *err, size_t errlen)
{
	if (o->farm_url != NULL && o->farm_url[0] != '\0') {
		if (farm_compile(o, bc, len, art, hit, err, errlen) == 0)
			return 0;
		if (o->verbose)
			fprintf(stderr, "jitfarm cc: farm %s: %s; compiling here\n", o->farm_url, err);
		jf_artifact_free(art);
		memset(art, 0, sizeof(*art));
	}
	return jf_cli_compile_cached(o, bc, len, art, hit, err, errlen);
}
