/*
 * main.c - the `jitfarm` command: a table of subcommands and the dispatch
 * between them (the compile backends are cmd_compile.c's table).
 *
 * Each subcommand lives in the file of its group and is one row below;
 * adding one (a C-compiler wrapper) means adding a file and a row, nothing
 * else. main() first gives the local compile backend its
 * chance to start (the fork-server must be forked before anything else
 * happens in this process), then dispatches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "cli/cli.h"

int jf_cmd_compile(int argc, char **argv);
int jf_cmd_get(int argc, char **argv);
int jf_cmd_put(int argc, char **argv);
int jf_cmd_ls(int argc, char **argv);
int jf_cmd_stat(int argc, char **argv);
int jf_cmd_gc(int argc, char **argv);
int jf_cmd_keygen(int argc, char **argv);
int jf_cmd_cc(int argc, char **argv);
static int cmd_help(int argc, char **argv);
/* farm.c: runs the command against a farm when one is configured */
int jf_cli_farm_dispatch(const char *cmd, int argc, char **argv, int *rc);

static const jf_cli_cmd_t jf_cli_cmds[] = {
	{ "compile", jf_cmd_compile, "IN|- -o OUT.o [options]",
	  "compile LLVM IR (.ll or .bc) to an object file, through the cache", 1 },
	{ "get", jf_cmd_get, "KEY -o OUT [--blob] [--store URL]",
	  "write a cached artifact's object (or whole blob) to OUT", 0 },
	{ "put", jf_cmd_put, "BLOB [--store URL]",
	  "add an artifact blob to the store under its manifest's key", 0 },
	{ "ls", jf_cmd_ls, "[--store URL]",
	  "list the store: key, size, target, cpu, opt level", 0 },
	{ "stat", jf_cmd_stat, "[--store URL]",
	  "entries and bytes in the store, and this client's counters", 0 },
	{ "gc", jf_cmd_gc, "--max-bytes N[K|M|G] [--store URL]",
	  "trim a file store to N bytes, least recently used first", 0 },
	{ "keygen", jf_cmd_keygen, "PRIV.pem PUB.pem",
	  "make an Ed25519 key pair for signing artifacts", 0 },
	{ "cc", jf_cmd_cc, "[-v] [COMPILER] ARGS...", "compile C like clang-19, code generation through the cache", 0 },
	{ "help", cmd_help, "[COMMAND]", "show this help, or one command's", 0 },
	{ NULL, NULL, NULL, NULL, 0 }
};

static const jf_cli_cmd_t *
find_cmd(const char *name)
{
	const jf_cli_cmd_t *c;

	for (c = jf_cli_cmds; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void
print_help(FILE *f)
{
	const jf_cli_cmd_t *c;

	fprintf(f, "usage: %s COMMAND [ARGS]\n\n"
	    "jitfarm compiles LLVM IR once and caches the object for every\n"
	    "machine that shares the store.\n\ncommands:\n", jf_cli_prog);
	for (c = jf_cli_cmds; c->name != NULL; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->help);
	fprintf(f, "\ncompile options:\n%s\n"
	    "The store defaults to $JITFARM_STORE, else file://$XDG_CACHE_HOME/jitfarm,\n"
	    "else file://$HOME/.cache/jitfarm.\n"
	    "With --farm URL [--token T] (or $JITFARM_FARM, $JITFARM_TOKEN), compile,\n"
	    "get, ls and stat go to a farm's master (http://host:port or unix:PATH).\n"
	    "Exit codes: 0 ok, 1 compile error or failed operation, 2 usage error.\n",
	    jf_cli_compile_opts_help);
}

static int
cmd_help(int argc, char **argv)
{
	const jf_cli_cmd_t *c;

	if (argc > 2)
		return jf_cli_usage("help");
	if (argc == 2) {
		if ((c = find_cmd(argv[1])) == NULL) {
			jf_cli_err("unknown command '%s'", argv[1]);
			return JF_EXIT_USAGE;
		}
		printf("usage: %s %s %s\n  %s\n", jf_cli_prog, c->name, c->args, c->help);
		if (strcmp(c->name, "compile") == 0)
			printf("\noptions:\n%s", jf_cli_compile_opts_help);
		return JF_EXIT_OK;
	}
	print_help(stdout);
	return JF_EXIT_OK;
}

int
main(int argc, char **argv)
{
	const jf_cli_cmd_t *c = argc >= 2 ? find_cmd(argv[1]) : NULL;
	int rc;

	jf_cli_set_commands(jf_cli_cmds);
	/* before anything else: the fork-server is forked from a process
	 * that has opened nothing and started no thread yet */
	jf_cli_local_startup(argc, argv, c != NULL && c->compiles);
	jf_log_to_stderr();
	jf_log_set_level(getenv("JITFARM_DEBUG") ? JF_LOG_DEBUG : JF_LOG_WARN);
	if (argc < 2) {
		print_help(stderr);
		rc = JF_EXIT_USAGE;
		goto out;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		rc = cmd_help(1, argv + 1);
		goto out;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s\n", jf_compiler_id());
		rc = JF_EXIT_OK;
		goto out;
	}
	if (c == NULL) {
		jf_cli_err("unknown command '%s' (try '%s help')", argv[1], jf_cli_prog);
		rc = JF_EXIT_USAGE;
		goto out;
	}
	if (!jf_cli_farm_dispatch(c->name, argc - 1, argv + 1, &rc))
		rc = c->run(argc - 1, argv + 1);
out:
	jf_cli_local_shutdown();
	return rc;
}
