/*
 * fuzz_proto.c - the frame protocol between the pool and the workers
 * (worker/proto.c), from the pool's side: a byte stream that a hostile
 * or broken worker wrote.
 *
 * Input: one byte that picks how the stream is cut into writes (so the
 * incremental reader sees headers and payloads split at every offset),
 * one byte that picks the reader's payload cap, then the stream. The
 * stream goes through a non-blocking socket pair into jf_frame_rd_feed,
 * interleaved with the writes. Every whole frame is then
 *  - re-encoded with jf_frame_hdr_encode and decoded again (same header);
 *  - sent back with the incremental writer and read with the blocking
 *    reader (same header and payload);
 *  - decoded as what it claims to be: a COMPILE payload through
 *    jf_proto_req_decode (and, when that accepts it, re-encoded and
 *    decoded again: the same request), a successful RESULT as the pool
 *    reads it (the times prefix, then the artifact blob, fz_blob_check).
 * The seeds are streams of real frames (gen_corpus.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/key.h"
#include "compiler/compile.h"
#include "worker/proto.h"
#include "worker/worker.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t caps[4] = { 0, 64, 4096, 1u << 20 };

static int
str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* A decoded request's strings lie inside the buffer, NUL-terminated. */
static void
check_inside(const char *s, const uint8_t *buf, size_t len)
{
	if (s == NULL)
		return;
	FZ_CHECK((const uint8_t *)s >= buf && (const uint8_t *)s < buf + len);
	FZ_CHECK(memchr(s, '\0', (size_t)(buf + len - (const uint8_t *)s)) != NULL);
}

static void
check_req(const uint8_t *buf, size_t len)
{
	jf_compile_req_t a, b;
	jf_key_t pa, pb;
	const char **na = NULL, **nb = NULL;
	uint8_t *enc = NULL;
	size_t enclen = 0, i;

	if (jf_proto_req_decode(buf, len, &a, &pa, &na) != 0) {
		FZ_CHECK(na == NULL);
		return;
	}
	check_inside(a.ns, buf, len);
	check_inside(a.triple, buf, len);
	check_inside(a.cpu, buf, len);
	check_inside(a.features, buf, len);
	check_inside(a.producer, buf, len);
	for (i = 0; i < a.nsymbols; i++)
		check_inside(a.symbols[i], buf, len);
	FZ_CHECK(a.nsymbols <= JF_PROTO_MAX_SYMBOLS);
	FZ_CHECK(a.ir_len == 0 || (a.ir >= buf && a.ir + a.ir_len <= buf + len));
	FZ_CHECK(a.program_id == NULL || a.program_id == &pa);
	FZ_CHECK(jf_proto_req_encode(&a, &enc, &enclen) == 0);
	FZ_CHECK(jf_proto_req_decode(enc, enclen, &b, &pb, &nb) == 0);
	FZ_CHECK(str_same(a.ns, b.ns) && str_same(a.triple, b.triple) &&
	    str_same(a.cpu, b.cpu) && str_same(a.features, b.features) &&
	    str_same(a.producer, b.producer));
	FZ_CHECK((a.program_id == NULL) == (b.program_id == NULL));
	FZ_CHECK(a.program_id == NULL || memcmp(pa.b, pb.b, JF_KEY_LEN) == 0);
	FZ_CHECK(a.opt == b.opt && a.max_ir_bytes == b.max_ir_bytes);
	FZ_CHECK(a.ir_len == b.ir_len && (a.ir_len == 0 || memcmp(a.ir, b.ir, a.ir_len) == 0));
	FZ_CHECK(a.nsymbols == b.nsymbols);
	for (i = 0; i < a.nsymbols; i++)
		FZ_CHECK(strcmp(a.symbols[i], b.symbols[i]) == 0);
	fz_free(nb);
	fz_free(enc);
	fz_free(na);
}

/* Send the frame back with the incremental writer, read it with the
 * blocking reader: the same frame. */
static void
check_echo(const jf_frame_hdr_t *h, const uint8_t *payload, size_t max)
{
	jf_frame_wr_t w;
	jf_frame_hdr_t g;
	uint8_t *got = NULL;
	int sv[2], r;

	if (h->len > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return;
	jf_frame_wr_init(&w, h->type, h->id, h->status, (uint8_t *)payload, h->len, 0);
	FZ_CHECK(jf_frame_wr_flush(&w, sv[0]) == 1);
	jf_frame_wr_free(&w);
	close(sv[0]);
	r = jf_frame_read(sv[1], max, &g, &got);
	FZ_CHECK(r == 0);
	FZ_CHECK(g.type == h->type && g.id == h->id && g.len == h->len &&
	    g.status == h->status);
	FZ_CHECK(h->len == 0 || (got != NULL && memcmp(got, payload, h->len) == 0));
	fz_free(got);
	got = NULL;
	/* and then a clean EOF */
	FZ_CHECK(jf_frame_read(sv[1], max, &g, &got) == 1);
	fz_free(got);
	close(sv[1]);
}

static void
check_frame(const jf_frame_hdr_t *h, const uint8_t *payload, size_t max)
{
	uint8_t hb[JF_PROTO_HDR_LEN];
	jf_frame_hdr_t g;

	FZ_CHECK(h->len <= max);
	FZ_CHECK(payload != NULL && payload[h->len] == '\0');
	jf_frame_hdr_encode(hb, h);
	FZ_CHECK(jf_frame_hdr_decode(hb, max, &g) == 0);
	FZ_CHECK(g.type == h->type && g.id == h->id && g.len == h->len &&
	    g.status == h->status);
	check_echo(h, payload, max);
	if (h->type == JF_FRAME_COMPILE)
		check_req(payload, h->len);
	else if (h->type == JF_FRAME_RESULT && h->status == 0 &&
	    h->len >= JF_RESULT_PREFIX_LEN)
		fz_blob_check(payload + JF_RESULT_PREFIX_LEN, h->len - JF_RESULT_PREFIX_LEN);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	jf_frame_rd_t rd;
	size_t chunk, max, off;
	int sv[2], r = 0, closed = 0;

	if (size < 2)
		return 0;
	chunk = data[0] ? data[0] : SIZE_MAX;
	max = caps[data[1] & 3];
	data += 2;
	size -= 2;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
		return 0;
	jf_frame_rd_init(&rd, max);
	for (off = 0;;) {
		if (off < size) {
			size_t n = size - off < chunk ? size - off : chunk;
			ssize_t w = write(sv[0], data + off, n);

			if (w > 0)
				off += (size_t)w;
			else
				FZ_CHECK(errno == EAGAIN);
		} else if (!closed) {
			close(sv[0]);
			closed = 1;
		}
		r = jf_frame_rd_feed(&rd, sv[1]);
		if (r == 1) {
			check_frame(&rd.h, rd.payload, max);
			jf_frame_rd_reset(&rd);
			continue;
		}
		if (r == 0) {
			FZ_CHECK(!closed);      /* after EOF the reader never waits */
			continue;
		}
		break;
	}
	/* EOF at a frame boundary, or a clear error: never anything else */
	FZ_CHECK(r == 2 || r == JF_ERR_PROTO || r == JF_ERR_TOOBIG);
	FZ_CHECK(r != 2 || rd.hgot == 0);
	jf_frame_rd_reset(&rd);
	if (!closed)
		close(sv[0]);
	close(sv[1]);
	return 0;
}
