#!/bin/sh
# test_cc.sh - `jitfarm cc` end to end, with clang-19 and a file store.
#
# Part 1, a small project: a cold compile is a miss and links into a
# working program; the same compile again is a direct-mode hit; a changed
# header is a miss (never a stale object); a source using __DATE__ skips
# direct mode; warnings are replayed on a hit; -MD depfiles are written on
# hits too; -g compiles in another directory miss unless the directory is
# mapped away; each compile the cache cannot stand in for (-E, -S,
# linking, several sources, unsupported options, another compiler) runs
# the real compiler, says why with -v and counts a fallback by reason; a
# compile error keeps the compiler's exit status and message; an
# unreachable store never fails the build. (test_cc_env.sh has the
# environment, depfile, stdout and control tests; test_cc_identity.sh the
# byte-identity suite.)
#
# Part 2, a real project: Lua 5.4 from Debian's sources (fetch-lua.sh),
# built with make CC="jitfarm-cc ..." (the binary without LLVM) three
# times: cold, again after make clean (every compile a direct hit), and in
# a second checkout at another path and depth (every compile a direct hit
# again). Each built lua must pass smoke.lua.
set -u
J="${JF_BIN:?}/jitfarm"
JCC="${JF_BIN:?}/jitfarm-cc"
SRC="${JF_SRC:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/jftest-cc-XXXXXX")
trap 'rm -rf "$T"' EXIT
unset JITFARM_STATS XDG_CACHE_HOME JITFARM_FARM JITFARM_CC JITFARM_CC_BASEDIR \
	JITFARM_CC_VERBOSE JITFARM_CC_DISABLE JITFARM_CC_NODIRECT
