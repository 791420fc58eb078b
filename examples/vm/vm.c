/*
 * vm.c - an example host for libjitfarm: a small stack-bytecode VM that
 * interprets its programs, and runs them natively once the farm has
 * compiled them.
 *
 * The VM's programs are loops over 64-bit integers (push, load/store of
 * locals, arithmetic, compare, conditional jumps, and a call into the
 * host, vm_host_mix). On every execution the host asks the runtime:
 *
 *     jf_decision_t d = jf_lookup(rt, program_id);
 *     result = d.fn ? ((vm_native_fn)d.fn)(arg) : vm_interpret(prog, arg);
 *
 * A program's id is the SHA-256 of "vm1" and its bytecode (the host's own
 * id, not an IR hash). When a program turns hot the runtime asks this
 * host for IR through the IR provider: vm_emit_ir() translates bytecode
 * to LLVM IR text, one stack slot and one local per alloca, which the
 * optimiser turns into registers. Native code calls back into the host
 * through the runtime's host-symbol table (vm_host_mix).
 *
 * It prints what happened: how long programs ran interpreted and how
 * long native, the speed-up, when each turned native, and that native
 * and interpreted results agree.
 *
 * usage: vm --help
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "jitfarm/runtime.h"

/* ---- the VM ------------------------------------------------------------------ */

enum op {
	OP_ARG,         /* push the argument */
	OP_PUSH,        /* push imm */
	OP_LOAD,        /* push local[imm] */
	OP_STORE,       /* local[imm] = pop */
	OP_ADD, OP_SUB, OP_MUL,
	OP_MOD,         /* a % b (b != 0 by construction) */
	OP_LT,          /* a < b -> 1 : 0 */
	OP_JZ,          /* pop; jump to imm when zero */
	OP_JMP,         /* jump to imm */
	OP_MIX,         /* top = vm_host_mix(top) */
	OP_RET          /* return pop */
};

#define VM_STACK 16
#define VM_LOCALS 4
#define VM_MAXCODE 64

typedef struct insn {
	uint8_t op;
	int64_t imm;
} insn_t;

typedef struct program {
	insn_t code[VM_MAXCODE];
	int n;
	uint8_t id[32];
	char name[32];
	/* what happened to it */
	uint64_t interp_calls, native_calls, interp_ns, native_ns;
	double first_native_ms;
	int64_t expect;
} program_t;

typedef int64_t (*vm_native_fn)(int64_t);

/* The host function compiled code calls (given to the runtime by name). */
int64_t vm_host_mix(int64_t v);

int64_t
vm_host_mix(int64_t v)
{
	uint64_t x = (uint64_t)v;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (int64_t)(x & 0x7fffffffffffull);
}

static int64_t
vm_interpret(const program_t *p, int64_t arg)
{
	int64_t st[VM_STACK], loc[VM_LOCALS] = { 0 };
	int sp = 0, pc = 0;

	for (;;) {
		const insn_t *in = &p->code[pc++];

		switch (in->op) {
		case OP_ARG: st[sp++] = arg; break;
		case OP_PUSH: st[sp++] = in->imm; break;
		case OP_LOAD: st[sp++] = loc[in->imm]; break;
		case OP_STORE: loc[in->imm] = st[--sp]; break;
		case OP_ADD: sp--; st[sp - 1] = (int64_t)((uint64_t)st[sp - 1] + (uint64_t)st[sp]); break;
		case OP_SUB: sp--; st[sp - 1] = (int64_t)((uint64_t)st[sp - 1] - (uint64_t)st[sp]); break;
		case OP_MUL: sp--; st[sp - 1] = (int64_t)((uint64_t)st[sp - 1] * (uint64_t)st[sp]); break;
		case OP_MOD: sp--; st[sp - 1] = st[sp] ? st[sp - 1] % st[sp] : 0; break;
		case OP_LT: sp--; st[sp - 1] = st[sp - 1] < st[sp]; break;
		case OP_JZ: if (st[--sp] == 0) pc = (int)in->imm; break;
		case OP_JMP: pc = (int)in->imm; break;
		case OP_MIX: st[sp - 1] = vm_host_mix(st[sp - 1]); break;
		case OP_RET: return st[--sp];
		default: return 0;
		}
	}
}

