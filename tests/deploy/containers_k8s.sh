# deploy/k8s under docker run, sourced by test_containers.sh (the engine
# is up; jitfarm:0.1.0 and the Redis image are built).
# shellcheck shell=bash

kw=$run/k8s
mkdir -p "$kw/keys"
# The Secret and the public-key ConfigMap hold placeholders (operations.md
# says to replace them); give them a real key pair, as the operator does.
"$src/build/bin/jitfarm" keygen "$kw/keys/signing.key" "$kw/keys/signing.pub" >/dev/null
k8s_args=(--image redis:7.2-bookworm=jitfarm-test/redis:bookworm
	--file jitfarm-secrets/signing.key="$kw/keys/signing.key"
	--file jitfarm-public-key/signing.pub="$kw/keys/signing.pub")
k8s() { DOCKER=$DOCKER $py "$here/k8s_run.py" "$@"; }
net=jfk8s$$
$DOCKER network create "$net" >/dev/null

t0=$(date +%s.%N)
if k8s up --manifests "$src/deploy/k8s" --network "$net" --work "$kw/pods" --prefix k8s- \
	"${k8s_args[@]}" --max-wait 60 >"$logs/k8s-up.log" 2>&1; then
	k8s_s=$(since "$t0")
	timing "Kubernetes pods up and probed" "$k8s_s s"
	ok "deploy/k8s under docker run: every pod starts as its manifest says and passes its probes ($k8s_s s)"
	sed 's/^/     /' "$logs/k8s-up.log" | grep -v '^      *started' || true
else
	bad "deploy/k8s under docker run:"; sed 's/^/     /' "$logs/k8s-up.log"
fi
# The node reaches the master through its Service name with its token, and
# the master Redis with the password: the node's programs get compiled.
for _ in $(seq 1 100); do
	$DOCKER logs k8s-jitfarm-node-node 2>&1 | grep -q 'compiled on the farm' && break; sleep 0.2
done
if $DOCKER logs k8s-jitfarm-node-node 2>&1 | grep -q 'compiled on the farm'; then
	ok "the k8s node compiles through the jitfarm-master Service with its token, signed and verified"
else
	bad "the k8s node compiled nothing: $($DOCKER logs --tail 5 k8s-jitfarm-node-node 2>&1 | tr '\n' ' ')"
fi
for c in k8s-jitfarm-master-master k8s-jitfarm-node-node k8s-jitfarm-redis-redis; do
	f=$($DOCKER inspect -f '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}' "$c" 2>/dev/null || echo missing)
	s=$($DOCKER exec "$c" sh -c 'grep ^Seccomp: /proc/1/status' 2>/dev/null | awk '{print $2}' || true)
	say_ok=1
	case "$f" in *" true [ALL] "[1-9]*" "[1-9]*) ;; *) say_ok=0 ;; esac
	[ "$s" = 2 ] || say_ok=0
	[ $say_ok = 1 ] && ok "$c: user, read-only root, ALL dropped, limits ($f), seccomp filter" ||
		bad "$c: settings '$f' seccomp '$s'"
done

# Mutation tests: a manifest with a wrong port, path, user or flag fails.
mut() { # name, file, sed expression, expected text in the output
	rm -rf "$kw/m"; cp -r "$src/deploy/k8s" "$kw/m"
	sed -i "$3" "$kw/m/$2"
	if cmp -s "$src/deploy/k8s/$2" "$kw/m/$2"; then bad "k8s mutation '$1' changed nothing (stale)"; return; fi
	if k8s up --manifests "$kw/m" --network "$net" --work "$kw/mpods" --prefix mut- \
		"${k8s_args[@]}" --only jitfarm-master --max-wait 8 >"$logs/k8s-mut.log" 2>&1; then
		bad "k8s mutation '$1' was not caught"
	elif grep -q -- "$4" "$logs/k8s-mut.log"; then
		ok "k8s mutation '$1' fails: $(grep -m1 '^FAIL' "$logs/k8s-mut.log" | cut -c6-150)"
	else
		bad "k8s mutation '$1' failed for another reason:"; sed 's/^/     /' "$logs/k8s-mut.log"
	fi
	k8s down --prefix mut- >/dev/null 2>&1 || true
}
t0=$(date +%s.%N)
mut "wrong port" master.yaml 's/containerPort: 8080/containerPort: 8081/' "startupProbe: failed"
mut "wrong probe path" master.yaml 's|path: /readyz|path: /ready|' "readinessProbe: failed"
mut "root user" master.yaml '0,/runAsUser: 10001/s//runAsUser: 0/' "runAsUser is 0"
mut "wrong flag" master.yaml 's/- "--workers"/- "--worker"/' "exit 2"
mut "wrong Redis password key" master.yaml 's/key: redis-password/key: redis-passwd/' "has no key redis-passwd"
timing "k8s mutations" "$(since "$t0") s"

k8s down --prefix k8s- >/dev/null 2>&1 || bad "k8s_run.py down failed"
$DOCKER network rm "$net" >/dev/null
