/*
 * proto.c - frames between the pool, the zygote and the workers
 * (proto.h), and the encoding of a compile request inside a frame.
 *
 * The idea is that nothing read from a peer is trusted: a header is
 * checked (magic, version, length against the reader's cap) before the
 * payload is allocated, and a request's fields are bounds-checked one by
 * one. Blocking transfers loop over EINTR and short reads and writes;
 * the incremental reader and writer keep their position so the pool's
 * poll loop can interleave many workers without ever blocking on one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/buf.h"
#include "common/mem.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "worker/proto.h"

void
jf_frame_hdr_encode(uint8_t out[JF_PROTO_HDR_LEN], const jf_frame_hdr_t *h)
{
	jf_put_u32(out, JF_PROTO_MAGIC);
	jf_put_u16(out + 4, JF_PROTO_VERSION);
	jf_put_u16(out + 6, h->type);
	jf_put_u64(out + 8, h->id);
	jf_put_u64(out + 16, h->len);
	jf_put_u32(out + 24, (uint32_t)h->status);
	jf_put_u32(out + 28, 0);
}

int
jf_frame_hdr_decode(const uint8_t in[JF_PROTO_HDR_LEN], size_t max, jf_frame_hdr_t *h)
{
	memset(h, 0, sizeof(*h));
	if (jf_get_u32(in) != JF_PROTO_MAGIC || jf_get_u16(in + 4) != JF_PROTO_VERSION)
		return JF_ERR_PROTO;
	h->type = jf_get_u16(in + 6);
	h->id = jf_get_u64(in + 8);
	h->len = jf_get_u64(in + 16);
	h->status = (int32_t)jf_get_u32(in + 24);
	if (max > JF_PROTO_MAX_PAYLOAD)
		max = JF_PROTO_MAX_PAYLOAD;
	if (h->len > max)
		return JF_ERR_TOOBIG;
	return 0;
}

int
jf_frame_write(int fd, uint16_t type, uint64_t id, int32_t status,
    const void *payload, size_t len)
{
	jf_frame_hdr_t h = { .type = type, .id = id, .len = len, .status = status };
	uint8_t hb[JF_PROTO_HDR_LEN];
	struct iovec iov[2];
	size_t total = sizeof(hb) + len, done = 0;

	jf_frame_hdr_encode(hb, &h);
	/* one writev for the common small frame, then plain writes */
	while (done < total) {
		ssize_t n;
		int cnt = 0;

		if (done < sizeof(hb)) {
			iov[cnt].iov_base = hb + done;
			iov[cnt++].iov_len = sizeof(hb) - done;
			if (len > 0) {
				iov[cnt].iov_base = (void *)payload;
				iov[cnt++].iov_len = len;
			}
		} else {
			iov[cnt].iov_base = (uint8_t *)payload + (done - sizeof(hb));
			iov[cnt++].iov_len = total - done;
		}
		n = writev(fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return JF_ERR_IO;
		}
		done += (size_t)n;
	}
	return 0;
}

int
jf_frame_read(int fd, size_t max, jf_frame_hdr_t *h, uint8_t **payload)
{
	uint8_t hb[JF_PROTO_HDR_LEN];
	uint8_t *p = NULL;
	int r;

	*payload = NULL;
	memset(h, 0, sizeof(*h));
	r = jf_read_full_eof(fd, hb, sizeof(hb));
	if (r == 1)
		return 1;
	if (r < 0)
		return errno == EPIPE ? JF_ERR_PROTO : JF_ERR_IO;
	if ((r = jf_frame_hdr_decode(hb, max, h)) != 0)
		return r;
	if ((p = jf_malloc(h->len + 1)) == NULL)
		return JF_ERR_NOMEM;
	if (h->len > 0 && jf_read_full(fd, p, h->len) < 0) {
		r = errno == EPIPE ? JF_ERR_PROTO : JF_ERR_IO;
		jf_free(p);
		return r;
	}
	p[h->len] = '\0';
	if (h->len > 0)
		*payload = p;
	else
		jf_free(p);
	return 0;
}

