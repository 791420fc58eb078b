/*
 * store_backend.c - the query-string helpers every backend reads its
 * parameters with, on the one URL layer (common/url.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "common/util.h"
#include "store_backend.h"

int
jf_store_url_param(const char *url, const char *name, char *buf, size_t len)
{
	const char *q = strchr(url, '?'), *v;
	jf_query_t *qs;
	int r;

	if (len == 0)
		return JF_ERR_TOOBIG;
	buf[0] = '\0';
	if (q == NULL)
		return 0;
	if ((qs = jf_malloc(sizeof(*qs))) == NULL)
		return JF_ERR_NOMEM;
	if (jf_query_parse(q + 1, NULL, qs, NULL, 0) != 0)
		r = JF_ERR_INVAL;
	else if ((v = jf_query_get(qs, name)) == NULL)
		r = 0;
	else
		r = jf_strlcpy(buf, v, len) >= len ? JF_ERR_TOOBIG : 1;
	jf_free(qs);
	return r;
}

long
jf_store_url_long(const char *url, const char *name, long def)
{
	char v[32], *end;
	long n;
	int r = jf_store_url_param(url, name, v, sizeof(v));

	if (r == 0)
		return def;
	if (r < 0 || v[0] == '\0')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*end != '\0' || errno != 0 || n < 0)
		return -1;
	return n;
}
