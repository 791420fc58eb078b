/*
 * cc_entry.c - encoding, decoding and storing `jitfarm cc`'s cache
 * entries (cc_entry.h has the format), and the header list an entry
 * keeps for direct mode.
 *
 * Entries come from a shared store, so decoding trusts nothing: every
 * line and section is length-checked, and an entry that does not decode
 * is a miss, never an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/buf.h"
#include "common/mem.h"
#include "common/util.h"
#include "storage/store.h"
#include "cli/cc_entry.h"
#include "cli/cc_path.h"

#define CC_MAX_FILE (256u << 20)
#define CC_MAX_HEADERS 20000

void
jf_cc_entry_free(jf_cc_entry_t *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->nh; i++)
		jf_free(e->h[i].path);
	jf_free(e->h);
	jf_free(e->dep);
	jf_free(e->err);
	memset(e, 0, sizeof(*e));
}

int
jf_cc_hash_file(const char *path, uint8_t out[32], int *volatile_macros)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = jf_file_read(path, CC_MAX_FILE, &buf, &len)) != 0)
		return r;
	jf_sha256(buf, len, out);
	if (volatile_macros != NULL)
		*volatile_macros = memmem(buf, len, "__DATE__", 8) != NULL ||
		    memmem(buf, len, "__TIME__", 8) != NULL ||
		    memmem(buf, len, "__TIMESTAMP__", 13) != NULL;
	free(buf);      /* jf_file_read's buffer is the C library's */
	return 0;
}

/* Append a header; the entry takes path. */
static void
add_header(jf_cc_entry_t *e, char *path, const uint8_t sha[32])
{
	jf_cc_header_t h;

	h.path = path;
	memcpy(h.sha, sha, 32);
	if (JF_VEC_PUSH(e->h, e->nh, e->caph, h) != 0)
		abort();        /* the CLI's OOM policy, as jf_x* */
}

static void
entry_encode(const jf_cc_entry_t *e, jf_buf_t *b)
{
	char hex[JF_KEY_HEX_LEN + 1], shahex[65];
	size_t i;

	jf_key_hex(&e->object, hex);
	jf_buf_printf(b, "jitfarm-cc 1\nobject %s\n", hex);
	for (i = 0; i < e->nh; i++) {
		jf_hex_encode(e->h[i].sha, 32, shahex);
		jf_buf_printf(b, "header %s %s\n", shahex, e->h[i].path);
	}
	jf_buf_printf(b, "depfile %zu\n", e->dep_len);
	jf_buf_put(b, e->dep, e->dep_len);
	jf_buf_printf(b, "\nstderr %zu\n", e->err_len);
	jf_buf_put(b, e->err, e->err_len);
	jf_buf_putc(b, '\n');
}

/* Take the next line of [*p, end) without its '\n' into line (NUL-ended);
 * JF_ERR_FORMAT when there is none or it is too long. */
static int
next_line(const uint8_t **p, const uint8_t *end, char *line, size_t max)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t l;

	if (nl == NULL || (l = (size_t)(nl - *p)) >= max || memchr(*p, '\0', l) != NULL)
		return JF_ERR_FORMAT;
	memcpy(line, *p, l);
	line[l] = '\0';
	*p = nl + 1;
	return 0;
}

/* A "NAME N\n" + N bytes + "\n" section. */
static int
take_section(const uint8_t **p, const uint8_t *end, const char *name, uint8_t **out,
    size_t *outlen)
{
	char line[64], want[32];
	unsigned long long n;
	int r;

	if ((r = next_line(p, end, line, sizeof(line))) != 0)
		return r;
	snprintf(want, sizeof(want), "%s %%llu", name);
	if (sscanf(line, want, &n) != 1 || n > (unsigned long long)(end - *p) ||
	    (size_t)(end - *p) - n < 1 || (*p)[n] != '\n')
		return JF_ERR_FORMAT;
	*out = n > 0 ? jf_memdup(*p, (size_t)n) : NULL;
	*outlen = (size_t)n;
	if (n > 0 && *out == NULL)
		abort();
	*p += n + 1;
	return 0;
}

/* One "header SHA PATH" line. */
static int
take_header(const uint8_t **p, const uint8_t *end, jf_cc_entry_t *e)
{
	char line[PATH_MAX + 128];
	uint8_t sha[32];

	if (next_line(p, end, line, sizeof(line)) != 0 || strlen(line) < 7 + 64 + 2 ||
	    line[7 + 64] != ' ' || e->nh >= CC_MAX_HEADERS)
		return JF_ERR_FORMAT;
	line[7 + 64] = '\0';
	if (jf_hex_decode(line + 7, sha, 32) != 0)
		return JF_ERR_FORMAT;
	add_header(e, jf_xstrdup(line + 7 + 65), sha);
	return 0;
}

