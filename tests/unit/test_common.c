/*
 * test_common.c - the shared primitives of common/: the allocator family
 * (a failing host allocator gives NULL, never an abort), the byte buffer
 * and its TLV writer, vectors, URLs (IPv6 hosts, userinfo, strict
 * decoding), strict query strings, JSON through jansson, and fd passing.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/buf.h"
#include "common/fdpass.h"
#include "common/json.h"
#include "common/key.h"
#include "common/mem.h"
#include "common/url.h"
#include "common/util.h"
#include "support.h"

static size_t fail_after;          /* allocations left before failing */
static size_t live_blocks;

static void *
counting_alloc(size_t n, void *arg)
{
	(void)arg;
	if (fail_after == 0)
		return NULL;
	fail_after--;
	live_blocks++;
	return malloc(n);
}

static void
counting_free(void *p, void *arg)
{
	(void)arg;
	live_blocks--;
	free(p);
}

START_TEST(test_mem_host_allocator)
{
	char *s;
	uint8_t *p;

	fail_after = 3;
	live_blocks = 0;
	ck_assert_int_eq(jf_mem_set_allocator(counting_alloc, NULL, NULL), JF_ERR_INVAL);
	ck_assert_int_eq(jf_mem_set_allocator(counting_alloc, counting_free, NULL), 0);
	s = jf_strdup("hello");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(live_blocks, 1);
	p = jf_malloc(4);
	memcpy(p, "abcd", 4);
	p = jf_realloc(p, 4096);        /* copies on top of alloc + free */
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(memcmp(p, "abcd", 4), 0);
	ck_assert_uint_eq(live_blocks, 2);
	ck_assert_ptr_null(jf_malloc(1));                       /* exhausted */
	ck_assert_ptr_null(jf_calloc(SIZE_MAX / 2, 4));         /* overflow */
	jf_free(p);
	jf_free(s);
	ck_assert_uint_eq(live_blocks, 0);
	/* back to libc for new blocks; a block keeps going back where it came from */
	fail_after = 1;
	s = jf_strdup("from the host");
	ck_assert_uint_eq(live_blocks, 1);
	ck_assert_int_eq(jf_mem_set_allocator(NULL, NULL, NULL), 0);
	p = jf_malloc(16);
	ck_assert_uint_eq(live_blocks, 1);
	jf_free(s);
	ck_assert_uint_eq(live_blocks, 0);
	jf_free(p);
}
END_TEST

/* With headers on, a block made while libc was current keeps going back to
 * libc, and a host's block to the host, whatever is current when it is
 * freed. */
START_TEST(test_mem_block_remembers_allocator)
{
	void *early, *late;
	int e;

	ck_assert_ptr_nonnull(jf_mem_register(counting_alloc, counting_free, NULL, &e));
	early = jf_malloc(8);                   /* libc: none is current yet */
	live_blocks = 0;
	fail_after = 10;
	ck_assert_int_eq(jf_mem_set_allocator(counting_alloc, counting_free, NULL), 0);
	late = jf_malloc(8);
	ck_assert_uint_eq(live_blocks, 1);
	early = jf_realloc(early, 4096);        /* now the host's */
	ck_assert_uint_eq(live_blocks, 2);
	ck_assert_int_eq(jf_mem_set_allocator(NULL, NULL, NULL), 0);
	jf_free(late);
	jf_free(early);
	ck_assert_uint_eq(live_blocks, 0);
}
END_TEST

/* In a process whose first block came from libc without a header, the
 * first allocator is refused: that block could not be freed by it. */
START_TEST(test_mem_allocator_after_blocks)
{
	void *p = jf_malloc(8);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(jf_mem_host_allocator(), 0);
	ck_assert_int_eq(jf_mem_set_allocator(counting_alloc, counting_free, NULL),
	    JF_ERR_BUSY);
	free(p);        /* libc mode: the family is malloc itself */
}
END_TEST

/* Each check test runs in its own process, so this one starts with no
 * block allocated and may install a failing allocator. */
START_TEST(test_buf_out_of_memory)
{
	jf_buf_t b = JF_BUF_INIT;

	fail_after = 0;
	ck_assert_int_eq(jf_mem_set_allocator(counting_alloc, counting_free, NULL), 0);
	jf_buf_puts(&b, "x");
	ck_assert_int_eq(jf_buf_error(&b), JF_ERR_NOMEM);
	jf_buf_puts(&b, "y");   /* sticky */
	ck_assert_int_eq(jf_buf_error(&b), JF_ERR_NOMEM);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_null(jf_buf_steal(&b, NULL));
	ck_assert_uint_eq(live_blocks, 0);
}
END_TEST

