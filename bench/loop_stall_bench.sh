#!/usr/bin/env bash
# The event loop's stalls on every node while a 100 MiB file is distributed to a 3-node dev
# cluster on 127.0.0.1 (issue 17 target: longest <= 20 ms). For each run and node: how many
# stalls passed 5 and 20 ms during the run (from the cohort_loop_stall_seconds histogram,
# read before and after), the upper bound of the largest bucket reached, and the longest
# stall since the daemon started (cohort_loop_stall_max_seconds, start-up included), and the
# failures membership declared during the run (none is real: every daemon stays up).
# With FILES=N the job is a tree of N files of 64 bytes in 100 folders instead (issue 17: a
# job of 100,000 files).
# Usage: [FILES=N] bench/loop_stall_bench.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
bin=build/release/bin
dir=$(mktemp -d /tmp/cohort-stall-XXXXXX)
# LOGS=DIR keeps the daemons' logs there (their stall lines say when and how long).
trap '"$bin/cohort" dev down --dir "$dir/c" >/dev/null 2>&1 || true
      [ -n "${LOGS:-}" ] && for k in 1 2 3; do cp "$dir/c/n$k/cohortd.log" "$LOGS/n$k.log"; done
      rm -rf "$dir"' EXIT
files="${FILES:-0}"
if [ "$files" -gt 0 ]; then
  python3 - "$dir/clip.bin" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    folder = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "f%07d" % i), "wb") as f:
        f.write(os.urandom(64))
PY
else
  head -c $((100 << 20)) /dev/urandom >"$dir/clip.bin"
fi
"$bin/cohort" dev up --nodes 3 --dir "$dir/c" --base-port 21500 --registry 0 >/dev/null
metrics() {
  curl -s "http://127.0.0.1:$((21600 + $1))/metrics" |
    grep -E '^cohort_(loop_stall|membership_(failures_declared|declarations_sent)_total)'
}
# "<over 5 ms> <over 20 ms> <largest bucket bound>" between two metric snapshots.
between() {
  awk 'NR == FNR { if ($1 ~ /_bucket|_count/) before[$1] = $2; next }
       $1 ~ /_bucket|_count/ { now[$1] = $2 - before[$1] }
       END {
         total = now["cohort_loop_stall_seconds_count"]
         over5 = total - now["cohort_loop_stall_seconds_bucket{le=\"0.005\"}"]
         over20 = total - now["cohort_loop_stall_seconds_bucket{le=\"0.02\"}"]
         n = split("0.001 0.002 0.005 0.01 0.02 0.05 0.1 0.25 1", b, " ")
         top = "1 ms"
         for (i = 1; i <= n; i++) {
           key = "cohort_loop_stall_seconds_bucket{le=\"" b[i] "\"}"
           if (now[key] < total) top = (i < n ? b[i + 1] * 1000 " ms" : "over 1 s")
         }
         printf "%d %d %s", over5, over20, top
       }' "$1" "$2"
}
for run in $(seq 1 "$runs"); do
  for k in 1 2 3; do metrics "$k" >"$dir/before$k"; done
  start=$(date +%s.%N)
  "$bin/cohort" --api 127.0.0.1:21601 distribute "$dir/clip.bin" --dest "run$run" --timeout 1800 >/dev/null
  printf "run %d: %.1f s\n" "$run" "$(echo "$(date +%s.%N) - $start" | bc)"
  for k in 1 2 3; do
    metrics "$k" >"$dir/after$k"
    read -r over5 over20 top <<<"$(between "$dir/before$k" "$dir/after$k")"
    max=$(awk '/^cohort_loop_stall_max_seconds/ {printf "%.1f", $2 * 1000}' "$dir/after$k")
    declared=$(cat "$dir/before$k" "$dir/after$k" |
      awk '/^cohort_membership_(failures_declared|declarations_sent)_total/ { v[n++] = $2 }
           END { print v[2] + v[3] - v[0] - v[1] }')
    echo "run $run node $k: stalls over 5 ms: $over5, over 20 ms: $over20, largest <= $top;" \
      "longest since start $max ms; failures declared $declared"
  done
done
