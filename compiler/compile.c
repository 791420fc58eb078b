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
#include <pthread.h>
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
#include "common/key.h"
#include "common/util.h"
#include "compiler/compile.h"
#include "compiler/target.h"

#define JF_MODULE_NAME "jitfarm-module"
#define JF_BUFFER_NAME "jitfarm-input"

/* --- initialisation -------------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static int
int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void
llvm_init_once(void)
{
	int prime[512];
	size_t i;

	/* LLVM sorts with qsort (array_pod_sort). The first qsort of 1 KiB
	 * or more makes glibc ask the kernel for the machine's memory size
	 * (sysinfo) and cache it in a static. Do that here, once, so that a
	 * worker forked from an initialised process never needs that system
	 * call inside its seccomp sandbox. */
	for (i = 0; i < JF_ARRAY_LEN(prime); i++)
		prime[i] = (int)(JF_ARRAY_LEN(prime) - i);
	qsort(prime, JF_ARRAY_LEN(prime), sizeof(prime[0]), int_cmp);

	/* every target LLVM was built with, so a request can name any of
	 * them; the cost is paid once per process (the zygote, before it
	 * forks) */
	LLVMInitializeAllTargetInfos();
	LLVMInitializeAllTargets();
	LLVMInitializeAllTargetMCs();
	LLVMInitializeAllAsmPrinters();
	LLVMInitializeAllAsmParsers();
}

int
jf_llvm_init(void)
{
	return pthread_once(&init_once, llvm_init_once) == 0 ? 0 : JF_ERR_SYSTEM;
}

/* --- keys ------------------------------------------------------------------ */

int
jf_compile_key(const jf_compile_req_t *req, jf_target_t *target, jf_key_t *key,
    char *err, size_t errlen)
{
	jf_keyspec_t spec;
	int r;

	memset(key, 0, sizeof(*key));
	if (req == NULL || (req->ir == NULL && req->program_id == NULL))
		return jf_seterr(err, errlen, JF_ERR_INVAL, "no IR and no program id");
	if (req->ns != NULL && strlen(req->ns) >= JF_NS_MAX)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "namespace too long");
	if ((r = jf_target_resolve(req->triple, req->cpu, req->features, req->opt,
	    target, err, errlen)) != 0)
		return r;
	memset(&spec, 0, sizeof(spec));
	spec.ns = req->ns ? req->ns : "";
	if (req->program_id != NULL)
		spec.program_id = *req->program_id;
	else
		jf_program_id_from_ir(req->ir, req->ir_len, &spec.program_id);
	spec.target = target;
	if ((r = jf_key_derive(&spec, key)) != 0)
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
		if ((m->symbols = calloc(req->nsymbols, sizeof(char *))) == NULL)
			return JF_ERR_NOMEM;
		for (i = 0; i < req->nsymbols; i++) {
			if ((m->symbols[i] = strdup(req->symbols[i])) == NULL)
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
			if (m->nsymbols == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				char **ns = realloc(m->symbols, ncap * sizeof(char *));

				if (ns == NULL)
					return JF_ERR_NOMEM;
				m->symbols = ns;
				cap = ncap;
			}
			name = LLVMGetValueName2(g, &n);
			if ((dup = strndup(name, n)) == NULL)
				return JF_ERR_NOMEM;
			m->symbols[m->nsymbols++] = dup;
		}
	}
	return 0;
}

static char *
default_producer(void)
{
	char host[256], *s;

	if (gethostname(host, sizeof(host)) != 0)
		jf_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if (asprintf(&s, "%s/%ld", host, (long)getpid()) < 0)
		return NULL;
	return s;
}

