#!/bin/sh
# The map swap storm of test_map.c under ThreadSanitizer. Only the read
# side (runtime/map.c, with common/mem.c) and the test are built, with fewer swaps, so this
# stays fast. Skipped (exit 0 with a note) when the toolchain cannot
# build or run ThreadSanitizer programs.
set -u
src=${JF_SRC:-.}
out=${JF_BUILD:-build}/tsan
mkdir -p "$out"
cc=${TSAN_CC:-cc}
# Skip only when the toolchain itself cannot build ThreadSanitizer
# programs; a failure to build our own code below is a test failure.
printf 'int main(void) { return 0; }\n' >"$out/probe.c"
if ! $cc -fsanitize=thread "$out/probe.c" -o "$out/probe" 2>"$out/probe.log"; then
	echo "SKIP: the toolchain cannot build with -fsanitize=thread:"
	cat "$out/probe.log"
	exit 0
fi
if ! $cc -std=c11 -D_GNU_SOURCE -I"$src" -I"$src/include" -I"$src/tests/support" -O1 -g \
	-fsanitize=thread -DSWAPS=300 "$src/tests/runtime/test_map.c" "$src/runtime/map.c" "$src/common/mem.c" \
	"$src/tests/support/support.c" \
	$(pkg-config --cflags --libs check) -pthread -o "$out/test_map" 2>"$out/build.log"; then
	echo "FAIL: test_map does not build with -fsanitize=thread:"
	cat "$out/build.log"
	exit 1
fi
JF_MAP_QUICK=1 TSAN_OPTIONS="halt_on_error=1 exitcode=66" CK_FORK=no "$out/test_map" >"$out/run.log" 2>&1
rc=$?
cat "$out/run.log"
if [ $rc -ne 0 ] && grep -q 'FATAL: ThreadSanitizer' "$out/run.log"; then
	echo "SKIP: ThreadSanitizer cannot run on this machine"
	exit 0
fi
[ $rc -eq 0 ] && echo "tsan: no reports"
exit $rc