static int
entry_decode(const uint8_t *b, size_t len, jf_cc_entry_t *e)
{
	const uint8_t *p = b, *end = b + len;
	char line[JF_KEY_HEX_LEN + 16];

	memset(e, 0, sizeof(*e));
	if (next_line(&p, end, line, sizeof(line)) != 0 || strcmp(line, "jitfarm-cc 1") != 0 ||
	    next_line(&p, end, line, sizeof(line)) != 0 || strncmp(line, "object ", 7) != 0 ||
	    jf_key_from_hex(line + 7, &e->object) != 0)
		goto bad;
	while ((size_t)(end - p) > 7 && memcmp(p, "header ", 7) == 0)
		if (take_header(&p, end, e) != 0)
			goto bad;
	if (take_section(&p, end, "depfile", &e->dep, &e->dep_len) != 0 ||
	    take_section(&p, end, "stderr", &e->err, &e->err_len) != 0)
		goto bad;
	return 0;
bad:
	jf_cc_entry_free(e);
	return JF_ERR_FORMAT;
}

int
jf_cc_entry_get(struct jf_store *s, const jf_key_t *k, jf_cc_entry_t *e)
{
	jf_artifact_t art;
	uint8_t *blob = NULL;
	size_t blen = 0;
	char why[256];
	int r;

	memset(e, 0, sizeof(*e));
	memset(&art, 0, sizeof(art));
	if ((r = jf_store_get(s, k, &blob, &blen)) != 0)
		goto out;
	if (jf_blob_decode(blob, blen, NULL, &art, why, sizeof(why)) != 0 || art.m.ns == NULL ||
	    strcmp(art.m.ns, JF_CC_NS) != 0 || entry_decode(art.payload, art.payload_len, e) != 0)
		r = JF_ERR_NOTFOUND;
out:
	jf_artifact_free(&art);
	jf_free(blob);  /* the store returns jf_malloc memory */
	return r;
}

int
jf_cc_entry_put(struct jf_store *s, const jf_key_t *k, const jf_cc_entry_t *e)
{
	jf_artifact_t art;
	char ns[] = JF_CC_NS, producer[] = "jitfarm cc", comp[256];
	jf_buf_t text = JF_BUF_INIT;
	uint8_t *blob = NULL;
	size_t blen = 0;
	int r;

	memset(&art, 0, sizeof(art));
	entry_encode(e, &text);
	if ((r = jf_buf_error(&text)) != 0)
		goto out;
	art.m.key = *k;
	art.m.ns = ns;
	art.m.program_id = *k;
	jf_strlcpy(art.m.target.triple, "jitfarm-cc-entry", sizeof(art.m.target.triple));
	jf_strlcpy(art.m.target.cpu, "none", sizeof(art.m.target.cpu));
	art.m.target.opt = '0';
	jf_strlcpy(comp, jf_compiler_id(), sizeof(comp));
	art.m.compiler = comp;
	art.m.created_ms = jf_wall_ms();
	art.m.producer = producer;
	art.payload = text.p;
	art.payload_len = text.len;
	if ((r = jf_blob_encode(&art, NULL, &blob, &blen)) != 0)
		goto out;
	r = jf_store_put(s, k, blob, blen);
out:
	jf_buf_free(&text);
	free(blob);     /* jf_blob_encode's buffer is the C library's */
	return r;
}

int
jf_cc_entry_add_headers(jf_cc_entry_t *e, const char *list, const char *cwd,
    const char *base, int *volatile_hdr)
{
	uint8_t *buf = NULL, sha[32];
	size_t len = 0, i;
	char *p, *nl, *rel;
	int r, v, dup;

	*volatile_hdr = 0;
	if ((r = jf_file_read(list, 64u << 20, &buf, &len)) != 0)
		return r == JF_ERR_NOTFOUND ? 0 : r;    /* no header at all: no file */
	/* jf_file_read NUL-terminates */
	for (p = (char *)buf; p < (char *)buf + len; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		*nl = '\0';
		if (*p == '\0')
			continue;
		rel = jf_cc_relpath(p, cwd, base);
		for (i = 0, dup = 0; i < e->nh && !dup; i++)
			dup = strcmp(e->h[i].path, rel) == 0;
		if (dup || e->nh >= CC_MAX_HEADERS) {
			jf_free(rel);
			continue;
		}
		if ((r = jf_cc_hash_file(p, sha, &v)) != 0) {
			jf_free(rel);
			goto out;
		}
		add_header(e, rel, sha);
		*volatile_hdr |= v;
	}
	r = 0;
out:
	free(buf);
	return r;
}

int
jf_cc_entry_headers_match(const jf_cc_entry_t *e)
{
	uint8_t sha[32];
	size_t i;

	for (i = 0; i < e->nh; i++)
		if (jf_cc_hash_file(e->h[i].path, sha, NULL) != 0 || memcmp(sha, e->h[i].sha, 32) != 0)
			return 0;
	return 1;
}
