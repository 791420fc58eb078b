# The compose cluster, sourced by test_containers.sh (which has started
# the engine and built jitfarm:dev and the Redis image).
# shellcheck shell=bash

dc() { docker-compose -p "$project" $compose_files "$@"; }
export JITFARM_REDIS_IMAGE=jitfarm-test/redis:bookworm
# empty: a random loopback port (the test reaches masters by container IP)
export JITFARM_MASTER1_PORT="" JITFARM_MASTER2_PORT=""
export JITFARM_TEST_LEASE_MS=3000
ip_of() { $DOCKER inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
metric() { # ip series -> value (0 when absent)
	curl -s --max-time 5 "http://$1:8080/metrics" |
		awk -v m="$2" '$1 == m { v = $2 } END { print v == "" ? 0 : v + 0 }'
}
sum_metric() { # series ip... -> sum over masters
	local m=$1 s=0 v; shift
	for h in "$@"; do v=$(metric "$h" "$m"); s=$((s + ${v%.*})); done
	echo $s
}
compile() { # ip irfile -> the X-Jitfarm-Cache answer, or "http-CODE"
	curl -s --max-time 120 -o /dev/null -D - -X POST --data-binary @"$2" \
		"http://$1:8080/v1/compile?opt=2" | tr -d '\r' |
		awk 'NR == 1 { code = $2 } tolower($1) == "x-jitfarm-cache:" { c = $2 }
		     END { print c != "" ? c : "http-" code }'
}
wait_healthy() { # container-id timeout-seconds
	local s
	for _ in $(seq 1 $(($2 * 5))); do
		s=$($DOCKER inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null || echo gone)
		[ "$s" = healthy ] && return 0
		sleep 0.2
	done
	echo "container $1 is $s" >&2
	return 1
}
masters() { for c in $(dc ps -q master1 master2); do ip_of "$c"; done; }
ir=$run/ir
mkdir -p "$ir"

# --- up ------------------------------------------------------------------
t0=$(date +%s.%N)
if ! dc up -d --no-build >"$logs/compose-up.log" 2>&1; then
	cat "$logs/compose-up.log"; dc logs --no-color >"$logs/compose.log" 2>&1
	die "docker-compose up failed (logs in $logs)"
fi
m1=$(dc ps -q master1); m2=$(dc ps -q master2)
wait_healthy "$m1" 60 && wait_healthy "$m2" 60 || {
	dc logs --no-color >"$logs/compose.log" 2>&1; die "the masters never turned healthy (logs in $logs)"; }
up_s=$(since "$t0")
ok "compose cluster up in $up_s s (Redis, keygen, two healthy masters, a node)"
timing "compose cluster up (redis, keygen, 2 masters healthy)" "$up_s s"
ip1=$(ip_of "$m1"); ip2=$(ip_of "$m2")

# every container as the manifests run it
sec_bad=""
for c in $(dc ps -q); do
	f=$($DOCKER inspect -f '{{.Name}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}}' "$c")
	case "$f" in
	*redis*) want="999:999 true" ;;
	*) want="10001:10001 true" ;;
	esac
	case "$f" in
	*" $want [ALL] [no-new-privileges:true]") ;;
	*) sec_bad="$sec_bad; $f" ;;
	esac
	seccomp=""
	if [ "$($DOCKER inspect -f '{{.State.Running}}' "$c")" = true ]; then
		seccomp=$($DOCKER exec "$c" sh -c 'grep ^Seccomp: /proc/1/status' | awk '{print $2}')
	fi
	[ -z "$seccomp" ] || [ "$seccomp" = 2 ] || sec_bad="$sec_bad; $f seccomp=$seccomp"
done
[ -z "$sec_bad" ] && ok "every service: non-root uid, read-only root, cap_drop ALL, no-new-privileges, seccomp filter" ||
	bad "security settings differ:$sec_bad"

# --- a compile through one master is a hit on another ----------------------
$py "$here/gen_ir.py" 1 20 >"$ir/a.ll"
r1=$(compile "$ip1" "$ir/a.ll"); r2=$(compile "$ip2" "$ir/a.ll")
[ "$r1" = miss ] && [ "$r2" = hit ] && ok "compile through master1 ($r1), then a hit on master2 ($r2)" ||
	bad "compile through master1 gave '$r1', master2 '$r2' (want miss, hit)"

