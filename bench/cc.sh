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
#   jitfarm   jitfarm-cc with the Redis store (direct mode on): the
#             wrapper's front binary without LLVM, which hands misses to
#             jitfarm cc
#   jf-1bin   the same through `jitfarm cc` itself, which loads libLLVM
#             on every compile, hits included
#   jf-farm   jitfarm-cc with a farm: a jitfarm-master on loopback (Redis
#             store, 2 workers) does the misses' code generation, as on a
#             CI runner pointed at a farm
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
	cp -r "$LUA" "$T/a/lua"
	cp -r "$LUA" "$T/b/other/depth/lua"
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
# 5. jitfarm cc (one binary), its own empty prefix
export JITFARM_STORE="redis://127.0.0.1:$port/0?prefix=jfbench1" JITFARM_STATS=$T/jf1-stats
r_jf1=$(measure jf-1bin "$J cc clang-19 -std=gnu99")
unset JITFARM_STORE JITFARM_STATS
# 6. jitfarm-cc against a farm (a master on loopback), its own prefix
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/jitfarm-master" --listen "127.0.0.1:$mport" --store "redis://127.0.0.1:$port/0?prefix=jfbench2" \
	--workers 2 --log-level warn >"$T/master.log" 2>&1 &
mpid=$!
i=0
until curl -fs "http://127.0.0.1:$mport/readyz" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "the master did not start"; cat "$T/master.log"; exit 1; }; sleep 0.1
done
export JITFARM_STORE="redis://127.0.0.1:$port/0?prefix=jfbench2" JITFARM_STATS=$T/jf2-stats \
	JITFARM_FARM="http://127.0.0.1:$mport"
r_farm=$(measure jf-farm "$BIN/jitfarm-cc clang-19 -std=gnu99")
unset JITFARM_STORE JITFARM_STATS JITFARM_FARM
kill "$mpid"; wait "$mpid" 2>/dev/null || true

base=$(echo "$r_clang" | awk '{ print $2 }')
printf "%-8s %8s %8s %10s %10s %10s\n" tool cold_s warm_s checkout2_s warm/clang speedup
for r in "$r_clang" "$r_ccache" "$r_sccache" "$r_jitfarm" "$r_jf1" "$r_farm"; do
	echo "$r" | awk -v b="$base" '{ printf "%-8s %8.2f %8.2f %10.2f %10.3f %9.1fx\n", $1, $2, $3, $4, $3 / b, b / $3 }'
done
echo "ccache:  $ccache_stats"
echo "sccache: $sccache_stats"
echo "jitfarm: $jf_stats"
echo "$r_ccache $r_jitfarm" | awk '{ printf "cc_warm_jitfarm_s=%.2f cc_warm_ccache_s=%.2f ratio=%.2f\n", $7, $3, $7 / $3 }'
