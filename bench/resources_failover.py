#!/usr/bin/env python3
"""Resource failover on real daemons on loopback (RM/M13), printed for docs/benchmarks.md.

A dev cluster of 5 nodes (3 registry servers; one-second leases, as `dev up` configures).
Two resources that follow each other: `vip`, Debian's OCF Dummy agent, and `web`, a process
resource (python3's http.server on 127.0.0.1:PORT) colocated with it and started after it.
Each trial kills -9 the daemon of the node running them and measures the time until `web`
answers HTTP again from another node (the killed daemon's http.server dies with it); the
node is then started again before the next trial. Any node may be the victim: the supervisor
and registry servers included.
Usage: bench/resources_failover.py   (env: TRIALS=10, KEEP=1 keeps the logs)"""
import json
import os
import signal
import statistics
import sys
import time
import urllib.request

from benchlib import cohort, start_node, wait, work_folder

TRIALS = int(os.environ.get("TRIALS", "10"))
BASE = 16600
PORT = 16990


def api(k):
    return f"127.0.0.1:{BASE + 100 + k}"


def owner(via):
    out = cohort("--api", api(via), "--json", "resource", "list")
    if out.returncode != 0:
        return None
    for r in json.loads(out.stdout)["resources"]:
        if r["name"] == "web" and r["state"] == "running":
            return r["node"]
    return None


def formed(k):
    members = cohort("--api", api(k), "--json", "members")
    synced = cohort("--api", api(k), "--json", "resource", "list")
    if members.returncode != 0 or synced.returncode != 0:
        return False
    up = [m for m in json.loads(members.stdout)["members"] if m["state"] == "up"]
    return len(up) == 5 and json.loads(synced.stdout)["synced"]


def answers():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=0.5) as r:
            return r.status == 200
    except OSError:
        return False


def main():
    with work_folder("cohort-rm-bench-") as folder:
        up = cohort("dev", "up", "--nodes", "5", "--dir", folder, "--base-port", str(BASE),
                    "--adapters", "1", "--registry", "3", "--json")
        if up.returncode != 0:
            raise SystemExit(f"dev up failed: {up.stderr}")
        pids = {n["id"]: n["pid"] for n in json.loads(up.stdout)["nodes"]}
        started = []
        try:
            tok = ["--api", api(1)]
            for args in (["vip", "--agent", "heartbeat:Dummy", "--monitor-ms", "1000"],
                         ["web", "--class", "process", "--agent",
                          f"exec python3 -m http.server {PORT} --bind 127.0.0.1",
                          "--with", "vip", "--after", "vip", "--monitor-ms", "1000"]):
                made = cohort(*tok, "resource", "create", *args)
                if made.returncode != 0:
                    raise SystemExit(f"create failed: {made.stderr}")
            samples = []
            for trial in range(TRIALS):
                via = 1
                if not wait(lambda: owner(via) is not None and answers(), 30):
                    raise SystemExit("web is not running")
                victim = owner(via)
                via = 2 if victim == 1 else 1
                os.kill(pids[victim], signal.SIGKILL)
                t0 = time.monotonic()
                if not wait(lambda: answers() and owner(via) not in (None, victim), 30):
                    raise SystemExit(f"trial {trial}: web did not come back")
                took = time.monotonic() - t0
                samples.append(took)
                print(f"trial {trial + 1}: node {victim} killed, web answers from node "
                      f"{owner(via)} after {took:.2f} s", flush=True)
                p = start_node(folder, victim)
                started.append(p)
                pids[victim] = p.pid
                if not wait(lambda: owner(via) is not None, 30):
                    raise SystemExit("web lost after the restart")
                # The next kill finds a formed cluster: the victim back in every map and
                # its resource manager synced (a kill before it has the map is another case:
                # docs/design/resources.md, "Limits").
                if not wait(lambda: formed(victim), 30):
                    raise SystemExit(f"node {victim} did not rejoin")
            samples.sort()
            p99 = samples[min(len(samples) - 1, int(round(0.99 * (len(samples) - 1))))]
            print(f"failover kill -9 -> web answering elsewhere: median "
                  f"{statistics.median(samples):.2f} s, p99 {p99:.2f} s, max {samples[-1]:.2f} s"
                  f" over {len(samples)} trials")
        finally:
            cohort("dev", "down", "--dir", folder)
            for p in started:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
