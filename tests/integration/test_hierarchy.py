"""Integration tests of the hierarchy (M14) with real daemons on 127.0.0.1. `cohort dev up
--shape 3x3` runs three clusters of three daemons, each cluster one node of a parent cluster;
one run walks through a leaf's death, a cluster supervisor's death (its successor takes the
node over at the parent: a new incarnation, never a failure), the death of the parent's own
supervisor, and a whole cluster's death, checking the views at both levels. `--shape 2x2x2`
nests two such parents under a root: a leaf's death reaches the root's figures, the death
of the daemon that holds a node at every level is a change of holder at the root, not a
failure, and a whole parent's death is a failure there. Along the way, commands addressed
to a node in another branch (`cohort --node PATH`) are relayed to it through the holders."""
import json
import os
import signal
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import DevCluster, cohort, cohort_json, ours, wait_for

# this file's ports (one shape at a time): transport 23801-23809, API 23901-23909, parent
# 24201-24209, root 24301-24308; the parent defined at run time: two clusters at 24401-24412
# (API 24501-24512), their parent level at 24601-24604
BASE = 23800


def hierarchy(api):
    with urllib.request.urlopen(f"http://{api}/v1/hierarchy", timeout=5) as r:
        return json.load(r)


class Shape:
    """`cohort dev up --shape` in a temporary folder, stopped by `dev down` and, failing that,
    by the PIDs it reported."""

    def __init__(self, shape, level_factor=8):
        self.tmp = tempfile.TemporaryDirectory(prefix="cohort-it-shape-")
        self.dir = self.tmp.name
        self.shape = shape
        self.level_factor = level_factor
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
                                # with 8, the parent notices a silent node after about 3 s:
                                # margin over a takeover (about 0.5 s) under sanitizers
                                "--level-factor", str(self.level_factor),
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

    def apis(self):
        return [n["api"] for c in self.info["clusters"] for n in c["nodes"]
                if ours(n["pid"], self.dir)]

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


def path_of(api):
    """The node's path from the root: its ids at every level, root first."""
    doc = hierarchy(api)
    ids, level = [doc["cluster"]["node"]], doc.get("parent")
    while level:
        ids.insert(0, level["node"])
        level = level.get("parent")
    return "/".join(map(str, ids))


def token_of(api):
    with urllib.request.urlopen(f"http://{api}/v1/status", timeout=5) as r:
        data_dir = json.load(r)["data_dir"]
    with open(os.path.join(data_dir, "api.token")) as f:
        return f.read().strip()


