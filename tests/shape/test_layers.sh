#!/bin/sh
# The layer rule (common/README.md): no include or call from a lower layer
# to a higher one, none between the top-layer parts, no circle between
# modules, and no aborting allocator in library code. Reads the sources
# and, from the build, what the objects link to each other.
set -eu
src=${JF_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${JF_BUILD:-$src/build}
exec python3 "$src/tests/shape/check_layers.py" "$src" "$build"
