/*
 * cc_compile.c - the one place `jitfarm cc` reaches the compiler: its
 * bitcode goes through the CLI's cached compile path, like `jitfarm
 * compile` (the store, then the farm or the local sandboxed workers).
 * Kept apart from cc.c so that the jitfarm-cc front binary, which links
 * cc.c without any compiler or LLVM, can leave it out.
 */
#include "common/blob.h"
#include "cli/cli.h"
#include "cli/cc.h"

int
jf_cc_compile(const struct jf_cli_compile_opts *o, const uint8_t *bc, size_t len,
    struct jf_artifact *art, int *hit, char *err, size_t errlen)
{
	return jf_cli_compile_cached(o, bc, len, art, hit, err, errlen);
}
