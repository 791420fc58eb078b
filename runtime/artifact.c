/*
 * artifact.c - the one path from stored bytes to a loaded program.
 *
 * An artifact, wherever it comes from (the store at open, the change
 * feed, an on-demand fetch, or a compile on the farm), takes the same
 * path: its manifest must derive, from this node's namespace and target,
 * exactly the key it is stored under (else it is for another node and
 * is skipped), its payload hash must match, and with a public key
 * configured its signature must verify (else it is rejected and never
 * loaded). So a node that compiled a program and a node that only heard
 * of it end up with the same map.
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "artifact.h"

int
jf_art_derive_key(jf_runtime_t *rt, const uint64_t id[4], jf_key_t *out)
{
	jf_keyspec_t spec;

	memset(&spec, 0, sizeof(spec));
	spec.ns = rt->ns;
	memcpy(spec.program_id.b, id, 32);
	spec.target = &rt->target;
	return jf_key_derive(&spec, out);
}

int
jf_art_store_open(jf_runtime_t *rt, jf_store_t **out, char *err, size_t errlen)
{
	jf_store_opts_t o;

	memset(&o, 0, sizeof(o));
	/* a node never writes or deletes: verification is its own business */
	o.read_only = 1;
	o.keep_corrupt = 1;
	return jf_store_open(rt->store_url, &o, out, err, errlen);
}

void
jf_art_program_free(jf_runtime_t *rt, jf_program_t *p)
{
	char err[256];
	size_t i;

	if (p == NULL)
		return;
	if (p->handle != NULL) {
		pthread_mutex_lock(&rt->load_lock);
		if (jf_loader_remove(rt->loader, p->handle, err, sizeof(err)) != 0)
			jf_warn("runtime: unloading a program: %s", err);
		pthread_mutex_unlock(&rt->load_lock);
	}
	for (i = 0; i < p->nsyms; i++)
		jf_free(p->syms[i].name);
	jf_free(p->syms);
	jf_free(p);
}

/* Is the blob for this node, under this key? 0, JF_ERR_NOTFOUND (another
 * node's), or a jf_err (ours, but wrong). Sets id. */
static int
check_ours(jf_runtime_t *rt, const jf_key_t *key, const uint8_t *blob, size_t len,
    uint64_t id[4], char *err, size_t errlen)
{
	jf_manifest_t m;
	jf_key_t want;
	int r;

	/* the manifest alone; the hash is checked here too */
	if ((r = jf_blob_peek(blob, len, &m, err, errlen)) != 0)
		return r;
	memcpy(id, m.program_id.b, 32);
	r = jf_art_derive_key(rt, id, &want);
	if (r == 0 && !jf_key_eq(&want, key))
		r = JF_ERR_NOTFOUND;
	if (r == 0 && !jf_key_eq(&m.key, key))
		r = jf_seterr(err, errlen, JF_ERR_INTEGRITY, "stored under another key");
	jf_manifest_free(&m);
	return r;
}

int
jf_art_load(jf_runtime_t *rt, const jf_key_t *key, const uint8_t *blob, size_t len,
    jf_program_t **out, uint64_t id[4], char *err, size_t errlen)
{
	jf_artifact_t a;
	jf_program_t *p = NULL;
	const char **names = NULL;
	void **addrs = NULL;
	char name[JF_KEY_HEX_LEN + 32], hex[JF_KEY_HEX_LEN + 1];
	size_t i, n;
	int r, have_a = 0;

	*out = NULL;
	memset(&a, 0, sizeof(a));
	if ((r = check_ours(rt, key, blob, len, id, err, errlen)) != 0)
		return r;
	/* ours: full decode, with the signature when a key is configured */
	if ((r = jf_blob_decode(blob, len, rt->verify_key, &a, err, errlen)) != 0)
		goto out;
	have_a = 1;
	r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory loading an artifact");
	n = a.m.nsymbols + 1;
	if ((p = jf_calloc(1, sizeof(*p))) == NULL ||
	    (names = jf_calloc(n, sizeof(*names))) == NULL ||
	    (addrs = jf_calloc(n, sizeof(*addrs))) == NULL ||
	    (p->syms = jf_calloc(n, sizeof(*p->syms))) == NULL)
		goto out;
	p->key = *key;
	memcpy(p->id, id, 32);
	names[0] = rt->entry != NULL ? rt->entry :
	    (a.m.nsymbols > 0 ? a.m.symbols[0] : NULL);
	if (names[0] == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_FORMAT, "artifact names no symbol");
		goto out;
	}
	for (i = 0; i < a.m.nsymbols; i++)
		names[i + 1] = a.m.symbols[i];
	jf_key_hex(key, hex);
	pthread_mutex_lock(&rt->load_lock);
	snprintf(name, sizeof(name), "jf-%.16s-%llu", hex,
	    (unsigned long long)++rt->load_seq);
	r = jf_loader_add(rt->loader, name, a.payload, a.payload_len, names, n, addrs,
	    &p->handle, err, errlen);
	pthread_mutex_unlock(&rt->load_lock);
	if (r != 0)
		goto out;
	p->entry = addrs[0];
	p->code_bytes = a.payload_len;
	for (i = 1; i < n; i++) {
		if ((p->syms[p->nsyms].name = jf_strdup(names[i])) == NULL) {
			r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory loading an artifact");
			goto out;
		}
		p->syms[p->nsyms].addr = addrs[i];
		p->nsyms++;
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	jf_art_program_free(rt, p);
	jf_free(names);
	jf_free(addrs);
	if (have_a)
		jf_artifact_free(&a);
	return r;
}
