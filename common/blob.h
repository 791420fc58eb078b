/*
 * blob.h - the artifact blob: one byte string that holds everything a
 * node needs, so that one GET returns it all.
 *
 *   header (32 bytes) | manifest (TLV) | payload (ELF object) | signature
 *
 * Decoding is strict: every length is checked against the bytes present
 * and against hard caps before anything is allocated or read, the
 * payload's SHA-256 must match the manifest, and required manifest fields
 * must be present. A truncated, oversized or bit-flipped blob is rejected
 * with a message, never read out of bounds. docs/format.md has the layout.
 */
#ifndef JF_BLOB_H
#define JF_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define JF_BLOB_MAGIC "JFA1"
#define JF_BLOB_VERSION 1
#define JF_BLOB_HEADER_LEN 32
#define JF_BLOB_MAX_MANIFEST (1u << 20)         /* 1 MiB */
#define JF_BLOB_MAX_PAYLOAD (512u << 20)        /* 512 MiB */
#define JF_BLOB_MAX_SYMBOLS 65536
#define JF_SIG_LEN 64                           /* Ed25519 */

typedef struct jf_manifest {
	jf_key_t key;                   /* the artifact key */
	char *ns;                       /* namespace */
	jf_key_t program_id;
	jf_target_t target;
	char *compiler;                 /* jf_compiler_id() of the producer */
	char **symbols;                 /* exported symbol names */
	size_t nsymbols;
	uint64_t payload_size;
	uint8_t payload_sha256[32];
	uint64_t compile_ns;            /* time spent compiling */
	uint64_t created_ms;            /* wall clock, ms since the epoch */
	char *producer;                 /* "host/pid" or a master's name */
	int has_ir_sha256;              /* the blob records the IR's hash */
	uint8_t ir_sha256[32];          /* SHA-256 of the IR it was compiled from */
} jf_manifest_t;

typedef struct jf_artifact {
	jf_manifest_t m;
	uint8_t *payload;               /* the ELF relocatable object */
	size_t payload_len;
	int signed_;                    /* a signature was present */
	uint8_t sig[JF_SIG_LEN];
} jf_artifact_t;

/*
 * Encode an artifact. payload_size and payload_sha256 are computed here
 * from a->payload, overriding the manifest's. With sign_key (an OpenSSL
 * EVP_PKEY for Ed25519, passed as void * to keep OpenSSL out of this
 * header) the blob is signed. On success *out is malloc'd and owned by
 * the caller. Returns 0 or a negative jf_err.
 */
int jf_blob_encode(const jf_artifact_t *a, void *sign_key, uint8_t **out,
    size_t *outlen);

/*
 * Decode and check a blob. On success *a owns copies of everything
 * (free with jf_artifact_free). On failure *a is zeroed and err says
 * why. The payload hash is always checked. With verify_key (EVP_PKEY
 * Ed25519 public key) the signature must be present and valid, else
 * JF_ERR_SIGNATURE.
 */
int jf_blob_decode(const uint8_t *blob, size_t len, void *verify_key,
    jf_artifact_t *a, char *err, size_t errlen);

/* Decode only the manifest (no payload copy, hash still checked). */
int jf_blob_peek(const uint8_t *blob, size_t len, jf_manifest_t *m,
    char *err, size_t errlen);

void jf_manifest_free(jf_manifest_t *m);
void jf_artifact_free(jf_artifact_t *a);
/* Deep copy of a manifest. Returns 0 or JF_ERR_NOMEM. */
int jf_manifest_copy(jf_manifest_t *dst, const jf_manifest_t *src);

/* Ed25519 keys (sign.c). Paths are PEM files. Returned keys are
 * EVP_PKEY * as void *, freed with jf_key_free_pkey. */
int jf_sign_load_private(const char *path, void **out, char *err, size_t errlen);
int jf_sign_load_public(const char *path, void **out, char *err, size_t errlen);
int jf_sign_keygen(const char *priv_path, const char *pub_path, char *err,
    size_t errlen);
void jf_key_free_pkey(void *pkey);

#endif