export JITFARM_STORE="file://$T/store"
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; [ -f "$T/err" ] && sed 's/^/    # /' "$T/err" | tail -20; }
# counter NAME: this store's cc counter (0 when absent); cc-fallbacks is
# the sum of every cc-fallback-REASON
counter() { "$J" stat 2>/dev/null | awk -v k="$1" '$1 == k || (k == "cc-fallbacks" && $1 ~ /^cc-fallback-/) { v += $2 } END { print v + 0 }'; }
sanitizer_clean() {
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/err"; then
		cat "$T/err"
		return 1
	fi
	return 0
}
# run CMD...: output to $T/out, $T/err; status in $rc
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; sanitizer_clean || rc=99; }
check() { # DESCRIPTION CONDITION...
	what=$1; shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

# --- part 1: a small project ----------------------------------------------------
P=$T/p1/proj
mkdir -p "$P/include"
cat >"$P/include/conf.h" <<'H'
#define ANSWER 42
H
cat >"$P/util.c" <<'C'
#include "conf.h"
int util_answer(void) { return ANSWER; }
C
cat >"$P/main.c" <<'C'
#include <stdio.h>
#include "conf.h"
int util_answer(void);
int main(void) { printf("%d %d\n", util_answer(), ANSWER); return 0; }
C
cat >"$P/warn.c" <<'C'
int warn_me(int x) { int unused; return x; }
C
cat >"$P/date.c" <<'C'
const char *built_on(void) { return __DATE__; }
C
cat >"$P/bad.c" <<'C'
int broken(void) { return undeclared_thing; }
C
cd "$P" || exit 1
CC1="$J cc -v clang-19 -O2 -Wall -Iinclude"

m0=$(counter cc-misses)
run $CC1 -c util.c -o util.o
check "cold compile succeeds" [ $rc -eq 0 ] && [ -s util.o ]
check "cold compile is a miss" grep -q "util.c: miss" "$T/err"
run $CC1 -c main.c -o main.o
run clang-19 main.o util.o -o prog
check "objects link into a working program" sh -c "[ \"\$('$P/prog')\" = '42 42' ]"
check "misses counted" [ "$(counter cc-misses)" -eq $((m0 + 2)) ]

cp util.o util.o.first
rm -f util.o
d0=$(counter cc-direct-hits)
run $CC1 -c util.c -o util.o
check "same compile again is a direct hit" grep -q "util.c: hit (direct)" "$T/err"
check "direct hit counted" [ "$(counter cc-direct-hits)" -eq $((d0 + 1)) ]
check "hit object is the same object" cmp -s util.o util.o.first

# default output name (no -o)
rm -f util.o
run $CC1 -c util.c
check "no -o writes util.o" [ $rc -eq 0 ] && [ -s util.o ] && cmp -s util.o util.o.first

# a changed header must miss
echo '#define ANSWER 43' >include/conf.h
run $CC1 -c util.c -o util.o
check "changed header is a miss" grep -q "util.c: miss" "$T/err"
run $CC1 -c main.c -o main.o
run clang-19 main.o util.o -o prog
check "rebuilt program sees the new header" sh -c "[ \"\$('$P/prog')\" = '43 43' ]"
echo '#define ANSWER 42' >include/conf.h
run $CC1 -c util.c -o util.o
check "header changed back: the first object again" cmp -s util.o util.o.first
# with --preprocessed, a direct miss tries preprocessor mode: the entry
# of the first header set still answers
CCP="$J cc -v --preprocessed clang-19 -O2 -Wall -Iinclude -DPP_MODE"
run $CCP -c util.c -o util.o
echo '#define ANSWER 43' >include/conf.h
run $CCP -c util.c -o util.o
echo '#define ANSWER 42' >include/conf.h
p0=$(counter cc-preprocessed-hits)
run $CCP -c util.c -o util.o
check "--preprocessed: header changed back is a preprocessed hit" sh -c "grep -q 'util.c: hit (preprocessed)' '$T/err' && [ $(counter cc-preprocessed-hits) -eq $((p0 + 1)) ]"
cp util.o util.o.pp
run clang-19 -O2 -Wall -Iinclude -DPP_MODE -c util.c -o util.o.ref
check "--preprocessed: the hit is clang's object" cmp -s util.o.pp util.o.ref

# warnings are replayed on a hit
run $CC1 -c warn.c -o warn.o
check "warning shown on a miss" grep -q "unused variable" "$T/err"
run $CC1 -c warn.c -o warn.o
check "warning replayed on a hit" sh -c "grep -q 'hit (direct)' '$T/err' && grep -q 'unused variable' '$T/err'"

# __DATE__: never a direct hit
run $CC1 -c date.c -o date.o
run $CC1 -c date.c -o date.o
check "__DATE__ source skips direct mode (preprocessed hit)" grep -q "date.c: hit (preprocessed)" "$T/err"

# depfiles
run $CC1 -MD -MF util.d -c util.c -o util.o
cp util.d util.d.first 2>/dev/null
check "-MD on a miss writes the depfile" grep -q "include/conf.h" util.d
rm -f util.d util.o
run $CC1 -MD -MF util.d -c util.c -o util.o
check "-MD on a hit writes the same depfile" sh -c "grep -q 'hit (direct)' '$T/err' && cmp -s util.d util.d.first"
check "depfile names the real output" grep -q "^util.o:" util.d
run $CC1 -MMD -c main.c -o main.o
check "-MMD without -MF writes main.d next to the output" grep -q "^main.o:" main.d

# fallbacks: each runs the real compiler and says why
f0=$(counter cc-fallbacks)
run $CC1 -E util.c -o util.i
check "-E falls back, output written" sh -c "[ $rc -eq 0 ] && grep -q 'preprocess only' '$T/err' && grep -q 'util_answer' util.i"
run $CC1 -S util.c -o util.s
check "-S falls back" sh -c "[ $rc -eq 0 ] && grep -q 'assembly output' '$T/err' && grep -q util_answer util.s"
run $CC1 main.c util.c -o prog2
check "linking falls back" sh -c "[ $rc -eq 0 ] && grep -q 'linking' '$T/err' && [ \"\$('$P/prog2')\" = '42 42' ]"
run $CC1 -c main.c util.c
check "two sources fall back" sh -c "[ $rc -eq 0 ] && grep -q 'more than one source' '$T/err'"
run $CC1 -fsanitize=address -c util.c -o util_asan.o
check "sanitizer flag falls back (ignore lists are files the key does not cover)" sh -c "[ $rc -eq 0 ] && grep -q 'sanitizer' '$T/err' && [ -s util_asan.o ]"
run $CC1 -g -gsplit-dwarf -c util.c -o util_sd.o
check "split DWARF falls back (a second output)" sh -c "[ $rc -eq 0 ] && grep -q 'split DWARF' '$T/err' && [ -s util_sd.dwo ]"
run $CC1 -march=native -c util.c -o util_n.o
check "-march=native falls back (this machine's CPU)" sh -c "[ $rc -eq 0 ] && grep -q \"this machine's CPU\" '$T/err'"
f1=$(counter cc-fallback-unknown-option)
run $CC1 --some-unknown-flag -c util.c -o x.o
check "unknown option falls back (and the compiler judges it)" sh -c "[ $rc -ne 0 ] && grep -q 'unsupported option --some-unknown-flag' '$T/err'"
run "$J" cc -v gcc -O2 -Iinclude -c util.c -o util_gcc.o
if command -v gcc >/dev/null 2>&1; then
	check "another compiler falls back" sh -c "[ $rc -eq 0 ] && grep -q 'is not clang' '$T/err' && [ -s util_gcc.o ]"
fi
check "fallbacks counted" [ "$(counter cc-fallbacks)" -ge $((f0 + 8)) ]
check "fallbacks counted by reason" [ "$(counter cc-fallback-unknown-option)" -eq $((f1 + 1)) ]

# a compile error: the compiler's status and message, not a cache error
e0=$(counter cc-errors)
run $CC1 -c bad.c -o bad.o
check "compile error keeps a non-zero status" [ $rc -ne 0 ] && [ ! -e bad.o ]
check "compile error shows the compiler's message" grep -q "undeclared_thing" "$T/err"
check "compile error is not a cache error" [ "$(counter cc-errors)" -eq "$e0" ]

# an unreachable store never fails the build
run env JITFARM_STORE="redis://127.0.0.1:1/0" $CC1 -c util.c -o util_nostore.o
check "unreachable store: the build still succeeds" sh -c "[ $rc -eq 0 ] && cmp -s util_nostore.o util.o.first"

# jitfarm-cc, the binary without LLVM: the same entries, the same fallbacks
rm -f util.o
d0=$(counter cc-direct-hits)
run "$JCC" -v clang-19 -O2 -Wall -Iinclude -c util.c -o util.o
check "jitfarm-cc: a direct hit on jitfarm cc's entry" sh -c "grep -q 'util.c: hit (direct)' '$T/err' && cmp -s util.o util.o.first && [ $(counter cc-direct-hits) -eq $((d0 + 1)) ]"
echo 'int front_only(void) { return 7; }' >front.c
run "$JCC" -v clang-19 -O2 -c front.c -o front.o
check "jitfarm-cc: a miss is compiled by clang" sh -c "[ $rc -eq 0 ] && grep -q 'front.c: miss' '$T/err' && [ -s front.o ]"
run "$JCC" -v clang-19 -O2 -c front.c -o front.o
check "jitfarm-cc: then a direct hit" grep -q "front.c: hit (direct)" "$T/err"
run "$JCC" -v clang-19 main.c util.c -Iinclude -o prog3
check "jitfarm-cc: linking falls back by itself" sh -c "[ $rc -eq 0 ] && grep -q 'linking' '$T/err' && [ \"\$('$P/prog3')\" = '42 42' ]"
run "$JCC" -v clang-19 -O2 -c bad.c -o bad.o
check "jitfarm-cc: a compile error keeps its status" sh -c "[ $rc -ne 0 ] && grep -q undeclared_thing '$T/err'"
check "jitfarm-cc does not load LLVM" sh -c "! ldd '$JCC' | grep -q LLVM"
check "jitfarm-cc links no libcurl, hiredis or libcrypto (loaded when a store needs them)" \
	sh -c "! ldd '$JCC' | grep -qE 'libcurl|hiredis|libcrypto'"
# a Redis store: hiredis loaded on demand, entries readable by both binaries
if command -v redis-server >/dev/null 2>&1; then
	rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
		>"$T/redis.log" 2>&1 &
	rpid=$!
	i=0
	until redis-cli -p "$rport" ping >/dev/null 2>&1 || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
	echo 'int redis_fn(int x) { return x - 4; }' >redis.c
	RS="redis://127.0.0.1:$rport/0?prefix=jfcc"
	run env JITFARM_STORE="$RS" "$JCC" -v clang-19 -O2 -c redis.c -o redis1.o
	check "Redis store: a miss through jitfarm-cc" sh -c "[ $rc -eq 0 ] && grep -q 'redis.c: miss' '$T/err'"
	run env JITFARM_STORE="$RS" "$JCC" -v clang-19 -O2 -c redis.c -o redis2.o
	check "Redis store: then a direct hit, the same object" sh -c "grep -q 'redis.c: hit (direct)' '$T/err' && cmp -s redis1.o redis2.o"
	run env JITFARM_STORE="$RS" "$J" cc -v clang-19 -O2 -c redis.c -o redis3.o
	check "Redis store: jitfarm cc (OpenSSL's SHA-256) hits jitfarm-cc's entry" sh -c "grep -q 'redis.c: hit (direct)' '$T/err' && cmp -s redis1.o redis3.o"
	kill "$rpid"; wait "$rpid" 2>/dev/null
fi

# -g: the working directory is in the debug info, so another directory
# misses, unless -fdebug-prefix-map maps it away
mkdir -p "$T/p2"
cp -r "$P" "$T/p2/proj"
run $CC1 -g -c util.c -o util_g.o
cd "$T/p2/proj" || exit 1
run $CC1 -g -c util.c -o util_g.o
check "-g in another directory misses" grep -q "util.c: miss" "$T/err"
run $CC1 -c util.c -o util.o
check "without -g another directory hits" grep -q "util.c: hit (direct)" "$T/err"
# sharing -g objects across checkouts: a base directory and a prefix map
run env JITFARM_CC_BASEDIR="$T" $CC1 -g -fdebug-prefix-map="$T/p2/proj=." -c util.c -o util_gm.o
cd "$P" || exit 1
run env JITFARM_CC_BASEDIR="$T" $CC1 -g -fdebug-prefix-map="$P=." -c util.c -o util_gm.o
check "-g with the directory mapped away hits" grep -q "util.c: hit (direct)" "$T/err"
# absolute paths: kept as given (clang's __FILE__), unless under a base
# directory that is asked for, where they are made relative
cd "$T/p2/proj" || exit 1
run $CC1 -I"$T/p2/proj/include" -c "$T/p2/proj/util.c" -o util_abs.o
cd "$P" || exit 1
run $CC1 -I"$P/include" -c "$P/util.c" -o util_abs.o
check "absolute paths without a base directory: another checkout misses" grep -q "util.c: miss" "$T/err"
cd "$T/p2/proj" || exit 1
run env JITFARM_CC_BASEDIR="$T" $CC1 -I"$T/p2/proj/include" -c "$T/p2/proj/util.c" -o util_abs.o
cd "$P" || exit 1
run env JITFARM_CC_BASEDIR="$T" $CC1 -I"$P/include" -c "$P/util.c" -o util_abs.o
check "absolute paths under JITFARM_CC_BASEDIR hit across checkouts" grep -q "hit (direct)" "$T/err"

# --- part 2: Lua 5.4 ------------------------------------------------------------
LUA="$SRC/tests/cc/lua"
if [ ! -f "$LUA/src/Makefile" ]; then
	sh "$SRC/tests/cc/fetch-lua.sh" >"$T/err" 2>&1 || true
fi
if [ ! -f "$LUA/src/Makefile" ]; then
	bad "Lua sources missing (tests/cc/fetch-lua.sh, run by scripts/install-deps.sh)"
else
	export JITFARM_STORE="file://$T/luastore"
	nsrc=$(ls "$LUA"/src/*.c | wc -l)
	build() { # DIR LABEL
		(cd "$1/src" && make -j2 linux-noreadline \
		    CC="$JCC clang-19 -std=gnu99" >"$T/build-$2.log" 2>&1)
	}
	smoke() { # DIR LABEL
		if "$1/src/lua" "$SRC/tests/cc/smoke.lua" >"$T/smoke.out" 2>&1 &&
		    grep -q "smoke ok" "$T/smoke.out"; then
			ok "$2: lua passes smoke.lua ($(cat "$T/smoke.out"))"
		else
			bad "$2: lua fails smoke.lua"; cat "$T/smoke.out"
		fi
	}
	# copy_lua LUA DIR: a real copy (LUA is a symlink to a shared tree, which
	# cp -r would copy as a link), then without what a build there left
	copy_lua() {
		mkdir -p "$2" && cp -R "$1/." "$2/" &&
		    rm -f "$2"/src/*.o "$2"/src/*.a "$2"/src/lua "$2"/src/luac && [ ! -L "$2" ]
	}
	mkdir -p "$T/a"
	copy_lua "$LUA" "$T/a/lua"
	m0=$(counter cc-misses); d0=$(counter cc-direct-hits)
	s=$(date +%s)
	if build "$T/a/lua" cold; then ok "Lua cold build ($(( $(date +%s) - s )) s)"; else bad "Lua cold build"; tail -20 "$T/build-cold.log"; fi
	check "cold build: $nsrc misses" [ "$(counter cc-misses)" -eq $((m0 + nsrc)) ]
	smoke "$T/a/lua" cold
	(cd "$T/a/lua/src" && make clean >/dev/null 2>&1)
	s=$(date +%s)
	if build "$T/a/lua" warm; then ok "Lua warm build ($(( $(date +%s) - s )) s)"; else bad "Lua warm build"; tail -20 "$T/build-warm.log"; fi
	check "warm build: all $nsrc compiles are direct hits, no miss" \
		sh -c "[ $(counter cc-direct-hits) -eq $((d0 + nsrc)) ] && [ $(counter cc-misses) -eq $((m0 + nsrc)) ]"
	smoke "$T/a/lua" warm
	mkdir -p "$T/elsewhere/deeper/path"
	copy_lua "$LUA" "$T/elsewhere/deeper/path/lua"
	s=$(date +%s)
	if build "$T/elsewhere/deeper/path/lua" checkout2; then ok "Lua build in a second checkout ($(( $(date +%s) - s )) s)"; else bad "Lua second checkout build"; tail -20 "$T/build-checkout2.log"; fi
	check "second checkout: all $nsrc compiles are direct hits, no miss" \
		sh -c "[ $(counter cc-direct-hits) -eq $((d0 + 2 * nsrc)) ] && [ $(counter cc-misses) -eq $((m0 + nsrc)) ]"
	smoke "$T/elsewhere/deeper/path/lua" checkout2
	check "no cache errors (fallbacks to the real compiler) in the Lua builds" \
		[ "$(counter cc-errors)" -eq 0 ]
	"$J" stat
fi

echo "$n checks, $fails failed"
[ $fails -eq 0 ]