/*
 * Program k: acc = 0; for (i = 0; i < x; i++) acc = (acc * 31 + i * a + b) % m;
 * return mix(acc), with constants a, b, m from k.
 */
static void
vm_make_program(program_t *p, unsigned k)
{
	int64_t a = 3 + k, b = 7 * (int64_t)k + 1, m = 1000003 + 2 * (int64_t)k;
	insn_t code[] = {
		{ OP_PUSH, 0 }, { OP_STORE, 0 },                        /* 0: i = 0 */
		{ OP_PUSH, 0 }, { OP_STORE, 1 },                        /* 2: acc = 0 */
		{ OP_LOAD, 0 }, { OP_ARG, 0 }, { OP_LT, 0 }, { OP_JZ, 25 },     /* 4: while i < x */
		{ OP_LOAD, 1 }, { OP_PUSH, 31 }, { OP_MUL, 0 },         /* 8 */
		{ OP_LOAD, 0 }, { OP_PUSH, a }, { OP_MUL, 0 }, { OP_ADD, 0 },
		{ OP_PUSH, b }, { OP_ADD, 0 }, { OP_PUSH, m }, { OP_MOD, 0 },
		{ OP_STORE, 1 },                                        /* 19 */
		{ OP_LOAD, 0 }, { OP_PUSH, 1 }, { OP_ADD, 0 }, { OP_STORE, 0 }, /* 20..23 */
		{ OP_JMP, 4 },                                          /* 24 */
		{ OP_LOAD, 1 }, { OP_MIX, 0 }, { OP_RET, 0 },           /* 25: return mix(acc) */
	};
	EVP_MD_CTX *ctx;
	unsigned int len = 32;
	int i;

	memset(p, 0, sizeof(*p));
	p->n = (int)(sizeof(code) / sizeof(code[0]));
	memcpy(p->code, code, sizeof(code));
	snprintf(p->name, sizeof(p->name), "prog%u", k);
	ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, "vm1", 3);
	for (i = 0; i < p->n; i++) {
		uint8_t rec[9];
		int j;

		rec[0] = p->code[i].op;
		for (j = 0; j < 8; j++)
			rec[1 + j] = (uint8_t)((uint64_t)p->code[i].imm >> (8 * j));
		EVP_DigestUpdate(ctx, rec, sizeof(rec));
	}
	EVP_DigestFinal_ex(ctx, p->id, &len);
	EVP_MD_CTX_free(ctx);
}

/* ---- bytecode to LLVM IR ---------------------------------------------------------- */

typedef struct sbuf {
	char *s;
	size_t n, cap;
} sbuf_t;

static void
sb_printf(sbuf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (n >= 0 && b->s != NULL && b->n + (size_t)n < b->cap) {
			b->n += (size_t)n;
			return;
		}
		b->cap = b->cap ? b->cap * 2 : 4096;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			abort();
	}
}

/* Stack depth before each instruction; -1 when the program is malformed. */
static int
vm_depths(const program_t *p, int depth[VM_MAXCODE])
{
	int work[VM_MAXCODE], nw = 0, i;

	for (i = 0; i < p->n; i++)
		depth[i] = -1;
	depth[0] = 0;
	work[nw++] = 0;
	while (nw > 0) {
		int pc = work[--nw], d = depth[pc], nd = d, next[2], nn = 0, j;
		const insn_t *in = &p->code[pc];

		switch (in->op) {
		case OP_ARG: case OP_PUSH: case OP_LOAD: nd = d + 1; next[nn++] = pc + 1; break;
		case OP_STORE: nd = d - 1; next[nn++] = pc + 1; break;
		case OP_ADD: case OP_SUB: case OP_MUL: case OP_MOD: case OP_LT:
			nd = d - 1; next[nn++] = pc + 1; break;
		case OP_JZ: nd = d - 1; next[nn++] = pc + 1; next[nn++] = (int)in->imm; break;
		case OP_JMP: next[nn++] = (int)in->imm; break;
		case OP_MIX: next[nn++] = pc + 1; break;
		case OP_RET: if (d < 1) return -1; continue;
		default: return -1;
		}
		if (nd < 0 || nd > VM_STACK)
			return -1;
		if ((in->op == OP_LOAD || in->op == OP_STORE) &&
		    (in->imm < 0 || in->imm >= VM_LOCALS))
			return -1;
		for (j = 0; j < nn; j++) {
			if (next[j] < 0 || next[j] >= p->n)
				return -1;
			if (depth[next[j]] == -1) {
				depth[next[j]] = nd;
				work[nw++] = next[j];
			} else if (depth[next[j]] != nd) {
				return -1;
			}
		}
	}
	return 0;
}

