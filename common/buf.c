/*
 * buf.c - the growable byte buffer and vectors of buf.h.
 */
#include <stdio.h>
#include <string.h>

#include "jitfarm/error.h"
#include "buf.h"
#include "mem.h"
#include "util.h"

static int
buf_fail(jf_buf_t *b, int err)
{
	if (b->err == 0)
		b->err = err;
	return b->err;
}

int
jf_buf_reserve(jf_buf_t *b, size_t n)
{
	size_t need, cap;
	uint8_t *np;

	if (b->err != 0)
		return b->err;
	if (n > SIZE_MAX - b->len - 1)
		return buf_fail(b, JF_ERR_NOMEM);
	need = b->len + n + 1;          /* + the trailing NUL */
	if (b->limit != 0 && need - 1 > b->limit)
		return buf_fail(b, JF_ERR_TOOBIG);
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((np = jf_realloc(b->p, cap)) == NULL)
		return buf_fail(b, JF_ERR_NOMEM);
	b->p = np;
	b->cap = cap;
	return 0;
}

void
jf_buf_put(jf_buf_t *b, const void *data, size_t n)
{
	if (jf_buf_reserve(b, n) != 0)
		return;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
jf_buf_putc(jf_buf_t *b, int c)
{
	uint8_t ch = (uint8_t)c;

	jf_buf_put(b, &ch, 1);
}

void
jf_buf_puts(jf_buf_t *b, const char *s)
{
	jf_buf_put(b, s, strlen(s));
}

void
jf_buf_vprintf(jf_buf_t *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (b->err != 0)
		return;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		buf_fail(b, JF_ERR_INVAL);
		return;
	}
	if (jf_buf_reserve(b, (size_t)n) != 0)
		return;
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
jf_buf_printf(jf_buf_t *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	jf_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void jf_buf_u8(jf_buf_t *b, uint8_t v) { jf_buf_put(b, &v, 1); }

/* Big-endian integers: encode with util.h's codec, append the bytes. */
#define BUF_BE(bits) \
	void jf_buf_u##bits(jf_buf_t *b, uint##bits##_t v) \
	{ uint8_t x[bits / 8]; jf_put_u##bits(x, v); jf_buf_put(b, x, sizeof(x)); }
BUF_BE(16)
BUF_BE(32)
BUF_BE(64)

void
jf_buf_tlv(jf_buf_t *b, unsigned tag_bytes, uint32_t tag, const void *v, size_t n)
{
	if (n > UINT32_MAX) {
		buf_fail(b, JF_ERR_TOOBIG);
		return;
	}
	if (tag_bytes == 2)
		jf_buf_u16(b, (uint16_t)tag);
	else
		jf_buf_u32(b, tag);
	jf_buf_u32(b, (uint32_t)n);
	jf_buf_put(b, v, n);
}

void
jf_buf_reset(jf_buf_t *b)
{
	b->len = 0;
	b->err = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
jf_buf_free(jf_buf_t *b)
{
	jf_free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

uint8_t *
jf_buf_steal(jf_buf_t *b, size_t *lenp)
{
	uint8_t *p;

	if (b->err == 0)
		jf_buf_reserve(b, 0);
	if (b->err != 0) {
		jf_buf_free(b);
		if (lenp != NULL)
			*lenp = 0;
		return NULL;
	}
	p = b->p;
	if (lenp != NULL)
		*lenp = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

int
jf_vec_grow(void **arr, size_t *cap, size_t need, size_t elsize)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return JF_ERR_NOMEM;
		ncap *= 2;
	}
	if ((np = jf_reallocarray(*arr, ncap, elsize)) == NULL)
		return JF_ERR_NOMEM;
	*arr = np;
	*cap = ncap;
	return 0;
}
