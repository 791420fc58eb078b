/*
 * blob.c - encoding and strict decoding of artifact blobs (see blob.h).
 *
 * Header, 32 bytes, big-endian:
 *   0  magic "JFA1"        4  u16 version       6  u16 header length
 *   8  u32 manifest length 12 u32 signature length (0 or 64)
 *   16 u64 payload length  24 u64 reserved, must be 0
 * The manifest is a list of TLV records (u16 tag, u32 length, value);
 * unknown tags are skipped so newer producers can add fields. The
 * signature, when present, is Ed25519 over every byte before it.
 */
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "blob.h"
#include "buf.h"
#include "mem.h"
#include "util.h"

enum {
	T_KEY = 1, T_NS = 2, T_PROGRAM = 3, T_TRIPLE = 4, T_CPU = 5,
	T_FEATURES = 6, T_OPT = 7, T_COMPILER = 8, T_SYMBOL = 9,
	T_PAYLOAD_SIZE = 10, T_PAYLOAD_SHA = 11, T_COMPILE_NS = 12,
	T_CREATED_MS = 13, T_PRODUCER = 14,
	T__MAX = 15
};

/* Tags that every manifest must carry. */
static const int required_tags[] = {
	T_KEY, T_PROGRAM, T_TRIPLE, T_CPU, T_OPT, T_COMPILER,
	T_PAYLOAD_SIZE, T_PAYLOAD_SHA
};

int jf_sign_raw(void *key, const uint8_t *msg, size_t len, uint8_t sig[JF_SIG_LEN]);
int jf_verify_raw(void *key, const uint8_t *msg, size_t len, const uint8_t sig[JF_SIG_LEN]);

/* --- encoding ---------------------------------------------------------- */

static void
wb_str(jf_buf_t *w, int tag, const char *s)
{
	jf_buf_tlv(w, 2, (uint32_t)tag, s ? s : "", s ? strlen(s) : 0);
}

static void
wb_u64(jf_buf_t *w, int tag, uint64_t v)
{
	uint8_t b[8];

	jf_put_u64(b, v);
	jf_buf_tlv(w, 2, (uint32_t)tag, b, 8);
}

int
jf_blob_encode(const jf_artifact_t *a, void *sign_key, uint8_t **out, size_t *outlen)
{
	jf_buf_t man = JF_BUF_INIT, blob = JF_BUF_INIT;
	uint8_t hdr[JF_BLOB_HEADER_LEN] = { 0 };
	uint8_t sha[32], sig[JF_SIG_LEN];
	size_t i;
	int r = JF_ERR_NOMEM;

	*out = NULL;
	*outlen = 0;
	if (a->payload_len > JF_BLOB_MAX_PAYLOAD || a->m.nsymbols > JF_BLOB_MAX_SYMBOLS)
		return JF_ERR_TOOBIG;
	if ((r = jf_sha256(a->payload, a->payload_len, sha)) != 0)
		return r;
	r = JF_ERR_NOMEM;
	jf_buf_tlv(&man, 2, T_KEY, a->m.key.b, JF_KEY_LEN);
	wb_str(&man, T_NS, a->m.ns);
	jf_buf_tlv(&man, 2, T_PROGRAM, a->m.program_id.b, JF_KEY_LEN);
	wb_str(&man, T_TRIPLE, a->m.target.triple);
	wb_str(&man, T_CPU, a->m.target.cpu);
	wb_str(&man, T_FEATURES, a->m.target.features);
	jf_buf_tlv(&man, 2, T_OPT, &a->m.target.opt, 1);
	wb_str(&man, T_COMPILER, a->m.compiler);
	for (i = 0; i < a->m.nsymbols; i++)
		wb_str(&man, T_SYMBOL, a->m.symbols[i]);
	wb_u64(&man, T_PAYLOAD_SIZE, a->payload_len);
	jf_buf_tlv(&man, 2, T_PAYLOAD_SHA, sha, 32);
	wb_u64(&man, T_COMPILE_NS, a->m.compile_ns);
	wb_u64(&man, T_CREATED_MS, a->m.created_ms);
	wb_str(&man, T_PRODUCER, a->m.producer);
	if (jf_buf_error(&man))
		goto out;
	if (man.len > JF_BLOB_MAX_MANIFEST) {
		r = JF_ERR_TOOBIG;
		goto out;
	}
	memcpy(hdr, JF_BLOB_MAGIC, 4);
	jf_put_u16(hdr + 4, JF_BLOB_VERSION);
	jf_put_u16(hdr + 6, JF_BLOB_HEADER_LEN);
	jf_put_u32(hdr + 8, (uint32_t)man.len);
	jf_put_u32(hdr + 12, sign_key ? JF_SIG_LEN : 0);
	jf_put_u64(hdr + 16, a->payload_len);
	jf_buf_put(&blob, hdr, sizeof(hdr));
	jf_buf_put(&blob, man.p, man.len);
	jf_buf_put(&blob, a->payload, a->payload_len);
	if (jf_buf_error(&blob))
		goto out;
	if (sign_key) {
		if ((r = jf_sign_raw(sign_key, blob.p, blob.len, sig)) != 0)
			goto out;
		jf_buf_put(&blob, sig, JF_SIG_LEN);
		if (jf_buf_error(&blob)) {
			r = JF_ERR_NOMEM;
			goto out;
		}
	}
	*out = jf_buf_steal(&blob, outlen);     /* the caller now owns the blob */
	r = 0;
out:
	jf_buf_free(&man);
	jf_buf_free(&blob);
	return r;
}

