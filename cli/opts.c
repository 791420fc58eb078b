/*
 * opts.c - small pieces the subcommands share: messages, exit codes, and
 * option parsing ("--name VALUE" and "--name=VALUE"), including the set
 * of compile options that every compiling command accepts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/key.h"
#include "common/mem.h"
#include "common/util.h"
#include "storage/store.h"
#include "cli/cli.h"

const char *jf_cli_prog = "jitfarm";

const char jf_cli_compile_opts_help[] =
	"  -o OUT               the object file to write\n"
	"  --target TRIPLE      target triple (default: this machine's)\n"
	"  --cpu NAME           CPU (default: a portable baseline; 'host': this CPU)\n"
	"  --features LIST      CPU features, e.g. +avx2,-avx512f\n"
	"  -O N                 optimisation level: 0 1 2 3 s z (default 2)\n"
	"  --ns NAMESPACE       namespace of the program id\n"
	"  --symbol NAME        keep NAME exported (repeatable; default: all)\n"
	"  --store URL          artifact store (file://, redis://, http://, s3://)\n"
	"  --no-cache           compile without looking in or writing to the store\n"
	"  -v                   say 'cache: hit' or 'cache: miss' and the key\n";

void
jf_cli_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", jf_cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const jf_cli_cmd_t *cli_commands;

void
jf_cli_set_commands(const jf_cli_cmd_t *table)
{
	cli_commands = table;
}

int
jf_cli_usage(const char *cmd)
{
	const jf_cli_cmd_t *c;

	for (c = cli_commands; c != NULL && c->name != NULL; c++)
		if (strcmp(c->name, cmd) == 0)
			fprintf(stderr, "usage: %s %s %s\n", jf_cli_prog, c->name, c->args);
	return JF_EXIT_USAGE;
}

int
jf_cli_exit(int err)
{
	return err == 0 ? JF_EXIT_OK : JF_EXIT_FAIL;
}

int
jf_cli_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		jf_cli_err("option %s needs a value", name);
		return -1;
	}
	*val = argv[++*i];
	return 1;
}

int
jf_cli_compile_opt(jf_cli_compile_opts_t *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *v = NULL;
	int r;

	if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
		o->verbose = 1;
		return 1;
	}
	if (strcmp(a, "--no-cache") == 0) {
		o->no_cache = 1;
		return 1;
	}
	if (strncmp(a, "-O", 2) == 0) {
		if (a[2] != '\0')
			v = a + 2;
		else if (*i + 1 < argc)
			v = argv[++*i];
		if (v == NULL || strlen(v) != 1 || !jf_opt_valid(v[0])) {
			jf_cli_err("bad optimisation level '%s' (want 0 1 2 3 s z)",
			    v ? v : "");
			return -1;
		}
		o->opt = v[0];
		return 1;
	}
	if ((r = jf_cli_opt(argc, argv, i, "--target", &o->triple)) != 0 ||
	    (r = jf_cli_opt(argc, argv, i, "--cpu", &o->cpu)) != 0 ||
	    (r = jf_cli_opt(argc, argv, i, "--features", &o->features)) != 0 ||
	    (r = jf_cli_opt(argc, argv, i, "--ns", &o->ns)) != 0 ||
	    (r = jf_cli_opt(argc, argv, i, "--store", &o->store_url)) != 0)
		return r;
	if ((r = jf_cli_opt(argc, argv, i, "--symbol", &v)) != 0) {
		if (r < 0)
			return r;
		if (o->nsymbols >= JF_CLI_MAX_SYMBOLS || v[0] == '\0') {
			jf_cli_err("bad or too many --symbol options");
			return -1;
		}
		o->symbols[o->nsymbols++] = v;
		return 1;
	}
	return 0;
}

int
jf_cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: return -1;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

const char *
jf_cli_store_url(const char *given, char *buf, size_t len)
{
	if (given != NULL && given[0] != '\0') {
		jf_strlcpy(buf, given, len);
		return buf;
	}
	return jf_store_default_url(buf, len);
}

int
jf_cli_write_output(const char *path, const void *buf, size_t len)
{
	char tmp[4200];
	int fd, r = JF_ERR_IO;

	/* temp file and rename: a reader (a linker, make) sees the old file
	 * or the whole new one. No fsync: like a compiler's own output, it
	 * is rebuilt if a crash loses it. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.jf-tmp.%ld", path, (long)getpid()) >=
	    sizeof(tmp))
		return JF_ERR_INVAL;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return JF_ERR_IO;
	if (jf_write_full(fd, buf, len) == 0 && close(fd) == 0) {
		fd = -1;
		if (rename(tmp, path) == 0)
			r = 0;
	}
	if (fd >= 0)
		close(fd);
	if (r != 0) {
		int e = errno;

		unlink(tmp);
		errno = e;
	}
	return r;
}

void
jf_cli_ls_add(jf_cli_ls_t *ls, const jf_key_t *k, uint64_t size, uint8_t *blob, size_t len)
{
	char hex[JF_KEY_HEX_LEN + 1], err[256];
	jf_manifest_t m;

	ls->entries++;
	ls->bytes += size;
	if (ls->print) {
		jf_key_hex(k, hex);
		if (blob != NULL && jf_blob_peek(blob, len, &m, err, sizeof(err)) == 0) {
			printf("%s %" PRIu64 " %s %s O%c\n", hex, (uint64_t)len, m.target.triple,
			    m.target.cpu, m.target.opt);
			jf_manifest_free(&m);
		} else {
			printf("%s %" PRIu64 " ? ? ?\n", hex, size);
		}
	}
	jf_free(blob);
}
