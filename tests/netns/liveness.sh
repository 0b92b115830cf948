#!/usr/bin/env bash
# Network-namespace test (L1): five hosts (the issue's yardstick), each with one adapter on
# each of two networks (two switches: bridges in a namespace of their own). Every node's
# matrix shows every path up; network 2's switch fails: every path on it is down on every
# node, network 1's stay up, and the rows still travel (over network 1); it returns. One
# direction of one path is filtered (a blackhole route on host 1, to host 3: off the ring):
# that path alone is down, on every node, the reverse direction up. Prints how long each
# change took to be seen on every node. Exits 77 (skipped) where namespaces cannot be made.
#
#   host k: e1 10.93.1.k/24 ── br1 (switch 1) ;  e2 10.93.2.k/24 ── br2 (switch 2)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${COHORT_BIN:-$here/../../build/bin}"
NS_TAG="${NS_TAG:-cohl$$}"
source "$here/topology.sh"  # netns_usable
source "$here/hosts.sh"     # on, not_up, everywhere, stop_hosts, host_ns, switch_ns, plug
HOSTS=5
NS_S="${NS_TAG}s"

if ! why=$(netns_usable); then echo "SKIP: network namespaces unavailable: $why"; exit 77; fi

work=$(mktemp -d /tmp/cohort-netns-live.XXXXXX)
PIDS=()
cleanup() { stop_hosts "$NS_S"; }
trap cleanup EXIT

switch_ns "$NS_S" br1 br2
"$BIN/cohort" keygen > "$work/cluster.key"
for k in $(seq 1 $HOSTS); do
  ns="${NS_TAG}h$k"
  host_ns "$ns"
  for n in 1 2; do plug "$ns" "e$n" "10.93.$n.$k/24" "$NS_S" "br$n" "h${k}e$n"; done
  mkdir -p "$work/n$k"
  cat > "$work/n$k.toml" <<TOML
[node]
id = $k
data_dir = "$work/n$k"
uid_file = "$work/n$k/machine-id"
[cluster]
name = "live"
key_file = "$work/cluster.key"
seeds = ["10.93.1.1:7000", "10.93.2.1:7000"]
[transport]
listen = ["10.93.1.$k:7000", "10.93.2.$k:7000"]
[api]
listen = "127.0.0.1:7201"
[registry]
servers = [1]
[[registry.server]]
id = 1
client = "10.93.1.1:2379"
peer = "10.93.1.1:2380"
TOML
  python3 -c 'import uuid; print(uuid.uuid4().hex)' > "$work/n$k/machine-id"
  ip netns exec "$ns" "$BIN/cohortd" --config "$work/n$k.toml" > "$work/n$k.log" 2>&1 &
  PIDS+=($!)
done

# seen_after T0: how long after T0 (wall ms) the last node took the last change it logged
# (from each node's change feed; polling through the CLI is too slow to time with).
seen_after() {
  local k last=0 t
  for k in $(seq 1 $HOSTS); do
    t=$(ip netns exec "${NS_TAG}h$k" curl -s "127.0.0.1:7201/v1/liveness/changes?after=0" |
      python3 -c "import json,sys; print(max([c['time_ms'] for c in json.load(sys.stdin)['changes']] + [0]))")
    [ "$t" -gt "$last" ] && last=$t
  done
  echo $(( last - $1 ))
}
waited() { [ -z "${t0:-}" ] || echo "$1: $(seen_after "$t0") ms after the change"; }
diagnose() {
  for k in $(seq 1 $HOSTS); do echo "node $k: $(not_up "$k" 2>&1)"; done
  tail -5 "$work"/n*.log
}

all_up="$((2 * HOSTS * (HOSTS - 1))) "  # 2 networks x HOSTS adapters x the other nodes
wait_until 30 "every path up on every node" everywhere "$all_up"

