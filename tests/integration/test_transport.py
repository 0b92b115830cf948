"""Integration tests of the transport with real daemons on 127.0.0.1 (issue: foundation)."""
import os
import signal
import socket
import subprocess
import tempfile
import unittest

from harness import (COHORTD, Daemon, DevCluster, cohort, cohort_json, http_get, metrics,
                     wait_for)

BASE = 17300  # this file's port range: transport 17301.., API 17401..


def rejected(api, reason):
    return metrics(api)[f'cohort_transport_datagrams_rejected_total{{reason="{reason}"}}']


class ThreeNodes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = DevCluster(3, BASE).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.__exit__(None, None, None)

    def test_tables_converge_on_one_digest(self):
        c = self.cluster
        tables = [cohort_json("addresses", api=c.api(k)) for k in (1, 2, 3)]
        self.assertEqual(len({t["digest"] for t in tables}), 1)
        self.assertEqual(len({t["version"] for t in tables}), 1)
        for t in tables:
            self.assertEqual([n["id"] for n in t["nodes"]], [1, 2, 3])
            for n in t["nodes"]:
                self.assertEqual(len(n["addresses"]), 2)
                a = n["addresses"][0]
                self.assertEqual(a["type"], "loopback")
                self.assertEqual(a["mask"], "255.0.0.0")
                self.assertIn(a["status"], ("reachable", "unreachable"))
        status = cohort_json("status", api=c.api(2))
        self.assertEqual(status["node"]["id"], 2)
        self.assertEqual(status["cluster"], "dev")
        self.assertEqual(status["components"]["transport"], "ready")
        self.assertEqual(http_get(c.api(1), "/livez")[0], 200)
        self.assertEqual(http_get(c.api(1), "/readyz")[0], 200)

    def test_ping_fails_over_and_returns(self):
        c = self.cluster
        primary, alternate = c.transport(3, 1), c.transport(3, 2)
        first = cohort_json("ping", "3", "--count", "2", "--interval-ms", "20", api=c.api(1))
        self.assertTrue(all(r["ok"] and r["address"] == primary for r in first["replies"]))
        before = metrics(c.api(1))["cohort_transport_failovers_total"]
        cohort("adapter", "down", primary, api=c.api(3))
        try:
            out = cohort_json("ping", "3", "--count", "5", "--interval-ms", "50", api=c.api(1))
            self.assertTrue(all(r["ok"] for r in out["replies"]), out)
            self.assertEqual(out["replies"][-1]["address"], alternate)
            self.assertGreater(metrics(c.api(1))["cohort_transport_failovers_total"], before)
        finally:
            cohort("adapter", "up", primary, api=c.api(3))

        def primary_preferred():
            t = cohort_json("addresses", api=c.api(1))
            a = [n for n in t["nodes"] if n["id"] == 3][0]["addresses"][0]
            return a["preferred"] and a["status"] == "reachable"
        wait_for(primary_preferred, what="node 3's primary preferred again")
        out = cohort_json("ping", "3", "--count", "2", "--interval-ms", "20", api=c.api(1))
        self.assertTrue(all(r["address"] == primary for r in out["replies"]), out)

    def test_large_payload_is_fragmented(self):
        c = self.cluster
        before = metrics(c.api(1))["cohort_transport_fragments_sent_total"]
        out = cohort_json("ping", "2", "--count", "1", "--size", "40000", api=c.api(1))
        self.assertTrue(out["replies"][0]["ok"], out)
        self.assertGreater(metrics(c.api(1))["cohort_transport_fragments_sent_total"], before)

    def test_changes_need_the_token(self):
        c = self.cluster
        with tempfile.NamedTemporaryFile("w", suffix=".token") as wrong:
            wrong.write("not-the-token\n")
            wrong.flush()
            p = cohort("adapter", "down", c.transport(2, 2), "--token-file", wrong.name,
                       api=c.api(2), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("Authorization", p.stderr)
        # An empty token file is named as such, before anything is asked of the API.
        p = cohort("adapter", "down", c.transport(2, 2), "--token-file", "/dev/null",
                   api=c.api(2), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("'/dev/null' is empty", p.stderr)
        p = cohort("adapter", "down", "127.0.0.9:1", api=c.api(2), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not a local adapter", p.stderr)

    def test_key_rotation_without_downtime(self):
        c = self.cluster
        new_key = cohort("keygen").stdout.strip()
        old = cohort_json("keys", "list", api=c.api(1))["in_use"]
        ids = {cohort_json("keys", "install", new_key, api=c.api(k))["id"] for k in (1, 2, 3)}
        self.assertEqual(len(ids), 1)
        new_id = ids.pop()
        # Node 1 switches first: the others already accept the new key.
        for k in (1, 2, 3):
            cohort("keys", "use", new_id, api=c.api(k))
            out = cohort_json("ping", "2" if k != 2 else "1", "--count", "2", "--interval-ms",
                              "10", api=c.api(k))
            self.assertTrue(all(r["ok"] for r in out["replies"]), out)
        p = cohort("keys", "remove", new_id, api=c.api(1), check=False)
        self.assertNotEqual(p.returncode, 0)  # in use
        for k in (1, 2, 3):
            keys = cohort_json("keys", "remove", old, api=c.api(k))
            self.assertEqual([x["id"] for x in keys["keys"]], [new_id])
        out = cohort_json("ping", "3", "--count", "2", "--interval-ms", "10", api=c.api(1))
        self.assertTrue(all(r["ok"] for r in out["replies"]), out)


class HostileDatagrams(unittest.TestCase):
    """Garbage, empty, truncated, oversized, forged and replayed datagrams at a running
    daemon: it keeps running and counts each by reason."""

    def test_bad_datagrams_are_counted_and_dropped(self):
        with DevCluster(2, BASE + 20, adapters=1) as c, tempfile.TemporaryDirectory() as tmp:
            # A third daemon (node 9) whose only seed is our socket, so we capture genuine
            # sealed datagrams from it.
            trap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            trap.bind(("127.0.0.1", 0))
            trap.settimeout(5)
            cfg = os.path.join(tmp, "n9.toml")
            with open(cfg, "w") as f:
                f.write(f"""[node]
id = 9
data_dir = "{tmp}/n9"
[cluster]
name = "dev"
key_file = "{c.dir}/cluster.key"
seeds = ["127.0.0.1:{trap.getsockname()[1]}"]
[transport]
listen = ["127.0.0.1:{BASE + 29}"]
[api]
listen = "127.0.0.1:{BASE + 129}"
""")
            d = Daemon(cfg, os.path.join(tmp, "n9.log"))
            try:
                sealed, _ = trap.recvfrom(65536)
            finally:
                self.assertEqual(d.stop(), 0)  # SIGTERM: clean exit 0
            target = ("127.0.0.1", c.base_port + 1)
            api = c.api(1)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            base = {r: rejected(api, r) for r in
                    ("malformed", "unknown_key", "bad_tag", "replay", "too_large")}
            s.sendto(b"", target)
            s.sendto(b"garbage" * 10, target)
            s.sendto(sealed[:30], target)  # truncated
            s.sendto(b"\0" * 20000, target)  # oversized
            forged = bytearray(sealed)
            forged[-1] ^= 0x01
            s.sendto(bytes(forged), target)
            other_key = bytearray(sealed)
            other_key[4] ^= 0xFF
            s.sendto(bytes(other_key), target)
            s.sendto(sealed, target)  # first copy is fresh to node 1
            s.sendto(sealed, target)  # the replay

            def counted():
                now = {r: rejected(api, r) - base[r] for r in base}
                return now if (now["malformed"] >= 3 and now["too_large"] >= 1 and
                               now["bad_tag"] >= 1 and now["unknown_key"] >= 1 and
                               now["replay"] >= 1) else None
            got = wait_for(counted, what="rejections counted")
            self.assertEqual(got["malformed"], 3)
            self.assertEqual(got["replay"], 1)
            self.assertEqual(http_get(api, "/livez")[0], 200)
            out = cohort_json("ping", "2", "--count", "1", api=api)
            self.assertTrue(out["replies"][0]["ok"])


class Configuration(unittest.TestCase):
    def run_config(self, text, tmp):
        path = os.path.join(tmp, "bad.toml")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run([COHORTD, "--config", path], capture_output=True, text=True,
                              timeout=30)

    def test_bad_config_exits_2_naming_the_key(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "k"), "w") as f:
                f.write(cohort("keygen").stdout)
            cases = {
                '[node]\nid = 0\ndata_dir = "d"\n': "node.id",
                '[node]\nid = 1\ndata_dir = "d"\n[cluster]\nkey_file = "k"\n[transport]\n'
                'listen = ["127.0.0.1:x"]\n': "transport.listen[0]",
                '[node]\nid = 1\ndata_dir = "d"\n[cluster]\nkey_file = "missing.key"\n'
                '[transport]\nlisten = ["127.0.0.1:17399"]\n': "cluster.key_file",
                '[node]\nid = 1\ndata_dir = "d"\n[cluster]\nkey_file = "k"\n[transport]\n'
                'listen = ["192.0.2.77:17399"]\n': "transport.listen[0]",
                '[node]\nid = 1\nspeed = 3\n': "node.speed",
            }
            for text, key in cases.items():
                p = self.run_config(text, tmp)
                self.assertEqual(p.returncode, 2, (text, p.stderr))
                self.assertTrue(p.stderr.startswith("error: "), p.stderr)
                self.assertIn(key, p.stderr)
                self.assertIn("bad.toml", p.stderr)

    def test_usage_errors_exit_2(self):
        p = subprocess.run([COHORTD], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        p = cohort("ping", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.startswith("error: "), p.stderr)
        p = cohort("status", api="127.0.0.1:1", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot reach", p.stderr)


if __name__ == "__main__":
    unittest.main()
