/*
 * target.c - resolving a compile target: from what a request says
 * (perhaps nothing, perhaps "host") to a jf_target_t that two parties can
 * hash to the same key.
 *
 * The idea: every default is filled in here and only here, before the key
 * is derived, so the key names exactly what the object is built for. The
 * triple defaults to LLVM's default (host) triple, normalised; the CPU to
 * a portable baseline (x86-64-v2 on x86_64, "generic" elsewhere) because
 * code built for this machine's CPU can crash an older node; "host" is
 * expanded into this CPU's name and its sorted feature list. CPU names and
 * features are checked against the target's tables (llvm_shim.cpp),
 * since LLVM itself only warns about unknown ones and then ignores them.
 */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "jitfarm/error.h"
#include "common/key.h"
#include "common/mem.h"
#include "common/util.h"
#include "compiler/llvm_init.h"
#include "compiler/llvm_shim.h"
#include "compiler/target.h"

/* Copy the arch (first component) of a triple into buf. */
static void
triple_arch(const char *triple, char *buf, size_t len)
{
	size_t n = strcspn(triple, "-");

	if (n >= len)
		n = len - 1;
	memcpy(buf, triple, n);
	buf[n] = '\0';
}

int
jf_target_triple_normalize(const char *in, char *out, size_t outlen)
{
	char *norm = LLVMNormalizeTargetTriple(in);
	int r = 0;

	if (norm == NULL)
		return JF_ERR_NOMEM;
	if (jf_strlcpy(out, norm, outlen) >= outlen)
		r = JF_ERR_TOOBIG;
	LLVMDisposeMessage(norm);
	return r;
}

/* Split a normalised triple into up to 4 components. */
static int
triple_split(const char *triple, char parts[4][JF_TRIPLE_MAX])
{
	const char *p = triple;
	int n = 0;

	memset(parts, 0, 4 * JF_TRIPLE_MAX);
	while (n < 4) {
		size_t l = strcspn(p, "-");

		if (l >= JF_TRIPLE_MAX)
			return -1;
		memcpy(parts[n++], p, l);
		if (p[l] == '\0')
			break;
		p += l + 1;
	}
	return n;
}

int
jf_target_triple_compatible(const char *module_triple, const char *want)
{
	char a[JF_TRIPLE_MAX], b[JF_TRIPLE_MAX];
	char pa[4][JF_TRIPLE_MAX], pb[4][JF_TRIPLE_MAX];
	int i;

	if (jf_target_triple_normalize(module_triple, a, sizeof(a)) != 0 ||
	    jf_target_triple_normalize(want, b, sizeof(b)) != 0)
		return 0;
	if (strcmp(a, b) == 0)
		return 1;
	if (triple_split(a, pa) < 0 || triple_split(b, pb) < 0)
		return 0;
	/* the vendor carries no meaning for code generation on the targets
	 * we serve: x86_64-pc-linux-gnu and x86_64-unknown-linux-gnu are the
	 * same target; every other component must match */
	for (i = 0; i < 4; i++) {
		if (i == 1 && (strcmp(pa[1], "unknown") == 0 ||
		    strcmp(pb[1], "unknown") == 0 || strcmp(pa[1], pb[1]) == 0))
			continue;
		if (strcmp(pa[i], pb[i]) != 0)
			return 0;
	}
	return 1;
}

/* Features of this CPU, known to the target, as a canonical list. */
static int
host_features(const char *triple, char *out, size_t outlen, char *err, size_t errlen)
{
	char *raw = LLVMGetHostCPUFeatures();
	char *known = NULL;
	int r;

	if (raw == NULL)
		return JF_ERR_NOMEM;
	if ((known = jf_malloc(JF_FEATURES_MAX * 2)) == NULL) {
		r = JF_ERR_NOMEM;
		goto out;
	}
	/* LLVM's host list can name features this target's tables lack;
	 * LLVM would only warn and ignore them, so leave them out */
	if (jf_llvm_features_filter(triple, raw, known, JF_FEATURES_MAX * 2, NULL, 0) < 0) {
		r = jf_seterr(err, errlen, JF_ERR_TARGET,
		    "host CPU features do not fit for target %s", triple);
		goto out;
	}
	if ((r = jf_features_canon(known, out, outlen)) != 0)
		jf_seterr(err, errlen, JF_ERR_TARGET, "host CPU features: %s",
		    jf_strerror(r));
out:
	jf_free(known);
	LLVMDisposeMessage(raw);
	return r == 0 ? 0 : JF_ERR_TARGET;
}

/* The triple: the request's, or LLVM's default (host) triple for
 * NULL, "" and "host"; normalised, and known to LLVM. */
static int
triple_resolve(const char *triple, const char *deftriple, jf_target_t *out, char *err,
    size_t errlen)
{
	LLVMTargetRef tgt = NULL;
	char *lerr = NULL;
	int r = 0;

	if (triple == NULL || triple[0] == '\0' || strcmp(triple, "host") == 0)
		triple = deftriple;
	if (strlen(triple) >= JF_TRIPLE_MAX)
		return jf_seterr(err, errlen, JF_ERR_TARGET, "target triple too long");
	if (jf_target_triple_normalize(triple, out->triple, sizeof(out->triple)) != 0)
		return jf_seterr(err, errlen, JF_ERR_TARGET, "bad target triple '%s'", triple);
	if (LLVMGetTargetFromTriple(out->triple, &tgt, &lerr) != 0)
		r = jf_seterr(err, errlen, JF_ERR_TARGET, "unknown target '%s': %s",
		    out->triple, lerr ? lerr : "no such target");
	LLVMDisposeMessage(lerr);
	return r;
}

