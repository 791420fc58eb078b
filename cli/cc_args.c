/*
 * cc_args.c - reading a C compile line for `jitfarm cc`.
 *
 * The cache can stand in for a compile when it is one C source to one
 * object (and its depfile) and everything that can change the object is
 * in the key: clang then writes the object on the miss, from the same
 * command line, and a hit returns those bytes. It cannot for linking,
 * for other outputs (-E, -S, -M, -emit-llvm, split DWARF, time traces),
 * for options that read files the key does not cover (profiles,
 * sanitizer ignore lists, plugins, modules), for the machine's own CPU,
 * or for more than one source. Those go to the real compiler, with the
 * reason recorded for -v and for the counters.
 *
 * Every option is looked up in one const table (cc_opts[], first match
 * wins) that says how it is spelled (exact, a prefix, or an option with a
 * value, separate or glued on), what it is (jf_cc_argkind_t), whether its
 * value is a path, and what the parser does with it. An option the table
 * does not know is a reason to fall back, never a guess.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "common/util.h"
#include "cli/cc_args.h"
#include "cli/cc_path.h"

/* How an option is spelled. */
enum {
	M_EXACT,        /* the whole argument */
	M_PREFIX,       /* the argument starts with name; no value */
	M_VALUE,        /* name VALUE, or name glued to its value (-Ifoo, --sysroot=x) */
	M_VALUE_SEP     /* name VALUE only */
};

/* What the parser does with it. */
enum {
	A_KEEP,         /* push it (and its value) */
	A_FALLBACK,     /* the real compiler must run: why */
	A_COMPILE,      /* -c */
	A_OUT,          /* -o FILE */
	A_LANG,         /* -x LANG */
	A_DEP,          /* -MD -MMD (a depfile) and -MP */
	A_DEPFILE,      /* -MF FILE */
	A_DEPTARGET,    /* -MT -MQ */
	A_DEBUG,        /* -g* */
	A_PREFIXMAP,    /* -f{debug,file,macro}-prefix-map=OLD=NEW */
	A_COMPDIR,      /* -fdebug-compilation-dir */
	A_SYSROOT       /* --sysroot, -isysroot: a preprocessor option too */
};

typedef struct cc_opt {
	const char *name;
	unsigned char match;            /* M_* */
	unsigned char act;              /* A_* */
	unsigned char kind;             /* jf_cc_argkind_t of what is pushed */
	unsigned char path;             /* the value is a path (rewritten under base) */
	const char *slug;               /* A_FALLBACK: the reason's counter name */
	const char *why;                /* A_FALLBACK: the reason */
} cc_opt_t;

#define FB(n, m, s, w) { n, m, A_FALLBACK, JF_CC_ARG_PLAIN, 0, s, w }
#define CPP(n, p) { n, M_VALUE, A_KEEP, JF_CC_ARG_CPP, p, NULL, NULL }
#define PLAIN(n, m) { n, m, A_KEEP, JF_CC_ARG_PLAIN, 0, NULL, NULL }
#define DO(n, m, a, k) { n, m, a, k, 0, NULL, NULL }

/*
 * clang compiles every cached object itself, from the command line as
 * given, so no option here is interpreted for code generation: options
 * not named below go to clang and into the key as they are, and the
 * families -W -f -m -g -O -std= are accepted whole. The table names what
 * jitfarm must understand (the source, outputs, paths, the working
 * directory in debug info) and what makes a stored object unsafe to
 * reuse: outputs other than one object and its depfile, files read that
 * the key does not cover, the machine's own CPU, and the command line
 * recorded in the object (which would then hold jitfarm's additions).
 */
