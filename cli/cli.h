/*
 * cli.h - what the files of the `jitfarm` command share.
 *
 * The command is a dispatch table (main.c): one row per subcommand, each
 * implemented in a file of its group (cmd_compile.c, cmd_store.c, ...).
 * A new subcommand is a new file plus one row. The compile path that
 * every compiling command uses (compile, and a C-compiler wrapper) is
 * jf_cli_compile_cached(): derive the key, look in the store, and on a
 * miss compile through a backend (backend table in cmd_compile.c: the local
 * sandboxed compile in local.c; a farm client can be added as a row),
 * store the result and count the hit or miss in the stats file.
 *
 * Exit codes: JF_EXIT_OK, JF_EXIT_FAIL (a compile error, with LLVM's
 * message on stderr, or any other failure of the operation) and
 * JF_EXIT_USAGE (bad command line).
 */
#ifndef JF_CLI_H
#define JF_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "common/blob.h"
#include "compiler/compile.h"

#define JF_EXIT_OK 0
#define JF_EXIT_FAIL 1
#define JF_EXIT_USAGE 2

#define JF_CLI_MAX_SYMBOLS 256

typedef struct jf_cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);      /* argv[0] is the command name */
	const char *args;                       /* one-line synopsis of the arguments */
	const char *help;                       /* one line of what it does */
	int compiles;                           /* 1: may compile locally, so the
						 * fork-server starts first */
} jf_cli_cmd_t;

/* The options every compiling command takes. Strings are borrowed from
 * argv. */
typedef struct jf_cli_compile_opts {
	const char *triple, *cpu, *features, *ns;
	char opt;                               /* 0: the default ('2') */
	const char *store_url;                  /* NULL: jf_store_default_url() */
	const char *farm_url, *farm_token;      /* a remote backend, when one is built in */
	const char *symbols[JF_CLI_MAX_SYMBOLS];
	size_t nsymbols;
	int no_cache;                           /* compile without the store */
	int verbose;
} jf_cli_compile_opts_t;

/* A way to compile on a cache miss (the backend table in main.c). */
typedef struct jf_cli_backend {
	const char *name;
	/* 1 when this backend should serve these options */
	int (*wanted)(const jf_cli_compile_opts_t *o);
	/* Compile req. On success *out owns the artifact. Returns 0 or a
	 * jf_err with the reason in err. */
	int (*compile)(const jf_cli_compile_opts_t *o, const jf_compile_req_t *req,
	    jf_artifact_t *out, char *err, size_t errlen);
} jf_cli_backend_t;

/* The command table jf_cli_usage looks commands up in; main.c hands it
 * over first thing (a binary without one gets no usage lines). */
void jf_cli_set_commands(const jf_cli_cmd_t *table);

/* `ls` and `stat`, the same for a store and a farm: count each entry and,
 * when printing, write "KEY BYTES TRIPLE CPU OLEVEL" (the manifest read
 * from blob, "? ? ?" when there is none or it does not decode). Takes
 * blob (NULL or jf_free memory) and frees it. */
typedef struct jf_cli_ls {
	int print;
	uint64_t entries, bytes;
} jf_cli_ls_t;
void jf_cli_ls_add(jf_cli_ls_t *ls, const jf_key_t *k, uint64_t size, uint8_t *blob,
    size_t len);

/* The program name for messages ("jitfarm"). */
extern const char *jf_cli_prog;

/* Messages: "jitfarm: ..." on stderr. */
void jf_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "usage: jitfarm CMD ARGS" for cmd and return JF_EXIT_USAGE. */
int jf_cli_usage(const char *cmd);
/* Map a jf_err from an operation onto an exit code (always FAIL for
 * errors: usage errors are found before any operation starts). */
int jf_cli_exit(int err);

/*
 * Option helper: when argv[*i] is `name VALUE` or `name=VALUE`, store the
 * value, advance *i past it and return 1; return 0 when argv[*i] is not
 * this option, and -1 (with a message) when its value is missing.
 */