void
jf_frame_rd_init(jf_frame_rd_t *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void
jf_frame_rd_reset(jf_frame_rd_t *r)
{
	size_t max = r->max;

	jf_free(r->payload);
	jf_frame_rd_init(r, max);
}

int
jf_frame_rd_feed(jf_frame_rd_t *r, int fd)
{
	for (;;) {
		ssize_t n;
		int rc;

		if (r->hgot < JF_PROTO_HDR_LEN) {
			n = read(fd, r->hbuf + r->hgot, JF_PROTO_HDR_LEN - r->hgot);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				return errno == ECONNRESET ? (r->hgot ? JF_ERR_PROTO : 2) : JF_ERR_IO;
			}
			if (n == 0)
				return r->hgot == 0 ? 2 : JF_ERR_PROTO;
			r->hgot += (size_t)n;
			if (r->hgot < JF_PROTO_HDR_LEN)
				continue;
			if ((rc = jf_frame_hdr_decode(r->hbuf, r->max, &r->h)) != 0)
				return rc;
			/* the length is checked: now it may be allocated */
			if ((r->payload = jf_malloc(r->h.len + 1)) == NULL)
				return JF_ERR_NOMEM;
			r->pgot = 0;
		}
		if (r->pgot == r->h.len) {
			r->payload[r->h.len] = '\0';
			return 1;
		}
		n = read(fd, r->payload + r->pgot, r->h.len - r->pgot);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return errno == ECONNRESET ? JF_ERR_PROTO : JF_ERR_IO;
		}
		if (n == 0)
			return JF_ERR_PROTO;
		r->pgot += (size_t)n;
	}
}

void
jf_frame_wr_init(jf_frame_wr_t *w, uint16_t type, uint64_t id, int32_t status,
    uint8_t *payload, size_t len, int take)
{
	jf_frame_hdr_t h = { .type = type, .id = id, .len = len, .status = status };

	memset(w, 0, sizeof(*w));
	jf_frame_hdr_encode(w->hbuf, &h);
	w->payload = payload;      /* with take, the writer now owns payload */
	w->owned = take;
	w->len = JF_PROTO_HDR_LEN + len;
	w->off = 0;
}

int
jf_frame_wr_flush(jf_frame_wr_t *w, int fd)
{
	while (w->off < w->len) {
		struct iovec iov[2];
		struct msghdr mh;
		int cnt = 0;
		ssize_t n;

		if (w->off < JF_PROTO_HDR_LEN) {
			iov[cnt].iov_base = w->hbuf + w->off;
			iov[cnt++].iov_len = JF_PROTO_HDR_LEN - w->off;
			if (w->len > JF_PROTO_HDR_LEN) {
				iov[cnt].iov_base = w->payload;
				iov[cnt++].iov_len = w->len - JF_PROTO_HDR_LEN;
			}
		} else {
			iov[cnt].iov_base = w->payload + (w->off - JF_PROTO_HDR_LEN);
			iov[cnt++].iov_len = w->len - w->off;
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)cnt;
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return JF_ERR_IO;
		}
		w->off += (size_t)n;
	}
	return 1;
}

void
jf_frame_wr_free(jf_frame_wr_t *w)
{
	if (w == NULL)
		return;
	if (w->owned)
		jf_free(w->payload);
	memset(w, 0, sizeof(*w));
}

/* --- the compile request ------------------------------------------------- */

enum {
	F_IR = 1, F_NS, F_PID, F_TRIPLE, F_CPU, F_FEATURES, F_OPT, F_SYMBOL,
	F_MAXIR, F_PRODUCER
};

/* Strings travel with their NUL, which the decoder checks. */
static void
put_str(jf_buf_t *b, uint32_t tag, const char *s)
{
	if (s != NULL)
		jf_buf_tlv(b, 4, tag, s, strlen(s) + 1);
}

int
jf_proto_req_encode(const jf_compile_req_t *req, uint8_t **out, size_t *outlen)
{
	const jf_spec_t *s = &req->spec;
	jf_buf_t b = JF_BUF_INIT;
	uint8_t u[8];
	size_t i;

	*out = NULL;
	*outlen = 0;
	if (req->nsymbols > JF_PROTO_MAX_SYMBOLS || req->ir_len > UINT32_MAX)
		return JF_ERR_INVAL;
	/* the IR goes last: the header fields stay at the front */
	put_str(&b, F_NS, s->ns);
	if (s->has_program)
		jf_buf_tlv(&b, 4, F_PID, s->program_id.b, JF_KEY_LEN);
	put_str(&b, F_TRIPLE, s->triple);
	put_str(&b, F_CPU, s->cpu);
	put_str(&b, F_FEATURES, s->features);
	if (s->opt != 0)
		jf_buf_tlv(&b, 4, F_OPT, &s->opt, 1);
	for (i = 0; i < req->nsymbols; i++)
		put_str(&b, F_SYMBOL, req->symbols[i]);
	jf_put_u64(u, req->max_ir_bytes);
	jf_buf_tlv(&b, 4, F_MAXIR, u, 8);
	put_str(&b, F_PRODUCER, req->producer);
	jf_buf_tlv(&b, 4, F_IR, req->ir, req->ir_len);
	if (jf_buf_error(&b)) {
		int r = jf_buf_error(&b);

		jf_buf_free(&b);
		return r;
	}
	*out = jf_buf_steal(&b, outlen);        /* the caller owns the encoding */
	return 0;
}

