/*
 * cc_run.h - starting the compiler for `jitfarm cc` (cc_run.c): with the
 * user's own arguments in place of this process, or as a child for the
 * cached compile's miss and preprocessor runs.
 */
#ifndef JF_CLI_CC_RUN_H
#define JF_CLI_CC_RUN_H

#include "cli/cc_args.h"

/*
 * Run argv (argv[0] looked up in PATH) with extra environment entries
 * (NULL-terminated, may be NULL), stdout to out_path and stderr to
 * err_path (NULL: inherited). Returns the exit status (128+signal when
 * killed), or a negative jf_err when it could not start.
 */
int jf_cc_run(char *const *argv, char *const *extra_env, const char *out_path,
    const char *err_path);

/* compiler + a's rewritten arguments, leaving out the kinds in skip (a
 * bitmask of 1 << kind), then extra (NULL-terminated, may be NULL). The
 * strings are borrowed; free the array with jf_free. */
char **jf_cc_argv_build(const jf_cc_args_t *a, unsigned skip, const char *const *extra);

/* Replace this process with the real compiler and the original
 * arguments. Returns only when that fails (127). */
int jf_cc_exec_real(const jf_cc_args_t *a);

#endif
