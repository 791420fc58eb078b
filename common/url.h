/*
 * url.h - the one URL layer: store and farm URLs parsed by libcurl's
 * curl_url() (RFC 3986, IPv6 literals, userinfo), percent-decoding and
 * -encoding by curl_easy_unescape/curl_easy_escape, and a strict query
 * parser for the master's request URIs.
 *
 * Strictness, everywhere: a decoded value holding a NUL is refused, and so
 * is a query that names one parameter twice. '+' is a literal plus (as in
 * RFC 3986), never a space: features=+avx2 means "+avx2".
 */
#ifndef JF_URL_H
#define JF_URL_H

#include <stddef.h>

#define JF_URL_PART_MAX 1024

typedef struct jf_url {
	char scheme[32];                /* lower case: "file", "redis", "http", "s3", "unix" */
	char user[256];                 /* percent-decoded; "" when none */
	char password[256];             /* percent-decoded; "" when none */
	int has_password;
	char host[256];                 /* without brackets for IPv6: "::1" */
	int port;                       /* 0 when none given */
	char path[JF_URL_PART_MAX];     /* percent-decoded; "/" when none was given */
	char query[JF_URL_PART_MAX];    /* raw, without '?'; "" when none */
} jf_url_t;

/*
 * Parse a URL with a scheme. Returns 0, JF_ERR_INVAL (malformed, with a
 * message in err) or JF_ERR_TOOBIG (a part does not fit). "file:///x" and
 * "unix:/path" (no authority) are accepted.
 */
int jf_url_parse(const char *s, jf_url_t *u, char *err, size_t errlen);

/* host as it goes back into a URL or a "host:port" string: IPv6 in brackets. */
void jf_url_host_fmt(const char *host, char *out, size_t outlen);

/* Percent-decode n bytes into out (outlen with the NUL). A decoded NUL,
 * a bad escape or no room: JF_ERR_INVAL / JF_ERR_TOOBIG. */
int jf_url_decode(const char *in, size_t n, char *out, size_t outlen);
/* Percent-encode everything but RFC 3986's unreserved characters
 * (keep_slash: '/' too, for object paths). Returns 0 or JF_ERR_TOOBIG. */
int jf_url_encode(const char *in, int keep_slash, char *out, size_t outlen);

/*
 * A parsed query string: name=value pairs split on '&', both decoded.
 * jf_query_parse refuses (JF_ERR_INVAL, message in err) a duplicate name,
 * a decoded NUL, a bad escape, a name not in allowed (a NULL-terminated
 * list, or NULL for any), and more than JF_QUERY_MAX pairs.
 */
#define JF_QUERY_MAX 32
#define JF_QUERY_VALUE_MAX 4096     /* a full host feature list fits */
typedef struct jf_query {
	int n;
	struct {
		char name[64];
		char value[JF_QUERY_VALUE_MAX];
	} kv[JF_QUERY_MAX];
} jf_query_t;

int jf_query_parse(const char *q, const char *const *allowed, jf_query_t *out,
    char *err, size_t errlen);
/* The value of name, or NULL when absent. */
const char *jf_query_get(const jf_query_t *q, const char *name);

#endif
