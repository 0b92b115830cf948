"""Integration tests of the operator's tools with real daemons on 127.0.0.1: `cohort doctor`
and GET /v1/health (each problem with where, since when and what to do; the exit code is the
verdict), the health gauges of /metrics, and the monitoring in contrib/: docs/metrics.md, the
alert rules and the Grafana dashboard name only metrics a live node exports, and a real
Prometheus scraping real daemons fires the node-failure alert."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

import yaml

from harness import DevCluster, cohort, http_get, metrics, wait_for

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RULES = os.path.join(ROOT, "contrib", "prometheus", "cohort-alerts.yml")
DASHBOARD = os.path.join(ROOT, "contrib", "grafana", "cohort.json")
METRICS_DOC = os.path.join(ROOT, "docs", "metrics.md")

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
            wait_for(lambda: metrics(c.api(2))["cohort_health_status"] == 0, timeout=10,
                     what="node 2's health gauge at 0")

            # Node 3 dies: degraded, the failed node and the registry server it ran named.
            os.kill(c.info["nodes"][2]["pid"], signal.SIGKILL)
            rc, doc = wait_for(
                lambda: (lambda r: r if r[0] == 1 and problem(r[1], "registry",
                                                              "registry servers 3") else None)(
                    doctor(c.api(1))),
                timeout=15, what="a degraded verdict naming registry server 3")
            failed = problem(doc, "members", "node 3")
            self.assertIsNotNone(failed, doc)
            self.assertEqual(failed["severity"], "degraded")
            self.assertIn("node 3 failed", failed["what"])
            self.assertIn("cohort node undefine 3", failed["action"])
            self.assertIsInstance(failed["since_ms"], int)
            self.assertEqual(doc["areas"]["members"], "degraded")
            # The API of another node answers the same verdict.
            wait_for(lambda: health(c.api(2))["verdict"] == "degraded", timeout=10,
                     what="node 2's verdict")
            m = wait_for(lambda: (lambda m: m if m["cohort_health_status"] == 1 else None)(
                metrics(c.api(1))), timeout=5, what="the health gauge")
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
            self.assertIn("DOWN: cannot reach", people.stdout)

    def test_health_refuses_other_methods(self):
        with DevCluster(1, BASE + 10, adapters=1) as c:
            wait_for(lambda: health(c.api(1))["verdict"] == "healthy", timeout=10,
                     what="a healthy one-node cluster")
            req = urllib.request.Request(f"http://{c.api(1)}/v1/health", data=b"{}",
                                         method="POST")
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(req, timeout=5)
            self.assertEqual(e.exception.code, 405)
            # HEAD answers as GET would, without the body.
            req = urllib.request.Request(f"http://{c.api(1)}/v1/health", method="HEAD")
            with urllib.request.urlopen(req, timeout=5) as r:
                self.assertEqual((r.status, r.read()), (200, b""))
                self.assertGreater(int(r.headers["Content-Length"]), 0)


def exported(apis):
    """(family -> type, every sample name) over the nodes at `apis`."""
    families, samples = {}, set()
    for api in apis:
        _, text = http_get(api, "/metrics")
        for line in text.splitlines():
            m = re.match(r"# TYPE (\S+) (\S+)", line)
            if m:
                families[m.group(1)] = m.group(2)
            elif line and not line.startswith("#"):
                samples.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return families, samples


def named_metrics(expr):
    return set(re.findall(r"\bcohort_[a-z0-9_]+", expr))


class Monitoring(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.promtool = shutil.which("promtool")
        cls.prometheus = shutil.which("prometheus")

    def test_rules_dashboard_and_docs_name_only_what_nodes_export(self):
        # Every component on: registry, a disk, streams (the supervisor adds the catalog's).
        with DevCluster(2, BASE + 20, adapters=1, registry=1, disks=["d1"], streams=True) as c:
            wait_for(lambda: health(c.api(1))["verdict"] == "healthy", timeout=20,
                     what="a healthy cluster")
            families, samples = exported([c.api(1), c.api(2)])
            with open(RULES) as f:
                rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
            self.assertGreaterEqual(len(rules), 8)
            with open(DASHBOARD) as f:
                dashboard = json.load(f)
            exprs = [(r["alert"], r["expr"]) for r in rules]
            exprs += [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
            exprs += [("template " + v["name"], v["query"])
                      for v in dashboard["templating"]["list"] if v["type"] == "query"]
            for where, expr in exprs:
                names = named_metrics(expr)
                # Only the scrape's own `up` may stand alone.
                self.assertTrue(names or 'up{job="cohort"}' in expr,
                                f"{where} names no cohort metric: {expr}")
                for name in names:
                    self.assertIn(name, samples, f"{where} names {name}, which no node exports")
            # The alerts the issue asks for are there.
            alerts = {r["alert"] for r in rules}
            for a in ("CohortNodeFailed", "CohortRegistryWithoutLeader", "CohortDiskFailed",
                      "CohortJobStalledOrFailed", "CohortEventLoopStalls"):
                self.assertIn(a, alerts)
            # docs/metrics.md lists every family with its type, and none that is not exported.
            with open(METRICS_DOC) as f:
                documented = dict(re.findall(r"^\| `(cohort_[a-z0-9_]+)` \| (\w+) \|",
                                             f.read(), re.M))
            self.assertEqual(documented, families,
                             "docs/metrics.md is out of date: run scripts/metrics-doc")
            if self.promtool:  # the exposition as Prometheus lints it
                _, text = http_get(c.api(1), "/metrics")
                p = subprocess.run([self.promtool, "check", "metrics"], input=text,
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_promtool_checks_and_unit_tests_the_rules(self):
        if not self.promtool:
            self.skipTest("promtool is not installed (Debian's prometheus package; scripts/deps)")
        p = subprocess.run([self.promtool, "check", "rules", RULES], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = subprocess.run([self.promtool, "test", "rules", "cohort-alerts.test.yml"],
                           cwd=os.path.dirname(RULES), capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_prometheus_scraping_real_nodes_fires_the_node_failure_alert(self):
        if not self.prometheus:
            self.skipTest("prometheus is not installed (Debian's prometheus package; scripts/deps)")
        with DevCluster(3, BASE + 30, adapters=1) as c, \
                tempfile.TemporaryDirectory(prefix="cohort-prom-") as tmp:
            port = BASE + 90
            config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                      "rule_files": [RULES],
                      "scrape_configs": [{"job_name": "cohort", "static_configs": [
                          {"targets": [c.api(k) for k in (1, 2, 3)],
                           "labels": {"cluster": "dev"}}]}]}
            with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
                yaml.safe_dump(config, f)
            log = open(os.path.join(tmp, "prometheus.log"), "w")
            prom = subprocess.Popen(
                [self.prometheus, "--config.file", os.path.join(tmp, "prometheus.yml"),
                 "--storage.tsdb.path", os.path.join(tmp, "data"),
                 "--web.listen-address", f"127.0.0.1:{port}"], stdout=log,
                stderr=subprocess.STDOUT)
            try:
                def query(q):
                    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(
                        {"query": q})
                    with urllib.request.urlopen(url, timeout=5) as r:
                        return json.loads(r.read())["data"]["result"]

                def alerts():
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts",
                                                timeout=5) as r:
                        return json.loads(r.read())["data"]["alerts"]
                wait_for(lambda: len(query('up{job="cohort"} == 1')) == 3, timeout=30,
                         what="Prometheus scraping the three nodes")
                self.assertEqual([a for a in alerts() if a["state"] == "firing"], [])
                os.kill(c.info["nodes"][2]["pid"], signal.SIGKILL)
                firing = wait_for(
                    lambda: [a for a in alerts()
                             if a["labels"]["alertname"] == "CohortNodeFailed"
                             and a["state"] == "firing"], timeout=40,
                    what="CohortNodeFailed firing")
                self.assertEqual(firing[0]["labels"]["cluster"], "dev")
                self.assertEqual(firing[0]["annotations"]["summary"], "1 cohort node(s) failed")
            finally:
                prom.terminate()
                try:
                    prom.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    prom.kill()
                    prom.wait()
                log.close()


if __name__ == "__main__":
    unittest.main()