/* LLVM IR text for a program; malloc'd, or NULL when malformed. */
static char *
vm_emit_ir(const program_t *p)
{
	int depth[VM_MAXCODE], i;
	sbuf_t b = { NULL, 0, 0 };

	if (vm_depths(p, depth) != 0)
		return NULL;
	sb_printf(&b, "; %s\ndeclare i64 @vm_host_mix(i64)\n\n"
	    "define i64 @vm_main(i64 %%x) {\nentry:\n", p->name);
	for (i = 0; i < VM_STACK; i++)
		sb_printf(&b, "  %%s%d = alloca i64\n", i);
	for (i = 0; i < VM_LOCALS; i++)
		sb_printf(&b, "  %%l%d = alloca i64\n  store i64 0, ptr %%l%d\n", i, i);
	sb_printf(&b, "  br label %%pc0\n");
	for (i = 0; i < p->n; i++) {
		const insn_t *in = &p->code[i];
		int d = depth[i];
		static const char *const arith[] = {
			[OP_ADD] = "add", [OP_SUB] = "sub", [OP_MUL] = "mul", [OP_MOD] = "srem"
		};

		sb_printf(&b, "pc%d:\n", i);
		if (d < 0) {    /* unreachable */
			sb_printf(&b, "  unreachable\n");
			continue;
		}
		switch (in->op) {
		case OP_ARG:
			sb_printf(&b, "  store i64 %%x, ptr %%s%d\n", d);
			break;
		case OP_PUSH:
			sb_printf(&b, "  store i64 %lld, ptr %%s%d\n", (long long)in->imm, d);
			break;
		case OP_LOAD:
			sb_printf(&b, "  %%v%d = load i64, ptr %%l%lld\n  store i64 %%v%d, ptr %%s%d\n",
			    i, (long long)in->imm, i, d);
			break;
		case OP_STORE:
			sb_printf(&b, "  %%v%d = load i64, ptr %%s%d\n  store i64 %%v%d, ptr %%l%lld\n",
			    i, d - 1, i, (long long)in->imm);
			break;
		case OP_ADD: case OP_SUB: case OP_MUL: case OP_MOD:
			sb_printf(&b, "  %%a%d = load i64, ptr %%s%d\n  %%b%d = load i64, ptr %%s%d\n"
			    "  %%v%d = %s i64 %%a%d, %%b%d\n  store i64 %%v%d, ptr %%s%d\n",
			    i, d - 2, i, d - 1, i, arith[in->op], i, i, i, d - 2);
			break;
		case OP_LT:
			sb_printf(&b, "  %%a%d = load i64, ptr %%s%d\n  %%b%d = load i64, ptr %%s%d\n"
			    "  %%c%d = icmp slt i64 %%a%d, %%b%d\n  %%v%d = zext i1 %%c%d to i64\n"
			    "  store i64 %%v%d, ptr %%s%d\n",
			    i, d - 2, i, d - 1, i, i, i, i, i, i, d - 2);
			break;
		case OP_JZ:
			sb_printf(&b, "  %%v%d = load i64, ptr %%s%d\n  %%c%d = icmp eq i64 %%v%d, 0\n"
			    "  br i1 %%c%d, label %%pc%lld, label %%pc%d\n",
			    i, d - 1, i, i, i, (long long)in->imm, i + 1);
			continue;
		case OP_JMP:
			sb_printf(&b, "  br label %%pc%lld\n", (long long)in->imm);
			continue;
		case OP_MIX:
			sb_printf(&b, "  %%a%d = load i64, ptr %%s%d\n"
			    "  %%v%d = call i64 @vm_host_mix(i64 %%a%d)\n  store i64 %%v%d, ptr %%s%d\n",
			    i, d - 1, i, i, i, d - 1);
			break;
		case OP_RET:
			sb_printf(&b, "  %%v%d = load i64, ptr %%s%d\n  ret i64 %%v%d\n", i, d - 1, i);
			continue;
		}
		sb_printf(&b, "  br label %%pc%d\n", i + 1);
	}
	sb_printf(&b, "}\n");
	return b.s;
}

