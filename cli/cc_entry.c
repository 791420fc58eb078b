/*
 * cc_entry.c - encoding, decoding and storing `jitfarm cc`'s cache
 * entries (cc_entry.h has the format), and the header list an entry
 * keeps for direct mode.
 *
 * Entries come from a shared store, so decoding trusts nothing: every
 * line and section is length-checked, and an entry that does not decode
 * is a miss, never an error.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/buf.h"
#include "common/mem.h"
#include "common/util.h"
#include "storage/store.h"
#include "cli/cc_entry.h"
#include "cli/cc_hashcache.h"
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
	struct stat st;
	size_t len = 0;
	int r, vol;

	if (stat(path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR ? JF_ERR_NOTFOUND : JF_ERR_IO;
	if (S_ISREG(st.st_mode) && jf_cc_hc_get(&st, out, volatile_macros))
		return 0;
	if ((r = jf_file_read(path, CC_MAX_FILE, &buf, &len)) != 0)
		return r;
	if (jf_sha256(buf, len, out) != 0) {
		jf_free(buf);
		return JF_ERR_NOMEM;
	}
	vol = memmem(buf, len, "__DATE__", 8) != NULL || memmem(buf, len, "__TIME__", 8) != NULL ||
	    memmem(buf, len, "__TIMESTAMP__", 13) != NULL;
	if (volatile_macros != NULL)
		*volatile_macros = vol;
	jf_free(buf);   /* jf_file_read allocates through the jf_ family */
	/* what was read is what st describes only if the file did not change
	 * meanwhile: stat again */
	{
		struct stat st2;

		if (stat(path, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_size == st.st_size &&
		    st2.st_mtim.tv_sec == st.st_mtim.tv_sec &&
		    st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec &&
		    st2.st_ctim.tv_sec == st.st_ctim.tv_sec &&
		    st2.st_ctim.tv_nsec == st.st_ctim.tv_nsec && (size_t)st.st_size == len)
			jf_cc_hc_put(&st, out, vol);
	}
	return 0;
}