static const cc_opt_t cc_opts[] = {
	DO("-c", M_EXACT, A_COMPILE, JF_CC_ARG_COMPILE),
	DO("-o", M_VALUE, A_OUT, JF_CC_ARG_OUT),
	DO("-x", M_VALUE, A_LANG, JF_CC_ARG_PLAIN),
	/* other outputs than one object (and its depfile) */
	FB("-E", M_EXACT, "preprocess", "preprocess only"),
	FB("-S", M_EXACT, "assembly", "assembly output"),
	FB("-M", M_EXACT, "deps-only", "dependency output only"),
	FB("-MM", M_EXACT, "deps-only", "dependency output only"),
	FB("-fsyntax-only", M_EXACT, "syntax-only", "syntax check only"),
	FB("-emit-llvm", M_EXACT, "llvm-ir", "LLVM IR output"),
	FB("-###", M_EXACT, "dry-run", "driver dry run"),
	FB("-v", M_EXACT, "verbose", "verbose compiler driver"),
	FB("-H", M_EXACT, "header-list", "header listing"),
	FB("--analyze", M_EXACT, "analyze", "static analyser"),
	FB("-save-temps", M_PREFIX, "extra-output", "temporary files requested"),
	FB("-gsplit-dwarf", M_PREFIX, "extra-output", "split DWARF (.dwo) output"),
	FB("--coverage", M_EXACT, "extra-output", "coverage notes (.gcno) output"),
	FB("-ftest-coverage", M_EXACT, "extra-output", "coverage notes (.gcno) output"),
	FB("-fstack-usage", M_EXACT, "extra-output", "stack usage (.su) output"),
	FB("-ftime-trace", M_PREFIX, "extra-output", "time trace output"),
	FB("-fsave-optimization-record", M_PREFIX, "extra-output", "optimisation record output"),
	FB("-foptimization-record-file", M_PREFIX, "extra-output", "optimisation record output"),
	FB("-fproc-stat-report", M_PREFIX, "extra-output", "process statistics output"),
	FB("-time", M_EXACT, "extra-output", "timing report"),
	FB("-ftime-report", M_PREFIX, "extra-output", "timing report"),
	/* files read that the key does not cover */
	FB("-fprofile", M_PREFIX, "reads-file", "profile data or lists"),
	FB("-fcs-profile", M_PREFIX, "reads-file", "profile data"),
	FB("-fmemory-profile", M_PREFIX, "reads-file", "profile data"),
	FB("-fsanitize", M_PREFIX, "reads-file", "sanitizer ignore lists"),
	FB("-fxray", M_PREFIX, "reads-file", "XRay attribute lists"),
	FB("-fcoverage", M_PREFIX, "reads-file", "coverage mapping of the compilation directory"),
	FB("-fbasic-block-sections", M_PREFIX, "reads-file", "basic block section lists"),
	FB("-fplugin", M_PREFIX, "reads-file", "compiler plugin"),
	FB("-fpass-plugin", M_PREFIX, "reads-file", "compiler plugin"),
	FB("-fmodules", M_PREFIX, "reads-file", "clang modules"),
	FB("-fmodule-", M_PREFIX, "reads-file", "clang modules"),
	FB("-fimplicit-module", M_PREFIX, "reads-file", "clang modules"),
	FB("-fprebuilt-module", M_PREFIX, "reads-file", "clang modules"),
	FB("-include-pch", M_EXACT, "reads-file", "precompiled header"),
	FB("-fpch", M_PREFIX, "reads-file", "precompiled header"),
	FB("-ivfsoverlay", M_PREFIX, "reads-file", "virtual file system overlay"),
	FB("--config", M_PREFIX, "reads-file", "clang configuration file"),
	FB("-fthinlto-index", M_PREFIX, "reads-file", "ThinLTO index"),
	FB("-B", M_PREFIX, "tool-path", "tool search path"),
	FB("--gcc-toolchain", M_PREFIX, "tool-path", "tool search path"),
	FB("--gcc-install-dir", M_PREFIX, "tool-path", "tool search path"),
	FB("-fno-integrated-as", M_EXACT, "tool-path", "external assembler"),
	FB("-no-integrated-as", M_EXACT, "tool-path", "external assembler"),
	FB("-Xclang", M_EXACT, "raw-options", "raw frontend options"),
	FB("-mllvm", M_EXACT, "raw-options", "raw LLVM options"),
	FB("-Wa,", M_PREFIX, "raw-options", "assembler options"),
	FB("-Xassembler", M_EXACT, "raw-options", "assembler options"),
	FB("-Wp,", M_PREFIX, "raw-options", "raw preprocessor options"),
	FB("-Xpreprocessor", M_EXACT, "raw-options", "raw preprocessor options"),
	/* the object would depend on this machine, or hold our command line */
	FB("-march=native", M_EXACT, "native-cpu", "this machine's CPU"),
	FB("-mcpu=native", M_EXACT, "native-cpu", "this machine's CPU"),
	FB("-mtune=native", M_EXACT, "native-cpu", "this machine's CPU"),
	FB("-grecord-command-line", M_EXACT, "records-cmdline", "the command line recorded"),
	FB("-grecord-gcc-switches", M_EXACT, "records-cmdline", "the command line recorded"),
	FB("-frecord-command-line", M_EXACT, "records-cmdline", "the command line recorded"),
	FB("-frecord-gcc-switches", M_EXACT, "records-cmdline", "the command line recorded"),
	/* dependency files */
	DO("-MD", M_EXACT, A_DEP, JF_CC_ARG_DEP),
	DO("-MMD", M_EXACT, A_DEP, JF_CC_ARG_DEP),
	DO("-MP", M_EXACT, A_DEP, JF_CC_ARG_DEP),
	DO("-MF", M_VALUE, A_DEPFILE, JF_CC_ARG_DEP),
	DO("-MT", M_VALUE, A_DEPTARGET, JF_CC_ARG_DEP),
	DO("-MQ", M_VALUE, A_DEPTARGET, JF_CC_ARG_DEP),
	/* the preprocessor (longer names first where one prefixes another) */
	CPP("-I", 1), CPP("-D", 0), CPP("-U", 0), CPP("-include", 1), CPP("-imacros", 1),
	CPP("-isystem", 1), CPP("-idirafter", 1), CPP("-iquote", 1),
	{ "-isysroot", M_VALUE, A_SYSROOT, JF_CC_ARG_CPP, 1, NULL, NULL },
	{ "--sysroot", M_VALUE, A_SYSROOT, JF_CC_ARG_CPP, 1, NULL, NULL },
	CPP("-iprefix", 1), CPP("-iwithprefixbefore", 0), CPP("-iwithprefix", 0),
	/* link-time options: unused under -c */
	PLAIN("-L", M_VALUE), PLAIN("-l", M_VALUE), PLAIN("-Xlinker", M_VALUE_SEP),
	PLAIN("-u", M_VALUE), PLAIN("-T", M_VALUE), PLAIN("-Wl,", M_PREFIX),
	/* what puts the working directory into debug info, or keeps it out */
	DO("-fdebug-prefix-map=", M_PREFIX, A_PREFIXMAP, JF_CC_ARG_PLAIN),
	DO("-ffile-prefix-map=", M_PREFIX, A_PREFIXMAP, JF_CC_ARG_PLAIN),
	DO("-fmacro-prefix-map=", M_PREFIX, A_PREFIXMAP, JF_CC_ARG_PLAIN),
	DO("-fdebug-compilation-dir", M_PREFIX, A_COMPDIR, JF_CC_ARG_PLAIN),
	DO("-g", M_PREFIX, A_DEBUG, JF_CC_ARG_PLAIN),
	/* the rest goes to clang as it is */
	PLAIN("-W", M_PREFIX), PLAIN("-f", M_PREFIX), PLAIN("-m", M_PREFIX), PLAIN("-O", M_PREFIX),
	PLAIN("-std=", M_PREFIX), PLAIN("--std=", M_PREFIX),
	PLAIN("-w", M_EXACT), PLAIN("-pedantic", M_EXACT), PLAIN("-pedantic-errors", M_EXACT),
	PLAIN("-ansi", M_EXACT), PLAIN("-pipe", M_EXACT), PLAIN("-pthread", M_EXACT),
	PLAIN("-nostdinc", M_EXACT), PLAIN("-shared", M_EXACT), PLAIN("-static", M_EXACT),
	PLAIN("-rdynamic", M_EXACT), PLAIN("-nostdlib", M_EXACT), PLAIN("-nostartfiles", M_EXACT),
	PLAIN("-nodefaultlibs", M_EXACT), PLAIN("-s", M_EXACT), PLAIN("-pie", M_EXACT),
	PLAIN("-no-pie", M_EXACT), PLAIN("-static-pie", M_EXACT), PLAIN("-P", M_EXACT),
	PLAIN("-C", M_EXACT), PLAIN("-CC", M_EXACT), PLAIN("-trigraphs", M_EXACT),
	PLAIN("-undef", M_EXACT), PLAIN("-target", M_VALUE_SEP), PLAIN("--target=", M_PREFIX),
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

/* The parser's state beyond the result. */
typedef struct cc_parse {
	jf_cc_args_t *a;
	char cwd[PATH_MAX];
	const char *base;
	size_t nsrc;
	int has_c;
} cc_parse_t;

/* The first reason to fall back wins: slug names its counter. */
static void
set_reason(jf_cc_args_t *a, const char *slug, const char *fmt, const char *x)
{
	if (a->reason[0] != '\0')
		return;
	snprintf(a->reason, sizeof(a->reason), fmt, x);
	jf_strlcpy(a->reason_slug, slug, sizeof(a->reason_slug));
}

void
jf_cc_args_free(jf_cc_args_t *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; a->argv != NULL && i < a->argc; i++) {
		jf_free(a->argv[i]);
		if (a->keytext != NULL)
			jf_free(a->keytext[i]);
	}
	jf_free(a->argv);
	jf_free(a->keytext);
	jf_free(a->kind);
	jf_free(a->compiler);
	jf_free(a->out);
	jf_free(a->dep_path);
	memset(a, 0, sizeof(*a));
}