/* ---- the host ------------------------------------------------------------------- */

static program_t *progs;
static int nprogs;
static int quiet;
static const char *node = "node";
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t t_start;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static program_t *
find_program(const uint8_t *id)
{
	int i;

	for (i = 0; i < nprogs; i++)
		if (memcmp(progs[i].id, id, 32) == 0)
			return &progs[i];
	return NULL;
}

/* The IR provider: called on a runtime thread when a program turned hot. */
static int
provide_ir(void *arg, const uint8_t *id, const void **ir, size_t *len)
{
	program_t *p = find_program(id);
	char *text;

	(void)arg;
	if (p == NULL)
		return JF_ERR_NOTFOUND;
	if ((text = vm_emit_ir(p)) == NULL)
		return JF_ERR_NOTFOUND;         /* malformed: never compile it */
	*ir = text;
	*len = strlen(text);
	return 0;
}

static void
release_ir(void *arg, const void *ir)
{
	(void)arg;
	free((void *)ir);
}

static void
on_event(void *arg, const jf_event_t *ev)
{
	static const char *const kinds[] = { "?", "compiled on the farm", "fetched from the store",
		"preloaded", "pushed", "evicted", "REJECTED" };
	program_t *p = ev->program_id ? find_program(ev->program_id) : NULL;

	(void)arg;
	if (quiet || ev->kind == JF_EV_PRELOAD)
		return;
	pthread_mutex_lock(&print_lock);
	printf("  [%s +%6.1f ms] %-8s %s in %.1f ms%s%s%s\n", node,
	    (now_ns() - t_start) / 1e6, p ? p->name : "?",
	    ev->kind > 0 && ev->kind <= 6 ? kinds[ev->kind] : "?", ev->duration_ns / 1e6,
	    ev->result ? " FAILED: " : "", ev->result ? jf_strerror(ev->result) : "",
	    ev->result && ev->message[0] ? "" : "");
	if (ev->result && ev->message[0])
		printf("      %s\n", ev->message);
	pthread_mutex_unlock(&print_lock);
}

static void
usage(FILE *fp, int code)
{
	fprintf(fp,
	    "usage: vm [options]\n\n"
	    "An example node: a bytecode VM that interprets its programs and runs\n"
	    "them natively once libjitfarm has them compiled on the farm.\n\n"
	    "  --store URL          artifact store (default $JITFARM_STORE or\n"
	    "                       file://~/.cache/jitfarm)\n"
	    "  --farm URL           http://HOST:PORT, unix:PATH, local (start a private\n"
	    "                       jitfarm-master; the default) or none\n"
	    "  --token-file FILE    bearer token for the farm (else $JITFARM_TOKEN)\n"
	    "  --public-key FILE    Ed25519 public key: load only artifacts it signed\n"
	    "  --programs N         programs in the workload (default 8)\n"
	    "  --runs R             rounds over every program (default 200)\n"
	    "  --arg X              each program's argument: loop length (default 2000)\n"
	    "  --threshold T        misses before a program compiles (default 20)\n"
	    "  --forever            keep running rounds until SIGTERM, one every 100 ms\n"
	    "                       (a node's steady traffic), with a status line every 10 s\n"
	    "  --until-native S     after the rounds, keep running until every program\n"
	    "                       has run natively, for at most S seconds\n"
	    "  --name NAME          name in the output (default node)\n"
	    "  --quiet              summary only\n"
	    "  --help               this text\n");
	exit(code);
}

static volatile sig_atomic_t stop_flag;

/* --forever's pace: one round of the workload every 100 ms */
#define FOREVER_ROUND_NS 100000000L

