"""What the Python benchmarks share: the CLI, a bounded wait, and the members' view of a node
(every call to 127.0.0.1 only)."""
import contextlib
import json
import os
import subprocess
import tempfile
import time
import urllib.request

BIN = os.environ.get("COHORT_BIN", os.path.join(os.path.dirname(__file__), "../build/bin"))


def cohort(*args):
    return subprocess.run([os.path.join(BIN, "cohort"), *args], capture_output=True, text=True,
                          timeout=60)


def wait(cond, limit=20.0):
    """Polls `cond` every 10 ms until it holds (True) or `limit` seconds pass (False)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except OSError:  # a daemon starting again refuses connections for a moment
            pass
        time.sleep(0.01)
    return False


def up_on_every_member(apis, node):
    """True when the map of every member at the API addresses `apis` shows `node` up."""
    for address in apis:
        with urllib.request.urlopen(f"http://{address}/v1/members", timeout=2) as r:
            states = {m["id"]: m["state"] for m in json.loads(r.read())["members"]}
        if states.get(node) != "up":
            return False
    return True


def work_folder(prefix):
    """A temporary folder for a dev cluster; with KEEP=1 it is kept (and named) for a look
    at the daemons' logs after a slow or failed trial."""
    if os.environ.get("KEEP") != "1":
        return tempfile.TemporaryDirectory(prefix=prefix)
    folder = tempfile.mkdtemp(prefix=prefix)
    print(f"keeping {folder}", flush=True)
    return contextlib.nullcontext(folder)


def start_node(folder, k):
    """Starts node k of the dev cluster in `folder` again, appending to its log; its Popen."""
    with open(os.path.join(folder, f"n{k}", "cohortd.log"), "a") as log:
        return subprocess.Popen([os.path.join(BIN, "cohortd"), "--config",
                                 os.path.join(folder, f"n{k}", "node.toml")],
                                stdout=log, stderr=subprocess.STDOUT)
