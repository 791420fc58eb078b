/*
 * cc_args.h - the parsed compile line of `jitfarm cc` (cc_args.c): every
 * argument sorted into what it is, and whether the cache can stand in for
 * the compile.
 */
#ifndef JF_CLI_CC_ARGS_H
#define JF_CLI_CC_ARGS_H

#include <stddef.h>
#include <stdint.h>

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

#endif
