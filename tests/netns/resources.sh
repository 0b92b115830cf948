#!/usr/bin/env bash
# Network-namespace test (RM1, M13): five hosts on one switch (hosts 1-3 the registry's
# servers) and a client host. A floating address (Debian's IPaddr2 agent, run unchanged) and
# a web server that follows it (a process resource bound to that address) run on host 3.
# Host 3 is cut off from the switch: it loses the registry's majority and stops both before
# its lease can end, and they start on another host, answering the client at the same
# address. A sampler checks all along that the address is never up on two hosts at once,
# through the cut and after host 3 returns. Exits 77 (skipped) where namespaces cannot be
# made.
#
#   host k: e1 10.94.1.k/24 ── br1 (the switch) ── client 10.94.1.50
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${COHORT_BIN:-$here/../../build/bin}"
NS_TAG="${NS_TAG:-cohr$$}"
source "$here/topology.sh"  # netns_usable
source "$here/hosts.sh"     # on, stop_hosts, host_ns, switch_ns, plug
HOSTS=5
NS_S="${NS_TAG}s"
NS_C="${NS_TAG}c"
VIP=10.94.1.100
IPADDR2=/usr/lib/ocf/resource.d/heartbeat/IPaddr2

if ! why=$(netns_usable); then echo "SKIP: network namespaces unavailable: $why"; exit 77; fi
if [ ! -x "$IPADDR2" ]; then echo "SKIP: Debian's resource-agents is not installed"; exit 77; fi

