/*
 * gen_corpus.c - write the harnesses' seed inputs from real encodings.
 *
 *   gen_corpus DIR    writes DIR/blob, DIR/manifest, DIR/proto, DIR/cc_args, DIR/url
 *
 * The seeds come from the encoders the product uses (jf_blob_encode,
 * jf_proto_req_encode, jf_frame_hdr_encode), so the fuzzer starts from
 * inputs that decode and mutates from there, rather than having to find
 * a magic, a version and matching lengths by itself. They are made at
 * build time, so they follow the formats when those change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/key.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "worker/proto.h"
#include "worker/worker.h"
#include "fuzz.h"

static const char *outdir;

static void
die(const char *what)
{
	fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
put(const char *harness, int n, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, harness);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die(path);
	snprintf(path, sizeof(path), "%s/%s/seed-%02d", outdir, harness, n);
	if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, len, f) != len ||
	    fclose(f) != 0)
		die(path);
}

/* A small growable byte string for the streams. */
typedef struct bytes {
	uint8_t *p;
	size_t len;
} bytes_t;

static void
add(bytes_t *b, const void *data, size_t len)
{
	if ((b->p = realloc(b->p, b->len + len + 1)) == NULL)
		die("realloc");
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void
add_frame(bytes_t *b, uint16_t type, uint64_t id, int32_t status, const void *p,
    size_t len)
{
	jf_frame_hdr_t h = { .type = type, .id = id, .len = len, .status = status };
	uint8_t hb[JF_PROTO_HDR_LEN];

	jf_frame_hdr_encode(hb, &h);
	add(b, hb, sizeof(hb));
	add(b, p, len);
}

static void
artifact(jf_artifact_t *a, const uint8_t *payload, size_t len, int nsyms)
{
	static char add_[] = "add", mul[] = "mul", ns[] = "evm", prod[] = "farm-0/7";
	static char comp[] = "jitfarm/0.1.0 llvm/19.1.7";
	static char *syms[] = { add_, mul };

	memset(a, 0, sizeof(*a));
	jf_sha256("key", 3, a->m.key.b);
	jf_sha256("program", 7, a->m.program_id.b);
	a->m.ns = ns;
	strcpy(a->m.target.triple, "x86_64-pc-linux-gnu");
	strcpy(a->m.target.cpu, "x86-64-v2");
	strcpy(a->m.target.features, "+avx2,-sse4a");
	a->m.target.opt = '2';
	a->m.compiler = comp;
	a->m.symbols = syms;
	a->m.nsymbols = (size_t)nsyms;
	a->m.compile_ns = 9400000;
	a->m.created_ms = 1795329425669ull;
	a->m.producer = prod;
	a->payload = (uint8_t *)payload;
	a->payload_len = len;
}

static const char ll[] =
	"source_filename = \"add\"\n"
	"define i64 @add(i64 %a, i64 %b) {\n"
	"  %c = add i64 %a, %b\n"
	"  ret i64 %c\n"
	"}\n";

int
main(int argc, char **argv)
{
	static const uint8_t elf[] = {
		0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0x3e, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
	};
	static const uint8_t mpay[] = FZ_MANIFEST_PAYLOAD;
/* the lines hold NULs between arguments, so each carries its length */
#define LINE(s) { s, sizeof(s) - 1 }
	const struct { const char *s; size_t len; } cc_lines[] = {
		LINE("clang-19\0-c\0foo.c\0-o\0foo.o"),
		LINE("-O2\0-g\0-Wall\0-Iinclude\0-DNDEBUG\0-c\0src/x.c\0-o\0build/x.o\0-MD\0-MF\0build/x.d"),
		LINE("-Os\0-fPIC\0-c\0/tmp/jf-fuzz/src/lib/a.c\0-o\0/tmp/jf-fuzz/src/out/a.o\0"
		"-fdebug-prefix-map=/tmp/jf-fuzz/src=."),
		LINE("gcc\0-fsanitize=address\0-c\0a.c"),
		LINE("-c\0a.c\0b.c"),
		LINE("-E\0a.c"),
		LINE("-x\0c\0-std=c11\0-c\0-\0-o\0out.o"),
		LINE("@rsp\0-O3\0-ffunction-sections\0-c\0z.c"),
		LINE("/tmp/jf-fuzz/src/lib/../a/b.c\0/tmp/jf-fuzz/src/x/y\0/tmp/jf-fuzz/src/\0-c"),
		LINE("-O\0-c\0m.c\0-MMD\0-MT\0m.o\0-include\0cfg.h\0-isystem\0/usr/include/x"),
	};
	/* url: a selector byte (0 query, 1 coding, 2 URL), then the text */
	const char *const url_inputs[] = {
		"\0opt=2&triple=x86_64-pc-linux-gnu&cpu=x86-64-v2&features=+avx2&namespace=evm&wait=1",
		"\0program=cb37a9f0cb37a9f0cb37a9f0cb37a9f0cb37a9f0cb37a9f0cb37a9f0cb37a9f0&opt=O3",
		"\0a=1&&b=%41%2b&c",
		"\1features%3D%2Bavx2%2C-sse4a/x%7E",
		"\1%e2%82%ac%20plain",
		"\2redis://user:p%40ss@127.0.0.1:6379/0?prefix=jf",
		"\2http://[::1]:8080/dav/path%20x?a=b",
		"\2s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1",
		"\2file:///var/cache/jitfarm",
		"\2unix:/run/jitfarm.sock",
	};
	jf_artifact_t a;
	uint8_t *blob, *req;
	size_t len, reqlen, i;
	int n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
		die(outdir);

	/* blobs: unsigned and signed, with and without symbols and payload */
	for (i = 0; i < 4; i++) {
		artifact(&a, elf, i == 3 ? 0 : sizeof(elf), (int)(i % 3));
		if (jf_blob_encode(&a, (i & 1) ? fz_sign_key() : NULL, &blob, &len) != 0)
			die("jf_blob_encode");
		put("blob", n++, blob, len);
		fz_free(blob);
	}

	/* manifests describing the payload fuzz_manifest puts behind them */
	for (i = 0; i < 3; i++) {
		artifact(&a, mpay, sizeof(mpay), (int)i);
		if (jf_blob_encode(&a, NULL, &blob, &len) != 0)
			die("jf_blob_encode");
		put("manifest", (int)i, blob + JF_BLOB_HEADER_LEN,
		    jf_get_u32(blob + 8));
		fz_free(blob);
	}

	/* frame streams as workers and the pool write them */
	{
		jf_key_t pid;
		const char *syms[] = { "add" };
		jf_compile_req_t r = {
			.ir = (const uint8_t *)ll, .ir_len = sizeof(ll) - 1, .ns = "evm",
			.program_id = &pid, .triple = "x86_64-pc-linux-gnu",
			.cpu = "x86-64-v2", .features = "+avx2", .opt = '2',
			.symbols = syms, .nsymbols = 1, .max_ir_bytes = 1 << 20,
			.producer = "farm-0/7",
		};
		uint8_t prefix[JF_RESULT_PREFIX_LEN];
		const char fatal[] = "LLVM ERROR: out of registers";
		bytes_t s = { 0 };
		uint8_t sel[2];

		jf_sha256("program", 7, pid.b);
		if (jf_proto_req_encode(&r, &req, &reqlen) != 0)
			die("jf_proto_req_encode");
		artifact(&a, elf, sizeof(elf), 2);
		if (jf_blob_encode(&a, NULL, &blob, &len) != 0)
			die("jf_blob_encode");
		for (i = 0; i < JF_RESULT_PREFIX_LEN / 8; i++)
			jf_put_u64(prefix + 8 * i, 1000 * (i + 1));

		for (i = 0; i < 4; i++) {
			/* cut into writes of 0 (all at once), 1, 7 and 33 bytes; caps */
			static const uint8_t chunks[4] = { 0, 1, 7, 33 };

			s.len = 0;
			sel[0] = chunks[i];
			sel[1] = (uint8_t)(i == 0 ? 3 : 2 + (i & 1));
			add(&s, sel, 2);
			switch (i) {
			case 0:
				add_frame(&s, JF_FRAME_COMPILE, 1, 0, req, reqlen);
				break;
			case 1: {
				bytes_t res = { 0 };

				add(&res, prefix, sizeof(prefix));
				add(&res, blob, len);
				add_frame(&s, JF_FRAME_RESULT, 1, 0, res.p, res.len);
				free(res.p);
				break;
			}
			case 2:
				add_frame(&s, JF_FRAME_RESULT, 2, JF_ERR_PARSE, "expected type", 13);
				add_frame(&s, JF_FRAME_FATAL, 0, 0, fatal, sizeof(fatal) - 1);
				break;
			case 3:
				add_frame(&s, JF_FRAME_ZY_HELLO, 4242, 0, NULL, 0);
				add_frame(&s, JF_FRAME_ECHO_REPLY, 3, 0, "ping", 4);
				add_frame(&s, JF_FRAME_COMPILE, 5, 0, req, reqlen);
				break;
			}
			put("proto", (int)i, s.p, s.len);
		}
		free(s.p);
		fz_free(req);
		fz_free(blob);
	}

	/* compile lines for `jitfarm cc`, after a base-directory selector */
	for (i = 0; i < sizeof(cc_lines) / sizeof(cc_lines[0]); i++) {
		bytes_t s = { 0 };
		uint8_t sel = (uint8_t)(i & 3);

		add(&s, &sel, 1);
		add(&s, cc_lines[i].s, cc_lines[i].len);
		put("cc_args", (int)i, s.p, s.len);
		free(s.p);
	}

	for (i = 0; i < sizeof(url_inputs) / sizeof(url_inputs[0]); i++)
		put("url", (int)i, url_inputs[i], strlen(url_inputs[i] + 1) + 1);
	return 0;
}
