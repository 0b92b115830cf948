#!/usr/bin/env python3
"""Stream latencies on real daemons on loopback (W2, M13), printed for docs/benchmarks.md.

A dev cluster of 5 nodes serving streams (`cohort dev up --streams`); a 16 MiB movie on
nodes 1-3 and a 64 KiB clip on every node, written into their content roots.
  - first byte: a viewer asks a node's API for the clip (rotating over the nodes), follows
    the redirect and reads the first byte of a ranged GET (W2's target: ≤ 20 ms);
  - resume: a viewer reads the movie at a player's pace; its node is killed with kill -9;
    the viewer asks another node's API again with its session and offset but without
    naming the node it left (the harder case: the supervisor must learn of the failure
    itself), retrying every 20 ms, until data flows again. Printed: the time from the kill
    and from the failure's declaration (the first moment another node's members list shows
    the node not up) to the first byte (M13's target: ≤ 1 s after the declaration). The
    killed node is started again before the next trial.
Usage: bench/streams_latency.py   (env: RUNS=200, TRIALS=5, KEEP=1 keeps the logs)
Every process is ended by the PID this script started; traffic stays on 127.0.0.1."""
import http.client
import json
import os
import signal
import statistics
import sys
import threading
import time
import urllib.parse

from benchlib import cohort, start_node, wait, work_folder

RUNS = int(os.environ.get("RUNS", "200"))
TRIALS = int(os.environ.get("TRIALS", "5"))
NODES = 5
BASE = 17500


def api(k):
    return f"127.0.0.1:{BASE + 100 + k}"


def request(address, target, headers=None, timeout=2.0):
    """A response, open: (connection, response); the caller reads and closes."""
    host, port = address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    conn.request("GET", target, headers=headers or {})
    return conn, conn.getresponse()


def place(k, path, query=""):
    conn, r = request(api(k), f"/v1/streams/{path}{query}", {"Accept": "application/json"})
    body = r.read()
    conn.close()
    return r.status, json.loads(body) if body else {}


def split(url):
    u = urllib.parse.urlsplit(url)
    return u.netloc, u.path + ("?" + u.query if u.query else "")


def first_byte(k):
    """Seconds from the request to the API to the first byte of the media."""
    start = time.perf_counter()
    conn, r = request(api(k), "/v1/streams/clip.bin")
    location = r.getheader("Location")
    r.read()
    conn.close()
    if r.status != 302:
        raise SystemExit(f"node {k} answered {r.status} for the clip")
    conn, r = request(*split(location), {"Range": "bytes=0-65535"})
    if r.status != 206 or not r.read(1):
        raise SystemExit(f"the media server answered {r.status}")
    took = time.perf_counter() - start
    r.read()
    conn.close()
    return took


def write_file(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(size))


def percentile(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def declared_down(victim, via, out):
    """Polls node `via`'s members every 5 ms until `victim` is not up; its time into `out`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn, r = request(api(via), "/v1/members")
            states = {m["id"]: m["state"] for m in json.loads(r.read())["members"]}
            conn.close()
            if states.get(victim) != "up":
                out.append(time.monotonic())
                return
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.005)


def resume_trial(pids, folder):
    status, doc = place(4, "movies/movie.bin", "?bitrate_kbps=8000")
    if status != 200:
        raise SystemExit(f"placing the movie: {status} {doc}")
    session, victim = doc["session"], doc["node"]
    conn, r = request(*split(doc["url"]))
    got = 0
    while got < 2 << 20:
        chunk = r.read(64 << 10)
        if not chunk:
            raise SystemExit(f"the movie ended at {got} bytes")
        got += len(chunk)
    via = next(k for k in (5, 4) if k != victim)
    declared = []
    watcher = threading.Thread(target=declared_down, args=(victim, via, declared))
    watcher.start()
    os.kill(pids[victim], signal.SIGKILL)
    killed = time.monotonic()
    conn.close()
    resumed = None
    while resumed is None and time.monotonic() - killed < 30:
        try:
            status, again = place(via, "movies/movie.bin",
                                  f"?session={session}&offset={got}&bitrate_kbps=8000")
            if status == 200:
                c2, r2 = request(*split(again["url"]), {"Range": f"bytes={got}-"}, timeout=1)
                try:
                    if r2.status == 206 and r2.read(1):
                        resumed = (time.monotonic(), again["node"])
                finally:
                    c2.close()
        except (OSError, http.client.HTTPException):
            pass
        if resumed is None:
            time.sleep(0.02)
    watcher.join()
    if resumed is None or not declared:
        raise SystemExit(f"node {victim} killed: no resume ({resumed}) or no declaration")
    p = start_node(folder, victim)
    pids[victim] = p.pid
    return victim, resumed[1], resumed[0] - killed, resumed[0] - declared[0], p


def all_listed():
    # Not by placing: every placement reserves capacity for 5 s.
    out = cohort("--api", api(1), "--json", "content", "where", "movies/movie.bin")
    return out.returncode == 0 and sum(
        h["state"] == "available" for h in json.loads(out.stdout)["holders"]) == 3


def main():
    with work_folder("cohort-streams-bench-") as folder:
        up = cohort("dev", "up", "--nodes", str(NODES), "--dir", folder, "--base-port",
                    str(BASE), "--adapters", "1", "--streams", "--stream-capacity-mbps",
                    "1000", "--json")
        if up.returncode != 0:
            raise SystemExit(f"dev up failed: {up.stderr}")
        pids = {n["id"]: n["pid"] for n in json.loads(up.stdout)["nodes"]}
        started = []
        try:
            for k in range(1, NODES + 1):
                root = os.path.join(folder, f"n{k}", "content")
                write_file(os.path.join(root, "clip.bin"), 64 << 10)
            movie = os.urandom(16 << 20)
            for k in (1, 2, 3):
                path = os.path.join(folder, f"n{k}", "content", "movies/movie.bin")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(movie)
            if not wait(all_listed, 60):
                raise SystemExit("the catalog does not list the movie")
            samples = [first_byte(1 + i % NODES) for i in range(RUNS)]
            print(f"first byte through the redirect: median "
                  f"{statistics.median(samples) * 1e3:.2f} ms, p99 "
                  f"{percentile(samples, 0.99) * 1e3:.2f} ms, max {max(samples) * 1e3:.2f} ms "
                  f"over {RUNS} requests", flush=True)
            since_kill, since_declared = [], []
            for trial in range(TRIALS):
                victim, now_on, from_kill, from_declared, p = resume_trial(pids, folder)
                started.append(p)
                since_kill.append(from_kill)
                since_declared.append(from_declared)
                print(f"trial {trial + 1}: node {victim} killed, data again from node {now_on} "
                      f"{from_kill * 1e3:.0f} ms after the kill, {from_declared * 1e3:.0f} ms "
                      f"after its failure was declared", flush=True)
                if not wait(all_listed, 60):
                    where = cohort("--api", api(1), "content", "where", "movies/movie.bin")
                    raise SystemExit(f"node {victim}'s copy did not come back: "
                                     f"{where.stdout}{where.stderr}")
            print(f"resume without naming the node left: median "
                  f"{statistics.median(since_kill) * 1e3:.0f} ms after the kill, "
                  f"{statistics.median(since_declared) * 1e3:.0f} ms after the declaration "
                  f"(max {max(since_declared) * 1e3:.0f} ms) over {TRIALS} trials")
        finally:
            cohort("dev", "down", "--dir", folder)
            for p in started:
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)  # by the PID this script started
                p.wait(10)


if __name__ == "__main__":
    sys.exit(main())
