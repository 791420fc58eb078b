#!/bin/sh
# test_fuzz.sh - run every coverage-guided harness in tests/fuzz/ for a
# bounded time, and fail on any crash, leak, sanitizer report, timeout
# or failed property. Prints each harness's executions per second.
#
#   FUZZ_SECONDS   time per harness (default 10; `make fuzz` passes 60)
#   FUZZ_RSS_MB    memory cap per harness (default 1024)
#   FUZZ_REQUIRED  1: a missing clang-19 or fuzzer runtime is a failure
#                  (`make fuzz`); otherwise it is a loud skip (`make check`)
#
# Each harness starts from its committed regression inputs
# (tests/fuzz/corpus/NAME/), the seeds gen_corpus wrote from real
# encodings (BUILD/fuzz/seeds/NAME/) and what earlier runs found
# (BUILD/fuzz/work/NAME/, where new inputs go). A crashing input is kept
# as BUILD/fuzz/crash-NAME-*; replay it with `BUILD/fuzz/fuzz_NAME FILE`.
set -u
src=${JF_SRC:-.}
build=${JF_BUILD:-build}
dir="$build/fuzz"
secs=${FUZZ_SECONDS:-10}
rss=${FUZZ_RSS_MB:-1024}
cc=${FUZZ_CC:-clang-19}

missing=""
if ! command -v "$cc" >/dev/null 2>&1; then
	missing="$cc is not installed"
else
	res=$("$cc" -print-resource-dir 2>/dev/null)
	if [ ! -f "$res/lib/linux/libclang_rt.fuzzer-$(uname -m).a" ]; then
		missing="the libFuzzer runtime (libclang-rt-19-dev) is not installed"
	fi
fi
if [ -n "$missing" ]; then
	echo "SKIP: $missing; the coverage-guided harnesses were NOT run" >&2
	[ "${FUZZ_REQUIRED:-0}" = 1 ] && exit 1
	exit 0
fi

# The fuzzer reports leaks and sanitizer errors itself, as crashes.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=0
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS

failed=0
for name in blob manifest proto cc_args url; do
	bin="$dir/fuzz_$name"
	if [ ! -x "$bin" ]; then
		echo "FAIL $name: $bin was not built (make fuzz-build)"
		failed=1
		continue
	fi
	work="$dir/work/$name"
	mkdir -p "$work"
	dirs="$work"
	[ -d "$dir/seeds/$name" ] && dirs="$dirs $dir/seeds/$name"
	[ -d "$src/tests/fuzz/corpus/$name" ] && dirs="$dirs $src/tests/fuzz/corpus/$name"
	log="$dir/$name.log"
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -rss_limit_mb="$rss" -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$dir/crash-$name-" \
		$dirs >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	if [ $rc -ne 0 ] || grep -qE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:|property failed' "$log"; then
		echo "FAIL $name (exit $rc): the fuzzer found an input that breaks it"
		grep -E 'ERROR|SUMMARY|property failed|runtime error|Test unit written|^    #[0-9]' "$log" | head -40 | sed 's/^/    | /'
		failed=1
	else
		echo "ok   $name: ${runs:-?} runs in ${secs}s, ${eps:-?} exec/s, coverage ${cov:-?} edges"
	fi
done
exit $failed
