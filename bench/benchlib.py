"""What the Python benchmarks share: the CLI, a bounded wait, and the members' view of a node
(every call to 127.0.0.1 only)."""
import json
import os
import subprocess
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
