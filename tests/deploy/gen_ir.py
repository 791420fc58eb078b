#!/usr/bin/python3
"""Write an LLVM IR text module of N looping functions to stdout.

usage: gen_ir.py SALT N

SALT goes into every constant, so each salt is a distinct input (a
distinct artifact key); N sets how long an O2 compile takes (about 4 ms a
function on a 2-core machine: vectorisable loops over memory).
"""
import sys

salt, n = int(sys.argv[1]), int(sys.argv[2])
out = ['source_filename = "containers-%d"' % salt]
for i in range(n):
    k = salt * 7919 + i
    out.append("""define void @f%(i)d(ptr %%a, ptr %%b, i64 %%n) {
entry:
  %%c0 = icmp sgt i64 %%n, 0
  br i1 %%c0, label %%loop, label %%exit
loop:
  %%i = phi i64 [ 0, %%entry ], [ %%i1, %%loop ]
  %%pa = getelementptr inbounds i32, ptr %%a, i64 %%i
  %%va = load i32, ptr %%pa
  %%pb = getelementptr inbounds i32, ptr %%b, i64 %%i
  %%vb = load i32, ptr %%pb
  %%m = mul i32 %%va, %(k)d
  %%s = add i32 %%m, %%vb
  %%x = xor i32 %%s, %(j)d
  store i32 %%x, ptr %%pa
  %%i1 = add nuw nsw i64 %%i, 1
  %%c = icmp slt i64 %%i1, %%n
  br i1 %%c, label %%loop, label %%exit
exit:
  ret void
}""" % {"i": i, "k": k % 65521 + 3, "j": (k * 31) % 65521 + 1})
print("\n".join(out))
