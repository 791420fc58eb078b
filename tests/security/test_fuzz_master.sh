#!/bin/sh
# test_fuzz_master.sh - the bounded black-box fuzzer against the real
# master (fuzz_master.py says what it sends and what it requires).
# Deterministic: FUZZ_MASTER_SEED fixes every request; FUZZ_MASTER_REQUESTS
# and FUZZ_MASTER_SECONDS bound the run.
set -u
exec python3 "${JF_SRC:-.}/tests/security/fuzz_master.py"
