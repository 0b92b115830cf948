#!/usr/bin/env bash
# Network-namespace test of README's "Installing the package": three hosts 10.78.0.1-3 on one
# switch, each running the packaged cohortd (scripts/package, unpacked) on the packaged
# /etc/cohort/cohortd.toml changed by exactly README's sed lines, with one cluster key (made
# on host 1 as the postinst makes it, copied to the others). Each host has a mount namespace
# of its own: a private /var/lib and /run (the unit's StateDirectory and RuntimeDirectory)
# and its own /etc/machine-id, as
# three machines would. Passes when `cohort doctor` on host 1 says HEALTHY with 3 of 3 nodes
# up and host 1 serves the dashboard. Exits 77 (skipped) where namespaces cannot be made.
#
#   host k: e1 10.78.0.k/24 ── br1 (switch)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root_dir="$here/../.."
NS_TAG="${NS_TAG:-cohp$$}"
source "$here/topology.sh"  # netns_usable
source "$here/hosts.sh"     # wait_until, stop_hosts, host_ns, switch_ns, plug
HOSTS=3
NS_S="${NS_TAG}s"

if ! why=$(netns_usable); then echo "SKIP: network namespaces unavailable: $why"; exit 77; fi
if ! unshare -m true 2>/dev/null; then echo "SKIP: mount namespaces unavailable"; exit 77; fi

work=$(mktemp -d /tmp/cohort-netns-pkg.XXXXXX)
PIDS=()
cleanup() { stop_hosts "$NS_S"; }
trap cleanup EXIT

deb=$(bash "$root_dir/scripts/package" --no-build | tail -1)
dpkg-deb -x "$root_dir/$deb" "$work/pkg"
BIN="$work/pkg/usr/bin"  # the packaged programs, for `on` too

# README's sed line, taken from README.md ("Installing the package") and given this test's
# addresses: 10.0.1.k there is 10.78.0.k here. Host 1 changes its address only, as README says.
readme_script=$(python3 - "$root_dir/README.md" <<'PY'
import re, sys
for line in open(sys.argv[1]):
    m = re.match(r"sudo sed -i '([^']*)'", line)
    if m:
        print(m.group(1).replace("10.0.1.", "10.78.0."))
        break
else:
    sys.exit("README.md has no `sudo sed -i` line")
PY
)
readme_sed() {  # K FILE
  if [ "$1" = 1 ]; then
    sed -i 's/127.0.0.1:7200/10.78.0.1:7200/' "$2"
  else
    sed -i "$(sed "s/id = 2 /id = $1 /; s/10.78.0.2:7200/10.78.0.$1:7200/" <<<"$readme_script")" "$2"
  fi
  grep -q "10.78.0.$1:7200" "$2" || { echo "FAIL: README's sed left host $1's address"; exit 1; }
}

switch_ns "$NS_S" br1
"$BIN/cohort" keygen > "$work/cluster.key"  # host 1's postinst
for k in $(seq 1 $HOSTS); do
  ns="${NS_TAG}h$k"
  host_ns "$ns"
  plug "$ns" e1 "10.78.0.$k/24" "$NS_S" br1 "h${k}e1"
  etc="$work/h$k/etc/cohort"
  mkdir -p "$etc"
  cp "$work/pkg/etc/cohort/cohortd.toml" "$etc/"
  cp "$work/cluster.key" "$etc/cluster.key"  # `scp 10.0.1.1:/etc/cohort/cluster.key`
  readme_sed "$k" "$etc/cohortd.toml"
  python3 -c 'import uuid; print(uuid.uuid4().hex)' > "$work/h$k/machine-id"
  ip netns exec "$ns" unshare -m --propagation private sh -c \
    'mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /run &&
     mount --bind "$1" /etc/machine-id && exec "$2" --config "$3"' \
    sh "$work/h$k/machine-id" "$BIN/cohortd" "$etc/cohortd.toml" > "$work/h$k.log" 2>&1 &
  PIDS+=($!)
done

diagnose() { for k in $(seq 1 $HOSTS); do echo "--- host $k"; tail -5 "$work/h$k.log"; done; }
healthy() { on 1 doctor | grep -q "^HEALTHY: 3 of 3 nodes up"; }
wait_until 30 "cohort doctor on host 1: HEALTHY, 3 of 3 nodes up" healthy
echo "three packaged nodes form one cluster in ${took} ms"
on 1 doctor | head -2
page=$(ip netns exec "${NS_TAG}h1" curl -sf http://127.0.0.1:7201/)
grep -q "/v1/dashboard/feed" <<<"$page" || { echo "FAIL: host 1 serves no dashboard"; exit 1; }
echo "PASS"
