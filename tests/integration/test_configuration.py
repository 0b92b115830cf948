"""Integration tests of the configuration manager's node identities (issue 18; SPEC C2, C4,
C6, C8): three cohortd with the registry on 127.0.0.1, each with its own machine id file,
restarted as after a hardware change, undefined while away, cloned and impersonated."""
import json
import os
import re
import socket
import time
import unittest

from harness import DevCluster, cohort, cohort_json, restart, stop, wait_for, waiting_config

BASE = 19500  # transport 19501.., API 19601.., etcd client 19701.., etcd peer 19801..


def read(path):
    with open(path) as f:
        return f.read()


def audit_events(c, k):
    lines = read(os.path.join(c.dir, f"n{k}", "dcm", "logs", "audit.log")).splitlines()
    return [json.loads(line) for line in lines]


def local_definition(c, k):
    doc = json.loads(read(os.path.join(c.dir, f"n{k}", "dcm", "configuration", "local.json")))
    return next(cl for cl in doc["clusters"] if cl["id"] == doc["current"])


def etcd_up(c, k):
    """True while node k's etcd accepts connections on its client port."""
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", c.base_port + 200 + k)) == 0


def nodes(c, k=1):
    return {n["id"]: n for n in cohort_json("node", "list", api=c.api(k))["nodes"]}


def copy_config(c, k, number, uid_file, data_dir):
    """Node k's config turned into node `number`'s on ports of its own."""
    text = read(os.path.join(c.dir, f"n{k}", "node.toml"))
    text = re.sub(r"(?m)^id = \d+$", f"id = {number}", text, count=1)  # [node], not servers
    text = re.sub(r'(?m)^name = "n\d+"$', f'name = "n{number}"', text, count=1)
    text = re.sub(r'(?m)^data_dir = ".*"$', f'data_dir = "{data_dir}"', text)
    text = re.sub(r'(?m)^uid_file = ".*"$', f'uid_file = "{uid_file}"', text)
    text = text.replace(f":{c.base_port + k}\"", f":{c.base_port + 50 + number}\"")
    text = text.replace(f":{c.base_port + 100 + k}\"", f":{c.base_port + 150 + number}\"")
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, "node.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