/* Has every program of the workload run natively at least once? */
static int
all_native(void)
{
	int i;

	for (i = 0; i < nprogs; i++)
		if (progs[i].native_calls == 0)
			return 0;
	return 1;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static char *
read_token(const char *path)
{
	char buf[1024], *p;
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "vm: %s: cannot read the token\n", path);
		exit(1);
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (p = buf + n; p > buf && (p[-1] == '\n' || p[-1] == '\r' || p[-1] == ' '); p--)
		p[-1] = '\0';
	return strdup(buf);
}

int
main(int argc, char **argv)
{
	const char *store = NULL, *farm = "local", *pubkey = getenv("JITFARM_PUBLIC_KEY");
	char *token = getenv("JITFARM_TOKEN") ? strdup(getenv("JITFARM_TOKEN")) : NULL;
	int runs = 200, threshold = 20, i, r, mismatches = 0, forever = 0;
	double until_native_s = 0;
	uint64_t last_status = 0;
	int64_t arg = 2000;
	jf_config_t *c;
	jf_runtime_t *rt;
	jf_stats_t st;
	char err[1024];
	uint64_t t_open, interp_ns = 0, native_ns = 0, interp_calls = 0, native_calls = 0;
	double first_native = -1;

	nprogs = 8;
	t_start = now_ns();
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--quiet") == 0) {
			quiet = 1;
			continue;
		}
		if (strcmp(a, "--forever") == 0) {
			forever = 1;
			continue;
		}
		if (strcmp(a, "--help") == 0)
			usage(stdout, 0);
		if (v == NULL)
			usage(stderr, 2);
		i++;
		if (strcmp(a, "--store") == 0)
			store = v;
		else if (strcmp(a, "--farm") == 0)
			farm = v;
		else if (strcmp(a, "--programs") == 0)
			nprogs = atoi(v);
		else if (strcmp(a, "--runs") == 0)
			runs = atoi(v);
		else if (strcmp(a, "--arg") == 0)
			arg = atoll(v);
		else if (strcmp(a, "--threshold") == 0)
			threshold = atoi(v);
		else if (strcmp(a, "--until-native") == 0)
			until_native_s = atof(v);
		else if (strcmp(a, "--name") == 0)
			node = v;
		else if (strcmp(a, "--public-key") == 0)
			pubkey = v;
		else if (strcmp(a, "--token-file") == 0) {
			free(token);
			token = read_token(v);
		} else
			usage(stderr, 2);
	}
	if (nprogs <= 0 || nprogs > 10000 || runs <= 0 || threshold <= 0 ||
	    until_native_s < 0 || until_native_s > 3600)
		usage(stderr, 2);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((progs = calloc((size_t)nprogs, sizeof(*progs))) == NULL)
		return 1;
	for (i = 0; i < nprogs; i++)
		vm_make_program(&progs[i], (unsigned)i);

	jf_config_new(&c);
	jf_config_set_store(c, store);
	jf_config_set_farm(c, farm, token);
	jf_config_set_namespace(c, "vm-demo");
	jf_config_set_target(c, NULL, NULL, NULL, '2');
	jf_config_set_entry(c, "vm_main");
	jf_config_add_symbol(c, "vm_host_mix", (void *)vm_host_mix);
	jf_config_set_ir_provider(c, provide_ir, release_ir, NULL);
	jf_config_set_event_callback(c, on_event, NULL);
	jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, threshold);
	if (pubkey != NULL)
		jf_config_set_public_key(c, pubkey);
	if (jf_runtime_open(c, &rt, err, sizeof(err)) != 0) {
		fprintf(stderr, "vm: %s\n", err);
		return 1;
	}
	jf_config_free(c);
	t_open = now_ns();
	jf_runtime_stats(rt, &st, sizeof(st));
	printf("[%s] runtime open in %.1f ms: %llu programs preloaded from the store\n", node,
	    (t_open - t_start) / 1e6, (unsigned long long)st.preloaded);

	/* the reference results, by the interpreter */
	for (i = 0; i < nprogs; i++)
		progs[i].expect = vm_interpret(&progs[i], arg);

	for (r = 0; (forever || r < runs || (until_native_s > 0 && !all_native() &&
	    now_ns() - t_open < (uint64_t)(until_native_s * 1e9))) && !stop_flag; r++) {
		if (forever && now_ns() - last_status > 10000000000ull) {
			jf_runtime_stats(rt, &st, sizeof(st));
			printf("[%s] round %d: %llu lookups, %llu hits, %llu programs native, "
			    "%llu compiles, %llu pushed\n", node, r,
			    (unsigned long long)st.lookups, (unsigned long long)st.hits,
			    (unsigned long long)st.programs, (unsigned long long)st.compiles,
			    (unsigned long long)st.pushed);
			fflush(stdout);
			last_status = now_ns();
		}
		for (i = 0; i < nprogs; i++) {
			program_t *p = &progs[i];
			jf_decision_t d = jf_lookup(rt, p->id);
			uint64_t t0 = now_ns(), dt;
			int64_t res;

			if (d.fn != NULL) {
				res = ((vm_native_fn)d.fn)(arg);
				dt = now_ns() - t0;
				if (p->native_calls++ == 0) {
					p->first_native_ms = (now_ns() - t_start) / 1e6;
					if (first_native < 0)
						first_native = p->first_native_ms;
				}
				p->native_ns += dt;
			} else {
				res = vm_interpret(p, arg);
				dt = now_ns() - t0;
				p->interp_calls++;
				p->interp_ns += dt;
			}
			if (res != p->expect)
				mismatches++;
		}
		if (forever) {
			/* a round per FOREVER_ROUND_NS, not back to back: a node
			 * waiting for traffic must not keep a core busy */
			struct timespec ts = { 0, FOREVER_ROUND_NS };

			nanosleep(&ts, NULL);
		}
	}
	jf_runtime_stats(rt, &st, sizeof(st));

	if (!quiet) {
		printf("\n[%s] %-8s %8s %12s %8s %12s %9s %14s\n", node, "program", "interp",
		    "us/call", "native", "us/call", "speed-up", "native after");
		for (i = 0; i < nprogs && i < 16; i++) {
			program_t *p = &progs[i];
			double iu = p->interp_calls ? p->interp_ns / 1e3 / p->interp_calls : 0;
			double nu = p->native_calls ? p->native_ns / 1e3 / p->native_calls : 0;

			printf("[%s] %-8s %8llu %12.1f %8llu %12.2f %8.1fx %11.1f ms\n", node,
			    p->name, (unsigned long long)p->interp_calls, iu,
			    (unsigned long long)p->native_calls, nu, iu > 0 && nu > 0 ? iu / nu : 0,
			    p->first_native_ms);
		}
	}
	for (i = 0; i < nprogs; i++) {
		interp_ns += progs[i].interp_ns;
		native_ns += progs[i].native_ns;
		interp_calls += progs[i].interp_calls;
		native_calls += progs[i].native_calls;
	}
	printf("\n[%s] %llu executions: %llu interpreted (%.1f us each), %llu native (%.2f us each)\n",
	    node, (unsigned long long)(interp_calls + native_calls),
	    (unsigned long long)interp_calls, interp_calls ? interp_ns / 1e3 / interp_calls : 0,
	    (unsigned long long)native_calls, native_calls ? native_ns / 1e3 / native_calls : 0);
	if (interp_calls > 0 && native_calls > 0)
		printf("[%s] native code runs %.1fx faster than the interpreter\n", node,
		    (interp_ns / (double)interp_calls) / (native_ns / (double)native_calls));
	if (first_native >= 0)
		printf("[%s] time to first native execution: %.1f ms after start\n", node,
		    first_native);
	else
		printf("[%s] no program ran natively\n", node);
	printf("[%s] runtime: %llu promotions, %llu farm compiles, %llu store fetches, "
	    "%llu preloaded, %llu pushed, %llu programs in the map\n", node,
	    (unsigned long long)st.promotions, (unsigned long long)st.compiles,
	    (unsigned long long)st.fetches, (unsigned long long)st.preloaded,
	    (unsigned long long)st.pushed, (unsigned long long)st.programs);
	printf("[%s] results: %s\n", node, mismatches == 0 ?
	    "native and interpreted agree on every execution" : "MISMATCH");
	jf_runtime_close(rt);
	free(progs);
	free(token);
	return mismatches == 0 ? 0 : 1;
}
