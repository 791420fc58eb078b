/*
 * rt.h - the runtime's internal structures: the config, programs, the
 * registry's records, jobs, and the runtime itself. Types only (and two
 * tiny inline helpers): each module of runtime/ declares its functions in
 * its own header, so the include graph shows who calls whom.
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
#ifndef JF_RT_H
#define JF_RT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "jitfarm/runtime.h"
#include "common/blob.h"
#include "common/key.h"
#include "common/mem.h"
#include "common/util.h"
#include "hot.h"
#include "idtab.h"
#include "loader.h"
#include "map.h"

#define JF_TUNE_MAX 32

struct jf_config {
	int enabled;
	char *store_url, *farm_url, *token, *local_master, *ns;
	char *triple, *cpu, *features, *entry, *pubkey_path;
	char opt;
	jf_loader_sym_t *syms;         /* jf_vec_grow */
	size_t nsyms, capsyms;
	jf_ir_provider_fn ir_fn;
	jf_ir_release_fn ir_release;
	void *ir_arg;
	jf_event_fn ev_fn;
	void *ev_arg;
	jf_log_fn log_fn;
	void *log_arg;
	int log_level;
	const jf_allocator_t *alloc;   /* NULL: the process-wide one */
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

struct jf_runtime {
	jf_readside_t rs;               /* first: the hot path's cache line */
	const jf_allocator_t *alloc;   /* the runtime's (mem.h), or NULL */
	void *mem;                      /* the allocation this struct is aligned in */

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
	jf_retired_t *retired;         /* jf_vec_grow */
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

static inline uint64_t
jf_rt_now_ms(void)
{
	return jf_now_ns() / 1000000ull;
}

/* pthread_cond_timedwait for ms from now (CLOCK_REALTIME). */
static inline void
jf_rt_timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cv, mu, &ts);
}

#endif
