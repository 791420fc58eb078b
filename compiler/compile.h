/*
 * compile.h - the compile engine: LLVM IR in, artifact out.
 *
 * jf_compile() runs in one process, with a fresh LLVMContext per job, and
 * never crashes on bad input it can detect: unparsable IR, IR that fails
 * the verifier, unknown CPUs or features, and a module whose triple or
 * data layout contradicts the request are all returned as errors with
 * LLVM's message. Input that makes LLVM itself crash or abort is the
 * sandbox's business (worker/sandbox.c, worker/pool.c), not this file's.
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

#define JF_DEFAULT_MAX_IR (64u << 20)   /* 64 MiB */

typedef struct jf_compile_req {
	const uint8_t *ir;              /* .ll text or .bc bitcode (detected) */
	size_t ir_len;
	const char *ns;                 /* namespace, NULL = "" */
	const jf_key_t *program_id;     /* NULL = SHA-256 of the IR */
	const char *triple;             /* NULL/"" = host */
	const char *cpu;                /* NULL/"" = portable baseline; "host" = this CPU */
	const char *features;           /* NULL = none; with cpu "host": host's */
	char opt;                       /* '0' '1' '2' '3' 's' 'z'; 0 = '2' */
	const char *const *symbols;     /* exported symbols to keep; NULL = all defined */
	size_t nsymbols;
	size_t max_ir_bytes;            /* 0 = JF_DEFAULT_MAX_IR */
	const char *producer;           /* recorded in the manifest; NULL = host/pid */
} jf_compile_req_t;

typedef struct jf_compile_times {
	uint64_t parse_ns, verify_ns, opt_ns, codegen_ns, total_ns;
} jf_compile_times_t;

/* One-time LLVM initialisation (targets, printers, parsers). Safe to call
 * more than once; the zygote calls it before forking workers. */
int jf_llvm_init(void);

/*
 * Resolve the request's target: fill in defaults (host triple, baseline
 * CPU), expand "host", canonicalise the features, and check that the CPU
 * and every feature exist for the target (LLVM itself only warns). Needs
 * no IR, so the master can derive the key and check the store first.
 * Returns 0, JF_ERR_TARGET or JF_ERR_INVAL, with a message in err.
 */
int jf_target_resolve(const char *triple, const char *cpu, const char *features,
    char opt, jf_target_t *out, char *err, size_t errlen);

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
