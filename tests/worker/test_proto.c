/*
 * test_proto.c - the frame protocol (worker/proto.c): headers are
 * checked before anything is allocated, requests survive encoding and
 * malformed ones are refused, and a 64 MiB frame crosses to a real
 * sandboxed worker and back, blocking and non-blocking, without deadlock.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "worker/proto.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "worker/worker.h"
#include "support.h"

#define BIG (64u << 20)

START_TEST(test_header_roundtrip)
{
	jf_frame_hdr_t h = { .type = JF_FRAME_RESULT, .id = 0x0102030405060708ull, .len = 77,
		.status = JF_ERR_PARSE }, g;
	uint8_t b[JF_PROTO_HDR_LEN];

	jf_frame_hdr_encode(b, &h);
	ck_assert_int_eq(jf_frame_hdr_decode(b, 100, &g), 0);
	ck_assert_int_eq(g.type, h.type);
	ck_assert(g.id == h.id);
	ck_assert(g.len == 77);
	ck_assert_int_eq(g.status, JF_ERR_PARSE);
	/* over the reader's cap: refused before any allocation */
	ck_assert_int_eq(jf_frame_hdr_decode(b, 76, &g), JF_ERR_TOOBIG);
	b[0] ^= 1;
	ck_assert_int_eq(jf_frame_hdr_decode(b, 100, &g), JF_ERR_PROTO);
	b[0] ^= 1;
	b[5] = 9;       /* version */
	ck_assert_int_eq(jf_frame_hdr_decode(b, 100, &g), JF_ERR_PROTO);
}
END_TEST

/* A header that claims 2^63 bytes is refused with nothing allocated, and
 * a frame cut short is a protocol error, not a hang or a short read. */
START_TEST(test_hostile_lengths)
{
	jf_frame_hdr_t h = { .type = JF_FRAME_COMPILE, .id = 1, .len = 1ull << 63 }, g;
	uint8_t b[JF_PROTO_HDR_LEN], *payload = (uint8_t *)"x";
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	jf_frame_hdr_encode(b, &h);
	ck_assert_int_eq(write(sv[0], b, sizeof(b)), (ssize_t)sizeof(b));
	ck_assert_int_eq(jf_frame_read(sv[1], JF_PROTO_MAX_PAYLOAD, &g, &payload), JF_ERR_TOOBIG);
	ck_assert_ptr_null(payload);
	h.len = 10;
	jf_frame_hdr_encode(b, &h);
	ck_assert_int_eq(write(sv[0], b, sizeof(b)), (ssize_t)sizeof(b));
	ck_assert_int_eq(write(sv[0], "abc", 3), 3);
	close(sv[0]);
	ck_assert_int_eq(jf_frame_read(sv[1], 100, &g, &payload), JF_ERR_PROTO);
	ck_assert_int_eq(jf_frame_read(sv[1], 100, &g, &payload), 1);        /* clean EOF */
	close(sv[1]);
}
END_TEST

START_TEST(test_request_roundtrip)
{
	const char *syms[] = { "a", "bb" };
	jf_key_t pid;
	jf_compile_req_t req, got;
	const char **names = NULL;
	uint8_t *enc = NULL;
	size_t len = 0;

	memset(&req, 0, sizeof(req));
	memset(pid.b, 7, sizeof(pid.b));
	req.ir = (const uint8_t *)"abc\0def";
	req.ir_len = 7;
	ck_assert_int_eq(jf_spec_set(&req.spec, "evm", &pid, "x86_64-unknown-linux-gnu",
	    "x86-64-v2", "+avx2", '3', NULL, 0), 0);
	req.symbols = syms;
	req.nsymbols = 2;
	req.max_ir_bytes = 12345;
	req.producer = "me";
	ck_assert_int_eq(jf_proto_req_encode(&req, &enc, &len), 0);
	ck_assert_int_eq(jf_proto_req_decode(enc, len, &got, &names), 0);
	ck_assert_uint_eq(got.ir_len, 7);
	ck_assert_int_eq(memcmp(got.ir, "abc\0def", 7), 0);
	ck_assert_str_eq(got.spec.ns, "evm");
	ck_assert_int_eq(got.spec.has_program, 1);
	ck_assert_int_eq(memcmp(got.spec.program_id.b, pid.b, 32), 0);
	ck_assert_str_eq(got.spec.triple, req.spec.triple);
	ck_assert_str_eq(got.spec.cpu, req.spec.cpu);
	ck_assert_str_eq(got.spec.features, req.spec.features);
	ck_assert_int_eq(got.spec.opt, '3');
	ck_assert_uint_eq(got.nsymbols, 2);
	ck_assert_str_eq(got.symbols[1], "bb");
	ck_assert_uint_eq(got.max_ir_bytes, 12345);
	ck_assert_str_eq(got.producer, "me");
	jf_free(names);
	/* every truncation of the encoding is refused, never read past */
	for (size_t cut = 0; cut < len; cut++) {
		int r = jf_proto_req_decode(enc, cut, &got, &names);

		/* a cut at a field boundary before the IR loses the IR */
		ck_assert_int_eq(r, JF_ERR_PROTO);
		ck_assert_ptr_null(names);
	}
	/* a string without its NUL, and an unknown field */
	enc[8 + 3] = 'x';       /* the first field is the namespace "evm\0" */
	ck_assert_int_eq(jf_proto_req_decode(enc, len, &got, &names), JF_ERR_PROTO);
	enc[8 + 3] = '\0';
	enc[3] = 99;
	ck_assert_int_eq(jf_proto_req_decode(enc, len, &got, &names), JF_ERR_PROTO);
	jf_free(enc);
}
END_TEST