t0=$(ms); ip -n "$NS_S" link set br2 down
net2_down=$(for i in $(seq 1 $HOSTS); do for j in $(seq 1 $HOSTS); do
  if [ $i != $j ]; then echo "10.93.2.$i>10.93.2.$j:down"; fi; done; done | sort | tr '\n' ' ')
wait_until 10 "network 2's switch failure seen on every node" everywhere "$all_up${net2_down% }"
t0=$(ms); ip -n "$NS_S" link set br2 up
wait_until 10 "network 2 back on every node" everywhere "$all_up"

# Host 1 can no longer send to host 3 on network 1 (a blackhole route drops what it sends
# there); host 3 still reaches host 1.
t0=$(ms); ip -n "${NS_TAG}h1" route add blackhole 10.93.1.3/32
wait_until 10 "the one-way filter seen on every node" everywhere "${all_up}10.93.1.1>10.93.1.3:down"
t0=$(ms); ip -n "${NS_TAG}h1" route del blackhole 10.93.1.3/32
wait_until 10 "the filtered path back on every node" everywhere "$all_up"
t0=""
# RM3: membership's traffic on network 2 first (priority 5 over 1); it moves to network 1
# when network 2's switch fails, and back when it returns. Node 2's counters say where it went.
in1() { on 1 "$@"; }
registry_up() { in1 registry status --json | grep -q '"phase": *"read-write"'; }
wait_until 30 "the registry read-write" registry_up
in1 network define net1 --priority membership=1 >/dev/null
in1 network define net2 --priority membership=5 >/dev/null
subnets_defined() { [ "$(in1 subnet list --json | grep -c '"prefix"')" -ge 2 ]; }
wait_until 10 "the adapters' subnets defined by the nodes" subnets_defined
in1 subnet modify 10.93.1.0/24 --network net1 >/dev/null
in1 subnet modify 10.93.2.0/24 --network net2 >/dev/null
named() {
  local k
  for k in $(seq 1 $HOSTS); do
    ip netns exec "${NS_TAG}h$k" "$BIN/cohort" --api 127.0.0.1:7201 liveness --json |
      grep -q '"name": *"net2"' || return 1
  done
}
wait_until 10 "every node's liveness on the named networks" named
membership_bytes() {  # membership_bytes N: node 2's membership bytes sent from its network N adapter
  ip netns exec "${NS_TAG}h2" curl -s 127.0.0.1:7201/metrics |
    awk -v a="10.93.$1.2:7000" '$1 ~ "adapter_bytes_sent_total" && index($1, a) && $1 ~ /membership/ {print $2}'
}
grows() {  # grows N BEFORE [BY]: node 2's membership bytes on network N went past BEFORE + BY
  [ "$(membership_bytes "$1")" -gt $(( $2 + ${3:-0} )) ]
}
quiet() {  # quiet N: no membership byte left node 2's network N adapter for 300 ms
  local a; a=$(membership_bytes "$1"); sleep 0.3; [ "$(membership_bytes "$1")" = "$a" ]
}
wait_until 10 "node 2's membership traffic off network 1" quiet 1
before=$(membership_bytes 1)
ip -n "$NS_S" link set br2 down
# Timed to its first datagram there (none left that adapter for 300 ms before); then it goes on.
wait_until 10 "membership traffic on network 1 after network 2 failed" grows 1 "$before"
echo "membership traffic on network 1 within $took ms of network 2's failure"
wait_until 10 "membership traffic going on on network 1" grows 1 "$before" 1000
wait_until 10 "node 2's membership traffic off network 2" quiet 2
before=$(membership_bytes 2)
ip -n "$NS_S" link set br2 up
wait_until 10 "membership traffic back on network 2" grows 2 "$before"
echo "membership traffic back on network 2 within $took ms of its return"
wait_until 10 "membership traffic going on on network 2" grows 2 "$before" 1000
wait_until 10 "node 2's membership traffic off network 1 again" quiet 1
echo "PASS"