/* Append a header (sha NULL: absent); the entry takes path. */
static void
add_header(jf_cc_entry_t *e, char *path, const uint8_t *sha)
{
	jf_cc_header_t h;

	memset(&h, 0, sizeof(h));
	h.path = path;
	h.absent = sha == NULL;
	if (sha != NULL)
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
	jf_buf_printf(b, "jitfarm-cc 2\nobject %s\n", hex);
	for (i = 0; i < e->nh; i++) {
		jf_hex_encode(e->h[i].sha, 32, shahex);
		if (e->h[i].absent)
			jf_buf_printf(b, "absent %s\n", e->h[i].path);
		else
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

/* One "header SHA PATH" or "absent PATH" line. */
static int
take_header(const uint8_t **p, const uint8_t *end, jf_cc_entry_t *e)
{
	char line[PATH_MAX + 128];
	uint8_t sha[32];

	if (next_line(p, end, line, sizeof(line)) != 0 || e->nh >= CC_MAX_HEADERS)
		return JF_ERR_FORMAT;
	if (strncmp(line, "absent ", 7) == 0 && line[7] != '\0') {
		add_header(e, jf_xstrdup(line + 7), NULL);
		return 0;
	}
	if (strncmp(line, "header ", 7) != 0 || strlen(line) < 7 + 64 + 2 || line[7 + 64] != ' ')
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
	if (next_line(&p, end, line, sizeof(line)) != 0 || strcmp(line, "jitfarm-cc 2") != 0 ||
	    next_line(&p, end, line, sizeof(line)) != 0 || strncmp(line, "object ", 7) != 0 ||
	    jf_key_from_hex(line + 7, &e->object) != 0)
		goto bad;
	while ((size_t)(end - p) > 7 && (memcmp(p, "header ", 7) == 0 || memcmp(p, "absent ", 7) == 0))
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

/* Fetch the blob under k with namespace JF_CC_NS into *art. */
static int
blob_get(struct jf_store *s, const jf_key_t *k, jf_artifact_t *art)
{
	uint8_t *blob = NULL;
	size_t blen = 0;
	char why[256];
	int r;

	memset(art, 0, sizeof(*art));
	if ((r = jf_store_get(s, k, &blob, &blen)) != 0)
		goto out;
	if (jf_blob_decode(blob, blen, NULL, art, why, sizeof(why)) != 0 || art->m.ns == NULL ||
	    strcmp(art->m.ns, JF_CC_NS) != 0 || !jf_key_eq(&art->m.key, k)) {
		jf_artifact_free(art);
		memset(art, 0, sizeof(*art));
		r = JF_ERR_NOTFOUND;
	}
out:
	jf_free(blob);  /* the store returns jf_malloc memory */
	return r;
}

/* Store payload under k as a blob of namespace JF_CC_NS; what tells an
 * entry from an object. */
static int
blob_put(struct jf_store *s, const jf_key_t *k, const char *what, const uint8_t *payload,
    size_t len)
{
	jf_artifact_t art;
	char ns[] = JF_CC_NS, producer[] = "jitfarm cc", comp[256];
	uint8_t *blob = NULL;
	size_t blen = 0;
	int r;

	memset(&art, 0, sizeof(art));
	art.m.key = *k;
	art.m.ns = ns;
	art.m.program_id = *k;
	jf_strlcpy(art.m.target.triple, what, sizeof(art.m.target.triple));
	jf_strlcpy(art.m.target.cpu, "none", sizeof(art.m.target.cpu));
	art.m.target.opt = '0';
	jf_strlcpy(comp, jf_compiler_id(), sizeof(comp));
	art.m.compiler = comp;
	art.m.created_ms = jf_wall_ms();
	art.m.producer = producer;
	art.payload = (uint8_t *)(uintptr_t)payload;
	art.payload_len = len;
	if ((r = jf_blob_encode(&art, NULL, &blob, &blen)) == 0)
		r = jf_store_put(s, k, blob, blen);
	jf_free(blob);  /* jf_blob_encode's buffer is jf_malloc memory */
	return r;
}

int
jf_cc_entry_get(struct jf_store *s, const jf_key_t *k, jf_cc_entry_t *e)
{
	jf_artifact_t art;
	int r;

	memset(e, 0, sizeof(*e));
	if ((r = blob_get(s, k, &art)) == 0 && entry_decode(art.payload, art.payload_len, e) != 0)
		r = JF_ERR_NOTFOUND;
	jf_artifact_free(&art);
	return r;
}

int
jf_cc_entry_put(struct jf_store *s, const jf_key_t *k, const jf_cc_entry_t *e)
{
	jf_buf_t text = JF_BUF_INIT;
	int r;

	entry_encode(e, &text);
	if ((r = jf_buf_error(&text)) == 0)
		r = blob_put(s, k, "jitfarm-cc-entry", text.p, text.len);
	jf_buf_free(&text);
	return r;
}

int
jf_cc_object_get(struct jf_store *s, const jf_key_t *k, jf_artifact_t *art)
{
	return blob_get(s, k, art);
}

int
jf_cc_object_put(struct jf_store *s, const jf_key_t *k, const uint8_t *obj, size_t len)
{
	return blob_put(s, k, "jitfarm-cc-object", obj, len);
}

/* Record path (as clang opened it) once: present with its hash, or
 * absent. */
static int
record(jf_cc_entry_t *e, const char *path, const char *cwd, const char *base, int *vol)
{
	char *rel = jf_cc_relpath(path, cwd, base);
	uint8_t sha[32];
	size_t i;
	int r, v = 0;

	for (i = 0; i < e->nh; i++)
		if (strcmp(e->h[i].path, rel) == 0) {
			jf_free(rel);
			return 0;
		}
	if (e->nh >= CC_MAX_HEADERS) {
		jf_free(rel);
		return JF_ERR_TOOBIG;
	}
	r = jf_cc_hash_file(path, sha, &v);
	if (r != 0 && r != JF_ERR_NOTFOUND) {
		jf_free(rel);
		return JF_ERR_IO;
	}
	add_header(e, rel, r == 0 ? sha : NULL);
	*vol |= v;
	return 0;
}

/* The label of a graph line: [s, end of line) holds label="NAME"];
 * NAME is copied out. JF_ERR_FORMAT when it holds an escape (a
 * backslash) or a run of spaces (the graph writer turns a tab into two):
 * such a name cannot be read back for sure. */
static int
graph_label(const char *line, char *out, size_t max)
{
	const char *s = strstr(line, "label=\""), *q;
	size_t l;

	if (s == NULL)
		return JF_ERR_NOTFOUND;
	s += 7;
	if ((q = strstr(s, "\"];")) == NULL || (l = (size_t)(q - s)) == 0 || l >= max ||
	    memchr(s, '\\', l) != NULL || memchr(s, '"', l) != NULL)
		return JF_ERR_FORMAT;
	memcpy(out, s, l);
	out[l] = '\0';
	return strstr(out, "  ") != NULL ? JF_ERR_FORMAT : 0;
}

int
jf_cc_entry_add_graph(jf_cc_entry_t *e, const char *dot, const char *cwd,
    const char *base, int *volatile_hdr)
{
	char name[PATH_MAX], abs[PATH_MAX + 1], *p, *nl;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	*volatile_hdr = 0;
	if ((r = jf_file_read(dot, 64u << 20, &buf, &len)) != 0)
		return JF_ERR_IO;
	/* jf_file_read NUL-terminates */
	for (p = (char *)buf; p < (char *)buf + len; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		*nl = '\0';
		if (strncmp(p, "  header_", 9) != 0 || strstr(p, " -> ") != NULL)
			continue;
		if ((r = graph_label(p, name, sizeof(name))) == JF_ERR_NOTFOUND)
			continue;
		if (r != 0)
			goto out;
		if ((r = record(e, name, cwd, base, volatile_hdr)) != 0)
			goto out;
		if (name[0] != '/') {
			snprintf(abs, sizeof(abs), "/%s", name);
			if ((r = record(e, abs, cwd, base, volatile_hdr)) != 0)
				goto out;
		}
	}
	r = 0;
out:
	jf_free(buf);   /* jf_file_read allocates through the jf_ family */
	return r;
}

/* The length of dir's prefix of path ("A" of "A/x.h", "/abs" of
 * "abs/x.h" as the graph writes it, "." of "./x.h"), or 0. */
static size_t
under_dir(const char *path, const char *dir)
{
	size_t l;

	if (strcmp(dir, ".") == 0 || strcmp(dir, "./") == 0)
		return strncmp(path, "./", 2) == 0 ? 1 : 0;
	while (dir[0] == '/' && path[0] != '/')
		dir++;
	l = strlen(dir);
	while (l > 1 && dir[l - 1] == '/')
		l--;
	return l > 0 && strncmp(path, dir, l) == 0 && path[l] == '/' ? l : 0;
}

/* The index of the most specific directory of dirs that path is under
 * (the last of equals: the search found it there, not earlier), n when
 * none, and the length of its prefix in *pl. */
static size_t
dir_of(const char *path, char *const *dirs, size_t n, size_t *pl)
{
	size_t k, l, best = n;

	*pl = 0;
	for (k = 0; k < n; k++)
		if ((l = under_dir(path, dirs[k])) > 0 && l >= *pl) {
			best = k;
			*pl = l;
		}
	return best;
}

/* Record dirs[j]/name for every j < k. */
static int
record_shadows(jf_cc_entry_t *e, char *const *dirs, size_t k, const char *name,
    const char *cwd, const char *base)
{
	char p[PATH_MAX * 2 + 2];
	size_t j;
	int r, vol = 0;

	for (j = 0; j < k; j++) {
		snprintf(p, sizeof(p), "%s/%s", dirs[j], name);
		if ((r = record(e, p, cwd, base, &vol)) != 0)
			return r;
	}
	return 0;
}

int
jf_cc_entry_add_shadows(jf_cc_entry_t *e, char *const *dirs, size_t n, const char *cwd,
    const char *base)
{
	char **all = NULL, *d;
	size_t i, k, l, m = 0, cap = 0, nh = e->nh;
	int r = 0;

	/* the search order: the source's directory, then the directory of
	 * every header found under a named directory (a quote include looks
	 * next to its includer first), then the rest */
	if (n == 0)
		return 0;
	if (JF_VEC_PUSH(all, m, cap, jf_xstrdup(dirs[0])) != 0)
		abort();
	for (i = 0; i < nh; i++) {
		if (e->h[i].absent || dir_of(e->h[i].path, dirs, n, &l) == n ||
		    strrchr(e->h[i].path, '/') == NULL)
			continue;
		d = jf_xstrndup(e->h[i].path, (size_t)(strrchr(e->h[i].path, '/') - e->h[i].path));
		for (k = 0; k < m && strcmp(all[k], d) != 0; k++)
			;
		if (k < m || JF_VEC_PUSH(all, m, cap, d) != 0)
			jf_free(d);
	}
	for (i = 1; i < n; i++)
		if (JF_VEC_PUSH(all, m, cap, jf_xstrdup(dirs[i])) != 0)
			abort();
	for (i = 0; i < nh && r == 0; i++) {
		if (e->h[i].absent || (k = dir_of(e->h[i].path, all, m, &l)) == m)
			continue;
		r = record_shadows(e, all, k, e->h[i].path + l + 1, cwd, base);
	}
	for (i = 0; i < m; i++)
		jf_free(all[i]);
	jf_free(all);
	return r;
}

int
jf_cc_entry_headers_match(const jf_cc_entry_t *e)
{
	uint8_t sha[32];
	size_t i;
	int r;

	for (i = 0; i < e->nh; i++) {
		r = jf_cc_hash_file(e->h[i].path, sha, NULL);
		if (e->h[i].absent ? r != JF_ERR_NOTFOUND :
		    r != 0 || memcmp(sha, e->h[i].sha, 32) != 0)
			return 0;
	}
	return 1;
}
