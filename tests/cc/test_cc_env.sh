#!/bin/sh
# test_cc_env.sh - what can change clang's object changes jitfarm cc's.
#
# Each compile runs twice, through clang-19 and through jitfarm-cc, and
# the two objects must be equal under cmp, on the miss and on the hit
# that follows: include directories switched through CPATH and
# C_INCLUDE_PATH (a direct hit once served the object of the other
# directory), a changed -D, an edited header, reordered -I, a new header
# that shadows an old one earlier on the include path, SOURCE_DATE_EPOCH
# with __DATE__, an absolute source path (__FILE__ as clang gives it),
# -g under a symlinked $PWD. Then the outputs besides the object: `-o -`
# writes the object to stdout (and no file named "-"), -MD and -MMD
# depfiles equal clang's on misses and hits (no system headers for
# -MMD). Then the controls: JITFARM_CC_DISABLE runs the compiler
# straight through without touching the store or the counters, and
# --show-stats / --zero-stats report and reset the counters.
set -u
JCC="${JF_BIN:?}/jitfarm-cc"
T=$(mktemp -d "${TMPDIR:-/tmp}/jftest-ccenv-XXXXXX")
trap 'rm -rf "$T"' EXIT
unset JITFARM_STATS XDG_CACHE_HOME JITFARM_CC JITFARM_CC_BASEDIR JITFARM_CC_VERBOSE \
	JITFARM_CC_DISABLE JITFARM_CC_NODIRECT JITFARM_CC_PREPROCESSED CPATH C_INCLUDE_PATH \
	SOURCE_DATE_EPOCH
export JITFARM_STORE="file://$T/store" XDG_CACHE_HOME="$T/xdg"
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; sed 's/^/    # /' "$T/err" | tail -5; }
stat_of() { "$JCC" --show-stats | awk -v k="$1" '$1 == k { print $2 }'; }

# both LABEL WANT ARGS...: compile ARGS with clang-19 (to ref.o) and with
# jitfarm-cc (to got.o); the objects must be equal and jitfarm-cc's -v
# line must say WANT (miss, hit)
both() {
	label=$1; want=$2; shift 2
	rm -f "$T/ref.o" "$T/got.o"
	clang-19 "$@" -o "$T/ref.o" 2>/dev/null
	"$JCC" -v clang-19 "$@" -o "$T/got.o" 2>"$T/err"
	got=$(grep -o 'hit (direct)\|hit (preprocessed)\|: miss' "$T/err" | head -1 | sed 's/^: //')
	if [ -s "$T/ref.o" ] && cmp -s "$T/ref.o" "$T/got.o" && echo "$got" | grep -q "^$want"; then
		ok "$label: clang's object ($got)"
	else
		bad "$label: want clang's object and $want, got ${got:-no cache line}"
	fi
}

mkdir -p "$T/p/A" "$T/p/B" "$T/p/C"
cd "$T/p" || exit 1
echo '#define VAL 1' >A/val.h
echo '#define VAL 2' >B/val.h
cat >v.c <<'C'
#include "val.h"
int val(void) { return VAL; }
C

# CPATH and C_INCLUDE_PATH: the include path comes from the environment
export CPATH="$T/p/A"
both "CPATH=A" miss -O2 -c v.c
export CPATH="$T/p/B"
both "CPATH=B (the stale-object case)" miss -O2 -c v.c
export CPATH="$T/p/A"
both "CPATH=A again" hit -O2 -c v.c
export CPATH="$T/p/B"
both "CPATH=B again" hit -O2 -c v.c
unset CPATH
export C_INCLUDE_PATH="$T/p/A"
both "C_INCLUDE_PATH=A" miss -O2 -c v.c
export C_INCLUDE_PATH="$T/p/B"
both "C_INCLUDE_PATH=B" miss -O2 -c v.c
unset C_INCLUDE_PATH

