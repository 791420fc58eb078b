/*
 * support.h - helpers shared by the check test programs: temporary
 * directories, free loopback ports, running commands and capturing their
 * output, and locating the build. Servers (redis-server, nginx, s3rver,
 * jitfarm-master) are started through these helpers on loopback, in a
 * temp dir, and stopped by the test that started them.
 */
#ifndef JF_TEST_SUPPORT_H
#define JF_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A fresh directory under $TMPDIR; removed by jft_rmtree. Never NULL. */
char *jft_tmpdir(const char *tag);
void jft_rmtree(const char *path);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int jft_free_port(void);
/* Wait until something accepts on 127.0.0.1:port; 0 when it does. */
int jft_wait_port(int port, int timeout_ms);

/* $JF_BUILD/bin/NAME or $JF_SRC/PATH, in static buffers of their own. */
const char *jft_bin(const char *name);
const char *jft_test_bin(const char *name);
const char *jft_src(const char *relpath);

/* Run argv (argv[0] searched in PATH), with stdin from in (may be NULL),
 * capturing stdout and stderr into malloc'd strings (may be NULL).
 * Returns the exit status as from waitpid (use WIFEXITED etc.), or -1. */
int jft_run(char *const argv[], const void *in, size_t inlen, char **out, char **err);
/* Run a shell command line; same returns. */
int jft_sh(const char *cmd, char **out, char **err);
/* Start argv in the background with output to logfile; returns the pid. */
pid_t jft_spawn(char *const argv[], const char *logfile);
/* SIGTERM, wait up to 5 s, then SIGKILL; reaps. */
void jft_stop(pid_t pid);

/* Run a check suite (forked, CK_NORMAL output) and free the runner.
 * Returns the number of failed tests: `return jft_suite_run(s) != 0;`. */
struct Suite;
int jft_suite_run(struct Suite *s);
/* A suite of one test case, both called name, with a timeout (0: check's
 * default) and the NULL-terminated tests; *tcp, when tcp is not NULL,
 * receives the case, for loop tests and fixtures:
 *	const TTest *tests[] = { test_a, test_b, NULL };
 *	return jft_suite_run(jft_suite("blob", 60, tests, NULL)) != 0; */
struct TCase;
struct TTest;
struct Suite *jft_suite(const char *name, int timeout_s, const struct TTest *const *tests,
    struct TCase **tcp);

/* Read a file into a malloc'd buffer (NUL-terminated). NULL on error. */
uint8_t *jft_read(const char *path, size_t *len);
int jft_write(const char *path, const void *data, size_t len);

/* Small valid IR the tests compile: @add, and a different function a
 * "victim" program is made of. */
extern const char jft_add_ll[];
extern const char jft_victim_ll[];

#endif
