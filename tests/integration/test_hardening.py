"""Hostile input on the data plane (issue 17): a member that holds the cluster key sends
paths leading out, malformed job ids, sizes near 2^64; strangers hold sockets without a
handshake. Nothing may be written outside the content root, and the daemon keeps serving."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import BIN, COHORTD, Daemon, DevCluster, cohort, cohort_json, metrics, wait_for

BASE = 18900  # transport 18901.., API 19001..
HOSTILE = os.path.join(BIN, "cohort-hostile-peer")

# Every case and the word its answer must hold: each is refused with the reason named.
CASES = {
    "offer-dotdot": "'..' leads out",
    "offer-absolute": "absolute paths",
    "offer-dest-dotdot": "'..' leads out",
    "offer-job-id": "not a job id",
    "offer-reserved": "the daemon's own",
    "offer-symlinked-dest": "leads out of the content root",
    "offer-symlinked-folder": "leads out of the content root",
    "offer-huge-sizes": "exceed 2^60 bytes",
    "query-job-id": "not a job id",
    "cancel-job-id": "not a job id",
    "feed-job-id": "not a job id",
    "ctp-put-reserved": "the daemon's own",
    "ctp-rm-dotdot": "'..' leads out",
    "commands-dotdot": "'..' leads out",
    "data-past-the-end": "beyond any job's end",
}


def files_under(path):
    found = []
    for parent, dirs, names in os.walk(path):
        found += [os.path.join(parent, n) for n in names + dirs]
    return found


class HostilePeerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = DevCluster(2, BASE).__enter__()
        c = cls.cluster
        cls.root = os.path.join(c.dir, "n2", "content")
        cls.outside = tempfile.TemporaryDirectory(prefix="cohort-outside-")
        os.makedirs(os.path.join(cls.root, "media"), exist_ok=True)
        os.symlink(cls.outside.name, os.path.join(cls.root, "outside"))
        os.symlink(cls.outside.name, os.path.join(cls.root, "media", "outside"))

    @classmethod
    def tearDownClass(cls):
        cls.cluster.__exit__(None, None, None)
        cls.outside.cleanup()

    def hostile(self, case):
        c = self.cluster
        p = subprocess.run([HOSTILE, os.path.join(c.dir, "cluster.key"), c.transport(2), "2",
                            case], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def assert_serving(self):
        status = cohort_json("status", api=self.cluster.api(2))
        self.assertEqual(status["node"]["id"], 2)
        # The data plane too: node 1 lists node 2's root through it.
        cohort_json("ctp", "ls", "2", "", api=self.cluster.api(1))

    def test_every_hostile_offer_and_request_is_refused_and_nothing_lands_outside(self):
        before = set(files_under(self.cluster.dir)) - set(files_under(self.root))
        for case, reason in CASES.items():
            with self.subTest(case=case):
                answer = self.hostile(case)["answer"]
                self.assertTrue(answer.startswith("refused"), f"{case}: {answer}")
                self.assertIn(reason, answer, case)
        self.assertEqual(os.listdir(self.outside.name), [])
        self.assertFalse(os.path.exists("/tmp/cohort-hostile-abs"))
        after = set(files_under(self.cluster.dir)) - set(files_under(self.root))
        # Only the daemons' own logs and state may have changed outside the content root.
        new = [p for p in after - before if "escape" in p or "esc" in os.path.basename(p)]
        self.assertEqual(new, [])
        self.assertFalse(os.path.exists(os.path.join(self.root, ".cohort", "jobs", "77-9.json")))
        self.assertFalse(os.path.exists(os.path.join(self.root, ".cohort", "jobs", "77-1.json")))
        self.assert_serving()

    def test_a_name_that_is_not_utf8_is_distributed_listed_and_shown_escaped(self):
        c = self.cluster
        with tempfile.TemporaryDirectory(prefix="cohort-src-") as src:
            with open(os.path.join(src.encode(), b"clip-\xff.mp4"), "wb") as f:
                f.write(b"frames")
            job = cohort_json("distribute", src, "--dest", "odd", api=c.api(1))
            self.assertEqual(job["state"], "completed")
            name = os.path.basename(src)
            got = os.path.join(self.root.encode(), b"odd", name.encode(), b"clip-\xff.mp4")
            with open(got, "rb") as f:
                self.assertEqual(f.read(), b"frames")
            listed = cohort_json("job", "list", api=c.api(1))
            ids = [j["id"] for j in listed["jobs"]]
            self.assertIn(job["id"], ids)
            shown = cohort_json("job", "show", job["id"], api=c.api(1))
            self.assertEqual(shown["commands"][1]["path"], name + "/clip-\\xff.mp4")
            entries = cohort_json("ctp", "ls", "2", "odd/" + name, api=c.api(1))
            self.assertEqual(entries[0]["name"], "clip-\\xff.mp4")
            self.assertEqual(bytes.fromhex(entries[0]["name_hex"]), b"clip-\xff.mp4")
            text = cohort("ctp", "ls", "2", "odd/" + name, api=c.api(1)).stdout
            self.assertIn("clip-\\xff.mp4", text)
            # A finished job's elapsed time no longer grows: another job runs meanwhile.
            cohort_json("distribute", src, "--dest", "odd2", api=c.api(1))
            again = cohort_json("job", "show", job["id"], api=c.api(1))
            self.assertEqual(again["elapsed_s"], shown["elapsed_s"])

    def test_a_silent_stranger_is_dropped_after_the_handshake_deadline(self):
        host, port = self.cluster.transport(2).split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            challenge = s.recv(16)
            self.assertEqual(len(challenge), 16)
            start = time.monotonic()
            self.assertEqual(s.recv(1), b"")  # closed by the daemon, not by the timeout
            self.assertLess(time.monotonic() - start, 9)
        # A first frame over the 256 bytes a handshake needs is refused at once, not at the
        # deadline.
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.recv(16)
            start = time.monotonic()
            s.sendall((257).to_bytes(4, "little"))
            self.assertEqual(s.recv(1), b"")
            self.assertLess(time.monotonic() - start, 2)
        self.assert_serving()

    def test_many_unauthenticated_connections_are_capped_and_service_resumes(self):
        host, port = self.cluster.transport(2).split(":")
        socks, refused = [], 0
        try:
            for _ in range(100):
                s = socket.create_connection((host, int(port)), timeout=10)
                socks.append(s)
            # Those over the cap are closed at once; the others get their challenge.
            challenged = 0
            for s in socks:
                s.settimeout(3)
                try:
                    got = s.recv(16)
                    if got == b"":
                        refused += 1
                    elif len(got) > 0:
                        challenged += 1
                except ConnectionResetError:
                    refused += 1
            self.assertGreaterEqual(refused, 30)
            self.assertLessEqual(challenged, 64)
        finally:
            for s in socks:
                s.close()
        wait_for(lambda: cohort_json("ctp", "ls", "2", "", api=self.cluster.api(1)) is not None,
                 timeout=15, what="the data plane serving again")
        self.assert_serving()



def stop_node(c, k):
    """SIGTERM node k of the dev cluster by the PID it recorded; waits until it is gone."""
    with open(os.path.join(c.dir, f"n{k}", "cohortd.pid")) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGTERM)

    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
    wait_for(gone, timeout=15, what=f"node {k} to stop")


class DamagedStateTest(unittest.TestCase):
    """Each state file damaged in turn: one clear line and exit 2 at start, or the job
    shown failed; never an uncaught exception."""

    def test_each_state_file_damaged_in_turn(self):
        with DevCluster(2, BASE + 50) as c, tempfile.TemporaryDirectory() as src:
            clip = os.path.join(src, "clip.bin")
            with open(clip, "wb") as f:
                f.write(os.urandom(100000))
            job = cohort_json("distribute", clip, "--dest", "d", api=c.api(1))
            self.assertEqual(job["state"], "completed")
            stop_node(c, 1)
            n1 = os.path.join(c.dir, "n1")
            config = os.path.join(n1, "node.toml")
            for name, damage, said in (
                    ("keyring.json", '{"keys": [7], "in_use": 1}', "keyring.json is damaged"),
                    ("transport.json", '{"revision": "x"}', "transport.json is damaged")):
                with self.subTest(file=name):
                    path = os.path.join(n1, name)
                    with open(path) as f:
                        good = f.read()
                    with open(path, "w") as f:
                        f.write(damage)
                    p = subprocess.run([COHORTD, "--config", config], capture_output=True,
                                       text=True, timeout=30)
                    self.assertEqual(p.returncode, 2, p.stderr)
                    lines = [l for l in p.stderr.splitlines() if l.startswith("error:")]
                    self.assertEqual(len(lines), 1, p.stderr)
                    self.assertIn(said, lines[0])
                    self.assertNotIn("terminate", p.stderr)
                    with open(path, "w") as f:
                        f.write(good)
            with open(os.path.join(n1, "jobs", job["id"] + ".json"), "w") as f:
                f.write('{"id": "' + job["id"] + '", "state": 3')
            d = Daemon(config, os.path.join(n1, "restart.log"))
            try:
                shown = wait_for(lambda: cohort_json("job", "show", job["id"], api=c.api(1)),
                                 what="the restarted base")
                self.assertEqual(shown["state"], "failed")
                self.assertIn("damaged job document", shown["error"])
                listed = cohort("job", "list", api=c.api(1)).stdout
                self.assertIn(job["id"], listed)
            finally:
                d.stop()


class NoSpaceTest(unittest.TestCase):
    def test_a_full_disk_fails_the_job_with_the_reason_and_the_daemon_serves(self):
        with DevCluster(2, BASE + 70) as c, tempfile.TemporaryDirectory() as src:
            root = os.path.join(c.dir, "n2", "content")
            if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", root],
                              capture_output=True).returncode != 0:
                self.skipTest("cannot mount a tmpfs here")
            try:
                small = os.path.join(src, "small.txt")
                with open(small, "w") as f:
                    f.write("fits")
                before = cohort_json("distribute", small, "--dest", "before", api=c.api(1))
                self.assertEqual(before["state"], "completed")
                clip = os.path.join(src, "clip.bin")
                with open(clip, "wb") as f:
                    f.write(os.urandom(3 * 1000 * 1000))
                p = cohort("distribute", clip, "--dest", "full", "--timeout", "60", "--json",
                           api=c.api(1), check=False)
                self.assertEqual(p.returncode, 1, p.stderr)
                job = json.loads(p.stdout)
                server2 = [s for s in job["servers"] if s["id"] == 2][0]
                self.assertEqual(server2["state"], "failed")
                self.assertIn("No space left on device", server2.get("error", ""))
                self.assertEqual(cohort_json("status", api=c.api(2))["node"]["id"], 2)
                # Nothing else was lost: the earlier job's file is intact, the jobs answer.
                with open(os.path.join(root, "before", "small.txt")) as f:
                    self.assertEqual(f.read(), "fits")
                self.assertIn(before["id"], cohort("job", "list", api=c.api(1)).stdout)
                # The failed job's partial file holds the space until the job is cancelled
                # (which deletes partial files everywhere); then the node takes jobs again.
                cohort("job", "cancel", job["id"], api=c.api(1))
                done = cohort_json("distribute", small, "--dest", "after", api=c.api(1))
                self.assertEqual(done["state"], "completed")
            finally:
                subprocess.run(["umount", "-l", root], capture_output=True)


class MixedCiphersTest(unittest.TestCase):
    def test_nodes_sealing_with_different_ciphers_form_one_cluster_and_move_content(self):
        with DevCluster(3, BASE + 90) as c, tempfile.TemporaryDirectory() as src:
            daemons = []
            try:
                for k, cipher in ((2, "xchacha20-poly1305"), (3, "aes-256-gcm")):
                    stop_node(c, k)
                    config = os.path.join(c.dir, f"n{k}", "node.toml")
                    with open(config) as f:
                        text = f.read()
                    with open(config, "w") as f:
                        f.write(text.replace("[transport]\n",
                                             f"[transport]\ncipher = \"{cipher}\"\n", 1))
                    daemons.append(Daemon(config, os.path.join(c.dir, f"n{k}", "restart.log")))
                wait_for(lambda: all(m["state"] == "up" for m in
                                     cohort_json("members", api=c.api(1))["members"]),
                         what="nodes 2 and 3 up again")
                for k, cipher in ((2, "xchacha20-poly1305"), (3, "aes-256-gcm")):
                    with open(os.path.join(c.dir, f"n{k}", "restart.log")) as f:
                        self.assertIn(f"cipher={cipher}", f.read())
                    self.assertTrue(all(r["ok"] for r in cohort_json(
                        "ping", str(k), "--count", "3", api=c.api(1))["replies"]))
                clip = os.path.join(src, "clip.bin")
                with open(clip, "wb") as f:
                    f.write(os.urandom(2 * 1000 * 1000))
                # The chain 1 -> 2 -> 3 (or 1 -> 3 -> 2) crosses both ciphers.
                job = cohort_json("distribute", clip, "--dest", "mixed", api=c.api(1))
                self.assertEqual(job["state"], "completed")
            finally:
                for d in daemons:
                    d.stop()


class LargeJobTest(unittest.TestCase):
    def test_a_job_whose_manifest_is_larger_than_a_frame_reaches_every_server(self):
        # 5,000 files with 200-byte names: a 1.2 MB manifest, above the 1 MiB frame, which
        # the sender now splits into an offer and Commands messages.
        with DevCluster(3, BASE + 110) as c, tempfile.TemporaryDirectory() as src:
            tree = os.path.join(src, "tree")
            os.makedirs(tree)
            for i in range(5000):
                with open(os.path.join(tree, "n" * 200 + str(i)), "w") as f:
                    f.write(str(i))
            p = cohort("distribute", tree, "--dest", "big", "--timeout", "240", "--json",
                       api=c.api(1), timeout=300)
            self.assertEqual(json.loads(p.stdout)["state"], "completed")
            for k in (2, 3):
                names = os.listdir(os.path.join(c.dir, f"n{k}", "content", "big", "tree"))
                self.assertEqual(len(names), 5000)
            # Its listing (1.9 MB of JSON) comes over the data plane in pages.
            listed = cohort_json("ctp", "ls", "3", "big", "-r", api=c.api(1), timeout=120)
            self.assertEqual(len(listed), 5001)  # the folder and every file
            self.assertEqual(listed[-1]["name"], "tree/" + "n" * 200 + "999")


class LargeTreeTest(unittest.TestCase):
    def test_a_tree_of_100000_entries_is_listed_whole_and_no_one_is_declared_failed(self):
        with DevCluster(3, BASE + 150) as c:
            tree = os.path.join(c.dir, "n1", "content", "tree")
            for i in range(100000):
                folder = os.path.join(tree, "d%03d" % (i % 100))
                os.makedirs(folder, exist_ok=True)
                open(os.path.join(folder, "f%07d" % i), "wb").close()

            def declared():
                total = 0
                for k in (1, 2, 3):
                    m = metrics(c.api(k))
                    total += m["cohort_membership_failures_declared_total"]
                    total += m["cohort_membership_declarations_sent_total"]
                return total

            before = declared()
            # From another node (in pages over the data plane), then from its own.
            for api in (c.api(2), c.api(1)):
                listed = cohort_json("ctp", "ls", "1", "tree", "-r", api=api, timeout=400)
                self.assertEqual(len(listed), 100100)  # 100 folders and every file
                self.assertEqual(listed[0]["name"], "d000")
                self.assertEqual(listed[-1]["name"], "d099/f0099999")
            self.assertEqual(declared(), before)


if __name__ == "__main__":
    unittest.main()