# -D, an edited header, -I order
cat >d.c <<'C'
int d(void) { return DVAL; }
C
both "-DDVAL=1" miss -O2 -DDVAL=1 -c d.c
both "-DDVAL=2" miss -O2 -DDVAL=2 -c d.c
both "-DDVAL=1 again" hit -O2 -DDVAL=1 -c d.c
both "header before the edit" miss -O2 -IA -c v.c
echo '#define VAL 3' >A/val.h
both "header edited" miss -O2 -IA -c v.c
both "edited header again" hit -O2 -IA -c v.c
both "-IA -IB" miss -O2 -IA -IB -c v.c
both "-IB -IA" miss -O2 -IB -IA -c v.c
# a new header earlier on the include path shadows the one read before
both "-IC -IA, C empty" miss -O2 -IC -IA -c v.c
echo '#define VAL 4' >C/val.h
both "-IC -IA, C/val.h created" miss -O2 -IC -IA -c v.c
both "-IA: val.h from A" hit -O2 -IA -c v.c
echo '#define VAL 5' >val.h
both "-IA: val.h created next to the source (quote includes look there first)" miss -O2 -IA -c v.c
rm -f val.h
both "-IA: and removed again (one entry a key: the newest)" miss -O2 -IA -c v.c
# a quote include looks next to its includer first
mkdir -p H
echo '#include "inner.h"' >H/outer.h
echo '#define INNER 1' >B/inner.h
printf '#include "outer.h"\nint inner(void) { return INNER; }\n' >w.c
both "H/outer.h includes inner.h from B" miss -O2 -IH -IB -c w.c
both "the same again" hit -O2 -IH -IB -c w.c
echo '#define INNER 2' >H/inner.h
both "H/inner.h created next to its includer" miss -O2 -IH -IB -c w.c

# the hash cache (cc-hashes): a header changed to the same size with its
# mtime put back is still a miss (its ctime moved), and so is one changed
# while the cache is off
mkdir -p HC
echo '#define HCV 11' >HC/hc.h
printf '#include "hc.h"\nint hc(void) { return HCV; }\n' >hc.c
sleep 3         # older than 2 s: the hashes may be remembered
both "hash cache: first compile" miss -O2 -IHC -c hc.c
if [ -s "$T/xdg/jitfarm/cc-hashes" ]; then ok "hash cache file created"; else bad "hash cache file created"; fi
both "hash cache: a hit" hit -O2 -IHC -c hc.c
touch -r HC/hc.h "$T/stamp"
echo '#define HCV 22' >HC/hc.h
touch -r "$T/stamp" HC/hc.h
both "hash cache: same size, mtime put back" miss -O2 -IHC -c hc.c
sleep 3
both "hash cache: remembered again" hit -O2 -IHC -c hc.c
echo '#define HCV 33' >HC/hc.h
JITFARM_CC_HASHCACHE=0 both "hash cache off: an edit" miss -O2 -IHC -c hc.c

# SOURCE_DATE_EPOCH sets __DATE__
cat >date.c <<'C'
const char *built(void) { return __DATE__ " " __TIME__; }
C
export SOURCE_DATE_EPOCH=0
both "SOURCE_DATE_EPOCH=0" miss -O2 -c date.c
export SOURCE_DATE_EPOCH=1000000000
both "SOURCE_DATE_EPOCH=1000000000" miss -O2 -c date.c
export SOURCE_DATE_EPOCH=0
both "SOURCE_DATE_EPOCH=0 again" hit -O2 -c date.c
unset SOURCE_DATE_EPOCH

# __FILE__ as clang gives it: an absolute path stays absolute
cat >file.c <<'C'
const char *where(void) { return __FILE__; }
C
both "absolute source path" miss -O2 -c "$T/p/file.c"
if grep -q "$T/p/file.c" "$T/got.o"; then ok "__FILE__ is the absolute path"; else bad "__FILE__ is the absolute path"; fi
both "relative source path" miss -O2 -c file.c

# -g records the working directory, as $PWD names it
ln -s "$T/p" "$T/link"
cd "$T/link" || exit 1
both "-g under a symlinked PWD" miss -O2 -g -c v.c -IA
cd "$T/p" || exit 1
both "-g under the real path" miss -O2 -g -c v.c -IA

