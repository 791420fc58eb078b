/*
 * master.c - the test launcher for jitfarm-master (master.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "master.h"
#include "support.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

pid_t
jft_master_spawn(char *const argv[], const char *logfile)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int
jft_master_reap(pid_t pid, const char *logfile, char *why, size_t whylen)
{
	uint64_t end = now_ms() + 20000;
	int st = 0;
	pid_t w = 0;
	char *log;

	while (now_ms() < end && (w = waitpid(pid, &st, WNOHANG)) == 0)
		usleep(10000);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		snprintf(why, whylen, "master %d did not exit after SIGTERM", (int)pid);
		return -1;
	}
	log = (char *)jft_read(logfile, NULL);
	if (log != NULL && (strstr(log, "Sanitizer") != NULL || strstr(log, "runtime error:"))) {
		fprintf(stderr, "master log with a sanitizer report:\n%s\n", log);
		free(log);
		snprintf(why, whylen, "sanitizer report in %s", logfile);
		return -1;
	}
	free(log);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(why, whylen, "master exit status %d (log %s)", st, logfile);
		return -1;
	}
	return 0;
}

/* Does something accept on listen ("HOST:PORT", "[V6]:PORT", "unix:PATH")? */
static int
accepts(const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *colon = strrchr(listen, ':');
	int fd, ok;

	memset(&ss, 0, sizeof(ss));
	if (strncmp(listen, "unix:", 5) == 0) {
		struct sockaddr_un *su = (struct sockaddr_un *)&ss;

		su->sun_family = AF_UNIX;
		snprintf(su->sun_path, sizeof(su->sun_path), "%s", listen + 5);
		sl = sizeof(*su);
	} else if (listen[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		char host[64];

		snprintf(host, sizeof(host), "%.*s", (int)(colon - listen - 2), listen + 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return 0;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		char host[64];

		snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return 0;
		sl = sizeof(*s4);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&ss, sl) == 0;
	close(fd);
	return ok;
}

/* One attempt: spawn with listen, wait until it accepts. 1 up, 0 exited,
 * -1 alive but never listening. */
static int
start_once(jft_master_t *m, const jft_master_opts_t *o, const char *listen)
{
	char *argv[80];
	uint64_t end = now_ms() + 30000;
	int n = 0, i, st;

	argv[n++] = (char *)jft_test_bin("jitfarm-master");
	argv[n++] = (char *)"--listen";
	argv[n++] = (char *)listen;
	argv[n++] = (char *)"--store";
	argv[n++] = m->store;
	argv[n++] = (char *)"--workers";
	argv[n++] = (char *)(o->workers != NULL ? o->workers : "2");
	argv[n++] = (char *)"--log-level";
	argv[n++] = (char *)(o->log_level != NULL ? o->log_level : "info");
	for (i = 0; o->args != NULL && o->args[i] != NULL && n < 78; i++)
		argv[n++] = (char *)o->args[i];
	argv[n] = NULL;
	if ((m->pid = jft_master_spawn(argv, m->log)) < 0) {
		m->pid = 0;
		return 0;
	}
	while (now_ms() < end) {
		if (waitpid(m->pid, &st, WNOHANG) == m->pid) {
			m->pid = 0;
			return 0;
		}
		if (accepts(listen))
			return 1;
		usleep(20000);
	}
	return -1;
}

int
jft_master_start(jft_master_t *m, const char *tag, const jft_master_opts_t *o)
{
	static const jft_master_opts_t none;
	char listen[4200];
	int attempt, up = 0, st;

	if (o == NULL)
		o = &none;
	memset(m, 0, sizeof(*m));
	m->own_dir = o->dir == NULL;
	m->dir = o->dir != NULL ? strdup(o->dir) : jft_tmpdir(tag);
	if (o->store != NULL)
		snprintf(m->store, sizeof(m->store), "%s", o->store);
	else
		snprintf(m->store, sizeof(m->store), "file://%s/store", m->dir);
	if (o->log != NULL)
		snprintf(m->log, sizeof(m->log), "%s", o->log);
	else
		snprintf(m->log, sizeof(m->log), "%s/master.log", m->dir);
	for (attempt = 0; attempt < 3 && up == 0; attempt++) {
		if (o->listen != NULL) {
			snprintf(listen, sizeof(listen), "%s", o->listen);
		} else {
			m->port = jft_free_port();
			snprintf(listen, sizeof(listen), "127.0.0.1:%d", m->port);
		}
		if (strncmp(listen, "unix:", 5) == 0) {
			m->port = 0;
			snprintf(m->url, sizeof(m->url), "%s", listen);
		} else {
			m->port = atoi(strrchr(listen, ':') + 1);
			snprintf(m->url, sizeof(m->url), "http://%s", listen);
		}
		up = start_once(m, o, listen);
		if (o->listen != NULL)
			break;          /* a fixed address: no other port to try */
	}
	if (up == 1)
		return 0;
	{
		char *log = (char *)jft_read(m->log, NULL);

		fprintf(stderr, "master did not start; log %s:\n%s\n", m->log, log ? log : "(none)");
		free(log);
	}
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, &st, 0);
		m->pid = 0;
	}
	return -1;
}

int
jft_master_stop(jft_master_t *m, char *why, size_t whylen)
{
	int r = 0;

	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		r = jft_master_reap(m->pid, m->log, why, whylen);
	}
	m->pid = 0;
	if (r == 0 && m->own_dir && m->dir != NULL)
		jft_rmtree(m->dir);     /* kept, with the log, when something was wrong */
	free(m->dir);
	m->dir = NULL;
	return r;
}

void
jft_master_kill(jft_master_t *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
	}
	m->pid = 0;
}
