/*
 * cc_args.c - reading a C compile line for `jitfarm cc`.
 *
 * The farm can take over a compile only when the bitcode that clang's
 * frontend writes carries everything that decides the object: then
 * "frontend to unoptimised bitcode, optimise and generate code elsewhere"
 * gives what the compiler would have given. That holds for a plain
 * `-c foo.c -o foo.o` with any warning, language, define, include, debug
 * and most -f/-m options, since clang records those in the module (as
 * function attributes, module flags or debug metadata). It does not hold
 * for options that act in clang's own pass pipeline or code generator
 * (sanitizers, coverage, profiling, function sections, code models,
 * non-PIC code, LTO), for outputs other than an object (-E, -S, -M,
 * -emit-llvm), for linking, or for more than one source. Those go to the
 * real compiler, with the reason recorded for -v.
 *
 * The rule is conservative: an option this file does not know is a
 * reason to fall back, never a guess.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/util.h"
#include "cli/cc.h"

/* Options whose value is the next argument (or glued on: -Ifoo). */
static const char *const cpp_with_value[] = {
	"-I", "-D", "-U", "-include", "-imacros", "-isystem", "-idirafter",
	"-iquote", "-isysroot", "--sysroot", "-iprefix", "-iwithprefix",
	"-iwithprefixbefore", NULL
};
/* Of those, the ones whose value is a path. */
static const char *const cpp_path[] = {
	"-I", "-include", "-imacros", "-isystem", "-idirafter", "-iquote",
	"-isysroot", "--sysroot", NULL
};
static const char *const dep_with_value[] = { "-MF", "-MT", "-MQ", NULL };
/* Link-time options: ignored by the compiler under -c, harmless here. */
static const char *const link_with_value[] = { "-L", "-l", "-Xlinker", "-u", "-T", NULL };

/* Options (exact, or prefixes ending in '*') whose effect the bitcode does
 * not carry, or that ask for another output: each is a reason to run the
 * real compiler. */
static const struct {
	const char *opt;
	const char *why;
} fallback[] = {
	{ "-E", "preprocess only" },
	{ "-S", "assembly output" },
	{ "-M", "dependency output only" },
	{ "-MM", "dependency output only" },
	{ "-fsyntax-only", "syntax check only" },
	{ "-emit-llvm", "LLVM IR output" },
	{ "-###", "driver dry run" },
	{ "-v", "verbose compiler driver" },
	{ "-H", "header listing" },
	{ "--analyze", "static analyser" },
	{ "-flto*", "LTO" },
	{ "-fthinlto*", "LTO" },
	{ "-fembed-bitcode*", "embedded bitcode" },
	{ "-fsanitize*", "sanitizer passes run in clang's pipeline" },
	{ "-fprofile*", "profiling instrumentation" },
	{ "-fcs-profile*", "profiling instrumentation" },
	{ "-fmemory-profile*", "profiling instrumentation" },
	{ "-fpseudo-probe-for-profiling", "profiling instrumentation" },
	{ "--coverage", "coverage instrumentation" },
	{ "-ftest-coverage", "coverage instrumentation" },
	{ "-fcoverage*", "coverage instrumentation" },
	{ "-pg", "profiling instrumentation" },
	{ "-finstrument-functions*", "instrumentation pass" },
	{ "-fxray*", "XRay instrumentation" },
	{ "-fsplit-stack", "split stacks" },
	{ "-save-temps*", "temporary files requested" },
	{ "-Xclang", "raw frontend options" },
	{ "-mllvm", "raw LLVM options" },
	{ "-Wa,*", "assembler options" },
	{ "-Xassembler", "assembler options" },
	{ "-Wp,*", "raw preprocessor options" },
	{ "-Xpreprocessor", "raw preprocessor options" },
	{ "-ffunction-sections", "code generation option" },
	{ "-fdata-sections", "code generation option" },
	{ "-fno-pic", "non-PIC code" },
	{ "-fno-PIC", "non-PIC code" },
	{ "-fno-pie", "non-PIC code" },
	{ "-fno-PIE", "non-PIC code" },
	{ "-static-pie", "linking" },
	{ "-mcmodel*", "code model" },
	{ "-m16", "another target" },
	{ "-m32", "another target" },
	{ "-mx32", "another target" },
	{ "-target", "another target" },
	{ "--target*", "another target" },
	{ "-arch", "another target" },
	{ "-fno-integrated-as", "external assembler" },
	{ "-no-integrated-as", "external assembler" },
	{ "-fbasic-block-sections*", "code generation option" },
	{ "-fstack-size-section", "code generation option" },
	{ "-fstack-usage", "code generation output" },
	{ "-femulated-tls", "code generation option" },
	{ "-fno-unique-section-names", "code generation option" },
	{ "-fsplit-machine-functions", "code generation option" },
	{ "-mrelax-all", "code generation option" },
	{ "-gsplit-dwarf*", "split DWARF output" },
	{ "-time", "timing report" },
	{ "-ftime-report*", "timing report" },
	{ "-ftime-trace*", "timing report" },
	{ "-fsave-optimization-record*", "optimisation remarks" },
	{ "-Rpass*", "optimisation remarks" },
	{ "-fmodules*", "clang modules" },
	{ "-include-pch", "precompiled header" },
	{ "-fpch*", "precompiled header" },
	{ NULL, NULL }
};

