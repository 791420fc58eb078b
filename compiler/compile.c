/*
 * compile.c - the compile engine: IR bytes in, manifest plus ELF
 * relocatable object out (compile.h).
 *
 * One job is one fresh LLVMContext and five stages, each timed: parse
 * (.ll or .bc, LLVM tells them apart), verify, check the module against
 * the request (triple, data layout, exported symbols), optimise with the
 * new pass manager ("default<O2>" and friends, given the target machine
 * for its cost models) and emit a PIC object to memory. Every LLVM
 * message and error is captured into err and disposed; a diagnostic
 * handler on the context keeps LLVM from printing (or exiting, which its
 * default handler does on an error diagnostic).
 *
 * Determinism: the module's name and source file name are set to fixed
 * strings before anything else, so the bytes depend only on the IR and
 * the resolved target, never on a path, a time or a buffer name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Comdat.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/IRReader.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/buf.h"
#include "common/mem.h"
#include "common/key.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "compiler/llvm_init.h"
#include "compiler/target.h"

#define JF_MODULE_NAME "jitfarm-module"
#define JF_BUFFER_NAME "jitfarm-input"

/* --- keys ------------------------------------------------------------------ */

/* The program id a request stands for: the one it names, or the SHA-256
 * of its IR. */
static void
request_program_id(const jf_compile_req_t *req, jf_key_t *out)
{
	if (req->spec.has_program)
		*out = req->spec.program_id;
	else
		jf_program_id_from_ir(req->ir, req->ir_len, out);
}

int
jf_compile_key(const jf_compile_req_t *req, jf_target_t *target, jf_key_t *key,
    char *err, size_t errlen)
{
	const jf_spec_t *s;
	jf_keyspec_t ks;
	int r;

	memset(key, 0, sizeof(*key));
	if (req == NULL || (req->ir == NULL && !req->spec.has_program))
		return jf_seterr(err, errlen, JF_ERR_INVAL, "no IR and no program id");
	s = &req->spec;
	if (memchr(s->ns, '\0', sizeof(s->ns)) == NULL)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "namespace too long");
	if ((r = jf_target_resolve(s->triple, s->cpu, s->features, s->opt,
	    target, err, errlen)) != 0)
		return r;
	memset(&ks, 0, sizeof(ks));
	ks.ns = s->ns;
	request_program_id(req, &ks.program_id);
	ks.target = target;
	if ((r = jf_key_derive(&ks, key)) != 0)
		return jf_seterr(err, errlen, r, "cannot derive key: %s", jf_strerror(r));
	return 0;
}

/* --- the compile ----------------------------------------------------------- */

/* What the context's diagnostic handler collected. */
typedef struct diag_state {
	int errors;
	char first[1024];
} diag_state_t;

static void
diag_handler(LLVMDiagnosticInfoRef di, void *arg)
{
	diag_state_t *d = arg;
	char *msg;

	if (LLVMGetDiagInfoSeverity(di) != LLVMDSError)
		return;         /* warnings, remarks and notes are dropped */
	if (d->errors++ > 0)
		return;
	if ((msg = LLVMGetDiagInfoDescription(di)) != NULL) {
		jf_strlcpy(d->first, msg, sizeof(d->first));
		LLVMDisposeMessage(msg);
	}
}

static LLVMCodeGenOptLevel
codegen_level(char opt)
{
	switch (opt) {
	case '0': return LLVMCodeGenLevelNone;
	case '1': return LLVMCodeGenLevelLess;
	case '3': return LLVMCodeGenLevelAggressive;
	default: return LLVMCodeGenLevelDefault;        /* 2, s, z */
	}
}

