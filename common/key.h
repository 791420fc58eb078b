/*
 * key.h - program ids, artifact keys and the target they are made for.
 *
 * The artifact key is a wire contract shared by the master, the nodes and
 * the CLI: every party that derives it from the same inputs must get the
 * same 32 bytes, without seeing the IR. It is the SHA-256 of a canonical,
 * length-prefixed encoding (docs/format.md). Changing the encoding means
 * bumping JF_KEY_FORMAT_TAG, which turns every old entry into garbage for
 * gc instead of serving stale code.
 */
#ifndef JF_KEY_H
#define JF_KEY_H

#include <stddef.h>
#include <stdint.h>

#define JF_KEY_LEN 32
#define JF_KEY_HEX_LEN 64
#define JF_KEY_FORMAT_TAG "jitfarm-key/1"

#define JF_VERSION "0.1.0"

#define JF_TRIPLE_MAX 128
#define JF_CPU_MAX 64
#define JF_FEATURES_MAX 4096
#define JF_NS_MAX 128

typedef struct jf_key {
	uint8_t b[JF_KEY_LEN];
} jf_key_t;

/*
 * A fully resolved compile target: no defaults, no "host". Two parties
 * holding equal jf_target_t values derive equal keys. features is the
 * canonical form (see jf_features_canon).
 */
typedef struct jf_target {
	char triple[JF_TRIPLE_MAX];
	char cpu[JF_CPU_MAX];
	char features[JF_FEATURES_MAX];
	char opt;                       /* '0' '1' '2' '3' 's' 'z' */
} jf_target_t;

/* Everything that decides an artifact's bytes, apart from the IR itself,
 * which program_id stands for. */
typedef struct jf_keyspec {
	const char *ns;                 /* namespace; NULL means "" */
	jf_key_t program_id;
	const jf_target_t *target;
	const char *pipeline;           /* NULL means the default for opt */
	const char *reloc;              /* NULL means "pic" */
	const char *code_model;         /* NULL means "default" */
	const char *compiler;           /* NULL means jf_compiler_id() */
} jf_keyspec_t;

/*
 * What to compile, as every request carries it: the master's parsed HTTP
 * request, the farm client's request, the pool's job and the CLI's options
 * all embed this one struct. Strings are owned (fixed, NUL-terminated,
 * length-checked on the way in by jf_spec_set); "" means "the default"
 * (host triple, baseline CPU, no features, the master's namespace), and
 * opt 0 means '2'. It is not resolved: jf_target_resolve turns triple, cpu,
 * features and opt into a jf_target_t.
 */
typedef struct jf_spec {
	char ns[JF_NS_MAX];
	int has_program;                /* 0: program_id is the SHA-256 of the IR */
	jf_key_t program_id;
	char triple[JF_TRIPLE_MAX];
	char cpu[JF_CPU_MAX];
	char features[JF_FEATURES_MAX];
	char opt;                       /* '0' '1' '2' '3' 's' 'z'; 0 = '2' */
} jf_spec_t;

/* Fill a spec from borrowed strings (NULL = ""), program_id NULL for none.
 * Returns 0, JF_ERR_TOOBIG (a string does not fit; names the field in err)
 * or JF_ERR_INVAL (a bad opt level). */
int jf_spec_set(jf_spec_t *s, const char *ns, const jf_key_t *program_id,
    const char *triple, const char *cpu, const char *features, char opt,
    char *err, size_t errlen);

/* SHA-256 of len bytes (OpenSSL EVP). Returns 0, or JF_ERR_NOMEM when
 * OpenSSL cannot allocate (out is then zeroed, never a usable hash). */
int jf_sha256(const void *data, size_t len, uint8_t out[32]);

/* Derive the artifact key. Returns 0 or JF_ERR_INVAL for an incomplete
 * spec (no target, bad opt level). */
int jf_key_derive(const jf_keyspec_t *spec, jf_key_t *out);

/* The default program id: SHA-256 of the IR bytes. */
int jf_program_id_from_ir(const void *ir, size_t len, jf_key_t *out);

void jf_key_hex(const jf_key_t *key, char out[JF_KEY_HEX_LEN + 1]);
int jf_key_from_hex(const char *hex, jf_key_t *out);
int jf_key_eq(const jf_key_t *a, const jf_key_t *b);

/*
 * Canonicalise a comma-separated LLVM feature string: trim blanks, drop
 * empty items, require a '+' or '-' sign on each item, sort bytewise, and
 * for repeated names keep the last sign given. "+b,+a" and " +a , +b"
 * both become "+a,+b". Returns 0, JF_ERR_INVAL (an item without a sign
 * or with bad characters) or JF_ERR_TOOBIG (does not fit in outlen).
 */
int jf_features_canon(const char *in, char *out, size_t outlen);

/* Is c a valid opt level character? */
int jf_opt_valid(char c);

/* "jitfarm/<version> llvm/<version>": part of every key. */
const char *jf_compiler_id(void);

#endif
