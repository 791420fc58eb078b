/*
 * cc_front_main.c - jitfarm-cc, `jitfarm cc` as a binary of its own that
 * carries no compiler.
 *
 * The jitfarm binary links libLLVM (123 MiB), and loading it costs tens of
 * milliseconds of relocations and page faults on every start: more than
 * a whole ccache hit. A warm build is nothing but hits, so this front
 * links only the wrapper (cc.c, cc_args.c), the store and the CLI's
 * option and counter helpers. It answers direct-mode hits and runs the
 * real compiler for what the farm cannot take, by itself; for anything
 * else (a direct miss) it hands the same command line to `jitfarm cc`,
 * the binary next to it, which skips the direct lookup already made.
 *
 *   make CC=jitfarm-cc            (same as CC="jitfarm cc", faster hits)
 */
#include <stddef.h>

#include "jitfarm/error.h"
#include "common/log.h"
#include "common/util.h"
#include "cli/cli.h"
#include "cli/cc.h"

int
jf_cc_compile(const struct jf_cli_compile_opts *o, const uint8_t *bc, size_t len,
    struct jf_artifact *art, int *hit, char *err, size_t errlen)
{
	(void)o;
	(void)bc;
	(void)len;
	(void)art;
	*hit = 0;
	return jf_seterr(err, errlen, JF_ERR_UNSUPPORTED, "jitfarm-cc does not compile");
}

int
main(int argc, char **argv)
{
	jf_log_to_stderr();
	jf_log_set_level(JF_LOG_WARN);
	return jf_cc_main(argc, argv, 1);
}