/* Append s (taken: a string to jf_free) as an argument of kind k. */
static void
push_own(jf_cc_args_t *a, char *s, jf_cc_argkind_t k)
{
	a->argv[a->argc] = s;
	a->kind[a->argc++] = k;
	a->argv[a->argc] = NULL;
}

static void
push(jf_cc_args_t *a, const char *s, jf_cc_argkind_t k)
{
	push_own(a, jf_xstrdup(s), k);
}

/* Find arg's row; for a glued value, *val points at it. */
static const cc_opt_t *
opt_find(const char *arg, const char **val, int *sep)
{
	const cc_opt_t *o;
	size_t l;

	*val = NULL;
	*sep = 0;
	for (o = cc_opts; o->name != NULL; o++) {
		l = strlen(o->name);
		switch (o->match) {
		case M_EXACT:
			if (strcmp(arg, o->name) == 0)
				return o;
			break;
		case M_PREFIX:
			if (strncmp(arg, o->name, l) == 0)
				return o;
			break;
		case M_VALUE:
		case M_VALUE_SEP:
			if (strcmp(arg, o->name) == 0) {
				*sep = 1;
				return o;
			}
			if (o->match == M_VALUE && strncmp(arg, o->name, l) == 0 && arg[l] != '\0') {
				*val = arg + l + (arg[l] == '=' && o->name[1] == '-');
				return o;
			}
			break;
		}
	}
	return NULL;
}

