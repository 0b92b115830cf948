"""Integration tests of liveness (L1) and network objects (C11, RM3) with real daemons on
127.0.0.1: every adapter's heartbeat, the path matrix on every node, its changes by long poll
and as a stream; networks and subnets defined by commands, and the traffic that follows
their priorities."""
import json
import os
import signal
import subprocess
import unittest
import urllib.error
import urllib.request

from harness import COHORT, DevCluster, cohort, cohort_json, http_call, metrics, wait_for

BASE = 21600  # this file's ports: 21601-21653 (transport), +100 API, +200/+300 registry


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

            # A watcher on node 3 sees the first change as a JSON line (from the change
            # numbered now, wherever it has got to when the fault comes).
            seq = cohort_json("liveness", api=c.api(3))["seq"]
            watcher = subprocess.Popen(
                [COHORT, "--api", c.api(3), "liveness", "--watch", "--count", "1", "--json",
                 "--after", str(seq)], stdout=subprocess.PIPE, text=True)
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
            # The poll answers with what came after `seq` (if anything did meanwhile) or,
            # after its timeout, with nothing.
            with urllib.request.urlopen(
                    f"http://{c.api(1)}/v1/liveness/changes?after={seq}&timeout_ms=200") as r:
                doc = json.loads(r.read())
            self.assertTrue(all(ch["seq"] > seq for ch in doc["changes"]), doc)
            self.assertFalse(doc["missed"])
            # A number ahead of the node's (a client from before it restarted): told so.
            with urllib.request.urlopen(
                    f"http://{c.api(1)}/v1/liveness/changes?after={doc['seq'] + 1000}") as r:
                self.assertTrue(json.loads(r.read())["missed"])
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


def preferred(api, node):
    """The address node `api` sends to first for `node`."""
    for n in cohort_json("addresses", api=api)["nodes"]:
        if n["id"] == node:
            return next(a["address"] for a in n["addresses"] if a["preferred"])
    return None


class NetworkObjects(unittest.TestCase):
    def test_networks_name_the_rings_and_priorities_steer_membership(self):
        with DevCluster(3, BASE + 20, adapters=2, registry=1) as c:
            # Each node defines the subnet of its adapters when no one has (127.0.0.0/8).
            wait_for(lambda: any(s["prefix"] == "127.0.0.0/8" and s["implicit"]
                                 for s in cohort_json("subnet", "list", api=c.api(2))["subnets"]),
                     timeout=10, what="the adapters' subnet defined by a node")
            api = c.api(1)
            cohort("network", "define", "admin", "--priority", "membership=1", api=api)
            cohort("network", "define", "content", "--priority", "membership=5",
                   "--priority", "distribution=9", api=api)
            cohort("subnet", "define", "127.0.0.1/32", "--network", "admin", api=api)
            cohort("subnet", "define", "127.0.0.2/32", "--network", "content", api=api)
            nets = {n["name"]: n for n in cohort_json("network", "list", api=c.api(3))["networks"]}
            self.assertEqual(nets["content"]["priority"]["distribution"], 9)
            self.assertEqual(nets["admin"]["subnets"], ["127.0.0.1/32"])

            # Every node's liveness rings follow the networks, and its membership traffic the
            # priorities: content's addresses (127.0.0.2) first.
            def rings(k):
                doc = cohort_json("liveness", api=c.api(k))
                return sorted((n["name"], len(n["adapters"])) for n in doc["networks"])
            wait_for(lambda: all(rings(k) == [("admin", 3), ("content", 3)] for k in (1, 2, 3)),
                     timeout=10, what="every node's rings on admin and content")
            wait_for(lambda: preferred(c.api(3), 1) == c.transport(1, 2), timeout=10,
                     what="node 3 sending to node 1's content address first")
            m = metrics(c.api(3))
            self.assertTrue(any('service="membership"' in k and v > 0 for k, v in m.items()
                                if k.startswith("cohort_transport_adapter_bytes_sent_total")))

            # Node 1's content adapter fails: liveness moves node 3's traffic to admin at
            # once; back when it returns.
            cohort("adapter", "down", c.transport(1, 2), api=c.api(1))
            wait_for(lambda: preferred(c.api(3), 1) == c.transport(1, 1), timeout=5,
                     what="node 3 sending to node 1's admin address")
            cohort("adapter", "up", c.transport(1, 2), api=c.api(1))
            wait_for(lambda: preferred(c.api(3), 1) == c.transport(1, 2), timeout=5,
                     what="node 3 back on node 1's content address")

            # A lower priority for content hands membership back to admin.
            cohort("network", "modify", "content", "--priority", "membership=0", api=api)
            wait_for(lambda: preferred(c.api(3), 1) == c.transport(1, 1), timeout=10,
                     what="membership on admin after the priorities changed")

            # Refusals: one clear line each, nothing changed.
            for args, words in [
                    (("network", "define", "admin"), "already defined"),
                    (("network", "undefine", "admin"), "maps to network admin"),
                    (("network", "define", "x", "--priority", "video=3"), "unknown service"),
                    (("network", "define", "x", "--priority", "membership"), "SERVICE=N"),
                    (("subnet", "define", "10.0.0.1/8"), "prefix"),
                    (("subnet", "modify", "127.0.0.1/32"), "--network NAME or --unmap"),
                    (("subnet", "modify", "10.9.0.0/16", "--network", "admin"), "no subnet")]:
                p = cohort(*args, api=api, check=False)
                self.assertNotEqual(p.returncode, 0, args)
                self.assertIn(words, p.stderr, args)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            status, _ = http_call(api, "GET", "/v1/networks")
            self.assertEqual(status, 200)
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(urllib.request.Request(
                    f"http://{api}/v1/networks", data=b'{"name": "y"}', method="POST"))
            self.assertEqual(e.exception.code, 401)
            # Unmapped and undefined again, the rings go back to the subnet.
            cohort("subnet", "undefine", "127.0.0.1/32", api=api)
            cohort("subnet", "undefine", "127.0.0.2/32", api=api)
            cohort("network", "undefine", "admin", api=api)
            wait_for(lambda: rings(2) == [("127.0.0.0/8", 6)], timeout=10,
                     what="node 2's ring back on 127.0.0.0/8")


if __name__ == "__main__":
    unittest.main()
