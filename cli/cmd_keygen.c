/*
 * cmd_keygen.c - `jitfarm keygen PRIV PUB`: an Ed25519 key pair in PEM
 * files. The master signs artifacts with the private key; nodes hold only
 * the public key and refuse anything unsigned or badly signed.
 */
#include <stdio.h>

#include "common/blob.h"
#include "cli/cli.h"

int jf_cmd_keygen(int argc, char **argv);

int
jf_cmd_keygen(int argc, char **argv)
{
	char err[512];

	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
		return jf_cli_usage("keygen");
	if (jf_sign_keygen(argv[1], argv[2], err, sizeof(err)) != 0) {
		jf_cli_err("keygen: %s", err);
		return JF_EXIT_FAIL;
	}
	printf("private key: %s\npublic key:  %s\n", argv[1], argv[2]);
	return JF_EXIT_OK;
}
