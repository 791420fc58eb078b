/*
 * test_compile.c - the compile engine (compiler/compile.c) with real LLVM:
 * .ll and clang-19-made .bc at O0 and O2 give ELF relocatable objects
 * with a full manifest, equal requests give byte-identical objects, and
 * every input the engine must refuse is refused with its own message.
 */
#include <check.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/key.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "support.h"

static const char add_ll[] =
	"define i64 @add(i64 %a, i64 %b) {\n"
	"  %s = add i64 %a, %b\n"
	"  ret i64 %s\n"
	"}\n"
	"define i64 @sum_to(i64 %n) {\n"
	"entry:\n"
	"  br label %loop\n"
	"loop:\n"
	"  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]\n"
	"  %acc = phi i64 [ 0, %entry ], [ %acc.next, %loop ]\n"
	"  %acc.next = add i64 %acc, %i\n"
	"  %i.next = add i64 %i, 1\n"
	"  %done = icmp uge i64 %i.next, %n\n"
	"  br i1 %done, label %exit, label %loop\n"
	"exit:\n"
	"  ret i64 %acc.next\n"
	"}\n"
	"@counter = global i32 0\n";

static jf_compile_req_t
req_for(const void *ir, size_t len, char opt)
{
	jf_compile_req_t r;

	memset(&r, 0, sizeof(r));
	r.ir = ir;
	r.ir_len = len;
	r.spec.opt = opt;
	r.producer = "test";
	return r;
}

static jf_compile_req_t
req_ll(const char *text, char opt)
{
	return req_for(text, strlen(text), opt);
}

static const Elf64_Ehdr *
assert_elf_rel(const jf_artifact_t *a, int machine)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)a->payload;

	ck_assert_uint_ge(a->payload_len, sizeof(Elf64_Ehdr));
	ck_assert_int_eq(memcmp(eh->e_ident, ELFMAG, SELFMAG), 0);
	ck_assert_int_eq(eh->e_ident[EI_CLASS], ELFCLASS64);
	ck_assert_int_eq(eh->e_type, ET_REL);
	ck_assert_int_eq(eh->e_machine, machine);
	return eh;
}

static int
has_symbol(const jf_manifest_t *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nsymbols; i++)
		if (strcmp(m->symbols[i], name) == 0)
			return 1;
	return 0;
}

/* Every manifest field is filled, and the key is the one jf_compile_key
 * derives without compiling. */
static void
assert_manifest(const jf_compile_req_t *req, const jf_artifact_t *a)
{
	jf_target_t t;
	jf_key_t k, pid;
	uint8_t sha[32];
	char err[512];

	ck_assert_int_eq(jf_compile_key(req, &t, &k, err, sizeof(err)), 0);
	ck_assert(jf_key_eq(&k, &a->m.key));
	jf_program_id_from_ir(req->ir, req->ir_len, &pid);
	ck_assert(jf_key_eq(&pid, &a->m.program_id));
	ck_assert_str_eq(a->m.ns, req->spec.ns);
	ck_assert_str_eq(a->m.target.triple, t.triple);
	ck_assert_str_eq(a->m.target.cpu, t.cpu);
	ck_assert_int_eq(a->m.target.opt, req->spec.opt ? req->spec.opt : '2');
	ck_assert_str_eq(a->m.compiler, jf_compiler_id());
	ck_assert_str_eq(a->m.producer, "test");
	ck_assert_uint_eq(a->m.payload_size, a->payload_len);
	jf_sha256(a->payload, a->payload_len, sha);
	ck_assert_int_eq(memcmp(sha, a->m.payload_sha256, 32), 0);
	ck_assert_uint_gt(a->m.compile_ns, 0);
	ck_assert_uint_gt(a->m.created_ms, 1600000000000ull);
}

