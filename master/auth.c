/*
 * auth.c - bearer tokens with scopes.
 *
 * The token file has one token a line: "TOKEN SCOPES [NAME]", where
 * SCOPES is a comma-separated list of read, compile, publish and admin,
 * each of the first three either bare (every namespace) or as
 * "SCOPE:NAMESPACE" (that namespace only); blank lines and lines starting
 * with '#' are ignored. Scopes nest: admin implies everything, publish
 * implies compile, compile implies read, since a compile answers with the
 * artifact anyway. publish is the right to bind a program id the client
 * chose to code (docs/security.md); a plain compile may name only the
 * SHA-256 of the IR it sends. A token whose grants are all limited to
 * namespaces has none of the global read routes (listing, events,
 * artifacts by key), since those cross namespaces. Only the SHA-256 of each token is kept in memory, and
 * a presented token is hashed and compared against every entry with a
 * constant-time comparison and no early exit, so neither the position of
 * a match nor a shared prefix shows in the timing. The file is re-read on
 * SIGHUP by the caller, which swaps the whole table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/key.h"
#include "common/util.h"
#include "common/mem.h"
#include "master/auth.h"

#define TOKEN_FILE_MAX (1u << 20)
#define TOKEN_MIN 8

#define NS_GRANTS_MAX 16

/* A grant limited to one namespace. */
typedef struct ns_grant {
	int scopes;
	char ns[JF_NS_MAX];
} ns_grant_t;

typedef struct tok {
	uint8_t hash[32];
	int scopes;                     /* granted in every namespace */
	ns_grant_t g[NS_GRANTS_MAX];
	int ng;
	char name[64];
} tok_t;

struct jf_auth {
	tok_t *t;
	size_t n;
};

static int
scope_bits(const char *p, size_t n)
{
	if (n == 4 && strncmp(p, "read", n) == 0)
		return JF_SCOPE_READ;
	if (n == 7 && strncmp(p, "compile", n) == 0)
		return JF_SCOPE_COMPILE | JF_SCOPE_READ;
	if (n == 7 && strncmp(p, "publish", n) == 0)
		return JF_SCOPE_PUBLISH | JF_SCOPE_COMPILE | JF_SCOPE_READ;
	if (n == 5 && strncmp(p, "admin", n) == 0)
		return JF_SCOPE_ALL;
	return -1;
}