START_TEST(test_buf_tlv_and_errors)
{
	jf_buf_t b = JF_BUF_INIT;
	uint8_t *out;
	size_t n;
	size_t i;

	jf_buf_tlv(&b, 2, 7, "xyz", 3);
	jf_buf_u32(&b, 0x01020304);
	jf_buf_printf(&b, "%d-%s", 42, "a");
	ck_assert_int_eq(jf_buf_error(&b), 0);
	ck_assert_uint_eq(b.len, 6 + 3 + 4 + 4);
	ck_assert_int_eq(memcmp(b.p, "\0\7\0\0\0\3xyz\1\2\3\4" "42-a", b.len), 0);
	ck_assert_int_eq(b.p[b.len], '\0');
	out = jf_buf_steal(&b, &n);
	ck_assert_uint_eq(n, 17);
	ck_assert_ptr_null(b.p);
	jf_free(out);

	/* a limit is a sticky JF_ERR_TOOBIG; steal then gives NULL */
	b.limit = 10;
	for (i = 0; i < 5; i++)
		jf_buf_puts(&b, "abc");
	ck_assert_int_eq(jf_buf_error(&b), JF_ERR_TOOBIG);
	ck_assert_uint_eq(b.len, 9);
	ck_assert_ptr_null(jf_buf_steal(&b, &n));
}
END_TEST

START_TEST(test_vec_push)
{
	int *v = NULL;
	size_t n = 0, cap = 0, i;

	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(JF_VEC_PUSH(v, n, cap, (int)i), 0);
	ck_assert_uint_eq(n, 1000);
	ck_assert_uint_ge(cap, 1000);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(v[i], (int)i);
	jf_free(v);
}
END_TEST

