/*
 * compile.c (bench) - what a compile costs, stage by stage, and what the
 * cache saves, measured in one run so the ratios hold on a noisy machine.
 *
 * 1. In-process: jf_compile() of a generated module of 300 small looping
 *    functions (array loops the vectoriser works on, and a reduction) at
 *    O0 and O2, with the median time of each stage: parse, verify,
 *    optimise, code generation.
 * 2. Whole process, same module as bitcode: `jitfarm compile` on a cold
 *    store (a miss: compile and store), `jitfarm compile` on a warm store
 *    (a hit: read and write the object), and `clang-19 -c` of the same
 *    .bc at the same level and CPU, as the baseline a build would pay.
 *
 *   make bench   (or: build/bench/compile [FUNCTIONS])
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
#include <llvm-c/IRReader.h>

#include "jitfarm/error.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "bench/bench_ir.h"

extern char **environ;

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static double
ms(uint64_t ns)
{
	return (double)ns / 1e6;
}


/* Text IR to bitcode, in memory. Returns 0 or -1. */
static int
to_bitcode(const char *ir, size_t len, const char *path)
{
	LLVMContextRef ctx = LLVMContextCreate();
	LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(ir, len, "gen");
	LLVMModuleRef mod = NULL;
	char *msg = NULL;
	int r = -1;

	if (LLVMParseIRInContext(ctx, buf, &mod, &msg) == 0)
		r = LLVMWriteBitcodeToFile(mod, path) == 0 ? 0 : -1;
	else
		fprintf(stderr, "bench: generated IR does not parse: %s\n", msg);
	LLVMDisposeMessage(msg);
	if (mod)
		LLVMDisposeModule(mod);
	LLVMContextDispose(ctx);
	return r;
}

/* Run argv with output to /dev/null; returns wall ns, or 0 on failure. */
static uint64_t
run_timed(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	uint64_t t0;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	t0 = jf_now_ns();
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return 0;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench: %s failed (status %d)\n", argv[0], st);
		return 0;
	}
	return jf_now_ns() - t0;
}

static int
bench_stages(const char *ir, size_t len, char opt, int reps)
{
	uint64_t parse[16], verify[16], optim[16], cg[16], total[16];
	jf_compile_req_t req;
	jf_compile_times_t t;
	jf_artifact_t a;
	char err[1024];
	size_t objlen = 0;
	int i;

	memset(&req, 0, sizeof(req));
	req.ir = (const uint8_t *)ir;
	req.ir_len = len;
	req.spec.opt = opt;
	req.producer = "bench";
	for (i = 0; i < reps; i++) {
		if (jf_compile(&req, &a, &t, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench: compile failed: %s\n", err);
			return -1;
		}
		objlen = a.payload_len;
		jf_artifact_free(&a);
		parse[i] = t.parse_ns;
		verify[i] = t.verify_ns;
		optim[i] = t.opt_ns;
		cg[i] = t.codegen_ns;
		total[i] = t.total_ns;
	}
	printf("  -O%c  parse %7.2f  verify %6.2f  optimise %8.2f  codegen %8.2f"
	    "  total %8.2f ms   (%zu-byte object, median of %d)\n", opt,
	    ms(median(parse, reps)), ms(median(verify, reps)), ms(median(optim, reps)),
	    ms(median(cg, reps)), ms(median(total, reps)), objlen, reps);
	return 0;
}

int
main(int argc, char **argv)
{
	int nfn = argc > 1 ? atoi(argv[1]) : 300;
	const char *bindir = getenv("JF_BIN");
	char jitfarm[4200], dir[] = "/tmp/jf-bench-XXXXXX", bc[4300], out[4300];
	char store[4400], cmd[9000];
	uint64_t cold[8], warm[16], clang[8], m_cold, m_warm, m_clang;
	size_t len;
	char *ir;
	int i, ncold = 3, nwarm = 10, nclang = 3;
	const char *opt = "-O2";

	if (nfn <= 0 || nfn > 100000) {
		fprintf(stderr, "usage: compile [FUNCTIONS]\n");
		return 2;
	}
	snprintf(jitfarm, sizeof(jitfarm), "%s/jitfarm", bindir ? bindir : "build/bin");
	if (jf_llvm_init() != 0 || mkdtemp(dir) == NULL)
		return 1;
	ir = bench_gen_ir(nfn, &len);
	printf("compile engine, in process: %d generated looping functions (%zu bytes of IR)\n",
	    nfn, len);
	if (bench_stages(ir, len, '0', 5) != 0 || bench_stages(ir, len, '2', 3) != 0)
		return 1;

	snprintf(bc, sizeof(bc), "%s/gen.bc", dir);
	snprintf(out, sizeof(out), "%s/gen.o", dir);
	if (to_bitcode(ir, len, bc) != 0)
		return 1;
	printf("\nwhole process, the same module as bitcode, %s, cpu x86-64-v2:\n", opt);
	for (i = 0; i < ncold; i++) {
		char *const av[] = { jitfarm, (char *)"compile", bc, (char *)"-o", out,
		    (char *)opt, (char *)"--store", store, NULL };

		/* a fresh store each time: a real miss (compile, then store) */
		snprintf(store, sizeof(store), "file://%s/cold%d", dir, i);
		if ((cold[i] = run_timed(av)) == 0)
			return 1;
	}
	for (i = 0; i < nwarm; i++) {
		char *const av[] = { jitfarm, (char *)"compile", bc, (char *)"-o", out,
		    (char *)opt, (char *)"--store", store, NULL };

		/* the last cold store holds the entry: every run is a hit */
		if ((warm[i] = run_timed(av)) == 0)
			return 1;
	}
	for (i = 0; i < nclang; i++) {
		char *const av[] = { (char *)"clang-19", (char *)"-c", (char *)opt,
		    (char *)"-march=x86-64-v2", bc, (char *)"-o", out, NULL };

		if ((clang[i] = run_timed(av)) == 0)
			return 1;
	}
	m_cold = median(cold, ncold);
	m_warm = median(warm, nwarm);
	m_clang = median(clang, nclang);
	printf("  clang-19 -c (baseline)         %9.2f ms  (median of %d)\n", ms(m_clang), nclang);
	printf("  jitfarm compile, cold (miss)   %9.2f ms  (median of %d)  %.2fx clang\n",
	    ms(m_cold), ncold, (double)m_cold / (double)m_clang);
	printf("  jitfarm compile, warm (hit)    %9.2f ms  (median of %d)  %.4fx clang,"
	    " %.1fx faster than clang, %.1fx faster than a miss\n",
	    ms(m_warm), nwarm, (double)m_warm / (double)m_clang,
	    (double)m_clang / (double)m_warm, (double)m_cold / (double)m_warm);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
	free(ir);
	return 0;
}
