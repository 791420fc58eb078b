/*
 * config.c - the config builder of runtime.h: a plain struct filled by
 * setters, each of which copies what it is given. jf_runtime_open copies
 * what it needs, so a config may be freed or reused after an open. Its
 * own memory is plain libc: a config exists before the host names its
 * allocator, and the allocator it names (mem.h) must be registered before
 * the library's first block, so the config itself never takes a block of
 * the family. That allocator then serves the runtimes opened with it.
 */
#include <stdlib.h>
#include <string.h>

#include "jitfarm/runtime.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/key.h"
#include "rt.h"

/* ---- config ------------------------------------------------------------------ */

static const int64_t tune_defaults[JF_TUNE_MAX] = {
	[JF_TUNE_HOT_THRESHOLD] = 100,
	[JF_TUNE_EVENT_BUFFER] = 1024,
	[JF_TUNE_DRAIN_INTERVAL_MS] = 2,
	[JF_TUNE_MAX_PENDING] = 8,
	[JF_TUNE_MAX_IR_BYTES] = 64 << 20,
	[JF_TUNE_COMPILE_TIMEOUT_MS] = 120000,
	[JF_TUNE_CODE_BUDGET] = 0,
	[JF_TUNE_IDLE_EVICT_MS] = 0,
	[JF_TUNE_HOT_TABLE] = 65536,
	[JF_TUNE_HOT_DECAY_MS] = 10000,
	[JF_TUNE_NEGATIVE_TTL_MS] = 60000,
	[JF_TUNE_MAX_THREADS] = 64,
	[JF_TUNE_HIT_SAMPLE] = 64,
	[JF_TUNE_PRELOAD] = 1,
	[JF_TUNE_WATCH] = 1,
	[JF_TUNE_PROCESS_SYMBOLS] = 1,
};

int
jf_config_new(jf_config_t **out)
{
	jf_config_t *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JF_ERR_NOMEM;
	c->enabled = 1;
	c->log_level = JF_LOG_WARN;
	memcpy(c->tune, tune_defaults, sizeof(c->tune));
	*out = c;
	return 0;
}

void
jf_config_free(jf_config_t *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->store_url);
	free(c->farm_url);
	free(c->token);
	free(c->local_master);
	free(c->ns);
	free(c->triple);
	free(c->cpu);
	free(c->features);
	free(c->entry);
	free(c->pubkey_path);
	for (i = 0; i < c->nsyms; i++)
		free((char *)c->syms[i].name);
	free(c->syms);
	free(c);
}

/* Replace *dst with a copy of src (NULL clears). */
static int
set_str(char **dst, const char *src)
{
	char *n = NULL;

	if (src != NULL && (n = strdup(src)) == NULL)
		return JF_ERR_NOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

int
jf_config_set_enabled(jf_config_t *c, int enabled)
{
	if (c == NULL)
		return JF_ERR_INVAL;
	c->enabled = enabled != 0;
	return 0;
}

int
jf_config_set_store(jf_config_t *c, const char *url)
{
	return c == NULL ? JF_ERR_INVAL : set_str(&c->store_url, url);
}

int
jf_config_set_farm(jf_config_t *c, const char *url, const char *token)
{
	int r;

	if (c == NULL)
		return JF_ERR_INVAL;
	if ((r = set_str(&c->farm_url, url)) != 0)
		return r;
	return set_str(&c->token, token);
}

int
jf_config_set_local_master(jf_config_t *c, const char *path)
{
	return c == NULL ? JF_ERR_INVAL : set_str(&c->local_master, path);
}

int
jf_config_set_namespace(jf_config_t *c, const char *ns)
{
	if (c == NULL || (ns != NULL && strlen(ns) >= JF_NS_MAX))
		return JF_ERR_INVAL;
	return set_str(&c->ns, ns);
}

int
jf_config_set_target(jf_config_t *c, const char *triple, const char *cpu,
    const char *features, char opt)
{
	int r;

	if (c == NULL || (opt != 0 && !jf_opt_valid(opt)))
		return JF_ERR_INVAL;
	if ((r = set_str(&c->triple, triple)) != 0 || (r = set_str(&c->cpu, cpu)) != 0 ||
	    (r = set_str(&c->features, features)) != 0)
		return r;
	c->opt = opt;
	return 0;
}

int
jf_config_set_entry(jf_config_t *c, const char *symbol)
{
	return c == NULL ? JF_ERR_INVAL : set_str(&c->entry, symbol);
}

int
jf_config_set_public_key(jf_config_t *c, const char *pem_path)
{
	return c == NULL ? JF_ERR_INVAL : set_str(&c->pubkey_path, pem_path);
}

int
jf_config_add_symbol(jf_config_t *c, const char *name, void *addr)
{
	jf_loader_sym_t sym;
	char *s;

	if (c == NULL || name == NULL || *name == '\0')
		return JF_ERR_INVAL;
	if ((s = strdup(name)) == NULL)
		return JF_ERR_NOMEM;
	sym.name = s;
	sym.addr = addr;
	if (c->nsyms == c->capsyms) {
		size_t ncap = c->capsyms ? c->capsyms * 2 : 8;
		jf_loader_sym_t *n = reallocarray(c->syms, ncap, sizeof(*n));

		if (n == NULL) {
			free(s);
			return JF_ERR_NOMEM;
		}
		c->syms = n;
		c->capsyms = ncap;
	}
	c->syms[c->nsyms++] = sym;
	return 0;
}

int
jf_config_set_ir_provider(jf_config_t *c, jf_ir_provider_fn fn,
    jf_ir_release_fn release, void *arg)
{
	if (c == NULL)
		return JF_ERR_INVAL;
	c->ir_fn = fn;
	c->ir_release = release;
	c->ir_arg = arg;
	return 0;
}

int
jf_config_set_event_callback(jf_config_t *c, jf_event_fn fn, void *arg)
{
	if (c == NULL)
		return JF_ERR_INVAL;
	c->ev_fn = fn;
	c->ev_arg = arg;
	return 0;
}

int
jf_config_set_log(jf_config_t *c, jf_log_fn fn, void *arg, int level)
{
	if (c == NULL)
		return JF_ERR_INVAL;
	c->log_fn = fn;
	c->log_arg = arg;
	c->log_level = level;
	return 0;
}

int
jf_config_set_allocator(jf_config_t *c, void *(*alloc)(size_t, void *),
    void (*free_)(void *, void *), void *arg)
{
	const jf_allocator_t *a;
	int r;

	if (c == NULL || (alloc == NULL) != (free_ == NULL))
		return JF_ERR_INVAL;
	a = jf_mem_register(alloc, free_, arg, &r);
	if (r != 0)
		return r;
	c->alloc = a;
	return 0;
}

int
jf_config_set_tune(jf_config_t *c, int knob, int64_t value)
{
	if (c == NULL || knob <= 0 || knob >= JF_TUNE_MAX || value < 0)
		return JF_ERR_INVAL;
	switch (knob) {
	case JF_TUNE_HOT_THRESHOLD:
	case JF_TUNE_EVENT_BUFFER:
	case JF_TUNE_MAX_PENDING:
	case JF_TUNE_HOT_TABLE:
	case JF_TUNE_MAX_THREADS:
	case JF_TUNE_HIT_SAMPLE:
	case JF_TUNE_DRAIN_INTERVAL_MS:
		if (value == 0 || value > (1 << 24))
			return JF_ERR_INVAL;
		break;
	default:
		break;
	}
	c->tune[knob] = value;
	return 0;
}