START_TEST(test_url_parse)
{
	jf_url_t u;
	char err[256], hp[300];

	ck_assert_int_eq(jf_url_parse("redis://[::1]:6379/2?prefix=jf", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.scheme, "redis");
	ck_assert_str_eq(u.host, "::1");
	ck_assert_int_eq(u.port, 6379);
	ck_assert_str_eq(u.path, "/2");
	ck_assert_str_eq(u.query, "prefix=jf");
	jf_url_host_fmt(u.host, hp, sizeof(hp));
	ck_assert_str_eq(hp, "[::1]");

	ck_assert_int_eq(jf_url_parse("redis://us%3Ar:p%40ss@127.0.0.1:1/0", &u, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(u.user, "us:r");
	ck_assert_str_eq(u.password, "p@ss");
	ck_assert_int_eq(u.has_password, 1);

	ck_assert_int_eq(jf_url_parse("file:///var/cache/jitfarm", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.scheme, "file");
	ck_assert_str_eq(u.path, "/var/cache/jitfarm");
	ck_assert_int_eq(jf_url_parse("unix:/run/jf.sock", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.path, "/run/jf.sock");
	ck_assert_int_eq(jf_url_parse("s3://bucket/pre/fix?region=eu-west-1", &u, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(u.host, "bucket");
	ck_assert_str_eq(u.path, "/pre/fix");

	/* malformed: a clear error, never a guess */
	ck_assert_int_eq(jf_url_parse("no-scheme", &u, err, sizeof(err)), JF_ERR_INVAL);
	ck_assert_int_eq(jf_url_parse("redis://[::1:6379/", &u, err, sizeof(err)), JF_ERR_INVAL);
	ck_assert_int_eq(jf_url_parse("redis://h:99999/", &u, err, sizeof(err)), JF_ERR_INVAL);
	ck_assert_int_eq(jf_url_parse("http://h/a%00b", &u, err, sizeof(err)), JF_ERR_INVAL);
	ck_assert_int_eq(jf_url_parse("http://h/\n", &u, err, sizeof(err)), JF_ERR_INVAL);
}
END_TEST

START_TEST(test_url_codec)
{
	char out[64];

	ck_assert_int_eq(jf_url_decode("%2Bavx2+x", 9, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "+avx2+x");               /* '+' stays a plus */
	ck_assert_int_eq(jf_url_decode("a%0", 3, out, sizeof(out)), JF_ERR_INVAL);
	ck_assert_int_eq(jf_url_decode("a%zz", 4, out, sizeof(out)), JF_ERR_INVAL);
	ck_assert_int_eq(jf_url_decode("a%00", 4, out, sizeof(out)), JF_ERR_INVAL);
	ck_assert_int_eq(jf_url_decode("abcdef", 6, out, 4), JF_ERR_TOOBIG);
	ck_assert_int_eq(jf_url_encode("a b/c~", 1, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "a%20b/c~");
	ck_assert_int_eq(jf_url_encode("a b/c", 0, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "a%20b%2Fc");
}
END_TEST

START_TEST(test_query_strict)
{
	static const char *const allowed[] = { "opt", "features", "namespace", NULL };
	jf_query_t q;
	char err[256];

	ck_assert_int_eq(jf_query_parse("opt=2&features=+avx2,-sse4a", allowed, &q, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(jf_query_get(&q, "features"), "+avx2,-sse4a");
	ck_assert_str_eq(jf_query_get(&q, "opt"), "2");
	ck_assert_ptr_null(jf_query_get(&q, "namespace"));
	ck_assert_int_eq(jf_query_parse("opt=2&opt=3", allowed, &q, err, sizeof(err)),
	    JF_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "twice"));
	ck_assert_int_eq(jf_query_parse("namespace=a%00b", allowed, &q, err, sizeof(err)),
	    JF_ERR_INVAL);
	ck_assert_int_eq(jf_query_parse("bogus=1", allowed, &q, err, sizeof(err)),
	    JF_ERR_INVAL);
	ck_assert_int_eq(jf_query_parse("", allowed, &q, err, sizeof(err)), 0);
	ck_assert_int_eq(q.n, 0);
}
END_TEST

START_TEST(test_json_roundtrip)
{
	const char *evil = "x86_64\"}\n,{\"a\":1";
	jf_buf_t b = JF_BUF_INIT;
	json_t *j, *back;
	char err[256];

	j = json_pack("{s:s}", "triple", evil);
	ck_assert_int_eq(jf_json_dump(j, &b), 0);
	json_decref(j);
	ck_assert_ptr_null(memchr(b.p, '\n', b.len));
	ck_assert_int_eq(jf_json_parse(b.p, b.len, &back, err, sizeof(err)), 0);
	ck_assert_str_eq(json_string_value(json_object_get(back, "triple")), evil);
	json_decref(back);
	jf_buf_free(&b);
	ck_assert_int_eq(jf_json_parse("{\"a\":1,\"a\":2}", 13, &back, err, sizeof(err)),
	    JF_ERR_INVAL);
	ck_assert_int_eq(jf_json_parse("{\"a\":1} x", 9, &back, err, sizeof(err)),
	    JF_ERR_INVAL);
}
END_TEST

START_TEST(test_fdpass)
{
	int sv[2], fds[JF_FDPASS_MAX], nfds, pfd[2], many[JF_FDPASS_MAX + 1], i;
	char buf[16];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(jf_fd_send(sv[0], "hi", 2, pfd, 2), 0);
	ck_assert_int_eq(jf_fd_recv(sv[1], buf, sizeof(buf), fds, 2, &nfds, 0), 2);
	ck_assert_int_eq(nfds, 2);
	ck_assert_int_eq(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(write(fds[1], "z", 1), 1);
	ck_assert_int_eq(read(pfd[0], buf, 1), 1);
	close(fds[0]);
	close(fds[1]);

	/* more fds than the receiver takes: refused, and none leaks */
	ck_assert_int_eq(jf_fd_send(sv[0], "x", 1, pfd, 2), 0);
	ck_assert_int_eq(jf_fd_recv(sv[1], buf, sizeof(buf), fds, 1, &nfds, 0), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(nfds, 0);
	for (i = 0; i <= JF_FDPASS_MAX; i++)
		many[i] = pfd[0];
	ck_assert_int_eq(jf_fd_send(sv[0], "x", 1, many, JF_FDPASS_MAX + 1), -1);
	close(pfd[0]);
	close(pfd[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_spec_set)
{
	jf_spec_t s;
	jf_key_t id;
	char err[128], big[JF_NS_MAX + 8];

	memset(id.b, 7, sizeof(id.b));
	ck_assert_int_eq(jf_spec_set(&s, "evm", &id, NULL, "x86-64-v3", "+avx2", '3', err,
	    sizeof(err)), 0);
	ck_assert_str_eq(s.ns, "evm");
	ck_assert_int_eq(s.has_program, 1);
	ck_assert_str_eq(s.triple, "");
	ck_assert_int_eq(s.opt, '3');
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(jf_spec_set(&s, big, NULL, NULL, NULL, NULL, 0, err, sizeof(err)),
	    JF_ERR_TOOBIG);
	ck_assert_ptr_nonnull(strstr(err, "namespace"));
	ck_assert_int_eq(jf_spec_set(&s, NULL, NULL, NULL, NULL, NULL, 'q', err, sizeof(err)),
	    JF_ERR_INVAL);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_mem_host_allocator, test_mem_block_remembers_allocator,
		test_mem_allocator_after_blocks, test_buf_tlv_and_errors,
		test_buf_out_of_memory, test_vec_push, test_url_parse, test_url_codec,
		test_query_strict, test_json_roundtrip, test_fdpass, test_spec_set, NULL
	};

	return jft_suite_run(jft_suite("common", 0, tests, NULL)) != 0;
}
