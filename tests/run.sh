#!/bin/sh
# Run every test program and test script given, print each one's result
# and a closing summary line "N passed, N failed". A test whose output
# holds a sanitizer report fails even if it exited 0 (reports from forked
# children do not always reach the exit status).
set -u
logdir="${JF_BUILD:-build}/test-logs"
mkdir -p "$logdir"
passed=0
failed=0
failed_names=""
for t in "$@"; do
	name=$(echo "$t" | sed 's|.*/test/||; s|^tests/||')
	log="$logdir/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	case "$t" in
	*.sh) sh "$t" >"$log" 2>&1 ;;
	*) "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ] && grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$log"; then
		echo "   (sanitizer report in $log)"
		rc=99
	fi
	# check prints "NN%: Checks: X, Failures: Y, Errors: Z"; scripts count as one
	summary=$(grep -E '^[0-9]+%: Checks:' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		echo "PASS $name (${secs}s) $summary"
		passed=$((passed + 1))
	else
		echo "FAIL $name (${secs}s, exit $rc) $summary"
		sed 's/^/    | /' "$log" | tail -60
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
done
echo
[ $failed -ne 0 ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