/* The CPU: the request's, the portable baseline for none, or this CPU
 * for "host" (then its features go into host_feat, JF_FEATURES_MAX
 * bytes); checked against the target's table. */
static int
cpu_resolve(const char *cpu, const char *deftriple, jf_target_t *out, char *host_feat,
    char *err, size_t errlen)
{
	char arch[32], host_arch[32];
	char *hostcpu = NULL;
	int r = 0;

	triple_arch(out->triple, arch, sizeof(arch));
	if (cpu != NULL && strcmp(cpu, "host") == 0) {
		triple_arch(deftriple, host_arch, sizeof(host_arch));
		if (strcmp(arch, host_arch) != 0)
			return jf_seterr(err, errlen, JF_ERR_TARGET,
			    "cpu 'host' needs the host's architecture (%s), not %s",
			    host_arch, arch);
		if ((hostcpu = LLVMGetHostCPUName()) == NULL)
			return JF_ERR_NOMEM;
		cpu = hostcpu;
		if ((r = host_features(out->triple, host_feat, JF_FEATURES_MAX, err,
		    errlen)) != 0)
			goto out;
	} else if (cpu == NULL || cpu[0] == '\0') {
		cpu = strcmp(arch, "x86_64") == 0 ? "x86-64-v2" : "generic";
	}
	if (strlen(cpu) >= JF_CPU_MAX)
		r = jf_seterr(err, errlen, JF_ERR_TARGET, "cpu name too long");
	else if (jf_llvm_cpu_valid(out->triple, cpu) != 1)
		r = jf_seterr(err, errlen, JF_ERR_TARGET, "unknown cpu '%s' for target %s",
		    cpu, out->triple);
	else
		jf_strlcpy(out->cpu, cpu, sizeof(out->cpu));
out:
	LLVMDisposeMessage(hostcpu);
	return r;
}

/* The features: the host's (if any, already in merged) first, then the
 * request's, so that the request's mention of a name wins in
 * canonicalisation; every one must exist for the target. merged holds
 * JF_FEATURES_MAX * 2 bytes, canon JF_FEATURES_MAX. */
static int
features_resolve(const char *features, char *merged, char *canon, jf_target_t *out,
    char *err, size_t errlen)
{
	char bad[128];
	size_t used = strlen(merged);
	int n;

	if (features != NULL && features[0] != '\0') {
		if (used + strlen(features) + 2 > JF_FEATURES_MAX * 2)
			return jf_seterr(err, errlen, JF_ERR_INVAL, "feature list too long");
		if (used)
			merged[used++] = ',';
		strcpy(merged + used, features);
	}
	if (jf_features_canon(merged, canon, JF_FEATURES_MAX) != 0)
		return jf_seterr(err, errlen, JF_ERR_INVAL,
		    "bad feature list '%s' (want +name or -name, comma-separated)",
		    features ? features : "");
	n = jf_llvm_features_filter(out->triple, canon, merged, JF_FEATURES_MAX * 2,
	    bad, sizeof(bad));
	if (n < 0)
		return jf_seterr(err, errlen, JF_ERR_TARGET,
		    "cannot check features for target %s", out->triple);
	if (n > 0)
		return jf_seterr(err, errlen, JF_ERR_TARGET,
		    "unknown cpu feature '%s' for target %s", bad, out->triple);
	jf_strlcpy(out->features, canon, sizeof(out->features));
	return 0;
}

int
jf_target_resolve(const char *triple, const char *cpu, const char *features,
    char opt, jf_target_t *out, char *err, size_t errlen)
{
	char *deftriple = NULL, *merged = NULL, *canon = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (jf_llvm_init() != 0)
		return jf_seterr(err, errlen, JF_ERR_TARGET, "LLVM initialisation failed");
	if (opt == 0)
		opt = '2';
	if (!jf_opt_valid(opt))
		return jf_seterr(err, errlen, JF_ERR_INVAL,
		    "bad opt level '%c' (want 0 1 2 3 s z)", opt);
	out->opt = opt;
	r = JF_ERR_NOMEM;
	if ((deftriple = LLVMGetDefaultTargetTriple()) == NULL ||
	    (merged = jf_calloc(1, JF_FEATURES_MAX * 2)) == NULL ||
	    (canon = jf_calloc(1, JF_FEATURES_MAX)) == NULL)
		goto out;
	if ((r = triple_resolve(triple, deftriple, out, err, errlen)) == 0 &&
	    (r = cpu_resolve(cpu, deftriple, out, merged, err, errlen)) == 0)
		r = features_resolve(features, merged, canon, out, err, errlen);
out:
	if (r != 0)
		memset(out, 0, sizeof(*out));
	jf_free(merged);
	jf_free(canon);
	LLVMDisposeMessage(deftriple);
	return r;
}
