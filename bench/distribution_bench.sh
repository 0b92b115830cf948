#!/usr/bin/env bash
# Content distribution against the physical bound (issue 5). Builds N hosts in network
# namespaces on one bridge, shapes each host's upload to RATE_MBIT with tc (tbf on its
# egress), runs a cohortd on each and distributes SIZE_MIB from host 1; then, in the same
# setup, pushes the same file from host 1 to every other host at once (what operators do
# today: parallel scp/socat). Prints each run's time, time / (S/B), and the medians.
#   N=8 SIZE_MIB=100 RATE_MBIT=100 RUNS=3 PUSH_RUNS=3 KILL=0 bench/distribution_bench.sh
# KILL=1 also runs distributions where host 4's daemon is killed (kill -9) 40% into the
# transfer; the time is until every other host holds the content, verified.
# DROP_CACHES=1 empties the page cache before each run (see docs/benchmarks.md: without it,
# runs after the second in one cluster are slower). Each run also prints the CPU time the
# daemons used (user and system, all hosts together) and the packets all hosts sent.
# BURST (default 128kb) is the tbf bucket: it must hold one full-size TCP segmentation
# packet (64 KiB of payload plus headers), or tbf cuts every such packet into MTU-sized ones
# in software, work a NIC does in hardware (docs/benchmarks.md, eighth series; the series
# before it used 64kb).
# CHAIN_RUNS (default 1) runs a bare relay chain in the same setup: host 1 streams the file
# to host 2, each host writes what arrives and forwards it to the next as it arrives, in
# plain TCP with no encryption, digests, failover or tracking. It is what this machine's
# kernels allow the simplest pipeline, the floor under cohort's figure here.
# Needs root; makes its own namespaces and removes them; every wait is bounded.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${COHORT_BIN:-$here/../build/release/bin}"
[ -x "$BIN/cohortd" ] || BIN="$here/../build/bin"
N="${N:-8}"
SIZE_MIB="${SIZE_MIB:-100}"
RATE_MBIT="${RATE_MBIT:-100}"
RUNS="${RUNS:-3}"
PUSH_RUNS="${PUSH_RUNS:-$RUNS}"  # the parallel push is slow and steady: fewer runs do
CHAIN_RUNS="${CHAIN_RUNS:-1}"
KILL="${KILL:-0}"
TAG="cohd$$-"
[ "$(id -u)" -eq 0 ] || { echo "skipped: not root"; exit 0; }
ip netns add "${TAG}probe" 2>/dev/null || { echo "skipped: cannot create network namespaces"; exit 0; }
ip netns del "${TAG}probe"

