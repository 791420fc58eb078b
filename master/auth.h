/*
 * auth.h - bearer tokens with scopes (read, compile, admin), loaded from
 * a token file and reloaded on SIGHUP.
 */
#ifndef JF_MASTER_AUTH_H
#define JF_MASTER_AUTH_H

#include <stddef.h>

enum {
	JF_SCOPE_READ = 1,
	JF_SCOPE_COMPILE = 2,
	JF_SCOPE_ADMIN = 4,
	JF_SCOPE_ALL = 7,
};

typedef struct jf_auth jf_auth_t;

/* Load a token file ("TOKEN SCOPES [NAME]" per line). */
int jf_auth_load(const char *path, jf_auth_t **out, char *err, size_t errlen);
void jf_auth_free(jf_auth_t *a);
/* Scopes granted to the presented token (0 when unknown), compared in
 * constant time against every entry; name receives the token's name. */
int jf_auth_check(const jf_auth_t *a, const char *token, const char **name);
size_t jf_auth_count(const jf_auth_t *a);
int jf_auth_scopes_parse(const char *s);

#endif