START_TEST(test_ll_o0_o2)
{
	static const char opts[] = { '0', '2', 's' };
	size_t i;

	for (i = 0; i < sizeof(opts); i++) {
		jf_compile_req_t req = req_ll(add_ll, opts[i]);
		jf_compile_times_t t;
		jf_artifact_t a;
		char err[1024];
		uint8_t *blob;
		size_t len;

		ck_assert_msg(jf_compile(&req, &a, &t, err, sizeof(err)) == 0, "%s", err);
		assert_elf_rel(&a, EM_X86_64);
		assert_manifest(&req, &a);
		ck_assert_str_eq(a.m.target.cpu, "x86-64-v2");   /* the baseline */
		ck_assert_str_eq(a.m.target.features, "");
		/* no symbols asked for: every defined external is recorded */
		ck_assert_uint_eq(a.m.nsymbols, 3);
		ck_assert(has_symbol(&a.m, "add"));
		ck_assert(has_symbol(&a.m, "sum_to"));
		ck_assert(has_symbol(&a.m, "counter"));
		ck_assert_uint_gt(t.total_ns, 0);
		ck_assert_uint_ge(t.total_ns, t.parse_ns + t.verify_ns + t.opt_ns + t.codegen_ns);
		/* the manifest survives the blob format */
		ck_assert_int_eq(jf_blob_encode(&a, NULL, &blob, &len), 0);
		free(blob);
		jf_artifact_free(&a);
	}
}
END_TEST

/* Bitcode made by clang-19 at test time, compiled at O0 and O2. */
START_TEST(test_bc_from_clang)
{
	static const char src[] =
		"long mul3(long x) { return x * 3; }\n"
		"static int hidden(int a) { return a + 1; }\n"
		"int visible(int a) { return hidden(a) * 2; }\n";
	static const char opts[] = { '0', '2' };
	char *dir = jft_tmpdir("compile-bc");
	char cpath[4200], bcpath[4200], *errout = NULL;
	uint8_t *bc;
	size_t bclen, i;
	int st;

	snprintf(cpath, sizeof(cpath), "%s/m.c", dir);
	snprintf(bcpath, sizeof(bcpath), "%s/m.bc", dir);
	ck_assert_int_eq(jft_write(cpath, src, strlen(src)), 0);
	{
		char *argv[] = { (char *)"clang-19", (char *)"-c", (char *)"-emit-llvm",
		    (char *)"-O1", (char *)"-Xclang", (char *)"-disable-llvm-passes",
		    (char *)"-o", bcpath, cpath, NULL };

		st = jft_run(argv, NULL, 0, NULL, &errout);
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "clang-19: %s", errout);
	free(errout);
	ck_assert_ptr_nonnull(bc = jft_read(bcpath, &bclen));
	ck_assert_int_eq(memcmp(bc, "BC\xc0\xde", 4), 0);
	for (i = 0; i < sizeof(opts); i++) {
		jf_compile_req_t req = req_for(bc, bclen, opts[i]);
		jf_artifact_t a, b;
		char err[1024];

		ck_assert_msg(jf_compile(&req, &a, NULL, err, sizeof(err)) == 0, "%s", err);
		assert_elf_rel(&a, EM_X86_64);
		assert_manifest(&req, &a);
		ck_assert(has_symbol(&a.m, "mul3"));
		ck_assert(has_symbol(&a.m, "visible"));
		ck_assert(!has_symbol(&a.m, "hidden"));
		/* byte-identical on a second run */
		ck_assert_msg(jf_compile(&req, &b, NULL, err, sizeof(err)) == 0, "%s", err);
		ck_assert_uint_eq(a.payload_len, b.payload_len);
		ck_assert_int_eq(memcmp(a.payload, b.payload, a.payload_len), 0);
		jf_artifact_free(&a);
		jf_artifact_free(&b);
	}
	free(bc);
	jft_rmtree(dir);
	free(dir);
}
END_TEST

/* Equal requests give equal bytes, in this process and in another one,
 * whatever name the module had. */
