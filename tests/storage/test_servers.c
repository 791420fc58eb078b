/*
 * test_servers.c - the test-server launchers of tests/support/servers.h
 * work: each server starts on its port, answers a real request, keeps its
 * data across kill and restart, and is gone after free.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "servers.h"
#include "support.h"

static int
sh_ok(const char *cmd, char **out)
{
	int st = jft_sh(cmd, out, NULL);

	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

START_TEST(test_redis)
{
	const char *const set[] = { "SET", "k", "v", NULL }, *const get[] = { "GET", "k", NULL };
	jft_server_opts_t o = { .password = "sekrit" };
	jft_server_t *s = jft_redis_start(&o);
	char *out;
	pid_t pid;

	ck_assert_ptr_nonnull(strstr(s->url, ":sekrit@127.0.0.1:"));
	out = jft_redis_cli(s, set);
	ck_assert_str_eq(out, "OK");
	free(out);
	pid = s->pid;
	ck_assert_int_eq(jft_server_kill(s), 0);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(jft_server_restart(s), 0);
	out = jft_redis_cli(s, get);
	ck_assert_str_eq(out, "v");     /* appendfsync always: survives SIGKILL */
	free(out);
	jft_server_free(s);
	ck_assert_int_eq(kill(pid, 0), -1);
}
END_TEST

START_TEST(test_nginx)
{
	jft_server_t *s = jft_nginx_start(NULL);
	char cmd[8192], *out = NULL;

	snprintf(cmd, sizeof(cmd), "printf hello | curl -sf -T - %s/a/b/c && "
	    "curl -sf %s/a/b/c && curl -sf %s/a/b/", s->url, s->url, s->url);
	ck_assert_msg(sh_ok(cmd, &out), "WebDAV PUT/GET failed");
	ck_assert_ptr_nonnull(strstr(out, "hello"));
	ck_assert_ptr_nonnull(strstr(out, "\"name\":\"c\""));
	free(out);
	ck_assert_int_eq(jft_server_stop(s), 0);
	snprintf(cmd, sizeof(cmd), "curl -sf --max-time 2 %s/a/b/c", s->url);
	ck_assert(!sh_ok(cmd, NULL));
	ck_assert_int_eq(jft_server_restart(s), 0);
	ck_assert_msg(sh_ok(cmd, &out), "GET after restart failed");
	ck_assert_str_eq(out, "hello");
	free(out);
	jft_server_free(s);
}
END_TEST

START_TEST(test_nginx_auth)
{
	jft_server_opts_t b = { .bearer = "tok" }, u = { .user = "u", .password = "pw" };
	jft_server_t *s = jft_nginx_start(&b), *t = jft_nginx_start(&u);
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "curl -sf %s/", s->url);
	ck_assert(!sh_ok(cmd, NULL));
	snprintf(cmd, sizeof(cmd), "curl -sf -H 'Authorization: Bearer tok' %s/", s->url);
	ck_assert(sh_ok(cmd, NULL));
	snprintf(cmd, sizeof(cmd), "curl -sf %s/", t->url);
	ck_assert(!sh_ok(cmd, NULL));
	snprintf(cmd, sizeof(cmd), "curl -sf -u u:pw %s/", t->url);
	ck_assert(sh_ok(cmd, NULL));
	jft_server_free(s);
	jft_server_free(t);
}
END_TEST

START_TEST(test_s3rver)
{
	jft_server_t *s = jft_s3rver_start(NULL);
	char cmd[8192], *out = NULL;

	ck_assert_ptr_nonnull(strstr(s->url, "s3://jitfarm/"));
	/* the bucket exists: an anonymous listing of it answers XML */
	snprintf(cmd, sizeof(cmd), "curl -s http://%s/jitfarm", s->base);
	ck_assert(sh_ok(cmd, &out));
	ck_assert_ptr_nonnull(strstr(out, "ListBucketResult"));
	free(out);
	ck_assert_int_eq(jft_server_kill(s), 0);
	ck_assert_int_eq(jft_server_restart(s), 0);
	jft_server_free(s);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_redis, test_nginx, test_nginx_auth, test_s3rver, NULL
	};

	return jft_suite_run(jft_suite("servers", 60, tests, NULL)) != 0;
}
