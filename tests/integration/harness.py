"""Helpers for integration tests: run the cohort CLI, start and stop cohortd by the PID we
started, read metrics, and wait on conditions with a deadline (never a bare sleep)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.environ.get("COHORT_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin"))
COHORT = os.path.join(BIN, "cohort")
COHORTD = os.path.join(BIN, "cohortd")


def cohort(*args, api=None, check=True, timeout=60):
    cmd = [COHORT] + (["--api", api] if api else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr}")
    return p


def cohort_json(*args, api=None, timeout=60):
    return json.loads(cohort(*args, "--json", api=api, timeout=timeout).stdout)


def wait_for(condition, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except Exception as e:  # a daemon still starting refuses connections
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def http_get(api, path):
    with urllib.request.urlopen(f"http://{api}{path}", timeout=5) as r:
        return r.status, r.read().decode()


def http_call(api, method, path, body=b"", content_type="application/json"):
    """An authenticated API call (the token from the node's data folder): (status, JSON)."""
    _, status = http_get(api, "/v1/status")
    with open(os.path.join(json.loads(status)["data_dir"], "api.token")) as f:
        token = f.read().strip()
    req = urllib.request.Request(f"http://{api}{path}", data=body, method=method,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def metrics(api):
    _, text = http_get(api, "/metrics")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def ours(pid, folder):
    """True while `pid` is a cohortd whose command line names a file under `folder`: a
    recorded pid outlives its process, and pids are reused."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().decode(errors="replace")
    except OSError:
        return False
    return "cohortd" in cmd and folder + "/" in cmd


class DevCluster:
    """`cohort dev up` in a temporary folder; stopped by `dev down` (which signals the PIDs
    recorded in the folder) and, failing that, by the PIDs `dev up` reported."""

    def __init__(self, nodes, base_port, adapters=2, disks=(), multicast=None, registry=0,
                 upload_mbps=0, upload_idle_s=0, forget_after_s=0, name="dev", streams=False,
                 stream_capacity_mbps=0):
        self.tmp = tempfile.TemporaryDirectory(prefix="cohort-it-")
        self.dir = self.tmp.name
        self.nodes, self.base_port, self.adapters = nodes, base_port, adapters
        self.disks = list(disks)
        self.multicast = multicast
        self.registry = registry  # the first `registry` nodes run an etcd server
        self.upload_mbps = upload_mbps  # content upload limit per node; 0: none
        self.upload_idle_s = upload_idle_s  # upload jobs cancelled after this; 0: default
        self.forget_after_s = forget_after_s  # finished jobs leave memory after; 0: default
        self.name = name  # the cluster's
        self.streams = streams  # every node serves streams on P+600+k
        self.stream_capacity_mbps = stream_capacity_mbps
        self.info = None

    def api(self, k):
        return f"127.0.0.1:{self.base_port + 100 + k}"

    def transport(self, k, adapter=1):
        return f"127.0.0.{adapter}:{self.base_port + k}"

    def __enter__(self):
        self.info = cohort_json("dev", "up", "--name", self.name, "--nodes", str(self.nodes),
                                "--dir", self.dir,
                                "--base-port", str(self.base_port), "--adapters",
                                str(self.adapters),
                                *[a for d in self.disks for a in ("--disk", d)],
                                *(["--multicast", self.multicast] if self.multicast else []),
                                "--registry", str(self.registry),
                                "--upload-mbps", str(self.upload_mbps),
                                *(["--upload-idle-s", str(self.upload_idle_s)]
                                  if self.upload_idle_s else []),
                                *(["--forget-after-s", str(self.forget_after_s)]
                                  if self.forget_after_s else []),
                                *(["--streams"] if self.streams else []),
                                *(["--stream-capacity-mbps", str(self.stream_capacity_mbps)]
                                  if self.stream_capacity_mbps else []),
                                timeout=90)
        return self

    def __exit__(self, *exc):
        cohort("dev", "down", "--dir", self.dir, check=False)
        keep = os.environ.get("COHORT_TEST_LOGS")
        if keep:  # keep the daemons' logs for a post-mortem
            dest = os.path.join(keep, os.path.basename(self.dir))
            for k in range(1, self.nodes + 1):
                os.makedirs(os.path.join(dest, f"n{k}"), exist_ok=True)
                log = os.path.join(self.dir, f"n{k}", "cohortd.log")
                if os.path.exists(log):
                    shutil.copy(log, os.path.join(dest, f"n{k}", "cohortd.log"))
        for n in (self.info or {}).get("nodes", []):
            if ours(n["pid"], self.dir):  # its pid may be another's by now
                try:
                    os.kill(n["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.tmp.cleanup()


class Daemon:
    """One cohortd started by this test from a config file; ended by its PID."""

    def __init__(self, config_path, log_path):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([COHORTD, "--config", config_path], stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def waiting_config(data_dir, port, api, number=9, extra=""):
    """The file of a node with no [cluster] (it waits to be defined): its number is a
    placeholder until a definition gives one, its machine id data_dir/machine-id."""
    return (f'[node]\nid = {number}\ndata_dir = "{data_dir}"\nuid_file = "machine-id"\n\n'
            f'[transport]\nlisten = ["127.0.0.1:{port}"]\n\n'
            f'[api]\nlisten = "127.0.0.1:{api}"\n{extra}')


def restart(c, k, config=None):
    """Starts node k of dev cluster `c` again on its config (or `config`) and data; the test
    ends it by the PID it got (`stop`)."""
    log = open(os.path.join(c.dir, f"n{k}", "cohortd.log"), "a")
    config = config or os.path.join(c.dir, f"n{k}", "node.toml")
    p = subprocess.Popen([COHORTD, "--config", config], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return p


def stop(p):
    """Ends a process this test started: SIGTERM, then SIGKILL after 15 s."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
