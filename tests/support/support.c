/*
 * support.c - the test helpers of support.h. They abort the test (via
 * check's ck_abort) only where a test cannot go on at all; otherwise they
 * return errors for the test to assert on.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

char *
jft_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/jftest-%s-XXXXXX", base, tag) < 0)
		abort();
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	/* nginx's worker runs as nobody and must reach its WebDAV root */
	chmod(path, 0755);
	return path;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
jft_rmtree(const char *path)
{
	if (path == NULL || getenv("JF_KEEP_TMP") != NULL)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
jft_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd, port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		abort();
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		abort();
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

int
jft_wait_port(int port, int timeout_ms)
{
	struct timespec ts = { 0, 20 * 1000000L };
	int waited = 0;

	for (;;) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return 0;
		if (waited >= timeout_ms)
			return -1;
		nanosleep(&ts, NULL);
		waited += 20;
	}
}

static const char *
join(char *buf, size_t len, const char *env, const char *dflt, const char *name)
{
	const char *b = getenv(env);

	snprintf(buf, len, "%s/%s", b && *b ? b : dflt, name);
	return buf;
}

const char *
jft_bin(const char *name)
{
	static char buf[4096];

	return join(buf, sizeof(buf), "JF_BIN", "build/bin", name);
}

const char *
jft_test_bin(const char *name)
{
	static char buf[4096];

	return join(buf, sizeof(buf), "JF_TEST_BIN", "build/test/bin", name);
}

const char *
jft_src(const char *relpath)
{
	static char buf[4][4096];
	static int i;

	i = (i + 1) % 4;
	return join(buf[i], sizeof(buf[i]), "JF_SRC", ".", relpath);
}

typedef struct sink {
	int fd;
	char *buf;
	size_t len, cap;
} sink_t;

static void
sink_read(sink_t *s)
{
	char tmp[65536];
	ssize_t n = read(s->fd, tmp, sizeof(tmp));

	if (n <= 0) {
		if (n == 0 || errno != EINTR) {
			close(s->fd);
			s->fd = -1;
		}
		return;
	}
	if (s->len + (size_t)n + 1 > s->cap) {
		s->cap = (s->len + (size_t)n + 1) * 2;
		if ((s->buf = realloc(s->buf, s->cap)) == NULL)
			abort();
	}
	memcpy(s->buf + s->len, tmp, (size_t)n);
	s->len += (size_t)n;
	s->buf[s->len] = '\0';
}

int
jft_run(char *const argv[], const void *in, size_t inlen, char **out, char **err)
{
	int pin[2], pout[2], perr[2], status = -1;
	sink_t so = { 0 }, se = { 0 };
	size_t off = 0;
	pid_t pid;

	if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC))
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	so.fd = pout[0];
	se.fd = perr[0];
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	if (in == NULL || inlen == 0) {
		close(pin[1]);
		pin[1] = -1;
	}
	while (so.fd >= 0 || se.fd >= 0 || pin[1] >= 0) {
		struct pollfd p[3] = {
			{ .fd = so.fd, .events = POLLIN },
			{ .fd = se.fd, .events = POLLIN },
			{ .fd = pin[1], .events = POLLOUT },
		};

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			sink_read(&so);
		if (p[1].revents)
			sink_read(&se);
		if (p[2].revents) {
			ssize_t n = write(pin[1], (const char *)in + off, inlen - off);

			if (n > 0)
				off += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || off == inlen) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = so.buf ? so.buf : strdup("");
	else
		free(so.buf);
	if (err)
		*err = se.buf ? se.buf : strdup("");
	else
		free(se.buf);
	return status;
}

int
jft_sh(const char *cmd, char **out, char **err)
{
	char sh[] = "/bin/sh", c[] = "-c";
	char *argv[] = { sh, c, (char *)cmd, NULL };

	return jft_run(argv, NULL, 0, out, err);
}

pid_t
jft_spawn(char *const argv[], const char *logfile)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(logfile ? logfile : "/dev/null",
		    O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

void
jft_stop(pid_t pid)
{
	int i, status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (i = 0; i < 500; i++) {
		struct timespec ts = { 0, 10 * 1000000L };

		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

uint8_t *
jft_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

int
jft_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int r;

	if (f == NULL)
		return -1;
	r = fwrite(data, 1, len, f) == len ? 0 : -1;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

int
jft_suite_run(Suite *s)
{
	SRunner *sr = srunner_create(s);      /* the runner now owns s */
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

Suite *
jft_suite(const char *name, int timeout_s, const TTest *const *tests, TCase **tcp)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);

	if (timeout_s > 0)
		tcase_set_timeout(tc, timeout_s);
	for (; tests != NULL && *tests != NULL; tests++)
		tcase_add_test(tc, *tests);
	suite_add_tcase(s, tc);
	if (tcp != NULL)
		*tcp = tc;
	return s;
}

const char jft_add_ll[] =
    "define i32 @add(i32 %a, i32 %b) {\n"
    "  %c = add i32 %a, %b\n"
    "  ret i32 %c\n"
    "}\n";

const char jft_victim_ll[] =
    "define i32 @victim_add(i32 %a, i32 %b) {\n"
    "  %c = add i32 %a, %b\n"
    "  ret i32 %c\n"
    "}\n";
