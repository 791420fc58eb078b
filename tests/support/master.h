/*
 * master.h - one launcher for jitfarm-master in tests: start the
 * test-hook build on a free loopback port (or a given address, or a Unix
 * socket) with the flags a test wants, wait until it accepts, and stop
 * it as an operator would (SIGTERM), insisting on exit status 0 and no
 * sanitizer report in its log.
 *
 *     jft_master_t m;
 *     const char *extra[] = { "--tokens", path, NULL };
 *     jft_master_opts_t o = { .args = extra };
 *     if (jft_master_start(&m, "m-auth", &o) != 0) ...;    // m.url, m.port, m.dir
 *     ...
 *     if (jft_master_stop(&m, why, sizeof(why)) != 0) ...;
 *
 * The master is spawned with PR_SET_PDEATHSIG, so a test that dies never
 * leaves a daemon behind.
 */
#ifndef JF_TEST_MASTER_H
#define JF_TEST_MASTER_H

#include <stddef.h>
#include <sys/types.h>

typedef struct jft_master_opts {
	const char *listen;             /* NULL: 127.0.0.1 on a free port; else as --listen
	                                 * ("HOST:PORT", "[::1]:PORT", "unix:PATH") */
	const char *store;              /* NULL: file://DIR/store */
	const char *dir;                /* NULL: a new temp dir, removed by stop */
	const char *log;                /* NULL: DIR/master.log */
	const char *workers;            /* NULL: "2" */
	const char *log_level;          /* NULL: "info" */
	const char *const *args;        /* more flags, NULL-terminated */
} jft_master_opts_t;

typedef struct jft_master {
	pid_t pid;                      /* 0 once stopped or reaped */
	int port;                       /* 0 on a Unix socket */
	char *dir;                      /* the master's dir */
	int own_dir;                    /* made by the launcher: stop removes it */
	char url[4200];                 /* http://HOST:PORT or unix:PATH, for farm clients */
	char store[4200];
	char log[4200];
} jft_master_t;

/* Start and wait (30 s) until it accepts. A master that exits at once on
 * a free port someone took in the meantime is started again on another.
 * Returns 0, or -1 after printing its log to stderr (nothing left running). */
int jft_master_start(jft_master_t *m, const char *tag, const jft_master_opts_t *o);
/* SIGTERM, then jft_master_reap; removes an own dir when all was well.
 * 0, or -1 with why. */
int jft_master_stop(jft_master_t *m, char *why, size_t whylen);
/* SIGKILL and reap (a crash); the dir stays. */
void jft_master_kill(jft_master_t *m);

/* The low-level pieces, for tests that run the binary their own way. */
pid_t jft_master_spawn(char *const argv[], const char *logfile);
/* Wait (20 s) for pid to exit: 0 when it exited 0 with no sanitizer
 * report in logfile; else -1 with why (a master still running is killed). */
int jft_master_reap(pid_t pid, const char *logfile, char *why, size_t whylen);

#endif
