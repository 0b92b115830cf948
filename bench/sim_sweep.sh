#!/usr/bin/env bash
# Seed sweep of the simulator (issue 17): runs every cohort-sim scenario over SEEDS seeds,
# each scenario's seeds cut into PARTS parts, PARTS cohort-sim processes at a time. Prints
# every failing (scenario, seed) with its broken checks and replay command, a line per
# scenario, and a summary line; exits 0 only if every run passed.
#   SEEDS=10000 PARTS=$(nproc) NODES=16 FIRST=1 SCENARIOS=all bench/sim_sweep.sh
# Every part is bounded: cohort-sim runs under `timeout PART_TIMEOUT` (seconds; by default
# 60 plus 0.3 ms x NODES^2 per run, at least 50 ms: 77 ms at 16 nodes, where the slowest
# scenario, lossy, averages 10 ms a run on a free core). A part killed by the timeout, or
# that crashes, is reported with the seed it was running (a hang, a crash, or a run too slow
# for the budget), its last line on stderr and the seeds it never reached, so the sweep
# always stops on its own.
# COHORT_SIM names the binary (default build/bin/cohort-sim, else build/release/bin/...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ "${1:-}" = "--part" ]; then
  # One part: --part BIN SCENARIO NODES START COUNT TIMEOUT OUT. Writes to OUT one
  # "fail SCENARIO SEED TEXT" line per broken check, then
  # "part SCENARIO START COUNT DONE FAILED LAST RC SECONDS [LAST STDERR LINE]".
  shift
  bin=$1 scenario=$2 nodes=$3 start=$4 count=$5 limit=$6 out=$7
  began=$(date +%s)
  set +e
  # Line-buffered, so a part killed mid-way has reported every run it finished.
  timeout -k 10 "$limit" stdbuf -oL "$bin" --scenario "$scenario" --nodes "$nodes" --seed "$start" \
    --seeds "$count" 2>"$out.err" |
    awk -v s="$scenario" '
      /^[^ ].* nodes=[0-9]+ seed=[0-9]+ (PASS|FAIL) / {
        seed = $3; sub(/^seed=/, "", seed); last = seed; ++done
        if ($4 == "FAIL") ++failed
        next
      }
      /^    FAILED: / { sub(/^    FAILED: /, ""); print "fail", s, seed, $0 }
      END { printf "runs %d %d %s\n", done, failed, (last == "" ? "-" : last) }
    ' >"$out.tmp"
  rc=${PIPESTATUS[0]}
  set -e
  read -r _ ran failed last < <(tail -n 1 "$out.tmp")
  secs=$(($(date +%s) - began))
  { grep '^fail ' "$out.tmp" || true
    echo "part $scenario $start $count $ran $failed $last $rc $secs $(tail -n 1 "$out.err")"
  } >"$out"
  rm -f "$out.tmp" "$out.err"
  echo "  $scenario seeds $start..$((start + count - 1)): $ran runs, $failed failed, status $rc, $secs s" >&2
  exit 0
fi

SEEDS="${SEEDS:-10000}"
PARTS="${PARTS:-$(nproc)}"
NODES="${NODES:-16}"
FIRST="${FIRST:-1}"
SCENARIOS="${SCENARIOS:-all}"
BIN="${COHORT_SIM:-$here/../build/bin/cohort-sim}"
[ -x "$BIN" ] || BIN="$here/../build/release/bin/cohort-sim"
[ -x "$BIN" ] || { echo "cohort-sim not found: build it, or set COHORT_SIM" >&2; exit 2; }
for v in SEEDS PARTS NODES FIRST; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive integer" >&2; exit 2; }
done
[ "$NODES" -ge 2 ] || { echo "NODES must be at least 2" >&2; exit 2; }
if [ "$SCENARIOS" = all ]; then
  SCENARIOS=$("$BIN" --list | awk '{print $1}' | tr '\n' ' ')
fi
per_part=$(((SEEDS + PARTS - 1) / PARTS))
PART_TIMEOUT="${PART_TIMEOUT:-$((60 + per_part * (NODES * NODES * 3 > 500 ? NODES * NODES * 3 : 500) / 10000))}"

work=$(mktemp -d /tmp/cohort-sim-sweep.XXXXXX)
trap 'rm -rf "$work"' EXIT
jobs=()
n=0
for s in $SCENARIOS; do
  for ((start = FIRST; start < FIRST + SEEDS; start += per_part)); do
    count=$((FIRST + SEEDS - start < per_part ? FIRST + SEEDS - start : per_part))
    jobs+=("$BIN $s $NODES $start $count $PART_TIMEOUT $work/part.$((n++))")
  done
done
echo "sweep: $(wc -w <<<"$SCENARIOS") scenarios x $SEEDS seeds ($FIRST..$((FIRST + SEEDS - 1)))" \
  "at $NODES nodes, $n parts, $PARTS at a time, at most ${PART_TIMEOUT} s each" >&2
began=$(date +%s)
# xargs runs at most PARTS parts at once; each part reports through its own file.
printf '%s\n' "${jobs[@]}" | xargs -P "$PARTS" -L 1 "$here/sim_sweep.sh" --part

# Failures by scenario and seed, then parts that did not finish, then the tally.
{ grep -h '^fail ' "$work"/part.* || true; } | sort -s -k2,2 -k3,3n |
  while read -r _ s seed text; do
    echo "FAIL $s seed=$seed: $text (replay: cohort-sim --scenario $s --nodes $NODES --seed $seed)"
  done
total=0 failed=0 incomplete=0
declare -A runs fails
while read -r _ s start count ran nfail last rc secs err; do
  total=$((total + ran)) failed=$((failed + nfail))
  runs[$s]=$((${runs[$s]:-0} + ran)) fails[$s]=$((${fails[$s]:-0} + nfail))
  [ "$ran" -lt "$count" ] || continue
  incomplete=$((incomplete + 1))
  at=$start
  [ "$last" = - ] || at=$((last + 1))
  why="exited with status $rc"
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || why="was killed after $secs s (PART_TIMEOUT)"
  echo "INCOMPLETE $s: the part for seeds $start..$((start + count - 1)) $why while running" \
    "seed $at; $((count - ran - 1)) later seeds not run${err:+ (stderr: $err)}"
done < <(grep -h '^part ' "$work"/part.* | sort -s -k2,2 -k3,3n)
for s in $SCENARIOS; do
  printf '  %-22s %7d runs %6d failed\n' "$s" "${runs[$s]:-0}" "${fails[$s]:-0}"
done
echo "summary: $total runs, $failed failed, $incomplete parts incomplete;" \
  "$(wc -w <<<"$SCENARIOS") scenarios x $SEEDS seeds at $NODES nodes in $(($(date +%s) - began)) s"
[ "$failed" -eq 0 ] && [ "$incomplete" -eq 0 ]
