/*
 * util.h - small helpers every part uses: full reads and writes that
 * survive EINTR and short transfers, monotonic time, hex, and bounded
 * string copies. Nothing here allocates unless its name says so.
 */
#ifndef JF_UTIL_H
#define JF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define JF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define JF_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Write all len bytes, retrying on EINTR and short writes.
 * Returns 0 or -1 with errno set. */
int jf_write_full(int fd, const void *buf, size_t len);
/* Read exactly len bytes. Returns 0, or -1 with errno set; EOF before
 * len bytes is -1 with errno = EPIPE (0 bytes read: errno = 0 as well
 * as the return being 1, see jf_read_full_eof). */
int jf_read_full(int fd, void *buf, size_t len);
/* Like jf_read_full, but returns 1 on a clean EOF before any byte. */
int jf_read_full_eof(int fd, void *buf, size_t len);

/* Read a whole file into a malloc'd buffer (NUL-terminated for
 * convenience; *lenp excludes it). Files over max bytes fail with
 * JF_ERR_TOOBIG. Returns 0 or a negative jf_err. */
int jf_file_read(const char *path, size_t max, uint8_t **out, size_t *lenp);
/* Write a file atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory. Returns 0 or a negative jf_err. */
int jf_file_write_atomic(const char *path, const void *buf, size_t len, int mode);
/* mkdir -p. Returns 0 or -1 with errno. */
int jf_mkdir_p(const char *path, int mode);

uint64_t jf_now_ns(void);      /* CLOCK_MONOTONIC */
uint64_t jf_wall_ms(void);     /* CLOCK_REALTIME, ms since the epoch */

/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void jf_hex_encode(const uint8_t *in, size_t n, char *out);
/* Parse exactly 2n hex digits into n bytes. Returns 0 or JF_ERR_INVAL. */
int jf_hex_decode(const char *in, uint8_t *out, size_t n);

/* Cut white space off both ends of s in place; returns the first
 * non-blank character. */
char *jf_trim(char *s);
/* strlcpy semantics: returns strlen(src); truncates, always terminates. */
size_t jf_strlcpy(char *dst, const char *src, size_t size);
/* snprintf into err/errlen if err != NULL; returns code. */
int jf_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Constant-time comparison of n bytes: 0 when equal. */
int jf_ct_memcmp(const void *a, const void *b, size_t n);

/* Big-endian integer codecs for wire formats. */
static inline void jf_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void jf_put_u32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }
static inline void jf_put_u64(uint8_t *p, uint64_t v) { jf_put_u32(p, (uint32_t)(v >> 32)); jf_put_u32(p + 4, (uint32_t)v); }
static inline uint16_t jf_get_u16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t jf_get_u32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static inline uint64_t jf_get_u64(const uint8_t *p) { return ((uint64_t)jf_get_u32(p) << 32) | jf_get_u32(p + 4); }

#endif
