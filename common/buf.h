/*
 * buf.h - the one growable byte buffer, its TLV writer, and a vector push.
 *
 * Errors are sticky: once an append fails for lack of memory (or would
 * pass the buffer's limit), every later append is a no-op and
 * jf_buf_error() says why, so an encoder writes all its fields and checks
 * once at the end. Memory comes from jf_malloc (mem.h); a buffer that
 * never grew owns nothing. The bytes are always followed by a NUL that
 * is not counted in len, so text built here can be used as a C string.
 */
#ifndef JF_BUF_H
#define JF_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct jf_buf {
	uint8_t *p;
	size_t len, cap;
	size_t limit;                   /* 0: no limit; else appends past it fail */
	int err;                        /* 0, JF_ERR_NOMEM or JF_ERR_TOOBIG */
} jf_buf_t;

#define JF_BUF_INIT { NULL, 0, 0, 0, 0 }

/* Make room for n more bytes. Returns 0 or the sticky error. */
int jf_buf_reserve(jf_buf_t *b, size_t n);
void jf_buf_put(jf_buf_t *b, const void *data, size_t n);
void jf_buf_putc(jf_buf_t *b, int c);
void jf_buf_puts(jf_buf_t *b, const char *s);
void jf_buf_printf(jf_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jf_buf_vprintf(jf_buf_t *b, const char *fmt, va_list ap);
/* Big-endian integers. */
void jf_buf_u8(jf_buf_t *b, uint8_t v);
void jf_buf_u16(jf_buf_t *b, uint16_t v);
void jf_buf_u32(jf_buf_t *b, uint32_t v);
void jf_buf_u64(jf_buf_t *b, uint64_t v);
/* One TLV: tag (big-endian, tag_bytes 2 or 4 wide), a 4-byte big-endian
 * length, then the value. */
void jf_buf_tlv(jf_buf_t *b, unsigned tag_bytes, uint32_t tag, const void *v, size_t n);
static inline int jf_buf_error(const jf_buf_t *b) { return b->err; }
/* Forget the contents, keep the memory. */
void jf_buf_reset(jf_buf_t *b);
void jf_buf_free(jf_buf_t *b);
/* Hand the bytes to the caller (freed with jf_free; never NULL on success,
 * even when empty) and leave b empty. Returns NULL on a sticky error, in
 * which case b is freed. */
uint8_t *jf_buf_steal(jf_buf_t *b, size_t *lenp);

/*
 * Vectors: grow *arr (of elsize-byte items, *cap of them) to hold at least
 * need items, doubling. Returns 0 or JF_ERR_NOMEM (then *arr is unchanged).
 *
 *	if (jf_vec_grow((void **)&v, &cap, n + 1, sizeof(*v)) != 0) goto oom;
 *	v[n++] = item;
 */
int jf_vec_grow(void **arr, size_t *cap, size_t need, size_t elsize);
/* Append one item; evaluates to 0 or JF_ERR_NOMEM. */
#define JF_VEC_PUSH(arr, n, cap, item) \
	(jf_vec_grow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr))) != 0 ? \
	    JF_ERR_NOMEM : ((arr)[(n)++] = (item), 0))

#endif
