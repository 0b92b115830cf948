#!/usr/bin/env python3
"""The dashboard in headless Chromium against real daemons on loopback, printed for
docs/benchmarks.md (issue 24's targets: a node failure on the page ≤ 1 s after the membership
declares it; an idle page ≤ 1 KB/s of API traffic).

A dev cluster of NODES nodes (3 registry servers); Debian's Chromium shows node 1's
dashboard. Each trial kills node NODES with kill -9, and a MutationObserver in the page
notes when its row turns failed; printed: the time from the kill, and from the moment node
1 took the map that marks it (its /v1/members/history), to that moment. The node is started
again before the next trial. Then the page's feed bytes over IDLE_S seconds of nothing.
Usage: bench/dashboard_latency.py   (env: NODES=5, TRIALS=5, IDLE_S=30, KEEP=1)
Every process is ended by the PID this script started; traffic stays on 127.0.0.1."""
import json
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from benchlib import cohort, start_node, wait, work_folder  # noqa: E402
from browser import Browser  # noqa: E402

NODES = int(os.environ.get("NODES", "5"))
TRIALS = int(os.environ.get("TRIALS", "5"))
IDLE_S = float(os.environ.get("IDLE_S", "30"))
BASE = 27100

OBSERVE = """(() => { window.failedAt = 0; new MutationObserver(() => {
  const r = document.querySelector('#members tr[data-node="%d"]');
  if (!window.failedAt && r && r.dataset.state === 'failed') window.failedAt = Date.now();
}).observe(document.getElementById('members'), {childList: true, subtree: true});
return true; })()"""


def main():
    with Browser() as b, work_folder("cohort-dash-") as folder:
        up = cohort("dev", "up", "--nodes", str(NODES), "--dir", folder, "--base-port",
                    str(BASE), "--adapters", "1", "--registry", "3", "--json")
        if up.returncode != 0:
            sys.exit(f"dev up failed: {up.stderr}")
        pids = {n["id"]: n["pid"] for n in json.loads(up.stdout)["nodes"]}
        children = []
        try:
            api = f"127.0.0.1:{BASE + 101}"
            s = b.open(f"http://{api}/")
            rows = "document.querySelectorAll('#members tr[data-state=\"up\"]').length"
            if not wait(lambda: b.evaluate(s, rows) == NODES, 20):
                sys.exit("the page never showed every node up")
            from_kill, from_declared = [], []
            victim = NODES
            for trial in range(TRIALS):
                b.evaluate(s, OBSERVE % victim)
                killed = time.time()
                os.kill(pids[victim], signal.SIGKILL)
                if not wait(lambda: b.evaluate(s, "window.failedAt"), 10):
                    sys.exit(f"trial {trial}: node {victim} never showed failed")
                shown = b.evaluate(s, "window.failedAt") / 1000
                declared = max(t["at_ms"] for t in b.evaluate(s, "S.history.history")
                               if t["node"] == victim and t["to"] == "failed") / 1000
                from_kill.append(shown - killed)
                from_declared.append(shown - declared)
                print(f"trial {trial + 1}: shown {from_kill[-1]:.3f} s after the kill, "
                      f"{from_declared[-1]:.3f} s after node 1 took the map", flush=True)
                p = start_node(folder, victim)
                children.append(p)
                pids[victim] = p.pid
                if not wait(lambda: b.evaluate(s, rows) == NODES, 20):
                    sys.exit(f"trial {trial}: node {victim} did not come back up")
            before = b.evaluate(s, "window.cohortFeed.bytes")
            t0 = time.monotonic()
            time.sleep(IDLE_S)  # a rate over a fixed window
            rate = (b.evaluate(s, "window.cohortFeed.bytes") - before) / (time.monotonic() - t0)
            print(f"node failure on the page: median {statistics.median(from_kill):.3f} s after "
                  f"the kill (max {max(from_kill):.3f}), median "
                  f"{statistics.median(from_declared):.3f} s after the declaration (max "
                  f"{max(from_declared):.3f}); idle page {rate:.0f} B/s of feed, {NODES} nodes")
        finally:
            cohort("dev", "down", "--dir", folder)
            for p in children:
                if p.poll() is None:
                    p.kill()
                    p.wait()


if __name__ == "__main__":
    main()
