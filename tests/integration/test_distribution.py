"""Integration tests of content distribution (issue 5): five cohortd on 127.0.0.1, one of
them the base server, content flowing peer to peer over their TCP data plane."""
import hashlib
import json
import os
import resource
import signal
import subprocess
import tempfile
import unittest
import urllib.request

from harness import (COHORT, Daemon, DevCluster, cohort, cohort_json, http_call, http_get,
                     metrics, wait_for)

BASE = 18500  # transport 18501.., API 18601..


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content(c, k, *parts):
    return os.path.join(c.dir, f"n{k}", "content", *parts)


def kill_node(c, k):
    """kill -9 node k of the dev cluster, by the PID its daemon recorded."""
    with open(os.path.join(c.dir, f"n{k}", "cohortd.pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)


def restart_node(c, k):
    """Node k's daemon started again from its config, logging to restart.log."""
    return Daemon(os.path.join(c.dir, f"n{k}", "node.toml"),
                  os.path.join(c.dir, f"n{k}", "restart.log"))


class DistributionTest(unittest.TestCase):
    def setUp(self):
        self.src = tempfile.TemporaryDirectory(prefix="cohort-src-")
        self.big = os.path.join(self.src.name, "big.bin")
        with open(self.big, "wb") as f:
            f.write(os.urandom(50 * 1000 * 1000))
        tree = os.path.join(self.src.name, "tree")
        os.makedirs(os.path.join(tree, "sub"))
        for name, mode, mtime in (("a.txt", 0o750, 1600000000), ("sub/b.dat", 0o600, 1500000000)):
            path = os.path.join(tree, name)
            with open(path, "wb") as f:
                f.write(os.urandom(4096) + name.encode())
            os.chmod(path, mode)
            os.utime(path, (mtime, mtime))
        os.chmod(os.path.join(tree, "sub"), 0o710)
        os.utime(os.path.join(tree, "sub"), (1400000000, 1400000000))
        if os.geteuid() == 0:  # owners are kept where the daemon may set them
            os.chown(os.path.join(tree, "a.txt"), 1234, 4321)
        self.tree = tree

    def tearDown(self):
        self.src.cleanup()

    def test_file_and_tree_reach_every_node_verified(self):
        with DevCluster(5, BASE) as c:
            job = cohort_json("distribute", self.big, self.tree, "--dest", "media",
                              api=c.api(1), timeout=120)
            self.assertEqual(job["state"], "completed")
            self.assertEqual(sorted(s["id"] for s in job["servers"]), [1, 2, 3, 4, 5])
            self.assertTrue(all(s["state"] == "completed" for s in job["servers"]))
            self.assertEqual({cmd["kind"] for cmd in job["commands"]}, {"file", "mkdir", "end"})
            self.assertTrue(all(cmd["state"] == "completed" for cmd in job["commands"]))
            want = sha256(self.big)
            for k in range(1, 6):
                self.assertEqual(sha256(content(c, k, "media", "big.bin")), want, f"n{k}")
                for name in ("a.txt", "sub/b.dat"):
                    src = os.stat(os.path.join(self.tree, name))
                    got = os.stat(content(c, k, "media", "tree", name))
                    self.assertEqual(oct(got.st_mode & 0o7777), oct(src.st_mode & 0o7777))
                    self.assertEqual(int(got.st_mtime), int(src.st_mtime))
                    self.assertEqual(sha256(content(c, k, "media", "tree", name)),
                                     sha256(os.path.join(self.tree, name)))
                # Folders keep their mode and mtime too (set once everything is inside).
                sub = os.stat(content(c, k, "media", "tree", "sub"))
                self.assertEqual(oct(sub.st_mode & 0o7777), "0o710", f"n{k}")
                self.assertEqual(int(sub.st_mtime), 1400000000, f"n{k}")
                if os.geteuid() == 0:
                    got = os.stat(content(c, k, "media", "tree", "a.txt"))
                    self.assertEqual((got.st_uid, got.st_gid), (1234, 4321), f"n{k}")
                leftovers = [n for n in os.listdir(content(c, k, "media")) if "cohort-part" in n]
                self.assertEqual(leftovers, [])
            # Peer to peer: the base sent the content about once, the others relayed it.
            sent = metrics(c.api(1))["cohort_distribution_bytes_sent_total"]
            self.assertLess(sent, 2 * 50 * 1000 * 1000)
            relayed = sum(metrics(c.api(k))["cohort_distribution_bytes_sent_total"]
                          for k in range(2, 6))
            self.assertGreater(relayed, 50 * 1000 * 1000)
            listed = cohort_json("job", "list", api=c.api(1))["jobs"]
            self.assertEqual([j["id"] for j in listed], [job["id"]])
            shown = cohort_json("job", "show", job["id"], api=c.api(1))
            self.assertEqual(shown["state"], "completed")

    def test_killed_receiver_is_reported_and_repaired_after_restart(self):
        with DevCluster(5, BASE, upload_mbps=160) as c:
            job_id = cohort("distribute", self.big, "--dest", "media", "--no-wait",
                            api=c.api(1)).stdout.strip()
            victim = 3

            def victim_bytes():
                job = cohort_json("job", "show", job_id, api=c.api(1))
                return next(s["bytes"] for s in job["servers"] if s["id"] == victim)

            wait_for(lambda: victim_bytes() > 10 * 1000 * 1000, timeout=30,
                     what="node 3 receiving")
            kill_node(c, victim)

            def final_state():
                job = cohort_json("job", "show", job_id, api=c.api(1))
                return job if job["state"] != "running" else None

            job = wait_for(final_state, timeout=60, what="the job to end")
            states = {s["id"]: s["state"] for s in job["servers"]}
            self.assertEqual(states[victim], "failed", job)
            self.assertEqual([k for k, s in states.items() if s != "completed"], [victim])
            for k in (1, 2, 4, 5):
                self.assertEqual(sha256(content(c, k, "media", "big.bin")), sha256(self.big))

            # Restarted, it is queried at the end of the wait period, repaired and completes,
            # resuming from what it had verified on disk.
            daemon = restart_node(c, victim)
            try:
                out = cohort("job", "wait", job_id, "--timeout", "90", api=c.api(1),
                             timeout=120).stdout
                self.assertIn("completed", out)
                self.assertEqual(sha256(content(c, victim, "media", "big.bin")),
                                 sha256(self.big))
                received = metrics(c.api(victim))["cohort_distribution_bytes_received_total"]
                self.assertLess(received, 50 * 1000 * 1000 - 5 * 1000 * 1000)
            finally:
                daemon.stop(timeout=20)

    def test_a_hung_relay_is_reported_and_fed_around_then_completes_once_it_runs(self):
        # A stopped process keeps its connections open and answers nothing, like one
        # blocked on a dead disk: its receiver gets nothing and no connection ends.
        with DevCluster(5, BASE, upload_mbps=80) as c:
            job_id = cohort("distribute", self.big, "--dest", "media", "--no-wait",
                            api=c.api(1)).stdout.strip()

            def show():
                return cohort_json("job", "show", job_id, api=c.api(1))

            def relay_receiving():
                # A server other than the base that feeds another and is well under way.
                servers = show()["servers"]
                held = {s["id"]: s["bytes"] for s in servers}
                for s in servers:
                    src = s["source"]
                    if src not in (None, 1) and 10e6 < held[src] < 30e6 and \
                            s["state"] != "completed":
                        return src
                return None

            victim = wait_for(relay_receiving, timeout=30, what="a relay under way")
            with open(os.path.join(c.dir, f"n{victim}", "cohortd.pid")) as f:
                pid = int(f.read())
            os.kill(pid, signal.SIGSTOP)
            try:
                def others_done():
                    servers = {s["id"]: s for s in show()["servers"]}
                    rest = [s for k, s in servers.items() if k != victim]
                    return servers if all(s["state"] == "completed" for s in rest) and \
                        servers[victim]["state"] == "failed" else None

                wait_for(others_done, timeout=60,
                         what="the others complete and the hung relay is failed")
                for k in range(1, 6):
                    if k != victim:
                        self.assertEqual(sha256(content(c, k, "media", "big.bin")),
                                         sha256(self.big), f"n{k}")
            finally:
                os.kill(pid, signal.SIGCONT)
            # Running again, it finds its feed closed, says so, and is repaired.
            out = cohort("job", "wait", job_id, "--timeout", "90", api=c.api(1),
                         timeout=120).stdout
            self.assertIn("completed", out)
            self.assertEqual(sha256(content(c, victim, "media", "big.bin")), sha256(self.big))

    def test_open_job_takes_files_added_while_it_runs(self):
        with DevCluster(3, BASE, upload_mbps=160) as c:
            job_id = cohort("distribute", self.big, "--dest", "live", "--open",
                            api=c.api(1)).stdout.strip()
            # Added while the first file is still on its way (D10).
            added = cohort_json("job", "add", job_id, self.tree, api=c.api(1))
            self.assertEqual(added["state"], "running")
            self.assertIn("tree/sub/b.dat", [cmd.get("path") for cmd in added["commands"]])
            again = subprocess.run([COHORT, "--api", c.api(1), "job", "add", job_id, self.big],
                                   capture_output=True, text=True, timeout=30)
            self.assertEqual(again.returncode, 1)
            self.assertIn("already in the job", again.stderr)
            cohort("job", "end", job_id, api=c.api(1))
            job = cohort_json("job", "wait", job_id, "--timeout", "60", api=c.api(1),
                              timeout=90)
            self.assertEqual(job["state"], "completed", job)
            self.assertEqual(job["commands"][-1]["kind"], "end")
            for k in (1, 2, 3):
                self.assertEqual(sha256(content(c, k, "live", "big.bin")), sha256(self.big))
                self.assertEqual(sha256(content(c, k, "live", "tree", "sub", "b.dat")),
                                 sha256(os.path.join(self.tree, "sub", "b.dat")))
            late = subprocess.run([COHORT, "--api", c.api(1), "job", "add", job_id, self.big],
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(late.returncode, 1)
            self.assertIn("has ended", late.stderr)

    def test_commands_added_while_offers_are_in_flight_reach_every_server(self):
        # D10 against a race: a source offers a server the job as it stands, and commands
        # added before the server accepts must still follow. Files are added through the
        # API back to back from the job's start, so some land between an offer and its
        # acceptance, at the base and at the relays.
        files = []
        for i in range(24):
            path = os.path.join(self.src.name, f"clip{i:02}.bin")
            with open(path, "wb") as f:
                f.write(os.urandom(2_000_000 if i == 0 else 20_000))
            files.append(path)
        with DevCluster(4, BASE) as c:
            _, status = http_get(c.api(1), "/v1/status")
            with open(os.path.join(json.loads(status)["data_dir"], "api.token")) as f:
                token = f.read().strip()

            def call(path, body):
                req = urllib.request.Request(f"http://{c.api(1)}{path}",
                                             data=json.dumps(body).encode(), method="POST",
                                             headers={"Authorization": f"Bearer {token}",
                                                      "Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    return json.loads(r.read())

            for round_ in range(3):
                dest = f"race{round_}"
                job_id = call("/v1/jobs", {"paths": [files[0]], "dest": dest, "open": True})["id"]
                for path in files[1:]:
                    call(f"/v1/jobs/{job_id}/commands", {"paths": [path]})
                call(f"/v1/jobs/{job_id}/end", {})
                job = cohort_json("job", "wait", job_id, "--timeout", "60", api=c.api(1),
                                  timeout=90)
                self.assertEqual(job["state"], "completed", job)
                for k in (1, 2, 3, 4):
                    for path in files:
                        self.assertEqual(sha256(content(c, k, dest, os.path.basename(path))),
                                         sha256(path), f"n{k} {dest}")

    def test_a_server_measured_slow_is_approached_last(self):
        # D7: the base orders a job's servers by the upload rates it measured in earlier
        # jobs. Node 2 uploads at 16 Mbit/s, the others at 200.
        small = os.path.join(self.src.name, "small.bin")
        with open(small, "wb") as f:
            f.write(os.urandom(6_000_000))
        with DevCluster(4, BASE, upload_mbps=200) as c:
            config = os.path.join(c.dir, "n2", "node.toml")
            with open(config) as f:
                text = f.read()
            self.assertIn("upload_mbps = 200", text)
            with open(config, "w") as f:
                f.write(text.replace("upload_mbps = 200", "upload_mbps = 16"))
            kill_node(c, 2)
            daemon = restart_node(c, 2)
            try:
                def all_up(k):
                    try:
                        view = cohort_json("members", api=c.api(k))
                    except AssertionError:  # its API is not up yet
                        return False
                    return sorted(m["id"] for m in view["members"] if m["state"] == "up") == \
                        [1, 2, 3, 4]
                wait_for(lambda: all_up(2) and all_up(1), timeout=30,
                         what="node 2 back in the cluster")

                def sources(job):
                    return {s["id"]: s["source"] for s in job["servers"]}
                # Unmeasured, servers are approached in the order given: 1 -> 2 -> 3, where
                # node 2's upload is measured; then 1 -> 3 -> 4, where node 3's is.
                slow = cohort_json("distribute", small, "--dest", "d7a", "--servers", "2,3",
                                   api=c.api(1), timeout=120)
                self.assertEqual(slow["state"], "completed", slow)
                self.assertEqual(sources(slow)[2], 1, slow)
                fast = cohort_json("distribute", self.big, "--dest", "d7b", "--servers", "3,4",
                                   api=c.api(1), timeout=120)
                self.assertEqual(fast["state"], "completed", fast)
                # Now node 3 is known fast, node 4 unknown (counted as fast) and node 2 slow:
                # the chain is 1 -> 3 -> 4 -> 2, and node 2 holds nobody back.
                job = cohort_json("distribute", small, "--dest", "d7c", "--servers", "2,3,4",
                                  api=c.api(1), timeout=120)
                self.assertEqual(job["state"], "completed", job)
                # Node 2 comes last: the base does not feed it and it feeds nobody. (Usually
                # from node 4, the end of the chain; under load the relay may attach it to
                # node 3 instead, as a CI run under ASan once did.)
                got = sources(job)
                self.assertEqual((got[3], got[4]), (1, 3), job)
                self.assertIn(got[2], (3, 4), job)
            finally:
                daemon.stop(timeout=20)

    def test_uploaded_files_stream_through_the_base(self):
        # D4 as a client elsewhere does it: the CLI streams the bytes through the API.
        with DevCluster(3, BASE) as c:
            job = cohort_json("distribute", self.big, self.tree, "--dest", "up", "--upload",
                              api=c.api(1), timeout=120)
            self.assertEqual(job["state"], "completed", job)
            self.assertEqual(job["upload_bytes"], job["size"])
            for k in (1, 2, 3):
                self.assertEqual(sha256(content(c, k, "up", "big.bin")), sha256(self.big))
                for name in ("a.txt", "sub/b.dat"):
                    got = os.stat(content(c, k, "up", "tree", name))
                    src = os.stat(os.path.join(self.tree, name))
                    self.assertEqual(oct(got.st_mode & 0o7777), oct(src.st_mode & 0o7777))
                    self.assertEqual(int(got.st_mtime), int(src.st_mtime))
                    self.assertEqual(sha256(content(c, k, "up", "tree", name)),
                                     sha256(os.path.join(self.tree, name)))

    # An upload job through the API, as a client elsewhere makes one: one file "clip.bin".
    def start_upload(self, c, data, mode=0o644):
        entry = {"kind": "file", "path": "clip.bin", "size": len(data), "mode": mode,
                 "mtime_ns": 1700000000 * 10**9}
        status, job = http_call(c.api(1), "POST", "/v1/jobs", json.dumps(
            {"dest": "live", "upload": True, "entries": [entry]}).encode())
        self.assertEqual(status, 201, job)
        return job["id"], entry

    # PUTs data[start:end] in 500 kB requests; the last answer.
    def put(self, c, job_id, data, start, end):
        for at in range(start, end, 500000):
            status, r = http_call(c.api(1), "PUT", f"/v1/jobs/{job_id}/stream?offset={at}",
                                  data[at:min(at + 500000, end)], "application/octet-stream")
            self.assertEqual(status, 200, r)
        return r

    # Waits for the job to complete and checks that every node holds `data` as clip.bin.
    def assert_clip_everywhere(self, c, job_id, data, nodes=(1, 2, 3)):
        done = cohort_json("job", "wait", job_id, "--timeout", "60", api=c.api(1), timeout=90)
        self.assertEqual(done["state"], "completed", done)
        want = hashlib.sha256(data).hexdigest()
        for k in nodes:
            self.assertEqual(sha256(content(c, k, "live", "clip.bin")), want, f"n{k}")

    def test_upload_is_pipelined_and_resumes_at_the_base_offset(self):
        with DevCluster(3, BASE) as c:
            data = os.urandom(6 * 1000 * 1000)
            job_id, entry = self.start_upload(c, data, mode=0o640)
            stream = f"/v1/jobs/{job_id}/stream"
            half = len(data) // 2
            self.assertEqual(self.put(c, job_id, data, 0, half)["upload_bytes"], half)

            # Pipelined: the servers receive while the client has not sent the rest.
            def relayed():
                _, doc = http_call(c.api(1), "GET", f"/v1/jobs/{job_id}")
                return all(s["bytes"] > 0 for s in doc["servers"] if s["id"] != 1)
            wait_for(relayed, timeout=30, what="the servers to receive the first half")
            # A gap is refused with the offset to resume from; a repeat is harmless.
            status, r = http_call(c.api(1), "PUT", f"{stream}?offset={half + 10}", b"x",
                                  "application/octet-stream")
            self.assertEqual((status, r["upload_bytes"]), (409, half), r)
            status, r = http_call(c.api(1), "PUT", f"{stream}?offset=0", data[:1000],
                                  "application/octet-stream")
            self.assertEqual((status, r["upload_bytes"]), (200, half), r)
            last = len(data) - 100000
            self.put(c, job_id, data, half, last)
            status, r = http_call(c.api(1), "PUT", f"{stream}?offset={last}",
                                  data[last:] + b"extra", "application/octet-stream")
            self.assertEqual(status, 400, r)
            status, r = http_call(c.api(1), "PUT", f"{stream}?offset={last}", data[last:],
                                  "application/octet-stream")
            self.assertEqual((status, r["upload_bytes"]), (200, len(data)), r)
            self.assert_clip_everywhere(c, job_id, data)
            for k in (1, 2, 3):
                st = os.stat(content(c, k, "live", "clip.bin"))
                self.assertEqual((st.st_mode & 0o7777, int(st.st_mtime)), (0o640, 1700000000))
            # Entries that lead out of the destination are refused.
            bad = dict(entry, path="../escape")
            status, r = http_call(c.api(1), "POST", "/v1/jobs", json.dumps(
                {"dest": "live", "upload": True, "entries": [bad]}).encode())
            self.assertEqual(status, 400, r)

    def test_restarted_base_takes_the_rest_of_an_upload(self):
        with DevCluster(3, BASE) as c:
            data = os.urandom(4 * 1000 * 1000)
            job_id, _ = self.start_upload(c, data)
            self.put(c, job_id, data, 0, 2000000)
            kill_node(c, 1)
            daemon = restart_node(c, 1)
            try:
                # It kept what it had written, and says where the client goes on from.
                doc = wait_for(lambda: http_call(c.api(1), "GET", f"/v1/jobs/{job_id}")[1],
                               timeout=30, what="the restarted base to answer")
                self.assertEqual(doc["state"], "running", doc)
                self.assertEqual(doc["upload_bytes"], 2000000)
                self.assertEqual(self.put(c, job_id, data, 2000000, len(data))["upload_bytes"],
                                 len(data))
                self.assert_clip_everywhere(c, job_id, data)
            finally:
                daemon.stop(timeout=20)

    def test_abandoned_upload_is_cancelled_and_an_open_job_by_the_operator(self):
        with DevCluster(3, BASE, upload_idle_s=3) as c:
            # An open upload job that holds all it was given is not abandoned, however long
            # its client waits before adding more (checked below, once 3 s have passed).
            part1, part2 = os.urandom(100000), os.urandom(200000)
            entry = {"kind": "file", "path": "p1.bin", "size": len(part1), "mode": 0o644,
                     "mtime_ns": 1700000000 * 10**9}
            status, waiting = http_call(c.api(1), "POST", "/v1/jobs", json.dumps(
                {"dest": "parts", "upload": True, "open": True, "entries": [entry]}).encode())
            self.assertEqual(status, 201, waiting)
            self.put(c, waiting["id"], part1, 0, len(part1))

            data = os.urandom(4 * 1000 * 1000)
            job_id, _ = self.start_upload(c, data)
            self.put(c, job_id, data, 0, 2000000)

            def partials():
                return [k for k in (1, 2, 3)
                        if os.path.exists(content(c, k, "live", ".clip.bin.cohort-part"))]
            wait_for(lambda: partials() == [1, 2, 3], timeout=30,
                     what="every node holding part of the upload")
            # The client goes away: 3 s later the base cancels the job everywhere.
            doc = wait_for(lambda: (lambda d: d if d["final"] else None)(
                http_call(c.api(1), "GET", f"/v1/jobs/{job_id}")[1]), timeout=30,
                what="the abandoned upload to be cancelled")
            self.assertEqual(doc["state"], "failed", doc)
            self.assertIn("upload abandoned", doc["error"])
            self.assertTrue(all(s["state"] == "failed" and "upload abandoned" in s["error"]
                                for s in doc["servers"]), doc)
            wait_for(lambda: partials() == [], timeout=30, what="the partial files deleted")
            status, r = http_call(c.api(1), "PUT", f"/v1/jobs/{job_id}/stream?offset=2000000",
                                  data[2000000:2100000], "application/octet-stream")
            self.assertEqual(status, 400, r)
            self.assertIn("upload abandoned", r["error"])
            # The open job's client comes back after more than upload_idle_s with a file.
            status, doc = http_call(c.api(1), "GET", f"/v1/jobs/{waiting['id']}")
            self.assertGreater(doc["elapsed_s"], 3)
            status, r = http_call(c.api(1), "POST", f"/v1/jobs/{waiting['id']}/commands",
                                  json.dumps({"upload": True, "entries": [
                                      dict(entry, path="p2.bin", size=len(part2))]}).encode())
            self.assertEqual(status, 200, r)
            # Its bytes may take a moment: the job is not cancelled for the old silence.
            added_at = r["elapsed_s"]
            doc = wait_for(lambda: (lambda d: d if d["elapsed_s"] > added_at + 0.6 else None)(
                http_call(c.api(1), "GET", f"/v1/jobs/{waiting['id']}")[1]), timeout=10,
                what="two ticks of the base after the addition")
            self.assertEqual(doc["state"], "running", doc)
            self.put(c, waiting["id"], part1 + part2, len(part1), len(part1) + len(part2))
            status, r = http_call(c.api(1), "POST", f"/v1/jobs/{waiting['id']}/end")
            self.assertEqual(status, 200, r)
            done = cohort_json("job", "wait", waiting["id"], "--timeout", "60", api=c.api(1),
                               timeout=90)
            self.assertEqual(done["state"], "completed", done)
            self.assertEqual(sha256(content(c, 3, "parts", "p2.bin")),
                             hashlib.sha256(part2).hexdigest())

            # An open job holds its files everywhere but never ends: the operator cancels it;
            # what was installed stays.
            open_id = cohort("distribute", os.path.join(self.tree, "a.txt"), "--dest", "open",
                             "--open", "--no-wait", api=c.api(1)).stdout.strip()
            wait_for(lambda: all(os.path.exists(content(c, k, "open", "a.txt"))
                                 for k in (1, 2, 3)), timeout=30, what="a.txt everywhere")
            done = cohort_json("job", "cancel", open_id, api=c.api(1))
            self.assertEqual((done["state"], done["final"]), ("failed", True), done)
            self.assertEqual(done["error"], "cancelled by the operator")
            r = subprocess.run([COHORT, "--api", c.api(1), "job", "cancel", open_id],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("has ended", r.stderr)
            for k in (1, 2, 3):
                self.assertEqual(sha256(content(c, k, "open", "a.txt")),
                                 sha256(os.path.join(self.tree, "a.txt")))

    def test_a_server_down_during_a_cancel_deletes_its_partial_file_once_back(self):
        with DevCluster(3, BASE) as c:
            data = os.urandom(4 * 1000 * 1000)
            job_id, _ = self.start_upload(c, data)
            self.put(c, job_id, data, 0, 2000000)
            partial = {k: content(c, k, "live", ".clip.bin.cohort-part") for k in (1, 2, 3)}
            wait_for(lambda: all(os.path.exists(p) for p in partial.values()), timeout=30,
                     what="every node holding part of the upload")
            kill_node(c, 3)
            done = cohort_json("job", "cancel", job_id, api=c.api(1))
            self.assertEqual((done["state"], done["final"]), ("failed", True), done)
            wait_for(lambda: not os.path.exists(partial[1]) and not os.path.exists(partial[2]),
                     timeout=30, what="the partial files deleted on the nodes that are up")
            self.assertTrue(os.path.exists(partial[3]))
            # Back up, node 3 holds nothing of the job in memory; the base's next attempt
            # to tell it (every wait period) finds the job's files from its manifest copy.
            daemon = restart_node(c, 3)
            try:
                wait_for(lambda: not os.path.exists(partial[3]), timeout=60,
                         what="node 3's partial file deleted after its restart")
                self.assertEqual(os.listdir(os.path.join(c.dir, "n3", "content", "live")), [])
            finally:
                daemon.stop(timeout=20)

    def test_restarted_base_resumes_tracking(self):
        with DevCluster(4, BASE, upload_mbps=160) as c:
            job_id = cohort("distribute", self.big, "--dest", "media", "--no-wait",
                            api=c.api(1)).stdout.strip()

            def furthest():
                job = cohort_json("job", "show", job_id, api=c.api(1))
                return max(s["bytes"] for s in job["servers"] if s["id"] != 1)

            wait_for(lambda: furthest() > 10 * 1000 * 1000, timeout=30, what="progress")
            kill_node(c, 1)
            daemon = restart_node(c, 1)
            try:
                wait_for(lambda: subprocess.run(
                    [COHORT, "--api", c.api(1), "job", "show", job_id],
                    capture_output=True, timeout=10).returncode == 0,
                    timeout=30, what="the restarted base to answer")
                job = cohort_json("job", "wait", job_id, "--timeout", "90", api=c.api(1),
                                  timeout=120)
                self.assertEqual(job["state"], "completed", job)
                for k in range(1, 5):
                    self.assertEqual(sha256(content(c, k, "media", "big.bin")),
                                     sha256(self.big), f"n{k}")
                with open(os.path.join(c.dir, "n1", "restart.log")) as log:
                    self.assertIn("tracking a job again after a restart", log.read())
            finally:
                daemon.stop(timeout=20)

    def test_a_folder_of_more_files_than_open_file_descriptors(self):
        # Daemons limited to 128 open files still take a job of 400: a file's descriptor is
        # held only while it is received or read for a downstream server.
        tree = os.path.join(self.src.name, "many")
        os.makedirs(tree)
        for i in range(400):
            with open(os.path.join(tree, f"f{i:03}.txt"), "w") as f:
                f.write(f"file {i}\n" * (i + 1))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))
        try:
            c = DevCluster(3, BASE).__enter__()  # its daemons keep the limit they start with
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        try:
            job = cohort_json("distribute", tree, "--dest", "lots", api=c.api(1), timeout=120)
            self.assertEqual(job["state"], "completed")
            for k in (1, 2, 3):
                names = sorted(os.listdir(content(c, k, "lots", "many")))
                self.assertEqual(len(names), 400, f"n{k}")
                self.assertEqual(sha256(content(c, k, "lots", "many", "f399.txt")),
                                 sha256(os.path.join(tree, "f399.txt")))
            # A server down during the job is repaired from a completed one afterwards, which
            # reads its 400 installed files again, one at a time.
            kill_node(c, 3)
            job_id = cohort("distribute", tree, "--dest", "again", "--servers", "1,2,3",
                            "--no-wait", api=c.api(1)).stdout.strip()
            wait_for(lambda: cohort_json("job", "show", job_id, api=c.api(1))["state"]
                     == "failed", timeout=60, what="node 3 reported failed")
            daemon = restart_node(c, 3)
            try:
                out = cohort("job", "wait", job_id, "--timeout", "90", api=c.api(1),
                             timeout=120).stdout
                self.assertIn("completed", out)
                self.assertEqual(len(os.listdir(content(c, 3, "again", "many"))), 400)
            finally:
                daemon.stop(timeout=20)
        finally:
            c.__exit__(None, None, None)

    def test_finished_jobs_are_forgotten_yet_answered_and_repaired(self):
        def held(k):
            return metrics(c.api(k))["cohort_distribution_jobs_held"]
        with DevCluster(3, BASE, forget_after_s=1) as c:
            first = cohort_json("distribute", self.tree, "--dest", "f", api=c.api(1))
            self.assertEqual(first["state"], "completed")
            wait_for(lambda: all(held(k) == 0 for k in (1, 2, 3)), timeout=30,
                     what="every daemon to forget the finished job")
            shown = cohort_json("job", "show", first["id"], api=c.api(1))
            self.assertEqual((shown["state"], shown["final"]), ("completed", True))
            self.assertIn(first["id"], [j["id"] for j in
                                        cohort_json("job", "list", api=c.api(1))["jobs"]])
            # Node 3 is down for a job; node 2 completes it and forgets it. Node 3, back,
            # is to be repaired from node 2, which no longer knows the job: the base feeds it.
            kill_node(c, 3)
            job_id = cohort("distribute", self.tree, "--dest", "g", "--servers", "1,2,3",
                            "--no-wait", api=c.api(1)).stdout.strip()
            wait_for(lambda: cohort_json("job", "show", job_id, api=c.api(1))["state"]
                     == "failed", timeout=60, what="node 3 reported failed")
            wait_for(lambda: held(2) == 0, timeout=30, what="node 2 to forget the job")
            daemon = restart_node(c, 3)
            try:
                out = cohort("job", "wait", job_id, "--timeout", "90", api=c.api(1),
                             timeout=120).stdout
                self.assertIn("completed", out)
                self.assertEqual(sha256(content(c, 3, "g", "tree", "sub", "b.dat")),
                                 sha256(os.path.join(self.tree, "sub", "b.dat")))
            finally:
                daemon.stop(timeout=20)

    def test_escapes_from_the_content_root_are_refused(self):
        with DevCluster(2, BASE) as c:
            os.symlink("/etc", content(c, 2, "outside"))
            for path in ("../x", "/etc/passwd", "a/../../x", "outside", "outside/passwd"):
                r = subprocess.run([COHORT, "--api", c.api(1), "ctp", "stat", "2", path],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 1, path)
                self.assertIn("content root" if "outside" in path or ".." in path
                              else "absolute", r.stderr)
            r = subprocess.run([COHORT, "--api", c.api(1), "distribute", self.big, "--dest",
                                "../up"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("leads out of the content root", r.stderr)
            # Within the root, CTP works both ways with attributes.
            cohort("ctp", "put", "2", "inbox/a.txt", "--from",
                   os.path.join(self.tree, "a.txt"), api=c.api(1))
            st = os.stat(content(c, 2, "inbox", "a.txt"))
            self.assertEqual(st.st_mode & 0o7777, 0o750)
            self.assertEqual(int(st.st_mtime), 1600000000)
            listing = cohort_json("ctp", "ls", "2", "inbox", api=c.api(1))
            self.assertEqual([e["name"] for e in listing], ["a.txt"])


if __name__ == "__main__":
    unittest.main()
