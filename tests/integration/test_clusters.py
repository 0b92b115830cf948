"""Integration tests of clusters defined and moved at run time (issue 18; SPEC C3, C10):
three cohortd with no [cluster] form a cluster with define/online commands only, and a node
of one dev cluster moves to another and back, and returns when the target is down."""
import json
import os
import subprocess
import tempfile
import time
import unittest

from harness import COHORTD, DevCluster, cohort, cohort_json, stop, wait_for, waiting_config

BASE = 20100  # formation: transport 20101.., API 20201.., etcd 20301/20401; moves: 20500.., 21000..

# Fast registry timings, as `dev up` writes them.
TIMINGS = "\n[registry]\nheartbeat_ms = 30\nelection_ms = 300\n"


def read_json(path):
    with open(path) as f:
        return json.load(f)


def audit_log(data_dir):
    with open(os.path.join(data_dir, "dcm", "logs", "audit.log")) as f:
        return [json.loads(line) for line in f]


def audit_events(data_dir):
    return [e["event"] for e in audit_log(data_dir)]


def members(api):
    return {m["id"]: m["state"] for m in cohort_json("members", api=api)["members"]}


def token_of(data_dir, api):
    return cohort("join-token", "--token-file", os.path.join(data_dir, "api.token"),
                  api=api).stdout.strip()


class Waiting:
    """A cohortd with no [cluster]; the test ends it by its PID."""

    def __init__(self, root, k):
        self.dir = os.path.join(root, f"n{k}")
        self.api = f"127.0.0.1:{BASE + 100 + k}"
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "machine-id"), "w") as f:
            f.write(f"{k:032x}\n")
        self.config = os.path.join(self.dir, "node.toml")
        with open(self.config, "w") as f:
            f.write(waiting_config(self.dir, BASE + k, BASE + 100 + k, number=k, extra=TIMINGS))
        self.proc = self.start()

    def start(self):
        with open(os.path.join(self.dir, "cohortd.log"), "a") as log:
            return subprocess.Popen([COHORTD, "--config", self.config], stdout=log,
                                    stderr=subprocess.STDOUT)

    def cli(self, *args, check=True):
        return cohort(*args, "--token-file", os.path.join(self.dir, "api.token"), api=self.api,
                      check=check)

    def cli_json(self, *args):
        return json.loads(self.cli(*args, "--json").stdout)


