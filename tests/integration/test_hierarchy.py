"""Integration tests of the hierarchy (M14) with real daemons on 127.0.0.1: `cohort dev up
--shape 3x3` runs three clusters of three daemons, each cluster one node of a parent cluster.
One run walks through a leaf's death, a cluster supervisor's death (its successor takes the
node over at the parent: a new incarnation, never a failure), the death of the parent's own
supervisor, and a whole cluster's death, checking the views at both levels."""
import json
import os
import signal
import tempfile
import time
import unittest
import urllib.request

from harness import cohort, cohort_json, ours, wait_for

BASE = 23800  # this file's ports: transport 23801-23809, API 23901-23909, parent 24201-24209


def hierarchy(api):
    with urllib.request.urlopen(f"http://{api}/v1/hierarchy", timeout=5) as r:
        return json.load(r)


class Shape:
    """`cohort dev up --shape` in a temporary folder, stopped by `dev down` and, failing that,
    by the PIDs it reported."""

    def __init__(self, shape):
        self.tmp = tempfile.TemporaryDirectory(prefix="cohort-it-shape-")
        self.dir = self.tmp.name
        self.shape = shape
        self.info = None

    def __enter__(self):
        # `dev up` stops what it started when it fails; `dev down` covers the rest.
        try:
            self._up()
        except Exception:
            self.__exit__()
            raise
        return self

    def _up(self):
        self.info = cohort_json("dev", "up", "--shape", self.shape, "--dir", self.dir,
                                "--base-port", str(BASE), "--adapters", "1", "--registry", "0",
                                # the parent notices a silent node after about 3 s: margin
                                # over a takeover (about 0.5 s) on a machine under sanitizers
                                "--level-factor", "8",
                                timeout=120)

    def __exit__(self, *exc):
        cohort("dev", "down", "--dir", self.dir, check=False)
        for c in (self.info or {}).get("clusters", []):
            for n in c["nodes"]:
                if ours(n["pid"], self.dir):
                    os.kill(n["pid"], signal.SIGKILL)
        self.tmp.cleanup()

    def cluster(self, i):
        return self.info["clusters"][i - 1]

    def node(self, i, k):
        return [n for n in self.cluster(i)["nodes"] if n["id"] == k][0]

    def kill(self, i, k):
        pid = self.node(i, k)["pid"]
        assert ours(pid, self.dir)
        os.kill(pid, signal.SIGKILL)

    def holder(self, i, among=(1, 2, 3)):
        """The API of cluster i's node that holds its node in the parent (its supervisor)."""
        for k in among:
            try:
                h = hierarchy(self.node(i, k)["api"])
            except OSError:
                continue
            if h["parent"]["held_here"]:
                return self.node(i, k)["api"]
        return None


def parent_member(doc, node):
    return [m for m in doc["parent"]["map"]["members"] if m["id"] == node][0]


class HierarchyTest(unittest.TestCase):
    def test_views_and_failures_at_both_levels(self):
        with Shape("3x3") as s:
            top = s.cluster(1)["nodes"][0]["api"]
            doc = hierarchy(top)
            self.assertTrue(doc["parent"]["held_here"])
            self.assertEqual([m["state"] for m in doc["parent"]["map"]["members"]], ["up"] * 3)
            wait_for(lambda: hierarchy(top)["parent"].get("aggregate", {}).get("members_up") == 9,
                     what="the parent's aggregate counts all 9 daemons up")
            # Any node shows where its cluster stands; a member names its supervisor.
            member = hierarchy(s.node(2, 3)["api"])
            self.assertFalse(member["parent"]["held_here"])
            self.assertEqual(member["parent"]["held_by"], s.cluster(2)["supervisor"])
            tree = cohort("members", "--tree", api=top).stdout
            self.assertIn("in parent cluster dev as node 1, held here", tree)
            self.assertIn("parent cluster: 9 of 9 up", tree)

            # A leaf dies: its cluster marks it; above, only the aggregate changes.
            s.kill(2, 3)
            wait_for(lambda: (parent_member(hierarchy(top), 2).get("aggregate") or {})
                     .get("members_up") == 2, what="the parent sees cluster 2 with 2 of 3 up")
            self.assertEqual(parent_member(hierarchy(top), 2)["state"], "up")

            # Cluster 3's supervisor dies: its successor takes node 3 over at the parent with
            # a newer incarnation; the parent never marks node 3 failed.
            before = parent_member(hierarchy(top), 3)["incarnation"]
            s.kill(3, s.cluster(3)["supervisor"])
            killed = time.monotonic()
            states = set()

            def taken_over():
                m = parent_member(hierarchy(top), 3)
                states.add(m["state"])
                return m["state"] == "up" and m["incarnation"] > before
            wait_for(taken_over, interval=0.02, what="node 3 taken over at the parent")
            print(f"node 3 taken over {time.monotonic() - killed:.2f} s after its holder died")
            self.assertEqual(states, {"up"})
            wait_for(lambda: hierarchy(top)["parent"].get("aggregate", {}).get("members_up") == 7,
                     what="the parent's aggregate counts 7 up")

            # The parent's own supervisor (cluster 1's) dies: the parent elects another, and
            # cluster 1's successor takes node 1 over. Seen from cluster 2's holder.
            before = parent_member(hierarchy(top), 1)["incarnation"]
            s.kill(1, 1)
            holder2 = wait_for(lambda: s.holder(2), what="cluster 2's holder")

            def recovered():
                h = hierarchy(holder2)
                m = parent_member(h, 1)
                return m["state"] == "up" and m["incarnation"] > before
            wait_for(recovered, timeout=30, what="node 1 back at the parent under a new holder")

            # A whole cluster dies: its node fails at the parent, and its daemons count as down.
            for k in (1, 2):
                if ours(s.node(2, k)["pid"], s.dir):
                    s.kill(2, k)
            holder1 = wait_for(lambda: s.holder(1, among=(2, 3)), what="cluster 1's holder")
            wait_for(lambda: parent_member(hierarchy(holder1), 2)["state"] == "failed",
                     timeout=30, what="node 2 failed at the parent")

            def counted():
                a = hierarchy(holder1)["parent"].get("aggregate", {})
                return a.get("members") == 9 and a.get("members_up") == 4
            wait_for(counted, timeout=30, what="the parent counts 9 daemons, 4 of them up")


if __name__ == "__main__":
    unittest.main()
