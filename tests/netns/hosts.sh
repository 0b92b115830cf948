# Helpers for network-namespace tests that run one cohortd per host namespace
# ${NS_TAG}h<k> (k = 1..HOSTS), each with its API on 127.0.0.1:7201, plugged into bridges
# of a switch namespace. Sourced by liveness.sh, routed.sh, resources.sh, hierarchy.sh and
# bench/netns_resources_failover.sh; uses their NS_TAG, HOSTS, BIN, PIDS and work.

ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_until SECONDS DESCRIPTION COMMAND...: runs COMMAND every WAIT_POLL seconds (default
# 0.02) until it succeeds, and sets `took` to the milliseconds that took, then calls the
# script's `waited` if it defines one. Past SECONDS: prints FAIL, COMMAND's own output and
# the script's `diagnose` (if defined), and exits 1.
wait_until() {
  local limit=$1 what=$2; shift 2
  local start; start=$(ms)
  until "$@" >/dev/null 2>&1; do
    if [ $(( $(ms) - start )) -gt $(( limit * 1000 )) ]; then
      echo "FAIL: timed out waiting for $what"
      "$@" || true
      if declare -F diagnose >/dev/null; then diagnose; fi
      exit 1
    fi
    sleep "${WAIT_POLL:-0.02}"
  done
  took=$(( $(ms) - start ))
  if declare -F waited >/dev/null; then waited "$what"; fi
  return 0
}

# host_ns NS: a namespace with its loopback up.
host_ns() { ip netns add "$1"; ip -n "$1" link set lo up; }

# switch_ns NS BRIDGE...: a namespace holding these bridges, up.
switch_ns() {
  local ns=$1 br; shift
  ip netns add "$ns"
  for br in "$@"; do ip -n "$ns" link add "$br" type bridge; ip -n "$ns" link set "$br" up; done
}

# plug NS IF ADDR/LEN SWITCH BRIDGE PORT: adapter IF of namespace NS, with address ADDR/LEN,
# cabled to port PORT of BRIDGE in namespace SWITCH.
plug() {
  ip link add "$2" netns "$1" type veth peer name "$6" netns "$4"
  ip -n "$1" addr add "$3" dev "$2"; ip -n "$1" link set "$2" up
  ip -n "$4" link set "$6" master "$5"; ip -n "$4" link set "$6" up
}

# on K ARGS...: the cohort CLI against node K.
on() { local k=$1; shift; ip netns exec "${NS_TAG}h$k" "$BIN/cohort" --api 127.0.0.1:7201 "$@"; }

# not_up K [NETWORK]: node K's liveness matrix as "<paths> <from>to:state> ...": how many
# paths it shows, then those not up, sorted; only NETWORK's paths when given.
not_up() {
  on "$1" liveness --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
out, paths = [], 0
for net in d["networks"]:
    if len(sys.argv) > 1 and sys.argv[1] and net["name"] != sys.argv[1]: continue
    a = [x["address"].split(":")[0] for x in net["adapters"]]
    for i, row in enumerate(net["paths"]):
        for j, s in enumerate(row):
            if s is None: continue
            paths += 1
            if s != "up": out.append(f"{a[i]}>{a[j]}:{s}")
print(paths, " ".join(sorted(out)))' "${2:-}"
}

# everywhere WANT [NETWORK]: every node's not_up is WANT (the first that is not is printed).
everywhere() {
  local k got
  for k in $(seq 1 "$HOSTS"); do
    got=$(not_up "$k" "${2:-}")
    [ "$got" = "$1" ] || { echo "node $k: $got"; return 1; }
  done
}

# stop_hosts [NAMESPACE...]: ends the daemons the test started (by their PIDs), removes the
# host namespaces and the others named, and the work folder unless KEEP=1.
stop_hosts() {
  local p k ns
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for k in $(seq 1 "$HOSTS"); do ip netns del "${NS_TAG}h$k" 2>/dev/null || true; done
  for ns in "$@"; do ip netns del "$ns" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
