"""Integration tests of membership with real daemons on 127.0.0.1 (issue: membership)."""
import os
import signal
import subprocess
import sys
import time
import unittest

from harness import COHORTD, DevCluster, cohort_json, http_get, metrics, wait_for

BASE = 17500  # this file's port range: transport 17501.., API 17601..


def members(api):
    d = cohort_json("members", api=api)
    return d["supervisor"], {m["id"]: m["state"] for m in d["members"]}


class FiveNodes(unittest.TestCase):
    def test_form_failover_rejoin_and_leave(self):
        with DevCluster(5, BASE) as c:
            # Formed under the top priority, the same map everywhere.
            views = [cohort_json("members", api=c.api(k)) for k in range(1, 6)]
            self.assertEqual({v["supervisor"] for v in views}, {1})
            self.assertEqual(len({v["map_digest"] for v in views}), 1)
            self.assertEqual(cohort_json("status", api=c.api(1))["role"], "supervisor")
            self.assertEqual(metrics(c.api(1))["cohort_membership_is_supervisor"], 1)

            # kill -9 the supervisor: node 2 takes over; node 1 is failed on every survivor.
            pid1 = c.info["nodes"][0]["pid"]
            os.kill(pid1, signal.SIGKILL)
            wait_for(lambda: all(members(c.api(k)) == (2, {1: "failed", 2: "up", 3: "up",
                                                          4: "up", 5: "up"})
                                 for k in range(2, 6)),
                     timeout=10, what="node 2 supervising with node 1 failed everywhere")
            self.assertGreaterEqual(
                metrics(c.api(2))["cohort_membership_failures_declared_total"], 1)

            # Restart it: it rejoins and, as the top priority, preempts.
            log = open(os.path.join(c.dir, "n1", "cohortd.log"), "a")
            p = subprocess.Popen([COHORTD, "--config", os.path.join(c.dir, "n1", "node.toml")],
                                 stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_for(lambda: all(members(c.api(k))[0] == 1 and
                                     members(c.api(k))[1][1] == "up" for k in range(1, 6)),
                         timeout=10, what="node 1 back as supervisor")
                # SIGTERM a member: it leaves gracefully and exits 0.
                pid4 = c.info["nodes"][3]["pid"]
                os.kill(pid4, signal.SIGTERM)
                wait_for(lambda: all(members(c.api(k))[1][4] == "left" for k in (1, 2, 3, 5)),
                         timeout=5, what="node 4 shown left everywhere")
            finally:
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(timeout=10), 0)
                log.close()


class NoFalsePositives(unittest.TestCase):
    """A node that stalls for less than K periods, or starves under a CPU hog, is not
    declared failed; one stalled for longer is, and rejoins at once when it resumes."""

    def failures(self, c):
        return metrics(c.api(1))["cohort_membership_failures_declared_total"]

    def test_stalls_and_cpu_hog(self):
        with DevCluster(4, BASE + 20, adapters=1) as c:
            pid3 = c.info["nodes"][2]["pid"]
            inc3 = [m for m in cohort_json("members", api=c.api(1))["members"]
                    if m["id"] == 3][0]["incarnation"]
            before = self.failures(c)
            # A stalled event loop for 2 of the 3 periods: nothing happens. (The sleeps are
            # the fault itself — how long the process stays stopped — not a wait.)
            for _ in range(3):
                os.kill(pid3, signal.SIGSTOP)
                time.sleep(0.2)
                os.kill(pid3, signal.SIGCONT)
                time.sleep(0.3)
            self.assertEqual(self.failures(c), before)
            self.assertEqual(members(c.api(1))[1][3], "up")

            # Both cores busy for 3 s: daemons starve a little, nobody is declared failed.
            hogs = [subprocess.Popen([sys.executable, "-c",
                                      "import time\nt=time.time()\nwhile time.time()-t<3: pass"])
                    for _ in range(2)]
            for h in hogs:
                h.wait(timeout=30)
            self.assertEqual(self.failures(c), before)

            # Stalled for 1.5 s (15 periods): declared failed; on resuming it rejoins at once,
            # with the same incarnation (no restart).
            os.kill(pid3, signal.SIGSTOP)
            try:
                wait_for(lambda: members(c.api(1))[1][3] == "failed", timeout=5,
                         what="the stalled node declared failed")
            finally:
                os.kill(pid3, signal.SIGCONT)
            wait_for(lambda: all(members(c.api(k))[1][3] == "up" for k in (1, 2, 4)),
                     timeout=5, what="the resumed node up again everywhere")
            inc_after = [m for m in cohort_json("members", api=c.api(1))["members"]
                         if m["id"] == 3][0]["incarnation"]
            self.assertEqual(inc_after, inc3)


