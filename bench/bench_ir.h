/*
 * bench_ir.h - the module the compile benchmarks share: nfn small loops,
 * half of them array loops the vectoriser works on, half reductions, so
 * bench/compile and bench/pool measure the same work.
 */
#ifndef JF_BENCH_IR_H
#define JF_BENCH_IR_H

#include <stdio.h>
#include <stdlib.h>

/* A malloc'd LLVM IR text module of nfn functions; *len excludes the NUL. */
static inline char *
bench_gen_ir(int nfn, size_t *len)
{
	size_t cap = (size_t)nfn * 1024 + 256, used = 0;
	char *s = malloc(cap);
	int i;

	if (s == NULL)
		abort();
	for (i = 0; i < nfn; i++) {
		if (i % 2 == 0)
			used += (size_t)snprintf(s + used, cap - used,
			    "define void @f%d(ptr %%a, ptr %%b, i64 %%n) {\n"
			    "entry:\n"
			    "  %%c0 = icmp sgt i64 %%n, 0\n"
			    "  br i1 %%c0, label %%loop, label %%exit\n"
			    "loop:\n"
			    "  %%i = phi i64 [ 0, %%entry ], [ %%i1, %%loop ]\n"
			    "  %%pa = getelementptr inbounds i32, ptr %%a, i64 %%i\n"
			    "  %%va = load i32, ptr %%pa\n"
			    "  %%pb = getelementptr inbounds i32, ptr %%b, i64 %%i\n"
			    "  %%vb = load i32, ptr %%pb\n"
			    "  %%m = mul i32 %%va, %d\n"
			    "  %%s = add i32 %%m, %%vb\n"
			    "  %%x = xor i32 %%s, %d\n"
			    "  store i32 %%x, ptr %%pa\n"
			    "  %%i1 = add nuw nsw i64 %%i, 1\n"
			    "  %%c = icmp slt i64 %%i1, %%n\n"
			    "  br i1 %%c, label %%loop, label %%exit\n"
			    "exit:\n"
			    "  ret void\n"
			    "}\n", i, i + 3, i * 7 + 1);
		else
			used += (size_t)snprintf(s + used, cap - used,
			    "define i64 @f%d(ptr %%a, i64 %%n) {\n"
			    "entry:\n"
			    "  %%c0 = icmp sgt i64 %%n, 0\n"
			    "  br i1 %%c0, label %%loop, label %%exit\n"
			    "loop:\n"
			    "  %%i = phi i64 [ 0, %%entry ], [ %%i1, %%loop ]\n"
			    "  %%acc = phi i64 [ %d, %%entry ], [ %%acc2, %%loop ]\n"
			    "  %%p = getelementptr inbounds i64, ptr %%a, i64 %%i\n"
			    "  %%v = load i64, ptr %%p\n"
			    "  %%t = mul i64 %%v, %d\n"
			    "  %%acc2 = add i64 %%acc, %%t\n"
			    "  %%i1 = add nuw nsw i64 %%i, 1\n"
			    "  %%c = icmp slt i64 %%i1, %%n\n"
			    "  br i1 %%c, label %%loop, label %%exit\n"
			    "exit:\n"
			    "  %%r = phi i64 [ 0, %%entry ], [ %%acc2, %%loop ]\n"
			    "  ret i64 %%r\n"
			    "}\n", i, i, i + 5);
	}
	*len = used;
	return s;
}

#endif
