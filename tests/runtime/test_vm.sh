#!/bin/sh
# test_vm.sh - the example host end to end, as `make demo` runs it: a
# jitfarm-master on a unix socket with a file store; node 1 compiles its
# hot programs on the farm and runs them natively with the same results
# as the interpreter; node 2 starts later with everything preloaded and
# never interprets. Then the same with signing: a node holding the public
# key loads what the master signed, and a node holding another key
# refuses all of it.
set -u
BIN=${JF_BIN:?}
VM=${JF_BUILD:?}/examples/vm/vm
T=$(mktemp -d "${TMPDIR:-/tmp}/jftest-vm-XXXXXX")
MPID=
cleanup() {
	if [ -n "$MPID" ]; then kill "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null; fi
	rm -rf "$T"
}
trap cleanup EXIT
fail=0
want() { grep -qF -- "$2" "$1" || { echo "FAIL: $1 lacks '$2'"; cat "$1"; fail=1; }; }

"$BIN/jitfarm" keygen "$T/sign.key" "$T/sign.pub" >/dev/null 2>&1
"$BIN/jitfarm" keygen "$T/other.key" "$T/other.pub" >/dev/null 2>&1
[ -f "$T/sign.pub" ] || { echo "FAIL: jitfarm keygen made no key"; exit 1; }

"$BIN/jitfarm-master" --listen "unix:$T/m.sock" --store "file://$T/store" --workers 2 \
	--signing-key "$T/sign.key" --log-level warn >"$T/master.log" 2>&1 &
MPID=$!
i=0
while [ ! -S "$T/m.sock" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$T/m.sock" ] || { cat "$T/master.log"; echo "FAIL: master did not start"; exit 1; }

common="--farm unix:$T/m.sock --store file://$T/store --arg 20000 --threshold 5"
# node 1: enough rounds for every program to turn hot and come back native
$VM $common --name node1 --runs 400 --public-key "$T/sign.pub" >"$T/n1" 2>&1
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: node1 exited $rc"; cat "$T/n1"; fail=1; }
want "$T/n1" "[node1] results: native and interpreted agree on every execution"
want "$T/n1" "8 promotions, 8 farm compiles"
want "$T/n1" "native code runs"
want "$T/n1" "time to first native execution"

$VM $common --name node2 --runs 20 --quiet --public-key "$T/sign.pub" >"$T/n2" 2>&1
want "$T/n2" "8 programs preloaded"
want "$T/n2" "0 interpreted"
want "$T/n2" "0 farm compiles"
want "$T/n2" "[node2] results: native and interpreted agree"

# a node that trusts another key loads nothing and only interprets
$VM --farm none --store "file://$T/store" --arg 100 --name node3 --runs 20 --quiet \
	--public-key "$T/other.pub" >"$T/n3" 2>&1
want "$T/n3" "0 programs preloaded"
want "$T/n3" "0 native"
want "$T/n3" "[node3] no program ran natively"
cat "$T/n1" "$T/n2" "$T/n3"
exit $fail