static int
field_str(const uint8_t *v, uint32_t len, const char **out)
{
	if (len == 0 || v[len - 1] != '\0' || memchr(v, '\0', len) != v + len - 1)
		return JF_ERR_PROTO;
	*out = (const char *)v;
	return 0;
}

/* A string field copied into one of the spec's fixed arrays. */
static int
field_fixed(const uint8_t *v, uint32_t len, char *out, size_t cap)
{
	const char *s;

	if (field_str(v, len, &s) != 0 || len > cap)
		return JF_ERR_PROTO;
	memcpy(out, s, len);
	return 0;
}

/* What the decoder has gathered so far besides the request itself. */
typedef struct decoding {
	const char **syms;
	size_t nsyms, cap;
	int have_ir;
} decoding_t;

/* One field into req (or d). Returns 0, JF_ERR_PROTO or JF_ERR_NOMEM. */
static int
field_take(jf_compile_req_t *req, decoding_t *d, uint32_t tag, const uint8_t *v,
    uint32_t flen)
{
	jf_spec_t *s = &req->spec;

	switch (tag) {
	case F_IR:
		req->ir = v;
		req->ir_len = flen;
		d->have_ir = 1;
		return 0;
	case F_NS: return field_fixed(v, flen, s->ns, sizeof(s->ns));
	case F_TRIPLE: return field_fixed(v, flen, s->triple, sizeof(s->triple));
	case F_CPU: return field_fixed(v, flen, s->cpu, sizeof(s->cpu));
	case F_FEATURES: return field_fixed(v, flen, s->features, sizeof(s->features));
	case F_PRODUCER: return field_str(v, flen, &req->producer);
	case F_PID:
		if (flen != JF_KEY_LEN)
			return JF_ERR_PROTO;
		memcpy(s->program_id.b, v, JF_KEY_LEN);
		s->has_program = 1;
		return 0;
	case F_OPT:
		if (flen != 1)
			return JF_ERR_PROTO;
		s->opt = (char)v[0];
		return 0;
	case F_MAXIR:
		if (flen != 8)
			return JF_ERR_PROTO;
		req->max_ir_bytes = jf_get_u64(v);
		return 0;
	case F_SYMBOL:
		if (d->nsyms == JF_PROTO_MAX_SYMBOLS)
			return JF_ERR_PROTO;
		if (jf_vec_grow((void **)&d->syms, &d->cap, d->nsyms + 1, sizeof(*d->syms)) != 0)
			return JF_ERR_NOMEM;
		if (field_str(v, flen, &d->syms[d->nsyms]) != 0)
			return JF_ERR_PROTO;
		d->nsyms++;
		return 0;
	default:
		return JF_ERR_PROTO;    /* an unknown field is a protocol break */
	}
}

int
jf_proto_req_decode(const uint8_t *buf, size_t len, jf_compile_req_t *req,
    const char ***names)
{
	decoding_t d = { NULL, 0, 0, 0 };
	size_t off;
	int r = JF_ERR_PROTO;

	memset(req, 0, sizeof(*req));
	*names = NULL;
	for (off = 0; off < len;) {
		uint32_t tag, flen;

		if (len - off < 8)
			goto out;
		tag = jf_get_u32(buf + off);
		flen = jf_get_u32(buf + off + 4);
		off += 8;
		if (flen > len - off)
			goto out;
		if ((r = field_take(req, &d, tag, buf + off, flen)) != 0)
			goto out;
		r = JF_ERR_PROTO;
		off += flen;
	}
	if (!d.have_ir)
		goto out;
	req->symbols = d.syms;
	req->nsymbols = d.nsyms;
	*names = d.syms;        /* the caller owns the array */
	d.syms = NULL;
	r = 0;
out:
	jf_free(d.syms);
	if (r != 0)
		memset(req, 0, sizeof(*req));
	return r;
}
