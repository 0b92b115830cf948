#!/usr/bin/env bash
# Network-namespace test (C11–C13, RM3) across a router. Four hosts; the administrative
# network is two subnets joined by a router (hosts 1, 2 on one, hosts 3, 4 on the other),
# the content network one switch for all four. Checks, on real daemons:
#  - C13: each node measures the routers on the way to every address from received TTLs,
#    and orders the registry servers (1, 3, 4) by that: nearest first, equidistant ones
#    spread by node number;
#  - C11: a network object mapping both administrative subnets makes one liveness ring of
#    them across the router; the router's failure shows in every node's matrix as the paths
#    between the two halves down, the others up;
#  - RM3: distribution data takes the content network (its priority), and once the content
#    switch fails, the administrative one (the per-adapter byte counters say so).
# Exits 77 (skipped) where namespaces cannot be made.
#
#   h1, h2: a 10.94.1.k/24 ── brA1 ── R (10.94.1.254 | 10.94.3.254) ── brA2 ── a 10.94.3.k/24: h3, h4
#   every host: c 10.94.2.k/24 ── brC
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${COHORT_BIN:-$here/../../build/bin}"
NS_TAG="${NS_TAG:-cohr$$}"
source "$here/topology.sh"  # netns_usable
source "$here/hosts.sh"     # on, not_up, everywhere, stop_hosts, host_ns, switch_ns, plug
HOSTS=4
NS_S="${NS_TAG}s"
NS_ROUTER="${NS_TAG}r"

if ! why=$(netns_usable); then echo "SKIP: network namespaces unavailable: $why"; exit 77; fi

work=$(mktemp -d /tmp/cohort-netns-routed.XXXXXX)
PIDS=()
cleanup() { stop_hosts "$NS_ROUTER" "$NS_S"; }
trap cleanup EXIT

admin_net() { if [ "$1" -le 2 ]; then echo 1; else echo 3; fi; }  # host k's admin subnet

switch_ns "$NS_S" brA1 brA2 brC
host_ns "$NS_ROUTER"
ip netns exec "$NS_ROUTER" sysctl -qw net.ipv4.ip_forward=1
for n in 1 3; do
  plug "$NS_ROUTER" "r$n" "10.94.$n.254/24" "$NS_S" "brA$([ $n = 1 ] && echo 1 || echo 2)" "rA$n"
done
"$BIN/cohort" keygen > "$work/cluster.key"
for k in $(seq 1 $HOSTS); do
  ns="${NS_TAG}h$k"; an=$(admin_net "$k")
  host_ns "$ns"
  plug "$ns" adm "10.94.$an.$k/24" "$NS_S" "brA$([ "$an" = 1 ] && echo 1 || echo 2)" "h${k}a"
  plug "$ns" cnt "10.94.2.$k/24" "$NS_S" brC "h${k}c"
  ip -n "$ns" route add "10.94.$((4 - an)).0/24" via "10.94.$an.254"
  mkdir -p "$work/n$k/content"
  cat > "$work/n$k.toml" <<TOML
[node]
id = $k
data_dir = "$work/n$k"
uid_file = "$work/n$k/machine-id"
[cluster]
name = "routed"
key_file = "$work/cluster.key"
seeds = ["10.94.1.1:7000", "10.94.2.1:7000"]
[transport]
listen = ["10.94.$an.$k:7000", "10.94.2.$k:7000"]
[api]
listen = "127.0.0.1:7201"
[distribution]
root = "$work/n$k/content"
[registry]
servers = [1, 3, 4]
[[registry.server]]
id = 1
client = "10.94.1.1:2379"
peer = "10.94.1.1:2380"
[[registry.server]]
id = 3
client = "10.94.3.3:2379"
peer = "10.94.3.3:2380"
[[registry.server]]
id = 4
client = "10.94.3.4:2379"
peer = "10.94.3.4:2380"
TOML
  python3 -c 'import uuid; print(uuid.uuid4().hex)' > "$work/n$k/machine-id"
  ip netns exec "$ns" "$BIN/cohortd" --config "$work/n$k.toml" > "$work/n$k.log" 2>&1 &
  PIDS+=($!)
done

get() { ip netns exec "${NS_TAG}h$1" curl -s "127.0.0.1:7201$2"; }
WAIT_POLL=0.1
waited() { echo "ok: $1 ($took ms)"; }
diagnose() { for f in "$work"/n*.log; do tail -n 5 "$f"; done; }

# hops_are K WANT: node K's measured routers to each address, "address=hops" sorted.
hops_of() {
  get "$1" /v1/addresses | python3 -c '
import json, sys
d = json.load(sys.stdin)
out = []
for n in d["nodes"]:
    if n["self"]: continue
    for a in n["addresses"]:
        out.append(a["address"].split(":")[0] + "=" + str(a.get("hops", "?")))
print(" ".join(sorted(out)))'
}
hops_are() { [ "$(hops_of "$1")" = "$2" ]; }
order_is() {  # order_is K "1,3,4": node K's registry client tries the servers in this order
  [ "$(get "$1" /v1/registry/status | python3 -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["client_order"])))')" = "$2" ]
}
registry_up() { on 1 registry status --json | grep -q '"phase": *"read-write"'; }