# --- three masters; N identical compiles compile once -----------------------
t0=$(date +%s.%N)
dc up -d --no-build --no-recreate --scale master2=2 >>"$logs/compose-up.log" 2>&1 || die "--scale master2=2 failed"
for c in $(dc ps -q master2); do wait_healthy "$c" 60 || die "the third master never turned healthy"; done
hosts=$(masters)
n_m=$(echo "$hosts" | wc -w)
scale_s=$(since "$t0")
timing "--scale master2=2 to a healthy third master" "$scale_s s"
[ "$n_m" -eq 3 ] && ok "scaled to three masters in $scale_s s" || bad "expected 3 masters, have $n_m"
# shellcheck disable=SC2086
before=$(sum_metric 'jitfarm_compiles_total{result="ok"}' $hosts)
$py "$here/gen_ir.py" 2 60 >"$ir/b.ll"
N=12
i=0
pids=""
for h in $hosts $hosts $hosts $hosts; do
	compile "$h" "$ir/b.ll" >"$ir/ans.b.$i" &
	pids="$pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $pids   # not a bare wait: dockerd is a child too
# shellcheck disable=SC2086
after=$(sum_metric 'jitfarm_compiles_total{result="ok"}' $hosts)
answers=$(cat "$ir"/ans.b.* | sort | uniq -c | tr -s ' \n' ' ')
if [ $((after - before)) -eq 1 ] && ! grep -qv '^\(miss\|hit\|joined\)$' "$ir"/ans.b.*; then
	ok "$N identical compiles over $n_m masters: exactly one compile by /metrics ($answers)"
else
	bad "$N identical compiles over $n_m masters: $((after - before)) compiles by /metrics ($answers)"
fi

# --- a node started last runs natively from its first execution -------------
# The compose node has been promoting its programs; wait until the store
# holds all of them, then start a fresh node: it preloads everything.
node_args=(--farm http://master1:8080 --store "redis://redis:6379/0?prefix=jf"
	--public-key /etc/jitfarm/keys/signing.pub)
t0=$(date +%s.%N)
dc run --rm --no-deps -T node /usr/local/libexec/jitfarm/vm "${node_args[@]}" --runs 20 --until-native 60 \
	--name warmup --quiet >"$logs/node-warmup.log" 2>&1 ||
	bad "a node could not turn every program native: $(tail -3 "$logs/node-warmup.log")"
dc run --rm --no-deps -T node /usr/local/libexec/jitfarm/vm "${node_args[@]}" --runs 20 \
	--name last --quiet >"$logs/node-last.log" 2>&1 || true
if grep -q '8 programs preloaded' "$logs/node-last.log" &&
   grep -q 'executions: 0 interpreted' "$logs/node-last.log"; then
	ok "a node started last preloads all 8 programs and runs natively from its first execution"
else
	bad "the last node did not run natively from the start: $(grep -E 'preloaded|executions' "$logs/node-last.log" | tr '\n' ' ')"
fi

# --- the idle node does not spin ---------------------------------------------
node=$(dc ps -q node)
vmpid=$($DOCKER top "$node" -eo pid,comm | awk '$2 == "vm" { print $1 }')
if [ -n "$vmpid" ]; then
	c0=$(awk '{ print $14 + $15 }' "/proc/$vmpid/stat"); sleep 5
	c1=$(awk '{ print $14 + $15 }' "/proc/$vmpid/stat")
	hz=$(getconf CLK_TCK)
	pct=$($py -c "print('%.1f' % (100.0 * ($c1 - $c0) / $hz / 5))")
	timing "idle node (vm --forever) CPU" "$pct% of a core"
	$py -c "import sys; sys.exit(0 if $pct < 10 else 1)" &&
		ok "the idle node (vm --forever, every program native) uses $pct% of a core" ||
		bad "the idle node uses $pct% of a core"
else
	bad "no vm process in the node container"
fi

