/*
 * json.h - the one JSON layer: jansson (libjansson-dev), with two helpers
 * so every parser in jitfarm is equally strict and every emitter escapes.
 * Code includes <jansson.h> through this header and builds values with
 * jansson's own API; JSON text is never assembled by hand.
 */
#ifndef JF_JSON_H
#define JF_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

/* Parse exactly n bytes of JSON (no trailing text, duplicate object keys
 * refused, NUL in strings refused). *out is a new reference. Returns 0 or
 * JF_ERR_INVAL with jansson's message (line and column) in err. */
int jf_json_parse(const void *p, size_t n, json_t **out, char *err, size_t errlen);

/* Append the compact encoding of j to b (no newline). Returns 0 or
 * JF_ERR_NOMEM. */
int jf_json_dump(const json_t *j, jf_buf_t *b);

#endif