/* Is this global something the object defines for others to link to? */
static int
is_defined_external(LLVMValueRef g)
{
	size_t n;
	const char *name;

	if (LLVMIsDeclaration(g))
		return 0;
	switch (LLVMGetLinkage(g)) {
	case LLVMInternalLinkage:
	case LLVMPrivateLinkage:
	case LLVMAvailableExternallyLinkage:
	case LLVMAppendingLinkage:
		return 0;
	default:
		break;
	}
	name = LLVMGetValueName2(g, &n);
	/* unnamed values and LLVM's own globals (llvm.used, ctors) are not
	 * symbols a host looks up */
	return n > 0 && strncmp(name, "llvm.", 5) != 0;
}

/* Walk every named value that can be a symbol: functions, global
 * variables, then aliases. kind 0..2 with first/next. */
static LLVMValueRef
value_first(LLVMModuleRef mod, int kind)
{
	return kind == 0 ? LLVMGetFirstFunction(mod) :
	    kind == 1 ? LLVMGetFirstGlobal(mod) : LLVMGetFirstGlobalAlias(mod);
}

static LLVMValueRef
value_next(LLVMValueRef g, int kind)
{
	return kind == 0 ? LLVMGetNextFunction(g) :
	    kind == 1 ? LLVMGetNextGlobal(g) : LLVMGetNextGlobalAlias(g);
}

static int
requested(const jf_compile_req_t *req, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < req->nsymbols; i++)
		if (req->symbols[i] != NULL && strlen(req->symbols[i]) == n &&
		    memcmp(req->symbols[i], name, n) == 0)
			return 1;
	return 0;
}

/* Keep the requested symbols external and make every other definition
 * internal, so the optimiser may inline and drop it. Fails when a
 * requested symbol is not defined in the module. */
static int
internalise(LLVMModuleRef mod, const jf_compile_req_t *req, char *err, size_t errlen)
{
	LLVMValueRef g;
	size_t i, n;

	for (i = 0; i < req->nsymbols; i++) {
		const char *s = req->symbols[i];

		if (s == NULL || s[0] == '\0')
			return jf_seterr(err, errlen, JF_ERR_INVAL, "empty exported symbol name");
		g = LLVMGetNamedFunction(mod, s);
		if (g == NULL)
			g = LLVMGetNamedGlobal(mod, s);
		if (g == NULL)
			g = LLVMGetNamedGlobalAlias(mod, s, strlen(s));
		if (g == NULL || !is_defined_external(g))
			return jf_seterr(err, errlen, JF_ERR_INVAL,
			    "exported symbol '%s' is not defined in the module", s);
	}
	for (int kind = 0; kind < 3; kind++) {
		for (g = value_first(mod, kind); g != NULL; g = value_next(g, kind)) {
			const char *name = LLVMGetValueName2(g, &n);

			if (!is_defined_external(g) || requested(req, name, n))
				continue;
			if (kind < 2)
				LLVMSetComdat(g, NULL);
			LLVMSetLinkage(g, LLVMInternalLinkage);
			LLVMSetVisibility(g, LLVMDefaultVisibility);
			LLVMSetDLLStorageClass(g, LLVMDefaultStorageClass);
		}
	}
	return 0;
}

/* Record the exported symbols in the manifest: the requested ones, or
 * every defined external function, global and alias left after
 * optimisation. */
static int
collect_symbols(LLVMModuleRef mod, const jf_compile_req_t *req, jf_manifest_t *m)
{
	size_t cap = 0, n, i;
	LLVMValueRef g;
	int kind;

	if (req->symbols != NULL && req->nsymbols > 0) {
		if ((m->symbols = jf_calloc(req->nsymbols, sizeof(char *))) == NULL)
			return JF_ERR_NOMEM;
		for (i = 0; i < req->nsymbols; i++) {
			if ((m->symbols[i] = jf_strdup(req->symbols[i])) == NULL)
				return JF_ERR_NOMEM;
			m->nsymbols++;
		}
		return 0;
	}
	for (kind = 0; kind < 3; kind++) {
		for (g = value_first(mod, kind); g != NULL; g = value_next(g, kind)) {
			const char *name;
			char *dup;

			if (!is_defined_external(g))
				continue;
			if (m->nsymbols >= JF_BLOB_MAX_SYMBOLS)
				return JF_ERR_TOOBIG;
			if (jf_vec_grow((void **)&m->symbols, &cap, m->nsymbols + 1,
			    sizeof(*m->symbols)) != 0)
				return JF_ERR_NOMEM;
			name = LLVMGetValueName2(g, &n);
			if ((dup = jf_strndup(name, n)) == NULL)
				return JF_ERR_NOMEM;
			m->symbols[m->nsymbols++] = dup;
		}
	}
	return 0;
}

