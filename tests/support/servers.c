/*
 * servers.c - launchers for the real servers the integration tests talk
 * to (servers.h): redis-server, nginx with WebDAV and s3rver. Each runs
 * in the foreground of its own process group, in a temp dir that holds
 * its config, data, pid file and log, on a port that was free a moment
 * before. A server that cannot come up aborts the test loudly, naming
 * its log: a missing server is a failure, never a skip.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/url.h"
#include "servers.h"
#include "support.h"

#define START_TIMEOUT_MS 10000

static void
die(const jft_server_t *s, const char *what)
{
	char *tail = NULL, cmd[4200];

	snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' 2>/dev/null", s->log);
	jft_sh(cmd, &tail, NULL);
	fprintf(stderr, "test server: %s (log %s):\n%s\n", what, s->log, tail ? tail : "");
	free(tail);
	abort();
}

static void
write_file(const jft_server_t *s, const char *path, const char *text)
{
	if (jft_write(path, text, strlen(text)) != 0)
		die(s, "cannot write its config");
}

static const char *
s3rver_script(void)
{
	return jft_src("tests/s3/node_modules/s3rver/bin/s3rver.js");
}

/* Fork and exec the server for s->kind; sets s->pid. */
static void
spawn(jft_server_t *s)
{
	char conf[4200], port[16];

	snprintf(port, sizeof(port), "%d", s->port);
	switch (s->kind) {
	case JFT_REDIS: {
		char bin[] = "redis-server";
		char *argv[] = { bin, conf, NULL };

		snprintf(conf, sizeof(conf), "%s/redis.conf", s->dir);
		s->pid = jft_spawn(argv, s->log);
		break;
	}
	case JFT_NGINX: {
		char bin[] = "/usr/sbin/nginx", p[] = "-p", c[] = "-c";
		char *argv[] = { bin, p, s->dir, c, conf, NULL };

		snprintf(conf, sizeof(conf), "%s/nginx.conf", s->dir);
		s->pid = jft_spawn(argv, s->log);
		break;
	}
	case JFT_S3RVER: {
		/* s3rver's ListObjectsV2 continuation tokens use DES, which
		 * OpenSSL 3 keeps in its legacy provider */
		char node[] = "node", legacy[] = "--openssl-legacy-provider", d[] = "-d",
		    a[] = "-a", ip[] = "127.0.0.1", pp[] = "-p",
		    sil[] = "--silent", cb[] = "--configure-bucket", bucket[] = "jitfarm",
		    script[4096];
		char *argv[] = { node, legacy, script, d, s->root, a, ip, pp, port, sil, cb, bucket, NULL };

		snprintf(script, sizeof(script), "%s", s3rver_script());
		s->pid = jft_spawn(argv, s->log);
		break;
	}
	}
	if (s->pid <= 0)
		die(s, "fork failed");
}

/* Wait until the port accepts, or the process died. 0 when up. */
static int
wait_up(jft_server_t *s)
{
	int waited;

	for (waited = 0; waited < START_TIMEOUT_MS; waited += 20) {
		struct timespec ts = { 0, 20 * 1000000L };
		int status;

		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		if (jft_wait_port(s->port, 0) == 0)
			break;
		nanosleep(&ts, NULL);
	}
	if (waited >= START_TIMEOUT_MS)
		return -1;
	if (s->kind == JFT_REDIS) {
		/* the port opens before the append-only file is loaded */
		const char *const ping[] = { "PING", NULL };

		for (; waited < START_TIMEOUT_MS; waited += 20) {
			struct timespec ts = { 0, 20 * 1000000L };
			char *out = jft_redis_cli(s, ping);
			int ok = out && strcmp(out, "PONG") == 0;

			free(out);
			if (ok)
				return 0;
			nanosleep(&ts, NULL);
		}
		return -1;
	}
	return 0;
}

