/*
 * store_xml.h - the bounded XML scans the S3 store and its STS client
 * read answers with (store_xml.c): the text of one element, found by
 * name inside a range, with the five predefined entities decoded. Not a
 * parser: S3's and STS's answers are flat and generated, and every scan
 * stays inside the bytes it was given.
 */
#ifndef JF_STORE_XML_H
#define JF_STORE_XML_H

#include <stddef.h>
#include <stdint.h>

/* Find needle in [p, end); NULL if absent. */
const char *jf_xml_find(const char *p, const char *end, const char *needle);
/* The raw text of the first <tag>...</tag> inside [p, end): 0 or -1. */
int jf_xml_text(const char *p, const char *end, const char *tag, const char **v, size_t *vlen);
/* The same, entities decoded, into out: 0, or -1 (absent or too long). */
int jf_xml_get(const char *p, const char *end, const char *tag, char *out, size_t outlen);

/* An ISO 8601 UTC time as S3 and STS write it ("2026-12-04T19:40:00Z",
 * fractions ignored) in n bytes: ms since the epoch, or 0 if malformed. */
int64_t jf_xml_time_ms(const char *v, size_t n);

#endif