/* "host/pid", the producer a manifest names when the request names none.
 * Allocated like every manifest string (blob.c frees them). */
static char *
default_producer(void)
{
	char host[256], s[300];

	if (gethostname(host, sizeof(host)) != 0)
		jf_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(s, sizeof(s), "%s/%ld", host, (long)getpid());
	return jf_strdup(s);
}

/* --- the stages -------------------------------------------------------------
 *
 * One job's state, shared by the stages. Each stage returns 0 or a jf_err
 * with err filled, records its own time in t, and leaves what it made in
 * the job for job_dispose to free, success or not.
 */
typedef struct job {
	const jf_compile_req_t *req;
	jf_target_t target;
	jf_key_t key, program_id;
	diag_state_t diag;
	LLVMContextRef ctx;
	LLVMModuleRef mod;
	LLVMTargetMachineRef tm;
	LLVMMemoryBufferRef obj;
	jf_compile_times_t t;
	char *err;
	size_t errlen;
} job_t;

/* The request's limits, then its target and key: nothing of LLVM's runs
 * on a request that fails here. */
static int
stage_check(job_t *j)
{
	const jf_compile_req_t *req = j->req;
	size_t max;

	if (req == NULL || req->ir == NULL)
		return jf_seterr(j->err, j->errlen, JF_ERR_INVAL, "no IR given");
	max = req->max_ir_bytes ? req->max_ir_bytes : JF_DEFAULT_MAX_IR;
	if (req->ir_len > max)
		return jf_seterr(j->err, j->errlen, JF_ERR_TOOBIG,
		    "input is %zu bytes, over the limit of %zu bytes", req->ir_len, max);
	if (req->symbols == NULL && req->nsymbols != 0)
		return jf_seterr(j->err, j->errlen, JF_ERR_INVAL, "nsymbols without symbols");
	request_program_id(req, &j->program_id);
	return jf_compile_key(req, &j->target, &j->key, j->err, j->errlen);
}

/* .ll or .bc into a module of a fresh context, with fixed names. */
static int
stage_parse(job_t *j)
{
	LLVMMemoryBufferRef buf;
	char *msg = NULL;
	uint64_t t0;
	int r = 0;

	j->ctx = LLVMContextCreate();
	LLVMContextSetDiagnosticHandler(j->ctx, diag_handler, &j->diag);
	buf = LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)j->req->ir,
	    j->req->ir_len, JF_BUFFER_NAME);
	t0 = jf_now_ns();
	/* LLVMParseIRInContext owns buf from here on, success or not */
	if (LLVMParseIRInContext(j->ctx, buf, &j->mod, &msg) != 0) {
		j->mod = NULL;
		r = jf_seterr(j->err, j->errlen, JF_ERR_PARSE, "IR does not parse: %s",
		    msg ? msg : j->diag.first[0] ? j->diag.first : "unknown error");
	} else {
		LLVMSetModuleIdentifier(j->mod, JF_MODULE_NAME, strlen(JF_MODULE_NAME));
		LLVMSetSourceFileName(j->mod, JF_MODULE_NAME, strlen(JF_MODULE_NAME));
		j->t.parse_ns = jf_now_ns() - t0;
	}
	LLVMDisposeMessage(msg);
	return r;
}

