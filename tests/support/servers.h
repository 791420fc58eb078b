/*
 * servers.h - real test servers, started by a test on a free loopback
 * port in a temp dir of their own, and stopped by it: redis-server, nginx
 * serving WebDAV, and s3rver (npm, installed under tests/s3 by
 * scripts/install-deps.sh).
 *
 * Usage:
 *
 *     jft_server_t *r = jft_redis_start(NULL);        // never NULL
 *     jf_store_open(r->url, ...);                     // redis://127.0.0.1:P/0?prefix=jf
 *     jft_server_kill(r);                             // SIGKILL (a crash)
 *     jft_server_restart(r);                          // same port, same data
 *     jft_server_free(r);                             // stop + remove the temp dir
 *
 * A server that cannot start (binary missing, port never opens) aborts the
 * test with a message naming the server and its log file: a missing
 * server fails loudly, it never skips. Each server's log is in its
 * directory (s->log); tests may print it on failure.
 *
 * What each one is:
 *  - redis: `redis-server` with appendonly yes + appendfsync always, so a
 *    SIGKILL loses nothing that was acknowledged and a restart finds the
 *    data (and streams) again. Optional password (requirepass).
 *    url = "redis://[:PASSWORD@]127.0.0.1:PORT/0?prefix=jf".
 *  - nginx: /usr/sbin/nginx, `daemon off`, one worker (user nobody when
 *    run as root), WebDAV (dav_methods PUT DELETE, create_full_put_path on)
 *    with autoindex_format json listings, everything (pid, logs, temp
 *    paths) inside the server's dir. The WebDAV root is s->root, world
 *    writable. Optional basic auth (user + password) or bearer token.
 *    url = "http://127.0.0.1:PORT/store".
 *  - s3rver: `node tests/s3/node_modules/s3rver/bin/s3rver.js`, with a
 *    bucket "jitfarm" created at start; access key "S3RVER", secret
 *    "S3RVER". url = "s3://jitfarm/store?endpoint=http://127.0.0.1:PORT&region=us-east-1".
 *    jft_s3_env() exports AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for it.
 *
 * Not thread-safe; call from the test's main thread. Child processes
 * forked by the test must not call these functions for a server they did
 * not start.
 */
#ifndef JF_TEST_SERVERS_H
#define JF_TEST_SERVERS_H

#include <sys/types.h>

typedef enum jft_server_kind {
	JFT_REDIS = 1,
	JFT_NGINX = 2,
	JFT_S3RVER = 3
} jft_server_kind_t;

typedef struct jft_server_opts {
	const char *password;           /* redis requirepass; nginx basic auth password */
	const char *user;               /* nginx basic auth user (with password) */
	const char *bearer;             /* nginx: require "Authorization: Bearer <this>" */
	int no_persist;                 /* redis: no appendonly (data lost on kill) */
	int ipv6;                       /* redis: listen on ::1 as well; url uses [::1] */
} jft_server_opts_t;

typedef struct jft_server {
	jft_server_kind_t kind;
	int port;                       /* 127.0.0.1:port */
	pid_t pid;                      /* 0 while stopped */
	char *dir;                      /* the server's temp dir (owned) */
	char root[4096];                /* nginx: WebDAV root; s3rver: data dir; redis: dir */
	char log[4096];                 /* the server's log file */
	char url[1024];                 /* a store URL for this server (see above) */
	char base[512];                 /* "127.0.0.1:PORT" */
	jft_server_opts_t opts;         /* strings copied, flags kept */
	char password_[256], user_[256], bearer_[256];
} jft_server_t;

/* Start a server; opts may be NULL. Never returns NULL (aborts instead). */
jft_server_t *jft_redis_start(const jft_server_opts_t *opts);
jft_server_t *jft_nginx_start(const jft_server_opts_t *opts);
jft_server_t *jft_s3rver_start(const jft_server_opts_t *opts);
jft_server_t *jft_server_start(jft_server_kind_t kind, const jft_server_opts_t *opts);

/* SIGTERM and wait (up to 5 s, then SIGKILL). Data stays. 0 on success. */
int jft_server_stop(jft_server_t *s);
/* SIGKILL the whole process group (a crash) and reap. Data stays. */
int jft_server_kill(jft_server_t *s);
/* Start again on the same port, dir and data, after stop or kill (or
 * stop first if running). Waits until it accepts. 0 on success, -1 if it
 * did not come up in 10 s. */
int jft_server_restart(jft_server_t *s);
/* Stop if running, remove the temp dir, free. NULL is fine. */
void jft_server_free(jft_server_t *s);

/* Run a redis-cli command against a redis server (argv after the
 * connection options, NULL-terminated); returns its stdout (malloc'd,
 * trailing newline stripped) or NULL on failure. */
char *jft_redis_cli(jft_server_t *s, const char *const argv[]);

/* Export AWS_ACCESS_KEY_ID=S3RVER and AWS_SECRET_ACCESS_KEY=S3RVER
 * (and unset AWS_SESSION_TOKEN) for the s3 store in this process. */
void jft_s3_env(void);

#endif
