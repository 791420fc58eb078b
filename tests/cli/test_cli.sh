#!/bin/sh
# test_cli.sh - the `jitfarm` command end to end: exit codes (0 ok, 1
# compile error or failed operation, 2 usage error), the cache (miss then
# hit, counted in `stat` across processes), the store commands, an
# object that links into a working program, and concurrent compiles of
# one key into one store.
set -u
J="${JF_BIN:?}/jitfarm"
SRC="${JF_SRC:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/jftest-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
export JITFARM_STORE="file://$T/store"
unset JITFARM_STATS XDG_CACHE_HOME
fails=0
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; [ -f "$T/err" ] && sed 's/^/    # /' "$T/err"; }
# expect CODE DESCRIPTION CMD...: run CMD, check its exit code
expect() {
	want=$1; what=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	# a sanitizer report in the command's own stderr fails the test (and
	# is echoed to the log, where tests/run.sh looks for it too)
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/err"; then
		bad "$what: sanitizer report"
		cat "$T/err"
		return
	fi
	if [ "$got" -eq "$want" ]; then ok "$what (exit $got)"; else bad "$what: exit $got, want $want"; fi
}
# has FILE TEXT DESCRIPTION
has() { if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3: '$2' not in $(cat "$1")"; fi; }

cp "$SRC/examples/add/add.ll" "$T/add.ll"

# --- usage errors: exit 2 ---
expect 2 "no command" "$J"
expect 2 "unknown command" "$J" frobnicate
has "$T/err" "unknown command 'frobnicate'" "unknown command is named"
expect 2 "compile without input" "$J" compile -o "$T/x.o"
expect 2 "compile without -o" "$J" compile "$T/add.ll"
expect 2 "-o without value" "$J" compile "$T/add.ll" -o
expect 2 "unknown option" "$J" compile "$T/add.ll" -o "$T/x.o" --bogus
has "$T/err" "unknown option '--bogus'" "unknown option is named"
expect 2 "bad opt level" "$J" compile "$T/add.ll" -o "$T/x.o" -O7
expect 2 "two inputs" "$J" compile "$T/add.ll" "$T/add.ll" -o "$T/x.o"
expect 2 "get with a bad key" "$J" get nothex -o "$T/x.o"
expect 2 "gc without --max-bytes" "$J" gc
expect 2 "gc with a bad size" "$J" gc --max-bytes lots
expect 2 "keygen without paths" "$J" keygen
expect 0 "help" "$J" help
has "$T/out" "compile" "help lists compile"
expect 0 "--help" "$J" --help
expect 0 "help compile" "$J" help compile
has "$T/out" "--cpu NAME" "help compile lists the options"

# --- compile errors: exit 1, LLVM's message on stderr ---
printf 'define i32 @f() {\n  ret i32 %%nope\n}\n' >"$T/bad.ll"
expect 1 "IR that does not parse" "$J" compile "$T/bad.ll" -o "$T/x.o"
has "$T/err" "jitfarm-input:2:" "parse error names the line"
has "$T/err" "use of undefined value '%nope'" "parse error carries LLVM's message"
printf 'define i32 @f(i32 %%a) {\nentry:\n  %%x = add i32 %%y, 1\n  %%y = add i32 %%a, 1\n  ret i32 %%x\n}\n' >"$T/unverified.ll"
expect 1 "IR that fails the verifier" "$J" compile "$T/unverified.ll" -o "$T/x.o"
has "$T/err" "Instruction does not dominate all uses" "verifier message"
expect 1 "unknown cpu" "$J" compile "$T/add.ll" -o "$T/x.o" --cpu nosuchcpu
has "$T/err" "unknown cpu 'nosuchcpu'" "unknown cpu is named"
expect 1 "unknown feature" "$J" compile "$T/add.ll" -o "$T/x.o" --features +nosuchfeature
has "$T/err" "unknown cpu feature 'nosuchfeature'" "unknown feature is named"
expect 1 "missing input file" "$J" compile "$T/none.ll" -o "$T/x.o"
expect 1 "undefined exported symbol" "$J" compile "$T/add.ll" -o "$T/x.o" --symbol nope
# IR that passes the verifier and then makes LLVM's x86 code generator
# abort: the compile runs in a sandboxed worker of the pool, so the
# command reports the worker's error (the fatal-error frame it sent before
# dying, not a signal) and exits 1 itself
cat >"$T/fatal.ll" <<'IR'
declare void @llvm.aarch64.neon.st1x2.v8i8.p0(<8 x i8>, <8 x i8>, ptr)
define void @f(<8 x i8> %a, <8 x i8> %b, ptr %p) {
  call void @llvm.aarch64.neon.st1x2.v8i8.p0(<8 x i8> %a, <8 x i8> %b, ptr %p)
  ret void
}
IR
expect 1 "IR that makes LLVM abort" "$J" compile "$T/fatal.ll" -o "$T/x.o"
has "$T/err" "LLVM ERROR: Do not know how to widen" "LLVM's fatal error is reported"
if grep -q "signal" "$T/err"; then bad "the fatal error is the worker's frame, not a signal"
else ok "the fatal error is the worker's frame, not a signal"; fi
# the same through a pipe, and again: a failure is never cached as a hit
expect 1 "IR from stdin that makes LLVM abort" sh -c '"$1" compile - -o "$2" <"$3"' sh \
    "$J" "$T/x.o" "$T/fatal.ll"
has "$T/err" "LLVM ERROR: Do not know how to widen this operator's operand!" \
    "the worker's whole message reaches the command"
expect 1 "IR that makes LLVM abort, a second time" "$J" compile "$T/fatal.ll" -o "$T/x.o"
has "$T/err" "LLVM ERROR: Do not know how to widen" "the second run compiles and fails again"
[ ! -e "$T/x.o" ] && ok "no output after errors"

# a module big enough that LLVM sorts more than 1 KiB at once (glibc's
# qsort then wants sysinfo, which the workers' sandbox does not allow
# unless the zygote primed it): 40 vectorisable loops from clang-19, O2
i=0
while [ $i -lt 40 ]; do
	echo "void f$i(int *a, int *b, long n) { for (long i = 0; i < n; i++) a[i] = (a[i] * $((i + 3)) + b[i]) ^ $((i * 7 + 1)); }"
	i=$((i + 1))
done >"$T/loops.c"
if clang-19 -S -emit-llvm -O1 -Xclang -disable-llvm-passes "$T/loops.c" -o "$T/loops.ll" 2>"$T/err"; then
	expect 0 "40 loops at -O2 in a sandboxed worker" "$J" compile "$T/loops.ll" -o "$T/loops.o" --no-cache
	rm -f "$T/loops.o"
else
	bad "clang-19 could not make loops.ll"
fi || bad "an output file was left behind"

# --- the cache: miss, then hit, and the same bytes ---
expect 0 "first compile" "$J" compile "$T/add.ll" -o "$T/add.o" -v
has "$T/err" "cache: miss " "first compile is a miss"
key=$(sed -n 's/^cache: miss \([0-9a-f]\{64\}\)$/\1/p' "$T/err")
[ ${#key} -eq 64 ] && ok "miss prints the key" || bad "no key in: $(cat "$T/err")"
expect 0 "second compile" "$J" compile "$T/add.ll" -o "$T/add2.o" -v
has "$T/err" "cache: hit $key" "second compile is a hit with the same key"
cmp -s "$T/add.o" "$T/add2.o" && ok "hit gives the same object" || bad "objects differ"
"$J" compile - -o "$T/stdin.o" <"$T/add.ll" 2>"$T/err" && cmp -s "$T/stdin.o" "$T/add.o" &&
	ok "IR from stdin gives the same object" || bad "compile from stdin"
# ELF relocatable: e_type (bytes 16-17, little-endian) == 1
etype=$(od -An -tu2 -j16 -N2 "$T/add.o" | tr -d ' ')
[ "$etype" = 1 ] && ok "object is ELF ET_REL" || bad "e_type $etype"
expect 0 "-O0 compile" "$J" compile "$T/add.ll" -o "$T/add0.o" -O0 -v
has "$T/err" "cache: miss" "another opt level is another key"
expect 0 "--no-cache compile" "$J" compile "$T/add.ll" -o "$T/add3.o" --no-cache -v
cmp -s "$T/add.o" "$T/add3.o" && ok "uncached compile gives the same bytes" || bad "uncached differs"

# the object links into a working program
if cc "$SRC/examples/add/link/main.c" "$T/add.o" -o "$T/addprog" 2>"$T/err" &&
    "$T/addprog" >"$T/out"; then
	ok "cc main.c add.o links and runs"
	has "$T/out" "add(40, 2) = 42" "linked program computes"
else
	bad "link or run failed"
fi

# --- store commands ---
expect 0 "ls" "$J" ls
has "$T/out" "$key" "ls shows the key"
grep "^$key " "$T/out" | grep -q " x86_64-[a-z]*-linux-gnu x86-64-v2 O2$" &&
	ok "ls shows size and target" || bad "ls line: $(grep "^$key" "$T/out")"
[ "$(wc -l <"$T/out")" -eq 2 ] && ok "ls: one line per entry" || bad "ls lines: $(cat "$T/out")"
expect 0 "stat" "$J" stat
has "$T/out" "entries    2" "stat counts entries"
has "$T/out" "hits       2" "stat counts hits across processes"
has "$T/out" "misses     2" "stat counts misses across processes"
grep -q "^errors     [1-9]" "$T/out" && ok "stat counts errors" || bad "errors: $(cat "$T/out")"
expect 0 "get" "$J" get "$key" -o "$T/got.o"
cmp -s "$T/got.o" "$T/add.o" && ok "get returns the object" || bad "get differs"
expect 0 "get --blob" "$J" get "$key" -o "$T/got.blob" --blob
expect 1 "get of a missing key" "$J" get 0000000000000000000000000000000000000000000000000000000000000000 -o "$T/x.o"
has "$T/err" "not in the store" "missing key is reported"
expect 0 "put into another store" "$J" put "$T/got.blob" --store "file://$T/store2"
has "$T/out" "$key" "put prints the key"
expect 0 "ls the other store" "$J" ls --store "file://$T/store2"
has "$T/out" "$key" "the put entry is listed"
expect 1 "put of a non-blob" "$J" put "$T/add.ll" --store "file://$T/store2"
has "$T/err" "not an artifact blob" "put checks the blob"
expect 0 "gc to 0 bytes" "$J" gc --max-bytes 0
has "$T/out" "removed 2 entries" "gc removes entries"
expect 0 "stat after gc" "$J" stat
has "$T/out" "entries    0" "store is empty after gc"
expect 1 "gc of a non-file store" "$J" gc --max-bytes 1M --store redis://127.0.0.1:1/0
expect 0 "keygen" "$J" keygen "$T/k.priv" "$T/k.pub"
grep -q "PRIVATE KEY" "$T/k.priv" && grep -q "PUBLIC KEY" "$T/k.pub" &&
	ok "keygen writes PEM keys" || bad "keygen files"

# --- concurrent compiles of one key into one store ---
export JITFARM_STORE="file://$T/cstore"
for i in 1 2 3 4; do
	( "$J" compile "$T/add.ll" -o "$T/c$i.o"; echo $? >"$T/c$i.rc" ) &
done
wait
allok=1
for i in 1 2 3 4; do
	[ "$(cat "$T/c$i.rc")" = 0 ] && cmp -s "$T/c$i.o" "$T/add.o" || allok=0
done
[ $allok = 1 ] && ok "4 concurrent compiles all succeed with the same object" || bad "concurrent compiles"
"$J" ls >"$T/out" 2>"$T/err"
[ "$(wc -l <"$T/out")" -eq 1 ] && ok "one entry after concurrent writers" || bad "entries: $(cat "$T/out")"
left=$(find "$T/cstore" -type f ! -name journal ! -name cli-stats ! -name '[0-9a-f]*[0-9a-f]' | wc -l)
[ "$left" -eq 0 ] && ok "no temp files left" || bad "leftovers: $(find "$T/cstore" -type f)"
"$J" stat >"$T/out" 2>&1
hm=$(awk '$1=="hits"||$1=="misses"{s+=$2} END{print s}' "$T/out")
[ "$hm" = 4 ] && ok "every concurrent compile was counted" || bad "hits+misses=$hm"

echo "1..$n"
[ $fails -eq 0 ] && echo "all $n passed" || echo "$fails of $n failed"
[ $fails -eq 0 ]