static int
stage_verify(job_t *j)
{
	char *msg = NULL;
	uint64_t t0 = jf_now_ns();
	int r = 0;

	if (LLVMVerifyModule(j->mod, LLVMReturnStatusAction, &msg) != 0)
		r = jf_seterr(j->err, j->errlen, JF_ERR_VERIFY, "IR fails the verifier: %s",
		    msg ? msg : "");
	else
		j->t.verify_ns = jf_now_ns() - t0;
	LLVMDisposeMessage(msg);
	return r;
}

/* The target machine for the resolved target, and the module held
 * against it: a triple or a data layout that contradicts the request is
 * an error, not something to paper over. Then the module takes the
 * target's triple and layout, and the exported symbols are kept. */
static int
stage_target(job_t *j)
{
	const char *mod_triple, *mod_layout;
	LLVMTargetDataRef td;
	LLVMTargetRef tgt = NULL;
	char *msg = NULL, *layout = NULL;
	int r = JF_ERR_TARGET;

	if (LLVMGetTargetFromTriple(j->target.triple, &tgt, &msg) != 0) {
		jf_seterr(j->err, j->errlen, r, "unknown target '%s': %s",
		    j->target.triple, msg ? msg : "");
		goto out;
	}
	j->tm = LLVMCreateTargetMachine(tgt, j->target.triple, j->target.cpu,
	    j->target.features, codegen_level(j->target.opt), LLVMRelocPIC,
	    LLVMCodeModelDefault);
	if (j->tm == NULL) {
		jf_seterr(j->err, j->errlen, r, "cannot create a target machine for %s",
		    j->target.triple);
		goto out;
	}
	td = LLVMCreateTargetDataLayout(j->tm);
	layout = LLVMCopyStringRepOfTargetData(td);
	LLVMDisposeTargetData(td);
	mod_triple = LLVMGetTarget(j->mod);
	if (mod_triple != NULL && mod_triple[0] != '\0' &&
	    !jf_target_triple_compatible(mod_triple, j->target.triple)) {
		jf_seterr(j->err, j->errlen, r,
		    "module triple '%s' contradicts the requested target '%s'",
		    mod_triple, j->target.triple);
		goto out;
	}
	mod_layout = LLVMGetDataLayoutStr(j->mod);
	if (mod_layout != NULL && mod_layout[0] != '\0' && strcmp(mod_layout, layout) != 0) {
		jf_seterr(j->err, j->errlen, r,
		    "module data layout '%s' contradicts the target's '%s'", mod_layout, layout);
		goto out;
	}
	LLVMSetTarget(j->mod, j->target.triple);
	LLVMSetDataLayout(j->mod, layout);
	r = 0;
	if (j->req->symbols != NULL && j->req->nsymbols > 0)
		r = internalise(j->mod, j->req, j->err, j->errlen);
out:
	LLVMDisposeMessage(msg);
	LLVMDisposeMessage(layout);
	return r;
}

/* The new pass manager's default<On> pipeline, given the target machine
 * for its cost models. */
static int
stage_optimise(job_t *j)
{
	LLVMPassBuilderOptionsRef pbo = LLVMCreatePassBuilderOptions();
	LLVMErrorRef lerr;
	char pipeline[32];
	uint64_t t0;
	int r = 0;

	snprintf(pipeline, sizeof(pipeline), "default<O%c>", j->target.opt);
	t0 = jf_now_ns();
	if ((lerr = LLVMRunPasses(j->mod, pipeline, j->tm, pbo)) != NULL) {
		char *emsg = LLVMGetErrorMessage(lerr);         /* consumes lerr */

		r = jf_seterr(j->err, j->errlen, JF_ERR_COMPILE, "optimisation failed: %s", emsg);
		LLVMDisposeErrorMessage(emsg);
	} else if (j->diag.errors) {
		r = jf_seterr(j->err, j->errlen, JF_ERR_COMPILE, "optimisation failed: %s",
		    j->diag.first);
	}
	j->t.opt_ns = jf_now_ns() - t0;
	LLVMDisposePassBuilderOptions(pbo);
	return r;
}

