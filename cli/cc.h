/*
 * cc.h - what the files of `jitfarm cc` share: the parsed compile line,
 * the command, and its compile stage.
 *
 * The files of the cc path: cc.c (the command and its stages), cc_args.c
 * (the option table), cc_path.c (base-directory rewriting), cc_key.c
 * (keys), cc_entry.c (cache entries and the files they list),
 * cc_hashcache.c (remembered file hashes), cc_run.c (starting the
 * compiler), cc_stats.c (--show-stats); for the jitfarm-cc binary only,
 * cc_dl.c and cc_sha256.c (libraries loaded on demand). docs/cc.md has
 * the design.
 *
 * `jitfarm cc` takes a compiler's command line. cc_args.c sorts every
 * argument into what it is (the source, the output, dependency-file
 * options, options that only reach the preprocessor, ...) and decides
 * whether the cache can stand in for the compile. Paths under a base
 * directory, when one is set, are rewritten relative to the working
 * directory, both in the command that runs and in the cache key, so two
 * checkouts of one project share entries.
 */
#ifndef JF_CLI_CC_H
#define JF_CLI_CC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JF_CC_REASON_MAX 256

/* One argument of the rewritten command line, with what it is. */
typedef enum jf_cc_argkind {
	JF_CC_ARG_PLAIN,        /* affects compilation: part of every key */
	JF_CC_ARG_CPP,          /* preprocessor only (-I -D -U -include ...) */
	JF_CC_ARG_DEP,          /* dependency-file output (-MD -MF x ...) */
	JF_CC_ARG_OUT,          /* -o and its value */
	JF_CC_ARG_SRC,          /* the source file */
	JF_CC_ARG_COMPILE       /* -c */
} jf_cc_argkind_t;

typedef struct jf_cc_args {
	char *compiler;                 /* as given, or $JITFARM_CC, or clang-19 */
	char **argv;                    /* rewritten arguments (owned), NULL-terminated */
	jf_cc_argkind_t *kind;          /* kind of each argv[i] */
	char **keytext;                 /* argv[i]'s form in the key when it differs
					 * (owned; NULL entries: argv[i] itself) */
	size_t argc;
	char **orig;                    /* the arguments as given (borrowed) */
	size_t norig;
	const char *src;                /* points into argv */
	char *out;                      /* output path (owned): -o's, or SRC.o */
	int has_debug;                  /* -g (other than -g0) */
	int debug_mapped;               /* the working directory mapped away (-fdebug-prefix-map,
					 * -ffile-prefix-map, -fdebug-compilation-dir) */
	int has_sysroot;                /* --sysroot or -isysroot */
	int has_dep;                    /* -MD or -MMD */
	int dep_has_mf, dep_has_mt;
	char *dep_path;                 /* where the .d goes (owned) or NULL */
	char reason[JF_CC_REASON_MAX];  /* why the real compiler must run; "" if not */
	char reason_slug[24];           /* its counter: cc-fallback-SLUG */
} jf_cc_args_t;

/*
 * Read a compile line (args[0..n), without "jitfarm cc"). compiler is the
 * compiler to use when args does not start with one (NULL: $JITFARM_CC,
 * else clang-19). base is the base directory for path rewriting (NULL:
 * the working directory). Returns 0 (check a->reason: non-empty means
 * the compile must go to the real compiler), or JF_ERR_SYSTEM when the
 * working directory is unknown. a is zeroed on entry; free it with
 * jf_cc_args_free (its strings are jf_x* memory).
 */
int jf_cc_args_parse(char **args, size_t n, const char *compiler, const char *base,
    jf_cc_args_t *a);
void jf_cc_args_free(jf_cc_args_t *a);

/* The command, shared by `jitfarm cc` and the jitfarm-cc binary
 * (cc_front_main.c): argv[0] is the command's name. */
int jf_cc_main(int argc, char **argv);

/* Print the cc counters of the store at url (cc_stats.c): hits (direct,
 * preprocessed), misses, fallbacks by reason, errors. */
void jf_cc_stats_show(const char *url, FILE *out);

#endif