class Identity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = DevCluster(3, BASE, adapters=1, registry=3).__enter__()
        cls.started = []  # daemons the tests started, nodes restarted among them

    @classmethod
    def tearDownClass(cls):
        for p in cls.started:
            stop(p)
        cls.c.__exit__(None, None, None)

    def tearDown(self):
        # Every test leaves the three nodes up and defined, and their registry servers up.
        wait_for(lambda: all(n["state"] == "up" for n in nodes(self.c).values())
                 and len(nodes(self.c)) == 3, timeout=30, what="nodes 1-3 up and defined")
        wait_for(lambda: all(etcd_up(self.c, k) for k in (1, 2, 3)), timeout=30,
                 what="the three registry servers")

    def stop_node(self, k):
        pid = int(read(os.path.join(self.c.dir, f"n{k}", "cohortd.pid")))
        ours = [p for p in self.started if p.pid == pid]
        if ours:
            stop(ours[0])
            self.started.remove(ours[0])
        else:  # started by `dev up`, whose PIDs the cluster reported
            self.assertIn(pid, [n["pid"] for n in self.c.info["nodes"]])
            os.kill(pid, 15)
        wait_for(lambda: nodes(self.c)[k]["state"] != "up", timeout=15,
                 what=f"node {k} to leave")

    def machine_id(self, k):
        return read(os.path.join(self.c.dir, f"n{k}", "machine-id")).strip()

    def test_each_node_is_defined_with_its_machine_id(self):
        listed = nodes(self.c)
        self.assertEqual(sorted(listed), [1, 2, 3])
        for k in (1, 2, 3):
            self.assertEqual(listed[k]["uid"], self.machine_id(k))
            self.assertEqual(local_definition(self.c, k)["uid"], self.machine_id(k))
            self.assertEqual(local_definition(self.c, k)["node"], k)
        clusters = cohort_json("cluster", "list", api=self.c.api(2))
        self.assertEqual(clusters["identity"], "settled")
        self.assertEqual([cl["state"] for cl in clusters["clusters"]], ["online"])
        for folder in ("locks", "logs", "core", "config"):
            self.assertTrue(os.path.isdir(os.path.join(
                self.c.dir, "n2", "clusters", clusters["current"], folder)))

    def test_a_clone_of_a_running_node_is_refused_naming_both(self):
        data = os.path.join(self.c.dir, "n4")
        config = copy_config(self.c, 3, 4, os.path.join(self.c.dir, "n2", "machine-id"), data)
        clone = restart(self.c, 3, config=config)
        self.started.append(clone)
        clone.wait(60)
        self.assertEqual(clone.returncode, 3)
        log = read(os.path.join(self.c.dir, "n3", "cohortd.log"))
        line = [x for x in log.splitlines() if x.startswith("error: node 4 refused")]
        self.assertTrue(line, log[-2000:])
        # Node 2 as the clone saw it: up in its map, or at its address before the map came.
        self.assertRegex(line[-1], r"is already node 2 \((up )?at 127\.0\.0\.1:%d\)" % (BASE + 2))
        self.assertIn("machine-id", line[-1])
        self.assertEqual(sorted(nodes(self.c)), [1, 2, 3])
        self.assertEqual(nodes(self.c)[2]["uid"], self.machine_id(2))

    def test_a_replaced_uid_corrects_local_and_global(self):
        old = self.machine_id(3)
        self.stop_node(3)
        with open(os.path.join(self.c.dir, "n3", "machine-id"), "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        self.started.append(restart(self.c, 3))
        wait_for(lambda: nodes(self.c)[3]["uid"] == "0123456789abcdef0123456789abcdef",
                 timeout=30, what="node 3's definition to follow its new uid")
        self.assertEqual(local_definition(self.c, 3)["uid"], "0123456789abcdef0123456789abcdef")
        # The audit line follows the registry write; if that write's answer was lost (a busy
        # machine), the node finds its new uid already global and cleans up and adopts instead.
        def recorded():
            return [e for e in audit_events(self.c, 3)
                    if e["event"] in ("node_uid_replaced", "node_definition_cleaned_up")
                    and e.get("previous_uid") == old] or None
        wait_for(recorded, timeout=10, what="the old uid in node 3's audit log")
        cluster = local_definition(self.c, 3)["id"]
        gone = cohort("registry", "get", f"/cohort/{cluster}/uids/{old}", api=self.c.api(1),
                      check=False)
        self.assertEqual(gone.returncode, 1, gone.stdout)

    def test_undefined_while_away_cleans_up_and_is_defined_again(self):
        refused = cohort("node", "undefine", "2", api=self.c.api(1), check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("node 2 is up", refused.stderr)
        self.stop_node(2)
        # Node 2 ran a registry server: a new leader may be needed first.
        out = wait_for(lambda: cohort("node", "undefine", "2", api=self.c.api(1), check=False)
                       .stdout or None, timeout=10, what="node 2 undefined")
        self.assertIn("node 2 undefined", out)
        # The registry may still be choosing a leader (node 2 ran a server): read until it can.
        wait_for(lambda: 2 not in nodes(self.c), timeout=10, what="node 2 gone from the list")
        self.started.append(restart(self.c, 2))
        wait_for(lambda: 2 in nodes(self.c) and nodes(self.c)[2]["state"] == "up", timeout=30,
                 what="node 2 defined again")
        events = [e["event"] for e in audit_events(self.c, 2)]
        self.assertIn("node_definition_cleaned_up", events)
        self.assertGreater(len(events) - events[::-1].index("node_defined"),
                           len(events) - events[::-1].index("node_definition_cleaned_up"))

    def test_another_machine_with_a_defined_number_is_refused(self):
        self.stop_node(3)
        data = os.path.join(self.c.dir, "impostor")
        os.makedirs(data, exist_ok=True)
        with open(os.path.join(data, "machine-id"), "w") as f:
            f.write("fedcba9876543210fedcba9876543210\n")
        config = copy_config(self.c, 3, 3, os.path.join(data, "machine-id"), data)
        impostor = restart(self.c, 3, config=config)
        self.started.append(impostor)
        impostor.wait(60)
        self.assertEqual(impostor.returncode, 3)
        log = read(os.path.join(self.c.dir, "n3", "cohortd.log"))
        self.assertIn("node number 3 is defined to another machine", log)
        self.assertIn("cohort node undefine 3", log)
        self.started.append(restart(self.c, 3))  # the real node 3 comes back as itself


    def test_a_registry_server_offline_and_online(self):
        """C6: offline stops a server with its data and membership kept, across a restart
        of its node; taking a second one offline is refused (no majority would be left)."""
        def servers():
            listed = cohort_json("registry", "server", "list", api=self.c.api(1))["servers"]
            return {s["id"]: s for s in listed}

        out = cohort("registry", "server", "offline", "3", api=self.c.api(1))
        self.assertIn("node 3's registry server is offline", out.stdout)
        self.assertFalse(etcd_up(self.c, 3))
        self.assertEqual(servers()[3]["health"], "offline")
        cohort("registry", "put", "/cfg/while-offline", "1", api=self.c.api(3))
        refused = cohort("registry", "server", "offline", "2", api=self.c.api(1), check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("would leave 1 of 3 servers answering", refused.stderr)
        # Still offline after its node restarts.
        self.stop_node(3)
        self.started.append(restart(self.c, 3))
        wait_for(lambda: nodes(self.c)[3]["state"] == "up", timeout=30, what="node 3 back")
        self.assertFalse(etcd_up(self.c, 3))
        out = cohort("registry", "server", "online", "3", api=self.c.api(2))
        self.assertIn("node 3's registry server is online", out.stdout)
        wait_for(lambda: cohort("registry", "get", "/cfg/while-offline", "--local",
                                api=self.c.api(3), check=False).stdout.strip() == "1",
                 timeout=20, what="node 3's server to catch up")
        # Node 1's client reconnects to it after its own backoff.
        wait_for(lambda: servers()[3]["health"] == "ok", timeout=20,
                 what="node 3's server healthy in node 1's list")
        events = [e["event"] for e in audit_events(self.c, 3)]
        self.assertIn("registry_server_offline", events)
        self.assertIn("registry_server_online", events)




class Definition(unittest.TestCase):
    """C7: a node with no [cluster] waits to be defined, is defined by a member over the
    join-token channel and starts in the cluster; undefined while away, it waits again."""

    @classmethod
    def setUpClass(cls):
        cls.c = DevCluster(3, BASE + 20, adapters=1, registry=3).__enter__()
        cls.dir = os.path.join(cls.c.dir, "n4")
        os.makedirs(cls.dir)
        with open(os.path.join(cls.dir, "machine-id"), "w") as f:
            f.write("abcdef0123456789abcdef0123456789\n")
        cls.config = os.path.join(cls.dir, "node.toml")
        cls.api = f"127.0.0.1:{BASE + 130}"
        with open(cls.config, "w") as f:
            f.write(waiting_config(cls.dir, BASE + 30, BASE + 130))
        cls.waiting = restart(cls.c, 4, config=cls.config)

    @classmethod
    def tearDownClass(cls):
        stop(cls.waiting)
        cls.c.__exit__(None, None, None)

    def token(self):
        return cohort("join-token", "--token-file", os.path.join(self.dir, "api.token"),
                      api=self.api).stdout.strip()

    def members(self):
        return {m["id"]: m["state"]
                for m in cohort_json("members", api=self.c.api(1))["members"]}

    def test_a_waiting_node_is_defined_and_starts_in_the_cluster(self):
        wait_for(lambda: cohort_json("status", api=self.api)["role"] == "undefined",
                 timeout=10, what="the waiting node's API")
        self.assertEqual(cohort_json("cluster", "list", api=self.api)["clusters"], [])
        refused = cohort("registry", "status", api=self.api, check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("waits to be defined", refused.stderr)

        wrong = cohort("node", "define", self.api, "--join-token", "0" * 64,
                       api=self.c.api(1), check=False)
        self.assertEqual(wrong.returncode, 1)
        self.assertIn("no join token", wrong.stderr)
        token = self.token()
        wrong = cohort("node", "define", self.api, "--join-token", "1" * 64,
                       api=self.c.api(1), check=False)
        self.assertIn("does not open with this key", wrong.stderr)
        self.assertEqual(sorted(nodes(self.c)), [1, 2, 3])

        t0 = time.monotonic()
        out = cohort("node", "define", self.api, "--join-token", token, "--name", "edge",
                     api=self.c.api(1))
        self.assertIn("node 4 (edge", out.stdout)
        wait_for(lambda: self.members().get(4) == "up", timeout=10, what="node 4 up")
        print(f"\n  define to up on node 1: {time.monotonic() - t0:.2f} s", end=" ")
        listed = nodes(self.c)[4]
        self.assertEqual(listed["uid"], "abcdef0123456789abcdef0123456789")
        self.assertFalse(listed["pending"])
        local = json.loads(read(os.path.join(self.dir, "dcm", "configuration", "local.json")))
        self.assertEqual(local["clusters"][0]["node"], 4)
        key = os.path.join(self.dir, "clusters", local["current"], "config", "cluster.key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "dcm", "join.token")))
        # The token was used up: it does not define the node a second time.
        again = cohort("node", "define", self.api, "--join-token", token, api=self.c.api(1),
                       check=False)
        self.assertEqual(again.returncode, 1)

        # Undefined while it is away, it cleans up and waits to be defined again.
        stop(self.waiting)
        wait_for(lambda: self.members().get(4) != "up", timeout=15, what="node 4 to leave")
        cohort("node", "undefine", "4", api=self.c.api(2))
        type(self).waiting = restart(self.c, 4, config=self.config)
        wait_for(lambda: cohort_json("status", api=self.api).get("role")
                 == "undefined", timeout=20, what="node 4 waiting again")
        events = [e["event"] for e in
                  (json.loads(x) for x in read(os.path.join(
                      self.dir, "dcm", "logs", "audit.log")).splitlines())]
        self.assertIn("node_definition_cleaned_up", events)
        self.assertIn("node_refused", events)


if __name__ == "__main__":
    unittest.main()
