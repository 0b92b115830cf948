#!/usr/bin/env bash
# Resident memory of idle daemons (target: <= 10 MiB) and their idle traffic: starts a
# 3-node dev cluster, lets it idle for IDLE seconds, reads VmRSS of each daemon by the PID
# `cohort dev up` reported, and the bytes each sent while idle.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${COHORT_BIN:-$here/../build/bin}"
IDLE="${IDLE:-10}"
dir=$(mktemp -d /tmp/cohort-rss.XXXXXX)
trap '"$BIN/cohort" dev down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$BIN/cohort" dev up --nodes 3 --dir "$dir" --base-port 17700 --json > "$dir/up.json"
sent() { curl -s "127.0.0.1:$((17800 + $1))/metrics" | awk '/^cohort_transport_bytes_sent_total/ {print $2}'; }
declare -A before
for k in 1 2 3; do before[$k]=$(sent "$k"); done
sleep "$IDLE"
for k in 1 2 3; do
  pid=$(python3 -c "import json; print(json.load(open('$dir/up.json'))['nodes'][$k-1]['pid'])")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  bytes=$(( $(sent "$k") - ${before[$k]} ))
  echo "node $k: RSS $((rss / 1024)).$(( (rss % 1024) * 10 / 1024 )) MiB, idle traffic $((bytes / IDLE)) B/s"
done
