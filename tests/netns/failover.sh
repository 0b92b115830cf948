#!/usr/bin/env bash
# Network-namespace test (issue: foundation, T3/T4): two nodes with two adapters each on two
# subnets, joined through a router namespace. Take B's primary link down: A's requests keep
# getting answers through B's alternate address; bring it back: B's primary is preferred
# again. Exits 77 (skipped) where namespaces cannot be made.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${COHORT_BIN:-$here/../../build/bin}"
source "$here/topology.sh"

if ! why=$(netns_usable); then echo "SKIP: network namespaces unavailable: $why"; exit 77; fi

work=$(mktemp -d /tmp/cohort-netns.XXXXXX)
cleanup() {
  cluster_down
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
cluster_up "$work"
wait_until() {  # wait_until SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s%N)" -gt "$deadline" ]; then
      echo "FAIL: timed out waiting for $what"; tail -5 "$work"/n*.log; exit 1
    fi
    sleep 0.05
  done
}
node2_entry() {  # prints "status preferred" of node 2's address #$1 as seen by node 1
  in_a addresses --json | python3 -c "
import json,sys
n=[x for x in json.load(sys.stdin)['nodes'] if x['id']==2]
a=n[0]['addresses'][$1] if n else None
print(a['status'] if a else 'absent', a['preferred'] if a else False)"
}
primary_preferred() { [ "$(node2_entry 0)" = "reachable True" ]; }
both_know_each_other() {
  [ "$(in_a addresses --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["nodes"]))')" = 2 ]
}

wait_until 20 "the address tables to converge" both_know_each_other
echo "tables converged: $(in_a status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["address_table"])')"
wait_until 10 "node 2's primary preferred" primary_preferred

requests_sent() {
  ip netns exec "$NS_A" curl -s 127.0.0.1:7201/metrics | awk '/^cohort_transport_requests_total/ {print $2}'
}
# Requests every 20 ms for 3 s; B's primary link goes down once 20 of them have been sent.
before=$(requests_sent)
in_a ping 2 --count 150 --interval-ms 20 --json > "$work/ping.json" &
ping_pid=$!
requests_flowing() { [ "$(requests_sent)" -ge $((before + 20)) ]; }
wait_until 10 "the requests to start" requests_flowing
ip -n "$NS_B" link set b0 down
wait "$ping_pid"
python3 - "$work/ping.json" <<'PY'
import json, sys
replies = json.load(open(sys.argv[1]))["replies"]
failed = [r for r in replies if not r["ok"]]
via_alt = [r for r in replies if r["ok"] and r["address"] == "10.92.2.2:7000"]
failed_over = [r for r in replies if r["attempts"] > 1]
print(f"{len(replies)} requests, {len(failed)} unanswered, {len(via_alt)} answered via the "
      f"alternate, {len(failed_over)} failed over (slowest {max([r['elapsed_ms'] for r in failed_over] or [0]):.1f} ms)")
assert not failed, "requests went unanswered while the alternate was up"
assert via_alt, "no request was answered through the alternate"
PY
[ "$(node2_entry 0)" = "unreachable False" ] || { echo "FAIL: primary not marked unreachable: $(node2_entry 0)"; exit 1; }

ip -n "$NS_B" link set b0 up
host_routes
wait_until 10 "node 2's primary preferred again" primary_preferred
in_a ping 2 --count 3 --interval-ms 20 --json | python3 -c '
import json,sys
r=json.load(sys.stdin)["replies"]
assert all(x["ok"] and x["address"]=="10.92.1.2:7000" for x in r), r
print("primary preferred again: replies via 10.92.1.2:7000")'
echo "PASS: netns failover"