static pid_t
start_worker(int *fd)
{
	jf_sandbox_conf_t conf = { .mem_limit = 1ull << 30, .cpu_limit_s = 60 };
	int sv[2];
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int cfd = sv[1] < 3 ? fcntl(sv[1], F_DUPFD, 3) : sv[1];

		jf_worker_run(cfd, &conf);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

static uint8_t *
pattern(size_t n, unsigned seed)
{
	uint8_t *b = jf_malloc(n);
	size_t i;

	ck_assert_ptr_nonnull(b);
	for (i = 0; i < n; i++)
		b[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
	return b;
}

/* Blocking write then blocking read: the worker reads the whole request
 * before it answers, so neither side can wait on the other. */
START_TEST(test_64mib_blocking_echo)
{
	uint8_t *big = pattern(BIG, 1), *back = NULL;
	jf_frame_hdr_t h;
	int fd, st;
	pid_t pid = start_worker(&fd);

	ck_assert_int_eq(jf_frame_write(fd, JF_FRAME_ECHO, 42, 0, big, BIG), 0);
	ck_assert_int_eq(jf_frame_read(fd, JF_PROTO_MAX_PAYLOAD, &h, &back), 0);
	ck_assert_int_eq(h.type, JF_FRAME_ECHO_REPLY);
	ck_assert(h.id == 42);
	ck_assert(h.len == BIG);
	ck_assert_int_eq(memcmp(big, back, BIG), 0);
	close(fd);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker status 0x%x", st);
	jf_free(big);
	jf_free(back);
}
END_TEST

/* The pool's way: non-blocking writer and reader in one poll loop. */
START_TEST(test_64mib_nonblocking_echo)
{
	uint8_t *big = pattern(BIG, 2);
	jf_frame_wr_t w;
	jf_frame_rd_t r;
	int fd, st, done = 0, writing = 1;
	pid_t pid = start_worker(&fd);

	fcntl(fd, F_SETFL, O_NONBLOCK);
	jf_frame_wr_init(&w, JF_FRAME_ECHO, 7, 0, big, BIG, 1);
	jf_frame_rd_init(&r, JF_PROTO_MAX_PAYLOAD);
	while (!done) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (writing ? POLLOUT : 0) };

		ck_assert_int_ge(poll(&p, 1, 10000), 1);
		if (writing && (p.revents & POLLOUT)) {
			int rc = jf_frame_wr_flush(&w, fd);

			ck_assert_int_ge(rc, 0);
			writing = rc == 0;
		}
		if (p.revents & POLLIN) {
			int rc = jf_frame_rd_feed(&r, fd);

			ck_assert_int_ge(rc, 0);
			ck_assert_int_ne(rc, 2);
			done = rc == 1;
		}
	}
	ck_assert(r.h.len == BIG);
	ck_assert_int_eq(memcmp(r.payload, w.payload, BIG), 0);
	jf_frame_rd_reset(&r);
	jf_frame_wr_free(&w);           /* frees big */
	close(fd);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker status 0x%x", st);
}
END_TEST

/* A frame the worker does not know ends the worker, not the caller. */
START_TEST(test_worker_refuses_unknown_frame)
{
	int fd, st;
	pid_t pid = start_worker(&fd);

	ck_assert_int_eq(jf_frame_write(fd, 999, 1, 0, "x", 1), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == JF_WORKER_EXIT_PROTO, "status 0x%x", st);
	close(fd);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_header_roundtrip, test_hostile_lengths, test_request_roundtrip,
		test_64mib_blocking_echo, test_64mib_nonblocking_echo,
		test_worker_refuses_unknown_frame, NULL
	};

	return jft_suite_run(jft_suite("proto", 60, tests, NULL)) != 0;
}
