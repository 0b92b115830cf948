"""The media workload on 5 real daemons (W1, W2, M13): the catalog of each node's content,
sessions placed through any node's API and served by the chosen node with byte ranges,
admission at capacity, hundreds of concurrent streams within every node's capacity, and a
viewer that resumes on another node when its node is killed, with the bytes it assembles
matching the source's digest. Real clients: curl, ffprobe/ffmpeg, and headless Chromium
playing a <video>."""
import contextlib
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest
import urllib.parse

from browser import Browser, BrowserError, artifacts_dir, served_page
from harness import COHORT, DevCluster, cohort, cohort_json, http_get, restart, stop, wait_for

BASE = 25000  # transport 25001.., API 25101.., streams 25601..
NODES = 5
CAPACITY_MBPS = 300


def write_file(path, size, seed):
    """`size` reproducible random bytes (so that a chunk at a wrong offset never matches);
    their SHA-256."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = random.Random(seed).randbytes(size)
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def get(address, target, headers=None, method="GET"):
    """One request to `address` (host:port): (status, headers, body)."""
    host, port = address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, target, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def split_url(url):
    u = urllib.parse.urlsplit(url)
    return u.netloc, u.path + ("?" + u.query if u.query else "")


class PacedViewer:
    """A player reading `name` through the cluster: placed through the test's API, then 16
    KiB every 0.1 s through a small receive buffer (so the node cannot run far ahead), every
    chunk checked against `data`. At the kill, if its node is the one killed, it asks node 2
    again with its session, offset and the node it left, and reads the rest there with a
    range at full speed; any other viewer stops there. `error`: what went wrong."""

    class Kill:
        def __init__(self):
            self.victim, self.event = None, threading.Event()

        def now(self, victim):
            self.victim = victim
            self.event.set()  # before the kill: a break from now on is the kill's

    def __init__(self, test, name, data, kbps, kill):
        self.test, self.name, self.data, self.kbps, self.kill = test, name, data, kbps, kill
        self.nodes, self.offset, self.at_kill, self.etag, self.error = [], 0, 0, None, None

    def run(self):
        try:
            doc = self.test.place_when_ready(self.name, bitrate_kbps=self.kbps)
            session = doc["session"]
            self.nodes.append(doc["node"])
            broke = self.read_from(doc["url"])
            if broke and not self.kill.event.is_set():
                raise AssertionError(f"node {self.nodes[0]} broke off before the kill")
            while self.offset < len(self.data) and self.nodes[0] == self.kill.victim:
                if len(self.nodes) == 4:
                    raise AssertionError(f"still short after {self.nodes}")
                again = self.test.place_when_ready(self.name, session=session,
                                                   offset=self.offset, avoid=self.nodes[-1],
                                                   bitrate_kbps=self.kbps)
                if again["session"] != session:
                    raise AssertionError(f"a new session {again['session']}")
                self.nodes.append(again["node"])
                self.read_from(again["url"])
        except Exception as e:  # noqa: BLE001 - the test reports it
            self.error = f"{self.nodes}: {e}"

    def read_from(self, url):
        """Reads from `url` at the offset reached; whether the connection broke."""
        server, target = split_url(url)
        host, port = server.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.connect()
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            headers = {"Range": f"bytes={self.offset}-"}
            if self.etag:
                headers["If-Range"] = self.etag
            conn.request("GET", target, headers=headers)
            r = conn.getresponse()
            if r.status != 206:
                raise AssertionError(f"{server} answered {r.status}")
            self.etag = self.etag or r.getheader("ETag")
            while chunk := r.read((256 if self.kill.event.is_set() else 16) << 10):
                if chunk != self.data[self.offset:self.offset + len(chunk)]:
                    raise AssertionError(f"wrong bytes at {self.offset}")
                self.offset += len(chunk)
                if self.kill.event.is_set():
                    if self.nodes[0] != self.kill.victim:
                        return False
                else:
                    time.sleep(0.1)
            return self.offset < len(self.data)
        except (OSError, http.client.HTTPException):
            return True
        finally:
            conn.close()


class StreamsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = DevCluster(NODES, BASE, adapters=1, registry=0, streams=True,
                           stream_capacity_mbps=CAPACITY_MBPS).__enter__()
        cls.files = {}
        root = lambda k: os.path.join(cls.c.dir, f"n{k}", "content")
        # movie: 3 holders; clip: every node; only4: node 4.
        for k in (1, 2, 3):
            cls.files["movies/movie.bin"] = write_file(
                os.path.join(root(k), "movies/movie.bin"), 24 << 20, 1)
        for k in range(1, NODES + 1):
            cls.files["clip.bin"] = write_file(os.path.join(root(k), "clip.bin"), 256 << 10, 2)
        cls.files["only4.bin"] = write_file(os.path.join(root(4), "only4.bin"), 4096, 3)
        cls.api = cls.c.api(2)  # any node's API will do

        def listed():
            doc = cohort_json("content", "list", api=cls.api)
            got = {i["path"]: sum(h["state"] == "available" for h in i["holders"])
                   for i in doc["items"]}
            return got == {"movies/movie.bin": 3, "clip.bin": NODES, "only4.bin": 1}
        wait_for(listed, timeout=60, what="every node's content in the catalog")

    restarted = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.restarted:
            stop(p)
        cls.c.__exit__(None, None, None)

    def pid_of(self, k):
        """Node k's daemon, as it wrote its pid (a node this test restarted has a new one)."""
        with open(os.path.join(self.c.dir, f"n{k}", "cohortd.pid")) as f:
            return int(f.read())

    def place(self, path, **params):
        q = urllib.parse.urlencode(params)
        status, headers, body = get(self.api, f"/v1/streams/{path}" + (f"?{q}" if q else ""),
                                    {"Accept": "application/json"})
        return status, headers, json.loads(body)

    def test_the_catalog_names_every_copy_with_its_digest(self):
        doc = cohort_json("content", "list", api=self.c.api(5))
        for item in doc["items"]:
            if item["path"] in self.files:  # not media/tone.webm, made with ffmpeg
                self.assertEqual(item["digest"], self.files[item["path"]], item["path"])
        where = cohort_json("content", "where", "movies/movie.bin", api=self.api)
        self.assertEqual(sorted(h["node"] for h in where["holders"]), [1, 2, 3])
        self.assertEqual(sorted(h["rank"] for h in where["holders"]), [0, 1, 2])
        p = cohort("content", "where", "nothing/here.mp4", api=self.api, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no node holds", p.stderr)

    def test_a_redirect_to_a_holder_serves_ranges_and_the_exact_bytes(self):
        status, headers, body = get(self.api, "/v1/streams/movies/movie.bin")
        self.assertEqual(status, 302)
        location = headers["location"]
        doc = json.loads(body)
        self.assertIn(doc["node"], (1, 2, 3))
        self.assertEqual(location, doc["url"])
        server, target = split_url(location)
        status, h, part = get(server, target, {"Range": "bytes=100-199"})
        self.assertEqual(status, 206)
        self.assertEqual(h["content-range"], f"bytes 100-199/{24 << 20}")
        self.assertEqual(h["etag"], f'"sha256-{self.files["movies/movie.bin"]}"')
        path = os.path.join(self.c.dir, "n1", "content", "movies/movie.bin")
        with open(path, "rb") as f:
            f.seek(100)
            self.assertEqual(part, f.read(100))
        status, h, _ = get(server, target, {"Range": f"bytes={24 << 20}-"})
        self.assertEqual(status, 416)
        self.assertEqual(h["content-range"], f"bytes */{24 << 20}")
        status, h, _ = get(server, target, method="HEAD")
        self.assertEqual((status, int(h["content-length"])), (200, 24 << 20))
        # HEAD on the API (curl -I): the redirect's headers, and the length its body would have.
        status, h, body = get(self.api, "/v1/streams/movies/movie.bin", method="HEAD")
        self.assertEqual((status, body), (302, b""))
        self.assertIn("/media/movies/movie.bin?session=", h["location"])
        self.assertGreater(int(h["content-length"]), 0)
        # curl follows the redirect from the API to the node, as a player does.
        out = os.path.join(self.c.dir, "curl.bin")
        subprocess.run(["curl", "-sfL", "-o", out, f"http://{self.api}/v1/streams/movies/movie.bin"],
                       check=True, timeout=60)
        with open(out, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), self.files["movies/movie.bin"])
        # And with a range, as a player seeking: the bytes at that offset, through the redirect.
        part = subprocess.run(["curl", "-sfL", "-r", "1000000-1000099",
                               f"http://{self.api}/v1/streams/movies/movie.bin"],
                              capture_output=True, check=True, timeout=60).stdout
        with open(path, "rb") as f:
            f.seek(1000000)
            self.assertEqual(part, f.read(100))
        # Paths that are not content are refused, by the API and by the media server.
        self.assertEqual(get(self.api, "/v1/streams/../etc/passwd")[0], 400)
        self.assertEqual(get(server, "/media/..%2Fetc%2Fpasswd")[0], 400)
        self.assertEqual(get(server, "/media/nothing.bin")[0], 404)
        self.assertEqual(get(self.api, "/v1/streams/nothing.bin")[0], 404)

    def test_a_node_at_capacity_refuses_with_retry_after(self):
        kbps = CAPACITY_MBPS * 1000 // 3
        sessions = [self.place("only4.bin", bitrate_kbps=kbps) for _ in range(3)]
        for status, _, doc in sessions:
            self.assertEqual((status, doc["node"]), (200, 4))
        status, headers, doc = self.place("only4.bin", bitrate_kbps=kbps)
        self.assertEqual(status, 503)
        self.assertEqual(headers["retry-after"], "1")
        self.assertIn("no node holding 'only4.bin' has capacity: node 4", doc["error"])
        self.assertEqual(doc["holders"][0]["node"], 4)

    @contextlib.contextmanager
    def capacity_watch(self, api=None):
        """Samples every node's load against its capacity every 0.1 s while the block runs;
        yields the list of overloads seen."""
        overloads, stop = [], threading.Event()

        def watch():
            while not stop.is_set():
                try:
                    doc = json.loads(http_get(api or self.api, "/v1/streams")[1])
                    for n in doc["nodes"]:
                        if n["capacity_kbps"] and n["load_kbps"] > n["capacity_kbps"]:
                            overloads.append(n)
                except Exception:  # noqa: BLE001 - a read that fails is not an overload
                    pass
                stop.wait(0.1)
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            yield overloads
        finally:
            stop.set()
            watcher.join()

    def place_when_ready(self, path, api=None, **params):
        """A placement as a player asks for one: again when told to (503 with Retry-After, as
        while a supervisor that just took over gathers the catalog), at most 20 times."""
        q = urllib.parse.urlencode(params)
        for _ in range(20):
            status, headers, body = get(api or self.api, f"/v1/streams/{path}?{q}",
                                        {"Accept": "application/json"})
            if status != 503 or "retry-after" not in headers:
                break
            time.sleep(float(headers["retry-after"]) / 4)
        if status != 200:
            raise AssertionError(f"placement {status}: {body[:300]!r}")
        return json.loads(body)

    def test_many_concurrent_streams_stay_within_every_nodes_capacity(self):
        count, kbps = 500, 2000  # 1 Gbit/s of 1.5
        placed, failures, lock = [], [], threading.Lock()

        def viewer(i):
            try:
                doc = self.place_when_ready("clip.bin", bitrate_kbps=kbps)
                server, target = split_url(doc["url"])
                host, port = server.split(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=20)
                conn.request("GET", target, headers={"Range": "bytes=0-"})
                r = conn.getresponse()
                h = hashlib.sha256()
                while True:  # a player's pace: a chunk, then a pause
                    chunk = r.read(64 << 10)
                    if not chunk:
                        break
                    h.update(chunk)
                    time.sleep(0.05)
                conn.close()
                if h.hexdigest() != self.files["clip.bin"]:
                    raise AssertionError("digest mismatch")
                with lock:
                    placed.append(doc["node"])
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    failures.append(f"viewer {i}: {e}")

        with self.capacity_watch() as overloads:
            threads = [threading.Thread(target=viewer, args=(i,)) for i in range(count)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        self.assertEqual(failures, [])
        self.assertEqual(len(placed), count)
        self.assertEqual(overloads, [])
        per_node = {n: placed.count(n) for n in set(placed)}
        # Capacity alone allows 150 a node; the bound spreads them.
        self.assertTrue(all(v <= 150 for v in per_node.values()), per_node)

    def test_viewers_of_a_killed_node_all_resume_elsewhere_with_every_byte(self):
        # 500 viewers read an 8 MiB title at a player's pace; once every one is reading, the
        # node serving most of them (neither the supervisor nor node 2, the API they ask) is
        # killed. Its viewers resume elsewhere; the others stop there (they were the load).
        name, size, count = "mass.bin", 8 << 20, 500
        for k in range(1, NODES + 1):
            write_file(os.path.join(self.c.dir, f"n{k}", "content", name), size, 5)
        with open(os.path.join(self.c.dir, "n1", "content", name), "rb") as f:
            data = f.read()
        wait_for(lambda: sum(h["state"] == "available" for h in cohort_json(
            "content", "where", name, api=self.api)["holders"]) == NODES,
            timeout=30, what=f"{name} on every node in the catalog")
        supervisor = cohort_json("status", api=self.api)["supervisor"]
        kill = PacedViewer.Kill()
        viewers = [PacedViewer(self, name, data, 2000, kill) for _ in range(count)]
        with self.capacity_watch() as overloads:
            threads = [threading.Thread(target=v.run) for v in viewers]
            for t in threads:
                t.start()
            wait_for(lambda: all(v.offset or v.error for v in viewers), timeout=60,
                     what="every viewer reading")
            doc = json.loads(http_get(self.api, "/v1/streams")[1])
            load = {n["node"]: n["sessions"] for n in doc["nodes"]}
            victim = max((k for k in load if k not in (supervisor, 2)), key=lambda k: load[k])
            for v in viewers:
                v.at_kill = v.offset
            kill.now(victim)
            os.kill(self.pid_of(victim), signal.SIGKILL)
            self.addCleanup(self.bring_back, victim)
            for t in threads:
                t.join(120)
        self.assertEqual([v.error for v in viewers if v.error][:5], [])
        moved = [v for v in viewers if v.nodes[0] == victim]
        self.assertGreater(len(moved), 0)
        for v in moved:  # every byte, each checked as it came
            self.assertEqual(v.offset, size, v.nodes)
            self.assertNotIn(victim, v.nodes[1:])
        # Those that had more left than the sockets' buffers can hold had to resume.
        self.assertTrue(all(len(v.nodes) > 1 for v in moved if size - v.at_kill > 4 << 20))
        self.assertEqual(overloads, [])
        print(f"\n{sum(len(v.nodes) > 1 for v in moved)} of the {len(moved)} viewers of node "
              f"{victim} resumed elsewhere, every byte right", flush=True)

    def test_viewers_that_leave_mid_body_do_not_harm_the_node(self):
        # Each reads the start of the 24 MiB movie and closes with the rest unread: the node's
        # next sendfile meets a reset connection (EPIPE, and a SIGPIPE the node must not die of).
        status, _, doc = self.place("movies/movie.bin")
        self.assertEqual(status, 200)
        server, target = split_url(doc["url"])
        host, port = server.split(":")
        for _ in range(20):
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", target)
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertTrue(r.read(64 << 10))
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            r.close()
            conn.close()
        os.kill(self.pid_of(doc["node"]), 0)  # raises if the node is gone
        status, _, body = get(server, target, {"Range": "bytes=0-9"})
        self.assertEqual((status, len(body)), (206, 10))

    @unittest.skipUnless(shutil.which("wrk"), "wrk is not installed (scripts/deps)")
    def test_a_node_reports_more_sessions_than_one_message_holds(self):
        # Thousands of short sessions (a byte each, then 5 s of linger) with long paths: the
        # node's report takes several pages (about 1,500 sessions each here), sent 100 ms
        # apart, and the supervisor counts the sessions of every page.
        name = "long/" + "x" * 200 + ".bin"
        write_file(os.path.join(self.c.dir, "n5", "content", name), 1024, 4)
        wait_for(lambda: cohort_json("content", "where", name, api=self.api)["holders"],
                 timeout=30, what="the long-named file in the catalog")
        script = os.path.join(self.c.dir, "sessions.lua")
        with open(script, "w") as f:
            f.write('n = 0\nrequest = function()\n  n = n + 1\n'
                    f'  return wrk.format("GET", "/media/{name}?kbps=1&session=" .. (7000000 + n),'
                    ' {["Range"] = "bytes=0-0"})\nend\n')
        out = subprocess.run(["wrk", "-t1", "-c8", "-d1s", "-s", script,
                              f"http://127.0.0.1:{BASE + 600 + 5}"],
                             capture_output=True, text=True, timeout=60).stdout
        made = int(re.search(r"(\d+) requests in", out).group(1))
        self.assertNotIn("Non-2xx", out)

        def counted():
            doc = json.loads(http_get(self.api, "/v1/streams?node=5")[1])
            return doc["nodes"][0]["sessions"]
        # Each session lingers 5 s after its byte: the whole report must come before the
        # first ones end.
        most = []
        wait_for(lambda: most.append(counted()) or most[-1] >= 0.9 * made, timeout=4,
                 what=f"the supervisor counting the {made} sessions (counts {most[-8:]})")
        print(f"\n{made} sessions on node 5, {max(most)} counted by the supervisor", flush=True)
        if made > 3000:
            self.assertNotIn("session report truncated",
                             open(os.path.join(self.c.dir, "n5", "cohortd.log")).read())
        wait_for(lambda: counted() < 100, timeout=30, what="the short sessions to end")

    def test_a_viewer_resumes_on_another_node_when_its_node_is_killed(self):
        size = 24 << 20
        status, _, doc = self.place("movies/movie.bin", bitrate_kbps=8000)
        self.assertEqual(status, 200)
        session, first = doc["session"], doc["node"]
        server, target = split_url(doc["url"])
        host, port = server.split(":")
        got = bytearray()
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", target)
        r = conn.getresponse()
        if r.status != 200:
            self.fail(f"the stream answered {r.status}: {r.read(4096)!r}")
        etag = r.getheader("ETag")
        while len(got) < size // 4:
            chunk = r.read(256 << 10)
            self.assertTrue(chunk, f"the stream ended at {len(got)} of {size} bytes")
            got += chunk
        os.kill(self.pid_of(first), signal.SIGKILL)  # the node serving it dies
        killed = time.monotonic()
        self.addCleanup(self.bring_back, first)  # even if what follows fails
        try:
            while True:
                chunk = r.read(256 << 10)
                if not chunk:
                    break
                got += chunk
        except (OSError, http.client.HTTPException):
            pass
        conn.close()
        # Back to any node's API with the session, the offset and the node left.
        api = self.c.api(5 if first != 5 else 4)

        def ask():  # as a player does, again on a 503 (the killed node may have supervised)
            answer = get(api, f"/v1/streams/movies/movie.bin?session={session}"
                         f"&offset={len(got)}&avoid={first}", {"Accept": "application/json"})
            return answer if answer[0] != 503 else None
        status, _, again = wait_for(ask, timeout=15, what="a placement after the kill")
        self.assertEqual(status, 200, again)
        again = json.loads(again)
        self.assertEqual(again["session"], session)
        self.assertNotEqual(again["node"], first)
        server, target = split_url(again["url"])
        status, h, rest = get(server, target, {"Range": f"bytes={len(got)}-", "If-Range": etag})
        resumed = time.monotonic() - killed
        self.assertEqual(status, 206)
        got += rest
        self.assertEqual(hashlib.sha256(got).hexdigest(), self.files["movies/movie.bin"],
                         f"{len(got)} bytes, resumed from {len(got) - len(rest)}")
        self.assertLess(resumed, 5.0)
        print(f"\nresumed on node {again['node']} {resumed * 1000:.0f} ms after node {first} "
              f"was killed", flush=True)

    def bring_back(self, k):
        """Starts node k again and waits for its copies: the tests after this one need it."""
        self.__class__.restarted.append(restart(self.c, k))
        for path in ("movies/movie.bin", "clip.bin"):  # clip.bin is on every node
            wait_for(lambda: all(h["state"] == "available" for h in cohort_json(
                "content", "where", path, api=self.api)["holders"]),
                timeout=60, what=f"node {k}'s copies available again")

    def test_the_cli_client_resumes_by_itself_when_its_node_is_killed(self):
        out = os.path.join(self.c.dir, "got.bin")
        # At 40 Mbit/s the 24 MiB take about 5 s: time to kill its node on the way. Its
        # session is the one at 7,777 kbit/s.
        client = subprocess.Popen(
            [COHORT, "--api", self.c.api(4), "--json",
             "stream", "get", "movies/movie.bin", "--out", out, "--max-kbps", "40000",
             "--bitrate-kbps", "7777"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def serving():
            doc = json.loads(http_get(self.api, "/v1/streams")[1])
            return next((s["node"] for s in doc["sessions"] if s["bitrate_kbps"] == 7777), None)
        try:
            wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 4 << 20,
                     timeout=30, what="the download under way")
            first = wait_for(serving, timeout=10, what="the download's session listed")
            os.kill(self.pid_of(first), signal.SIGKILL)
            self.addCleanup(self.bring_back, first)
            stdout, stderr = client.communicate(timeout=60)
        finally:
            if client.poll() is None:
                client.kill()
        self.assertEqual(client.returncode, 0, stderr)
        doc = json.loads(stdout)
        self.assertTrue(doc["verified"])
        self.assertEqual(doc["sha256"], self.files["movies/movie.bin"])
        self.assertEqual(doc["nodes"][0], first)
        self.assertGreaterEqual(doc["resumes"], 1)
        self.assertNotIn(first, doc["nodes"][1:])

    def make_media(self, path, nodes, source, *codec):
        """A real media file made by ffmpeg from a lavfi `source`, on `nodes`, in the catalog."""
        for k in nodes:
            out = os.path.join(self.c.dir, f"n{k}", "content", path)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, *codec,
                            out], check=True, timeout=120)
        wait_for(lambda: len(cohort_json("content", "where", path,
                                         api=self.api)["holders"]) == len(nodes),
                 timeout=30, what=f"{path} in the catalog")

    @unittest.skipUnless(shutil.which("ffprobe"), "ffprobe is not installed (scripts/deps)")
    def test_ffprobe_and_ffmpeg_read_a_stream_through_the_redirect(self):
        self.make_media("media/tone.webm", (1, 3), "sine=frequency=440:duration=3",
                        "-c:a", "libopus")
        p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                            "-of", "json", f"http://{self.api}/v1/streams/media/tone.webm"],
                           capture_output=True, text=True, timeout=60, check=True)
        self.assertAlmostEqual(float(json.loads(p.stdout)["format"]["duration"]), 3.0, delta=0.2)
        # ffmpeg decodes the whole stream through the redirect, as a transcoder would.
        p = subprocess.run(["ffmpeg", "-v", "error", "-i",
                            f"http://{self.api}/v1/streams/media/tone.webm", "-f", "null", "-"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, ""))

    @unittest.skipUnless(shutil.which("ffmpeg"), "ffmpeg is not installed (scripts/deps)")
    def test_chromium_plays_a_stream_through_the_redirect(self):
        # A player's page on an origin of its own, with a <video> pointing at the cluster:
        # Chromium follows the redirect and plays the node's byte ranges.
        self.make_media("media/pattern.webm", (2, 4), "testsrc=duration=6:size=320x240:rate=25",
                        "-c:v", "libvpx", "-b:v", "300k", "-an")
        # A player would fail on the 503 of a supervisor still gathering the catalog (a node
        # killed by a test before this one): the test waits for a placement first.
        wait_for(lambda: self.place("media/pattern.webm")[0] == 200, timeout=30,
                 what="the video placed")
        src = f"http://{self.api}/v1/streams/media/pattern.webm"
        page = (f'<!doctype html><title>player</title><link rel="icon" href="data:,">'
                f'<video id="v" muted src="{src}"></video>')
        with Browser() as browser, served_page(page) as url:
            tab = browser.open(url)
            try:
                browser.evaluate(tab, "document.getElementById('v').play().then(() => true)",
                                 timeout=30)
            except BrowserError as e:
                self.fail(f"{e}; the page's console: {browser.console_errors(tab)}")
            video = "document.getElementById('v')"
            played = wait_for(lambda: browser.evaluate(tab, f"{video}.currentTime") >= 2.0,
                              timeout=30, what="the video's currentTime past 2 s")
            self.assertTrue(played)
            state = browser.evaluate(tab, f"[{video}.videoWidth, {video}.videoHeight, "
                                          f"{video}.error && {video}.error.message]")
            self.assertEqual(state, [320, 240, None])
            browser.screenshot(tab, os.path.join(artifacts_dir(), "streams-chromium.png"))
            self.assertEqual(browser.console_errors(tab), [])
            doc = json.loads(http_get(self.api, "/v1/streams")[1])
            nodes = {s["node"] for s in doc["sessions"] if s["path"] == "media/pattern.webm"}
            self.assertTrue(nodes and nodes <= {2, 4}, doc["sessions"])


if __name__ == "__main__":
    unittest.main()
