/*
 * key.c - artifact key derivation and the helpers around keys.
 *
 * The encoding is a sequence of fields, each a 4-byte big-endian length
 * followed by that many bytes, in a fixed order that starts with the
 * format tag. Length prefixes make the encoding injective: no two
 * different specs can produce the same byte string by shifting text
 * between neighbouring fields. See docs/format.md for the field list.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include <llvm/Config/llvm-config.h>

#include "jitfarm/error.h"
#include "key.h"
#include "util.h"

int
jf_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	/* EVP_Digest fails only when OpenSSL cannot allocate its context;
	 * the caller hears of it, and out holds no hash that could match. */
	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1) {
		memset(out, 0, 32);
		return JF_ERR_NOMEM;
	}
	return 0;
}

const char *
jf_compiler_id(void)
{
	return "jitfarm/" JF_VERSION " llvm/" LLVM_VERSION_STRING;
}

int
jf_opt_valid(char c)
{
	return c != '\0' && strchr("0123sz", c) != NULL;
}

static void
hash_field(EVP_MD_CTX *ctx, const void *p, size_t len)
{
	uint8_t lenbuf[4];

	jf_put_u32(lenbuf, (uint32_t)len);
	EVP_DigestUpdate(ctx, lenbuf, 4);
	if (len > 0)
		EVP_DigestUpdate(ctx, p, len);
}

static void
hash_str(EVP_MD_CTX *ctx, const char *s)
{
	hash_field(ctx, s, strlen(s));
}

int
jf_key_derive(const jf_keyspec_t *spec, jf_key_t *out)
{
	const jf_target_t *t = spec->target;
	char canon[JF_FEATURES_MAX];
	char opt[2];
	EVP_MD_CTX *ctx;
	unsigned int n = 32;
	int r;

	memset(out, 0, sizeof(*out));
	if (t == NULL || !jf_opt_valid(t->opt) || t->triple[0] == '\0' ||
	    t->cpu[0] == '\0')
		return JF_ERR_INVAL;
	if ((r = jf_features_canon(t->features, canon, sizeof(canon))) != 0)
		return r;
	opt[0] = t->opt;
	opt[1] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return JF_ERR_NOMEM;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	hash_str(ctx, JF_KEY_FORMAT_TAG);
	hash_str(ctx, spec->ns ? spec->ns : "");
	hash_field(ctx, spec->program_id.b, JF_KEY_LEN);
	hash_str(ctx, t->triple);
	hash_str(ctx, t->cpu);
	hash_str(ctx, canon);
	hash_str(ctx, opt);
	hash_str(ctx, spec->pipeline ? spec->pipeline : "");
	hash_str(ctx, spec->reloc ? spec->reloc : "pic");
	hash_str(ctx, spec->code_model ? spec->code_model : "default");
	hash_str(ctx, spec->compiler ? spec->compiler : jf_compiler_id());
	r = EVP_DigestFinal_ex(ctx, out->b, &n) == 1 ? 0 : JF_ERR_NOMEM;
	EVP_MD_CTX_free(ctx);
	return r;
}

int
jf_program_id_from_ir(const void *ir, size_t len, jf_key_t *out)
{
	return jf_sha256(ir, len, out->b);
}

void
jf_key_hex(const jf_key_t *key, char out[JF_KEY_HEX_LEN + 1])
{
	jf_hex_encode(key->b, JF_KEY_LEN, out);
}

int
jf_key_from_hex(const char *hex, jf_key_t *out)
{
	return jf_hex_decode(hex, out->b, JF_KEY_LEN);
}

int
jf_key_eq(const jf_key_t *a, const jf_key_t *b)
{
	return memcmp(a->b, b->b, JF_KEY_LEN) == 0;
}

static int
feature_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static int
feature_cmp(const void *a, const void *b)
{
	/* compare names without the sign, so "+x" and "-x" sit together */
	return strcmp(*(const char *const *)a + 1, *(const char *const *)b + 1);
}

int
jf_features_canon(const char *in, char *out, size_t outlen)
{
	char buf[JF_FEATURES_MAX];
	char *items[1024];
	size_t n = 0, i, used = 0;
	char *p, *save = NULL;

	if (outlen == 0)
		return JF_ERR_TOOBIG;
	out[0] = '\0';
	if (in == NULL)
		return 0;
	if (jf_strlcpy(buf, in, sizeof(buf)) >= sizeof(buf))
		return JF_ERR_TOOBIG;
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char *e;

		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*p == '\0')
			continue;
		if ((*p != '+' && *p != '-') || p[1] == '\0')
			return JF_ERR_INVAL;
		for (e = p + 1; *e; e++)
			if (!feature_char_ok(*e))
				return JF_ERR_INVAL;
		if (n == JF_ARRAY_LEN(items))
			return JF_ERR_TOOBIG;
		/* a later mention of the same name overrides an earlier one */
		for (i = 0; i < n; i++)
			if (strcmp(items[i] + 1, p + 1) == 0)
				break;
		if (i < n)
			items[i] = p;
		else
			items[n++] = p;
	}
	qsort(items, n, sizeof(items[0]), feature_cmp);
	for (i = 0; i < n; i++) {
		size_t l = strlen(items[i]);

		if (used + l + (i ? 1 : 0) + 1 > outlen)
			return JF_ERR_TOOBIG;
		if (i)
			out[used++] = ',';
		memcpy(out + used, items[i], l);
		used += l;
	}
	out[used] = '\0';
	return 0;
}

int
jf_spec_set(jf_spec_t *s, const char *ns, const jf_key_t *program_id, const char *triple,
    const char *cpu, const char *features, char opt, char *err, size_t errlen)
{
	const struct {
		const char *name, *v;
		char *dst;
		size_t cap;
	} f[] = {
		{ "namespace", ns, s->ns, sizeof(s->ns) },
		{ "triple", triple, s->triple, sizeof(s->triple) },
		{ "cpu", cpu, s->cpu, sizeof(s->cpu) },
		{ "features", features, s->features, sizeof(s->features) },
	};
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (jf_strlcpy(f[i].dst, f[i].v ? f[i].v : "", f[i].cap) >= f[i].cap)
			return jf_seterr(err, errlen, JF_ERR_TOOBIG, "%s is longer than %zu bytes",
			    f[i].name, f[i].cap - 1);
	if (opt != 0 && !jf_opt_valid(opt))
		return jf_seterr(err, errlen, JF_ERR_INVAL, "bad opt level '%c'", opt);
	s->opt = opt;
	if (program_id != NULL) {
		s->has_program = 1;
		s->program_id = *program_id;
	}
	return 0;
}
