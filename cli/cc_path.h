/*
 * cc_path.h - path rewriting for `jitfarm cc` (cc_path.c): absolute paths
 * under a base directory become relative to the working directory, so two
 * checkouts of one project give the same command line and the same key.
 */
#ifndef JF_CLI_CC_PATH_H
#define JF_CLI_CC_PATH_H

/* Rewrite path relative to cwd when it is absolute and under base (or is
 * base); a copy of path otherwise, and always when cwd or base is NULL.
 * Returns a string to jf_free (never NULL: allocation aborts). */
char *jf_cc_relpath(const char *path, const char *cwd, const char *base);

#endif
