#!/usr/bin/env python3
"""The hierarchy (issue 22, M14) on the simulator at scale: runs every hierarchy scenario of
cohort-sim on SHAPE for SEEDS seeds and prints, per scenario, the median and the largest of
each figure (virtual-time milliseconds; idle bytes per second per daemon, seal and IPv4/UDP
headers counted), the runs that failed, and the wall time the runs took on this machine.
Usage: SHAPE=22x22x21 SEEDS=3 bench/hierarchy_sim.py   (COHORT_SIM names the binary)"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.environ.get("COHORT_SIM", os.path.join(HERE, "../build/bin/cohort-sim"))
if not os.access(SIM, os.X_OK):
    SIM = os.path.join(HERE, "../build/release/bin/cohort-sim")
SHAPE = os.environ.get("SHAPE", "22x22x21")
SEEDS = int(os.environ.get("SEEDS", "3"))
SCENARIOS = ["hform", "hleaf", "htakeover", "hsubcluster", "hsubtree", "hdeep", "hroot",
             "hlossy"]


def main():
    if not os.access(SIM, os.X_OK):
        sys.exit("cohort-sim not found: build it, or set COHORT_SIM")
    failed = 0
    for name in SCENARIOS:
        began = time.monotonic()
        out = subprocess.run([SIM, "--scenario", name, "--shape", SHAPE, "--seed", "1", "--seeds",
                              str(SEEDS), "--json"], capture_output=True, text=True, timeout=3600)
        wall = time.monotonic() - began
        if out.returncode not in (0, 1):
            sys.exit(f"cohort-sim failed ({out.returncode}): {out.stderr.strip()[-400:]}")
        runs = json.loads(out.stdout)["runs"]
        figures = {}
        for r in runs:
            for k, v in r["figures"].items():
                figures.setdefault(k, []).append(v)
            if not r["passed"]:
                failed += 1
                print(f"  FAILED seed {r['seed']}: {'; '.join(r['failures'])}")
        print(f"{name} on {SHAPE} ({runs[0]['nodes']} daemons), {len(runs)} seeds, "
              f"{wall / len(runs):.1f} s of wall time per run")
        for k in sorted(figures):
            if k == "levels" or k.startswith("formed_") and name != "hform":
                continue
            vs = figures[k]
            print(f"    {k:26s} median {statistics.median(vs):10.1f}   max {max(vs):10.1f}")
    print(f"{failed} run(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
