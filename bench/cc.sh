#!/bin/sh
# bench/cc.sh - the same real C project (Lua 5.4 from Debian's sources,
# tests/cc/fetch-lua.sh) built four ways, each cold and warm, one after
# the other in one run on this machine:
#
#   clang     plain clang-19 (no cache: warm = cold, the baseline)
#   ccache    Debian's ccache 4.7.5, Redis remote storage only
#             (remote_only: the local cache directory is not used)
#   sccache   Debian's sccache 0.4.0~pre6, local disk cache (this build has
#             no Redis support: "cache type is not enabled")
#   jitfarm   jitfarm-cc with the Redis store (direct mode on): the cc
#             command as a binary that links only libc (libcurl, hiredis
#             and libcrypto are loaded when a store needs them)
#   jf-1bin   the same through `jitfarm cc` itself, which loads libLLVM
#             on every compile, hits included
#
# Then one small file, hit 200 times in a row through each cache (the
# per-hit time), and the start-up alone (`--version`-like runs), against
# clang-19 compiling the same file.
#
# One redis-server, started here on a free loopback port, serves ccache and
# jitfarm. "cold" is the first build against an empty cache; "warm" is
# `make clean` and the same build again (median of REPEAT runs), and
# "checkout2" the warm build in a second copy of the sources at another
# path. Every compile line is `make -j2 linux-noreadline CC=...`, link steps
# included. Prints one line per tool and ratios against plain clang's
# cold build; the last line is a summary for docs/benchmarks.md.
#
#   sh bench/cc.sh            (JF_BIN defaults to ./build/bin)
set -eu
SRC=${JF_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${JF_BIN:-$SRC/build/bin}
J=$BIN/jitfarm
REPEAT=${REPEAT:-3}
LUA=$SRC/tests/cc/lua
[ -f "$LUA/src/Makefile" ] || sh "$SRC/tests/cc/fetch-lua.sh"
for t in clang-19 ccache sccache redis-server redis-cli curl; do
	command -v $t >/dev/null 2>&1 || { echo "bench/cc: $t is not installed (scripts/install-deps.sh)"; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/jfbench-cc-XXXXXX")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
	SCCACHE_DIR=$T/sccache sccache --stop-server >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
	--daemonize yes --logfile "$T/redis.log" >/dev/null
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 50 ] || { echo "redis did not start"; exit 1; }; sleep 0.1
done

now() { date +%s.%N; }
# build DIR CC: time one build from clean, in seconds
build() {
	(cd "$1/src" && make clean >/dev/null 2>&1 && s=$(now) &&
	 make -j2 linux-noreadline CC="$2" >"$T/build.log" 2>&1 &&
	 e=$(now) && echo "$s $e" | awk '{ printf "%.2f", $2 - $1 }') ||
	{ echo "bench/cc: build failed with CC=$2" >&2; tail -20 "$T/build.log" >&2; exit 1; }
	"$1/src/lua" "$SRC/tests/cc/smoke.lua" >/dev/null ||
	{ echo "bench/cc: the lua built with CC=$2 fails smoke.lua" >&2; exit 1; }
}
median() { tr ' ' '\n' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# measure NAME CC: cold, warm (median of REPEAT), warm in a second checkout
measure() {
	rm -rf "$T/a" "$T/b"
	mkdir -p "$T/a" "$T/b/other/depth"
	# real copies: $LUA is a symlink to a shared tree (cp -r would copy
	# the link and build there); what a build there left is removed
	for d in "$T/a/lua" "$T/b/other/depth/lua"; do
		mkdir -p "$d" && cp -R "$LUA/." "$d/" &&
		    rm -f "$d"/src/*.o "$d"/src/*.a "$d"/src/lua "$d"/src/luac
	done
	cold=$(build "$T/a/lua" "$2")
	w=""
	n=0
	while [ $n -lt "$REPEAT" ]; do w="$w $(build "$T/a/lua" "$2")"; n=$((n + 1)); done
	warm=$(echo $w | median)
	other=$(build "$T/b/other/depth/lua" "$2")
	echo "$1 $cold $warm $other"
}

nsrc=$(ls "$LUA"/src/*.c | wc -l)
echo "bench/cc: Lua $(cat "$LUA/DEBIAN-ORIGIN" 2>/dev/null || echo 5.4), $nsrc sources, make -j2, $(nproc) cores, warm = median of $REPEAT"

# 1. plain clang-19
r_clang=$(measure clang "clang-19 -std=gnu99")

# 2. ccache, Redis remote storage only
export CCACHE_DIR=$T/ccache CCACHE_REMOTE_STORAGE="redis://127.0.0.1:$port" \
	CCACHE_REMOTE_ONLY=true CCACHE_BASEDIR=$T
r_ccache=$(measure ccache "ccache clang-19 -std=gnu99")
ccache_stats=$(ccache --print-stats 2>/dev/null | awk '/^(direct_cache_hit|preprocessed_cache_hit|cache_miss|remote_storage_hit|remote_storage_miss)\t/ { printf "%s=%s ", $1, $2 }')
unset CCACHE_DIR CCACHE_REMOTE_STORAGE CCACHE_REMOTE_ONLY CCACHE_BASEDIR

# 3. sccache, local disk
export SCCACHE_DIR=$T/sccache SCCACHE_CACHE_SIZE=2G
sccache --start-server >/dev/null 2>&1 || true
r_sccache=$(measure sccache "sccache clang-19 -std=gnu99")
sccache_stats=$(sccache --show-stats 2>/dev/null | awk '/^Cache hits  / { h = $NF } /^Cache misses  / { m = $NF } END { printf "hits=%s misses=%s", h, m }')
sccache --stop-server >/dev/null 2>&1 || true
unset SCCACHE_DIR SCCACHE_CACHE_SIZE

# 4. jitfarm-cc, Redis store
export JITFARM_STORE="redis://127.0.0.1:$port/0?prefix=jfbench" JITFARM_STATS=$T/jf-stats
r_jitfarm=$(measure jitfarm "$BIN/jitfarm-cc clang-19 -std=gnu99")
jf_stats=$("$J" stat 2>/dev/null | awk '/^cc-/ { printf "%s=%s ", $1, $2 }')
"$BIN/jitfarm-cc" --show-stats
# 5. jitfarm cc (one binary), its own empty prefix
export JITFARM_STORE="redis://127.0.0.1:$port/0?prefix=jfbench1" JITFARM_STATS=$T/jf1-stats
r_jf1=$(measure jf-1bin "$J cc clang-19 -std=gnu99")
unset JITFARM_STORE JITFARM_STATS
# 6. one small file: the cost of a single hit, and of start-up alone
mkdir -p "$T/small"
printf 'int small_fn(int x) { return x * 3 + 1; }\n' >"$T/small/s.c"
# per_run N CMD...: ms per run of CMD, N runs in a row
per_run() {
	n=$1; shift
	s=$(now)
	i=0
	while [ $i -lt "$n" ]; do "$@" >/dev/null 2>&1; i=$((i + 1)); done
	e=$(now)
	echo "$s $e $n" | awk '{ printf "%.2f", ($2 - $1) * 1000 / $3 }'
}
cd "$T/small"
export CCACHE_DIR=$T/ccache-small CCACHE_REMOTE_STORAGE="redis://127.0.0.1:$port" CCACHE_REMOTE_ONLY=true
ccache clang-19 -O2 -c s.c -o s.o
export JITFARM_STORE="redis://127.0.0.1:$port/0?prefix=jfsmall" JITFARM_STATS=$T/jfs-stats
"$BIN/jitfarm-cc" clang-19 -O2 -c s.c -o s.o
h_clang=""; h_ccache=""; h_jf=""; s_ccache=""; s_jf=""
n=0
while [ $n -lt "$REPEAT" ]; do
	h_clang="$h_clang $(per_run 50 clang-19 -O2 -c s.c -o s.o)"
	h_ccache="$h_ccache $(per_run 200 ccache clang-19 -O2 -c s.c -o s.o)"
	h_jf="$h_jf $(per_run 200 "$BIN/jitfarm-cc" clang-19 -O2 -c s.c -o s.o)"
	s_ccache="$s_ccache $(per_run 200 ccache --version)"
	s_jf="$s_jf $(per_run 200 "$BIN/jitfarm-cc" --help)"
	n=$((n + 1))
done
small_hits=$("$BIN/jitfarm-cc" --show-stats | awk '$1 == "direct" { print $2 }')
unset CCACHE_DIR CCACHE_REMOTE_STORAGE CCACHE_REMOTE_ONLY JITFARM_STORE JITFARM_STATS
cd "$SRC"

base=$(echo "$r_clang" | awk '{ print $2 }')
printf "%-8s %8s %8s %10s %10s %10s\n" tool cold_s warm_s checkout2_s warm/clang speedup
for r in "$r_clang" "$r_ccache" "$r_sccache" "$r_jitfarm" "$r_jf1"; do
	echo "$r" | awk -v b="$base" '{ printf "%-8s %8.2f %8.2f %10.2f %10.3f %9.1fx\n", $1, $2, $3, $4, $3 / b, b / $3 }'
done
echo "ccache:  $ccache_stats"
echo "sccache: $sccache_stats"
echo "jitfarm: $jf_stats"
echo "small file, ms per run (median of $REPEAT): clang-19 $(echo $h_clang | median)," \
	"ccache hit $(echo $h_ccache | median), jitfarm-cc hit $(echo $h_jf | median)," \
	"start-up alone: ccache $(echo $s_ccache | median), jitfarm-cc $(echo $s_jf | median)" \
	"($small_hits direct hits counted)"
echo "$r_clang $r_ccache $r_jitfarm" | awk '{ printf "cc_warm_jitfarm_s=%.2f cc_warm_ccache_s=%.2f ratio=%.2f cc_cold_jitfarm_s=%.2f cc_cold_clang_s=%.2f cold_ratio=%.2f\n", $11, $7, $11 / $7, $10, $2, $10 / $2 }'
