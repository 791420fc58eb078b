/*
 * auth.c - bearer tokens with scopes.
 *
 * The token file has one token a line: "TOKEN SCOPES [NAME]", where
 * SCOPES is a comma-separated subset of read, compile and admin; blank
 * lines and lines starting with '#' are ignored. Scopes nest: admin
 * implies compile, compile implies read, since a compile answers with the
 * artifact anyway. Only the SHA-256 of each token is kept in memory, and
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

typedef struct tok {
	uint8_t hash[32];
	int scopes;
	char name[64];
} tok_t;

struct jf_auth {
	tok_t *t;
	size_t n;
};

int
jf_auth_scopes_parse(const char *s)
{
	char buf[256], *p, *save = NULL;
	int sc = 0;

	if (jf_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	for (p = strtok_r(buf, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
		if (strcmp(p, "read") == 0)
			sc |= JF_SCOPE_READ;
		else if (strcmp(p, "compile") == 0)
			sc |= JF_SCOPE_COMPILE | JF_SCOPE_READ;
		else if (strcmp(p, "admin") == 0)
			sc |= JF_SCOPE_ALL;
		else
			return -1;
	}
	return sc == 0 ? -1 : sc;
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
		int sc;

		lineno++;
		tok = strtok_r(line, " \t\r", &s2);
		if (tok == NULL || tok[0] == '#')
			continue;
		scopes = strtok_r(NULL, " \t\r", &s2);
		name = strtok_r(NULL, " \t\r", &s2);
		if (scopes == NULL || (sc = jf_auth_scopes_parse(scopes)) < 0) {
			r = jf_seterr(err, errlen, JF_ERR_FORMAT,
			    "%s:%d: want \"TOKEN read|compile|admin[,...] [NAME]\"", path, lineno);
			goto out;
		}
		if (strlen(tok) < TOKEN_MIN) {
			r = jf_seterr(err, errlen, JF_ERR_FORMAT,
			    "%s:%d: token shorter than %d characters", path, lineno, TOKEN_MIN);
			goto out;
		}
		if (a->n == cap) {
			cap = cap ? cap * 2 : 8;
			a->t = jf_xreallocarray(a->t, cap, sizeof(*a->t));
		}
		jf_sha256(tok, strlen(tok), a->t[a->n].hash);
		a->t[a->n].scopes = sc;
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

int
jf_auth_check(const jf_auth_t *a, const char *token, const char **name)
{
	uint8_t h[32];
	int scopes = 0;
	size_t i;

	if (name != NULL)
		*name = "-";
	if (a == NULL || token == NULL)
		return 0;
	jf_sha256(token, strlen(token), h);
	for (i = 0; i < a->n; i++) {
		/* no early exit: every entry is compared */
		int eq = jf_ct_memcmp(h, a->t[i].hash, sizeof(h)) == 0;
		int mask = -eq;

		scopes |= a->t[i].scopes & mask;
		if (eq && name != NULL)
			*name = a->t[i].name;
	}
	return scopes;
}
