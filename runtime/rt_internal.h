/*
 * rt_internal.h - the runtime's internal structures, shared by
 * runtime.c (API, lookup, open and close), backend.c (the background
 * threads), hot.c (hotness) and localfarm.c.
 *
 * Threads and what they own:
 *   - host threads: jf_lookup only (map.h's read side);
 *   - the backend thread: drains lookup events, counts hotness, promotes,
 *     publishes batches (rebuild, then swap), reclaims, evicts, expires
 *     negative entries;
 *   - compile workers: fetch from the store or compile on the farm,
 *     verify, load;
 *   - the watcher: follows the store's change feed, fetches, verifies
 *     and loads what matches this node.
 * Everything on the writer side (registry, job queue, dirty list, stats
 * of the writer) is under rt->lock; loading is under rt->load_lock.
 */
#ifndef JF_RT_INTERNAL_H
#define JF_RT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "jitfarm/runtime.h"
#include "common/blob.h"
#include "common/key.h"
#include "idtab.h"
#include "loader.h"
#include "map.h"

#define JF_TUNE_MAX 32

struct jf_config {
	int enabled;
	char *store_url, *farm_url, *token, *local_master, *ns;
	char *triple, *cpu, *features, *entry, *pubkey_path;
	char opt;
	jf_loader_sym_t *syms;
	size_t nsyms;
	jf_ir_provider_fn ir_fn;
	jf_ir_release_fn ir_release;
	void *ir_arg;
	jf_event_fn ev_fn;
	void *ev_arg;
	jf_log_fn log_fn;
	void *log_arg;
	int log_level;
	jf_alloc_t alloc;
	int64_t tune[JF_TUNE_MAX];
};

typedef struct jf_psym {
	char *name;
	void *addr;
} jf_psym_t;

struct jf_program {
	jf_key_t key;                   /* artifact key */
	uint64_t id[4];                 /* program id */
	void *entry;
	jf_psym_t *syms;
	size_t nsyms;
	void *handle;                   /* loader handle */
	uint64_t code_bytes;
};

/* Registry record states. */
enum {
	R_PENDING = 1,                  /* queued or compiling */
	R_LOADED,                       /* prog set, in (or going into) the map */
	R_NEG,                          /* negative entry with reason, until expires */
	R_GONE                          /* leaving the map (evicted or expired) */
};

/* Job sources. */
enum { J_HOT = 1, J_AOT, J_NOW };

typedef struct jf_rec {
	uint64_t id[4];
	int state;
	int reason;                     /* for R_NEG */
	int result;                     /* last outcome: 0 or jf_err */
	int dirty;                      /* must go into the next published map */
	uint64_t batch;                 /* published when rt->pub_gen reaches this */
	uint64_t expires_ms;            /* R_NEG */
	uint64_t last_used_ms;
	jf_program_t *prog;
	struct jf_rec *next_dirty;
	/* the event to report once the map that holds prog is published */
	int ev_kind;
	uint64_t ev_ns;
} jf_rec_t;

typedef struct jf_job {
	uint64_t id[4];
	int source;
	struct jf_job *next;
} jf_job_t;

typedef struct jf_retired {
	uint64_t epoch;
	jf_map_t *map;
	jf_program_t *prog;
} jf_retired_t;

/* Hotness: a bounded table, probed within a window; see hot.c. */
typedef struct jf_hot_ent {
	uint64_t id[4];
	uint32_t count;                 /* 0: empty */
	uint32_t pad;
} jf_hot_ent_t;

typedef struct jf_hot {
	jf_hot_ent_t *ents;
	size_t cap;                     /* power of two */
	size_t n;
	uint64_t replaced;              /* cold entries pushed out by new keys */
} jf_hot_t;

