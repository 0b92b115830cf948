#!/usr/bin/env python3
"""The System Registry with real daemons on loopback (issue 4, bench). Each run forms a
3-node dev cluster whose nodes run the three etcd members (heartbeat 30 ms, election 300 ms),
then:
  - registry_bench against the leader's etcd: sequential puts and gets, raw etcd gRPC versus
    cohort's registry client versus the node's HTTP API (p50/p99 latency, ops/s);
  - failover: kill -9 the leader's cohortd (its etcd dies with it) and time until a write
    through another node's API is acknowledged (polled every 10 ms), and, for the same crash,
    until etcdctl can write straight to that node's etcd.
Usage: bench/registry_bench.py   RUNS=3 repetitions, medians; OPS=2000 per measurement.
COHORT_BIN picks the binaries (default build/release/bin, else build/bin)."""
import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("COHORT_BIN") or next(
    (d for d in (os.path.join(HERE, "../build/release/bin"), os.path.join(HERE, "../build/bin"))
     if os.path.exists(os.path.join(d, "registry_bench"))), os.path.join(HERE, "../build/bin"))
BASE = 18800
RUNS = int(os.environ.get("RUNS", "3"))
OPS = int(os.environ.get("OPS", "2000"))


def api(k):
    return f"127.0.0.1:{BASE + 100 + k}"


def get_json(k, path):
    with urllib.request.urlopen(f"http://{api(k)}{path}", timeout=2) as r:
        return json.loads(r.read())


def put(k, key, token, timeout=1.0):
    req = urllib.request.Request(f"http://{api(k)}/v1/registry/kv?key={key}",
                                 data=b'{"value": "x"}', method="PUT",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def one_run(run):
    d = tempfile.mkdtemp(prefix="cohort-regbench-")
    up = subprocess.run([os.path.join(BIN, "cohort"), "dev", "up", "--nodes", "3", "--dir", d,
                         "--base-port", str(BASE), "--adapters", "1", "--registry", "3",
                         "--json"], capture_output=True, text=True, timeout=120)
    if up.returncode != 0:
        raise RuntimeError(up.stderr)
    info = json.loads(up.stdout)
    try:
        leader = get_json(1, "/v1/registry/status")["leader"]
        token = open(os.path.join(d, f"n{leader}", "api.token")).read().strip()
        out = subprocess.run([os.path.join(BIN, "registry_bench"), "--etcd",
                              f"127.0.0.1:{BASE + 200 + leader}",
                              "--tls", os.path.join(d, f"n{leader}", "registry", "tls"),
                              "--api", api(leader),
                              "--token", token, "--ops", str(OPS)],
                             capture_output=True, text=True, timeout=600, check=True)
        figures = json.loads(out.stdout)

        other = next(k for k in (1, 2, 3) if k != leader)
        other_token = open(os.path.join(d, f"n{other}", "api.token")).read().strip()
        pid = next(n["pid"] for n in info["nodes"] if n["id"] == leader)
        # The same crash seen by raw etcd: etcdctl puts straight to a survivor's etcd, in a
        # thread of their own (each etcdctl run costs ~15 ms, the granularity of this figure).
        raw = {}

        def raw_writes():
            j = 0
            while time.monotonic() - t0 < 20:
                tls = os.path.join(d, f"n{other}", "registry", "tls")
                p = subprocess.run(["etcdctl", f"--endpoints=https://127.0.0.1:{BASE + 200 + other}",
                                    f"--cacert={tls}/ca.pem", f"--cert={tls}/node.pem",
                                    f"--key={tls}/node.key",
                                    "--command-timeout=150ms", "--dial-timeout=150ms", "put", f"/bench/raw/{run}/{j}", "x"],
                                   capture_output=True, env=dict(os.environ, ETCDCTL_API="3"))
                if p.returncode == 0:
                    raw["s"] = time.monotonic() - t0
                    return
                j += 1

        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        watcher = threading.Thread(target=raw_writes)
        watcher.start()
        i = 0
        while not put(other, f"/bench/failover/{run}/{i}", other_token):
            i += 1
            if time.monotonic() - t0 > 20:
                raise RuntimeError("no write acknowledged within 20 s of the leader crash")
            time.sleep(0.01)
        figures["failover_s"] = time.monotonic() - t0
        watcher.join(25)
        figures["raw_failover_s"] = raw.get("s")
        return figures
    finally:
        subprocess.run([os.path.join(BIN, "cohort"), "dev", "down", "--dir", d],
                       capture_output=True, timeout=60)
        for n in info["nodes"]:
            try:
                os.kill(n["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass


def main():
    runs = [one_run(r) for r in range(RUNS)]
    med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
    print(f"registry bench: {RUNS} runs of {OPS} sequential ops per measurement, 100-byte "
          f"values, 3 etcd members (heartbeat 30 ms, election 300 ms) on one 2-core machine; "
          f"medians over runs")
    print(f"{'path':8} {'op':4} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for path in ("raw", "client", "api"):
        for op in ("put", "get"):
            print(f"{path:8} {op:4} {med(lambda r: r[path][op]['ops_per_s']):8.0f} "
                  f"{med(lambda r: r[path][op]['p50_ms']):8.3f} "
                  f"{med(lambda r: r[path][op]['p99_ms']):8.3f}")
    for op in ("put", "get"):
        lat = med(lambda r: r["client"][op]["p50_ms"] / r["raw"][op]["p50_ms"] - 1) * 100
        thr = med(lambda r: 1 - r["client"][op]["ops_per_s"] / r["raw"][op]["ops_per_s"]) * 100
        print(f"client vs raw {op}: p50 latency {lat:+.1f}%, throughput {-thr:+.1f}%")
    fo = [r["failover_s"] for r in runs]
    print(f"writes resume after a leader crash, through cohort: median "
          f"{statistics.median(fo):.3f} s (runs: {', '.join(f'{x:.3f}' for x in fo)})")
    raw = [r["raw_failover_s"] for r in runs if r["raw_failover_s"] is not None]
    if raw:
        print(f"  the same crashes, etcdctl straight to a survivor: median "
              f"{statistics.median(raw):.3f} s (runs: {', '.join(f'{x:.3f}' for x in raw)})")
    print(json.dumps({"runs": runs}))


if __name__ == "__main__":
    main()
