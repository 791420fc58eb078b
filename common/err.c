/*
 * err.c - text for the error codes of jitfarm/error.h.
 *
 * Two tables indexed by the negated code: a sentence for people and a
 * short token for machines (JSON bodies, metric labels). Both are static,
 * so the returned strings live forever and need no freeing.
 */
#include "jitfarm/error.h"

static const struct {
	const char *name;
	const char *text;
} errtab[] = {
	[0] = { "ok", "success" },
	[1] = { "nomem", "out of memory" },
	[2] = { "invalid", "invalid argument" },
	[3] = { "io", "I/O error" },
	[4] = { "not_found", "not found" },
	[5] = { "format", "malformed or truncated data" },
	[6] = { "integrity", "payload hash mismatch" },
	[7] = { "signature", "missing or bad signature" },
	[8] = { "too_big", "input too large" },
	[9] = { "parse", "IR does not parse" },
	[10] = { "verify", "IR fails verification" },
	[11] = { "target", "unknown or contradictory target" },
	[12] = { "compile", "compilation failed" },
	[13] = { "crash", "worker crashed" },
	[14] = { "timeout", "deadline exceeded" },
	[15] = { "oom", "worker memory limit exceeded" },
	[16] = { "quarantined", "input quarantined after repeated crashes" },
	[17] = { "store", "store unavailable" },
	[18] = { "read_only", "store is read-only" },
	[19] = { "busy", "busy, retry later" },
	[20] = { "protocol", "protocol error" },
	[21] = { "auth", "not authorised" },
	[22] = { "resync", "cursor expired, resync required" },
	[23] = { "system", "system call failed" },
	[24] = { "unsupported", "operation not supported" },
	[25] = { "closed", "shut down" },
	[26] = { "fatal", "LLVM fatal error" },
	[27] = { "exists", "already exists" },
};

static int
err_index(int err)
{
	int i = -err;

	if (i < 0 || i >= (int)(sizeof(errtab) / sizeof(errtab[0])))
		return -1;
	return i;
}

const char *
jf_strerror(int err)
{
	int i = err_index(err);

	return i < 0 ? "unknown error" : errtab[i].text;
}

const char *
jf_errname(int err)
{
	int i = err_index(err);

	return i < 0 ? "unknown" : errtab[i].name;
}