# --- a master killed mid-compile: another one finishes it ---------------------
# The lease is short in compose.test.yaml (JITFARM_LEASE_MS); the other
# master waits for the lease to expire, takes it over and compiles.
# shellcheck disable=SC2086
set -- $hosts
ka=$2; kb=$1   # kill a master2 replica; master1 stays (the nodes' farm)
kc=""
for c in $(dc ps -q master2); do [ "$(ip_of "$c")" = "$ka" ] && kc=$c; done
$py "$here/gen_ir.py" 3 200 >"$ir/c.ll"
tb0=$(metric "$kb" jitfarm_lease_takeovers_total)
compile "$ka" "$ir/c.ll" >"$ir/c.a" &
apid=$!
for _ in $(seq 1 100); do [ "$(metric "$ka" jitfarm_workers_busy)" -ge 1 ] && break; sleep 0.05; done
compile "$kb" "$ir/c.ll" >"$ir/c.b" &
bpid=$!
for _ in $(seq 1 100); do [ "$(metric "$kb" jitfarm_lease_waits_total)" -ge 1 ] && break; sleep 0.05; done
t0=$(date +%s.%N)
$DOCKER kill "$kc" >/dev/null
wait $bpid || true
rec_s=$(since "$t0")
wait $apid || true
tb1=$(metric "$kb" jitfarm_lease_takeovers_total)
if [ "$(cat "$ir/c.b")" = miss ] && [ "$tb1" -gt "$tb0" ]; then
	ok "master killed mid-compile: another master took the lease over and finished in $rec_s s (lease $JITFARM_TEST_LEASE_MS ms)"
else
	bad "after the kill the other master answered '$(cat "$ir/c.b")' with $((tb1 - tb0)) takeovers in $rec_s s"
fi
timing "master kill mid-compile -> another master's answer (lease $JITFARM_TEST_LEASE_MS ms)" "$rec_s s"
r=$(compile "$kb" "$ir/c.ll")
[ "$r" = hit ] && ok "the taken-over artifact is in the store (a hit)" || bad "after the takeover: '$r'"

# --- Redis restart: no entry lost, pushes resume --------------------------------
rc_id=$(dc ps -q redis)
rcli() { $DOCKER exec "$rc_id" redis-cli "$@"; }
sleep 1.2   # appendfsync everysec
keys0=$(rcli --scan --pattern 'jf*' | sort | tee "$ir/keys0" | wc -l)
# a follower that never compiles (huge threshold): it can only go native by
# hearing of programs 8-11 on the stream after the restart
dc run --rm --no-deps -T node /usr/local/libexec/jitfarm/vm "${node_args[@]}" --programs 12 --threshold 1000000 \
	--runs 1 --until-native 90 --name follower --quiet >"$logs/node-follower.log" 2>&1 &
fpid=$!
for _ in $(seq 1 100); do grep -q 'runtime open' "$logs/node-follower.log" 2>/dev/null && break; sleep 0.1; done
t0=$(date +%s.%N)
dc restart -t 10 redis >/dev/null 2>&1
for _ in $(seq 1 100); do [ "$(rcli ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
keys1=$(rcli --scan --pattern 'jf*' | sort | tee "$ir/keys1" | wc -l)
lost=$(comm -23 "$ir/keys0" "$ir/keys1" | wc -l)
rr_s=$(since "$t0")
timing "Redis restart" "$rr_s s"
[ "$lost" -eq 0 ] && [ "$keys0" -gt 0 ] && ok "Redis restarted in $rr_s s: all $keys0 keys still there ($keys1 after)" ||
	bad "Redis restart lost $lost of $keys0 keys"
dc run --rm --no-deps -T node /usr/local/libexec/jitfarm/vm "${node_args[@]}" --programs 12 --threshold 1 \
	--runs 5 --until-native 90 --name compiler --quiet >"$logs/node-compiler.log" 2>&1 ||
	bad "programs 8-11 did not compile after the Redis restart: $(tail -3 "$logs/node-compiler.log")"
wait $fpid || true
if grep -q 'results: native and interpreted agree' "$logs/node-follower.log" &&
   grep -q ' 12 programs in the map' "$logs/node-follower.log"; then
	ok "pushes resume after the Redis restart: a follower got programs 8-11 from the stream ($(grep -o '[0-9]* pushed' "$logs/node-follower.log"))"
else
	bad "the follower did not hear of the new programs: $(tail -4 "$logs/node-follower.log" | tr '\n' ' ')"
fi

dc logs --no-color >"$logs/compose.log" 2>&1
t0=$(date +%s.%N)
dc down -v --remove-orphans -t 10 >/dev/null 2>&1 || bad "docker-compose down failed"
timing "compose down" "$(since "$t0") s"
timing "container test after compose" "$(since "$t_all") s"
