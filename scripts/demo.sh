#!/bin/sh
# demo.sh - what `make demo` runs: jitfarm on its embedded default, a
# file store, in a private temp directory.
#
#   1. compile examples/add/add.ll twice: a miss, then a hit (with -v);
#   2. show the store (ls, stat);
#   3. load the object into a small ORC LLJIT host and call it;
#   4. link the same object into an ordinary C program with cc;
#   5. the farm: a jitfarm-master on a unix socket with the same file store;
#   6. node 1, the example VM host (examples/vm) linked with libjitfarm,
#      runs a workload: programs start interpreted, turn hot, are compiled
#      on the farm and switch to native code;
#   7. node 2 starts later: everything is preloaded from the store, so it
#      runs natively from its first execution.
#
# The Makefile passes JF_BIN, JF_BUILD and JF_SRC; run from the top of the
# tree without them, it uses build/.
set -eu
SRC="${JF_SRC:-$(pwd)}"
BUILD="${JF_BUILD:-$SRC/build}"
J="${JF_BIN:-$BUILD/bin}/jitfarm"
HOST="$BUILD/examples/orchost/orchost"
VM="$BUILD/examples/vm/vm"
MASTER="${JF_BIN:-$BUILD/bin}/jitfarm-master"
T=$(mktemp -d "${TMPDIR:-/tmp}/jitfarm-demo-XXXXXX")
MPID=
cleanup() {
	if [ -n "$MPID" ]; then kill "$MPID" 2>/dev/null || true; wait "$MPID" 2>/dev/null || true; fi
	rm -rf "$T"
}
trap cleanup EXIT
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

step "5. the farm: jitfarm-master on a unix socket, sharing the store"
# started directly, not through run(): $! must be the master itself, or
# the cleanup would stop a subshell and leave the master running
printf '$ %s\n' "$MASTER --listen unix:$T/master.sock --store $JITFARM_STORE --workers 2 --log-level warn &"
"$MASTER" --listen "unix:$T/master.sock" --store "$JITFARM_STORE" --workers 2 \
	--log-level warn >"$T/master.log" 2>&1 &
MPID=$!
i=0
while [ ! -S "$T/master.sock" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$T/master.sock" ] || { cat "$T/master.log"; echo "master did not start"; exit 1; }
echo "master pid $MPID listening on unix:$T/master.sock"

step "6. node 1: the example VM runs 8 programs; hot ones compile on the farm"
"$VM" --farm "unix:$T/master.sock" --store "$JITFARM_STORE" --name node1 \
	--runs 150 --arg 20000 --threshold 10 | tee "$T/node1.out"

step "7. node 2 starts later: every program is preloaded, native from the start"
"$VM" --farm "unix:$T/master.sock" --store "$JITFARM_STORE" --name node2 \
	--runs 150 --arg 20000 --threshold 10 --quiet | tee "$T/node2.out"

step "the story in numbers"
grep -h "faster than the interpreter" "$T/node1.out" || true
grep -h "executions:" "$T/node1.out" || true
grep -h "time to first native execution" "$T/node1.out" "$T/node2.out" || true
grep -h "runtime open" "$T/node2.out" || true

printf '\ndemo finished: miss, hit, ORC call and native link all worked; hot programs went native on the farm, and node 2 started warm\n'
