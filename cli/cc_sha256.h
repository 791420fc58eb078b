/*
 * cc_sha256.h - SHA-256 (FIPS 180-4) for the jitfarm-cc binary
 * (cc_sha256.c), which must not pay for loading libcrypto on every cache
 * hit (cc_dl.c says why). The bytes are those of any SHA-256: keys made
 * by jitfarm-cc and by `jitfarm cc` (OpenSSL) are the same.
 */
#ifndef JF_CLI_CC_SHA256_H
#define JF_CLI_CC_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct jf_cc_sha256 {
	uint32_t h[8];
	uint64_t len;                   /* bytes hashed so far */
	uint8_t buf[64];
	size_t nbuf;
} jf_cc_sha256_t;

void jf_cc_sha256_init(jf_cc_sha256_t *s);
void jf_cc_sha256_update(jf_cc_sha256_t *s, const void *p, size_t n);
void jf_cc_sha256_final(jf_cc_sha256_t *s, uint8_t out[32]);

#endif