/* Push an option with a value: "-I" "dir" when given apart, "-Idir"
 * (or "--opt=dir") when glued; the value made relative when it is a
 * path. */
static void
push_value(cc_parse_t *p, const cc_opt_t *o, const char *val, int sep)
{
	char *v = o->path ? jf_cc_relpath(val, p->cwd, p->base) : jf_xstrdup(val), *g;
	size_t l;

	if (sep || o->act != A_KEEP) {
		push(p->a, o->name, o->kind);
		push_own(p->a, v, o->kind);
		return;
	}
	l = strlen(o->name) + strlen(v) + 2;
	g = jf_xmalloc(l);
	snprintf(g, l, "%s%s%s", o->name, o->name[1] == '-' ? "=" : "", v);
	jf_free(v);
	push_own(p->a, g, o->kind);
}

/* -f{debug,file,macro}-prefix-map=OLD=NEW (already pushed): the working
 * directory mapped away means debug info no longer depends on where the
 * checkout is; in the key, OLD counts relative to the checkout. */
static void
prefix_map(cc_parse_t *p, const char *arg)
{
	const char *eq = strchr(arg, '=') + 1;
	size_t ol = strcspn(eq, "="), kl;
	char *old, *rel;

	if (arg[2] != 'm' && ol > 0 && strncmp(p->cwd, eq, ol) == 0 &&
	    (p->cwd[ol] == '/' || p->cwd[ol] == '\0'))
		p->a->debug_mapped = 1;
	if (ol == 0 || eq[ol] != '=')
		return;
	old = jf_xstrndup(eq, ol);
	rel = jf_cc_relpath(old, p->cwd, p->base);     /* a copy without a base */
	kl = (size_t)(eq - arg) + strlen(rel) + strlen(eq + ol) + 1;
	p->a->keytext[p->a->argc - 1] = jf_xmalloc(kl);
	snprintf(p->a->keytext[p->a->argc - 1], kl, "%.*s%s%s", (int)(eq - arg), arg, rel,
	    eq + ol);
	jf_free(old);
	jf_free(rel);
}