static int
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* If arg starts with one of list's options glued to a value, return that
 * option's length; 0 otherwise. */
static size_t
glued(const char *const *list, const char *arg)
{
	size_t l;

	for (; *list != NULL; list++) {
		l = strlen(*list);
		if (strncmp(arg, *list, l) == 0 && arg[l] != '\0')
			return arg[l] == '=' && (*list)[1] == '-' ? l + 1 : l;
	}
	return 0;
}

static const char *
fallback_reason(const char *arg)
{
	size_t i, l;

	for (i = 0; fallback[i].opt != NULL; i++) {
		l = strlen(fallback[i].opt);
		if (fallback[i].opt[l - 1] == '*') {
			if (strncmp(arg, fallback[i].opt, l - 1) == 0)
				return fallback[i].why;
		} else if (strcmp(arg, fallback[i].opt) == 0) {
			return fallback[i].why;
		}
	}
	return NULL;
}

/* Options that only change diagnostics, language or code in ways the
 * bitcode records. Anything starting with '-' that is neither this nor
 * handled elsewhere is unsupported. */
static int
plain_ok(const char *a)
{
	static const char *const exact[] = {
		"-w", "-pedantic", "-pedantic-errors", "-ansi", "-pipe", "-pthread",
		"-nostdinc", "-shared", "-static", "-rdynamic", "-nostdlib",
		"-nostartfiles", "-nodefaultlibs", "-s", "-pie", "-no-pie", "-P",
		"-C", "-CC", "-trigraphs", NULL
	};

	if (in_list(exact, a))
		return 1;
	if (strncmp(a, "-W", 2) == 0 || strncmp(a, "-f", 2) == 0 ||
	    strncmp(a, "-m", 2) == 0 || strncmp(a, "-g", 2) == 0 ||
	    strncmp(a, "-O", 2) == 0 || strncmp(a, "-std=", 5) == 0 ||
	    strncmp(a, "--std=", 6) == 0 || strncmp(a, "-Wl,", 4) == 0)
		return 1;
	return 0;
}

static void
set_reason(jf_cc_args_t *a, const char *fmt, const char *x)
{
	if (a->reason[0] == '\0')
		snprintf(a->reason, sizeof(a->reason), fmt, x);
}

/* Lexically clean an absolute path: collapse "//", "/./" and "x/..".
 * Returns a malloc'd copy, or NULL when out of memory. */
static char *
clean_path(const char *in)
{
	char *o = malloc(strlen(in) + 2), *out;
	const char *seg = in;
	size_t l;

	if (o == NULL)
		return NULL;
	out = o;
	*out++ = '/';
	while (*seg != '\0') {
		while (*seg == '/')
			seg++;
		l = strcspn(seg, "/");
		if (l == 0 || (l == 1 && seg[0] == '.')) {
			/* nothing */
		} else if (l == 2 && seg[0] == '.' && seg[1] == '.') {
			if (out > o + 1) {
				out--;                          /* the '/' after the last segment */
				while (out > o + 1 && out[-1] != '/')
					out--;
			}
		} else {
			memcpy(out, seg, l);
			out += l;
			*out++ = '/';
		}
		seg += l;
	}
	if (out > o + 1)
		out--;
	*out = '\0';
	return o;
}

