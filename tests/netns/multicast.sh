#!/usr/bin/env bash
# Network-namespace test (issue: membership, M2 multicast mode): hosts A and B share a LAN (a
# bridge in the router namespace R); host C sits behind R on another subnet, and R does not
# route multicast. With the bus in multicast mode the cluster forms under node 1: B hears the
# supervisor only through the group (it is on A's subnet, so it gets no unicast copy) and C
# only through the unicast copies sent to nodes off the local subnets. Then C is killed and
# declared failed. Exits 77 (skipped) where namespaces cannot be made.
#
#   A 10.93.1.2 ─┐
#                br0 10.93.1.1 (R) ── R 10.93.2.1 ── C 10.93.2.2
#   B 10.93.1.3 ─┘
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${COHORT_BIN:-$here/../../build/bin}"
source "$here/topology.sh"   # netns_usable
if ! why=$(netns_usable); then echo "SKIP: network namespaces unavailable: $why"; exit 77; fi

tag="${NS_TAG}m"
A="${tag}a"; B="${tag}b"; C="${tag}c"; R="${tag}r"
work=$(mktemp -d /tmp/cohort-netns-mc.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in "$A" "$B" "$C" "$R"; do ip netns del "$ns" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

for ns in "$A" "$B" "$C" "$R"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$R" link add br0 type bridge
ip -n "$R" link set br0 type bridge mcast_snooping 0
ip -n "$R" addr add 10.93.1.1/24 dev br0
ip -n "$R" link set br0 up
for host in a:"$A":10.93.1.2 b:"$B":10.93.1.3; do
  IFS=: read -r name ns addr <<<"$host"
  ip link add e0 netns "$ns" type veth peer name "p$name" netns "$R"
  ip -n "$ns" addr add "$addr/24" dev e0; ip -n "$ns" link set e0 up
  ip -n "$R" link set "p$name" master br0; ip -n "$R" link set "p$name" up
  ip -n "$ns" route add default via 10.93.1.1
done
ip link add e0 netns "$C" type veth peer name pc netns "$R"
ip -n "$C" addr add 10.93.2.2/24 dev e0; ip -n "$C" link set e0 up
ip -n "$R" addr add 10.93.2.1/24 dev pc; ip -n "$R" link set pc up
ip -n "$C" route add default via 10.93.2.1
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1

"$BIN/cohort" keygen > "$work/cluster.key"
start() {  # start ID NS ADDRESS
  mkdir -p "$work/n$1"
  cat > "$work/n$1.toml" <<TOML
[node]
id = $1
data_dir = "$work/n$1"
[cluster]
name = "netns-mc"
key_file = "$work/cluster.key"
priority = [1, 2, 3]
seeds = ["10.93.1.2:7000"]
multicast = "239.192.93.1:7150"
[transport]
listen = ["$3:7000"]
[api]
listen = "127.0.0.1:7201"
TOML
  ip netns exec "$2" "$BIN/cohortd" --config "$work/n$1.toml" > "$work/n$1.log" 2>&1 &
  pids+=($!)
}
start 1 "$A" 10.93.1.2
start 2 "$B" 10.93.1.3
start 3 "$C" 10.93.2.2

wait_until() {  # wait_until SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s%N)" -gt "$deadline" ]; then
      for ns in "$A" "$B" "$C"; do echo "$ns: $(view "$ns" 2>&1)"; done
      echo "FAIL: timed out waiting for $what"; for f in "$work"/n*.log; do echo "== $f"; tail -n 8 "$f"; done; exit 1
    fi
    sleep 0.05
  done
}
view() {  # view NS: "supervisor id:state id:state ..." from that node's cluster map
  ip netns exec "$1" "$BIN/cohort" members --json | python3 -c '
import json,sys
m=json.load(sys.stdin)
print(m["supervisor"], " ".join("%d:%s" % (x["id"], x["state"]) for x in m["members"]))'
}
view_is() { [ "$(view "$1")" = "$2" ]; }
one_cluster() { for ns in "$A" "$B" "$C"; do view_is "$ns" "1 1:up 2:up 3:up" || return 1; done; }

wait_until 20 "one cluster under node 1 on A, B and C" one_cluster
echo "formed: A, B and C all see: $(view "$B")"
# Read whole, not piped into `grep -q` (under pipefail its early exit can fail the pipe).
[[ "$(ip -n "$B" maddr show dev e0)" == *239.192.93.1* ]] ||
  { echo "FAIL: B did not join the group"; exit 1; }
[[ "$(ip netns exec "$A" curl -s 127.0.0.1:7201/v1/status)" == *'"mode": "multicast"'* ]] ||
  { echo "FAIL: node 1's bus is not in multicast mode"; exit 1; }

kill -KILL "${pids[2]}"
c_failed() { view_is "$A" "1 1:up 2:up 3:failed" && view_is "$B" "1 1:up 2:up 3:failed"; }
wait_until 5 "node 3 failed on A and B" c_failed
echo "node 3 killed: A and B see: $(view "$B")"
echo "PASS"
