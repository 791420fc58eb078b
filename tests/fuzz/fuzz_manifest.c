/*
 * fuzz_manifest.c - the manifest's TLV records (common/blob.c), reached
 * directly.
 *
 * In fuzz_blob most mutations die at the header (a length that no longer
 * matches) or at the payload hash. Here the input is only the manifest:
 * the harness wraps it in a header whose lengths match and a fixed
 * payload, so every execution reaches the record parser. The seeds are
 * real manifests whose payload hash is that of the fixed payload
 * (gen_corpus.c), so the fuzzer starts from records that decode. The
 * blob's properties are checked as in fuzz_blob (fz_blob_check).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/blob.h"
#include "common/util.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t payload[] = FZ_MANIFEST_PAYLOAD;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = JF_BLOB_HEADER_LEN + size + sizeof(payload);
	uint8_t *blob;

	if (size > JF_BLOB_MAX_MANIFEST)
		return 0;
	if ((blob = malloc(len)) == NULL)
		return 0;
	memset(blob, 0, JF_BLOB_HEADER_LEN);
	memcpy(blob, JF_BLOB_MAGIC, 4);
	jf_put_u16(blob + 4, JF_BLOB_VERSION);
	jf_put_u16(blob + 6, JF_BLOB_HEADER_LEN);
	jf_put_u32(blob + 8, (uint32_t)size);
	jf_put_u32(blob + 12, 0);
	jf_put_u64(blob + 16, sizeof(payload));
	memcpy(blob + JF_BLOB_HEADER_LEN, data, size);
	memcpy(blob + JF_BLOB_HEADER_LEN + size, payload, sizeof(payload));
	fz_blob_check(blob, len);
	free(blob);
	return 0;
}