# -o -: the object on stdout
rm -f ./-
clang-19 -O2 -IA -c v.c -o "$T/ref.o"
"$JCC" clang-19 -O2 -IA -c v.c -o - >"$T/stdout.o" 2>"$T/err"
if cmp -s "$T/ref.o" "$T/stdout.o" && [ ! -e ./- ]; then ok "-o - writes the object to stdout (hit)"; else bad "-o - writes the object to stdout (hit)"; fi
"$JCC" clang-19 -O1 -IA -c v.c -o - >"$T/stdout.o" 2>"$T/err"
clang-19 -O1 -IA -c v.c -o "$T/ref.o"
if cmp -s "$T/ref.o" "$T/stdout.o" && [ ! -e ./- ]; then ok "-o - writes the object to stdout (miss)"; else bad "-o - writes the object to stdout (miss)"; fi

# depfiles: clang's, byte for byte, for -MD and -MMD, on a miss and a hit
cat >dep.c <<'C'
#include <stdio.h>
#include "val.h"
int dep(void) { return VAL + (int)sizeof(FILE); }
C
for md in -MD -MMD "-MD -MP" "-MMD -MF custom.d -MT target"; do
	dfile=dep.d
	case "$md" in *custom.d*) dfile=custom.d ;; esac
	rm -f dep.o "$dfile"
	# shellcheck disable=SC2086
	clang-19 -O2 -IA $md -c dep.c -o dep.o && mv "$dfile" "$T/ref.d"
	for pass in miss hit; do
		rm -f dep.o "$dfile"
		# shellcheck disable=SC2086
		"$JCC" -v clang-19 -O2 -IA $md -c dep.c -o dep.o 2>"$T/err"
		if cmp -s "$T/ref.d" "$dfile" && grep -q "$( [ $pass = miss ] && echo miss || echo 'hit (direct)')" "$T/err"; then
			ok "$md: the depfile is clang's ($pass)"
		else
			bad "$md: the depfile is clang's ($pass)"; diff "$T/ref.d" "$dfile" | head -5
		fi
	done
done
if grep -q stdio.h "$T/ref.d"; then bad "-MMD lists no system header"; elif grep -q val.h custom.d && ! grep -q stdio.h custom.d; then ok "-MMD lists no system header"; else bad "-MMD lists no system header"; fi

# JITFARM_CC_DISABLE: straight through, no store, no counters
"$JCC" --zero-stats
JITFARM_STORE="file://$T/never/store" JITFARM_CC_DISABLE=1 "$JCC" clang-19 -O2 -IA -c v.c -o "$T/got.o" 2>"$T/err"
clang-19 -O2 -IA -c v.c -o "$T/ref.o"
if cmp -s "$T/ref.o" "$T/got.o" && [ ! -e "$T/never" ]; then ok "JITFARM_CC_DISABLE: clang's object, the store untouched"; else bad "JITFARM_CC_DISABLE: clang's object, the store untouched"; fi

# --show-stats and --zero-stats
"$JCC" --zero-stats
"$JCC" clang-19 -O2 -IA -c v.c -o "$T/got.o" 2>/dev/null          # a direct hit
"$JCC" clang-19 -O2 -IA -c v.c -DNEW=1 -o "$T/got.o" 2>/dev/null  # a miss
"$JCC" clang-19 -O2 -IA -E v.c >/dev/null 2>&1                    # a fallback
"$JCC" clang-19 -O2 -IA -c v.c -o "$T/got.o" -save-temps 2>/dev/null
"$JCC" --show-stats >"$T/stats"
if grep -qE '^    direct +1$' "$T/stats" && grep -qE '^  misses +1$' "$T/stats" &&
    grep -qE '^fallbacks to the compiler +2$' "$T/stats" && grep -qE '^    preprocess +1$' "$T/stats" &&
    grep -qE '^    extra-output +1$' "$T/stats" && grep -qE '^errors \(compiler ran\) +0$' "$T/stats"; then
	ok "--show-stats: direct hits, misses, fallbacks by reason, errors"
else
	bad "--show-stats: direct hits, misses, fallbacks by reason, errors"; cat "$T/stats"
fi
"$JCC" --zero-stats
"$JCC" --show-stats >"$T/stats"
if grep -qE '^    direct +0$' "$T/stats" && grep -qE '^  misses +0$' "$T/stats" &&
    grep -qE '^fallbacks to the compiler +0$' "$T/stats"; then
	ok "--zero-stats: every counter back to 0"
else
	bad "--zero-stats: every counter back to 0"; cat "$T/stats"
fi

echo "$n checks, $fails failed"
[ $fails -eq 0 ]