START_TEST(test_deterministic)
{
	static const char named[] = "source_filename = \"/home/someone/x.ll\"\n"
		"define i32 @f(i32 %a) {\n  %r = mul i32 %a, 7\n  ret i32 %r\n}\n";
	static const char unnamed[] =
		"define i32 @f(i32 %a) {\n  %r = mul i32 %a, 7\n  ret i32 %r\n}\n";
	jf_compile_req_t req = req_ll(add_ll, '2');
	jf_artifact_t a, b, c, d;
	char err[1024];
	int fds[2], st;
	pid_t pid;
	uint8_t *child;

	ck_assert_int_eq(jf_compile(&req, &a, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_compile(&req, &b, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.payload_len, b.payload_len);
	ck_assert_int_eq(memcmp(a.payload, b.payload, a.payload_len), 0);
	ck_assert(jf_key_eq(&a.m.key, &b.m.key));

	/* a separate process (different pid, addresses, timing) */
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		jf_artifact_t x;

		close(fds[0]);
		if (jf_compile(&req, &x, NULL, err, sizeof(err)) != 0 ||
		    x.payload_len != a.payload_len)
			_exit(1);
		_exit(jf_write_full(fds[1], x.payload, x.payload_len) == 0 ? 0 : 1);
	}
	close(fds[1]);
	child = malloc(a.payload_len);
	ck_assert_int_eq(jf_read_full(fds[0], child, a.payload_len), 0);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(memcmp(child, a.payload, a.payload_len), 0);
	free(child);

	/* the source file name in the IR does not reach the object */
	req = req_ll(named, '2');
	ck_assert_int_eq(jf_compile(&req, &c, NULL, err, sizeof(err)), 0);
	req = req_ll(unnamed, '2');
	ck_assert_int_eq(jf_compile(&req, &d, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.payload_len, d.payload_len);
	ck_assert_int_eq(memcmp(c.payload, d.payload, c.payload_len), 0);
	ck_assert_ptr_null(memmem(c.payload, c.payload_len, "someone", 7));
	jf_artifact_free(&a);
	jf_artifact_free(&b);
	jf_artifact_free(&c);
	jf_artifact_free(&d);
}
END_TEST

/* Exported symbols: those stay, the rest become internal and, at O2,
 * disappear. */
START_TEST(test_exported_symbols)
{
	const char *syms[] = { "add" };
	jf_compile_req_t req = req_ll(add_ll, '2');
	jf_artifact_t a;
	char err[1024];

	req.symbols = syms;
	req.nsymbols = 1;
	ck_assert_msg(jf_compile(&req, &a, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(a.m.nsymbols, 1);
	ck_assert_str_eq(a.m.symbols[0], "add");
	ck_assert_ptr_nonnull(memmem(a.payload, a.payload_len, "add", 4));
	ck_assert_ptr_null(memmem(a.payload, a.payload_len, "sum_to", 6));
	jf_artifact_free(&a);
}
END_TEST

/* Aliases are symbols too: recorded, and exportable on their own. */
START_TEST(test_alias_symbols)
{
	static const char ir[] =
		"define i64 @add(i64 %a, i64 %b) {\n  %s = add i64 %a, %b\n  ret i64 %s\n}\n"
		"@plus = alias i64 (i64, i64), ptr @add\n";
	const char *syms[] = { "plus" };
	jf_compile_req_t req = req_ll(ir, '2');
	jf_artifact_t a;
	char err[1024];

	ck_assert_msg(jf_compile(&req, &a, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(a.m.nsymbols, 2);
	ck_assert(has_symbol(&a.m, "add"));
	ck_assert(has_symbol(&a.m, "plus"));
	jf_artifact_free(&a);

	req.symbols = syms;
	req.nsymbols = 1;
	ck_assert_msg(jf_compile(&req, &a, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(a.m.nsymbols, 1);
	ck_assert_str_eq(a.m.symbols[0], "plus");
	ck_assert_ptr_nonnull(memmem(a.payload, a.payload_len, "plus", 5));
	jf_artifact_free(&a);
}
END_TEST

/* A target other than the host: every target LLVM has is initialised. */
START_TEST(test_cross_target)
{
	jf_compile_req_t req = req_ll(add_ll, '2');
	jf_artifact_t a;
	char err[1024];

	jf_strlcpy(req.spec.triple, "aarch64-unknown-linux-gnu", sizeof(req.spec.triple));
	ck_assert_msg(jf_compile(&req, &a, NULL, err, sizeof(err)) == 0, "%s", err);
	assert_elf_rel(&a, EM_AARCH64);
	ck_assert_str_eq(a.m.target.cpu, "generic");
	ck_assert_str_eq(a.m.target.triple, "aarch64-unknown-linux-gnu");
	jf_artifact_free(&a);
}
END_TEST

/* jf_target_resolve: defaults, "host" expansion, canonical features. */
START_TEST(test_target_resolve)
{
	jf_target_t t, u;
	char err[512], canon[JF_FEATURES_MAX];

	ck_assert_int_eq(jf_target_resolve(NULL, NULL, NULL, 0, &t, err, sizeof(err)), 0);
	ck_assert_str_eq(t.cpu, "x86-64-v2");
	ck_assert_int_eq(t.opt, '2');
	ck_assert_ptr_nonnull(strstr(t.triple, "x86_64"));

	ck_assert_int_eq(jf_target_resolve(NULL, "host", NULL, '3', &t, err, sizeof(err)), 0);
	ck_assert_str_ne(t.cpu, "host");
	ck_assert_str_ne(t.cpu, "");
	ck_assert_uint_gt(strlen(t.features), 10);
	ck_assert_int_eq(jf_features_canon(t.features, canon, sizeof(canon)), 0);
	ck_assert_str_eq(canon, t.features);            /* already sorted */
	/* a request's own feature overrides the host's */
	ck_assert_int_eq(jf_target_resolve(NULL, "host", "-avx2", '3', &u, err,
	    sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(u.features, "-avx2"));

	ck_assert_int_eq(jf_target_resolve("x86_64-unknown-linux-gnu", "skylake",
	    "+sse4.2,+avx2", '1', &t, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_target_resolve("x86_64-unknown-linux-gnu", "skylake",
	    " +avx2 ,+sse4.2", '1', &u, err, sizeof(err)), 0);
	ck_assert_str_eq(t.features, "+avx2,+sse4.2");
	ck_assert_str_eq(u.features, t.features);
}
END_TEST

/* Every refusal: code and message. */
typedef struct reject_case {
	const char *name;
	const char *ir;
	const char *triple, *cpu, *features;
	char opt;
	size_t max;
	const char *symbol;
	int code;
	const char *msg1, *msg2;        /* substrings the message must hold */
} reject_case_t;

static const reject_case_t rejects[] = {
	{ "parse", "define i32 @f() {\n  ret i32 %nope\n}\n", NULL, NULL, NULL, 0, 0,
	  NULL, JF_ERR_PARSE, "jitfarm-input:2:", "use of undefined value '%nope'" },
	{ "parse-garbage", "this is not IR\n", NULL, NULL, NULL, 0, 0, NULL,
	  JF_ERR_PARSE, "IR does not parse", "jitfarm-input:1:" },
	{ "bitcode-garbage", "BC\xc0\xde\x01\x02\x03\x04 not really", NULL, NULL, NULL,
	  0, 0, NULL, JF_ERR_PARSE, "IR does not parse", "" },
	{ "verify", "define i32 @f(i32 %a) {\nentry:\n  %x = add i32 %y, 1\n"
	  "  %y = add i32 %a, 1\n  ret i32 %x\n}\n", NULL, NULL, NULL, 0, 0, NULL,
	  JF_ERR_VERIFY, "fails the verifier", "Instruction does not dominate all uses" },
	{ "cpu", add_ll, NULL, "nosuchcpu", NULL, 0, 0, NULL, JF_ERR_TARGET,
	  "unknown cpu 'nosuchcpu'", "x86_64" },
	{ "cpu-other-arch", add_ll, NULL, "cortex-a72", NULL, 0, 0, NULL, JF_ERR_TARGET,
	  "unknown cpu 'cortex-a72'", "" },
	{ "feature", add_ll, NULL, NULL, "+avx2,+nosuchfeature", 0, 0, NULL,
	  JF_ERR_TARGET, "unknown cpu feature 'nosuchfeature'", "" },
	{ "feature-syntax", add_ll, NULL, NULL, "avx2", 0, 0, NULL, JF_ERR_INVAL,
	  "bad feature list 'avx2'", "" },
	{ "target", add_ll, "nosucharch-linux-gnu", NULL, NULL, 0, 0, NULL,
	  JF_ERR_TARGET, "unknown target", "nosucharch" },
	{ "host-cpu-cross", add_ll, "aarch64-unknown-linux-gnu", "host", NULL, 0, 0,
	  NULL, JF_ERR_TARGET, "cpu 'host' needs the host's architecture", "" },
	{ "triple", "target triple = \"aarch64-unknown-linux-gnu\"\n"
	  "define void @f() {\n  ret void\n}\n", NULL, NULL, NULL, 0, 0, NULL,
	  JF_ERR_TARGET, "module triple 'aarch64-unknown-linux-gnu' contradicts", "" },
	{ "datalayout", "target datalayout = \"e-m:e-p:32:32-i64:64-n32-S128\"\n"
	  "define void @f() {\n  ret void\n}\n", NULL, NULL, NULL, 0, 0, NULL,
	  JF_ERR_TARGET, "module data layout 'e-m:e-p:32:32-i64:64-n32-S128' contradicts",
	  "" },
	{ "toobig", add_ll, NULL, NULL, NULL, 0, 100, NULL, JF_ERR_TOOBIG,
	  "over the limit of 100 bytes", "" },
	{ "opt", add_ll, NULL, NULL, NULL, '9', 0, NULL, JF_ERR_INVAL,
	  "bad opt level '9'", "" },
	{ "symbol", add_ll, NULL, NULL, NULL, 0, 0, "nosuchfn", JF_ERR_INVAL,
	  "exported symbol 'nosuchfn' is not defined", "" },
	{ "inline-asm", "define void @f() {\n  call void asm sideeffect "
	  "\"bogus_instruction %eax\", \"\"()\n  ret void\n}\n", NULL, NULL, NULL, 0, 0,
	  NULL, JF_ERR_COMPILE, "code generation failed", "invalid instruction mnemonic" },
};

START_TEST(test_reject)
{
	const reject_case_t *c = &rejects[_i];
	jf_compile_req_t req = req_ll(c->ir, c->opt);
	const char *syms[1];
	jf_artifact_t a;
	char err[2048];
	int r;

	ck_assert_int_eq(jf_spec_set(&req.spec, NULL, NULL, c->triple, c->cpu, c->features,
	    0, err, sizeof(err)), 0);
	req.spec.opt = c->opt;          /* unchecked: jf_compile must refuse it */
	req.max_ir_bytes = c->max;
	if (c->symbol) {
		syms[0] = c->symbol;
		req.symbols = syms;
		req.nsymbols = 1;
	}
	memset(&a, 0xff, sizeof(a));
	r = jf_compile(&req, &a, NULL, err, sizeof(err));
	ck_assert_msg(r == c->code, "%s: got %d (%s), want %d", c->name, r, err, c->code);
	ck_assert_msg(strstr(err, c->msg1) != NULL, "%s: message '%s' lacks '%s'",
	    c->name, err, c->msg1);
	ck_assert_msg(strstr(err, c->msg2) != NULL, "%s: message '%s' lacks '%s'",
	    c->name, err, c->msg2);
	ck_assert_ptr_null(a.payload);          /* *out zeroed on failure */
	ck_assert_ptr_null(a.m.ns);
}
END_TEST

/* A vendor of "unknown" in the module does not contradict the host's. */
START_TEST(test_triple_vendor)
{
	static const char ir[] = "target triple = \"x86_64-unknown-linux-gnu\"\n"
		"target datalayout = \"e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-"
		"i128:128-f80:128-n8:16:32:64-S128\"\n"
		"define void @f() {\n  ret void\n}\n";
	jf_compile_req_t req = req_ll(ir, '0');
	jf_artifact_t a;
	char err[1024];

	ck_assert_msg(jf_compile(&req, &a, NULL, err, sizeof(err)) == 0, "%s", err);
	jf_artifact_free(&a);
}
END_TEST

int
main(void)
{
	TCase *tc;
	const TTest *tests[] = {
		test_ll_o0_o2, test_bc_from_clang, test_deterministic, test_exported_symbols,
		test_alias_symbols, test_cross_target, test_target_resolve,
		test_triple_vendor, NULL
	};
	Suite *s = jft_suite("compile", 60, tests, &tc);

	tcase_add_loop_test(tc, test_reject, 0, (int)JF_ARRAY_LEN(rejects));
	return jft_suite_run(s) != 0;
}
