/*
 * jitfarm/runtime.h - libjitfarm, the library a node links.
 *
 * A node is any program that interprets or JIT-compiles programs: an EVM
 * node, a query engine, a wasm host. On every execution it asks
 *
 *     jf_decision_t d = jf_lookup(rt, program_id);
 *     if (d.fn != NULL)
 *             ((my_entry_fn)d.fn)(args);      -- native code
 *     else
 *             interpret(program);              -- d.reason says why
 *
 * jf_lookup() reads an immutable map with one atomic load: no lock, no
 * allocation, no system call, and it never blocks. Misses are recorded in
 * a per-thread lock-free buffer; a background thread counts them, and a
 * program that turns hot is compiled on the farm (or a local farm the
 * runtime starts), loaded, and swapped into the next map. At open the
 * runtime preloads every artifact in the store that matches its namespace
 * and target, and afterwards it follows the store's change feed, so code
 * compiled for any node of the cluster reaches this one without a restart.
 *
 * Lifetimes (quiescent-state reclamation). The function address and the
 * program handle a decision returns stay valid until the same thread calls
 * jf_lookup() again on the same runtime, or calls jf_thread_offline().
 * Code that the runtime evicts is unloaded only after every thread that
 * has used the runtime has passed such a point. A thread that stops
 * calling jf_lookup() for a long time should call jf_thread_offline(), or
 * memory of old maps and evicted code is kept until it does; threads that
 * exit are taken offline on their own.
 *
 * Every function returns 0 or a negative jf_err (jitfarm/error.h); the
 * library never prints (install a log sink with jf_runtime_set_log) and
 * never exits. Callbacks run on the runtime's own threads.
 */
#ifndef JITFARM_RUNTIME_H
#define JITFARM_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "jitfarm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JF_PROGRAM_ID_LEN 32

typedef struct jf_runtime jf_runtime_t;
typedef struct jf_config jf_config_t;
typedef struct jf_program jf_program_t;

/* ---- lookup ---------------------------------------------------------- */

/* What jf_lookup decided. */
typedef enum jf_reason {
	JF_COMPILED = 0,              /* fn is native code for the program */
	JF_INTERP_DISABLED = 1,       /* runtime disabled (or NULL, or out of thread slots) */
	JF_INTERP_NOT_READY = 2,      /* not compiled (yet): not hot, or compiling */
	JF_INTERP_INELIGIBLE = 3,     /* the IR provider declined the program */
	JF_INTERP_FAILED = 4,         /* compiling or loading failed; retried after a TTL */
	JF_INTERP_QUARANTINED = 5     /* the program crashed the compiler; refused for a while */
} jf_reason_t;

typedef struct jf_decision {
	void *fn;                     /* entry point, or NULL: interpret */
	const jf_program_t *prog;     /* program handle when fn != NULL, else NULL */
	int reason;                   /* a jf_reason_t */
} jf_decision_t;

/*
 * The hot path. program_id is 32 bytes (by default the SHA-256 of the
 * program's IR; hosts may use their own id). Thread-safe, wait-free.
 * rt may be NULL (returns JF_INTERP_DISABLED).
 */
JF_API jf_decision_t jf_lookup(jf_runtime_t *rt, const uint8_t *program_id);

/* Tell the runtime this thread holds no decision of rt any more and may
 * not look up for a while. The next jf_lookup brings it back. */
JF_API void jf_thread_offline(jf_runtime_t *rt);

/* Address of another symbol of a loaded program, or NULL. Valid as long
 * as the decision that returned prog. */
JF_API void *jf_program_symbol(const jf_program_t *prog, const char *name);
/* The program's 32-byte artifact key (the store key). */
JF_API const uint8_t *jf_program_key(const jf_program_t *prog);

/* ---- configuration --------------------------------------------------- */

/*
 * The IR provider: the runtime calls it (on a runtime thread) when it has
 * decided to compile program_id. Return 0 with *ir / *len set (the bytes,
 * .ll text or .bc bitcode, stay valid until release is called with *ir),
 * JF_ERR_NOTFOUND when the program should never be compiled (it becomes
 * JF_INTERP_INELIGIBLE), or another negative jf_err (JF_INTERP_FAILED).
 */
typedef int (*jf_ir_provider_fn)(void *arg, const uint8_t *program_id,
    const void **ir, size_t *len);
typedef void (*jf_ir_release_fn)(void *arg, const void *ir);

/* What the runtime did; passed to the event callback. A load event
 * (COMPILE, FETCH, PRELOAD, PUSH) is reported once the map that holds the
 * program is published, so a lookup made after it returns the program. */
