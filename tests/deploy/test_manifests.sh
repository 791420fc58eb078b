#!/bin/sh
# Static validation of deploy/ (no cluster, no Docker engine here):
#   1. check_manifests.py: every YAML parses; Kubernetes policy (non-root,
#      seccomp RuntimeDefault, read-only root, no privilege escalation,
#      ALL caps dropped, requests and limits, probes on /readyz and
#      /healthz), references (selectors, ports, ConfigMap/Secret keys,
#      $(VAR)s, HPA target, kustomization list), Dockerfile lint rules
#      plus shellcheck on every RUN, and master/host flags against --help;
#   2. validate_k8s.js: JSON-schema validation of every Kubernetes
#      document (kubernetes-models, from npm);
#   3. docker-compose config: compose.yaml against the Compose schema;
#   4. promtool: the alert rules check, and their unit tests fire;
#   5. the checker itself catches broken manifests (mutation tests).
# What needs a real cluster or engine (image build, pods starting,
# NetworkPolicy enforcement) is listed in docs/operations.md.
set -eu
src=${JF_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${JF_BIN:-$src/build/bin}
here=$src/tests/deploy
py=/usr/bin/python3   # Debian's, with python3-yaml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

if $py "$here/check_manifests.py" "$src" "$tmp/k8s.json" "$bin" >"$tmp/out" 2>&1; then
	ok "manifest policy and references: $(tail -1 "$tmp/out")"
else
	bad "manifest policy and references:"; sed 's/^/     /' "$tmp/out"
fi

if [ -d "$here/node_modules/kubernetes-models" ]; then
	if (cd "$here" && node validate_k8s.js "$tmp/k8s.json") >"$tmp/out" 2>&1; then
		ok "Kubernetes JSON schema: $(tail -1 "$tmp/out")"
	else
		bad "Kubernetes JSON schema:"; sed 's/^/     /' "$tmp/out"
	fi
else
	bad "kubernetes-models is not installed (scripts/install-deps.sh installs it)"
fi

if docker compose version >/dev/null 2>&1; then compose="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then compose=docker-compose
else compose=""; fi
if [ -n "$compose" ]; then
	if $compose -f "$src/deploy/compose.yaml" config -q >"$tmp/out" 2>&1; then
		ok "compose.yaml ($compose config)"
	else
		bad "compose.yaml ($compose config):"; sed 's/^/     /' "$tmp/out"
	fi
else
	bad "neither docker compose nor docker-compose is installed"
fi

if command -v promtool >/dev/null 2>&1; then
	if promtool check rules "$src/deploy/prometheus/alerts.yaml" >"$tmp/out" 2>&1 &&
	   (cd "$here" && promtool test rules alerts_test.yaml) >>"$tmp/out" 2>&1; then
		ok "alert rules (promtool check rules, test rules)"
	else
		bad "alert rules:"; sed 's/^/     /' "$tmp/out"
	fi
else
	bad "promtool is not installed (Debian's prometheus package)"
fi

# Every jitfarm_* series the alerts use must be one a real master
# exports: start one on a free loopback port and read its /metrics.
if [ -x "$bin/jitfarm-master" ]; then
	port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$bin/jitfarm-master" --listen "127.0.0.1:$port" --store "file://$tmp/store" \
		--workers 1 --log-level warn >"$tmp/master.log" 2>&1 &
	mpid=$!
	i=0
	while [ $i -lt 100 ] && ! curl -fs "http://127.0.0.1:$port/metrics" >"$tmp/metrics" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	kill "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null
	missing=""
	for m in $(grep -oh 'jitfarm_[a-z0-9_]*' "$src/deploy/prometheus/alerts.yaml" \
	    "$src/deploy/prometheus/adapter.yaml" "$src/deploy/k8s/master-hpa.yaml" | sort -u); do
		grep -q "^$m[{ ]" "$tmp/metrics" || missing="$missing $m"
	done
	if [ ! -s "$tmp/metrics" ]; then
		bad "could not read a master's /metrics"; sed 's/^/     /' "$tmp/master.log"
	elif [ -n "$missing" ]; then
		bad "alerts, HPA or adapter use series the master does not export:$missing"
	else
		ok "every series the alerts, the HPA and the adapter use is in a running master's /metrics"
	fi
else
	echo "skip alert series against /metrics (jitfarm-master not built)"
fi

# kubectl is not a Debian package; when a machine has it, also render the
# kustomization the way `kubectl apply -k` will.
if command -v kubectl >/dev/null 2>&1; then
	if kubectl kustomize "$src/deploy/k8s" >"$tmp/out" 2>&1; then
		ok "kubectl kustomize renders $(grep -c '^kind:' "$tmp/out") objects"
	else
		bad "kubectl kustomize:"; sed 's/^/     /' "$tmp/out"
	fi
else
	echo "skip kubectl kustomize (kubectl not installed)"
fi

# Mutation tests: each broken copy of deploy/ must be rejected, with the
# reason named.
mutate() { # name, file (under deploy/), sed expression, expected message
	rm -rf "$tmp/m"; mkdir -p "$tmp/m/scripts"
	cp -r "$src/deploy" "$tmp/m/deploy"
	cp "$src/scripts/install-deps.sh" "$tmp/m/scripts/"
	sed -i "$3" "$tmp/m/deploy/$2"
	if cmp -s "$src/deploy/$2" "$tmp/m/deploy/$2"; then
		bad "mutation '$1' changed nothing (test is stale)"; return
	fi
	if $py "$here/check_manifests.py" "$tmp/m" "$tmp/m.json" "$tmp/nobin" >"$tmp/out" 2>&1; then
		bad "mutation '$1' was not caught"
	elif grep -q -- "$4" "$tmp/out"; then
		ok "mutation '$1' caught"
	else
		bad "mutation '$1' failed for another reason:"; sed 's/^/     /' "$tmp/out"
	fi
}
mutate "writable root fs" k8s/master.yaml 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' "readOnlyRootFilesystem"
mutate "caps kept" k8s/node.yaml 's/drop: \["ALL"\]/drop: ["NET_RAW"]/' "capabilities.drop"
mutate "no seccomp" k8s/redis.yaml 's/type: RuntimeDefault/type: Unconfined/' "seccompProfile"
mutate "liveness elsewhere" k8s/master.yaml '0,/path: \/healthz/s//path: \/live/' "livenessProbe"
mutate "no limits" k8s/master.yaml '/^            limits:/,/memory: 6Gi/d' "resources.limits"
mutate "selector typo" k8s/master-pdb.yaml 's/name: jitfarm-master$/name: jitfarm-mastr/' "selector matches no workload"
mutate "missing secret key" k8s/master.yaml 's/key: signing.key/key: signing-key/' "has no key signing-key"
mutate "undefined var" k8s/master.yaml 's/\$(JITFARM_WORKERS)/$(JITFARM_WORKER)/' "JITFARM_WORKER"
mutate "unlisted file" k8s/kustomization.yaml '/- node.yaml/d' "does not list node.yaml"
mutate "unreadable secret" k8s/node.yaml '/^        fsGroup: 10001/d' "cannot read them without fsGroup"
mutate "HPA without queue depth" k8s/master-hpa.yaml 's/name: jitfarm_queue_depth/name: jitfarm_queue_length/' "does not scale on jitfarm_queue_depth"
mutate "HPA without CPU fallback" k8s/master-hpa.yaml 's/name: cpu/name: memory/' "does not scale on CPU"
mutate "adapter rule renamed" prometheus/adapter.yaml 's/as: "jitfarm_inflight_compiles"/as: "jitfarm_inflight"/' "serves no custom metric jitfarm_inflight_compiles"
mutate "root user" Dockerfile 's/^USER 10001:10001/USER root/' "runs as root"
mutate "apt lists kept" Dockerfile 's| \&\& rm -rf /var/lib/apt/lists/\* \\| \\|' "apt lists"
mutate "unpinned base" Dockerfile 's/^FROM debian:\${DEBIAN_RELEASE}-slim AS runtime/FROM debian AS runtime/' "not pinned"
mutate "shell-form CMD" Dockerfile 's|^CMD \[.*|CMD /usr/local/bin/jitfarm-master \\|' "exec (JSON) form"

# The schema validator must reject a wrong type.
echo '[{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":"http"}]}]}}}}]' >"$tmp/bad.json"
if [ -d "$here/node_modules/kubernetes-models" ]; then
	if (cd "$here" && node validate_k8s.js "$tmp/bad.json") >"$tmp/out" 2>&1; then
		bad "schema validation accepted a string containerPort"
	else
		ok "schema validation rejects a string containerPort"
	fi
fi

if [ $fails -ne 0 ]; then
	echo "$fails deploy check(s) failed"
	exit 1
fi
echo "all deploy checks passed"
