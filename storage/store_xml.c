/*
 * store_xml.c - bounded scans of S3 and STS answers (store_xml.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "store_xml.h"

const char *
jf_xml_find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	if (p == NULL || p >= end || (size_t)(end - p) < n)
		return NULL;
	return memmem(p, (size_t)(end - p), needle, n);
}

int
jf_xml_text(const char *p, const char *end, const char *tag, const char **v, size_t *vlen)
{
	char open[64], close[64];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if ((a = jf_xml_find(p, end, open)) == NULL)
		return -1;
	a += strlen(open);
	if ((b = jf_xml_find(a, end, close)) == NULL)
		return -1;
	*v = a;
	*vlen = (size_t)(b - a);
	return 0;
}

int
jf_xml_get(const char *p, const char *end, const char *tag, char *out, size_t outlen)
{
	static const struct {
		const char *e;
		char c;
	} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' } };
	const char *v, *r, *vend;
	size_t vlen, o = 0;

	if (outlen == 0 || jf_xml_text(p, end, tag, &v, &vlen) != 0)
		return -1;
	for (r = v, vend = v + vlen; r < vend; ) {
		size_t i;
		char c = *r;

		for (i = 0; i < JF_ARRAY_LEN(ents); i++) {
			size_t n = strlen(ents[i].e);

			if ((size_t)(vend - r) >= n && memcmp(r, ents[i].e, n) == 0) {
				c = ents[i].c;
				r += n - 1;
				break;
			}
		}
		r++;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int64_t
jf_xml_time_ms(const char *v, size_t n)
{
	char d[64];
	struct tm tm = { 0 };
	int y, mo, da, h, mi, se;

	if (n >= sizeof(d))
		return 0;
	memcpy(d, v, n);
	d[n] = '\0';
	if (sscanf(d, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &da, &h, &mi, &se) != 6)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = da;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (int64_t)timegm(&tm) * 1000;
}
