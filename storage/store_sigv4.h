/*
 * store_sigv4.h - AWS Signature Version 4 for request headers
 * (store_sigv4.c), after AWS's published algorithm ("Create a signed AWS
 * API request", the S3 "Authenticating Requests: Using the Authorization
 * Header" pages), with OpenSSL's SHA-256 and HMAC.
 *
 * The caller names every header it signs, and sends exactly those with
 * those values: nothing is signed that is not on the wire. (libcurl 7.88's
 * CURLOPT_AWS_SIGV4 signs an "Expect:" removal entry that it never sends,
 * curl issue #11664; that is why this exists.)
 */
#ifndef JF_STORE_SIGV4_H
#define JF_STORE_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#define JF_SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"
#define JF_SIGV4_DATE_LEN 16            /* "20130524T000000Z" */

typedef struct jf_sigv4_hdr {
	const char *name;               /* lower case */
	const char *value;
} jf_sigv4_hdr_t;

typedef struct jf_sigv4_req {
	const char *method;             /* "GET" */
	const char *path;               /* the URI path as sent, already encoded: "/b/k" */
	const char *query;              /* the query as sent, encoded, without '?'; "" */
	const jf_sigv4_hdr_t *hdrs;     /* every header to sign, each sent as given */
	size_t nhdrs;
	const char *payload_hash;       /* hex SHA-256 of the body, or JF_SIGV4_UNSIGNED */
	const char *amz_date;           /* x-amz-date: YYYYMMDDTHHMMSSZ */
	const char *region, *service;
	const char *access_key, *secret_key;
} jf_sigv4_req_t;

/* The Authorization header's value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=...,Signature=...") into out. Returns 0, JF_ERR_TOOBIG,
 * JF_ERR_NOMEM or JF_ERR_INVAL (a header name twice, a bad date). */
int jf_sigv4_sign(const jf_sigv4_req_t *r, char *out, size_t outlen);

/* Hex SHA-256 of n bytes (65 bytes with the NUL). */
void jf_sigv4_hash_hex(const void *p, size_t n, char out[65]);

/* x-amz-date for the wall-clock time t (seconds). */
void jf_sigv4_date(int64_t t, char out[JF_SIGV4_DATE_LEN + 1]);

#endif
