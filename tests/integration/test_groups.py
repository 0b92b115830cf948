"""Integration tests of Group Services (G1-G3) with 5 real daemons on 127.0.0.1 and member
processes: `cohort group join` with shell-script handlers that vote and apply, a dependent
group, kill -9 of a provider mid-vote and of the coordinator's node mid-commit, and a daemon
restarted under its member."""
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

from harness import BIN, COHORT, DevCluster, cohort, cohort_json, ours, restart, stop, wait_for

BASE = 22600  # this file's ports: 22601-22605 (transport), +100 API, +200/+300 registry

# A member as a shell script: rejects values starting with "bad", and writes every change it
# hears to a file.
HANDLER = """#!/bin/sh
value=$(cat)
if [ "$COHORT_EVENT" = vote ]; then
  if [ -n "$SLOW_VOTE" ]; then echo asked >> "$APPLIED.asked"; sleep "$SLOW_VOTE"; fi
  case "$value" in bad*) exit 1;; esac
  exit 0
fi
echo "$COHORT_GROUP $COHORT_VERSION $COHORT_KIND $value" >> "$APPLIED"
"""


class Member:
    """A `cohort group join` process this test started (ended by its PID) and its output."""

    def __init__(self, folder, name, api, group, *args, slow_vote=None):
        self.out_path = os.path.join(folder, name + ".out")
        self.applied = os.path.join(folder, name + ".applied")
        self.log = open(self.out_path, "w")
        env = dict(os.environ, APPLIED=self.applied)
        if slow_vote:
            env["SLOW_VOTE"] = str(slow_vote)
        self.proc = subprocess.Popen(
            [COHORT, "--api", api, "--json", "group", "join", group, "--handler",
             os.path.join(folder, "member.sh"), *args],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def lines(self):
        with open(self.out_path) as f:
            return f.read().splitlines()

    def events(self):
        out = []
        for line in self.lines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def session(self):
        for line in self.lines():
            if line.startswith("joined ") and "(session " in line:
                return int(line.split("(session ")[1].split(")")[0])
        return None

    def states(self, group):
        """The state changes heard of `group` as (version, value), in order."""
        return [(e["version"], e.get("value")) for e in self.events()
                if e.get("group") == group and e.get("kind") == "state"]

    def end(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def read(path):
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read()


def members_of(api, group):
    doc = cohort_json("group", "show", group, api=api)
    return [(m["node"], m["role"]) for m in doc["members"]]


def propose(api, group, value, session):
    return cohort("group", "propose", group, value, "--session", str(session), "--json",
                  api=api, check=False)


class GroupsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cohort-it-groups-")
        with open(os.path.join(self.tmp.name, "member.sh"), "w") as f:
            f.write(HANDLER)
        os.chmod(os.path.join(self.tmp.name, "member.sh"), 0o755)
        self.members = []

    def tearDown(self):
        for m in self.members:
            m.end(signal.SIGKILL)
        self.tmp.cleanup()

    def member(self, name, api, group, *args, **kw):
        m = Member(self.tmp.name, name, api, group, *args, **kw)
        self.members.append(m)
        wait_for(m.session, timeout=20, what=f"{name} joined {group}")
        return m

    def wait_heard(self, members, condition, what):
        """Waits for `condition`; if it never holds, fails with what each of `members` heard
        and said (its warnings are in its output too)."""
        try:
            wait_for(condition, what=what)
        except AssertionError as e:
            said = "\n".join(f"--- {os.path.basename(m.out_path)}:\n" + "\n".join(m.lines())
                             for m in members)
            self.fail(f"{e}\n{said}")

    def wait_agree(self, members, group):
        """Waits until `members` heard the same state changes of `group`."""
        self.wait_heard(members, lambda: len({tuple(m.states(group)) for m in members}) == 1,
                        f"the members of {group} agree")

    def test_shell_members_vote_a_dependent_group_hears_and_a_killed_provider_is_failed(self):
        with DevCluster(5, BASE, adapters=1, registry=3) as c:
            a = self.member("a", c.api(2), "video")
            b = self.member("b", c.api(3), "video")
            d = self.member("d", c.api(4), "video")
            # A subscriber of a group that depends on video hears video's changes.
            e = self.member("e", c.api(5), "edge", "--subscriber", "--depends", "video")
            wait_for(lambda: len(members_of(c.api(1), "video")) == 3, what="3 providers")

            p = propose(c.api(3), "video", "cfg-2", b.session())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(json.loads(p.stdout)["committed"])
            version = json.loads(p.stdout)["version"]
            for m in (a, b, d):
                wait_for(lambda m=m: (version, "cfg-2") in m.states("video"),
                         what="every provider hears cfg-2")
            wait_for(lambda: any(ev.get("group") == "video" and ev.get("value") == "cfg-2"
                                 and ev.get("for_group") == "edge" for ev in e.events()),
                     what="the dependent group's member hears video's change")
            wait_for(lambda: "cfg-2" in read(a.applied), what="the handler applied cfg-2")

            # The example program of the C++ client library joins and proposes too.
            token = os.path.join(c.dir, "n5", "api.token")
            example_out = os.path.join(self.tmp.name, "example.out")
            with open(example_out, "w") as out:
                example = subprocess.Popen([os.path.join(BIN, "group_member"), c.api(5), token,
                                            "video", "from-cpp"], stdout=out,
                                           stderr=subprocess.STDOUT)
            try:
                said = wait_for(lambda: [line for line in read(example_out).splitlines()
                                         if line.startswith("proposal")], timeout=20,
                                what="the program's proposal decided")
                self.assertIn("committed", said[0])
                for m in (a, b, d):
                    wait_for(lambda m=m: "from-cpp" in [v for _, v in m.states("video")],
                             what="every provider hears the program's proposal")
            finally:
                example.terminate()
                example.wait(15)
            wait_for(lambda: len(members_of(c.api(1), "video")) == 3, what="the program left")

            # A script's reject aborts the change everywhere.
            p = propose(c.api(3), "video", "bad-cfg", b.session())
            self.assertEqual(p.returncode, 1)
            self.assertIn("rejected", p.stderr)
            for m in (a, b, d):
                self.assertNotIn("bad-cfg", [v for _, v in m.states("video")])

            # kill -9 a provider mid-vote (its handler sleeps; the kill comes within the
            # 500 ms vote timeout): its closed session counts as the default vote (approve)
            # at once, and a process-died change follows.
            slow = self.member("slow", c.api(4), "video", slow_vote=5)
            wait_for(lambda: len(members_of(c.api(1), "video")) == 4, what="4 providers")
            proposer = subprocess.Popen(
                [COHORT, "--api", c.api(3), "--json", "group", "propose", "video", "cfg-3",
                 "--session", str(b.session())], stdout=subprocess.PIPE, text=True)
            wait_for(lambda: os.path.exists(slow.applied + ".asked"), timeout=10,
                     what="the slow provider was asked")
            slow.proc.kill()
            out, _ = proposer.communicate(timeout=30)
            self.assertEqual(proposer.returncode, 0, out)
            self.assertTrue(json.loads(out)["committed"])
            wait_for(lambda: len(members_of(c.api(1), "video")) == 3,
                     what="the killed provider failed out")
            self.wait_heard([a, b, d],
                            lambda: "process-died" in [ev.get("kind") for ev in a.events()
                                                       if ev.get("group") == "video"],
                            "the providers hear the killed one's process-died")

            # Every provider heard the same versions in the same order.
            self.wait_agree([a, b, d], "video")

    def test_coordinator_node_killed_mid_commit_and_a_daemon_restarted_under_its_member(self):
        with DevCluster(5, BASE, adapters=1, registry=3) as c:
            # Votes take 0.3 s, so the kill below lands while the change is being decided.
            members = [self.member(f"m{k}", c.api(k), "ingest", slow_vote=0.3)
                       for k in (2, 3, 4, 5)]
            wait_for(lambda: len(members_of(c.api(2), "ingest")) == 4, what="4 providers")
            coordinator = cohort_json("group", "show", "ingest", api=c.api(2))["coordinator"]
            self.assertEqual(coordinator, 1)  # the supervisor

            # Propose, and kill -9 the coordinator's daemon while the change is in flight.
            proposer = subprocess.Popen(
                [COHORT, "--api", c.api(3), "--json", "group", "propose", "ingest", "leader=3",
                 "--session", str(members[1].session())], stdout=subprocess.PIPE, text=True)
            pid = c.info["nodes"][0]["pid"]
            self.assertTrue(ours(pid, c.dir))
            wait_for(lambda: os.path.exists(members[0].applied + ".asked"), timeout=10,
                     what="the providers asked to vote")
            os.kill(pid, signal.SIGKILL)
            killed_at = time.monotonic()
            out, _ = proposer.communicate(timeout=40)
            outcome = json.loads(out)
            # Whatever the outcome, every survivor's member hears the same history.
            wait_for(lambda: cohort_json("group", "show", "ingest", api=c.api(2))["coordinator"]
                     not in (0, 1), timeout=30, what="a new coordinator")
            if outcome.get("committed"):
                for m in members:
                    wait_for(lambda m=m: ("leader=3" in [v for _, v in m.states("ingest")]),
                             what="every member hears the committed change")
            print(f"outcome {outcome} known {time.monotonic() - killed_at:.2f} s after the kill")
            self.wait_agree(members, "ingest")
            p = propose(c.api(3), "ingest", "leader=4", members[1].session())
            self.assertEqual(p.returncode, 0, p.stderr)

            # Node 4's daemon stops and starts again: its member joins again by itself.
            m4 = members[2]
            pid4 = c.info["nodes"][3]["pid"]
            self.assertTrue(ours(pid4, c.dir))
            os.kill(pid4, signal.SIGTERM)
            wait_for(lambda: not ours(pid4, c.dir), timeout=20, what="node 4 stopped")
            again = restart(c, 4)
            try:
                wait_for(lambda: "the daemon came back" in "\n".join(m4.lines()),
                         timeout=60, what="the member's new session")
                wait_for(lambda: sorted(n for n, _ in members_of(c.api(2), "ingest")) ==
                         [2, 3, 4, 5], timeout=60, what="node 4's member back in the group")
                self.assertEqual(m4.proc.poll(), None)
            finally:
                stop(again)


if __name__ == "__main__":
    unittest.main()