static void
config_redis(jft_server_t *s)
{
	char path[4200], text[8192], pw[800];
	int n;

	n = snprintf(text, sizeof(text),
	    "port %d\nbind 127.0.0.1%s\ndir %s\ndaemonize no\nsave \"\"\n"
	    "appendonly %s\nappendfsync always\nlogfile \"\"\nloglevel notice\n"
	    "protected-mode no\n",
	    s->port, s->opts.ipv6 ? " ::1" : "", s->root, s->opts.no_persist ? "no" : "yes");
	if (s->opts.password)
		snprintf(text + n, sizeof(text) - (size_t)n, "requirepass %s\n", s->opts.password);
	snprintf(path, sizeof(path), "%s/redis.conf", s->dir);
	write_file(s, path, text);
	if (s->opts.password && jf_url_encode(s->opts.password, 0, pw, sizeof(pw)) != 0)
		pw[0] = '\0';
	snprintf(s->url, sizeof(s->url), "redis://%s%s%s%s:%d/0?prefix=jf",
	    s->opts.password ? ":" : "", s->opts.password ? pw : "",
	    s->opts.password ? "@" : "", s->opts.ipv6 ? "[::1]" : "127.0.0.1", s->port);
}

static void
config_nginx(jft_server_t *s)
{
	char path[4200], text[16384], www[4200], tmp[4200], auth[1024] = "";

	snprintf(www, sizeof(www), "%s/www", s->dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", s->dir);
	snprintf(s->root, sizeof(s->root), "%s/www/store", s->dir);
	if (mkdir(www, 0777) != 0 || mkdir(tmp, 0777) != 0 || mkdir(s->root, 0777) != 0)
		die(s, "cannot create its directories");
	/* the worker runs as nobody: it must write the WebDAV root */
	chmod(www, 0777);
	chmod(tmp, 0777);
	chmod(s->root, 0777);
	if (s->opts.user && s->opts.password) {
		char line[600];

		snprintf(path, sizeof(path), "%s/htpasswd", s->dir);
		snprintf(line, sizeof(line), "%s:{PLAIN}%s\n", s->opts.user, s->opts.password);
		write_file(s, path, line);
		chmod(path, 0644);
		snprintf(auth, sizeof(auth),
		    "            auth_basic \"jitfarm\";\n"
		    "            auth_basic_user_file %s;\n", path);
	} else if (s->opts.bearer) {
		snprintf(auth, sizeof(auth),
		    "            if ($http_authorization != \"Bearer %s\") { return 401; }\n",
		    s->opts.bearer);
	}
	snprintf(text, sizeof(text),
	    "daemon off;\n"
	    "master_process on;\n"
	    "worker_processes 1;\n"
	    "%s"
	    "pid %s/nginx.pid;\n"
	    "error_log %s/error.log info;\n"
	    "events { worker_connections 512; }\n"
	    "http {\n"
	    "    access_log off;\n"
	    "    client_body_temp_path %s/body;\n"
	    "    proxy_temp_path %s/proxy;\n"
	    "    fastcgi_temp_path %s/fastcgi;\n"
	    "    uwsgi_temp_path %s/uwsgi;\n"
	    "    scgi_temp_path %s/scgi;\n"
	    "    client_max_body_size 0;\n"
	    "    client_body_buffer_size 1m;\n"
	    "    keepalive_requests 1000000;\n"
	    "    keepalive_timeout 120s;\n"
	    "    sendfile on;\n"
	    "    server {\n"
	    "        listen 127.0.0.1:%d;\n"
	    "        root %s;\n"
	    "        location / {\n"
	    "%s"
	    "            dav_methods PUT DELETE;\n"
	    "            create_full_put_path on;\n"
	    "            dav_access user:rw group:rw all:rw;\n"
	    "            autoindex on;\n"
	    "            autoindex_format json;\n"
	    "        }\n"
	    "    }\n"
	    "}\n",
	    geteuid() == 0 ? "user nobody nogroup;\n" : "",
	    s->dir, s->dir, tmp, tmp, tmp, tmp, tmp, s->port, www, auth);
	snprintf(path, sizeof(path), "%s/nginx.conf", s->dir);
	write_file(s, path, text);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/store", s->port);
}

static void
config_s3rver(jft_server_t *s)
{
	if (access(s3rver_script(), R_OK) != 0) {
		fprintf(stderr, "test server: s3rver is not installed at %s; run "
		    "scripts/install-deps.sh (npm install in tests/s3)\n", s3rver_script());
		abort();
	}
	snprintf(s->root, sizeof(s->root), "%s/data", s->dir);
	if (mkdir(s->root, 0755) != 0)
		die(s, "cannot create its data dir");
	snprintf(s->url, sizeof(s->url),
	    "s3://jitfarm/store?endpoint=http://127.0.0.1:%d&region=us-east-1", s->port);
}

static void
copy_opt(const char **dst, char *buf, size_t len, const char *src)
{
	*dst = NULL;
	if (src) {
		snprintf(buf, len, "%s", src);
		*dst = buf;
	}
}

jft_server_t *
jft_server_start(jft_server_kind_t kind, const jft_server_opts_t *opts)
{
	static const char *const tags[] = { "", "redis", "nginx", "s3rver" };
	jft_server_t *s = calloc(1, sizeof(*s));

	if (s == NULL)
		abort();
	s->kind = kind;
	if (opts) {
		s->opts = *opts;
		copy_opt(&s->opts.password, s->password_, sizeof(s->password_), opts->password);
		copy_opt(&s->opts.user, s->user_, sizeof(s->user_), opts->user);
		copy_opt(&s->opts.bearer, s->bearer_, sizeof(s->bearer_), opts->bearer);
	}
	s->dir = jft_tmpdir(tags[kind]);
	s->port = jft_free_port();
	snprintf(s->base, sizeof(s->base), "127.0.0.1:%d", s->port);
	snprintf(s->log, sizeof(s->log), "%s/server.log", s->dir);
	snprintf(s->root, sizeof(s->root), "%s", s->dir);
	switch (kind) {
	case JFT_REDIS:
		config_redis(s);
		break;
	case JFT_NGINX:
		config_nginx(s);
		break;
	case JFT_S3RVER:
		config_s3rver(s);
		break;
	default:
		abort();
	}
	spawn(s);
	if (wait_up(s) != 0)
		die(s, "did not come up");
	return s;
}

jft_server_t *
jft_redis_start(const jft_server_opts_t *opts)
{
	return jft_server_start(JFT_REDIS, opts);
}

jft_server_t *
jft_nginx_start(const jft_server_opts_t *opts)
{
	return jft_server_start(JFT_NGINX, opts);
}

jft_server_t *
jft_s3rver_start(const jft_server_opts_t *opts)
{
	return jft_server_start(JFT_S3RVER, opts);
}

static int
reap(jft_server_t *s, int timeout_ms)
{
	int i, status;

	for (i = 0; i < timeout_ms / 10; i++) {
		struct timespec ts = { 0, 10 * 1000000L };

		if (waitpid(s->pid, &status, WNOHANG) == s->pid)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

int
jft_server_stop(jft_server_t *s)
{
	if (s == NULL || s->pid <= 0)
		return 0;
	/* nginx: SIGTERM to the master is a fast shutdown of its workers */
	kill(s->pid, SIGTERM);
	if (reap(s, 5000) != 0) {
		killpg(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	/* nothing of the group may outlive it (an nginx worker, say) */
	killpg(s->pid, SIGKILL);
	s->pid = 0;
	return 0;
}

int
jft_server_kill(jft_server_t *s)
{
	if (s == NULL || s->pid <= 0)
		return 0;
	killpg(s->pid, SIGKILL);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
	return 0;
}

int
jft_server_restart(jft_server_t *s)
{
	if (s->pid > 0)
		jft_server_stop(s);
	if (s->kind == JFT_NGINX) {
		char pid[4200];

		snprintf(pid, sizeof(pid), "%s/nginx.pid", s->dir);
		unlink(pid);
	}
	spawn(s);
	return wait_up(s);
}

void
jft_server_free(jft_server_t *s)
{
	if (s == NULL)
		return;
	jft_server_stop(s);
	jft_rmtree(s->dir);
	free(s->dir);
	free(s);
}

char *
jft_redis_cli(jft_server_t *s, const char *const argv[])
{
	char *args[64], port[16], *out = NULL;
	char cli[] = "redis-cli", h[] = "-h", ip[] = "127.0.0.1", p[] = "-p", a[] = "-a",
	    noauth[] = "--no-auth-warning";
	size_t n = 0, i, len;
	int st;

	snprintf(port, sizeof(port), "%d", s->port);
	args[n++] = cli;
	args[n++] = h;
	args[n++] = ip;
	args[n++] = p;
	args[n++] = port;
	if (s->opts.password) {
		args[n++] = a;
		args[n++] = (char *)s->opts.password;
		args[n++] = noauth;
	}
	for (i = 0; argv[i] && n < 63; i++)
		args[n++] = (char *)argv[i];
	args[n] = NULL;
	st = jft_run(args, NULL, 0, &out, NULL);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		free(out);
		return NULL;
	}
	len = strlen(out);
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	return out;
}

void
jft_s3_env(void)
{
	setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
	unsetenv("AWS_SESSION_TOKEN");
}