int jf_cli_opt(int argc, char **argv, int *i, const char *name, const char **val);

/*
 * Consume one of the shared compile options at argv[*i] (--target,
 * --cpu, --features, -O N / -ON, --ns, --store, --symbol, --no-cache,
 * -v). Returns 1 when consumed (with *i advanced past it), 0 when argv[*i]
 * is not one of them, -1 on a usage error (message printed).
 */
int jf_cli_compile_opt(jf_cli_compile_opts_t *o, int argc, char **argv, int *i);
/* Parse all of `compile`'s arguments (options, -o OUT, one input).
 * Returns 0, or the usage exit code after saying what is wrong. */
int jf_cli_compile_args(int argc, char **argv, jf_cli_compile_opts_t *o, const char **in,
    const char **outpath);
/* Read IR from a file or "-" (stdin, a pipe too); says why on failure.
 * Returns 0 or -1; the caller owns *ir. */
int jf_cli_read_ir(const char *in, uint8_t **ir, size_t *len);
/* The option lines for help texts. */
extern const char jf_cli_compile_opts_help[];

/* Parse a size with an optional K, M, G or T suffix (powers of 1024).
 * Returns 0 or -1. */
int jf_cli_parse_size(const char *s, uint64_t *out);

/*
 * The cached compile. ir/ir_len are the input bytes. On success *out
 * owns the artifact (from the store or freshly compiled) and *hit says
 * which. Prints "cache: hit KEY" / "cache: miss KEY" on stderr with
 * -v. A store that cannot be opened or written costs only the caching,
 * never the compile (a warning is printed). Counts hits, misses and
 * errors in the stats file. Returns 0 or a jf_err with err filled.
 */
int jf_cli_compile_cached(const jf_cli_compile_opts_t *o, const uint8_t *ir,
    size_t ir_len, jf_artifact_t *out, int *hit, char *err, size_t errlen);

/* The local backend (local.c): the compile runs in a sandboxed worker of
 * the pool, so a crash in LLVM costs that worker and not the command, and
 * comes back as the pool's error. */
int jf_cli_local_wanted(const jf_cli_compile_opts_t *o);
int jf_cli_local_compile(const jf_cli_compile_opts_t *o, const jf_compile_req_t *req,
    jf_artifact_t *out, char *err, size_t errlen);
/* Called first thing in main(), before any file, socket or thread is
 * opened: a zygote re-executed from this binary runs here and never
 * returns. The sandboxed pool itself starts at the first cache miss,
 * while the command is still single-threaded: a command that reads a
 * secret from a file must do so after its compile, or not compile
 * locally. jf_cli_local_shutdown at exit stops the pool. */
void jf_cli_local_startup(int argc, char **argv, int will_compile);
void jf_cli_local_shutdown(void);

/*
 * Client counters, kept in a small text file next to the cache so that
 * they add up across processes: "name value" lines, updated under an
 * exclusive flock. For a file:// store the file is ROOT/cli-stats;
 * otherwise $JITFARM_STATS, or a file under the user's cache directory
 * named after the store URL's hash. Any name may be bumped ("hits",
 * "misses", "errors", "fallbacks", ...).
 */
int jf_cli_stats_path(const char *store_url, char *buf, size_t len);
int jf_cli_stats_bump(const char *store_url, const char *name, uint64_t by);
/* Read every counter; fn is called once per "name value" line in the
 * file's order. Returns 0 (also when there is no file yet) or a jf_err. */
int jf_cli_stats_read(const char *store_url,
    void (*fn)(const char *name, uint64_t value, void *arg), void *arg);
/* Set every counter whose name starts with prefix to zero (drop it). */
int jf_cli_stats_zero(const char *store_url, const char *prefix);

/* Write a command's output file: temp file and rename, so readers see
 * the old file or the whole new one. Returns 0 or JF_ERR_IO (errno). */
int jf_cli_write_output(const char *path, const void *buf, size_t len);

/* The store URL to use: o's, or the default, into buf. */
const char *jf_cli_store_url(const char *given, char *buf, size_t len);

#endif
