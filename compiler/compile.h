/*
 * compile.h - the compile engine: LLVM IR in, artifact out.
 *
 * It includes llvm_init.h and target.h, so a caller of the compiler needs
 * only this header; neither of those includes this one.
 *
 * jf_compile() runs in one process, with a fresh LLVMContext per job, and
 * never crashes on bad input it can detect: unparsable IR, IR that fails
 * the verifier, unknown CPUs or features, and a module whose triple or
 * data layout contradicts the request are all returned as errors with
 * LLVM's message. Input that makes LLVM itself crash or abort is the
 * sandbox's business (worker/sandbox.c, worker/child.c), not this file's.
 *
 * Output is deterministic: the module's source file name is fixed and
 * nothing time- or path-dependent reaches the object, so equal requests
 * give equal bytes, which is what makes the cache sound.
 */
#ifndef JF_COMPILE_H
#define JF_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/blob.h"
#include "common/key.h"
#include "compiler/llvm_init.h"
#include "compiler/target.h"

#define JF_DEFAULT_MAX_IR (64u << 20)   /* 64 MiB */

typedef struct jf_compile_req {
	jf_spec_t spec;                 /* what to compile for (common/key.h) */
	const uint8_t *ir;              /* .ll text or .bc bitcode (detected) */
	size_t ir_len;
	const char *const *symbols;     /* exported symbols to keep; NULL = all defined */
	size_t nsymbols;
	size_t max_ir_bytes;            /* 0 = JF_DEFAULT_MAX_IR */
	const char *producer;           /* recorded in the manifest; NULL = host/pid */
} jf_compile_req_t;

typedef struct jf_compile_times {
	uint64_t parse_ns, verify_ns, opt_ns, codegen_ns, total_ns;
} jf_compile_times_t;

/* Resolve the target and derive the artifact key for a request, without
 * compiling. *target receives the resolved target. */
int jf_compile_key(const jf_compile_req_t *req, jf_target_t *target, jf_key_t *key,
    char *err, size_t errlen);

/*
 * Compile. On success *out holds the manifest and the ELF relocatable
 * object (PIC) and the caller owns it (jf_artifact_free). On failure *out
 * is zeroed and err holds the reason: JF_ERR_PARSE (with LLVM's message
 * and line), JF_ERR_VERIFY, JF_ERR_TARGET, JF_ERR_TOOBIG, JF_ERR_COMPILE.
 * times may be NULL.
 */
int jf_compile(const jf_compile_req_t *req, jf_artifact_t *out,
    jf_compile_times_t *times, char *err, size_t errlen);

#endif