int
jf_compile(const jf_compile_req_t *req, jf_artifact_t *out,
    jf_compile_times_t *times, char *err, size_t errlen)
{
	jf_compile_times_t t;
	jf_target_t target;
	jf_key_t key, pid;
	diag_state_t diag;
	LLVMContextRef ctx = NULL;
	LLVMModuleRef mod = NULL;
	LLVMMemoryBufferRef buf = NULL, obj = NULL;
	LLVMTargetRef tgt = NULL;
	LLVMTargetMachineRef tm = NULL;
	LLVMTargetDataRef td = NULL;
	LLVMPassBuilderOptionsRef pbo = NULL;
	LLVMErrorRef lerr = NULL;
	char *msg = NULL, *tm_layout = NULL, *emsg = NULL;
	const char *mod_triple, *mod_layout;
	char pipeline[32];
	size_t max, n;
	uint64_t t0, t1;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&t, 0, sizeof(t));
	memset(&diag, 0, sizeof(diag));
	if (err && errlen)
		err[0] = '\0';
	t0 = jf_now_ns();
	if (req == NULL || req->ir == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_INVAL, "no IR given");
		goto out;
	}
	max = req->max_ir_bytes ? req->max_ir_bytes : JF_DEFAULT_MAX_IR;
	if (req->ir_len > max) {
		r = jf_seterr(err, errlen, JF_ERR_TOOBIG,
		    "input is %zu bytes, over the limit of %zu bytes", req->ir_len, max);
		goto out;
	}
	if (req->symbols == NULL && req->nsymbols != 0) {
		r = jf_seterr(err, errlen, JF_ERR_INVAL, "nsymbols without symbols");
		goto out;
	}
	if ((r = jf_compile_key(req, &target, &key, err, errlen)) != 0)
		goto out;
	if (req->program_id != NULL)
		pid = *req->program_id;
	else
		jf_program_id_from_ir(req->ir, req->ir_len, &pid);

	/* parse: LLVMParseIRInContext owns buf from here on, success or not */
	ctx = LLVMContextCreate();
	LLVMContextSetDiagnosticHandler(ctx, diag_handler, &diag);
	buf = LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)req->ir,
	    req->ir_len, JF_BUFFER_NAME);
	t1 = jf_now_ns();
	if (LLVMParseIRInContext(ctx, buf, &mod, &msg) != 0) {
		buf = NULL;
		r = jf_seterr(err, errlen, JF_ERR_PARSE, "IR does not parse: %s",
		    msg ? msg : diag.first[0] ? diag.first : "unknown error");
		goto out;
	}
	buf = NULL;
	LLVMDisposeMessage(msg);
	msg = NULL;
	LLVMSetModuleIdentifier(mod, JF_MODULE_NAME, strlen(JF_MODULE_NAME));
	LLVMSetSourceFileName(mod, JF_MODULE_NAME, strlen(JF_MODULE_NAME));
	t.parse_ns = jf_now_ns() - t1;

	/* verify */
	t1 = jf_now_ns();
	if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_VERIFY, "IR fails the verifier: %s",
		    msg ? msg : "");
		goto out;
	}
	LLVMDisposeMessage(msg);
	msg = NULL;
	t.verify_ns = jf_now_ns() - t1;

	/* the module against the request */
	if (LLVMGetTargetFromTriple(target.triple, &tgt, &msg) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_TARGET, "unknown target '%s': %s",
		    target.triple, msg ? msg : "");
		goto out;
	}
	tm = LLVMCreateTargetMachine(tgt, target.triple, target.cpu, target.features,
	    codegen_level(target.opt), LLVMRelocPIC, LLVMCodeModelDefault);
	if (tm == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_TARGET,
		    "cannot create a target machine for %s", target.triple);
		goto out;
	}
	td = LLVMCreateTargetDataLayout(tm);
	tm_layout = LLVMCopyStringRepOfTargetData(td);
	mod_triple = LLVMGetTarget(mod);
	if (mod_triple != NULL && mod_triple[0] != '\0' &&
	    !jf_triple_compatible(mod_triple, target.triple)) {
		r = jf_seterr(err, errlen, JF_ERR_TARGET,
		    "module triple '%s' contradicts the requested target '%s'",
		    mod_triple, target.triple);
		goto out;
	}
	mod_layout = LLVMGetDataLayoutStr(mod);
	if (mod_layout != NULL && mod_layout[0] != '\0' &&
	    strcmp(mod_layout, tm_layout) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_TARGET,
		    "module data layout '%s' contradicts the target's '%s'",
		    mod_layout, tm_layout);
		goto out;
	}
	LLVMSetTarget(mod, target.triple);
	LLVMSetDataLayout(mod, tm_layout);
	if (req->symbols != NULL && req->nsymbols > 0 &&
	    (r = internalise(mod, req, err, errlen)) != 0)
		goto out;

	/* optimise */
	snprintf(pipeline, sizeof(pipeline), "default<O%c>", target.opt);
	pbo = LLVMCreatePassBuilderOptions();
	t1 = jf_now_ns();
	if ((lerr = LLVMRunPasses(mod, pipeline, tm, pbo)) != NULL) {
		emsg = LLVMGetErrorMessage(lerr);
		lerr = NULL;
		r = jf_seterr(err, errlen, JF_ERR_COMPILE, "optimisation failed: %s", emsg);
		goto out;
	}
	t.opt_ns = jf_now_ns() - t1;
	if (diag.errors) {
		r = jf_seterr(err, errlen, JF_ERR_COMPILE, "optimisation failed: %s",
		    diag.first);
		goto out;
	}

	/* code generation */
	t1 = jf_now_ns();
	if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &msg, &obj) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_COMPILE, "code generation failed: %s",
		    msg ? msg : diag.first);
		goto out;
	}
	t.codegen_ns = jf_now_ns() - t1;
	if (diag.errors) {
		r = jf_seterr(err, errlen, JF_ERR_COMPILE, "code generation failed: %s",
		    diag.first);
		goto out;
	}

	/* the artifact: payload and a full manifest */
	n = LLVMGetBufferSize(obj);
	if (n == 0 || n > JF_BLOB_MAX_PAYLOAD) {
		r = jf_seterr(err, errlen, JF_ERR_COMPILE, "object of %zu bytes", n);
		goto out;
	}
	r = JF_ERR_NOMEM;
	if ((out->payload = malloc(n)) == NULL)
		goto out;
	memcpy(out->payload, LLVMGetBufferStart(obj), n);
	out->payload_len = n;
	out->m.key = key;
	out->m.program_id = pid;
	out->m.target = target;
	out->m.payload_size = n;
	jf_sha256(out->payload, n, out->m.payload_sha256);
	if ((out->m.ns = strdup(req->ns ? req->ns : "")) == NULL ||
	    (out->m.compiler = strdup(jf_compiler_id())) == NULL)
		goto out;
	out->m.producer = req->producer ? strdup(req->producer) : default_producer();
	if (out->m.producer == NULL)
		goto out;
	if ((r = collect_symbols(mod, req, &out->m)) != 0) {
		jf_seterr(err, errlen, r, "cannot record symbols: %s", jf_strerror(r));
		goto out;
	}
	t.total_ns = jf_now_ns() - t0;
	out->m.compile_ns = t.total_ns;
	out->m.created_ms = jf_wall_ms();
	r = 0;
out:
	if (r != 0) {
		jf_artifact_free(out);
		memset(out, 0, sizeof(*out));
		if (err && errlen && err[0] == '\0')
			jf_seterr(err, errlen, r, "%s", jf_strerror(r));
		t.total_ns = jf_now_ns() - t0;
	}
	if (times != NULL)
		*times = t;
	if (emsg != NULL)
		LLVMDisposeErrorMessage(emsg);
	if (lerr != NULL)
		LLVMConsumeError(lerr);
	LLVMDisposeMessage(msg);
	LLVMDisposeMessage(tm_layout);
	if (pbo != NULL)
		LLVMDisposePassBuilderOptions(pbo);
	if (obj != NULL)
		LLVMDisposeMemoryBuffer(obj);
	if (td != NULL)
		LLVMDisposeTargetData(td);
	if (tm != NULL)
		LLVMDisposeTargetMachine(tm);
	if (mod != NULL)
		LLVMDisposeModule(mod);
	if (buf != NULL)
		LLVMDisposeMemoryBuffer(buf);
	if (ctx != NULL)
		LLVMContextDispose(ctx);
	return r;
}
