/*
 * fuzz.h - what the coverage-guided harnesses in tests/fuzz/ share.
 *
 * Each harness is a libFuzzer target (LLVMFuzzerTestOneInput) built with
 * clang-19 under ASan and UBSan; gen_corpus.c writes their seed inputs
 * from real encodings. A harness does more than "call the decoder and
 * see whether it crashes": where a decoder accepts an input, the harness
 * re-encodes what came out and decodes that again, and aborts (FZ_CHECK)
 * when the two decodings disagree, so a decoder that accepts something
 * its own encoder cannot say is found too.
 */
#ifndef JF_FUZZ_H
#define JF_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/allocator_interface.h>

#include "common/mem.h"

/* A failed property: print where and abort, which libFuzzer records as a
 * crash with the input that caused it. */
#define FZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/*
 * Free a buffer that the library returned. The library is moving from
 * malloc to jf_malloc (whose blocks carry a small header and must go to
 * jf_free); ASan knows which it is: a block from malloc starts where ASan's
 * allocation starts, a block from jf_malloc starts inside one.
 */
static inline void
fz_free(void *p)
{
	if (p == NULL)
		return;
	if (__sanitizer_get_allocated_begin(p) == p)
		free(p);
	else
		jf_free(p);
}

/* Ed25519 from a fixed seed, so the corpus generator's signed seeds
 * verify under the harness's key (fuzz_keys.c). NULL when OpenSSL fails. */
void *fz_sign_key(void);
void *fz_verify_key(void);

/* The payload of every blob fuzz_manifest builds around its input (and
 * that gen_corpus.c's manifest seeds describe), NUL included. */
#define FZ_MANIFEST_PAYLOAD "\177ELF fuzz payload"

/* Field by field, with a missing string equal to an empty one (the
 * encoder writes it so). Returns 1 when equal. */
struct jf_manifest;
int fz_manifest_eq(const struct jf_manifest *a, const struct jf_manifest *b);

/*
 * Decode data as a blob every way there is (with and without the verify
 * key, and peek) and check that the verdicts agree; when it decodes,
 * check the artifact's promises, re-encode it (signed again if it was)
 * and decode that: it must give the same manifest and payload. Aborts on
 * any failed property.
 */
void fz_blob_check(const uint8_t *data, size_t size);

#endif