typedef enum jf_event_kind {
	JF_EV_COMPILE = 1,            /* compiled on the farm and loaded */
	JF_EV_FETCH = 2,              /* found in the store and loaded (no compile) */
	JF_EV_PRELOAD = 3,            /* loaded at open */
	JF_EV_PUSH = 4,               /* loaded after the store announced it */
	JF_EV_EVICT = 5,              /* unloaded (code budget or idle) */
	JF_EV_REJECT = 6              /* an artifact failed verification */
} jf_event_kind_t;

typedef struct jf_event {
	int kind;                     /* jf_event_kind_t */
	const uint8_t *program_id;    /* 32 bytes, or NULL when unknown (REJECT) */
	const uint8_t *key;           /* 32-byte artifact key */
	uint64_t duration_ns;         /* the compile, fetch or load */
	int result;                   /* 0 or a negative jf_err */
	const char *message;          /* detail on failure, else "" */
} jf_event_t;

typedef void (*jf_event_fn)(void *arg, const jf_event_t *ev);
typedef void (*jf_log_fn)(void *arg, int level, const char *line);

/* Tuning knobs (jf_config_set_tune). Defaults in brackets. */
typedef enum jf_tune {
	JF_TUNE_HOT_THRESHOLD = 1,    /* misses before a program compiles [100] */
	JF_TUNE_EVENT_BUFFER,         /* lookup events buffered per thread [1024] */
	JF_TUNE_DRAIN_INTERVAL_MS,    /* how often events are drained [2] */
	JF_TUNE_MAX_PENDING,          /* compiles queued or running [8]; min(this, 4)
				       * threads run them */
	JF_TUNE_MAX_IR_BYTES,         /* larger IR is ineligible [64 MiB] */
	JF_TUNE_COMPILE_TIMEOUT_MS,   /* per compile [120000] */
	JF_TUNE_CODE_BUDGET,          /* bytes of loaded objects; 0 = no limit [0] */
	JF_TUNE_IDLE_EVICT_MS,        /* unload code unused this long; 0 = never [0] */
	JF_TUNE_HOT_TABLE,            /* programs tracked for hotness [65536] */
	JF_TUNE_HOT_DECAY_MS,         /* halve hotness counts this often [10000] */
	JF_TUNE_NEGATIVE_TTL_MS,      /* how long a failure is remembered [60000] */
	JF_TUNE_MAX_THREADS,          /* threads that may look up at once [64] */
	JF_TUNE_HIT_SAMPLE,           /* record one hit in this many, power of 2 [64] */
	JF_TUNE_PRELOAD,              /* load matching artifacts at open [1] */
	JF_TUNE_WATCH,                /* follow the store's change feed [1] */
	JF_TUNE_PROCESS_SYMBOLS       /* resolve unknown symbols in the process [1] */
} jf_tune_t;

/* A config is a plain builder; open copies what it needs. */
JF_API int jf_config_new(jf_config_t **out);
JF_API void jf_config_free(jf_config_t *c);

/* On by default. A disabled runtime answers every lookup with
 * JF_INTERP_DISABLED and starts nothing. */
JF_API int jf_config_set_enabled(jf_config_t *c, int enabled);
/* Store URL (file://, redis://, http://, s3://); NULL: the default. */
JF_API int jf_config_set_store(jf_config_t *c, const char *url);
/*
 * Farm: "http://host:port", "unix:/path/to.sock", "local" (the default:
 * the runtime starts a private jitfarm-master on a unix socket, with
 * posix_spawn, and stops it at close; it shares the node's store and
 * takes its other settings, such as JITFARM_SIGNING_KEY, from the
 * environment) or "none" (never compile: preload, push and on-demand
 * store fetches only). token may be NULL. close() waits for compiles in
 * flight on a remote farm, up to the compile timeout.
 */
JF_API int jf_config_set_farm(jf_config_t *c, const char *url, const char *token);
/* The jitfarm-master binary for a local farm; NULL: $JITFARM_MASTER, else
 * jitfarm-master in PATH. */
JF_API int jf_config_set_local_master(jf_config_t *c, const char *path);
JF_API int jf_config_set_namespace(jf_config_t *c, const char *ns);
/* Target: triple (NULL: host), CPU (NULL: portable baseline; "host"),
 * features (NULL: none), opt ('0'..'3', 's', 'z'; 0: '2'). */
JF_API int jf_config_set_target(jf_config_t *c, const char *triple,
    const char *cpu, const char *features, char opt);
/* Name of the entry symbol jf_lookup returns; NULL: the first symbol the
 * artifact's manifest lists. */
JF_API int jf_config_set_entry(jf_config_t *c, const char *symbol);
/* Ed25519 public key (PEM file): only artifacts signed by the matching
 * private key are loaded. */
JF_API int jf_config_set_public_key(jf_config_t *c, const char *pem_path);
/* A host symbol the compiled code may call. */
JF_API int jf_config_add_symbol(jf_config_t *c, const char *name, void *addr);
JF_API int jf_config_set_ir_provider(jf_config_t *c, jf_ir_provider_fn fn,
    jf_ir_release_fn release, void *arg);
