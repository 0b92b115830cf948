#!/usr/bin/env python3
"""Membership with real daemons on loopback (issue: membership, bench). For each N: form a
dev cluster (time from spawn to one cluster), kill -9 a member (time until every survivor
shows it failed), kill -9 the supervisor (time until every survivor follows the next by
priority and shows it failed), SIGTERM a member (time until every survivor shows it left),
idle bytes/s sent per node (over 5 s, starting 6 s after formation) and RSS. Polls each node's API directly every 10 ms.
Usage: bench/membership_bench.py [N ...]   (default 5 20 50); RUNS=3 repetitions, medians.
MULTICAST=GROUP:PORT puts the bus in IP multicast mode. PERIOD_MS, MISS_LIMIT, NOTIFY_MS set
the daemons' [timing] (e.g. slowed to Serf's traffic
level: PERIOD_MS=300 NOTIFY_MS=1200). With many nodes one polling sweep of every node's API
takes longer, so the figures include up to one sweep (printed) of measurement error."""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.environ.get("COHORT_BIN", os.path.join(os.path.dirname(__file__), "../build/bin"))
BASE = 18000


def get(k, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{BASE + 100 + k}{path}", timeout=2) as r:
        return r.read().decode()


def members(k):
    d = json.loads(get(k, "/v1/members"))
    return d["supervisor"], {m["id"]: m["state"] for m in d["members"]}


def wait(cond, limit=20.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            if cond():
                return time.monotonic() - t0
        except Exception:
            pass
        time.sleep(0.01)
    raise RuntimeError("timed out")


def sent_bytes(k):
    for line in get(k, "/metrics").splitlines():
        if line.startswith("cohort_transport_bytes_sent_total "):
            return float(line.split()[1])
    return 0.0


TIMING = [arg for env, flag in (("PERIOD_MS", "--period-ms"), ("MISS_LIMIT", "--miss-limit"),
                                 ("NOTIFY_MS", "--notify-ms"))
          if os.environ.get(env) for arg in (flag, os.environ[env])]
if os.environ.get("MULTICAST"):  # e.g. MULTICAST=239.192.0.9:18099: the bus in multicast mode
    TIMING += ["--multicast", os.environ["MULTICAST"]]


def one_run(n):
    d = tempfile.mkdtemp(prefix="cohort-mbench-")
    t0 = time.monotonic()
    up = json.loads(subprocess.run([f"{BIN}/cohort", "dev", "up", "--nodes", str(n), "--dir", d,
                                    "--base-port", str(BASE), "--adapters", "1", "--json",
                                    "--timeout", "90", *TIMING], capture_output=True, text=True,
                                   check=True).stdout)
    out = {"formation_s": time.monotonic() - t0}
    pids = {x["id"]: x["pid"] for x in up["nodes"]}
    try:
        time.sleep(6)  # settle: the exchange slows down after 5 quiet seconds
        before = {k: sent_bytes(k) for k in pids}
        time.sleep(5)
        out["idle_Bps"] = statistics.mean((sent_bytes(k) - before[k]) / 5 for k in pids)
        out["rss_MiB"] = statistics.mean(
            int(open(f"/proc/{p}/status").read().split("VmRSS:")[1].split()[0]) / 1024
            for p in pids.values())
        live = set(pids)
        t_sweep = time.monotonic()
        for k in live:
            members(k)
        out["sweep_s"] = time.monotonic() - t_sweep
        victim = n  # lowest priority member
        os.kill(pids[victim], signal.SIGKILL)
        live.discard(victim)
        out["detection_s"] = wait(lambda: all(members(k)[1].get(victim) == "failed" for k in live))
        os.kill(pids[1], signal.SIGKILL)
        live.discard(1)
        out["failover_s"] = wait(lambda: all(members(k)[0] == 2 and members(k)[1].get(1) == "failed"
                                             for k in live))
        leaver = 3
        os.kill(pids[leaver], signal.SIGTERM)
        live.discard(leaver)
        out["leave_s"] = wait(lambda: all(members(k)[1].get(leaver) == "left" for k in live))
    finally:
        subprocess.run([f"{BIN}/cohort", "dev", "down", "--dir", d], capture_output=True)
    return out


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [5, 20, 50]
    runs = int(os.environ.get("RUNS", "3"))
    print(f"timing: {' '.join(TIMING) or 'defaults (period 100 ms, K 3, notify 300 ms)'}")
    print(f"{'N':>4} {'formation':>10} {'detection':>10} {'failover':>9} {'leave':>7} "
          f"{'idle B/s':>9} {'RSS MiB':>8} {'sweep':>7}   (medians of {runs} runs)")
    for n in sizes:
        results = [one_run(n) for _ in range(runs)]
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(f"{n:>4} {med['formation_s']:>9.2f}s {med['detection_s']:>9.3f}s "
              f"{med['failover_s']:>8.3f}s {med['leave_s']:>6.3f}s {med['idle_Bps']:>9.0f} "
              f"{med['rss_MiB']:>8.1f} {med['sweep_s']:>6.3f}s", flush=True)


if __name__ == "__main__":
    main()
