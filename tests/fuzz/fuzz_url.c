/*
 * fuzz_url.c - the URL layer (common/url.h): the master's query parser
 * (every request URI a client sends), percent-decoding and -encoding, and
 * store and farm URLs as a config file or a flag gives them.
 *
 * Input: one byte that picks the function, then its text.
 *  - jf_query_parse, with and without the compile route's parameter list:
 *    names are unique, known when a list is given, and at most
 *    JF_QUERY_MAX; encoding every pair again and parsing that gives the
 *    same pairs, and jf_query_get finds each value.
 *  - jf_url_decode then jf_url_encode (with and without keeping '/') then
 *    jf_url_decode: the same bytes, and no decoded NUL ever.
 *  - jf_url_parse: every field NUL-terminated, the port in range, the
 *    scheme lower case; parsing twice gives the same result.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/url.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const compile_params[] = {
	"opt", "triple", "cpu", "features", "namespace", "program", "wait", NULL
};

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static void
check_query(const char *q, const char *const *allowed)
{
	static jf_query_t a, b;
	static char again[JF_QUERY_MAX * (3 * 64 + 3 * JF_URL_PART_MAX + 2) + 1];
	char err[256];
	size_t off = 0;
	int i, j;

	if (jf_query_parse(q, allowed, &a, err, sizeof(err)) != 0)
		return;
	FZ_CHECK(a.n >= 0 && a.n <= JF_QUERY_MAX);
	for (i = 0; i < a.n; i++) {
		FZ_CHECK(TERMINATED(a.kv[i].name) && TERMINATED(a.kv[i].value));
		FZ_CHECK(a.kv[i].name[0] != '\0');
		for (j = 0; j < i; j++)
			FZ_CHECK(strcmp(a.kv[i].name, a.kv[j].name) != 0);
		if (allowed != NULL) {
			for (j = 0; allowed[j] != NULL && strcmp(allowed[j], a.kv[i].name); j++)
				;
			FZ_CHECK(allowed[j] != NULL);
		}
		FZ_CHECK(jf_query_get(&a, a.kv[i].name) == a.kv[i].value);
		/* the pair again, encoded */
		if (i > 0)
			again[off++] = '&';
		FZ_CHECK(jf_url_encode(a.kv[i].name, 0, again + off, sizeof(again) - off) == 0);
		off += strlen(again + off);
		again[off++] = '=';
		FZ_CHECK(jf_url_encode(a.kv[i].value, 0, again + off, sizeof(again) - off) == 0);
		off += strlen(again + off);
	}
	again[off] = '\0';
	FZ_CHECK(jf_query_parse(again, allowed, &b, err, sizeof(err)) == 0);
	FZ_CHECK(b.n == a.n);
	for (i = 0; i < a.n; i++)
		FZ_CHECK(strcmp(a.kv[i].name, b.kv[i].name) == 0 &&
		    strcmp(a.kv[i].value, b.kv[i].value) == 0);
}

static void
check_coding(const char *in, size_t n)
{
	static char dec[4096], enc[3 * sizeof(dec)], dec2[sizeof(dec)];
	int keep;

	if (jf_url_decode(in, n, dec, sizeof(dec)) != 0)
		return;
	FZ_CHECK(strlen(dec) <= n);
	for (keep = 0; keep < 2; keep++) {
		FZ_CHECK(jf_url_encode(dec, keep, enc, sizeof(enc)) == 0);
		FZ_CHECK(jf_url_decode(enc, strlen(enc), dec2, sizeof(dec2)) == 0);
		FZ_CHECK(strcmp(dec, dec2) == 0);
	}
}

static void
check_url(const char *s)
{
	static jf_url_t a, b;
	char err[256], host[300];
	const char *c;
	int r;

	r = jf_url_parse(s, &a, err, sizeof(err));
	FZ_CHECK(jf_url_parse(s, &b, err, sizeof(err)) == r);
	if (r != 0)
		return;
	FZ_CHECK(TERMINATED(a.scheme) && TERMINATED(a.user) && TERMINATED(a.password) &&
	    TERMINATED(a.host) && TERMINATED(a.path) && TERMINATED(a.query));
	FZ_CHECK(a.port >= 0 && a.port <= 65535);
	for (c = a.scheme; *c != '\0'; c++)
		FZ_CHECK(!isupper((unsigned char)*c));
	FZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	jf_url_host_fmt(a.host, host, sizeof(host));
	FZ_CHECK(TERMINATED(host));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1 || size > 65536)
		return 0;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		check_query(s, NULL);
		check_query(s, compile_params);
		break;
	case 1:
		check_coding((const char *)data + 1, size - 1);
		break;
	default:
		check_url(s);
		break;
	}
	free(s);
	return 0;
}
