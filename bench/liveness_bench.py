#!/usr/bin/env python3
"""Liveness (L1) figures, printed as tables for docs/benchmarks.md.

1. Simulator (virtual time, so the machine's load does not change them): for each N, the
   medians over SEEDS seeds of the time until a change is seen by every node — a ring
   (successor) path cut, a one-way filter on a path off the ring, a switch failure settled
   in every matrix — and the heartbeat payload per adapter per second (flat in N).
2. Real daemons on loopback: a dev cluster of 5 nodes with 2 adapters each; sealed liveness
   bytes sent per adapter per second (heartbeats and rows, from the daemons' counters) over
   10 s once formed.
Usage: bench/liveness_bench.py [N ...]   (default 10 50 200); SEEDS=5."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.environ.get("COHORT_BIN", os.path.join(os.path.dirname(__file__), "../build/bin"))
SEEDS = int(os.environ.get("SEEDS", "5"))
BASE = 16900


def sim(scenario, nodes):
    out = subprocess.run([os.path.join(BIN, "cohort-sim"), "--scenario", scenario, "--nodes",
                          str(nodes), "--seed", "1", "--seeds", str(SEEDS), "--json"],
                         capture_output=True, text=True, timeout=3600)
    doc = json.loads(out.stdout)
    if doc["failed"]:
        print(f"warning: {doc['failed']} runs of {scenario} at {nodes} nodes failed", file=sys.stderr)
    figures = {}
    for run in doc["runs"]:
        for k, v in run["figures"].items():
            figures.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in figures.items()}


def simulator(sizes):
    print(f"Simulator, 2 networks, period 100 ms, miss_limit 3; medians of {SEEDS} seeds "
          "(virtual ms)")
    print(f"{'nodes':>6} {'ring cut':>9} {'cut settled':>12} {'one-way':>8} {'one-way ring':>13} "
          f"{'switch':>8} {'switch back':>12} {'crash':>8} {'steady hb payload B/s/adapter':>30}")
    for n in sizes:
        settle, cut, oneway, switch, crash = (
            sim(s, n) for s in ("lsettle", "lcut", "loneway", "lswitch", "lcrash"))
        print(f"{n:>6} {cut['successor_sees_cut_ms']:>9.0f} {cut['cut_settle_ms']:>12.0f} "
              f"{oneway['oneway_seen_ms']:>8.0f} "
              f"{oneway.get('oneway_ring_seen_ms', float('nan')):>13.0f} "
              f"{switch['switch_settle_ms']:>8.0f} {switch['switch_back_ms']:>12.0f} "
              f"{crash['crash_settle_ms']:>8.0f} "
              f"{settle['heartbeat_payload_B_per_s_per_adapter']:>30.0f}")


def liveness_bytes(k):
    with urllib.request.urlopen(f"http://127.0.0.1:{BASE + 100 + k}/metrics", timeout=5) as r:
        text = r.read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("cohort_transport_adapter_bytes_sent_total") and 'service="liveness"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def change_seq(k):
    with urllib.request.urlopen(f"http://127.0.0.1:{BASE + 100 + k}/v1/liveness", timeout=5) as r:
        return json.loads(r.read())["seq"]


def all_up(k):
    with urllib.request.urlopen(f"http://127.0.0.1:{BASE + 100 + k}/v1/liveness", timeout=5) as r:
        doc = json.loads(r.read())
    return all(s in (None, "up") for n in doc["networks"] for row in n["paths"] for s in row)


def daemons():
    with tempfile.TemporaryDirectory(prefix="cohort-live-bench-") as d:
        cohort = os.path.join(BIN, "cohort")
        subprocess.run([cohort, "dev", "up", "--nodes", "5", "--adapters", "2", "--dir", d,
                        "--base-port", str(BASE), "--registry", "0"], check=True,
                       capture_output=True, timeout=120)
        try:
            deadline = time.monotonic() + 30
            while not all(all_up(k) for k in range(1, 6)):  # every path up on every node
                if time.monotonic() > deadline:
                    raise SystemExit("the paths did not all come up within 30 s")
                time.sleep(0.05)
            # Alerts (a path judged down during the staggered start coming back) end 1 s
            # after the last change: measure once no node has logged one for 1.5 s.
            quiet_since, seqs = time.monotonic(), [change_seq(k) for k in range(1, 6)]
            while time.monotonic() - quiet_since < 1.5:
                if time.monotonic() > deadline + 30:
                    raise SystemExit("liveness kept changing for 30 s")
                time.sleep(0.1)
                now = [change_seq(k) for k in range(1, 6)]
                if now != seqs:
                    quiet_since, seqs = time.monotonic(), now
            before = [liveness_bytes(k) for k in range(1, 6)]
            time.sleep(10)
            after = [liveness_bytes(k) for k in range(1, 6)]
            per_adapter = [(a - b) / 10 / 2 for a, b in zip(after, before)]
            print("Real daemons, 5 nodes x 2 adapters on loopback: sealed liveness bytes sent "
                  f"per adapter per second: median {statistics.median(per_adapter):.0f} "
                  f"(min {min(per_adapter):.0f}, max {max(per_adapter):.0f})")
        finally:
            subprocess.run([cohort, "dev", "down", "--dir", d], capture_output=True, timeout=60)


if __name__ == "__main__":
    simulator([int(a) for a in sys.argv[1:]] or [10, 50, 200])
    daemons()
