/*
 * cc_path.c - making paths under a base directory relative, as ccache
 * does with base_dir: the path is cleaned lexically ("//", "/./", "x/..")
 * and then written relative to the working directory.
 */
#include <string.h>

#include "common/mem.h"
#include "cli/cc_path.h"

/* Lexically clean an absolute path. Returns a string to jf_free. */
static char *
clean_path(const char *in)
{
	char *o = jf_xmalloc(strlen(in) + 2), *out = o;
	const char *seg = in;
	size_t l;

	*out++ = '/';
	while (*seg != '\0') {
		while (*seg == '/')
			seg++;
		l = strcspn(seg, "/");
		if (l == 0 || (l == 1 && seg[0] == '.')) {
			/* nothing */
		} else if (l == 2 && seg[0] == '.' && seg[1] == '.') {
			if (out > o + 1) {
				out--;                  /* the '/' after the last segment */
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

/* Is p (clean) b (clean) or under it? */
static int
under(const char *p, const char *b)
{
	size_t bl = strlen(b);

	return strcmp(b, "/") == 0 || (strncmp(p, b, bl) == 0 && (p[bl] == '/' || p[bl] == '\0'));
}

char *
jf_cc_relpath(const char *path, const char *cwd, const char *base)
{
	char *p, *c, *b, *r;
	size_t i, common = 0, ups = 0;
	const char *rest;

	if (path[0] != '/' || cwd == NULL || base == NULL)
		return jf_xstrdup(path);
	p = clean_path(path);
	c = clean_path(cwd);
	b = clean_path(base);
	if (!under(p, b)) {
		r = jf_xstrdup(path);
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
	r = jf_xmalloc(ups * 3 + strlen(rest) + 2);
	r[0] = '\0';
	for (i = 0; i < ups; i++)
		strcat(r, "../");
	strcat(r, rest);
	if (r[0] == '\0')
		strcpy(r, ".");
	else if (r[strlen(r) - 1] == '/')
		r[strlen(r) - 1] = '\0';
out:
	jf_free(p);
	jf_free(c);
	jf_free(b);
	return r;
}