class Formation(unittest.TestCase):
    """C3: a cluster of three formed with `cluster define`, `cluster online`, `join-token` and
    `node define` only; a node taken offline waits (across a restart) until online again."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cohort-it-")
        self.dir = self.tmp.name
        self.nodes = {k: Waiting(self.dir, k) for k in (1, 2, 3)}

    def tearDown(self):
        for n in self.nodes.values():
            stop(n.proc)
        self.tmp.cleanup()

    def test_three_waiting_nodes_form_a_cluster_with_commands_only(self):
        n1, n2, n3 = self.nodes[1], self.nodes[2], self.nodes[3]
        wait_for(lambda: cohort_json("status", api=n1.api)["role"] == "undefined", timeout=10,
                 what="node 1's API")
        bad = n1.cli("cluster", "define", "no spaces", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("cluster name", bad.stderr)
        defined = n1.cli_json("cluster", "define", "media", "--registry-client",
                              f"127.0.0.1:{BASE + 201}", "--registry-peer",
                              f"127.0.0.1:{BASE + 301}")
        self.assertFalse(defined["restart"])
        listed = cohort_json("cluster", "list", api=n1.api)["clusters"]
        self.assertEqual([(c["name"], c["state"]) for c in listed], [("media", "offline")])
        self.assertEqual(listed[0]["id"], defined["cluster_id"])
        again = n1.cli("cluster", "define", "media", check=False)
        self.assertIn("already defined", again.stderr)

        t0 = time.monotonic()
        online = n1.cli_json("cluster", "online", "media")
        self.assertEqual(online["cluster_id"], defined["cluster_id"])
        print(f"\n  define → online (one node, its etcd): {time.monotonic() - t0:.2f} s", end=" ")
        wait_for(lambda: cohort_json("node", "list", api=n1.api)["nodes"], timeout=20,
                 what="node 1's own definition in the registry")

        for n in (n2, n3):
            out = cohort("node", "define", n.api, "--join-token", token_of(n.dir, n.api),
                         "--token-file", os.path.join(n1.dir, "api.token"), api=n1.api)
            self.assertIn("defined", out.stdout)
        wait_for(lambda: members(n1.api) == {1: "up", 2: "up", 3: "up"}, timeout=20,
                 what="three members up")
        # Node 3's registry client reaches the leader a moment after it joined.
        wait_for(lambda: sorted(n["id"] for n in cohort_json("node", "list", api=n3.api)["nodes"])
                 == [1, 2, 3], timeout=20, what="node 3 listing the three nodes")

        # Node 3 taken offline from node 1: it leaves and waits, across a restart too, until
        # node 1 brings it online again (sealed under the cluster's key, to its API).
        n1.cli("node", "offline", "3")
        wait_for(lambda: cohort_json("status", api=n3.api)["role"] == "offline", timeout=10,
                 what="node 3 offline")
        self.assertNotEqual(members(n1.api).get(3), "up")
        stop(n3.proc)
        n3.proc = n3.start()
        wait_for(lambda: cohort_json("status", api=n3.api)["role"] == "offline", timeout=10,
                 what="node 3 offline after its restart")
        back = n1.cli_json("node", "online", "3")
        self.assertIn("starts in cluster media", back["message"])
        self.assertEqual(members(n1.api).get(3), "up")
        self.assertIn("node_control_online", audit_events(n3.dir))
        # Every operation is in the audit log with who asked and how it went (C2).
        asked = [e for e in audit_log(n1.dir) if e["event"] == "request"]
        self.assertIn(("POST /v1/nodes/3/offline", "ok"),
                      [(e["op"], e["outcome"]) for e in asked])
        self.assertTrue(all(e["by"].startswith("API client 127.0.0.1:") for e in asked))
        founded = next(e for e in audit_log(n1.dir) if e["event"] == "cluster_defined_here")
        self.assertTrue(founded["by"].startswith("API client 127.0.0.1:"))

        # Node 2 renamed from node 1; the name holds after node 2 goes offline and online
        # by its own commands (it takes the registry's name up).
        n1.cli("node", "modify", "2", "--name", "edge")
        n2.cli("cluster", "offline", "media")
        again = n2.cli_json("cluster", "online", "media")
        self.assertEqual(again["node"], 2)
        wait_for(lambda: members(n1.api).get(2) == "up", timeout=15, what="node 2 up again")
        listed = {n["id"]: n["name"] for n in cohort_json("node", "list", api=n1.api)["nodes"]}
        self.assertEqual(listed[2], "edge")

        # Node 3 leaves by its own command and forgets the cluster.
        n3.cli("cluster", "offline", "media")
        refused = n1.cli("node", "offline", "3", check=False)
        self.assertIn("not online", refused.stderr)
        n3.cli("cluster", "undefine", "media")
        self.assertEqual(cohort_json("cluster", "list", api=n3.api)["clusters"], [])
        events = audit_events(n3.dir)
        for e in ("define_commit", "cluster_offline", "cluster_undefined_here"):
            self.assertIn(e, events)


class Move(unittest.TestCase):
    """C10: a node of cluster staging, defined to prod too, moves there and back in seconds,
    and a move to prod with all of prod's nodes down returns it to staging."""

    @classmethod
    def setUpClass(cls):
        cls.a = DevCluster(3, BASE + 400, adapters=1, registry=2, name="staging").__enter__()
        try:
            cls.b = DevCluster(2, BASE + 900, adapters=1, registry=1, name="prod").__enter__()
        except Exception:
            cls.a.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.b.__exit__(None, None, None)
        cls.a.__exit__(None, None, None)

    def node3(self, *args, check=True):
        return cohort(*args, "--token-file", os.path.join(self.a.dir, "n3", "api.token"),
                      api=self.a.api(3), check=check)

    def test_1_a_node_moves_there_and_back(self):
        a, b = self.a, self.b
        wait_for(lambda: cohort_json("cluster", "list", api=a.api(3))["current"], timeout=20,
                 what="node 3's cluster id")
        token = self.node3("join-token").stdout.strip()
        out = cohort("node", "define", a.api(3), "--join-token", token,
                     "--token-file", os.path.join(b.dir, "n1", "api.token"), api=b.api(1))
        self.assertIn("node 3", out.stdout)
        clusters = {c["name"]: c for c in cohort_json("cluster", "list",
                                                      api=a.api(3))["clusters"]}
        self.assertEqual(clusters["staging"]["state"], "online")
        self.assertEqual(clusters["prod"]["state"], "offline")
        self.assertEqual(members(a.api(1)).get(3), "up")  # still in staging

        refused = cohort("cluster", "move", "prod", "--token-file",
                         os.path.join(a.dir, "n1", "api.token"), api=a.api(1), check=False)
        self.assertEqual(refused.returncode, 1)  # node 1 is not defined to prod
        self.assertIn("it has staging", refused.stderr)

        moved = json.loads(self.node3("cluster", "move", "prod", "--json").stdout)
        self.assertTrue(moved["moved"], moved)
        self.assertEqual(moved["cluster"], "prod")
        print(f"\n  move to prod: {moved['elapsed_ms']} ms", end=" ")
        wait_for(lambda: members(b.api(1)).get(3) == "up", timeout=10, what="node 3 up in prod")
        wait_for(lambda: members(a.api(1)).get(3) in ("left", "failed"), timeout=10,
                 what="node 3 gone from staging")
        self.assertEqual(cohort_json("status", api=a.api(3))["cluster"], "prod")

        back = json.loads(self.node3("cluster", "move", "staging", "--json").stdout)
        self.assertTrue(back["moved"], back)
        print(f"back: {back['elapsed_ms']} ms", end=" ")
        wait_for(lambda: members(a.api(1)).get(3) == "up", timeout=10,
                 what="node 3 up in staging again")
        events = audit_events(os.path.join(a.dir, "n3"))
        self.assertEqual(events.count("cluster_moved"), 2)

    def test_2_a_move_to_a_cluster_that_is_down_returns(self):
        a, b = self.a, self.b
        wait_for(lambda: members(a.api(1)).get(3) == "up", timeout=20, what="node 3 in staging")
        cohort("dev", "down", "--dir", b.dir)
        moved = json.loads(self.node3("cluster", "move", "prod", "--deadline-ms", "1500",
                                      "--json").stdout)
        self.assertFalse(moved["moved"], moved)
        self.assertEqual(moved["cluster"], "staging")
        print(f"\n  move to a cluster that is down, back in: {moved['elapsed_ms']} ms", end=" ")
        wait_for(lambda: members(a.api(1)).get(3) == "up", timeout=10,
                 what="node 3 up in staging")
        self.assertIn("cluster_move_reverted", audit_events(os.path.join(a.dir, "n3")))


if __name__ == "__main__":
    unittest.main()
