#!/bin/sh
# test_demo.sh - `make demo` keeps working: the demo script runs to the
# end and shows a miss, then a hit, the ORC host's call and the linked
# program's output.
set -u
out=$(sh "${JF_SRC:?}/scripts/demo.sh" 2>&1)
rc=$?
echo "$out"
fail=0
[ $rc -eq 0 ] || { echo "FAIL: demo exited $rc"; fail=1; }
for want in "cache: miss " "cache: hit " "add(40, 2) = 42" "sum_to(100) = 4950" \
    "demo finished"; do
	echo "$out" | grep -qF "$want" || { echo "FAIL: no '$want'"; fail=1; }
done
[ "$(echo "$out" | grep -c 'add(40, 2) = 42')" -eq 2 ] ||
	{ echo "FAIL: want both the ORC host and the linked program"; fail=1; }
exit $fail
