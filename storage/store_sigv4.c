/*
 * store_sigv4.c - AWS SigV4 request signing (store_sigv4.h).
 *
 *   canonical request = METHOD \n path \n sorted query \n
 *                       name:trimmed value \n ... \n \n signed;names \n payload hash
 *   string to sign    = AWS4-HMAC-SHA256 \n date \n scope \n hex(sha256(canonical))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, yyyymmdd), region),
 *                       service), "aws4_request")
 *   signature         = hex(HMAC(signing key, string to sign))
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jitfarm/error.h"
#include "common/buf.h"
#include "common/key.h"
#include "common/mem.h"
#include "common/util.h"
#include "store_sigv4.h"

void
jf_sigv4_hash_hex(const void *p, size_t n, char out[65])
{
	uint8_t h[32];

	jf_sha256(p, n, h);
	jf_hex_encode(h, sizeof(h), out);
	out[64] = '\0';
}

void
jf_sigv4_date(int64_t t, char out[JF_SIGV4_DATE_LEN + 1])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, JF_SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

static int
hmac(const void *key, size_t klen, const char *msg, uint8_t out[32])
{
	unsigned int olen = 32;

	return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out,
	    &olen) != NULL && olen == 32 ? 0 : JF_ERR_NOMEM;
}

/* By name, then by value (AWS sorts the encoded names, then values). */
static int
pair_cmp(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t xn = strcspn(x, "="), yn = strcspn(y, "=");
	int c = strncmp(x, y, xn < yn ? xn : yn);

	if (c != 0 || xn != yn)
		return c != 0 ? c : (xn < yn ? -1 : 1);
	return strcmp(x + xn, y + yn);
}

static int
hdr_cmp(const void *a, const void *b)
{
	return strcmp(((const jf_sigv4_hdr_t *)a)->name, ((const jf_sigv4_hdr_t *)b)->name);
}

/* The query's name=value pairs, sorted (a pair without '=' gets one). */
static void
canonical_query(jf_buf_t *b, const char *query)
{
	char *copy, **v = NULL, *p, *save = NULL;
	size_t n = 0, cap = 0, i;

	if (query == NULL || *query == '\0')
		return;
	if ((copy = jf_strdup(query)) == NULL) {
		b->err = JF_ERR_NOMEM;
		return;
	}
	for (p = strtok_r(copy, "&", &save); p != NULL; p = strtok_r(NULL, "&", &save))
		if (JF_VEC_PUSH(v, n, cap, p) != 0) {
			b->err = JF_ERR_NOMEM;
			goto out;
		}
	qsort(v, n, sizeof(*v), pair_cmp);
	for (i = 0; i < n; i++)
		jf_buf_printf(b, "%s%s%s", i ? "&" : "", v[i], strchr(v[i], '=') ? "" : "=");
out:
	jf_free(v);
	jf_free(copy);
}

/* Trimall: no space at either end, runs of spaces as one. */
static void
header_value(jf_buf_t *b, const char *v)
{
	int space = 0, any = 0;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = any;
			continue;
		}
		if (space)
			jf_buf_putc(b, ' ');
		space = 0;
		any = 1;
		jf_buf_putc(b, *v);
	}
}

int
jf_sigv4_sign(const jf_sigv4_req_t *r, char *out, size_t outlen)
{
	jf_buf_t cr = JF_BUF_INIT, names = JF_BUF_INIT, sts = JF_BUF_INIT;
	jf_sigv4_hdr_t *h = NULL;
	char date[9], hash[65], secret[300], sig[65];
	uint8_t k[32];
	size_t i;
	int rc = JF_ERR_NOMEM;

	if (strlen(r->amz_date) != JF_SIGV4_DATE_LEN || r->nhdrs == 0)
		return JF_ERR_INVAL;
	memcpy(date, r->amz_date, 8);
	date[8] = '\0';
	if ((h = jf_memdup(r->hdrs, r->nhdrs * sizeof(*h))) == NULL)
		return JF_ERR_NOMEM;
	qsort(h, r->nhdrs, sizeof(*h), hdr_cmp);
	for (i = 1; i < r->nhdrs; i++)
		if (strcmp(h[i - 1].name, h[i].name) == 0) {
			rc = JF_ERR_INVAL;
			goto out;
		}
	jf_buf_printf(&cr, "%s\n%s\n", r->method, r->path[0] ? r->path : "/");
	canonical_query(&cr, r->query);
	jf_buf_putc(&cr, '\n');
	for (i = 0; i < r->nhdrs; i++) {
		jf_buf_printf(&cr, "%s:", h[i].name);
		header_value(&cr, h[i].value);
		jf_buf_putc(&cr, '\n');
		jf_buf_printf(&names, "%s%s", i ? ";" : "", h[i].name);
	}
	jf_buf_putc(&cr, '\n');
	jf_buf_printf(&cr, "%s\n%s", names.p ? (char *)names.p : "", r->payload_hash);
	if (jf_buf_error(&cr) || jf_buf_error(&names)) {
		rc = jf_buf_error(&cr) ? jf_buf_error(&cr) : jf_buf_error(&names);
		goto out;
	}
	jf_sigv4_hash_hex(cr.p, cr.len, hash);
	jf_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", r->amz_date, date,
	    r->region, r->service, hash);
	if (jf_buf_error(&sts) ||
	    (size_t)snprintf(secret, sizeof(secret), "AWS4%s", r->secret_key) >= sizeof(secret)) {
		rc = jf_buf_error(&sts) ? jf_buf_error(&sts) : JF_ERR_TOOBIG;
		goto out;
	}
	if (hmac(secret, strlen(secret), date, k) != 0 || hmac(k, 32, r->region, k) != 0 ||
	    hmac(k, 32, r->service, k) != 0 || hmac(k, 32, "aws4_request", k) != 0 ||
	    hmac(k, 32, (const char *)sts.p, k) != 0)
		goto out;
	jf_hex_encode(k, 32, sig);
	sig[64] = '\0';
	rc = (size_t)snprintf(out, outlen,
	    "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request,SignedHeaders=%s,Signature=%s",
	    r->access_key, date, r->region, r->service, (char *)names.p, sig) >= outlen ?
	    JF_ERR_TOOBIG : 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(k, sizeof(k));
	jf_buf_free(&cr);
	jf_buf_free(&names);
	jf_buf_free(&sts);
	jf_free(h);
	return rc;
}