char *
jf_cc_relpath(const char *path, const char *cwd, const char *base)
{
	char *p = NULL, *c = NULL, *b = NULL, *r = NULL;
	size_t bl, i, common = 0, ups = 0, need;
	const char *rest;

	if (path[0] != '/' || cwd == NULL || base == NULL)
		return strdup(path);
	if ((p = clean_path(path)) == NULL || (c = clean_path(cwd)) == NULL ||
	    (b = clean_path(base)) == NULL)
		goto out;
	bl = strlen(b);
	if (!(strcmp(b, "/") == 0 || (strncmp(p, b, bl) == 0 && (p[bl] == '/' || p[bl] == '\0')))) {
		r = strdup(path);
		goto out;
	}
	/* longest common directory prefix of p and c */
	for (i = 0; p[i] != '\0' && p[i] == c[i]; i++)
		if (p[i] == '/')
			common = i;
	if ((p[i] == '\0' && (c[i] == '/' || c[i] == '\0')) || (p[i] == '/' && c[i] == '\0'))
		common = i;
	for (i = common; c[i] != '\0'; i++)
		if (c[i] == '/')
			ups++;
	if (strcmp(c, "/") == 0)
		ups = 0;
	rest = p + common;
	while (*rest == '/')
		rest++;
	need = ups * 3 + strlen(rest) + 2;
	if ((r = malloc(need)) == NULL)
		goto out;
	r[0] = '\0';
	for (i = 0; i < ups; i++)
		strcat(r, "../");
	strcat(r, rest);
	if (r[0] == '\0')
		strcpy(r, ".");
	else if (r[strlen(r) - 1] == '/')
		r[strlen(r) - 1] = '\0';
out:
	free(p);
	free(c);
	free(b);
	return r;
}

void
jf_cc_args_free(jf_cc_args_t *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; a->argv != NULL && i < a->argc; i++) {
		free(a->argv[i]);
		if (a->keytext != NULL)
			free(a->keytext[i]);
	}
	free(a->argv);
	free(a->keytext);
	free(a->kind);
	free(a->compiler);
	free(a->out);
	free(a->dep_path);
	memset(a, 0, sizeof(*a));
}

static int
push(jf_cc_args_t *a, const char *s, jf_cc_argkind_t k)
{
	if ((a->argv[a->argc] = strdup(s)) == NULL)
		return JF_ERR_NOMEM;
	a->kind[a->argc++] = k;
	a->argv[a->argc] = NULL;
	return 0;
}

/* Push opt + value (glued as given when glued) with value made relative
 * when path says so. */
