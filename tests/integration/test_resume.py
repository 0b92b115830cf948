"""A receiver restarted with a large partial file (issue 17): the rehash runs off its event
loop, so no node is declared failed meanwhile. This is a timing check of real daemons, so
CTest runs it alone (RUN_SERIAL): beside another module's cluster on a 2-core machine under
the sanitizers, CPU starvation alone can delay a heartbeat past the 0.4 s detection time."""
import os
import signal
import tempfile
import unittest

from harness import Daemon, DevCluster, cohort, cohort_json, metrics, wait_for

BASE = 18900  # test_hardening's range (transport 19031.., API 19131..): never run beside it


class ResumeTest(unittest.TestCase):
    """A receiver restarted with a 2 GiB partial file rehashes it off its event loop: no node
    is declared failed meanwhile, and the job completes from where the file stood."""

    def test_rehashing_a_large_partial_file_fails_no_one(self):
        size = 2 << 30
        with DevCluster(3, BASE + 130, adapters=1, upload_mbps=160) as c, \
                tempfile.TemporaryDirectory() as src:
            # Zeros, sparse: the partial file can be made whole below without writing 2 GiB,
            # and hashing it is as long a piece of work as reading it from a slow disk.
            big = os.path.join(src, "big.bin")
            with open(big, "wb") as f:
                f.truncate(size)
            job = cohort("distribute", big, "--dest", "media", "--servers", "2", "--no-wait",
                         api=c.api(1)).stdout.strip()

            def held():
                shown = cohort_json("job", "show", job, api=c.api(1))
                return next(s["bytes"] for s in shown["servers"] if s["id"] == 2)
            wait_for(lambda: held() > 2_000_000, timeout=30, what="node 2 receiving")
            with open(os.path.join(c.dir, "n2", "cohortd.pid")) as f:
                os.kill(int(f.read()), signal.SIGKILL)
            part = os.path.join(c.dir, "n2", "content", "media", ".big.bin.cohort-part")
            wait_for(lambda: os.path.exists(part), what="node 2's partial file")
            os.truncate(part, size)  # what it holds of the file: all of it, still unverified

            d = Daemon(os.path.join(c.dir, "n2", "node.toml"),
                       os.path.join(c.dir, "n2", "restart.log"))
            try:
                def members_up(k):
                    got = cohort_json("members", api=c.api(k))
                    return all(m["state"] == "up" for m in got["members"]) and \
                        len(got["members"]) == 3
                wait_for(lambda: all(members_up(k) for k in (1, 2, 3)), timeout=30,
                         what="node 2 back in every view")
                declared = {k: metrics(c.api(k))["cohort_membership_failures_declared_total"]
                            for k in (1, 2, 3)}
                out = cohort("job", "wait", job, "--timeout", "120", api=c.api(1),
                             timeout=150).stdout
                self.assertIn("completed", out)
                with open(os.path.join(c.dir, "n2", "restart.log")) as log:
                    self.assertIn("resumed a partial file", log.read())
                for k in (1, 2, 3):
                    self.assertEqual(
                        metrics(c.api(k))["cohort_membership_failures_declared_total"],
                        declared[k], f"node {k} declared a failure during the rehash")
                self.assertEqual(os.path.getsize(os.path.join(c.dir, "n2", "content", "media",
                                                              "big.bin")), size)
                received = metrics(c.api(2))["cohort_distribution_bytes_received_total"]
                self.assertLess(received, 1_000_000, "the file was received again")
                stall = metrics(c.api(2))["cohort_loop_stall_max_seconds"]
                print(f"\nnode 2's longest loop stall, rehash of 2 GiB included: "
                      f"{stall * 1000:.1f} ms")
            finally:
                d.stop(timeout=20)


if __name__ == "__main__":
    unittest.main()