int jf_hot_init(jf_hot_t *h, const jf_alloc_t *a, size_t cap);
void jf_hot_fini(jf_hot_t *h, const jf_alloc_t *a);
/* Count one miss; returns the new count. */
uint32_t jf_hot_bump(jf_hot_t *h, const uint64_t id[4]);
void jf_hot_forget(jf_hot_t *h, const uint64_t id[4]);
/* Halve every count, dropping those that reach 0. */
void jf_hot_decay(jf_hot_t *h);

struct jf_runtime {
	jf_readside_t rs;               /* first: the hot path's cache line */
	jf_alloc_t alloc;

	/* configuration, resolved */
	char *ns;
	jf_target_t target;
	char *entry;
	char *store_url, *farm_url, *token;
	int farm_none;
	void *verify_key;               /* EVP_PKEY or NULL */
	jf_ir_provider_fn ir_fn;
	jf_ir_release_fn ir_release;
	void *ir_arg;
	jf_event_fn ev_fn;
	void *ev_arg;
	int64_t tune[JF_TUNE_MAX];

	/* the local farm */
	pid_t master_pid;
	char *master_dir;

	/* loading */
	pthread_mutex_t load_lock;
	jf_loader_t *loader;
	uint64_t load_seq;

	/* writer side, under lock */
	pthread_mutex_t lock;
	pthread_cond_t bk_cv;           /* wakes the backend */
	pthread_cond_t job_cv;          /* wakes compile workers */
	pthread_cond_t done_cv;         /* wakes jf_compile_now */
	jf_idtab_t reg;                 /* program id -> jf_rec_t */
	jf_idtab_t seen;                /* artifact keys already handled */
	jf_rec_t *dirty;
	uint64_t pub_gen;
	jf_job_t *jobs, *jobs_tail;
	size_t njobs, running;
	int stopping;
	_Atomic int paused;
	uint64_t code_bytes;

	/* backend-only */
	jf_hot_t hot;
	jf_retired_t *retired;
	size_t nretired, capretired;
	uint64_t last_decay_ms, last_scan_ms;

	/* threads */
	pthread_t backend, watcher, *workers;
	int nworkers, backend_ok, watcher_ok;
	char cursor[256];               /* watch position */

	/* counters */
	_Atomic uint64_t st_promotions, st_compiles, st_compile_failures, st_fetches,
	    st_preloaded, st_pushed, st_rejected, st_evicted, st_swaps;
};

#define TUNE(rt, k) ((rt)->tune[(k)])

/* backend.c */
int jf_rt_start_threads(jf_runtime_t *rt, char *err, size_t errlen);
void jf_rt_stop_threads(jf_runtime_t *rt);
int jf_rt_preload(jf_runtime_t *rt, char *err, size_t errlen);
/* Publish every dirty record now (backend thread, or open before the
 * threads start). */
void jf_rt_publish(jf_runtime_t *rt);
void jf_rt_reclaim(jf_runtime_t *rt, int all);
void jf_program_free(jf_runtime_t *rt, jf_program_t *p);
/* Queue a job (lock held). Returns 0 or JF_ERR_BUSY. */
int jf_rt_enqueue(jf_runtime_t *rt, const uint64_t id[4], int source, int force);
/* Mark a record for the next map (lock held). */
void jf_rt_mark_dirty(jf_runtime_t *rt, jf_rec_t *r);
jf_rec_t *jf_rt_rec_new(jf_runtime_t *rt, const uint64_t id[4], int state);
void jf_rt_event(jf_runtime_t *rt, int kind, const uint64_t *id, const jf_key_t *key,
    uint64_t ns, int result, const char *msg);

/* localfarm.c */
int jf_localfarm_start(jf_runtime_t *rt, const char *master_path, char *err,
    size_t errlen);
void jf_localfarm_stop(jf_runtime_t *rt);

/* Benches and tests: publish a map built elsewhere (entries that are
 * not programs); the old map is freed once readers moved on. */
void jf_rt_publish_map(jf_runtime_t *rt, jf_map_t *m);

#endif
