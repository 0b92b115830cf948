#!/usr/bin/env bash
# Failover switch time in the namespace setup of tests/netns (target: <= 3 request timeouts,
# <= 0.3 s at defaults). Each run: requests every 5 ms from A to B; B's primary link goes down;
# the switch time is the longest time any request took to be answered (the ones caught by the
# cut wait one request timeout, then go to the alternate). Prints each run and the median.
# Needs root; makes its own namespaces; bounded: RUNS runs of 300 requests.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${COHORT_BIN:-$here/../build/bin}"
RUNS="${RUNS:-5}"
source "$here/../tests/netns/topology.sh"
if ! why=$(netns_usable); then echo "skipped: $why"; exit 0; fi
work=$(mktemp -d /tmp/cohort-bench.XXXXXX)
trap 'cluster_down; rm -rf "$work"' EXIT
cluster_up "$work"
for i in $(seq 1 200); do
  n=$(in_a addresses --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["nodes"]))' 2>/dev/null || echo 0)
  [ "$n" = 2 ] && break; sleep 0.05
done
results=()
for run in $(seq 1 "$RUNS"); do
  in_a ping 2 --count 300 --interval-ms 5 --json > "$work/ping.json" &
  ping_pid=$!
  sleep 0.4  # let the stream run before the cut
  ip -n "$NS_B" link set b0 down
  wait "$ping_pid"
  ms=$(python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))["replies"]
assert all(x["ok"] for x in r), "unanswered requests"
print(max(x["elapsed_ms"] for x in r))' "$work/ping.json")
  echo "run $run: switch time ${ms} ms"
  results+=("$ms")
  ip -n "$NS_B" link set b0 up; host_routes
  for i in $(seq 1 100); do  # until B's primary is preferred again
    p=$(in_a addresses --json | python3 -c '
import json,sys
n=[x for x in json.load(sys.stdin)["nodes"] if x["id"]==2][0]["addresses"][0]
print(n["preferred"])')
    [ "$p" = True ] && break; sleep 0.05
  done
done
printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {print "median switch time: " a[int((NR+1)/2)] " ms over " NR " runs (request timeout 100 ms)"}'