wait_until 60 "the registry read-write" registry_up
wait_until 20 "node 2 measures 0 routers to its subnets, 1 to the far half" hops_are 2 \
  "10.94.1.1=0 10.94.2.1=0 10.94.2.3=0 10.94.2.4=0 10.94.3.3=1 10.94.3.4=1"
wait_until 20 "node 3 measures 1 router to the near half's administrative addresses" hops_are 3 \
  "10.94.1.1=1 10.94.1.2=1 10.94.2.1=0 10.94.2.2=0 10.94.2.4=0 10.94.3.4=0"
# C13: own server first; then nearest; equidistant servers rotated by node number.
wait_until 10 "node 2 tries server 1 (0 routers), then 3 and 4 (1 router)" order_is 2 "1,3,4"
wait_until 10 "node 4 tries its own, then 3 (same subnet), then 1" order_is 4 "4,3,1"
wait_until 10 "node 1 tries its own, then 4 and 3 (1 mod 2 = index 1 first)" order_is 1 "1,4,3"

# C11: one network object over both administrative subnets: one ring across the router.
on 1 network define admin --priority membership=5 --priority registry=5 >/dev/null
on 1 network define content --priority distribution=5 --priority membership=1 >/dev/null
subnets_defined() { [ "$(on 1 subnet list --json | grep -c '"prefix"')" -ge 3 ]; }
wait_until 20 "the adapters' subnets defined by the nodes" subnets_defined
on 1 subnet modify 10.94.1.0/24 --network admin >/dev/null
on 1 subnet modify 10.94.3.0/24 --network admin >/dev/null
on 1 subnet modify 10.94.2.0/24 --network content >/dev/null
wait_until 20 "one administrative ring of 4 across the router, every path up" everywhere "12 " admin

ip -n "$NS_ROUTER" link set r3 down
cut=""
for i in 10.94.1.1 10.94.1.2; do for j in 10.94.3.3 10.94.3.4; do
  cut="$cut $i>$j:down $j>$i:down"; done; done
cut=$(echo $cut | tr ' ' '\n' | sort | tr '\n' ' ')
wait_until 10 "the router's failure: the paths between the halves down on every node" \
  everywhere "12 ${cut% }" admin
ip -n "$NS_ROUTER" link set r3 up
for k in 1 2; do ip -n "${NS_TAG}h$k" route replace 10.94.3.0/24 via 10.94.1.254; done
for k in 3 4; do ip -n "${NS_TAG}h$k" route replace 10.94.1.0/24 via 10.94.3.254; done
wait_until 20 "the router back: every administrative path up" everywhere "12 " admin

# RM3: distribution data on the content network while it works, then on the administrative one.
data_bytes() {  # data_bytes PREFIX: bytes node 1's data plane sent from its address in PREFIX
  get 1 /metrics | awk -v p="adapter=\"$1" '$1 ~ /^cohort_distribution_adapter_bytes_sent_total/ && index($1, p) {s += $2} END {print s + 0}'
}
head -c 3000000 /dev/urandom > "$work/one.bin"
head -c 3000000 /dev/urandom > "$work/two.bin"
ip netns exec "${NS_TAG}h1" "$BIN/cohort" --api 127.0.0.1:7201 distribute "$work/one.bin" \
  --dest media >/dev/null
content=$(data_bytes 10.94.2.); admin=$(data_bytes 10.94.1.)
echo "job 1: node 1 sent $content bytes on the content network, $admin on the administrative one"
[ "$content" -ge 1000000 ] && [ "$admin" -lt 100000 ] || { echo "FAIL: data not on the content network"; exit 1; }
ip -n "$NS_S" link set brC down
content_gone() { on 1 addresses --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
bad = [a["address"] for n in d["nodes"] if not n["self"] for a in n["addresses"]
       if a["address"].startswith("10.94.2.") and a["status"] != "unreachable"]
sys.exit(1 if bad else 0)'; }
wait_until 10 "node 1 marks every content address unreachable" content_gone
ip netns exec "${NS_TAG}h1" timeout 60 "$BIN/cohort" --api 127.0.0.1:7201 distribute \
  "$work/two.bin" --dest media >/dev/null
content2=$(data_bytes 10.94.2.); admin2=$(data_bytes 10.94.1.)
echo "job 2: node 1 sent $((content2 - content)) more bytes on the content network, $((admin2 - admin)) on the administrative one"
[ $((admin2 - admin)) -ge 1000000 ] || { echo "FAIL: data did not move to the administrative network"; exit 1; }
for k in 2 3 4; do cmp "$work/two.bin" "$work/n$k/content/media/two.bin"; done
echo "PASS"
