#!/bin/bash
# deploy/ for real: build the image and run the cluster in containers.
#
# Starts a private dockerd (its own data root, on a tmpfs when memory
# allows, exec root, pid file and socket; no default bridge), makes the
# Debian 12 base images with debootstrap when no registry answers (the
# tarballs are cached under build/deploy/), builds a Redis image from Debian's
# redis-server and deploy/Dockerfile, then:
#   1. checks the image: a hermetic build context, its size, its user,
#      no toolchain or headers in it, an idle node that does not spin;
#   2. runs deploy/compose.yaml (with tests/deploy/compose.test.yaml on
#      top: a short lease, random host ports): two masters, then three
#      with --scale; a compile through one master is a hit on another;
#      N identical compiles over every master compile once; a node started
#      last runs natively from its first execution; a master killed
#      mid-compile is replaced by another finishing the compile; a Redis
#      restart loses no entry and pushes resume; every container runs with
#      the security settings the manifests give;
#   3. runs every pod of deploy/k8s under docker run as the manifest says
#      (tests/deploy/k8s_run.py) and calls its probes, then shows that a
#      wrong port, path, user or flag in a manifest fails.
# At the end it removes every container, network and volume it made and
# stops its dockerd by pid. Only when dockerd cannot start at all does it
# SKIP, loudly, with the reason. Timings go to build/deploy/timings.txt.
set -eu
src=${JF_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
here=$src/tests/deploy
cache=$src/build/deploy
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP ===================================================================="
	echo "SKIP tests/deploy/test_containers.sh: dockerd needs root (uid $(id -u))"
	echo "SKIP ===================================================================="
	exit 0
fi
mkdir -p "$cache"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
# Debian's docker CLI (docker.io); another one earlier on PATH may speak
# a newer API than the engine.
DOCKER=${DOCKER:-/usr/bin/docker}
[ -x "$DOCKER" ] || DOCKER=docker
py=/usr/bin/python3
t_all=$(date +%s.%N)
fails=0
passes=0
ok() { echo "ok   $*"; passes=$((passes + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
die() { echo "FAIL $*"; fails=$((fails + 1)); exit 1; }
since() { $py -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(date +%s.%N)"; }
timing() { echo "$1: $2" | tee -a "$cache/timings.txt.new"; }
: >"$cache/timings.txt.new"

command -v dockerd >/dev/null || die "dockerd is not installed (scripts/install-deps.sh installs docker.io)"
command -v docker-compose >/dev/null || die "docker-compose is not installed (scripts/install-deps.sh)"

# --- the private engine ---------------------------------------------------
# The data root is new for each run (under build/, next to the cache); the
# exec root holds the sockets, so it is short and in /tmp.
run=$(mktemp -d "$cache/run.XXXXXX")
# In memory when there is room: layers and dpkg run faster, and removing
# the data root afterwards is an unmount, not minutes of rm -rf.
if [ "$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)" -gt $((8 * 1024 * 1024)) ] &&
   mkdir -p "$run/data" && mount -t tmpfs -o size=6g,mode=0711 jitfarm-test "$run/data"; then
	data_on="tmpfs"
else
	data_on="disk"
fi
logs=$cache/logs   # kept after the run
rm -rf "$logs"; mkdir -p "$logs"
ex=$(mktemp -d /tmp/jfdock.XXXXXX)
export DOCKER_HOST=unix://$ex/docker.sock
project=jftest$$
compose_files="-f $src/deploy/compose.yaml -f $here/compose.test.yaml"
dpid=""

cleanup() {
	rc=$?
	set +e
	local tc
	tc=$(date +%s.%N)
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
		docker-compose -p "$project" $compose_files down -v --remove-orphans -t 5 >/dev/null 2>&1
		ids=$($DOCKER ps -aq)
		[ -n "$ids" ] && $DOCKER rm -f $ids >/dev/null 2>&1
		$DOCKER network prune -f >/dev/null 2>&1
		$DOCKER volume prune -f >/dev/null 2>&1
		kill -TERM "$dpid"
		for _ in $(seq 1 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$dpid" 2>/dev/null && { echo "dockerd $dpid did not stop; killing it"; kill -KILL "$dpid"; }
	fi
	# anything the engine left mounted under its roots
	grep -o " \($run\|$ex\)[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$run" "$ex"
	echo "engine stopped and its roots removed in $(since "$tc") s"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s.%N)
dockerd --data-root "$run/data" --exec-root "$ex/exec" --pidfile "$ex/dockerd.pid" \
	-H "$DOCKER_HOST" --bridge=none --ip-forward=false \
	>"$logs/dockerd.log" 2>&1 &
dpid=$!
up=0
for _ in $(seq 1 150); do
	kill -0 "$dpid" 2>/dev/null || break
	if $DOCKER version >/dev/null 2>&1; then up=1; break; fi
	sleep 0.2
done
if [ $up -ne 1 ]; then
	echo "SKIP ===================================================================="
	echo "SKIP tests/deploy/test_containers.sh: dockerd could not start here:"
	tail -5 "$logs/dockerd.log" | sed 's/^/SKIP   /'
	echo "SKIP ===================================================================="
	kill -KILL "$dpid" 2>/dev/null
	dpid=""
	exit 0
fi
ok "private dockerd $dpid up in $(since "$t0") s ($($DOCKER version -f '{{.Server.Version}}'), $($DOCKER info -f '{{.Driver}}'), data root on $data_on)"

# --- base images ----------------------------------------------------------
# A registry's debian:12 and debian:12-slim when one answers; otherwise
# debootstrap's minbase, and a slim variant of it without docs, man pages
# and locales (as the official slim image is made), both cached.
make_base_tars() {
	local root=$cache/rootfs.tmp
	rm -rf "$root"
	echo "making the Debian 12 base with debootstrap (cached in $cache/base/)"
	debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian \
		>"$logs/debootstrap.log" 2>&1 || { tail -20 "$logs/debootstrap.log"; return 1; }
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
	# what the official images set for apt and dpkg in a container: no
	# fsync per file (the layer is committed whole), no kept .debs, no
	# translations
	echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
	cat >"$root/etc/apt/apt.conf.d/docker-clean" <<-'EOF'
	DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
	APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
	Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
	EOF
	echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
	echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
	mkdir -p "$cache/base"
	tar --numeric-owner -C "$root" -cf "$cache/base/bookworm-v2.tar.new" . &&
	mv "$cache/base/bookworm-v2.tar.new" "$cache/base/bookworm-v2.tar"
	cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<-'EOF'
	path-exclude /usr/share/doc/*
	path-include /usr/share/doc/*/copyright
	path-exclude /usr/share/man/*
	path-exclude /usr/share/groff/*
	path-exclude /usr/share/info/*
	path-exclude /usr/share/lintian/*
	path-exclude /usr/share/linda/*
	path-exclude /usr/share/locale/*
	EOF
	find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
		"$root"/usr/share/groff/* "$root"/usr/share/lintian/*
	tar --numeric-owner -C "$root" -cf "$cache/base/bookworm-slim-v2.tar.new" . &&
	mv "$cache/base/bookworm-slim-v2.tar.new" "$cache/base/bookworm-slim-v2.tar"
	rm -rf "$root"
}
t0=$(date +%s.%N)
if timeout 60 $DOCKER pull -q debian:12 >/dev/null 2>&1 &&
   timeout 60 $DOCKER pull -q debian:12-slim >/dev/null 2>&1; then
	ok "base images pulled from a registry in $(since "$t0") s"
else
	how="cached in $cache/base"
	if [ ! -s "$cache/base/bookworm-v2.tar" ] || [ ! -s "$cache/base/bookworm-slim-v2.tar" ]; then
		make_base_tars || die "debootstrap failed"
		how="made now, cached for the next run"
	fi
	$DOCKER import -c 'CMD ["/bin/bash"]' "$cache/base/bookworm-v2.tar" debian:12 >/dev/null &&
	$DOCKER import -c 'CMD ["/bin/bash"]' "$cache/base/bookworm-slim-v2.tar" debian:12-slim >/dev/null ||
		die "docker import of the base images failed"
	ok "no registry; base images from debootstrap ($how) in $(since "$t0") s"
fi
timing "base images" "$(since "$t0") s"

# --- images ---------------------------------------------------------------
# Builds use the host's network: the engine has no default bridge.
t0=$(date +%s.%N)
$DOCKER build -q --network host -t jitfarm-test/redis:bookworm "$here/redis" \
	>"$logs/redis-build.log" 2>&1 || { cat "$logs/redis-build.log"; die "the Redis image does not build"; }
ok "Redis image from Debian's redis-server built in $(since "$t0") s"

# The context is exactly what .dockerignore lets through: no build
# outputs, no .git, no node_modules, whatever the work tree holds.
t0=$(date +%s.%N)
printf 'FROM debian:12-slim\nCOPY . /ctx\n' |
	$DOCKER build -q --network host -t jitfarm-test/context -f - "$src" >"$logs/ctx.log" 2>&1 ||
	{ cat "$logs/ctx.log"; die "the context probe does not build"; }
ctx=$($DOCKER run --rm --network none jitfarm-test/context sh -c '
	for p in build .git tests/deploy/node_modules tests/s3/node_modules tests/cc/lua; do
		test -e "/ctx/$p" && echo "LEAK:$p"; done
	find /ctx \( -name "*.o" -o -name "*.a" -o -name "*.so" \) -print | sed "s/^/LEAK:/"
	echo "KB:$(du -sk /ctx | cut -f1)"')
if echo "$ctx" | grep -q '^LEAK:'; then
	bad "the build context is not hermetic: $(echo "$ctx" | grep '^LEAK:' | head -5 | tr '\n' ' ')"
else
	ok "build context is hermetic: $(echo "$ctx" | sed -n 's/^KB://p') KB, no build outputs, .git or node_modules"
fi
$DOCKER rmi -f jitfarm-test/context >/dev/null

t0=$(date +%s.%N)
if ! $DOCKER build --network host -f "$src/deploy/Dockerfile" -t jitfarm:dev -t jitfarm:0.1.0 "$src" \
	>"$logs/build.log" 2>&1; then
	tail -40 "$logs/build.log"
	die "deploy/Dockerfile does not build"
fi
build_s=$(since "$t0")
size=$($DOCKER image inspect -f '{{.Size}}' jitfarm:dev)
size_mb=$((size / 1000000))
ok "deploy/Dockerfile builds in $build_s s; image $size_mb MB"
timing "image build (deploy/Dockerfile, fresh engine)" "$build_s s"
timing "image size" "$size_mb MB"

user=$($DOCKER image inspect -f '{{.Config.User}}' jitfarm:dev)
[ "$user" = "10001:10001" ] && ok "the image runs as $user" || bad "the image runs as '$user'"
left=$($DOCKER run --rm --network none --entrypoint /bin/sh jitfarm:dev -c '
	for f in /usr/bin/cc /usr/bin/gcc /usr/bin/clang-19 /usr/bin/make /usr/local/include/jitfarm \
	         /usr/local/lib/libjitfarm.a /usr/local/lib/pkgconfig /var/lib/apt/lists/*_Packages; do
		test -e "$f" && echo "$f"; done; true')
[ -z "$left" ] && ok "the runtime stage holds no toolchain, headers, static library or apt lists" ||
	bad "the runtime stage still holds: $left"
if $DOCKER run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges \
	jitfarm:dev /usr/local/bin/jitfarm-master --version >/dev/null 2>&1; then
	ok "jitfarm-master runs in the image (read-only, no capabilities)"
else
	bad "jitfarm-master does not run in the image"
fi

timing "container test so far" "$(since "$t_all") s"
# shellcheck source=tests/deploy/containers_cluster.sh
. "$here/containers_cluster.sh"
# shellcheck source=tests/deploy/containers_k8s.sh
. "$here/containers_k8s.sh"

# --- nothing left behind ----------------------------------------------------
docker-compose -p "$project" $compose_files down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
ids=$($DOCKER ps -aq)
[ -n "$ids" ] && $DOCKER rm -f $ids >/dev/null
$DOCKER network prune -f >/dev/null
$DOCKER volume prune -f >/dev/null
left="$($DOCKER ps -aq) $($DOCKER network ls -q --filter type=custom) $($DOCKER volume ls -q)"
if [ -z "$(echo "$left" | tr -d ' ')" ]; then
	ok "no container, network or volume left"
else
	bad "left behind: $left"
fi
timing "whole container test" "$(since "$t_all") s"
mv "$cache/timings.txt.new" "$cache/timings.txt"
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
