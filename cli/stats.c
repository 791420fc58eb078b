/*
 * stats.c - the client's hit/miss counters, kept in a small text file
 * next to the cache so that every `jitfarm` process adds to the same
 * numbers (cli.h has the where and the format).
 *
 * An update opens the file, takes an exclusive flock, reads the "name
 * value" lines, adds to one of them and writes the whole file back in
 * place before unlocking. The file is tiny, so rewriting it is cheap and
 * needs no temp file: readers take the same lock (shared).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/key.h"
#include "common/util.h"
#include "cli/cli.h"

#define STATS_MAX_BYTES 8192
#define STATS_MAX_NAMES 64
#define STATS_NAME_MAX 32

typedef struct counter {
	char name[STATS_NAME_MAX];
	uint64_t value;
} counter_t;

int
jf_cli_stats_path(const char *store_url, char *buf, size_t len)
{
	const char *env = getenv("JITFARM_STATS"), *base, *home;
	uint8_t h[32];
	char hex[17], dir[4096];

	if (env != NULL && env[0] != '\0')
		return jf_strlcpy(buf, env, len) < len ? 0 : JF_ERR_INVAL;
	if (strncmp(store_url, "file://", 7) == 0)
		return (size_t)snprintf(buf, len, "%s/cli-stats", store_url + 7) < len ?
		    0 : JF_ERR_INVAL;
	/* a remote store: counters are this user's, in the user's cache */
	if ((base = getenv("XDG_CACHE_HOME")) != NULL && base[0] == '/')
		snprintf(dir, sizeof(dir), "%s/jitfarm-stats", base);
	else if ((home = getenv("HOME")) != NULL && home[0] == '/')
		snprintf(dir, sizeof(dir), "%s/.cache/jitfarm-stats", home);
	else
		return JF_ERR_INVAL;
	jf_sha256(store_url, strlen(store_url), h);
	jf_hex_encode(h, 8, hex);
	return (size_t)snprintf(buf, len, "%s/%s", dir, hex) < len ? 0 : JF_ERR_INVAL;
}

/* Parse the file's lines; malformed lines are dropped. */
static size_t
parse(const char *text, counter_t *c, size_t max)
{
	size_t n = 0;
	const char *p = text;

	while (*p != '\0' && n < max) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		char line[128], name[STATS_NAME_MAX];
		unsigned long long v;

		if (l < sizeof(line)) {
			memcpy(line, p, l);
			line[l] = '\0';
			if (sscanf(line, "%31s %llu", name, &v) == 2) {
				jf_strlcpy(c[n].name, name, sizeof(c[n].name));
				c[n++].value = v;
			}
		}
		p += l + (eol ? 1 : 0);
	}
	return n;
}

static int
read_locked(int fd, counter_t *c, size_t *n)
{
	char buf[STATS_MAX_BYTES + 1];
	ssize_t got;
	size_t len = 0;

	while (len < STATS_MAX_BYTES &&
	    (got = pread(fd, buf + len, STATS_MAX_BYTES - len, (off_t)len)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return JF_ERR_IO;
		}
		len += (size_t)got;
	}
	buf[len] = '\0';
	*n = parse(buf, c, STATS_MAX_NAMES);
	return 0;
}

/* Open the counters file, locked exclusively, and read it. Returns the
 * fd (closing it drops the lock) or a negative jf_err. */
static int
open_locked(const char *store_url, counter_t *c, size_t *n)
{
	char path[4200], dir[4200];
	int fd, r;

	if ((r = jf_cli_stats_path(store_url, path, sizeof(path))) != 0)
		return r;
	jf_strlcpy(dir, path, sizeof(dir));
	if (strrchr(dir, '/') != NULL && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0';
		(void)jf_mkdir_p(dir, 0755);
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return JF_ERR_IO;
	if (flock(fd, LOCK_EX) != 0 || read_locked(fd, c, n) != 0) {
		close(fd);
		return JF_ERR_IO;
	}
	return fd;
}

/* Write the counters back in place and close (unlock). */
static int
write_close(int fd, const counter_t *c, size_t n)
{
	char out[STATS_MAX_BYTES];
	size_t i, used = 0;
	int r = 0;

	for (i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s %" PRIu64 "\n",
		    c[i].name, c[i].value);
	if (pwrite(fd, out, used, 0) != (ssize_t)used || ftruncate(fd, (off_t)used) != 0)
		r = JF_ERR_IO;
	close(fd);
	return r;
}

int
jf_cli_stats_bump(const char *store_url, const char *name, uint64_t by)
{
	counter_t c[STATS_MAX_NAMES];
	size_t n = 0, i;
	int fd;

	if (strlen(name) >= STATS_NAME_MAX || strchr(name, ' ') != NULL)
		return JF_ERR_INVAL;
	if ((fd = open_locked(store_url, c, &n)) < 0)
		return fd;
	for (i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			break;
	if (i == n) {
		if (n == STATS_MAX_NAMES) {
			close(fd);
			return JF_ERR_TOOBIG;
		}
		jf_strlcpy(c[n].name, name, sizeof(c[n].name));
		c[n++].value = 0;
	}
	c[i].value += by;
	return write_close(fd, c, n);
}

int
jf_cli_stats_zero(const char *store_url, const char *prefix)
{
	counter_t c[STATS_MAX_NAMES];
	size_t n = 0, i, k = 0;
	int fd;

	if ((fd = open_locked(store_url, c, &n)) < 0)
		return fd;
	for (i = 0; i < n; i++)
		if (strncmp(c[i].name, prefix, strlen(prefix)) != 0)
			c[k++] = c[i];
	return write_close(fd, c, k);
}

int
jf_cli_stats_read(const char *store_url,
    void (*fn)(const char *name, uint64_t value, void *arg), void *arg)
{
	counter_t c[STATS_MAX_NAMES];
	char path[4200];
	size_t n = 0, i;
	int fd, r;

	if ((r = jf_cli_stats_path(store_url, path, sizeof(path))) != 0)
		return r;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : JF_ERR_IO;
	r = JF_ERR_IO;
	if (flock(fd, LOCK_SH) == 0)
		r = read_locked(fd, c, &n);
	close(fd);
	if (r != 0)
		return r;
	for (i = 0; i < n; i++)
		fn(c[i].name, c[i].value, arg);
	return 0;
}
