/*
 * rt_helpers.h - what the runtime tests share: small real programs (LLVM
 * IR that calls back into the host), compiled in-process with the real
 * engine and put into a real store, and a runtime config for them.
 * Included by the test programs of tests/runtime only.
 */
#ifndef JF_RT_TEST_HELPERS_H
#define JF_RT_TEST_HELPERS_H

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jitfarm/runtime.h"
#include "common/mem.h"
#include "common/blob.h"
#include "common/key.h"
#include "common/util.h"
#include "storage/store.h"
#include "compiler/compile.h"
#include "support.h"

#pragma GCC diagnostic ignored "-Wunused-function"

#define RT_NS "test"
#define RT_OPT '1'

static int64_t
host_add(int64_t x)
{
	return x + 1;
}

typedef int64_t (*entry_fn)(int64_t);

/* The IR of program k: jf_entry(x) = host_add(x) * (k + 2). */
static char *
prog_ir(unsigned k)
{
	char *s;

	if (asprintf(&s,
	    "define i64 @jf_entry(i64 %%x) {\n"
	    "  %%a = call i64 @host_add(i64 %%x)\n"
	    "  %%b = mul i64 %%a, %u\n"
	    "  ret i64 %%b\n"
	    "}\n"
	    "declare i64 @host_add(i64)\n", k + 2) < 0)
		abort();
	return s;
}

static void
prog_id(unsigned k, uint8_t id[32])
{
	char *ir = prog_ir(k);

	jf_program_id_from_ir(ir, strlen(ir), (jf_key_t *)id);
	free(ir);
}

/* Compile program k for ns and put it into the store; sign with
 * sign_key (EVP_PKEY) when given. */
static void
put_prog(const char *url, unsigned k, const char *ns, void *sign_key)
{
	jf_compile_req_t req;
	jf_artifact_t a;
	jf_store_opts_t so;
	jf_store_t *st;
	uint8_t *blob;
	size_t len;
	char err[512];
	char *ir = prog_ir(k);

	memset(&req, 0, sizeof(req));
	req.ir = (const uint8_t *)ir;
	req.ir_len = strlen(ir);
	jf_strlcpy(req.spec.ns, ns, sizeof(req.spec.ns));
	req.spec.opt = RT_OPT;
	req.producer = "test";
	ck_assert_msg(jf_compile(&req, &a, NULL, err, sizeof(err)) == 0, "compile: %s", err);
	ck_assert_int_eq(jf_blob_encode(&a, sign_key, &blob, &len), 0);
	memset(&so, 0, sizeof(so));
	ck_assert_msg(jf_store_open(url, &so, &st, err, sizeof(err)) == 0, "store: %s", err);
	ck_assert_msg(jf_store_put(st, &a.m.key, blob, len) == 0, "put: %s",
	    jf_store_errstr(st));
	jf_store_close(st);
	jf_free(blob);
	jf_artifact_free(&a);
	free(ir);
}

/* The IR provider for the farm: program ids of prog_ir(0..nprogs-1). */
static unsigned provider_nprogs = 64;
static _Atomic int provider_calls;

static int
provider(void *arg, const uint8_t *id, const void **ir, size_t *len)
{
	unsigned k;

	(void)arg;
	atomic_fetch_add(&provider_calls, 1);
	for (k = 0; k < provider_nprogs; k++) {
		uint8_t pid[32];

		prog_id(k, pid);
		if (memcmp(pid, id, 32) == 0) {
			char *s = prog_ir(k);

			*ir = s;
			*len = strlen(s);
			return 0;
		}
	}
	return JF_ERR_NOTFOUND;
}

static void
provider_release(void *arg, const void *ir)
{
	(void)arg;
	free((void *)ir);
}

/* Events, counted by kind. */
static _Atomic int ev_count[8];
static _Atomic int ev_fail[8];

static void
on_ev(void *arg, const jf_event_t *ev)
{
	(void)arg;
	if (ev->kind > 0 && ev->kind < 8) {
		atomic_fetch_add(&ev_count[ev->kind], 1);
		if (ev->result != 0)
			atomic_fetch_add(&ev_fail[ev->kind], 1);
	}
}

static jf_config_t *
rt_config(const char *store_url, const char *farm)
{
	jf_config_t *c;

	ck_assert_int_eq(jf_config_new(&c), 0);
	ck_assert_int_eq(jf_config_set_store(c, store_url), 0);
	ck_assert_int_eq(jf_config_set_farm(c, farm, NULL), 0);
	ck_assert_int_eq(jf_config_set_namespace(c, RT_NS), 0);
	ck_assert_int_eq(jf_config_set_target(c, NULL, NULL, NULL, RT_OPT), 0);
	ck_assert_int_eq(jf_config_set_entry(c, "jf_entry"), 0);
	ck_assert_int_eq(jf_config_add_symbol(c, "host_add", (void *)host_add), 0);
	ck_assert_int_eq(jf_config_set_ir_provider(c, provider, provider_release, NULL), 0);
	ck_assert_int_eq(jf_config_set_event_callback(c, on_ev, NULL), 0);
	ck_assert_int_eq(jf_config_set_tune(c, JF_TUNE_PROCESS_SYMBOLS, 0), 0);
	return c;
}

static jf_runtime_t *
rt_open(jf_config_t *c)
{
	jf_runtime_t *rt;
	char err[1024];

	ck_assert_msg(jf_runtime_open(c, &rt, err, sizeof(err)) == 0, "open: %s", err);
	return rt;
}

static jf_stats_t
rt_stats(jf_runtime_t *rt)
{
	jf_stats_t st;

	ck_assert_int_eq(jf_runtime_stats(rt, &st, sizeof(st)), 0);
	return st;
}

/* Look id up until it is compiled (or timeout_ms passes); returns the
 * decision. */
static jf_decision_t
wait_compiled(jf_runtime_t *rt, const uint8_t *id, int timeout_ms)
{
	uint64_t end = jf_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	jf_decision_t d;

	for (;;) {
		d = jf_lookup(rt, id);
		if (d.fn != NULL || jf_now_ns() > end)
			return d;
		usleep(2000);
	}
}

static char *
file_url(const char *dir)
{
	char *u;

	if (asprintf(&u, "file://%s/store", dir) < 0)
		abort();
	return u;
}


/* --- a lookup storm: 8 threads miss one key at once ------------------------ */

typedef struct rt_storm {
	jf_runtime_t *rt;
	const uint8_t *id;
	int n;
	pthread_barrier_t *bar;
} rt_storm_t;

static void *
rt_storm_thread(void *arg)
{
	rt_storm_t *s = arg;
	int i;

	pthread_barrier_wait(s->bar);
	for (i = 0; i < s->n; i++)
		(void)jf_lookup(s->rt, s->id);
	jf_thread_offline(s->rt);
	return NULL;
}

/* 8 threads, released together, each looking id up n times; returns when
 * all of them are done. */
static void
rt_lookup_storm(jf_runtime_t *rt, const uint8_t *id, int n)
{
	pthread_barrier_t bar;
	pthread_t th[8];
	rt_storm_t s = { .rt = rt, .id = id, .n = n, .bar = &bar };
	int i;

	pthread_barrier_init(&bar, NULL, 8);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, rt_storm_thread, &s), 0);
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
}

#endif