/* Apply row o to arg (value val, given apart when sep). */
static void
opt_apply(cc_parse_t *p, const cc_opt_t *o, const char *arg, const char *val, int sep)
{
	jf_cc_args_t *a = p->a;
	char msg[JF_CC_REASON_MAX];

	switch (o->act) {
	case A_FALLBACK:
		snprintf(msg, sizeof(msg), "%s: %%s", o->why);
		set_reason(a, o->slug, msg, arg);
		return;
	case A_COMPILE:
		p->has_c = 1;
		break;
	case A_OUT:
		jf_free(a->out);
		a->out = jf_xstrdup(val);
		break;
	case A_LANG:
		if (strcmp(val, "c") != 0)
			set_reason(a, "language", "language %s", val);
		break;
	case A_DEP:
		if (arg[2] != 'P')
			a->has_dep = 1;
		break;
	case A_DEPFILE:
		a->dep_has_mf = 1;
		jf_free(a->dep_path);
		a->dep_path = jf_xstrdup(val);
		break;
	case A_DEPTARGET:
		a->dep_has_mt = 1;
		break;
	case A_DEBUG:
		a->has_debug = strcmp(arg, "-g0") != 0;
		break;
	case A_COMPDIR:
		a->debug_mapped = 1;
		break;
	case A_SYSROOT:
		a->has_sysroot = 1;
		break;
	}
	if (val != NULL)
		push_value(p, o, val, sep);
	else
		push(a, arg, o->kind);
	if (o->act == A_PREFIXMAP)
		prefix_map(p, arg);
}

static int
is_compiler_name(const char *s)
{
	const char *b = strrchr(s, '/');

	b = b ? b + 1 : s;
	return strncmp(b, "clang", 5) == 0 || strncmp(b, "gcc", 3) == 0 ||
	    strcmp(b, "cc") == 0 || strstr(b, "-gcc") != NULL;
}

static const char *
ext_of(const char *p)
{
	const char *b = strrchr(p, '/'), *d;

	b = b ? b + 1 : p;
	d = strrchr(b, '.');
	return d ? d : "";
}

/* An argument that is not an option: the source, or what makes this a
 * link or not a C compile. */