static int
push_pair(jf_cc_args_t *a, const char *opt, const char *val, int sep, int path,
    jf_cc_argkind_t k, const char *cwd, const char *base)
{
	char *v = path ? jf_cc_relpath(val, cwd, base) : strdup(val), *g = NULL;
	int r = JF_ERR_NOMEM;

	if (v == NULL)
		return JF_ERR_NOMEM;
	if (sep) {
		if ((r = push(a, opt, k)) == 0)
			r = push(a, v, k);
	} else {
		size_t l = strlen(opt) + strlen(v) + 2;

		if ((g = malloc(l)) != NULL) {
			snprintf(g, l, "%s%s%s", opt, opt[1] == '-' ? "=" : "", v);
			r = push(a, g, k);
		}
	}
	free(v);
	free(g);
	return r;
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

int
jf_cc_args_parse(char **args, size_t n, const char *compiler, const char *base,
    jf_cc_args_t *a)
{
	char cwd[PATH_MAX];
	const char *v, *e;
	size_t i = 0, l, nsrc = 0;
	int r = JF_ERR_NOMEM, has_c = 0;

	memset(a, 0, sizeof(*a));
	a->opt = '0';
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return JF_ERR_SYSTEM;
	if (base == NULL || base[0] != '/')
		base = cwd;
	if (n > 0 && args[0][0] != '-' && is_compiler_name(args[0])) {
		compiler = args[0];
		i = 1;
	}
	if (compiler == NULL && ((compiler = getenv("JITFARM_CC")) == NULL || compiler[0] == '\0'))
		compiler = "clang-19";
	if ((a->compiler = strdup(compiler)) == NULL)
		goto out;
	a->orig = args + i;
	a->norig = n - i;
	/* +8: room for what the caller may append (a -MF/-MT pair) */
	if ((a->argv = calloc(2 * n + 8, sizeof(*a->argv))) == NULL ||
	    (a->keytext = calloc(2 * n + 8, sizeof(*a->keytext))) == NULL ||
	    (a->kind = calloc(2 * n + 8, sizeof(*a->kind))) == NULL)
		goto out;
	{
		const char *b = strrchr(compiler, '/');

		b = b ? b + 1 : compiler;
		if (strncmp(b, "clang", 5) != 0)
			set_reason(a, "compiler %s is not clang", compiler);
	}

	for (; i < n; i++) {
		const char *arg = args[i], *why;
		int sep;

		if (arg[0] == '@') {
			set_reason(a, "response file %s", arg);
			continue;
		}
		if (arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (strcmp(arg, "-") == 0) {
				set_reason(a, "source on standard input%s", "");
				continue;
			}
			e = ext_of(arg);
			if (strcmp(e, ".c") == 0 || strcmp(e, ".i") == 0) {
				char *rel = jf_cc_relpath(arg, cwd, base);

				if (rel == NULL)
					goto out;
				r = push(a, rel, JF_CC_ARG_SRC);
				free(rel);
				if (r != 0)
					goto out;
				a->src = a->argv[a->argc - 1];
				nsrc++;
			} else if (strcmp(e, ".o") == 0 || strcmp(e, ".a") == 0 ||
			    strcmp(e, ".so") == 0) {
				set_reason(a, "linking (%s given)", arg);
			} else {
				set_reason(a, "source %s is not C", arg);
			}
			continue;
		}
		/* the source language */
		if (strcmp(arg, "-x") == 0 || strncmp(arg, "-x", 2) == 0) {
			v = arg[2] ? arg + 2 : (i + 1 < n ? args[++i] : "");
			if (strcmp(v, "c") != 0)
				set_reason(a, "language %s", v);
			if ((r = push_pair(a, "-x", v, 1, 0, JF_CC_ARG_PLAIN, cwd, base)) != 0)
				goto out;
			continue;
		}
		if (strcmp(arg, "-c") == 0) {
			has_c = 1;
			if ((r = push(a, arg, JF_CC_ARG_COMPILE)) != 0)
				goto out;
			continue;
		}
		if (strcmp(arg, "-o") == 0 || (strncmp(arg, "-o", 2) == 0 && arg[2] != '\0')) {
			v = arg[2] ? arg + 2 : (i + 1 < n ? args[++i] : NULL);
			if (v == NULL) {
				set_reason(a, "-o without a file%s", "");
				continue;
			}
			free(a->out);
			if ((a->out = strdup(v)) == NULL)
				goto out;
			if ((r = push_pair(a, "-o", v, 1, 0, JF_CC_ARG_OUT, cwd, base)) != 0)
				goto out;
			continue;
		}
		if ((why = fallback_reason(arg)) != NULL) {
			char msg[JF_CC_REASON_MAX];

			snprintf(msg, sizeof(msg), "%s: %%s", why);
			set_reason(a, msg, arg);
			continue;
		}
		/* dependency-file output */
		if (strcmp(arg, "-MD") == 0 || strcmp(arg, "-MMD") == 0 || strcmp(arg, "-MP") == 0) {
			if (arg[2] != 'P')
				a->has_dep = 1;
			if ((r = push(a, arg, JF_CC_ARG_DEP)) != 0)
				goto out;
			continue;
		}
		sep = in_list(dep_with_value, arg);
		if (sep || (l = glued(dep_with_value, arg)) != 0) {
			char o[4];

			v = sep ? (i + 1 < n ? args[++i] : "") : arg + 3;
			memcpy(o, arg, 3);
			o[3] = '\0';
			if (strcmp(o, "-MF") == 0) {
				a->dep_has_mf = 1;
				free(a->dep_path);
				if ((a->dep_path = strdup(v)) == NULL)
					goto out;
			} else {
				a->dep_has_mt = 1;
			}
			if ((r = push_pair(a, o, v, 1, 0, JF_CC_ARG_DEP, cwd, base)) != 0)
				goto out;
			continue;
		}
		/* preprocessor options */
		sep = in_list(cpp_with_value, arg);
		if (sep || (l = glued(cpp_with_value, arg)) != 0) {
			char o[32];

			if (sep) {
				jf_strlcpy(o, arg, sizeof(o));
				v = i + 1 < n ? args[++i] : "";
			} else {
				size_t ol = l;

				if (arg[l - 1] == '=')
					ol--;
				if (ol >= sizeof(o))
					ol = sizeof(o) - 1;
				memcpy(o, arg, ol);
				o[ol] = '\0';
				v = arg + l;
			}
			if ((r = push_pair(a, o, v, sep || o[1] == '-', in_list(cpp_path, o),
			    JF_CC_ARG_CPP, cwd, base)) != 0)
				goto out;
			continue;
		}
		/* link options: unused under -c */
		sep = in_list(link_with_value, arg);
		if (sep) {
			v = i + 1 < n ? args[++i] : "";
			if ((r = push_pair(a, arg, v, 1, 0, JF_CC_ARG_PLAIN, cwd, base)) != 0)
				goto out;
			continue;
		}
		if (glued(link_with_value, arg) != 0) {
			if ((r = push(a, arg, JF_CC_ARG_PLAIN)) != 0)
				goto out;
			continue;
		}
		if (!plain_ok(arg)) {
			set_reason(a, "unsupported option %s", arg);
			continue;
		}
		/* the opt level: the last one wins, as in the driver */
		if (strncmp(arg, "-O", 2) == 0) {
			const char *lv = arg + 2;

			if (*lv == '\0' || strcmp(lv, "1") == 0 || strcmp(lv, "g") == 0)
				a->opt = '1';
			else if (strcmp(lv, "0") == 0)
				a->opt = '0';
			else if (strcmp(lv, "2") == 0)
				a->opt = '2';
			else if (strcmp(lv, "s") == 0)
				a->opt = 's';
			else if (strcmp(lv, "z") == 0)
				a->opt = 'z';
			else if (strcmp(lv, "fast") == 0 || (lv[0] >= '3' && lv[0] <= '9' && lv[1] == '\0'))
				a->opt = '3';
			else
				set_reason(a, "unknown optimisation level %s", arg);
		}
		if (strncmp(arg, "-g", 2) == 0)
			a->has_debug = strcmp(arg, "-g0") != 0;
		if ((r = push(a, arg, JF_CC_ARG_PLAIN)) != 0)
			goto out;
		if (strncmp(arg, "-fdebug-prefix-map=", 19) == 0 ||
		    strncmp(arg, "-ffile-prefix-map=", 18) == 0 ||
		    strncmp(arg, "-fmacro-prefix-map=", 19) == 0) {
			const char *eq = strchr(arg, '=') + 1;
			size_t ol = strcspn(eq, "=");
			char old[PATH_MAX], *rel;

			/* the working directory is mapped away: debug info no
			 * longer depends on where the checkout is */
			if (arg[2] != 'm' && ol > 0 && strncmp(cwd, eq, ol) == 0 &&
			    (cwd[ol] == '/' || cwd[ol] == '\0'))
				a->debug_mapped = 1;
			/* in the key, OLD counts relative to the checkout */
			if (ol > 0 && ol < sizeof(old) && eq[ol] == '=') {
				size_t kl;

				memcpy(old, eq, ol);
				old[ol] = '\0';
				if ((rel = jf_cc_relpath(old, cwd, base)) == NULL) {
					r = JF_ERR_NOMEM;
					goto out;
				}
				kl = (size_t)(eq - arg) + strlen(rel) + strlen(eq + ol) + 1;
				if ((a->keytext[a->argc - 1] = malloc(kl)) == NULL) {
					free(rel);
					r = JF_ERR_NOMEM;
					goto out;
				}
				snprintf(a->keytext[a->argc - 1], kl, "%.*s%s%s", (int)(eq - arg),
				    arg, rel, eq + ol);
				free(rel);
			}
		}
	}

	if (!has_c)
		set_reason(a, "linking (no -c)%s", "");
	if (nsrc == 0)
		set_reason(a, "no C source%s", "");
	else if (nsrc > 1)
		set_reason(a, "%s", "more than one source");
	if (a->reason[0] == '\0' && a->out == NULL) {
		/* the compiler's default: the source's base name with .o, here */
		const char *b = strrchr(a->src, '/');
		size_t bl;

		b = b ? b + 1 : a->src;
		bl = strlen(b) - strlen(ext_of(b));
		if ((a->out = malloc(bl + 3)) == NULL)
			goto out;
		memcpy(a->out, b, bl);
		memcpy(a->out + bl, ".o", 3);
	}
	if (a->reason[0] == '\0' && a->has_dep && !a->dep_has_mf) {
		/* -MD without -MF: the .d goes next to the output */
		const char *x = ext_of(a->out);
		size_t bl = strlen(a->out) - strlen(x);

		if ((a->dep_path = malloc(bl + 3)) == NULL)
			goto out;
		memcpy(a->dep_path, a->out, bl);
		memcpy(a->dep_path + bl, ".d", 3);
	}
	r = 0;
out:
	if (r != 0)
		jf_cc_args_free(a);
	return r;
}
