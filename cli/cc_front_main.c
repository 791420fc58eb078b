/*
 * cc_front_main.c - jitfarm-cc, `jitfarm cc` as a binary of its own that
 * carries no LLVM.
 *
 * The jitfarm binary links libLLVM (123 MiB), and loading it costs more
 * than a whole cache hit. `jitfarm cc` needs none of it: clang writes
 * every object. This binary links only the wrapper (cli/cc*.c), the store
 * and the CLI's option and counter helpers; libcurl and hiredis are
 * loaded only when a store needs them (cc_dl.c), and OpenSSL is told not
 * to read its configuration file, which a hash does not need.
 *
 *   make CC=jitfarm-cc            (same as CC="jitfarm cc", faster)
 */
#include <stddef.h>

#include <openssl/crypto.h>

#include "jitfarm/error.h"
#include "common/log.h"
#include "cli/cli.h"
#include "cli/cc.h"

int
main(int argc, char **argv)
{
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	jf_log_to_stderr();
	jf_log_set_level(JF_LOG_WARN);
	return jf_cc_main(argc, argv);
}