/* --- decoding ---------------------------------------------------------- */

static int
dup_str(const uint8_t *v, size_t n, char **out)
{
	if (memchr(v, '\0', n) != NULL)
		return JF_ERR_FORMAT;
	if ((*out = jf_malloc(n + 1)) == NULL)
		return JF_ERR_NOMEM;
	memcpy(*out, v, n);
	(*out)[n] = '\0';
	return 0;
}

static int
copy_fixed(const uint8_t *v, size_t n, char *dst, size_t cap)
{
	if (n >= cap || memchr(v, '\0', n) != NULL)
		return JF_ERR_FORMAT;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

static int
parse_manifest(const uint8_t *p, size_t len, jf_manifest_t *m, char *err, size_t errlen)
{
	unsigned seen[T__MAX] = { 0 };
	size_t off = 0, i, cap = 0;
	int r;

	while (off < len) {
		unsigned tag;
		size_t n;
		const uint8_t *v;

		if (len - off < 6)
			return jf_seterr(err, errlen, JF_ERR_FORMAT,
			    "manifest: truncated record at offset %zu", off);
		tag = jf_get_u16(p + off);
		n = jf_get_u32(p + off + 2);
		off += 6;
		if (n > len - off)
			return jf_seterr(err, errlen, JF_ERR_FORMAT,
			    "manifest: record %u claims %zu bytes, %zu left", tag, n, len - off);
		v = p + off;
		off += n;
		if (tag == 0 || tag >= T__MAX)
			continue;       /* unknown: a newer producer's field */
		if (seen[tag]++ && tag != T_SYMBOL)
			return jf_seterr(err, errlen, JF_ERR_FORMAT,
			    "manifest: duplicate record %u", tag);
		r = 0;
		switch (tag) {
		case T_KEY:
		case T_PROGRAM:
		case T_PAYLOAD_SHA:
			if (n != 32)
				r = JF_ERR_FORMAT;
			else if (tag == T_KEY)
				memcpy(m->key.b, v, 32);
			else if (tag == T_PROGRAM)
				memcpy(m->program_id.b, v, 32);
			else
				memcpy(m->payload_sha256, v, 32);
			break;
		case T_NS:
			r = n >= JF_NS_MAX ? JF_ERR_FORMAT : dup_str(v, n, &m->ns);
			break;
		case T_TRIPLE:
			r = copy_fixed(v, n, m->target.triple, sizeof(m->target.triple));
			break;
		case T_CPU:
			r = copy_fixed(v, n, m->target.cpu, sizeof(m->target.cpu));
			break;
		case T_FEATURES:
			r = copy_fixed(v, n, m->target.features, sizeof(m->target.features));
			break;
		case T_OPT:
			if (n != 1 || !jf_opt_valid((char)v[0]))
				r = JF_ERR_FORMAT;
			else
				m->target.opt = (char)v[0];
			break;
		case T_COMPILER:
			r = n > 256 ? JF_ERR_FORMAT : dup_str(v, n, &m->compiler);
			break;
		case T_PRODUCER:
			r = n > 256 ? JF_ERR_FORMAT : dup_str(v, n, &m->producer);
			break;
		case T_SYMBOL:
			if (n == 0 || n > 1024 || m->nsymbols >= JF_BLOB_MAX_SYMBOLS) {
				r = JF_ERR_FORMAT;
				break;
			}
			if (m->nsymbols == cap) {
				if (jf_vec_grow((void **)&m->symbols, &cap, m->nsymbols + 1,
				    sizeof(*m->symbols)) != 0) {
					r = JF_ERR_NOMEM;
					break;
				}
			}
			if ((r = dup_str(v, n, &m->symbols[m->nsymbols])) == 0)
				m->nsymbols++;
			break;
		case T_PAYLOAD_SIZE:
		case T_COMPILE_NS:
		case T_CREATED_MS:
			if (n != 8) {
				r = JF_ERR_FORMAT;
				break;
			}
			if (tag == T_PAYLOAD_SIZE)
				m->payload_size = jf_get_u64(v);
			else if (tag == T_COMPILE_NS)
				m->compile_ns = jf_get_u64(v);
			else
				m->created_ms = jf_get_u64(v);
			break;
		}
		if (r == JF_ERR_NOMEM)
			return r;
		if (r != 0)
			return jf_seterr(err, errlen, JF_ERR_FORMAT,
			    "manifest: bad value in record %u (%zu bytes)", tag, n);
	}
	for (i = 0; i < JF_ARRAY_LEN(required_tags); i++)
		if (!seen[required_tags[i]])
			return jf_seterr(err, errlen, JF_ERR_FORMAT,
			    "manifest: missing required record %d", required_tags[i]);
	return 0;
}

/* Check the header and the overall shape; fills the section lengths. */
static int
check_header(const uint8_t *blob, size_t len, size_t *manlen, size_t *paylen,
    size_t *siglen, char *err, size_t errlen)
{
	uint64_t pl;
	size_t ml, sl;

	if (len < JF_BLOB_HEADER_LEN)
		return jf_seterr(err, errlen, JF_ERR_FORMAT,
		    "blob: %zu bytes is shorter than the header", len);
	if (memcmp(blob, JF_BLOB_MAGIC, 4) != 0)
		return jf_seterr(err, errlen, JF_ERR_FORMAT, "blob: bad magic");
	if (jf_get_u16(blob + 4) != JF_BLOB_VERSION)
		return jf_seterr(err, errlen, JF_ERR_FORMAT,
		    "blob: unsupported version %u", jf_get_u16(blob + 4));
	if (jf_get_u16(blob + 6) != JF_BLOB_HEADER_LEN || jf_get_u64(blob + 24) != 0)
		return jf_seterr(err, errlen, JF_ERR_FORMAT, "blob: bad header");
	ml = jf_get_u32(blob + 8);
	sl = jf_get_u32(blob + 12);
	pl = jf_get_u64(blob + 16);
	if (ml > JF_BLOB_MAX_MANIFEST || pl > JF_BLOB_MAX_PAYLOAD)
		return jf_seterr(err, errlen, JF_ERR_FORMAT,
		    "blob: section over the size limit (manifest %zu, payload %llu)",
		    ml, (unsigned long long)pl);
	if (sl != 0 && sl != JF_SIG_LEN)
		return jf_seterr(err, errlen, JF_ERR_FORMAT,
		    "blob: bad signature length %zu", sl);
	/* every term is capped above, so the sum cannot overflow */
	if (len != JF_BLOB_HEADER_LEN + ml + (size_t)pl + sl)
		return jf_seterr(err, errlen, JF_ERR_FORMAT,
		    "blob: length %zu does not match its header (%zu expected)",
		    len, JF_BLOB_HEADER_LEN + ml + (size_t)pl + sl);
	*manlen = ml;
	*paylen = (size_t)pl;
	*siglen = sl;
	return 0;
}

static int
decode(const uint8_t *blob, size_t len, void *verify_key, jf_artifact_t *a,
    int want_payload, char *err, size_t errlen)
{
	size_t ml = 0, pl = 0, sl = 0;
	const uint8_t *man, *pay;
	uint8_t sha[32];
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = check_header(blob, len, &ml, &pl, &sl, err, errlen)) != 0)
		return r;
	man = blob + JF_BLOB_HEADER_LEN;
	pay = man + ml;
	if ((r = parse_manifest(man, ml, &a->m, err, errlen)) != 0)
		goto fail;
	if (a->m.payload_size != pl) {
		r = jf_seterr(err, errlen, JF_ERR_FORMAT,
		    "blob: manifest says %llu payload bytes, header %zu",
		    (unsigned long long)a->m.payload_size, pl);
		goto fail;
	}
	if ((r = jf_sha256(pay, pl, sha)) != 0)
		goto fail;
	if (memcmp(sha, a->m.payload_sha256, 32) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_INTEGRITY,
		    "blob: payload SHA-256 does not match the manifest");
		goto fail;
	}
	if (sl) {
		a->signed_ = 1;
		memcpy(a->sig, pay + pl, JF_SIG_LEN);
	}
	if (verify_key != NULL) {
		if (!sl) {
			r = jf_seterr(err, errlen, JF_ERR_SIGNATURE, "blob: not signed");
			goto fail;
		}
		if (jf_verify_raw(verify_key, blob, len - sl, a->sig) != 0) {
			r = jf_seterr(err, errlen, JF_ERR_SIGNATURE, "blob: bad signature");
			goto fail;
		}
	}
	if (want_payload) {
		if ((a->payload = jf_malloc(pl)) == NULL) {
			r = JF_ERR_NOMEM;
			goto fail;
		}
		memcpy(a->payload, pay, pl);
		a->payload_len = pl;
	}
	return 0;
