#!/usr/bin/env bash
# The event loop's longest stall (cohort_loop_stall_max_seconds) on every node while a
# 100 MiB file is distributed to a 3-node dev cluster on 127.0.0.1 (issue 17 target: <= 20
# ms). Usage: bench/loop_stall_bench.sh [RUNS]   Prints one line per run and node.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
bin=build/release/bin
dir=$(mktemp -d /tmp/cohort-stall-XXXXXX)
trap '"$bin/cohort" dev down --dir "$dir/c" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
head -c $((100 << 20)) /dev/urandom >"$dir/clip.bin"
"$bin/cohort" dev up --nodes 3 --dir "$dir/c" --base-port 21500 --registry 0 >/dev/null
stall() { curl -s "http://127.0.0.1:$((21600 + $1))/metrics" | awk '/^cohort_loop_stall_max_seconds/ {print $2}'; }
for run in $(seq 1 "$runs"); do
  "$bin/cohort" --api 127.0.0.1:21601 distribute "$dir/clip.bin" --dest "run$run" --timeout 120 >/dev/null
  for k in 1 2 3; do
    echo "run $run node $k: longest loop stall since start $(awk -v s="$(stall "$k")" 'BEGIN {printf "%.1f", s * 1000}') ms"
  done
done
