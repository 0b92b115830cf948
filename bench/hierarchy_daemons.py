#!/usr/bin/env python3
"""The hierarchy (issue 22, M14) with real daemons on 127.0.0.1, three levels: `cohort dev up
--shape 2x2x2` (level factor 5, no registry), then, per run,
  1. a plain leaf of cluster 4 is killed: the time until a plain leaf of cluster 1 — in the
     other branch — shows the root counting it (up two levels, then down two);
  2. the daemon holding group 1's node at the root (it supervises its cluster, its parent and
     the root) is killed: the time until the root, seen from the other group's holder, lists
     that node up at a newer incarnation (polled every 20 ms; a failed state seen is counted).
Prints each run and the medians. Usage: RUNS=3 bench/hierarchy_daemons.py (COHORT_BIN: the
folder of cohort and cohortd; ports 26101-26608)."""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("COHORT_BIN", os.path.join(HERE, "../build/bin"))
if not os.access(os.path.join(BIN, "cohort"), os.X_OK):
    BIN = os.path.join(HERE, "../build/release/bin")
COHORT = os.path.join(BIN, "cohort")
RUNS = int(os.environ.get("RUNS", "3"))
BASE = 26100


def hierarchy(api):
    with urllib.request.urlopen(f"http://{api}/v1/hierarchy", timeout=2) as r:
        return json.load(r)


def wait(condition, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return time.monotonic()
        except (OSError, KeyError, IndexError, TypeError):
            pass  # a daemon still settling, or gone
        time.sleep(interval)
    return None


def root(api):
    return hierarchy(api)["parent"]["parent"]


def one_run(folder):
    out = subprocess.run([COHORT, "--json", "dev", "up", "--shape", "2x2x2", "--dir", folder,
                          "--base-port", str(BASE), "--adapters", "1", "--registry", "0",
                          "--level-factor", "5"], capture_output=True, text=True, timeout=120,
                         check=True)
    info = json.loads(out.stdout)
    nodes = [n for c in info["clusters"] for n in c["nodes"]]

    def plain(i):
        c = info["clusters"][i - 1]
        return [n for n in c["nodes"] if n["id"] != c["supervisor"]][0]

    far = plain(1)["api"]
    if not wait(lambda: root(far)["aggregate"]["members_up"] == 8, 30):
        raise RuntimeError("the root never showed 8 up at a leaf")
    victim = plain(4)
    os.kill(victim["pid"], signal.SIGKILL)
    killed = time.monotonic()
    seen = wait(lambda: root(far)["aggregate"]["members_up"] == 7, 30)
    down = None if seen is None else seen - killed

    holders = {}
    for n in nodes:
        if n is victim:
            continue
        try:
            r = root(n["api"])
        except OSError:
            continue
        if r["held_here"]:
            holders[r["node"]] = n
    before = [m for m in root(holders[2]["api"])["map"]["members"] if m["id"] == 1][0]
    os.kill(holders[1]["pid"], signal.SIGKILL)
    killed = time.monotonic()
    failed = []

    def taken_over():
        r = root(holders[2]["api"])
        m = [m for m in r["map"]["members"] if m["id"] == 1][0]
        if m["state"] == "failed":
            failed.append(m)
        return m["state"] == "up" and m["incarnation"] > before["incarnation"]
    seen = wait(taken_over, 30)
    takeover = None if seen is None else seen - killed
    return down, takeover, len(failed)


def main():
    if not os.access(COHORT, os.X_OK):
        sys.exit("cohort not found: build it, or set COHORT_BIN")
    downs, takeovers = [], []
    for run in range(1, RUNS + 1):
        with tempfile.TemporaryDirectory(prefix="cohort-bench-tree-") as folder:
            try:
                down, takeover, failed = one_run(folder)
            finally:
                subprocess.run([COHORT, "dev", "down", "--dir", folder], capture_output=True,
                               timeout=60)
        print(f"run {run}: leaf death shown at a leaf of the other branch "
              f"{down if down is None else round(down, 3)} s; root holder's death taken over "
              f"at the root {takeover if takeover is None else round(takeover, 3)} s "
              f"(failed seen {failed} times)", flush=True)
        if down is not None:
            downs.append(down)
        if takeover is not None:
            takeovers.append(takeover)
    if downs:
        print(f"median leaf death -> other branch's leaf view: {statistics.median(downs):.3f} s")
    if takeovers:
        print(f"median root holder's death -> taken over at the root: "
              f"{statistics.median(takeovers):.3f} s")


if __name__ == "__main__":
    main()
