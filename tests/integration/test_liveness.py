"""Integration tests of liveness (L1) with real daemons on 127.0.0.1: every adapter's
heartbeat, the path matrix on every node, its changes by long poll and as a stream."""
import json
import os
import signal
import subprocess
import unittest
import urllib.error
import urllib.request

from harness import COHORT, DevCluster, cohort, cohort_json, metrics, wait_for

BASE = 19700  # this file's port range: transport 19701.., API 19801..


def states(api):
    """(adapter address -> state, (from, to) -> path state) of the node's only network."""
    doc = cohort_json("liveness", api=api)
    (net,) = doc["networks"]
    addresses = [a["address"] for a in net["adapters"]]
    adapters = {a["address"]: a["state"] for a in net["adapters"]}
    paths = {(addresses[i], addresses[j]): s
             for i, row in enumerate(net["paths"]) for j, s in enumerate(row) if s is not None}
    return adapters, paths


def matrix_is(api, want_down, down_adapters):
    """Every path is up except `want_down` (down); adapters up except `down_adapters`."""
    adapters, paths = states(api)
    return (all(s == ("down" if (f, t) in want_down else "up") for (f, t), s in paths.items())
            and all(s == ("down" if a in down_adapters else "up") for a, s in adapters.items()))


class ThreeNodesTwoAdapters(unittest.TestCase):
    def test_matrix_follows_an_adapter_down_and_up_and_a_dead_node(self):
        with DevCluster(3, BASE, adapters=2) as c:
            everyone = [c.transport(k, a) for k in (1, 2, 3) for a in (1, 2)]
            wait_for(lambda: all(matrix_is(c.api(k), set(), set()) for k in (1, 2, 3)),
                     timeout=10, what="every path up on every node")
            adapters, paths = states(c.api(1))
            self.assertEqual(len(adapters), 6)
            self.assertEqual(len(paths), 24)  # 6 adapters, 2 per node: 6 x 4 paths

            # A watcher on node 3 sees the first change as a JSON line.
            watcher = subprocess.Popen(
                [COHORT, "--api", c.api(3), "liveness", "--watch", "--count", "1", "--json"],
                stdout=subprocess.PIPE, text=True)
            # The stream of node 1 gets it too.
            stream = urllib.request.urlopen(f"http://{c.api(1)}/v1/liveness/watch", timeout=10)
            try:
                # Node 2's second adapter out of service: nothing leaves or reaches it.
                cut = c.transport(2, 2)
                cohort("adapter", "down", cut, api=c.api(2))
                down = {(cut, x) for x in everyone if not x.endswith(f":{BASE + 2}")}
                down |= {(x, cut) for x in everyone if not x.endswith(f":{BASE + 2}")}
                wait_for(lambda: all(matrix_is(c.api(k), down, {cut}) for k in (1, 2, 3)),
                         timeout=5, what="node 2's second adapter down on every node")
                out, _ = watcher.communicate(timeout=10)
                change = json.loads(out.splitlines()[0])
                self.assertIn(change["type"], ("path", "adapter"))
                self.assertEqual(change["state"], "down")
                line = json.loads(stream.readline())
                self.assertEqual(line["state"], "down")
                self.assertIn(cut, (line.get("from"), line.get("to"), line.get("address")))
            finally:
                if watcher.poll() is None:
                    watcher.kill()
                    watcher.wait()
                stream.close()
            m = metrics(c.api(1))
            self.assertGreater(m['cohort_liveness_paths{network="127.0.0.0/8",state="down"}'], 0)
            self.assertGreater(m["cohort_liveness_heartbeats_received_total"], 0)

            cohort("adapter", "up", cut, api=c.api(2))
            wait_for(lambda: all(matrix_is(c.api(k), set(), set()) for k in (1, 2, 3)),
                     timeout=5, what="every path up again")

            # Node 3 dies: its adapters are unheard, the paths into and out of it down.
            os.kill(c.info["nodes"][2]["pid"], signal.SIGKILL)
            gone = [c.transport(3, 1), c.transport(3, 2)]
            down = {(g, x) for g in gone for x in everyone if x not in gone}
            down |= {(x, g) for g in gone for x in everyone if x not in gone}
            wait_for(lambda: all(matrix_is(c.api(k), down, set(gone)) for k in (1, 2)),
                     timeout=5, what="node 3's paths down on nodes 1 and 2")

    def test_changes_by_long_poll_and_bad_parameters(self):
        with DevCluster(2, BASE + 50, adapters=1) as c:
            wait_for(lambda: all(matrix_is(c.api(k), set(), set()) for k in (1, 2)),
                     timeout=10, what="both paths up")
            seq = cohort_json("liveness", api=c.api(1))["seq"]
            # Nothing new: the poll waits its timeout and answers with no change.
            with urllib.request.urlopen(
                    f"http://{c.api(1)}/v1/liveness/changes?after={seq}&timeout_ms=200") as r:
                doc = json.loads(r.read())
            self.assertEqual(doc["changes"], [])
            self.assertFalse(doc["missed"])
            # From the start: the paths coming up.
            with urllib.request.urlopen(f"http://{c.api(1)}/v1/liveness/changes?after=0") as r:
                doc = json.loads(r.read())
            self.assertTrue(any(ch["type"] == "path" and ch["state"] == "up"
                                for ch in doc["changes"]), doc)
            p = cohort("--api", c.api(1), "liveness", check=False)
            self.assertIn("rows send, columns receive", p.stdout)
            for bad in ("after=x", "timeout_ms=999999", "after=-1"):
                with self.assertRaises(urllib.error.HTTPError) as e:
                    urllib.request.urlopen(f"http://{c.api(1)}/v1/liveness/changes?{bad}")
                self.assertEqual(e.exception.code, 400)
                self.assertIn("must be a number", json.loads(e.exception.read())["error"])


if __name__ == "__main__":
    unittest.main()
