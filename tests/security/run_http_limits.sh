#!/bin/sh
# test_http_limits.sh - the head-first token check, the body budget, strict
# heads and slowloris under a low fd limit, against the real master
# (http_limits.py says what it sends and requires).
set -u
exec python3 "${JF_SRC:-.}/tests/security/http_limits.py"
