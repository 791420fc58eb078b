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
 * the design. cc_args.h has the parsed compile line, cc_stats.h the
 * counters.
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

/* The command, shared by `jitfarm cc` and the jitfarm-cc binary
 * (cc_front_main.c): argv[0] is the command's name. */
int jf_cc_main(int argc, char **argv);

#endif