work=$(mktemp -d /tmp/cohort-netns-rm.XXXXXX)
PIDS=()
SAMPLER=""
cleanup() {
  [ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null || true
  stop_hosts "$NS_S" "$NS_C"
}
trap cleanup EXIT

switch_ns "$NS_S" br1
host_ns "$NS_C"
plug "$NS_C" c1 10.94.1.50/24 "$NS_S" br1 cle1
"$BIN/cohort" keygen > "$work/cluster.key"
for k in $(seq 1 $HOSTS); do
  ns="${NS_TAG}h$k"
  host_ns "$ns"
  plug "$ns" e1 "10.94.1.$k/24" "$NS_S" br1 "h${k}e1"
  mkdir -p "$work/n$k"
  cat > "$work/n$k.toml" <<TOML
[node]
id = $k
data_dir = "$work/n$k"
uid_file = "$work/n$k/machine-id"
[cluster]
name = "rm"
key_file = "$work/cluster.key"
seeds = ["10.94.1.1:7000"]
[transport]
listen = ["10.94.1.$k:7000"]
[api]
listen = "127.0.0.1:7201"
[registry]
servers = [1, 2, 3]
heartbeat_ms = 50
election_ms = 500
[[registry.server]]
id = 1
client = "10.94.1.1:2379"
peer = "10.94.1.1:2380"
[[registry.server]]
id = 2
client = "10.94.1.2:2379"
peer = "10.94.1.2:2380"
[[registry.server]]
id = 3
client = "10.94.1.3:2379"
peer = "10.94.1.3:2380"
[resources]
# The margin must exceed the slowest stop (docs/design/resources.md, "Margins"): IPaddr2's
# stop takes about 0.6 s here, more on a loaded machine, and its timeout is 2 s.
lease_ttl_s = 4
fence_margin_ms = 2500
state_dir = "$work/n$k/ocf-run"
TOML
  python3 -c 'import uuid; print(uuid.uuid4().hex)' > "$work/n$k/machine-id"
  ip netns exec "$ns" "$BIN/cohortd" --config "$work/n$k.toml" > "$work/n$k.log" 2>&1 &
  PIDS+=($!)
done

took=0
diagnose() {
  for k in $(seq 1 $HOSTS); do echo "--- node $k"; grep resources "$work/n$k.log" | tail -8; done
}
holders() {  # the hosts on which the floating address is up, each followed by a space
  local k out
  for k in $(seq 1 $HOSTS); do
    # Read whole, not piped into `grep -q`: under pipefail, grep leaving early can fail the
    # pipe (ip's SIGPIPE) and hide a holder.
    out=$(ip -n "${NS_TAG}h$k" addr show dev e1)
    [[ "$out" != *"inet $VIP/"* ]] || echo -n "$k "
  done
  echo
}
answers() { ip netns exec "$NS_C" curl -s -o /dev/null --max-time 0.5 "http://$VIP:8080/"; }
runs_on() {  # runs_on K: node 1 lists web running on node K, with vip
  on "${2:-1}" resource list --json | python3 -c '
import json, sys
r = {x["name"]: x for x in json.load(sys.stdin)["resources"]}
ok = all(r[n]["state"] == "running" and r[n]["node"] == int(sys.argv[1]) for n in ("vip", "web"))
sys.exit(0 if ok else 1)' "$1"
}

registry_up() { on 1 registry status --json | grep -q '"phase": *"read-write"'; }
wait_until 60 "the registry read-write" registry_up
all_up() {  # every host up in host 1's map, so that the preference for host 3 can be met
  [ "$(on 1 members --json | python3 -c 'import json,sys; print(sum(m["state"] == "up" for m in json.load(sys.stdin)["members"]))')" = $HOSTS ]
}
wait_until 60 "every host up" all_up
on 1 resource create vip --agent heartbeat:IPaddr2 --param ip=$VIP --param cidr_netmask=24 \
  --param nic=e1 --prefer 3=50 --monitor-ms 1000 --stop-timeout-ms 2000 >/dev/null
on 1 resource create web --class process --with vip --after vip --monitor-ms 1000 \
  --agent "exec python3 -m http.server 8080 --bind $VIP" >/dev/null
wait_until 30 "vip and web on host 3" runs_on 3
wait_until 10 "the web server answering at $VIP" answers
only_3() { [ "$(holders)" = "3 " ]; }
wait_until 10 "the address up on host 3 alone" only_3
echo "vip and web run on host 3: holders $(holders)"

# As often as it can (each sample runs `ip` per host), for at most 3000 samples: how many
# hosts hold the address (a line each).
( for _ in $(seq 1 3000); do
    n=$(holders | wc -w); echo "$(ms) $n"; sleep 0.02
  done ) > "$work/holders" &
SAMPLER=$!

t0=$(ms); ip -n "$NS_S" link set h3e1 down
gone_from_3() { [[ " $(holders)" != *" 3 "* ]]; }
wait_until 10 "host 3 stopping vip when cut off" gone_from_3
echo "host 3 gave the address up $(( $(ms) - t0 )) ms after the cut"
elsewhere() {
  local k
  for k in 1 2 4 5; do runs_on $k 2 && return 0; done
  return 1
}
wait_until 20 "vip and web running on another host" elsewhere
wait_until 10 "the web server answering at $VIP again" answers
echo "the client reaches $VIP again $(( $(ms) - t0 )) ms after host 3 was cut off (holders: $(holders))"

ip -n "$NS_S" link set h3e1 up
rejoined() { on 3 resource list --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["synced"] else 1)' && registry_up_3; }
registry_up_3() { on 3 registry status --json | grep -q '"phase": *"read-write"'; }
wait_until 30 "host 3 back with the registry" registry_up_3
# Host 3 is back: the resources stay where they run (stickiness), and nothing doubles.
steady() { [ "$(holders | wc -w)" = 1 ] && answers; }
wait_until 10 "one holder after host 3's return" steady
kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""
max=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$work/holders")
samples=$(wc -l < "$work/holders")
[ "$max" -le 1 ] || { echo "FAIL: the address was up on $max hosts at once"; grep -n ' [2-9]$' "$work/holders" | head; exit 1; }
echo "never on two hosts: $samples samples, at most $max holder"
echo "PASS"
