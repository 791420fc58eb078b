#!/bin/sh
# demo.sh - what `make demo` runs: jitfarm on its embedded default, a
# file store, in a private temp directory.
#
#   1. compile examples/add/add.ll twice: a miss, then a hit (with -v);
#   2. show the store (ls, stat);
#   3. load the object into a small ORC LLJIT host and call it;
#   4. link the same object into an ordinary C program with cc.
#
# The Makefile passes JF_BIN, JF_BUILD and JF_SRC; run from the top of the
# tree without them, it uses build/.
set -eu
SRC="${JF_SRC:-$(pwd)}"
BUILD="${JF_BUILD:-$SRC/build}"
J="${JF_BIN:-$BUILD/bin}/jitfarm"
HOST="$BUILD/examples/orchost/orchost"
T=$(mktemp -d "${TMPDIR:-/tmp}/jitfarm-demo-XXXXXX")
trap 'rm -rf "$T"' EXIT
JITFARM_STORE="file://$T/store"
export JITFARM_STORE

if [ -t 1 ]; then B=$(printf '\033[1m'); N=$(printf '\033[0m'); else B= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "the program: examples/add/add.ll (LLVM IR, no target in it)"
grep '^define' "$SRC/examples/add/add.ll"

step "1. compile it: the store ($JITFARM_STORE) is empty, so this is a miss"
run "$J" compile "$SRC/examples/add/add.ll" -o "$T/add.o" -v

step "   compile it again: a hit, served from the store without compiling"
run "$J" compile "$SRC/examples/add/add.ll" -o "$T/add.o" -v

step "2. the store"
run "$J" ls
run "$J" stat

step "3. load the object with ORC LLJIT (LLVMOrcLLJITAddObjectFile) and call it"
run "$HOST" "$T/add.o" add 40 2
run "$HOST" "$T/add.o" sum_to 100

step "4. the same object is an ordinary ELF relocatable: cc links it"
run cc "$SRC/examples/add/link/main.c" "$T/add.o" -o "$T/add"
run "$T/add"

printf '\ndemo finished: miss, hit, ORC call and native link all worked\n'
