"""Integration tests of the operator's tools with real daemons on 127.0.0.1: `cohort doctor`
and GET /v1/health (each problem with where, since when and what to do; the exit code is the
verdict), and the health gauges of /metrics."""
import json
import os
import signal
import unittest
import urllib.error
import urllib.request

from harness import DevCluster, cohort, cohort_json, http_get, metrics, wait_for

BASE = 26000  # this file's ports: transport 26001.., API 26101.., etcd 26201../26301..


def doctor(api):
    """(exit code, document) of `cohort doctor --json`."""
    p = cohort("doctor", "--json", api=api, check=False)
    return p.returncode, json.loads(p.stdout)


def health(api):
    status, text = http_get(api, "/v1/health")
    assert status == 200, status
    return json.loads(text)


def problem(doc, area, where):
    return next((p for p in doc["problems"] if p["area"] == area and p["where"] == where), None)


class Doctor(unittest.TestCase):
    def test_doctor_names_each_problem_and_exits_with_the_verdict(self):
        with DevCluster(3, BASE, adapters=1, registry=3, disks=["d1"]) as c:
            rc, doc = wait_for(lambda: (lambda r: r if r[0] == 0 else None)(doctor(c.api(1))),
                               timeout=20, what="a healthy verdict")
            self.assertEqual(doc["verdict"], "healthy")
            self.assertEqual(doc["members"], {"up": 3, "total": 3})
            self.assertEqual(doc["registry"]["servers_up"], 3)
            self.assertTrue(all(state == "ok" for state in doc["areas"].values()))
            people = cohort("doctor", api=c.api(1)).stdout
            self.assertIn("HEALTHY: 3 of 3 nodes up", people)
            self.assertIn("no problem found", people)
            self.assertEqual(metrics(c.api(2))["cohort_health_status"], 0)

            # Node 3 dies: degraded, the failed node and the registry server it ran named.
            os.kill(c.info["nodes"][2]["pid"], signal.SIGKILL)
            rc, doc = wait_for(lambda: (lambda r: r if r[0] == 1 else None)(doctor(c.api(1))),
                               timeout=10, what="a degraded verdict")
            failed = problem(doc, "members", "node 3")
            self.assertIsNotNone(failed, doc)
            self.assertEqual(failed["severity"], "degraded")
            self.assertIn("node 3 failed", failed["what"])
            self.assertIn("cohort node undefine 3", failed["action"])
            self.assertLessEqual(failed["since_ms"], doc["at_ms"])
            self.assertIsNotNone(problem(doc, "registry", "registry servers 3"), doc)
            self.assertEqual(doc["areas"]["members"], "degraded")
            # The API answers the same document.
            self.assertEqual(health(c.api(2))["verdict"], "degraded")
            m = metrics(c.api(1))
            self.assertEqual(m["cohort_health_status"], 1)
            self.assertEqual(m['cohort_health_problems{area="members"}'], 1)
            people = cohort("doctor", api=c.api(1), check=False)
            self.assertEqual(people.returncode, 1)
            self.assertIn("[degraded] node 3 failed", people.stdout)
            self.assertIn("where: node 3  since ", people.stdout)

            # Node 1's path to the disk goes: named with the node.
            os.remove(os.path.join(c.dir, "n1", "disks", "d1"))
            wait_for(lambda: problem(doctor(c.api(2))[1], "disks", "disk d1 from node 1"),
                     timeout=10, what="node 1's disk path in the report")

            # Node 2 dies too: no majority, no registry leader: down.
            os.kill(c.info["nodes"][1]["pid"], signal.SIGKILL)
            rc, doc = wait_for(lambda: (lambda r: r if r[0] == 2 else None)(doctor(c.api(1))),
                               timeout=15, what="a down verdict")
            self.assertEqual(doc["verdict"], "down")
            self.assertEqual(doc["problems"][0]["severity"], "down")  # the worst first
            # A daemon that does not answer is down too, said in one line.
            people = cohort("doctor", api=c.api(2), check=False)
            self.assertEqual(people.returncode, 2)
            self.assertIn("DOWN: no answer from cohortd at", people.stdout)

    def test_health_refuses_other_methods(self):
        with DevCluster(1, BASE + 10, adapters=1) as c:
            self.assertEqual(health(c.api(1))["verdict"], "healthy")
            req = urllib.request.Request(f"http://{c.api(1)}/v1/health", data=b"{}",
                                         method="POST")
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(req, timeout=5)
            self.assertEqual(e.exception.code, 405)


if __name__ == "__main__":
    unittest.main()
