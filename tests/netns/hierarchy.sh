#!/usr/bin/env bash
# Network-namespace test (M14): two sites, each a cluster of two hosts on its own subnet,
# joined by a router; each site's cluster is one node of a parent cluster across the router.
# Checks, on real daemons:
#  - the parent forms across the router, and a plain member of a site shows it (sent down);
#  - the router fails: the parent splits, each half sees the other site's node failed and
#    its daemons counted down; the router back: one parent again, every daemon up;
#  - a site's supervisor is killed: its successor takes the site's node over at the parent
#    across the router with a newer incarnation, never seen failed.
# Exits 77 (skipped) where namespaces cannot be made.
#
#   h1, h2: 10.95.1.k/24 ── brS1 ── R (10.95.1.254 | 10.95.3.254) ── brS2 ── 10.95.3.k/24: h3, h4
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${COHORT_BIN:-$here/../../build/bin}"
NS_TAG="${NS_TAG:-cohh$$}"
source "$here/topology.sh"  # netns_usable
source "$here/hosts.sh"     # on, stop_hosts, host_ns, switch_ns, plug, ms
HOSTS=4
NS_S="${NS_TAG}s"
NS_ROUTER="${NS_TAG}r"

if ! why=$(netns_usable); then echo "SKIP: network namespaces unavailable: $why"; exit 77; fi

work=$(mktemp -d /tmp/cohort-netns-hierarchy.XXXXXX)
PIDS=()
cleanup() { stop_hosts "$NS_ROUTER" "$NS_S"; }
trap cleanup EXIT

site_of() { if [ "$1" -le 2 ]; then echo 1; else echo 2; fi; }
net_of() { if [ "$1" -le 2 ]; then echo 1; else echo 3; fi; }  # host k's subnet 10.95.N.0/24

switch_ns "$NS_S" brS1 brS2
host_ns "$NS_ROUTER"
ip netns exec "$NS_ROUTER" sysctl -qw net.ipv4.ip_forward=1
plug "$NS_ROUTER" r1 10.95.1.254/24 "$NS_S" brS1 rS1
plug "$NS_ROUTER" r3 10.95.3.254/24 "$NS_S" brS2 rS3
for s in 1 2; do "$BIN/cohort" keygen > "$work/site$s.key"; done
"$BIN/cohort" keygen > "$work/parent.key"

start_host() {
  local k=$1 ns="${NS_TAG}h$1"
  ip netns exec "$ns" "$BIN/cohortd" --config "$work/n$k.toml" >> "$work/n$k.log" 2>&1 &
  PIDS+=($!)
  eval "PID_$k=$!"
}

for k in $(seq 1 $HOSTS); do
  ns="${NS_TAG}h$k"; net=$(net_of "$k"); site=$(site_of "$k")
  first=$(( site == 1 ? 1 : 3 ))
  host_ns "$ns"
  plug "$ns" eth "10.95.$net.$k/24" "$NS_S" "brS$site" "h$k"
  ip -n "$ns" route add "10.95.$((4 - net)).0/24" via "10.95.$net.254"
  mkdir -p "$work/n$k"
  cat > "$work/n$k.toml" <<TOML
[node]
id = $(( k - first + 1 ))
name = "h$k"
data_dir = "$work/n$k"
uid_file = "$work/n$k/machine-id"
[cluster]
name = "site$site"
key_file = "$work/site$site.key"
seeds = ["10.95.$net.$first:7000"]
[cluster.parent]
id = $site
name = "farm"
key_file = "$work/parent.key"
listen = "10.95.$net.$k:7400"
seeds = ["10.95.1.1:7400", "10.95.3.3:7400"]
level_factor = 5
[transport]
listen = ["10.95.$net.$k:7000"]
[api]
listen = "127.0.0.1:7201"
TOML
  python3 -c 'import uuid; print(uuid.uuid4().hex)' > "$work/n$k/machine-id"
  start_host "$k"
done

get() { ip netns exec "${NS_TAG}h$1" curl -s --max-time 2 "127.0.0.1:7201$2"; }
WAIT_POLL=0.1
waited() { echo "ok: $1 ($took ms)"; }
diagnose() { for f in "$work"/n*.log; do echo "== $f"; tail -n 8 "$f"; done; }

# parent_is K WANT: host K's view of the parent: "<node>:<state> … up=<daemons up>/<daemons>"
# (the parent's map and aggregate, held there or sent down to it).
parent_of() {
  get "$1" /v1/hierarchy | python3 -c '
import json, sys
p = json.load(sys.stdin)["parent"]
m = " ".join("%d:%s" % (x["id"], x["state"]) for x in p["map"]["members"])
a = p.get("aggregate") or {}
print(m, "up=%s/%s" % (a.get("members_up"), a.get("members")))'
}
parent_is() { [ "$(parent_of "$1")" = "$2" ]; }
held_here() { get "$1" /v1/hierarchy | grep -q '"held_here": *true'; }

wait_until 40 "the parent across the router: both sites up, 4 daemons" parent_is 1 "1:up 2:up up=4/4"
wait_until 10 "a plain member of site 2 shows the parent sent down" parent_is 4 "1:up 2:up up=4/4"
wait_until 10 "and so does one of site 1" parent_is 2 "1:up 2:up up=4/4"

# The router fails: each half of the parent sees the other site's node failed.
ip -n "$NS_ROUTER" link set r3 down
wait_until 30 "site 1's holder: site 2 failed at the parent, its 2 daemons down" \
  parent_is 1 "1:up 2:failed up=2/4"
wait_until 30 "site 2's plain member: site 1 failed at the parent (its own half)" \
  parent_is 4 "1:failed 2:up up=2/4"
ip -n "$NS_ROUTER" link set r3 up
for k in 1 2; do ip -n "${NS_TAG}h$k" route replace 10.95.3.0/24 via 10.95.1.254; done
for k in 3 4; do ip -n "${NS_TAG}h$k" route replace 10.95.1.0/24 via 10.95.3.254; done
wait_until 40 "the router back: one parent, both sites up" parent_is 1 "1:up 2:up up=4/4"
wait_until 10 "seen from site 2's plain member too" parent_is 4 "1:up 2:up up=4/4"

# Site 2's supervisor (h3) dies: h4 takes site 2's node over across the router.
incarnation_of_2() {
  get 1 /v1/hierarchy | python3 -c '
import json, sys
m = [x for x in json.load(sys.stdin)["parent"]["map"]["members"] if x["id"] == 2][0]
print(m["state"], m["incarnation"])'
}
read -r _ before < <(incarnation_of_2)
kill -KILL "$PID_3"
start=$(ms)
failed_seen=0
while :; do
  read -r state now_inc < <(incarnation_of_2 || echo "? 0")
  [ "$state" = failed ] && failed_seen=1
  if [ "$state" = up ] && [ "$now_inc" -gt "$before" ]; then break; fi
  if [ $(( $(ms) - start )) -gt 20000 ]; then
    echo "FAIL: site 2's node not taken over at the parent (last: $state $now_inc)"; exit 1
  fi
  sleep 0.02
done
echo "ok: site 2's node taken over at the parent by h4 ($(( $(ms) - start )) ms)"
[ "$failed_seen" = 0 ] || { echo "FAIL: the parent marked site 2's node failed"; exit 1; }
wait_until 10 "h4 holds site 2's node" held_here 4
wait_until 20 "the parent counts 3 of 4 daemons up" parent_is 1 "1:up 2:up up=3/4"
echo "PASS"
