#!/usr/bin/env python3
"""Moving a node between clusters (issue 18, C10) with real daemons on loopback: dev
cluster staging (3 nodes, registry on nodes 1-2) and dev cluster prod (2 nodes, registry on
node 1); staging's node 3 is defined to prod too. Each run moves it to prod and back and
times each move from `cohort cluster move` until every member of the cluster it went to
shows it up. Then prod is stopped and each run times a move that must return: from the
command until every member of staging shows the node up again. Polls the members' APIs
every 10 ms. Usage: RUNS=5 bench/move_bench.py; prints each run and the medians."""
import json
import os
import statistics
import sys
import tempfile
import time

from benchlib import cohort, up_on_every_member, wait

STAGING, PROD = 16700, 17100
DEADLINE_MS = 1500


def api(base, k):
    return f"127.0.0.1:{base + 100 + k}"


# Every member's API: the moving node keeps its own (staging's node 3's) in both clusters.
STAGINGS = [f"127.0.0.1:{STAGING + 100 + k}" for k in (1, 2, 3)]
PRODS = [f"127.0.0.1:{PROD + 100 + k}" for k in (1, 2)] + [STAGINGS[2]]


def move(root, name, deadline_ms=3000):
    """`cluster move NAME` on staging's node 3: (its answer, seconds since the command)."""
    token = os.path.join(root, "staging", "n3", "api.token")
    t0 = time.monotonic()
    out = cohort("--api", api(STAGING, 3), "--token-file", token, "cluster", "move", name,
                 "--deadline-ms", str(deadline_ms), "--json")
    if out.returncode != 0:
        sys.exit(f"move to {name} failed: {out.stderr}")
    return json.loads(out.stdout), t0


def timed_move(root, name, apis, node):
    answer, t0 = move(root, name)
    if not answer["moved"]:
        sys.exit(f"the move to {name} returned: {answer['message']}")
    if not wait(lambda: up_on_every_member(apis, node)):
        sys.exit(f"node {node} never came up on every member of {name}")
    return time.monotonic() - t0


def define_to_prod(root):
    token_file = os.path.join(root, "staging", "n3", "api.token")
    token = cohort("--api", api(STAGING, 3), "--token-file", token_file,
                   "join-token").stdout.strip()
    out = cohort("--api", api(PROD, 1), "node", "define", api(STAGING, 3), "--join-token", token,
                 "--number", "3")
    if out.returncode != 0:
        sys.exit("define to prod failed: " + out.stderr)


def main():
    runs = int(os.environ.get("RUNS", "5"))
    with tempfile.TemporaryDirectory(prefix="cohort-move-") as root:
        started = []
        try:
            for name, base, nodes, servers in (("staging", STAGING, 3, 2), ("prod", PROD, 2, 1)):
                up = cohort("dev", "up", "--name", name, "--nodes", str(nodes), "--dir",
                            os.path.join(root, name), "--base-port", str(base), "--adapters",
                            "1", "--registry", str(servers), "--json")
                if up.returncode != 0:
                    sys.exit(f"dev up {name} failed: {up.stderr}")
                started.append(name)
            define_to_prod(root)
            there, back = [], []
            for run in range(runs):
                there.append(timed_move(root, "prod", PRODS, 3))
                back.append(timed_move(root, "staging", STAGINGS, 3))
                print(f"run {run + 1}: to prod {there[-1] * 1000:.0f} ms, "
                      f"back {back[-1] * 1000:.0f} ms")
            cohort("dev", "down", "--dir", os.path.join(root, "prod"))
            started.remove("prod")
            returns = []
            for run in range(runs):
                answer, t0 = move(root, "prod", DEADLINE_MS)
                if answer["moved"]:
                    sys.exit("moved to a cluster that is down")
                if not wait(lambda: up_on_every_member(STAGINGS, 3)):
                    sys.exit("node 3 never came back up in staging")
                returns.append(time.monotonic() - t0)
                print(f"return {run + 1}: up again in staging {returns[-1] * 1000:.0f} ms")
            print(f"median move → up on every member: to prod {statistics.median(there) * 1000:.0f}"
                  f" ms, back {statistics.median(back) * 1000:.0f} ms (target ≤ 2000 ms)")
            print(f"median return from a cluster that is down: "
                  f"{statistics.median(returns) * 1000:.0f} ms with a {DEADLINE_MS} ms deadline "
                  f"(target ≤ {DEADLINE_MS + 1000} ms)")
        finally:
            for name in started:
                cohort("dev", "down", "--dir", os.path.join(root, name))


if __name__ == "__main__":
    main()
