/*
 * orchost.c - a small host that runs code jitfarm compiled, the way a JIT
 * host does: it loads the ELF object into LLVM's ORC LLJIT with
 * LLVMOrcLLJITAddObjectFile, looks the function up by name and calls it.
 *
 *   orchost FILE FUNCTION [INT...]
 *
 * FILE is an object (`jitfarm compile ... -o add.o`) or a whole artifact
 * blob (`jitfarm get KEY --blob -o add.blob`); a blob is decoded strictly
 * first (payload hash checked) and its manifest printed. FUNCTION is
 * called as int64_t f(int64_t...) with up to four integer arguments, and
 * the result is printed. Loading an object costs tens of microseconds,
 * against milliseconds to compile it: that is what the cache saves.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/util.h"

typedef int64_t (*fn0_t)(void);
typedef int64_t (*fn1_t)(int64_t);
typedef int64_t (*fn2_t)(int64_t, int64_t);
typedef int64_t (*fn3_t)(int64_t, int64_t, int64_t);
typedef int64_t (*fn4_t)(int64_t, int64_t, int64_t, int64_t);

/* Print an LLVM error, consuming it. */
static int
report(const char *what, LLVMErrorRef e)
{
	char *msg = LLVMGetErrorMessage(e);

	fprintf(stderr, "orchost: %s: %s\n", what, msg);
	LLVMDisposeErrorMessage(msg);
	return 1;
}

int
main(int argc, char **argv)
{
	LLVMOrcLLJITRef jit = NULL;
	LLVMOrcExecutorAddress addr = 0;
	LLVMMemoryBufferRef mb;
	LLVMErrorRef e;
	jf_artifact_t art;
	const uint8_t *obj;
	uint8_t *file = NULL;
	size_t len, objlen, i;
	int64_t args[4], res = 0;
	int nargs, rc = 1;
	uint64_t t0, t1, t2;
	char err[512];

	memset(&art, 0, sizeof(art));
	if (argc < 3 || argc > 7) {
		fprintf(stderr, "usage: orchost FILE FUNCTION [INT...] (up to 4)\n");
		return 2;
	}
	nargs = argc - 3;
	for (i = 0; i < (size_t)nargs; i++)
		args[i] = strtoll(argv[3 + i], NULL, 0);
	if (jf_file_read(argv[1], JF_BLOB_MAX_PAYLOAD, &file, &len) != 0) {
		fprintf(stderr, "orchost: cannot read %s\n", argv[1]);
		return 1;
	}
	obj = file;
	objlen = len;
	if (len >= 4 && memcmp(file, JF_BLOB_MAGIC, 4) == 0) {
		char hex[JF_KEY_HEX_LEN + 1];

		if (jf_blob_decode(file, len, NULL, &art, err, sizeof(err)) != 0) {
			fprintf(stderr, "orchost: %s: %s\n", argv[1], err);
			goto out;
		}
		jf_key_hex(&art.m.key, hex);
		printf("artifact %s: %s cpu=%s -O%c, %zu-byte object, by %s\n", hex,
		    art.m.target.triple, art.m.target.cpu, art.m.target.opt,
		    art.payload_len, art.m.compiler);
		obj = art.payload;
		objlen = art.payload_len;
	}

	LLVMInitializeNativeTarget();
	LLVMInitializeNativeAsmPrinter();
	t0 = jf_now_ns();
	if ((e = LLVMOrcCreateLLJIT(&jit, NULL)) != NULL) {
		report("cannot create the JIT", e);
		jit = NULL;
		goto out;
	}
	t1 = jf_now_ns();
	/* the JIT owns mb from here, whatever the outcome */
	mb = LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)obj, objlen, argv[1]);
	if ((e = LLVMOrcLLJITAddObjectFile(jit, LLVMOrcLLJITGetMainJITDylib(jit), mb)) != NULL) {
		report("cannot add the object", e);
		goto out;
	}
	if ((e = LLVMOrcLLJITLookup(jit, &addr, argv[2])) != NULL) {
		report("lookup failed", e);
		goto out;
	}
	t2 = jf_now_ns();
	switch (nargs) {
	case 0: res = ((fn0_t)(uintptr_t)addr)(); break;
	case 1: res = ((fn1_t)(uintptr_t)addr)(args[0]); break;
	case 2: res = ((fn2_t)(uintptr_t)addr)(args[0], args[1]); break;
	case 3: res = ((fn3_t)(uintptr_t)addr)(args[0], args[1], args[2]); break;
	default: res = ((fn4_t)(uintptr_t)addr)(args[0], args[1], args[2], args[3]); break;
	}
	printf("%s(", argv[2]);
	for (i = 0; i < (size_t)nargs; i++)
		printf("%s%" PRId64, i ? ", " : "", args[i]);
	printf(") = %" PRId64 "\n", res);
	printf("(LLJIT created in %.2f ms; object loaded and linked in %.3f ms)\n",
	    (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6);
	rc = 0;
out:
	if (jit != NULL && (e = LLVMOrcDisposeLLJIT(jit)) != NULL)
		rc = report("cannot dispose of the JIT", e);
	jf_artifact_free(&art);
	free(file);
	return rc;
}
