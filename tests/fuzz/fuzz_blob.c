/*
 * fuzz_blob.c - the artifact blob decoder (common/blob.c), as a node or a
 * master meets it: bytes from a store that anyone may have written.
 *
 * The input is a whole blob. fz_blob_check decodes it with and without
 * the verify key and with jf_blob_peek, requires the three verdicts to
 * agree, and round-trips whatever decodes (fuzz_common.c). The seeds are
 * real encodings, signed and unsigned (gen_corpus.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_blob_check(data, size);
	return 0;
}