def relayed_change(api, node, token):
    """A change asked of `api` for node `node`: the status of the answer."""
    req = urllib.request.Request(f"http://{api}/v1/no-such-change", data=b"{}", method="POST",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Cohort-Node": node})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


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
            # ... and shows the parent as its supervisor sent it down.
            wait_for(lambda: (hierarchy(s.node(2, 3)["api"])["parent"].get("aggregate") or {})
                     .get("members_up") == 9, what="a member shows the parent's figures")
            tree = cohort("members", "--tree", api=top).stdout
            self.assertIn("in parent cluster dev as node 1, held here", tree)
            self.assertIn("parent cluster: 9 of 9 up", tree)

            # A member of cluster 1 reaches node 3 of cluster 2 through the holders; the
            # target answers for itself, and checks a change against its own token.
            asker, target = s.node(1, 2)["api"], path_of(s.node(2, 3)["api"])
            self.assertEqual(target, f"{hierarchy(s.node(2, 3)['api'])['parent']['node']}/3")
            st = cohort_json("--node", target, "status", api=asker)
            self.assertEqual((st["cluster"], st["node"]["id"]), ("dev-c2", 3))
            self.assertEqual(relayed_change(asker, target, token_of(asker)), 401)
            self.assertEqual(relayed_change(asker, target, token_of(s.node(2, 3)["api"])), 404)
            # The CLI sends no token of its own choosing to another node, and does not move
            # a node by its path.
            put = cohort("--node", target, "registry", "put", "k", "v", api=asker, check=False)
            self.assertIn(f"a change for node {target} needs that node's API token", put.stderr)
            moved = cohort("--node", target, "cluster", "parent", "clear", api=asker, check=False)
            self.assertEqual(moved.returncode, 2)
            self.assertIn("its path changes", moved.stderr)

            # A leaf dies: its cluster marks it; above, only the aggregate changes.
            s.kill(2, 3)
            wait_for(lambda: (parent_member(hierarchy(top), 2).get("aggregate") or {})
                     .get("members_up") == 2, what="the parent sees cluster 2 with 2 of 3 up")
            self.assertEqual(parent_member(hierarchy(top), 2)["state"], "up")
            # A command for the dead node says it is unreachable, naming where.
            gone = cohort("--node", target, "status", api=asker, check=False, timeout=30)
            self.assertNotEqual(gone.returncode, 0)
            self.assertIn(f"node {target} is unreachable: no member 3 is up", gone.stderr)

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



def root_member(doc, node):
    return [m for m in doc["parent"]["parent"]["map"]["members"] if m["id"] == node][0]


class ThreeLevelTest(unittest.TestCase):
    def root_holders(self, s):
        """The APIs of the daemons that hold a node in the root, by that node's id."""
        found = {}
        for api in s.apis():
            try:
                h = hierarchy(api)
            except OSError:
                continue
            if h["parent"]["parent"]["held_here"]:
                found[h["parent"]["parent"]["node"]] = api
        return found

    def test_views_and_failures_at_three_levels(self):
        # Level factor 5: a parent notices a silent node after about 1.5 s, the root after
        # about 7.5 s, well after a parent has re-elected and its node is taken over.
        with Shape("2x2x2", level_factor=5) as s:
            levels = s.info["levels"]
            self.assertEqual([[x["name"] for x in level] for level in levels],
                             [["dev-p1", "dev-p2"], ["dev"]])
            holders = wait_for(lambda: len(self.root_holders(s)) == 2 and self.root_holders(s),
                               what="two holders of the root's nodes")
            top = holders[levels[1][0]["supervisor"]]
            wait_for(lambda: hierarchy(top)["parent"]["parent"].get("aggregate", {})
                     .get("members_up") == 8, what="the root counts all 8 daemons up")
            tree = cohort("members", "--tree", api=top).stdout
            self.assertIn("its parent cluster dev as node", tree)
            self.assertIn("cluster dev: 8 of 8 up", tree)
            # A leaf's node, not holding anything, still names every level above it.
            leaf = [n["api"] for n in s.cluster(4)["nodes"]
                    if n["id"] != s.cluster(4)["supervisor"]][0]
            doc = hierarchy(leaf)
            self.assertEqual((doc["parent"]["name"], doc["parent"]["parent"]["name"]),
                             ("dev-p2", "dev"))
            self.assertFalse(doc["parent"]["held_here"])
            # Its supervisor sends it the levels above: it shows the whole path to the root.
            wait_for(lambda: hierarchy(leaf)["parent"]["parent"].get("aggregate", {})
                     .get("members_up") == 8, what="a leaf shows the root's figures")
            root = hierarchy(leaf)["parent"]["parent"]
            self.assertTrue(root["sent_down"])
            self.assertEqual([m["state"] for m in root["map"]["members"]], ["up", "up"])
            tree = cohort("members", "--tree", api=leaf).stdout
            self.assertIn("its parent cluster dev as node 2, not held here; as sent down", tree)
            self.assertIn("cluster dev: 8 of 8 up", tree)
            far = [n["api"] for n in s.cluster(1)["nodes"]
                   if n["id"] != s.cluster(1)["supervisor"]][0]
            # A plain member of group 2 reaches one of group 1: up two levels, down two.
            st = cohort_json("--node", path_of(far), "status", api=leaf)
            self.assertEqual((st["cluster"], st["node"]["id"]),
                             (hierarchy(far)["cluster"]["name"], hierarchy(far)["cluster"]["node"]))
            self.assertEqual(len(path_of(far).split("/")), 3)

            # A leaf dies in cluster 3: two levels up, the root's figures change.
            s.kill(3, [n["id"] for n in s.cluster(3)["nodes"]
                       if n["id"] != s.cluster(3)["supervisor"]][0])
            wait_for(lambda: hierarchy(top)["parent"]["parent"].get("aggregate", {})
                     .get("members_up") == 7, what="the root counts 7 daemons up")
            # ... and back down the other branch, a leaf of cluster 1 sees it.
            wait_for(lambda: hierarchy(far)["parent"]["parent"].get("aggregate", {})
                     .get("members_up") == 7, what="a leaf of cluster 1 sees 7 up at the root")
            # The supervisor tables per level at that plain member: its parent's nodes (its
            # own branch) all up, and at the root the other branch's node with 3 of 4 up.
            def level_rows(depth):
                t = cohort_json("tables", api=far)["levels"][depth - 1]
                return {m["id"]: m["aggregate"] for m in t["members"]}, t
            rows, parent = level_rows(1)
            self.assertEqual(parent["name"], "dev-p1")
            self.assertEqual([(a["members_up"], a["members"]) for a in rows.values()],
                             [(2, 2), (2, 2)])
            rows, root = level_rows(2)
            self.assertEqual((root["name"], root["aggregate"]["members_up"]), ("dev", 7))
            self.assertEqual(sorted((a["members_up"], a["members"]) for a in rows.values()),
                             [(3, 4), (4, 4)])
            text = cohort("tables", api=far).stdout
            self.assertIn("LEVEL 2: dev (", text)
            self.assertIn("total: 7 of 8 up", text)
            self.assertRegex(text, r"(?m)^\d +up +3/4 ")

            # The daemon holding group 1's node at the root dies (it supervises its cluster
            # and its parent): the successors take the node over at every level; the root
            # sees a newer incarnation of node 1, never node 1 failed.
            other = holders[2]
            before = root_member(hierarchy(other), 1)["incarnation"]
            victim = holders[1]
            pid = [n["pid"] for c in s.info["clusters"] for n in c["nodes"] if n["api"] == victim][0]
            self.assertTrue(ours(pid, s.dir))
            os.kill(pid, signal.SIGKILL)
            failed_seen = []

            def taken_over():
                # The other group's holder may itself become the root's supervisor.
                h = hierarchy(other)
                if not h["parent"]["parent"]["held_here"] or "map" not in h["parent"]["parent"]:
                    return False
                m = root_member(h, 1)
                if m["state"] == "failed":
                    failed_seen.append(m)
                return m["state"] == "up" and m["incarnation"] > before
            wait_for(taken_over, timeout=30, interval=0.02, what="node 1 taken over at the root")
            self.assertEqual(failed_seen, [], "the root marked a taken-over node failed")

            # Cluster 3 dies whole: group 2's node stays up at the root (cluster 4's holder
            # supervises the parent now), its figures count cluster 3's daemons down.
            for n in s.cluster(3)["nodes"]:
                if ours(n["pid"], s.dir):
                    os.kill(n["pid"], signal.SIGKILL)
            holder1 = wait_for(lambda: self.root_holders(s).get(1), what="group 1's new holder")

            def group2(up):
                m = root_member(hierarchy(holder1), 2)
                return m["state"] == "up" and (m.get("aggregate") or {}).get("members_up") == up
            wait_for(lambda: group2(2), timeout=40, what="group 2 at the root: 2 of 4 up")
            # A leaf of cluster 4 dies: its supervisor, alone in its parent now, still sends
            # the change up.
            s.kill(4, [n["id"] for n in s.cluster(4)["nodes"]
                       if n["id"] != s.cluster(4)["supervisor"]][0])
            wait_for(lambda: group2(1), timeout=20, what="group 2 at the root: 1 of 4 up")

            # The last daemon of group 2 dies: its node fails at the root.
            for n in s.cluster(4)["nodes"]:
                if ours(n["pid"], s.dir):
                    os.kill(n["pid"], signal.SIGKILL)
            wait_for(lambda: root_member(hierarchy(holder1), 2)["state"] == "failed",
                     timeout=40, what="node 2 failed at the root")

            def counted():
                a = hierarchy(holder1)["parent"]["parent"].get("aggregate", {})
                return a.get("members") == 8 and a.get("members_up") == 3
            wait_for(counted, timeout=30, what="the root counts 8 daemons, 3 of them up")


class RunTimeParentTest(unittest.TestCase):
    """Two flat clusters become the two nodes of a parent cluster by `cohort cluster parent
    set` on each daemon, and flat again by `clear`: no file edited, no daemon restarted by
    hand."""

    def test_parent_defined_and_forgotten_at_run_time(self):
        with DevCluster(2, 24400, adapters=1, name="east") as east, \
                DevCluster(2, 24410, adapters=1, name="west") as west, \
                tempfile.TemporaryDirectory(prefix="cohort-it-parent-") as tmp:
            key = os.path.join(tmp, "top.key")
            with open(key, "w") as f:
                f.write(cohort("keygen").stdout)
            listens = {(c, k): f"127.0.0.1:{24600 + 2 * i + k}"
                       for i, c in enumerate((east, west)) for k in (1, 2)}
            seeds = ", ".join(f'"{a}"' for a in listens.values())

            def definition(cluster, k, listen=None):
                path = os.path.join(tmp, f"{cluster.name}-{k}.toml")
                with open(path, "w") as f:
                    f.write(f'[cluster.parent]\nid = {1 if cluster is east else 2}\n'
                            f'name = "top"\nkey_file = "{key}"\n'
                            f'listen = "{listen or listens[(cluster, k)]}"\n'
                            f'seeds = [{seeds}]\nlevel_factor = 3\n')
                return path

            # A bad definition is refused, naming what is wrong; nothing is kept.
            bad = cohort("cluster", "parent", "set",
                         definition(east, 1, listen=east.transport(1)), api=east.api(1),
                         check=False)
            self.assertEqual(bad.returncode, 1)
            self.assertIn("must differ from the node's transport.listen", bad.stderr)
            self.assertEqual(cohort_json("cluster", "parent", "show", api=east.api(1))["defined"],
                             "none")

            for c in (east, west):
                for k in (1, 2):
                    cohort("cluster", "parent", "set", definition(c, k), api=c.api(k),
                           timeout=90)
            shown = cohort_json("cluster", "parent", "show", api=west.api(2))
            self.assertEqual((shown["defined"], shown["levels"][0]["id"],
                              shown["levels"][0]["listen"]), ("run-time", 2, listens[(west, 2)]))

            def parent_of(api):
                return (hierarchy(api)["parent"] or {}).get("aggregate") or {}
            wait_for(lambda: any(parent_of(c.api(k)).get("members_up") == 4
                                 for c in (east, west) for k in (1, 2)),
                     timeout=60, what="the parent level counts the 4 daemons of both clusters")
            # The clusters are one tree now: east's node 2 reaches west's node 2.
            st = cohort_json("--node", "2/2", "status", api=east.api(2))
            self.assertEqual((st["cluster"], st["node"]["id"]), ("west", 2))

            for c in (east, west):
                for k in (1, 2):
                    cohort("cluster", "parent", "clear", api=c.api(k), timeout=90)
            self.assertEqual(cohort_json("cluster", "parent", "show", api=east.api(1))["defined"],
                             "none")
            self.assertIsNone(hierarchy(east.api(1))["parent"])
            again = cohort("cluster", "parent", "clear", api=east.api(1), check=False)
            self.assertIn("no parent was defined at run time", again.stderr)


if __name__ == "__main__":
    unittest.main()