/* SCOPES into t: bare scopes into t->scopes, "SCOPE:NS" into t->g. */
static int
scopes_parse(const char *s, tok_t *t)
{
	char buf[1024], *p, *save = NULL;

	t->scopes = 0;
	t->ng = 0;
	if (jf_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	for (p = strtok_r(buf, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
		const char *colon = strchr(p, ':');
		int sc = scope_bits(p, colon != NULL ? (size_t)(colon - p) : strlen(p));
		int i;

		if (sc < 0)
			return -1;
		if (colon == NULL) {
			t->scopes |= sc;
			continue;
		}
		/* admin is never limited to a namespace; the namespace is not empty */
		if (sc == JF_SCOPE_ALL || colon[1] == '\0' || strlen(colon + 1) >= JF_NS_MAX)
			return -1;
		for (i = 0; i < t->ng && strcmp(t->g[i].ns, colon + 1) != 0; i++)
			;
		if (i == t->ng) {
			if (t->ng == NS_GRANTS_MAX)
				return -1;
			jf_strlcpy(t->g[i].ns, colon + 1, sizeof(t->g[i].ns));
			t->g[i].scopes = 0;
			t->ng++;
		}
		t->g[i].scopes |= sc;
	}
	return t->scopes == 0 && t->ng == 0 ? -1 : 0;
}

int
jf_auth_scopes_parse(const char *s)
{
	tok_t *t = jf_xcalloc(1, sizeof(*t));
	int r = scopes_parse(s, t);

	if (r == 0)
		r = t->scopes | (t->ng > 0 ? JF_SCOPE_NSONLY : 0);
	jf_free(t);
	return r;
}

int
jf_auth_load(const char *path, jf_auth_t **out, char *err, size_t errlen)
{
	jf_auth_t *a = NULL;
	uint8_t *data = NULL;
	size_t len, cap = 0;
	char *line, *save = NULL;
	int r, lineno = 0;

	*out = NULL;
	if ((r = jf_file_read(path, TOKEN_FILE_MAX, &data, &len)) != 0) {
		r = jf_seterr(err, errlen, r, "cannot read token file %s: %s", path,
		    jf_strerror(r));
		goto out;
	}
	a = jf_xcalloc(1, sizeof(*a));
	if (memchr(data, '\0', len) != NULL) {
		r = jf_seterr(err, errlen, JF_ERR_FORMAT, "%s: NUL byte in token file", path);
		goto out;
	}
	for (line = strtok_r((char *)data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *tok, *scopes, *name, *s2 = NULL;

		lineno++;
		tok = strtok_r(line, " \t\r", &s2);
		if (tok == NULL || tok[0] == '#')
			continue;
		scopes = strtok_r(NULL, " \t\r", &s2);
		name = strtok_r(NULL, " \t\r", &s2);
		if (a->n == cap) {
			cap = cap ? cap * 2 : 8;
			a->t = jf_xreallocarray(a->t, cap, sizeof(*a->t));
		}
		memset(&a->t[a->n], 0, sizeof(a->t[a->n]));
		if (scopes == NULL || scopes_parse(scopes, &a->t[a->n]) != 0) {
			r = jf_seterr(err, errlen, JF_ERR_FORMAT,
			    "%s:%d: want \"TOKEN SCOPE[:NAMESPACE][,...] [NAME]\" with SCOPE one "
			    "of read, compile, publish, admin (admin for every namespace)",
			    path, lineno);
			goto out;
		}
		if (strlen(tok) < TOKEN_MIN) {
			r = jf_seterr(err, errlen, JF_ERR_FORMAT,
			    "%s:%d: token shorter than %d characters", path, lineno, TOKEN_MIN);
			goto out;
		}
		jf_sha256(tok, strlen(tok), a->t[a->n].hash);
		snprintf(a->t[a->n].name, sizeof(a->t[a->n].name), "%s",
		    name != NULL ? name : "-");
		a->n++;
	}
	*out = a;
	a = NULL;
	r = 0;
out:
	if (data != NULL) {
		/* the file holds secrets: don't leave them in freed memory */
		explicit_bzero(data, len);
		free(data);
	}
	jf_auth_free(a);
	return r;
}

void
jf_auth_free(jf_auth_t *a)
{
	if (a == NULL)
		return;
	jf_free(a->t);
	jf_free(a);
}

size_t
jf_auth_count(const jf_auth_t *a)
{
	return a != NULL ? a->n : 0;
}

/* The scopes of entry t in namespace ns (NULL: the global ones, plus
 * JF_SCOPE_NSONLY when it has namespace grants). */
static int
tok_scopes(const tok_t *t, const char *ns)
{
	int sc = t->scopes, i;

	if (ns == NULL)
		return sc | (t->ng > 0 ? JF_SCOPE_NSONLY : 0);
	for (i = 0; i < t->ng; i++)
		if (strcmp(t->g[i].ns, ns) == 0)
			sc |= t->g[i].scopes;
	return sc;
}

int
jf_auth_check_ns(const jf_auth_t *a, const char *token, const char *ns, const char **name)
{
	uint8_t h[32];
	int scopes = 0, known = 0;
	size_t i;

	if (name != NULL)
		*name = "-";
	if (a == NULL || token == NULL || jf_sha256(token, strlen(token), h) != 0)
		return -1;
	for (i = 0; i < a->n; i++) {
		/* no early exit: every entry's hash is compared; the scopes of a
		 * matching entry are no secret */
		int eq = jf_ct_memcmp(h, a->t[i].hash, sizeof(h)) == 0;

		known |= eq;
		if (eq) {
			scopes |= tok_scopes(&a->t[i], ns);
			if (name != NULL)
				*name = a->t[i].name;
		}
	}
	return known ? scopes : -1;
}

int
jf_auth_check(const jf_auth_t *a, const char *token, const char **name)
{
	int sc = jf_auth_check_ns(a, token, NULL, name);

	return sc < 0 ? 0 : sc;
}