work=$(mktemp -d /tmp/cohort-dist-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for k in $(seq 1 "$N"); do ip netns del "${TAG}h$k" 2>/dev/null || true; done
  ip netns del "${TAG}hub" 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

ip netns add "${TAG}hub"
ip -n "${TAG}hub" link add br0 type bridge
ip -n "${TAG}hub" link set br0 up
ip netns exec "${TAG}hub" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
for k in $(seq 1 "$N"); do
  ns="${TAG}h$k"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add h0 netns "$ns" type veth peer name "v$k" netns "${TAG}hub"
  ip -n "$ns" addr add "10.77.0.$k/24" dev h0
  ip -n "$ns" link set h0 up
  ip -n "${TAG}hub" link set "v$k" master br0
  ip -n "${TAG}hub" link set "v$k" up
  # The host's upload: everything it sends leaves through h0.
  ip netns exec "$ns" tc qdisc add dev h0 root tbf rate "${RATE_MBIT}mbit" burst "${BURST:-128kb}" latency 100ms
done

"$BIN/cohort" keygen > "$work/cluster.key"
start_daemon() {  # start_daemon K
  local k=$1
  mkdir -p "$work/n$k"
  cat > "$work/n$k/node.toml" <<EOF
[node]
id = $k
data_dir = "$work/n$k"
[cluster]
name = "bench"
key_file = "$work/cluster.key"
seeds = ["10.77.0.1:7100"]
[transport]
listen = ["10.77.0.$k:7100"]
[api]
listen = "127.0.0.1:7201"
EOF
  ip netns exec "${TAG}h$k" "$BIN/cohortd" --config "$work/n$k/node.toml" \
    > "$work/n$k/out.log" 2>&1 &
  pids[$k]=$!
}
for k in $(seq 1 "$N"); do start_daemon "$k"; done
in_host() { local k=$1; shift; ip netns exec "${TAG}h$k" "$BIN/cohort" --api 127.0.0.1:7201 "$@"; }
wait_members() {  # until host 1 sees all N members up (20 s at most)
  local up=0
  for i in $(seq 1 400); do
    up=$(in_host 1 members --json 2>/dev/null | python3 -c '
import json,sys
print(sum(1 for m in json.load(sys.stdin)["members"] if m["state"] == "up"))' 2>/dev/null || echo 0)
    [ "$up" = "$N" ] && return 0
    sleep 0.05
  done
  echo "the $N daemons did not form a cluster"; exit 1
}
wait_members

head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$work/content.bin"
bound=$(python3 -c "print($SIZE_MIB * 1024 * 1024 * 8 / ($RATE_MBIT * 1e6))")
echo "N=$N, ${SIZE_MIB} MiB, uploads ${RATE_MBIT} Mbit/s: S/B = ${bound} s"

elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }  # elapsed T0 T1
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { python3 -c "print(f'{$1 / $bound:.3f}')"; }

daemons_cpu() {  # "user system minflt" (clock ticks, faults) of every daemon together
  for k in $(seq 1 "$N"); do
    p=$(pgrep -P "${pids[$k]}" cohortd || echo "${pids[$k]}")
    awk '{print $14, $15, $10}' "/proc/$p/stat" 2>/dev/null || true
  done | awk '{u += $1; s += $2; f += $3} END {printf "%.0f %.0f %.0f\n", u, s, f}'
}
net_sent() {  # "packets bytes" the hosts have sent, as the hub's ports received them
  ip netns exec "${TAG}hub" sh -c 'cat /sys/class/net/v*/statistics/rx_packets' | awk '{p += $1} END {printf "%.0f ", p}'
  ip netns exec "${TAG}hub" sh -c 'cat /sys/class/net/v*/statistics/rx_bytes' | awk '{b += $1} END {printf "%.0f\n", b}'
}
packets_used() {  # packets_used BEFORE AFTER
  python3 -c "a = '$1'.split(); b = '$2'.split(); p = int(b[0]) - int(a[0]); n = int(b[1]) - int(a[1]); print(f'{p} packets of {n / max(p, 1):.0f} bytes on average')"
}
cpu_used() {  # cpu_used BEFORE AFTER
  python3 -c "import os; hz = os.sysconf('SC_CLK_TCK'); a = '$1'.split(); b = '$2'.split(); print(f'user {(int(b[0]) - int(a[0])) / hz:.1f} s, system {(int(b[1]) - int(a[1])) / hz:.1f} s, {int(b[2]) - int(a[2])} page faults')"
}

cohort_times=()
for run in $(seq 1 "$RUNS"); do
  [ -n "${DROP_CACHES:-}" ] && sync && echo 3 > /proc/sys/vm/drop_caches
  cpu0=$(daemons_cpu)
  net0=$(net_sent)
  t0=$(date +%s.%N)
  in_host 1 distribute "$work/content.bin" --dest "run$run" --json > "$work/job$run.json"
  t1=$(date +%s.%N)
  t=$(elapsed "$t0" "$t1")
  echo "cohort run $run: ${t} s = $(ratio "$t") x S/B (daemons' CPU: $(cpu_used "$cpu0" "$(daemons_cpu)"); $(packets_used "$net0" "$(net_sent)"))"
  cohort_times+=("$t")
done

push_times=()
cat > "$work/recv.py" <<'EOF'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen(1); s.settimeout(300)
c, _ = s.accept()
with open(sys.argv[1], "wb") as f:
    while True:
        b = c.recv(1 << 20)
        if not b: break
        f.write(b)
EOF
cat > "$work/push.py" <<'EOF'
import os, socket, sys, threading, time
path, hosts = sys.argv[1], sys.argv[2:]
def connect(h):  # the receivers may still be starting: retry for up to 10 s
    deadline = time.monotonic() + 10
    while True:
        try:
            return socket.create_connection((h, 9000), timeout=300)
        except ConnectionRefusedError:
            if time.monotonic() > deadline: raise
            time.sleep(0.02)
def push(h):
    with connect(h) as s, open(path, "rb") as f:
        s.sendfile(f)
ts = [threading.Thread(target=push, args=(h,)) for h in hosts]
[t.start() for t in ts]; [t.join() for t in ts]
EOF
for run in $(seq 1 "$PUSH_RUNS"); do
  rpids=()
  for k in $(seq 2 "$N"); do
    ip netns exec "${TAG}h$k" python3 "$work/recv.py" "$work/n$k/push.bin" &
    rpids+=($!)
  done
  t0=$(date +%s.%N)
  ip netns exec "${TAG}h1" python3 "$work/push.py" "$work/content.bin" \
    $(for k in $(seq 2 "$N"); do echo "10.77.0.$k"; done)
  for p in "${rpids[@]}"; do wait "$p"; done
  t1=$(date +%s.%N)
  t=$(elapsed "$t0" "$t1")
  echo "parallel push run $run: ${t} s = $(ratio "$t") x S/B"
  push_times+=("$t")
done

chain_times=()
cat > "$work/relay.py" <<'EOF'
import os, socket, sys, time
path, nxt = sys.argv[1], sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9001)); s.listen(1); s.settimeout(300)
up, _ = s.accept()
down = None
if nxt != "-":  # the next relay listens already: they start from the chain's end
    deadline = time.monotonic() + 10
    while down is None:
        try:
            down = socket.create_connection((nxt, 9001), timeout=300)
        except ConnectionRefusedError:
            if time.monotonic() > deadline: raise
            time.sleep(0.02)