/* Code generation: a PIC relocatable object in memory. */
static int
stage_emit(job_t *j)
{
	char *msg = NULL;
	uint64_t t0 = jf_now_ns();
	int r = 0;

	if (LLVMTargetMachineEmitToMemoryBuffer(j->tm, j->mod, LLVMObjectFile, &msg,
	    &j->obj) != 0) {
		j->obj = NULL;
		r = jf_seterr(j->err, j->errlen, JF_ERR_COMPILE, "code generation failed: %s",
		    msg ? msg : j->diag.first);
	} else if (j->diag.errors) {
		r = jf_seterr(j->err, j->errlen, JF_ERR_COMPILE, "code generation failed: %s",
		    j->diag.first);
	}
	j->t.codegen_ns = jf_now_ns() - t0;
	LLVMDisposeMessage(msg);
	return r;
}

/* The artifact: the object as payload, and a full manifest. On failure
 * the caller frees what was filled in. */
static int
artifact_fill(job_t *j, jf_artifact_t *out)
{
	const jf_compile_req_t *req = j->req;
	size_t n = LLVMGetBufferSize(j->obj);
	int r;

	if (n == 0 || n > JF_BLOB_MAX_PAYLOAD)
		return jf_seterr(j->err, j->errlen, JF_ERR_COMPILE, "object of %zu bytes", n);
	if ((out->payload = jf_malloc(n)) == NULL)
		return JF_ERR_NOMEM;
	memcpy(out->payload, LLVMGetBufferStart(j->obj), n);
	out->payload_len = n;
	out->m.key = j->key;
	out->m.program_id = j->program_id;
	out->m.target = j->target;
	out->m.payload_size = n;
	jf_sha256(out->payload, n, out->m.payload_sha256);
	if ((out->m.ns = jf_strdup(req->spec.ns)) == NULL ||
	    (out->m.compiler = jf_strdup(jf_compiler_id())) == NULL)
		return JF_ERR_NOMEM;
	out->m.producer = req->producer ? jf_strdup(req->producer) : default_producer();
	if (out->m.producer == NULL)
		return JF_ERR_NOMEM;
	if ((r = collect_symbols(j->mod, req, &out->m)) != 0)
		return jf_seterr(j->err, j->errlen, r, "cannot record symbols: %s",
		    jf_strerror(r));
	return 0;
}

static void
job_dispose(job_t *j)
{
	if (j->obj != NULL)
		LLVMDisposeMemoryBuffer(j->obj);
	if (j->tm != NULL)
		LLVMDisposeTargetMachine(j->tm);
	if (j->mod != NULL)
		LLVMDisposeModule(j->mod);
	if (j->ctx != NULL)
		LLVMContextDispose(j->ctx);
}

int
jf_compile(const jf_compile_req_t *req, jf_artifact_t *out,
    jf_compile_times_t *times, char *err, size_t errlen)
{
	job_t j;
	uint64_t t0 = jf_now_ns();
	int r;

	memset(out, 0, sizeof(*out));
	memset(&j, 0, sizeof(j));
	j.req = req;
	j.err = err;
	j.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if ((r = stage_check(&j)) == 0 && (r = stage_parse(&j)) == 0 &&
	    (r = stage_verify(&j)) == 0 && (r = stage_target(&j)) == 0 &&
	    (r = stage_optimise(&j)) == 0 && (r = stage_emit(&j)) == 0)
		r = artifact_fill(&j, out);
	j.t.total_ns = jf_now_ns() - t0;
	if (r == 0) {
		out->m.compile_ns = j.t.total_ns;
		out->m.created_ms = jf_wall_ms();
	} else {
		jf_artifact_free(out);
		memset(out, 0, sizeof(*out));
		if (err && errlen && err[0] == '\0')
			jf_seterr(err, errlen, r, "%s", jf_strerror(r));
	}
	if (times != NULL)
		*times = j.t;
	job_dispose(&j);
	return r;
}
