"""Integration tests of the System Registry (issue 4): three cohortd, each running an etcd
member under its configuration manager, on 127.0.0.1."""
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from harness import (COHORT, DevCluster, cohort, cohort_json, metrics, restart, stop,
                     wait_for)

BASE = 17900  # transport 17901.., API 18001.., etcd client 18101.., etcd peer 18201..


def etcd_up(c, k):
    """True while node k's etcd accepts connections on its client port."""
    import socket
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", c.base_port + 200 + k)) == 0


def status(c, k):
    return cohort_json("registry", "status", api=c.api(k))


def agreed_leader(c, nodes):
    """The registry leader once every node in `nodes` names the same one."""
    def agreed():
        seen = {status(c, k)["leader"] for k in nodes}
        return seen.pop() if len(seen) == 1 and None not in seen else None
    # Generous: under four writers on a 2-core machine a restarted member can take a while.
    return wait_for(agreed, timeout=30, what=f"nodes {nodes} to agree on the registry leader")


def token(c, k):
    with open(os.path.join(c.dir, f"n{k}", "api.token")) as f:
        return f.read().strip()


def put(c, k, key, value, tok, timeout=5):
    """One write through node k's API; True once it is acknowledged (committed)."""
    req = urllib.request.Request(
        f"http://{c.api(k)}/v1/registry/kv?key={urllib.parse.quote(key)}",
        data=json.dumps({"value": value}).encode(), method="PUT",
        headers={"Authorization": f"Bearer {tok}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def etcdctl(c, k, *args, creds=True, scheme="https"):
    """etcdctl straight at node k's etcd, with node k's registry credentials or without."""
    tls = os.path.join(c.dir, f"n{k}", "registry", "tls")
    cmd = ["etcdctl", f"--endpoints={scheme}://127.0.0.1:{c.base_port + 200 + k}",
           "--dial-timeout=1s", "--command-timeout=2s"]
    if creds:
        cmd += [f"--cacert={tls}/ca.pem", f"--cert={tls}/node.pem", f"--key={tls}/node.key"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30)


class Registry(unittest.TestCase):
    def test_put_get_list_watch_and_schema(self):
        with DevCluster(3, BASE, adapters=1, registry=3) as c:
            s = status(c, 1)
            self.assertEqual(s["phase"], "read-write")
            self.assertEqual(sorted(s["servers"]), [1, 2, 3])
            self.assertIn(s["leader"], (1, 2, 3))
            self.assertGreaterEqual(s["term"], 1)
            cluster_id = s["cluster_id"]
            self.assertEqual({status(c, k)["cluster_id"] for k in (1, 2, 3)}, {cluster_id})
            self.assertEqual(metrics(c.api(2))["cohort_registry_has_leader"], 1)

            # A watcher on node 3 sees the writes made through node 1 and node 2, in order. It
            # starts at the next revision, so it misses nothing however late it starts.
            rev = cohort_json("registry", "put", "/probe", "x", api=c.api(1))["revision"]
            watcher = subprocess.Popen(
                [COHORT, "--api", c.api(3), "--json", "registry", "watch", "/app/", "--count",
                 "3", "--index", str(rev + 1)], stdout=subprocess.PIPE, text=True)
            cohort("registry", "put", "/app/a", "1", api=c.api(1))
            cohort("registry", "put", "/app/b", "2", api=c.api(2))
            cohort("registry", "del", "/app/a", api=c.api(1))
            out, _ = watcher.communicate(timeout=30)
            events = [json.loads(line) for line in out.splitlines()]
            self.assertEqual([(e["type"], e["key"]) for e in events],
                             [("put", "/app/a"), ("put", "/app/b"), ("delete", "/app/a")])
            self.assertLess(events[0]["revision"], events[1]["revision"])

            # The streaming watch: one JSON line per change, from a revision.
            stream = urllib.request.urlopen(
                f"http://{c.api(2)}/v1/registry/watch?prefix=/app/&stream=1"
                f"&index={events[0]['revision']}", timeout=10)
            self.assertEqual(stream.headers["Content-Type"], "application/x-ndjson")
            replayed = [json.loads(stream.readline()) for _ in range(3)]
            self.assertEqual([e["revision"] for e in replayed], [e["revision"] for e in events])
            cohort("registry", "put", "/app/c", "3", api=c.api(1))
            live = json.loads(stream.readline())
            self.assertEqual((live["type"], live["key"], live["value"]), ("put", "/app/c", "3"))
            stream.close()
            cohort("registry", "del", "/app/c", api=c.api(1))

            got = cohort_json("registry", "get", "/app/b", api=c.api(3))
            self.assertEqual((got["key"], got["value"]), ("/app/b", "2"))
            self.assertGreater(got["revision"], 0)
            missing = cohort("registry", "get", "/app/a", api=c.api(3), check=False)
            self.assertEqual(missing.returncode, 1)
            self.assertIn("no such key", missing.stderr)
            items = cohort_json("registry", "list", "/app/", api=c.api(2))["items"]
            self.assertEqual([i["key"] for i in items], ["/app/b"])

            # The schema: cluster definition, each node's definition and addresses, the
            # registry server list and the map the supervisor published.
            prefix = f"/cohort/{cluster_id}/"
            keys = wait_for(lambda: (lambda ks: ks if f"{prefix}map" in ks else None)(
                {i["key"] for i in cohort_json("registry", "list", prefix, api=c.api(1))
                 ["items"]}), timeout=10, what="the published map")
            for k in (1, 2, 3):
                self.assertIn(f"{prefix}nodes/{k}", keys)
                self.assertIn(f"{prefix}addresses/{k}", keys)
            self.assertIn(f"{prefix}registry/servers", keys)
            # C11: node address definitions, each with its own uid and its node's number.
            uids = set()
            for k in (1, 2, 3):
                doc = json.loads(cohort_json("registry", "get", f"{prefix}addresses/{k}",
                                             api=c.api(1))["value"])
                for a in doc["addresses"]:
                    self.assertEqual(a["node"], k)
                    self.assertRegex(a["uid"], "^[0-9a-f]{16}$")
                    self.assertIn("mask", a)
                    uids.add(a["uid"])
            self.assertEqual(len(uids), sum(
                len(json.loads(cohort_json("registry", "get", f"{prefix}addresses/{k}",
                                           api=c.api(1))["value"])["addresses"])
                for k in (1, 2, 3)))
            cluster_map = json.loads(cohort_json("registry", "get", f"{prefix}map",
                                                 api=c.api(2))["value"])
            self.assertEqual(cluster_map["schema"], 1)
            self.assertEqual(cluster_map["supervisor"], 1)
            self.assertEqual(len(cluster_map["members"]), 3)

            # Writes need the API token.
            req = urllib.request.Request(f"http://{c.api(1)}/v1/registry/kv?key=/x",
                                         data=b'{"value": "v"}', method="PUT")
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(req, timeout=5)
            self.assertEqual(e.exception.code, 401)

            # etcd itself takes only TLS clients with a certificate of the cluster's CA:
            # neither plaintext nor TLS without the node's certificate reads or writes.
            tls = os.path.join(c.dir, "n1", "registry", "tls")
            self.assertEqual(os.stat(os.path.join(tls, "node.key")).st_mode & 0o777, 0o600)
            for attempt in (dict(creds=False, scheme="http"), dict(creds=False)):
                for op in (["get", "/app/b"], ["put", "/app/intruder", "x"]):
                    r = etcdctl(c, 1, *op, **attempt)
                    self.assertNotEqual(r.returncode, 0, f"{attempt} {op}: {r.stdout}")
            self.assertEqual(cohort("registry", "get", "/app/intruder", api=c.api(2),
                                    check=False).returncode, 1)
            # With them (the operator's recovery path, docs/design/registry.md) it works,
            # against another node's etcd too: every node's CA is the same one.
            r = etcdctl(c, 1, "get", "/app/b", "--print-value-only")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "2"), r.stderr)
            r = etcdctl(c, 1, "put", "/app/by-etcdctl", "5")
            self.assertEqual(r.returncode, 0, r.stderr)
            tls3 = os.path.join(c.dir, "n3", "registry", "tls")
            r = subprocess.run(["etcdctl", f"--endpoints=https://127.0.0.1:{c.base_port + 203}",
                                f"--cacert={tls3}/ca.pem", f"--cert={tls}/node.pem",
                                f"--key={tls}/node.key", "get", "/app/by-etcdctl",
                                "--print-value-only"], capture_output=True, text=True, timeout=30)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr)
            self.assertEqual(cohort_json("registry", "get", "/app/by-etcdctl",
                                         api=c.api(2))["value"], "5")

    def test_leader_crash_restart_and_read_only_phase(self):
        with DevCluster(3, BASE + 20, adapters=1, registry=3) as c:
            started = []
            try:
                cohort("registry", "put", "/k/before", "1", api=c.api(1))
                leader = agreed_leader(c, (1, 2, 3))
                other = [k for k in (1, 2, 3) if k != leader]

                # kill -9 the leader's daemon: its etcd goes with it, and writes resume
                # through the others.
                os.kill(c.info["nodes"][leader - 1]["pid"], signal.SIGKILL)
                wait_for(lambda: not etcd_up(c, leader), timeout=5,
                         what=f"node {leader}'s etcd to die with its daemon")
                wait_for(lambda: cohort("registry", "put", "/k/during", "2", api=c.api(other[0]),
                                        check=False).returncode == 0,
                         timeout=10, what="writes through the surviving nodes")
                wait_for(lambda: status(c, other[1])["leader"] not in (None, leader), timeout=5,
                         what="the new leader in the survivors' status")

                # Restart it: the same data directory, and it catches up.
                started.append(restart(c, leader))
                wait_for(lambda: cohort("registry", "get", "/k/during", "--local",
                                        api=c.api(leader), check=False).stdout.strip() == "2",
                         timeout=20, what=f"node {leader} to catch up")

                # Two of three servers gone: read-only. Writes fail fast with a clear error;
                # local reads are still answered.
                survivor = other[1]
                for k in (leader, other[0]):
                    pid = started[0].pid if k == leader else c.info["nodes"][k - 1]["pid"]
                    os.kill(pid, signal.SIGKILL)
                wait_for(lambda: status(c, survivor)["phase"] == "read-only", timeout=10,
                         what="the read-only phase")
                t0 = time.monotonic()
                w = cohort("registry", "put", "/k/ro", "3", api=c.api(survivor), check=False)
                self.assertEqual(w.returncode, 1)
                self.assertIn("read-only", w.stderr)
                self.assertLess(time.monotonic() - t0, 2.0)
                r = cohort("registry", "get", "/k/before", "--local", api=c.api(survivor))
                self.assertEqual(r.stdout.strip(), "1")
                self.assertEqual(metrics(c.api(survivor))["cohort_registry_has_leader"], 0)

                # One back: read-write again.
                started.append(restart(c, other[0]))
                wait_for(lambda: status(c, survivor)["phase"] == "read-write", timeout=20,
                         what="the read-write phase after a majority is back")
                wait_for(lambda: cohort("registry", "put", "/k/after", "4", api=c.api(survivor),
                                        check=False).returncode == 0, timeout=10,
                         what="writes after the majority is back")
            finally:
                for p in started:
                    stop(p)

    def test_key_rotation_carries_the_registry_tls_along(self):
        """The README's rotation (install, use, remove on every node) keeps the registry
        writable at each step; afterwards only the new key's certificates are trusted, and a
        restarted node still reaches its peers."""
        with DevCluster(3, BASE + 100, adapters=1, registry=3) as c:
            started = []
            try:
                old = cohort_json("keys", "list", api=c.api(1))["in_use"]
                old_tls = os.path.join(c.dir, "old-tls")
                shutil.copytree(os.path.join(c.dir, "n1", "registry", "tls"), old_tls)
                new = cohort("keygen").stdout.strip()
                new_id = None
                for step, args in (("install", lambda: ["install", new]),
                                   ("use", lambda: ["use", new_id]),
                                   ("remove", lambda: ["remove", old])):
                    for k in (1, 2, 3):
                        out = cohort("keys", *args(), api=c.api(k)).stdout
                        if step == "install":
                            new_id = out.split()[-1]
                        # Each answer comes once that node's registry server is back, so
                        # the next one's restart never costs the quorum.
                        cohort("registry", "put", f"/rot/{step}/{k}", "x", api=c.api(k % 3 + 1))
                self.assertEqual(len(cohort_json("registry", "list", "/rot/",
                                                 api=c.api(2))["items"]), 9)

                def with_creds(tls, port):
                    return subprocess.run(
                        ["etcdctl", f"--endpoints=https://127.0.0.1:{port}",
                         "--dial-timeout=1s", "--command-timeout=2s",
                         f"--cacert={tls}/ca.pem", f"--cert={tls}/node.pem",
                         f"--key={tls}/node.key", "get", "/rot/use/1", "--print-value-only"],
                        capture_output=True, text=True, timeout=30)
                tls = os.path.join(c.dir, "n1", "registry", "tls")
                for k in (1, 2, 3):
                    port = c.base_port + 200 + k
                    r = with_creds(tls, port)
                    self.assertEqual((r.returncode, r.stdout.strip()), (0, "x"), r.stderr)
                    self.assertNotEqual(with_creds(old_tls, port).returncode, 0,
                                        f"node {k}'s etcd still trusts the removed key")

                # A node restarted after the rotation issues itself new-key credentials only.
                os.kill(c.info["nodes"][1]["pid"], signal.SIGTERM)
                wait_for(lambda: not etcd_up(c, 2), timeout=15, what="node 2's etcd to stop")
                started.append(restart(c, 2))
                wait_for(lambda: cohort("registry", "put", "/rot/after", "y", api=c.api(2),
                                        check=False).returncode == 0,
                         timeout=20, what="writes through the restarted node")
            finally:
                for p in started:
                    stop(p)

    def test_no_acknowledged_write_is_lost_over_two_leader_crashes(self):
        with DevCluster(3, BASE + 40, adapters=1, registry=3) as c:
            tokens = {k: token(c, k) for k in (1, 2, 3)}
            acked, lock, stop_writers = [], threading.Lock(), threading.Event()
            down = set()

            def writer(w):
                n = 0
                deadline = time.monotonic() + 60
                while not stop_writers.is_set() and time.monotonic() < deadline:
                    k = (w + n) % 3 + 1
                    if k in down:
                        k = next(j for j in (1, 2, 3) if j not in down)
                    key = f"/hist/w{w}/{n:05d}"
                    if put(c, k, key, str(n), tokens[k], timeout=3):
                        with lock:
                            acked.append(key)
                    n += 1

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
            for t in threads:
                t.start()
            started = []
            pids = {n["id"]: n["pid"] for n in c.info["nodes"]}
            try:
                for crash in range(2):
                    wait_for(lambda: len(acked) >= 30 * (crash + 1), timeout=20,
                             what="writes acknowledged before the crash")
                    leader = agreed_leader(c, (1, 2, 3))
                    down.add(leader)
                    os.kill(pids[leader], signal.SIGKILL)
                    count = len(acked)
                    wait_for(lambda: len(acked) >= count + 20, timeout=20,
                             what="writes acknowledged after the leader crash")
                    started.append(restart(c, leader))
                    pids[leader] = started[-1].pid
                    wait_for(lambda: status(c, leader)["phase"] == "read-write", timeout=20,
                             what=f"node {leader} back")
                    down.discard(leader)
                stop_writers.set()
                for t in threads:
                    t.join(30)
                items = cohort_json("registry", "list", "/hist/", api=c.api(1))["items"]
                stored = {i["key"] for i in items}
                lost = [k for k in acked if k not in stored]
                self.assertEqual(lost, [], f"{len(lost)} acknowledged writes lost")
                self.assertGreater(len(acked), 100)
            finally:
                stop_writers.set()
                for p in started:
                    stop(p)

    def test_define_and_undefine_servers(self):
        with DevCluster(4, BASE + 80, adapters=1, registry=3) as c:
            # Node 4 joins the registry: a learner first, promoted once caught up (retried
            # while etcd still calls a just-started cluster unhealthy).
            cohort("registry", "server", "define", "4", "--client",
                   f"127.0.0.1:{c.base_port + 204}", "--peer", f"127.0.0.1:{c.base_port + 304}",
                   api=c.api(1), timeout=120)
            servers = cohort_json("registry", "server", "list", api=c.api(2))["servers"]
            self.assertEqual(sorted(s["id"] for s in servers), [1, 2, 3, 4])
            self.assertFalse(any(s["learner"] for s in servers))
            self.assertTrue(etcd_up(c, 4))
            cohort("registry", "put", "/four", "yes", api=c.api(4))

            def local_servers(k):  # C5: the ordered list in node k's local storage
                with open(os.path.join(c.dir, f"n{k}", "dcm", "configuration",
                                       "local.json")) as f:
                    return [s["id"] for s in json.load(f)["registry_servers"]]
            # Every node's list follows the registry's, its own server first.
            wait_for(lambda: sorted(local_servers(1)) == [1, 2, 3, 4], timeout=10,
                     what="node 1 to learn of server 4")
            wait_for(lambda: local_servers(4)[0] == 4, timeout=10, what="node 4's own first")
            again = cohort("registry", "server", "define", "4", "--client",
                           f"127.0.0.1:{c.base_port + 204}", "--peer",
                           f"127.0.0.1:{c.base_port + 304}", api=c.api(1), check=False)
            self.assertEqual(again.returncode, 1)
            self.assertIn("already a registry server", again.stderr)

            # The leader leaves: leadership moves first, its node stops its etcd, writes go on.
            leader = agreed_leader(c, (1, 2, 3, 4))
            cohort("registry", "server", "undefine", str(leader), api=c.api(4), timeout=60)
            wait_for(lambda: not etcd_up(c, leader), timeout=10,
                     what=f"node {leader}'s etcd to stop")
            left = {s["id"] for s in cohort_json("registry", "server", "list",
                                                 api=c.api(4))["servers"]}
            self.assertEqual(left, {1, 2, 3, 4} - {leader})
            wait_for(lambda: status(c, 4)["leader"] not in (None, leader), timeout=10,
                     what="a new leader in node 4's view")
            cohort("registry", "put", "/after", "undefine", api=c.api(leader))
            wait_for(lambda: leader not in local_servers(leader), timeout=10,
                     what=f"node {leader} to drop its own server from its list")
            prefix = f"/cohort/{status(c, 4)['cluster_id']}/registry/servers"
            listed = json.loads(cohort_json("registry", "get", prefix, api=c.api(4))["value"])
            self.assertEqual({s["id"] for s in listed["servers"]}, left)

    def test_snapshot_save_and_restore(self):
        with DevCluster(2, BASE + 60, adapters=1, registry=1) as c:
            cohort("registry", "put", "/keep/me", "42", api=c.api(2))
            backup = os.path.join(c.dir, "backup.db")
            saved = cohort_json("registry", "snapshot", "save", backup, api=c.api(2))
            self.assertGreater(saved["bytes"], 32)
            check = subprocess.run(["sha256sum", "-c", "backup.db.sha256"], cwd=c.dir,
                                   capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

            # Refused over live data; accepted into an empty data directory, with the
            # daemon stopped; the restarted node serves what the snapshot held.
            config = os.path.join(c.dir, "n1", "node.toml")
            busy = cohort("registry", "snapshot", "restore", backup, "--config", config,
                          check=False)
            self.assertEqual(busy.returncode, 1)
            self.assertIn("not empty", busy.stderr)
            os.kill(c.info["nodes"][0]["pid"], signal.SIGTERM)
            wait_for(lambda: not etcd_up(c, 1), timeout=15, what="node 1 and its etcd to stop")
            os.rename(os.path.join(c.dir, "n1", "registry", "etcd"),
                      os.path.join(c.dir, "n1", "registry", "etcd.old"))
            # A damaged copy is refused before anything is written.
            with open(backup, "rb") as f:
                data = bytearray(f.read())
            data[100] ^= 0xff
            damaged = os.path.join(c.dir, "damaged.db")
            with open(damaged, "wb") as f:
                f.write(data)
            bad = cohort("registry", "snapshot", "restore", damaged, "--config", config,
                         check=False)
            self.assertEqual(bad.returncode, 1)
            self.assertIn("damaged", bad.stderr)
            cohort("registry", "snapshot", "restore", backup, "--config", config)
            p = restart(c, 1)
            try:
                wait_for(lambda: cohort("registry", "get", "/keep/me", api=c.api(1),
                                        check=False).stdout.strip() == "42",
                         timeout=20, what="the restored key")
            finally:
                stop(p)


if __name__ == "__main__":
    unittest.main()
