/*
 * fuzz_cc_args.c - `jitfarm cc`'s reading of a compile line
 * (jf_cc_args_parse in cli/cc.h, jf_cc_relpath in cli/cc_path.h), which sees
 * whatever a build system passes: long, odd or hostile arguments.
 *
 * Written against the headers only, so the parser behind them can change.
 * Input: one byte that picks the base directory, then the arguments,
 * separated by NUL bytes. The harness checks what the header promises:
 * the rewritten line is NULL-terminated with a kind for every argument,
 * the source points into it, and a compile that may go to the farm has a
 * source, an output and a known opt level. The first three arguments are
 * also given to jf_cc_relpath as (path, cwd, base) when the last two are
 * absolute, as the CLI's always are: a path it rewrites comes back
 * relative, and a relative path comes back unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "cli/cc_args.h"
#include "cli/cc_path.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 256

static const char *const bases[4] = { NULL, "/", "/tmp", "/tmp/jf-fuzz/src" };

static void
check_relpath(const char *path, const char *cwd, const char *base)
{
	char *r = jf_cc_relpath(path, cwd, base);

	FZ_CHECK(r != NULL);
	if (path[0] != '/')
		FZ_CHECK(strcmp(r, path) == 0);
	else if (strcmp(r, path) != 0)
		FZ_CHECK(r[0] != '/' && r[0] != '\0');
	fz_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *args[MAX_ARGS];
	const char *base;
	size_t n = 0, i, off;
	jf_cc_args_t a;
	int r;

	if (size < 1)
		return 0;
	base = bases[data[0] & 3];
	/* the arguments, each NUL-terminated (the last one too) */
	if ((buf = malloc(size)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	for (off = 0; off < size - 1 && n < MAX_ARGS;) {
		args[n++] = buf + off;
		off += strlen(buf + off) + 1;
	}
	/* cwd and base are absolute wherever the CLI calls it */
	if (n >= 3 && args[1][0] == '/' && args[2][0] == '/')
		check_relpath(args[0], args[1], args[2]);

	r = jf_cc_args_parse(args, n, "clang-19", base, &a);
	FZ_CHECK(r == 0);
	FZ_CHECK(a.argv != NULL && a.argv[a.argc] == NULL);
	FZ_CHECK(memchr(a.reason, '\0', sizeof(a.reason)) != NULL);
	FZ_CHECK(a.compiler != NULL);
	for (i = 0; i < a.argc; i++) {
		FZ_CHECK(a.argv[i] != NULL);
		FZ_CHECK(a.kind[i] <= JF_CC_ARG_COMPILE);
	}
	if (a.src != NULL) {
		for (i = 0; i < a.argc && a.argv[i] != a.src; i++)
			;
		FZ_CHECK(i < a.argc && a.kind[i] == JF_CC_ARG_SRC);
	}
	if (a.reason[0] == '\0') {
		FZ_CHECK(a.src != NULL && a.out != NULL);
		FZ_CHECK(!a.has_dep || a.dep_path != NULL);
	} else {
		FZ_CHECK(a.reason_slug[0] != '\0' &&
		    memchr(a.reason_slug, '\0', sizeof(a.reason_slug)) != NULL);
	}
	jf_cc_args_free(&a);
	free(buf);
	return 0;
}
