/*
 * jitfarm/error.h - the one error space shared by every part of jitfarm.
 *
 * Every function that can fail returns 0 (JF_OK) or one of these negative
 * codes. Handles that can say more carry a message next to the code; the
 * code alone is enough to decide what to do (retry, treat as a miss, give
 * up). jf_strerror() never returns NULL.
 */
#ifndef JITFARM_ERROR_H
#define JITFARM_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(JF_BUILDING_LIB) && defined(__GNUC__)
#define JF_API __attribute__((visibility("default")))
#else
#define JF_API
#endif

typedef enum jf_err {
	JF_OK = 0,
	JF_ERR_NOMEM = -1,       /* out of memory */
	JF_ERR_INVAL = -2,       /* invalid argument or parameter */
	JF_ERR_IO = -3,          /* I/O error (see errno or the message) */
	JF_ERR_NOTFOUND = -4,    /* no such entry: a miss, not a failure */
	JF_ERR_FORMAT = -5,      /* malformed or truncated data */
	JF_ERR_INTEGRITY = -6,   /* payload hash does not match the manifest */
	JF_ERR_SIGNATURE = -7,   /* missing or bad signature */
	JF_ERR_TOOBIG = -8,      /* input over a size limit */
	JF_ERR_PARSE = -9,       /* IR does not parse */
	JF_ERR_VERIFY = -10,     /* IR fails the LLVM verifier */
	JF_ERR_TARGET = -11,     /* unknown or contradictory target, CPU or feature */
	JF_ERR_COMPILE = -12,    /* optimisation or code generation failed */
	JF_ERR_CRASH = -13,      /* the worker died on a signal */
	JF_ERR_TIMEOUT = -14,    /* a deadline passed */
	JF_ERR_OOM = -15,        /* the worker ran out of its memory limit */
	JF_ERR_QUARANTINED = -16,/* input crashed workers before; refused for a while */
	JF_ERR_STORE = -17,      /* store unavailable or failed: not a miss */
	JF_ERR_READONLY = -18,   /* store opened read-only */
	JF_ERR_BUSY = -19,       /* queue full or limit reached; retry later */
	JF_ERR_PROTO = -20,      /* peer broke the wire protocol */
	JF_ERR_AUTH = -21,       /* not authorised */
	JF_ERR_RESYNC = -22,     /* watch cursor no longer valid: resync with list */
	JF_ERR_SYSTEM = -23,     /* a system call failed */
	JF_ERR_UNSUPPORTED = -24,/* operation not supported by this backend */
	JF_ERR_CLOSED = -25,     /* handle or service shut down */
	JF_ERR_FATAL = -26,      /* LLVM reported a fatal error */
	JF_ERR_EXISTS = -27,     /* entry already exists */
	JF_ERR__LAST = -28
} jf_err_t;

/* Short, static, human-readable text for an error code. */
JF_API const char *jf_strerror(int err);

/* Stable machine name for an error code ("not_found", "timeout", ...),
 * as used in JSON error bodies and metrics labels. */
JF_API const char *jf_errname(int err);

#ifdef __cplusplus
}
#endif
#endif /* JITFARM_ERROR_H */