with open(path, "wb") as f:
    while True:
        b = up.recv(1 << 18)
        if not b: break
        f.write(b)
        if down: down.sendall(b)
if down: down.close()
t = os.times()
with open(path + ".cpu", "w") as f:
    f.write(f"{t.user} {t.system}\n")
EOF
for run in $(seq 1 "$CHAIN_RUNS"); do
  [ -n "${DROP_CACHES:-}" ] && sync && echo 3 > /proc/sys/vm/drop_caches
  rpids=()
  for k in $(seq "$N" -1 2); do
    nxt=$([ "$k" -lt "$N" ] && echo "10.77.0.$((k + 1))" || echo -)
    ip netns exec "${TAG}h$k" python3 "$work/relay.py" "$work/n$k/chain.bin" "$nxt" &
    rpids+=($!)
  done
  net0=$(net_sent)
  t0=$(date +%s.%N)
  ip netns exec "${TAG}h1" python3 -c '
import socket, sys, time
deadline = time.monotonic() + 10
while True:
    try:
        s = socket.create_connection((sys.argv[2], 9001), timeout=300); break
    except ConnectionRefusedError:
        if time.monotonic() > deadline: raise
        time.sleep(0.02)
with s, open(sys.argv[1], "rb") as f:
    s.sendfile(f)' "$work/content.bin" 10.77.0.2
  for p in "${rpids[@]}"; do wait "$p"; done
  t1=$(date +%s.%N)
  t=$(elapsed "$t0" "$t1")
  cpu=$(cat "$work"/n*/chain.bin.cpu | awk '{u += $1; s += $2} END {printf "user %.1f s, system %.1f s", u, s}')
  echo "bare relay chain run $run: ${t} s = $(ratio "$t") x S/B (relays' CPU: $cpu; $(packets_used "$net0" "$(net_sent)"))"
  chain_times+=("$t")
  rm -f "$work"/n*/chain.bin "$work"/n*/chain.bin.cpu
done

kill_times=()
if [ "$KILL" = 1 ]; then
  for run in $(seq 1 "$RUNS"); do
    delay=$(python3 -c "print($bound * 0.4)")
    ( sleep "$delay"; kill -9 "${pids[4]}" ) &  # the scenario: a kill 40% into the run
    in_host 1 distribute "$work/content.bin" --dest "kill$run" --json > "$work/kill$run.json" || true
    # The time until the last of the others completed (the base stamps each completion).
    t=$(python3 - "$work/kill$run.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
bad = [s["id"] for s in j["servers"] if s["state"] != "completed"]
assert bad == [4], f"expected only host 4 to fail, got {bad}"
print(f'{max(s["completed_s"] for s in j["servers"] if s["id"] != 4):.2f}')
EOF
)
    echo "one receiver killed, run $run: ${t} s = $(ratio "$t") x S/B (the others complete)"
    kill_times+=("$t")
    start_daemon 4
    wait_members
  done
fi

c=$(printf '%s\n' "${cohort_times[@]}" | median)
echo "median cohort: ${c} s = $(ratio "$c") x S/B over $RUNS runs"
if [ "$PUSH_RUNS" -gt 0 ]; then
  p=$(printf '%s\n' "${push_times[@]}" | median)
  echo "median parallel push: ${p} s = $(ratio "$p") x S/B over $PUSH_RUNS runs"
  python3 -c "print(f'cohort is {$p / $c:.2f}x faster than the parallel push')"
fi
if [ "$CHAIN_RUNS" -gt 0 ]; then
  b=$(printf '%s\n' "${chain_times[@]}" | median)
  echo "median bare relay chain: ${b} s = $(ratio "$b") x S/B over $CHAIN_RUNS runs"
fi
if [ "$KILL" = 1 ]; then
  k=$(printf '%s\n' "${kill_times[@]}" | median)
  echo "median with a receiver killed: ${k} s = $(ratio "$k") x S/B"
fi
