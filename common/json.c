/*
 * json.c - the jansson helpers of json.h.
 */
#include <string.h>

#include "jitfarm/error.h"
#include "json.h"
#include "util.h"

int
jf_json_parse(const void *p, size_t n, json_t **out, char *err, size_t errlen)
{
	json_error_t je;

	*out = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
	if (*out == NULL)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "bad JSON at line %d column %d: %s",
		    je.line, je.column, je.text);
	return 0;
}

static int
dump_cb(const char *s, size_t n, void *arg)
{
	jf_buf_t *b = arg;

	jf_buf_put(b, s, n);
	return jf_buf_error(b) ? -1 : 0;
}

int
jf_json_dump(const json_t *j, jf_buf_t *b)
{
	if (json_dump_callback(j, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
		return jf_buf_error(b) ? jf_buf_error(b) : JF_ERR_NOMEM;
	return 0;
}