static void
operand(cc_parse_t *p, const char *arg)
{
	const char *e = ext_of(arg);

	if (strcmp(arg, "-") == 0) {
		set_reason(p->a, "stdin", "source on standard input%s", "");
	} else if (arg[0] == '@') {
		set_reason(p->a, "response-file", "response file %s", arg);
	} else if (strcmp(e, ".c") == 0 || strcmp(e, ".i") == 0) {
		push_own(p->a, jf_cc_relpath(arg, p->cwd, p->base), JF_CC_ARG_SRC);
		p->a->src = p->a->argv[p->a->argc - 1];
		p->nsrc++;
	} else if (strcmp(e, ".o") == 0 || strcmp(e, ".a") == 0 || strcmp(e, ".so") == 0) {
		set_reason(p->a, "link", "linking (%s given)", arg);
	} else {
		set_reason(p->a, "language", "source %s is not C", arg);
	}
}

/* The names the compiler gives by default: SRC's base name with .o, and
 * the depfile next to the output. */
static void
default_outputs(jf_cc_args_t *a)
{
	const char *b, *x;
	size_t bl;

	if (a->out == NULL) {
		b = strrchr(a->src, '/');
		b = b ? b + 1 : a->src;
		bl = strlen(b) - strlen(ext_of(b));
		a->out = jf_xmalloc(bl + 3);
		memcpy(a->out, b, bl);
		memcpy(a->out + bl, ".o", 3);
	}
	if (a->has_dep && !a->dep_has_mf) {
		x = ext_of(a->out);
		bl = strlen(a->out) - strlen(x);
		a->dep_path = jf_xmalloc(bl + 3);
		memcpy(a->dep_path, a->out, bl);
		memcpy(a->dep_path + bl, ".d", 3);
	}
}

int
jf_cc_args_parse(char **args, size_t n, const char *compiler, const char *base,
    jf_cc_args_t *a)
{
	cc_parse_t p;
	const cc_opt_t *o;
	const char *val, *b;
	size_t i = 0;
	int sep;

	memset(a, 0, sizeof(*a));
	memset(&p, 0, sizeof(p));
	p.a = a;
	if (getcwd(p.cwd, sizeof(p.cwd)) == NULL)
		return JF_ERR_SYSTEM;
	p.base = base != NULL && base[0] == '/' ? base : NULL;
	if (n > 0 && args[0][0] != '-' && is_compiler_name(args[0]))
		compiler = args[i++];
	if (compiler == NULL && ((compiler = getenv("JITFARM_CC")) == NULL || compiler[0] == '\0'))
		compiler = "clang-19";
	a->compiler = jf_xstrdup(compiler);
	a->orig = args + i;
	a->norig = n - i;
	/* +8: room for what the caller may append (a -MF/-MT pair) */
	a->argv = jf_xcalloc(2 * n + 8, sizeof(*a->argv));
	a->keytext = jf_xcalloc(2 * n + 8, sizeof(*a->keytext));
	a->kind = jf_xcalloc(2 * n + 8, sizeof(*a->kind));
	b = strrchr(compiler, '/');
	if (strncmp(b ? b + 1 : compiler, "clang", 5) != 0)
		set_reason(a, "compiler", "compiler %s is not clang", compiler);

	for (; i < n; i++) {
		const char *arg = args[i];

		if (arg[0] != '-' || strcmp(arg, "-") == 0) {
			operand(&p, arg);
			continue;
		}
		if ((o = opt_find(arg, &val, &sep)) == NULL) {
			set_reason(a, "unknown-option", "unsupported option %s", arg);
			continue;
		}
		if (sep) {
			if (i + 1 >= n) {
				set_reason(a, "unknown-option", "%s without a value", arg);
				continue;
			}
			val = args[++i];
		}
		opt_apply(&p, o, arg, val, sep);
	}

	if (!p.has_c)
		set_reason(a, "link", "linking (no -c)%s", "");
	if (p.nsrc == 0)
		set_reason(a, "no-source", "no C source%s", "");
	else if (p.nsrc > 1)
		set_reason(a, "multi-source", "%s", "more than one source");
	if (a->reason[0] == '\0')
		default_outputs(a);
	return 0;
}