class MulticastBus(unittest.TestCase):
    """M2 in IP multicast mode on loopback: the cluster forms, a killed member is failed
    everywhere, and the supervisor sends fewer datagrams than with a unicast fan-out."""

    def sent_per_s(self, api):
        before = metrics(api)["cohort_transport_datagrams_sent_total"]
        t = time.monotonic()
        time.sleep(2)  # the measurement window, not a wait for a condition
        return (metrics(api)["cohort_transport_datagrams_sent_total"] - before) / (
            time.monotonic() - t)

    def test_multicast_bus(self):
        with DevCluster(5, BASE + 80, adapters=1, multicast="239.192.17.1:17599") as c:
            status = cohort_json("status", api=c.api(3))
            self.assertEqual(status["bus"], {"mode": "multicast", "group": "239.192.17.1:17599"})
            wait_for(lambda: all(members(c.api(k)) == (1, {k2: "up" for k2 in range(1, 6)})
                                 for k in range(1, 6)), timeout=10, what="one cluster")
            multicast_rate = self.sent_per_s(c.api(1))
            os.kill(c.info["nodes"][4]["pid"], signal.SIGKILL)
            wait_for(lambda: all(members(c.api(k))[1][5] == "failed" for k in range(1, 5)),
                     timeout=5, what="node 5 failed everywhere over the multicast bus")
        with DevCluster(5, BASE + 80, adapters=1) as c:
            unicast_rate = self.sent_per_s(c.api(1))
        # Notifications: one datagram per period instead of one per member.
        self.assertLess(multicast_rate, unicast_rate)


def disk_view(api):
    """{disk: (state, {node: path})} from `cohort tables` on one node."""
    t = cohort_json("tables", api=api)
    return {d["id"]: (d["state"], {a["node"]: a["path"] for a in d["access"]})
            for d in t["topology"]["disks"]}


class DiskFailure(unittest.TestCase):
    """M11 with real probe files: node k reaches the shared disk DIR/disks/ID through its own
    path DIR/n<k>/disks/ID (a symlink). Removing one node's path fails only that path;
    removing the disk itself fails every node's check, and reports from several nodes make
    the supervisor declare the disk failed."""

    def test_shared_disk(self):
        with DevCluster(4, BASE + 60, adapters=1, disks=["media"]) as c:
            everyone = {1: "ok", 2: "ok", 3: "ok", 4: "ok"}
            wait_for(lambda: all(disk_view(c.api(k)) == {"media": ("ok", everyone)}
                                 for k in range(1, 5)),
                     timeout=10, what="disk media ok from every node, in every node's tables")

            # One node's access path fails: only that path is marked, the disk is degraded.
            os.remove(os.path.join(c.dir, "n3", "disks", "media"))
            wait_for(lambda: all(disk_view(c.api(k)) == {"media": ("degraded", {**everyone, 3: "failed"})}
                                 for k in range(1, 5)),
                     timeout=10, what="node 3's path to media failed, the disk only degraded")
            self.assertEqual(metrics(c.api(1))["cohort_membership_disk_failures_declared_total"], 0)
            self.assertEqual(metrics(c.api(3))['cohort_disk_ok{disk="media"}'], 0)

            # The disk itself goes away: nodes 1, 2 and 4 report it too; it is declared failed.
            shared = os.path.join(c.dir, "disks", "media")
            os.rename(shared, shared + ".gone")
            wait_for(lambda: all(disk_view(c.api(k))["media"][0] == "failed" for k in range(1, 5)),
                     timeout=10, what="media declared failed everywhere")
            self.assertEqual(metrics(c.api(1))["cohort_membership_disk_failures_declared_total"], 1)
            status, page = http_get(c.api(2), "/")  # the dashboard draws these same tables
            self.assertEqual(status, 200)
            self.assertIn("/v1/tables", page)
            # Usage reaches the supervisor every usage period (2 s): every node's row in time.
            tables = wait_for(
                lambda: (lambda t: t if {n["id"] for n in t["node_usage"]} == {1, 2, 3, 4}
                         else None)(cohort_json("tables", api=c.api(4))),
                timeout=10, what="a usage row from every node in node 4's tables")
            self.assertEqual(tables["usage_from"], 1)

            # It comes back: the working paths lift the declaration; node 3's is still cut.
            os.rename(shared + ".gone", shared)
            wait_for(lambda: all(disk_view(c.api(k)) == {"media": ("degraded", {**everyone, 3: "failed"})}
                                 for k in range(1, 5)),
                     timeout=10, what="media restored, node 3's path still failed")


if __name__ == "__main__":
    unittest.main()