JF_API int jf_config_set_event_callback(jf_config_t *c, jf_event_fn fn, void *arg);
/* Where the runtime's log lines go (none by default); level 0 error .. 3 debug. */
JF_API int jf_config_set_log(jf_config_t *c, jf_log_fn fn, void *arg, int level);
/*
 * The allocator for the runtime's own memory: maps, rings, records,
 * buffers, programs, and whatever the library allocates for it on its
 * threads and inside calls into it (open, close, compile_now,
 * prepare_aot). alloc(size, arg) returns memory aligned for any type, or
 * NULL; free(ptr, arg). Each runtime uses the allocator of its own
 * config; other runtimes in the process keep theirs, and the config
 * builder itself uses libc. Out of memory is never fatal: calls return
 * JF_ERR_NOMEM, and the background degrades (a program that cannot be
 * loaded is interpreted and retried later). Memory that LLVM, libcurl,
 * hiredis, OpenSSL or the store's buffers take for themselves does not
 * come from it. At most 64 distinct allocators per process (else
 * JF_ERR_NOMEM); the functions must stay callable until every runtime
 * opened with them is closed. Set the first allocator of a process before
 * anything else of the library allocates (before the first jf_runtime_open
 * or store call): after that it is refused with JF_ERR_BUSY, because
 * blocks made until then carry no record of their allocator.
 */
JF_API int jf_config_set_allocator(jf_config_t *c, void *(*alloc)(size_t, void *),
    void (*free_)(void *, void *), void *arg);
JF_API int jf_config_set_tune(jf_config_t *c, int knob, int64_t value);

/* ---- lifecycle --------------------------------------------------------- */

/*
 * Open a runtime: resolve the target, open the store, start the local
 * farm if asked, preload, start the background threads. err (may be
 * NULL) gets a message on failure. On success *out is owned by the
 * caller (jf_runtime_close).
 */
JF_API int jf_runtime_open(const jf_config_t *c, jf_runtime_t **out, char *err,
    size_t errlen);
/* Stop the threads (and the local farm), unload all code, free. No thread
 * may be inside jf_lookup or running returned code. NULL is fine. */
JF_API void jf_runtime_close(jf_runtime_t *rt);

/* ---- control ----------------------------------------------------------- */

/* Compile (or fetch) program_id now and wait until lookups return it.
 * Returns 0, or the jf_err of the failure (JF_ERR_TIMEOUT after
 * timeout_ms; 0 = the compile timeout; JF_ERR_BUSY while paused). */
JF_API int jf_compile_now(jf_runtime_t *rt, const uint8_t *program_id, int timeout_ms);
/* Queue programs for compilation ahead of time, without waiting. Returns
 * 0, or JF_ERR_BUSY when the queue took only part of them. */
JF_API int jf_prepare_aot(jf_runtime_t *rt, const uint8_t *program_ids, size_t n);
/* Pause background work (promotion, compiles, loads, publishing);
 * lookups keep serving the current map. Neither call blocks. */
JF_API void jf_runtime_pause(jf_runtime_t *rt);
JF_API void jf_runtime_resume(jf_runtime_t *rt);

/* ---- stats ------------------------------------------------------------- */

/* A snapshot; fields are only ever appended. */
typedef struct jf_stats {
	uint64_t lookups;             /* all jf_lookup calls with a thread slot */
	uint64_t hits;                /* answered JF_COMPILED */
	uint64_t misses;              /* answered NOT_READY */
	uint64_t negative;            /* answered INELIGIBLE, FAILED or QUARANTINED */
	uint64_t events_dropped;      /* lookup events lost to a full buffer */
	uint64_t no_slot;             /* lookups refused for lack of a thread slot */
	uint64_t promotions;          /* programs that reached the hot threshold */
	uint64_t compiles;            /* compiles requested from the farm */
	uint64_t compile_failures;
	uint64_t fetches;             /* artifacts loaded from the store on demand */
	uint64_t preloaded;
	uint64_t pushed;              /* loaded after a store announcement */
	uint64_t rejected;            /* failed verification */
	uint64_t evicted;
	uint64_t swaps;               /* maps published */
	uint64_t programs;            /* entries in the current map (negative ones too) */
	uint64_t code_bytes;          /* bytes of loaded objects */
	uint64_t pending_reclaim;     /* old maps and programs awaiting reclamation */
	uint64_t hot_tracked;         /* entries in the hotness table */
} jf_stats_t;

/* Fill *st (size: sizeof(jf_stats_t) of the caller's header). */
JF_API int jf_runtime_stats(jf_runtime_t *rt, jf_stats_t *st, size_t size);

/* Text for a jf_reason_t. */
JF_API const char *jf_reason_str(int reason);

#ifdef __cplusplus
}
#endif
#endif /* JITFARM_RUNTIME_H */