fail:
	jf_artifact_free(a);
	return r;
}

int
jf_blob_decode(const uint8_t *blob, size_t len, void *verify_key, jf_artifact_t *a,
    char *err, size_t errlen)
{
	return decode(blob, len, verify_key, a, 1, err, errlen);
}

int
jf_blob_peek(const uint8_t *blob, size_t len, jf_manifest_t *m, char *err, size_t errlen)
{
	jf_artifact_t a;
	int r = decode(blob, len, NULL, &a, 0, err, errlen);

	*m = a.m;       /* the caller now owns the manifest's strings */
	return r;
}

void
jf_manifest_free(jf_manifest_t *m)
{
	size_t i;

	if (m == NULL)
		return;
	jf_free(m->ns);
	jf_free(m->compiler);
	jf_free(m->producer);
	for (i = 0; i < m->nsymbols; i++)
		jf_free(m->symbols[i]);
	jf_free(m->symbols);
	memset(m, 0, sizeof(*m));
}

void
jf_artifact_free(jf_artifact_t *a)
{
	if (a == NULL)
		return;
	jf_manifest_free(&a->m);
	jf_free(a->payload);
	memset(a, 0, sizeof(*a));
}

static int
strdup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s != NULL && (*out = jf_strdup(s)) == NULL)
		return JF_ERR_NOMEM;
	return 0;
}

int
jf_manifest_copy(jf_manifest_t *dst, const jf_manifest_t *src)
{
	size_t i;

	*dst = *src;
	dst->ns = dst->compiler = dst->producer = NULL;
	dst->symbols = NULL;
	dst->nsymbols = 0;
	if (strdup_opt(src->ns, &dst->ns) || strdup_opt(src->compiler, &dst->compiler) ||
	    strdup_opt(src->producer, &dst->producer))
		goto oom;
	if (src->nsymbols) {
		if ((dst->symbols = jf_calloc(src->nsymbols, sizeof(char *))) == NULL)
			goto oom;
		for (i = 0; i < src->nsymbols; i++) {
			if (strdup_opt(src->symbols[i], &dst->symbols[i]))
				goto oom;
			dst->nsymbols++;
		}
	}
	return 0;
oom:
	jf_manifest_free(dst);
	return JF_ERR_NOMEM;
}
