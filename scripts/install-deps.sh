#!/bin/sh
# Install every Debian package (and the one npm package) jitfarm needs to
# build, test and benchmark. Run as root it installs; otherwise it prints
# the exact command to run. `make` calls this when a dependency is missing.
set -eu

PKGS="build-essential pkg-config git ca-certificates
llvm-19-dev clang-19 libclang-rt-19-dev
libevent-dev libhiredis-dev libcurl4-openssl-dev check libseccomp-dev libssl-dev libjansson-dev libxxhash-dev zlib1g-dev libzstd-dev libxml2-dev libffi-dev libedit-dev libncurses-dev
redis-server redis-tools nginx curl wrk
nodejs iproute2 procps psmisc
python3-yaml docker-compose prometheus shellcheck ccache sccache
docker.io debootstrap"

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

if [ "$(id -u)" -ne 0 ]; then
	echo "jitfarm: missing build or test dependencies; run as root:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends $(echo $PKGS)" >&2
	command -v npm >/dev/null 2>&1 || echo "  apt-get install -y npm" >&2
	echo "  (cd $root/tests/s3 && npm ci --no-audit --no-fund)" >&2
	echo "  (cd $root/tests/deploy && npm ci --no-audit --no-fund)" >&2
	echo "  sh $root/tests/cc/fetch-lua.sh" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
# nodejs from some sources already carries npm; Debian's ships it apart.
command -v npm >/dev/null 2>&1 || apt-get install -y -q --no-install-recommends npm

# The test suite starts nginx and redis by itself on free loopback ports;
# the distribution's own services are not needed.
if [ -d "$root/tests/s3" ] && [ ! -x "$root/tests/s3/node_modules/.bin/s3rver" ]; then
	(cd "$root/tests/s3" && npm install --no-audit --no-fund --loglevel=error)
fi
if [ -d "$root/tests/deploy" ] && [ ! -d "$root/tests/deploy/node_modules/kubernetes-models" ]; then
	(cd "$root/tests/deploy" && npm install --no-audit --no-fund --loglevel=error)
fi
# The real C project tests/cc builds: Lua 5.4's sources from Debian.
if [ -f "$root/tests/cc/fetch-lua.sh" ]; then
	sh "$root/tests/cc/fetch-lua.sh"
fi
echo "jitfarm: dependencies installed"
