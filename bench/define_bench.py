#!/usr/bin/env python3
"""Defining a node at run time (issue 18, C7) with real daemons on loopback: a 3-node dev
cluster with the registry; a fourth cohortd with no [cluster] waits to be defined; the time
from `cohort node define` (run against node 1) until every member's map shows the new node
up. Then it is stopped by its PID and undefined, and the next run starts it afresh.
Polls each member's API every 10 ms. Usage: RUNS=5 bench/define_bench.py; prints each run
and the median."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import BIN, cohort, up_on_every_member, wait

BASE = 16500
MEMBERS = [f"127.0.0.1:{BASE + 100 + k}" for k in (1, 2, 3)]
WAITING = """[node]
id = 9
data_dir = "{dir}"
uid_file = "machine-id"
[transport]
listen = ["127.0.0.1:{port}"]
[api]
listen = "127.0.0.1:{api}"
"""


def one_run(root, run):
    data = os.path.join(root, f"waiting{run}")
    os.makedirs(data)
    with open(os.path.join(data, "machine-id"), "w") as f:
        f.write(os.urandom(16).hex() + "\n")
    config = os.path.join(data, "node.toml")
    with open(config, "w") as f:
        f.write(WAITING.format(dir=data, port=BASE + 4, api=BASE + 104))
    log = open(os.path.join(data, "cohortd.log"), "w")
    proc = subprocess.Popen([os.path.join(BIN, "cohortd"), "--config", config], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        api = f"127.0.0.1:{BASE + 104}"
        token_file = os.path.join(data, "api.token")
        if not wait(lambda: cohort("--api", api, "--token-file", token_file,
                                   "join-token").returncode == 0, 10):
            sys.exit("the waiting node did not answer")
        token = cohort("--api", api, "--token-file", token_file, "join-token").stdout.strip()
        t0 = time.monotonic()
        out = cohort("--api", f"127.0.0.1:{BASE + 101}", "node", "define", api, "--join-token",
                     token, "--number", "4")
        if out.returncode != 0:
            sys.exit("define failed: " + out.stderr)
        defined = time.monotonic() - t0
        if not wait(lambda: up_on_every_member(MEMBERS, 4)):
            sys.exit("node 4 never came up on every member")
        return defined, time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        wait(lambda: cohort("--api", f"127.0.0.1:{BASE + 101}", "node", "undefine",
                            "4").returncode == 0, 20)


def main():
    runs = int(os.environ.get("RUNS", "5"))
    with tempfile.TemporaryDirectory(prefix="cohort-define-") as root:
        cluster = os.path.join(root, "cluster")
        up = cohort("dev", "up", "--nodes", "3", "--dir", cluster, "--base-port", str(BASE),
                    "--adapters", "1", "--json")
        if up.returncode != 0:
            sys.exit("dev up failed: " + up.stderr)
        try:
            totals = []
            for run in range(runs):
                defined, total = one_run(root, run)
                totals.append(total)
                print(f"run {run + 1}: define answered {defined * 1000:.0f} ms, "
                      f"up on every member {total * 1000:.0f} ms")
            print(f"median define → up everywhere: {statistics.median(totals) * 1000:.0f} ms "
                  f"over {runs} runs (target ≤ 2000 ms)")
        finally:
            cohort("dev", "down", "--dir", cluster)


if __name__ == "__main__":
    main()
