#!/usr/bin/env python3
"""Group Services (G1-G3) on real daemons on loopback, printed for docs/benchmarks.md.

A dev cluster of 5 nodes (3 registry servers), one provider per node (bench/groups_live.cc):
1. latency: TRANSITIONS two-phase transitions one after another (every provider votes, the
   outcome is written to etcd, every member is told): p50/p99 from the proposal to its
   committed outcome at the proposer;
2. throughput: every provider proposes at once for SECONDS: transitions/s in one group;
3. coordinator kill: a transition is proposed while its coordinator's node is killed (-9):
   the time until the proposer knows the outcome.
Each figure RUNS times (fresh cluster each), medians printed.
Usage: bench/groups_bench.py   (env: RUNS=3 TRANSITIONS=500 SECONDS=5)"""
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time

from benchlib import BIN, cohort, wait

RUNS = int(os.environ.get("RUNS", "3"))
TRANSITIONS = int(os.environ.get("TRANSITIONS", "500"))
SECONDS = int(os.environ.get("SECONDS", "5"))
BASE = 16400


def api(k):
    return f"127.0.0.1:{BASE + 100 + k}"


def one_run(folder):
    up = cohort("dev", "up", "--nodes", "5", "--dir", folder, "--base-port", str(BASE),
                "--adapters", "1", "--registry", "3", "--json")
    if up.returncode != 0:
        raise SystemExit(f"dev up failed: {up.stderr}")
    pids = [n["pid"] for n in json.loads(up.stdout)["nodes"]]
    try:
        args = [f"{api(k)}={folder}/n{k}/api.token" for k in range(1, 6)]
        out = subprocess.run([os.path.join(BIN, "groups_live_bench"), "bench", str(TRANSITIONS),
                              str(SECONDS), *args], capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise SystemExit(f"groups_live_bench failed: {out.stderr}")
        figures = {}
        for line in out.stdout.splitlines():
            doc = json.loads(line)
            figures[doc["figure"]] = doc
        figures["kill"] = coordinator_kill(folder, pids)
        return figures
    finally:
        cohort("dev", "down", "--dir", folder)


def coordinator_kill(folder, pids):
    """Seconds from kill -9 of the coordinator's node (node 1, the supervisor) to the outcome
    at a proposer on node 3, while the providers' votes take 0.3 s."""
    handler = os.path.join(folder, "slow.sh")
    asked = os.path.join(folder, "asked")
    with open(handler, "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\n[ \"$COHORT_EVENT\" = vote ] && "
                f"touch {asked} && sleep 0.3\nexit 0\n")
    os.chmod(handler, 0o755)
    members = [subprocess.Popen([os.path.join(BIN, "cohort"), "--api", api(k), "group", "join",
                                 "kill", "--handler", handler], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for k in (2, 3, 4, 5)]
    try:
        def joined():
            doc = cohort("--api", api(2), "group", "show", "kill", "--json")
            return doc.returncode == 0 and len(json.loads(doc.stdout)["members"]) == 4
        if not wait(joined, 20):
            raise SystemExit("the members did not join")
        line = members[1].stderr.readline()  # "joined kill as provider ... (session N); ..."
        session = line.split("(session ")[1].split(")")[0]
        proposer = subprocess.Popen([os.path.join(BIN, "cohort"), "--api", api(3), "group",
                                     "propose", "kill", "x", "--session", session, "--json"],
                                    stdout=subprocess.PIPE, text=True)
        if not wait(lambda: os.path.exists(asked), 10):  # the votes are under way
            raise SystemExit("the providers were not asked to vote")
        os.kill(pids[0], signal.SIGKILL)
        t0 = time.monotonic()
        out, _ = proposer.communicate(timeout=60)
        took = time.monotonic() - t0
        return {"seconds": took, "outcome": json.loads(out)}
    finally:
        for m in members:
            m.kill()
            m.wait()


def main():
    runs = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="cohort-groups-bench-") as folder:
            runs.append(one_run(folder))
    med = lambda f, k: statistics.median(r[f][k] for r in runs)
    print(f"5 daemons on loopback, one provider each, {RUNS} runs (medians; all runs: "
          f"{[round(r['latency']['p50_ms'], 2) for r in runs]} p50 ms)")
    print(f"| two-phase transition, 5 providers: p50 | {med('latency', 'p50_ms'):.2f} ms |")
    print(f"| same: p99 | {med('latency', 'p99_ms'):.2f} ms |")
    print(f"| transitions/s in one group (5 proposers) | {med('throughput', 'per_second'):.0f} |")
    print(f"| outcome after kill -9 of the coordinator's node | {med('kill', 'seconds'):.2f} s |")
    print("outcomes after the kill:", [r["kill"]["outcome"].get("committed") for r in runs])


if __name__ == "__main__":
    main()
