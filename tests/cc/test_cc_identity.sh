#!/bin/sh
# test_cc_identity.sh - every object `jitfarm cc` writes is byte for byte
# the object clang-19 writes for the same command line.
#
# Every C file of Lua 5.4 (tests/cc/lua, copied: the shared sources stay
# untouched) is compiled three times for each flag set of the byte-
# identity contract: by clang-19 directly, through jitfarm-cc on a cold
# store (a miss), and again (a direct hit). The three objects must be
# equal under cmp, and the counters must show the misses and the hits.
# Flags the cache cannot reproduce (split DWARF, a time trace) must fall
# back to the real compiler, which writes the same objects and the extra
# outputs, and the counters must show those fallbacks by reason.
#
# Two files compile at a time (xargs -P2).
set -u
JCC="${JF_BIN:?}/jitfarm-cc"
J="${JF_BIN:?}/jitfarm"
SRC="${JF_SRC:?}"
LUA="$SRC/tests/cc/lua"
T=$(mktemp -d "${TMPDIR:-/tmp}/jftest-ccid-XXXXXX")
trap 'rm -rf "$T"' EXIT
unset JITFARM_STATS XDG_CACHE_HOME JITFARM_CC JITFARM_CC_BASEDIR JITFARM_CC_VERBOSE \
	JITFARM_CC_DISABLE JITFARM_CC_NODIRECT JITFARM_CC_PREPROCESSED CPATH C_INCLUDE_PATH
export JITFARM_STORE="file://$T/store"
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
counter() { # NAME: this store's counter (0 when absent)
	"$JCC" --show-stats >/dev/null 2>&1
	"$J" stat 2>/dev/null | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}

if [ ! -f "$LUA/src/Makefile" ]; then
	sh "$SRC/tests/cc/fetch-lua.sh" >/dev/null 2>&1 || true
fi
if [ ! -f "$LUA/src/Makefile" ]; then
	echo "not ok 1 - Lua sources missing (tests/cc/fetch-lua.sh)"
	exit 1
fi
mkdir -p "$T/lua"
cp "$LUA"/src/*.c "$LUA"/src/*.h "$T/lua/"
cd "$T/lua" || exit 1
files=$(ls *.c)
nfiles=$(echo "$files" | wc -w)

# one.sh OUTDIR FILE FLAGS...: the three compiles of one file, each to
# the same -o path (split DWARF records it) and then moved aside
cat >"$T/one.sh" <<'SH'
out=$1; f=$2; shift 2
b=${f%.c}
o="$out/o/$b.o"
clang-19 "$@" -c "$f" -o "$o" 2>"$out/ref/$b.err" || echo "clang failed: $f" >>"$out/fail"
mv "$o" "$out/ref/$b.o"
"$JCC" clang-19 "$@" -c "$f" -o "$o" 2>"$out/miss/$b.err" || echo "miss failed: $f" >>"$out/fail"
mv "$o" "$out/miss/$b.o"
"$JCC" clang-19 "$@" -c "$f" -o "$o" 2>"$out/hit/$b.err" || echo "hit failed: $f" >>"$out/fail"
mv "$o" "$out/hit/$b.o"
SH
export JCC

# compare LABEL OUTDIR: ref, miss and hit objects equal for every file
compare() {
	differ=""
	for f in $files; do
		b=${f%.c}
		cmp -s "$2/ref/$b.o" "$2/miss/$b.o" || differ="$differ miss:$b"
		cmp -s "$2/ref/$b.o" "$2/hit/$b.o" || differ="$differ hit:$b"
	done
	if [ -z "$differ" ] && [ ! -s "$2/fail" ]; then
		ok "$1: $nfiles objects identical to clang-19's, on misses and on hits"
	else
		bad "$1: objects differ from clang-19's:$differ"
		[ -f "$2/fail" ] && sed 's/^/    # /' "$2/fail"
	fi
}

# run_set LABEL FLAGS...: compile every file three ways
k=0
run_set() {
	k=$((k + 1))
	label=$1; shift
	out="$T/set$k"
	mkdir -p "$out/ref" "$out/miss" "$out/hit" "$out/o"
	echo "$files" | tr ' ' '\n' | xargs -P2 -I{} sh "$T/one.sh" "$out" {} \
		-std=gnu99 -Wall -DLUA_COMPAT_5_3 -DLUA_USE_LINUX "$@"
}

for flags in "-O0" "-O2 -g" "-Os -fPIC" "-O3 -fno-vectorize -fno-slp-vectorize" \
	"-O2 -ffunction-sections -fdata-sections" "-Oz -gz"; do
	m0=$(counter cc-misses); d0=$(counter cc-direct-hits)
	s=$(date +%s)
	# shellcheck disable=SC2086
	run_set "$flags" $flags
	secs=$(( $(date +%s) - s ))
	compare "$flags (${secs} s)" "$T/set$k"
	m1=$(counter cc-misses); d1=$(counter cc-direct-hits)
	if [ $((m1 - m0)) -eq "$nfiles" ] && [ $((d1 - d0)) -eq "$nfiles" ]; then
		ok "$flags: $nfiles misses, then $nfiles direct hits"
	else
		bad "$flags: $((m1 - m0)) misses and $((d1 - d0)) direct hits, want $nfiles each"
	fi
done

# flags the cache cannot stand in for: the real compiler runs
for fb in "-O2 -g -gsplit-dwarf:extra-output:dwo" "-O2 -ftime-trace:extra-output:json"; do
	flags=${fb%%:*}; rest=${fb#*:}; slug=${rest%%:*}; ext=${rest#*:}
	f0=$(counter "cc-fallback-$slug"); m0=$(counter cc-misses); d0=$(counter cc-direct-hits)
	# shellcheck disable=SC2086
	run_set "$flags" $flags
	compare "$flags (falls back)" "$T/set$k"
	f1=$(counter "cc-fallback-$slug"); m1=$(counter cc-misses); d1=$(counter cc-direct-hits)
	nx=$(ls "$T/set$k/o/"*."$ext" "$T/lua/"*."$ext" 2>/dev/null | wc -l)
	if [ $((f1 - f0)) -eq $((2 * nfiles)) ] && [ "$m1" -eq "$m0" ] && [ "$d1" -eq "$d0" ] &&
	    [ "$nx" -gt 0 ]; then
		ok "$flags: every compile falls back ($slug), with its .$ext output"
	else
		bad "$flags: fallbacks $((f1 - f0)) (want $((2 * nfiles))), misses $((m1 - m0)), hits $((d1 - d0)), .$ext files $nx"
	fi
	rm -f "$T/lua/"*."$ext"
done
"$JCC" --show-stats

echo "$n checks, $fails failed"
[ $fails -eq 0 ]
