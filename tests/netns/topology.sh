# Two hosts, A and B, each with two adapters on two subnets, joined through a router
# namespace R. Sourced by failover.sh and bench/netns_failover.sh. Everything it makes is
# named with $NS_TAG and removed by topology_down.
#
#   A a0 10.91.1.2/24 ── R 10.91.1.1 ┐        ┌ R 10.92.1.1 ── b0 10.92.1.2/24 B
#   A a1 10.91.2.2/24 ── R 10.91.2.1 ┴ router ┴ R 10.92.2.1 ── b1 10.92.2.2/24 B
#
# Each host has route entries so traffic for the peer's primary subnet leaves by its own
# primary adapter and traffic for the alternate subnet by its alternate (T4).

NS_TAG="${NS_TAG:-coh$$}"
NS_A="${NS_TAG}a"; NS_B="${NS_TAG}b"; NS_R="${NS_TAG}r"

netns_usable() {
  [ "$(id -u)" -eq 0 ] || { echo "not root"; return 1; }
  command -v ip >/dev/null || { echo "no 'ip' command (iproute2)"; return 1; }
  ip netns add "${NS_TAG}probe" 2>/dev/null || { echo "cannot create network namespaces here"; return 1; }
  ip netns del "${NS_TAG}probe"
}

link() {  # link NS_X IF_X ADDR_X NS_Y IF_Y ADDR_Y
  ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
  ip -n "$1" addr add "$3/24" dev "$2"; ip -n "$1" link set "$2" up
  ip -n "$4" addr add "$6/24" dev "$5"; ip -n "$4" link set "$5" up
}

host_routes() {  # the static routes of A and B (re-added after a link comes back up)
  ip -n "$NS_A" route replace 10.92.1.0/24 via 10.91.1.1 dev a0 2>/dev/null || true
  ip -n "$NS_A" route replace 10.92.2.0/24 via 10.91.2.1 dev a1 2>/dev/null || true
  ip -n "$NS_B" route replace 10.91.1.0/24 via 10.92.1.1 dev b0 2>/dev/null || true
  ip -n "$NS_B" route replace 10.91.2.0/24 via 10.92.2.1 dev b1 2>/dev/null || true
}

topology_up() {
  for ns in "$NS_A" "$NS_B" "$NS_R"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  link "$NS_A" a0 10.91.1.2 "$NS_R" ra0 10.91.1.1
  link "$NS_A" a1 10.91.2.2 "$NS_R" ra1 10.91.2.1
  link "$NS_B" b0 10.92.1.2 "$NS_R" rb0 10.92.1.1
  link "$NS_B" b1 10.92.2.2 "$NS_R" rb1 10.92.2.1
  ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1
  host_routes
}

topology_down() {
  for ns in "$NS_A" "$NS_B" "$NS_R"; do ip netns del "$ns" 2>/dev/null || true; done
}

# write_config DIR ID LISTEN0 LISTEN1 SEED ROUTE_SUBNET0 ROUTE_SUBNET1
write_config() {
  mkdir -p "$1/n$2"
  cat > "$1/n$2.toml" <<TOML
[node]
id = $2
data_dir = "$1/n$2"
[cluster]
name = "netns"
key_file = "$1/cluster.key"
seeds = ["$5:7000"]
[transport]
listen = ["$3:7000", "$4:7000"]
request_timeout_ms = 100
probe_ms = 200
[[transport.route]]
subnet = "$6"
via = "$3:7000"
[[transport.route]]
subnet = "$7"
via = "$4:7000"
[api]
listen = "127.0.0.1:7201"
TOML
}

# cluster_up WORK: both daemons started in their namespaces with a fresh key; their PIDs in
# COHORT_PIDS. cluster_down ends them by those PIDs and removes the namespaces.
# REQUIRES: BIN set to the folder holding cohortd and cohort.
COHORT_PIDS=()
cluster_up() {
  local work=$1
  topology_up
  "$BIN/cohort" keygen > "$work/cluster.key"
  write_config "$work" 1 10.91.1.2 10.91.2.2 10.92.1.2 10.92.1.0/24 10.92.2.0/24
  write_config "$work" 2 10.92.1.2 10.92.2.2 10.91.1.2 10.91.1.0/24 10.91.2.0/24
  ip netns exec "$NS_A" "$BIN/cohortd" --config "$work/n1.toml" > "$work/n1.log" 2>&1 &
  COHORT_PIDS+=($!)
  ip netns exec "$NS_B" "$BIN/cohortd" --config "$work/n2.toml" > "$work/n2.log" 2>&1 &
  COHORT_PIDS+=($!)
}

cluster_down() {
  local p
  for p in "${COHORT_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${COHORT_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  topology_down
}

in_a() { ip netns exec "$NS_A" "$BIN/cohort" "$@"; }
