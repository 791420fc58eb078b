/*
 * util.c - the helpers of util.h.
 *
 * The I/O helpers exist because every pipe, socket and file in jitfarm
 * must survive EINTR and short transfers; writing that loop once keeps
 * the callers honest. The atomic file write is the basis of the file
 * store's crash safety: a reader sees the old file or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "mem.h"
#include "util.h"

int
jf_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
jf_read_full_eof(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			if (got == 0)
				return 1;
			errno = EPIPE;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

int
jf_read_full(int fd, void *buf, size_t len)
{
	int r = jf_read_full_eof(fd, buf, len);

	if (r == 1) {
		errno = EPIPE;
		return -1;
	}
	return r;
}

int
jf_file_read(const char *path, size_t max, uint8_t **out, size_t *lenp)
{
	int fd, r = JF_ERR_IO, saved;
	struct stat st;
	uint8_t *buf = NULL;
	size_t len;

	*out = NULL;
	*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? JF_ERR_NOTFOUND : JF_ERR_IO;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		r = JF_ERR_INVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = JF_ERR_TOOBIG;
		goto out;
	}
	len = (size_t)st.st_size;
	if ((buf = jf_malloc(len + 1)) == NULL) {
		r = JF_ERR_NOMEM;
		goto out;
	}
	if (jf_read_full(fd, buf, len) != 0)
		goto out;
	buf[len] = '\0';
	*out = buf;
	*lenp = len;
	buf = NULL;
	r = 0;
out:
	saved = errno;
	jf_free(buf);
	close(fd);
	errno = saved;
	return r;
}

int
jf_mkdir_p(const char *path, int mode)
{
	char tmp[4096];
	char *p;
	size_t len = jf_strlcpy(tmp, path, sizeof(tmp));

	if (len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
jf_file_write_atomic(const char *path, const void *buf, size_t len, int mode)
{
	char tmp[4096], dir[4096];
	int fd = -1, dfd, r = JF_ERR_IO, saved;
	static unsigned long seq;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d.%lu", path,
	    (int)getpid(), __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED)) >= sizeof(tmp))
		return JF_ERR_INVAL;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0)
		return JF_ERR_IO;
	if (jf_write_full(fd, buf, len) != 0 || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	jf_strlcpy(dir, path, sizeof(dir));
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	r = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (r != 0)
		unlink(tmp);
	errno = saved;
	return r;
}

uint64_t
jf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
jf_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

void
jf_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
jf_hex_decode(const char *in, uint8_t *out, size_t n)
{
	size_t i;

	if (in == NULL || strlen(in) != 2 * n)
		return JF_ERR_INVAL;
	for (i = 0; i < n; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return JF_ERR_INVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

size_t
jf_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int
jf_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int
jf_ct_memcmp(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= x[i] ^ y[i];
	return acc != 0;
}
