#!/usr/bin/env python3
"""A monitor failure to the resource running again in place, on real daemons on loopback
(RM1/M13; target: ≤ monitor interval + 0.5 s), printed for docs/benchmarks.md.

A dev cluster of 3 nodes (3 registry servers). `vip`, Debian's OCF Dummy agent, monitored
every INTERVAL_MS with no migration threshold (it never leaves its node). Each trial removes
Dummy's state file — what its monitor reads, so the next monitor finds it not running — at
a random point of the monitor period and times until the agent's start has written the file
again: the wait for the next monitor, the monitor, a stop and a start.
Usage: bench/resources_monitor_restart.py   (env: TRIALS=20, INTERVAL_MS=1000)"""
import json
import os
import random
import statistics
import sys
import tempfile
import time

from benchlib import cohort, wait

TRIALS = int(os.environ.get("TRIALS", "20"))
INTERVAL_MS = int(os.environ.get("INTERVAL_MS", "1000"))
BASE = 16700


def api(k):
    return f"127.0.0.1:{BASE + 100 + k}"


def running_on():
    out = cohort("--api", api(1), "--json", "resource", "list")
    if out.returncode != 0:
        return None
    for r in json.loads(out.stdout)["resources"]:
        if r["name"] == "vip" and r["state"] == "running":
            return r["node"]
    return None


def main():
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="cohort-rm-monitor-") as folder:
        up = cohort("dev", "up", "--nodes", "3", "--dir", folder, "--base-port", str(BASE),
                    "--adapters", "1", "--registry", "3", "--json")
        if up.returncode != 0:
            raise SystemExit(f"dev up failed: {up.stderr}")
        try:
            made = cohort("--api", api(1), "resource", "create", "vip", "--agent",
                          "heartbeat:Dummy", "--monitor-ms", str(INTERVAL_MS),
                          "--migration-threshold", "0")
            if made.returncode != 0:
                raise SystemExit(f"create failed: {made.stderr}")
            if not wait(lambda: running_on() is not None, 30):
                raise SystemExit("vip is not running")
            node = running_on()
            state = os.path.join(folder, f"n{node}", "ocf-run", "Dummy-vip.state")
            samples = []
            for trial in range(TRIALS):
                if not wait(lambda: os.path.exists(state), 10):
                    raise SystemExit("the state file did not come back")
                time.sleep(rng.uniform(0.2, 0.2 + INTERVAL_MS / 1000))  # a random phase
                os.unlink(state)
                t0 = time.monotonic()
                if not wait(lambda: os.path.exists(state), 10):
                    raise SystemExit(f"trial {trial}: not restarted")
                samples.append(time.monotonic() - t0)
                print(f"trial {trial + 1}: restarted on node {node} after {samples[-1]:.2f} s",
                      flush=True)
            if running_on() != node:
                raise SystemExit("vip left its node")
            samples.sort()
            p99 = samples[min(len(samples) - 1, int(round(0.99 * (len(samples) - 1))))]
            print(f"monitor failure -> restarted in place (interval {INTERVAL_MS} ms): median "
                  f"{statistics.median(samples):.2f} s, p99 {p99:.2f} s, max {samples[-1]:.2f} s"
                  f" over {len(samples)} trials")
        finally:
            cohort("dev", "down", "--dir", folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
