"""The Debian package (scripts/package): built from the release build, unpacked into a clean
root, its files and control fields checked, its unit verified by systemd-analyze against the
unpacked binaries and man pages, its man pages rendered, its bash and zsh completion run, and
the daemon started on the installed default configuration — in namespaces of its own (a
private /var/lib and network), with the cluster key made as the postinst makes it."""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(*cmd, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run(list(cmd), capture_output=True, text=True, **kw)


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        p = run("bash", os.path.join(ROOT, "scripts", "package"), "--no-build", timeout=600)
        if p.returncode != 0:
            raise AssertionError(f"scripts/package failed: {p.stdout}{p.stderr}")
        cls.deb = os.path.join(ROOT, p.stdout.strip().splitlines()[-1])
        cls.tmp = tempfile.TemporaryDirectory(prefix="cohort-pkg-")
        cls.root = os.path.join(cls.tmp.name, "root")
        p = run("dpkg-deb", "-x", cls.deb, cls.root)
        assert p.returncode == 0, p.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, relative):
        return os.path.join(self.root, relative)

    def test_files_and_control_fields(self):
        for f in ("usr/bin/cohortd", "usr/bin/cohort", "usr/bin/cohort-sim"):
            self.assertTrue(os.access(self.path(f), os.X_OK), f)
        for f in ("etc/cohort/cohortd.toml", "lib/systemd/system/cohortd.service",
                  "usr/share/man/man8/cohortd.8.gz", "usr/share/man/man1/cohort.1.gz",
                  "usr/share/man/man1/cohort-sim.1.gz",
                  "usr/share/bash-completion/completions/cohort",
                  "usr/share/zsh/vendor-completions/_cohort",
                  "usr/share/doc/cohort/README.md", "usr/share/doc/cohort/copyright",
                  "usr/share/doc/cohort/docs/operations.md",
                  "usr/share/cohort/prometheus/cohort-alerts.yml",
                  "usr/share/cohort/grafana/cohort.json"):
            self.assertTrue(os.path.isfile(self.path(f)), f)
        info = run("dpkg-deb", "-f", self.deb, "Package", "Depends", "Architecture").stdout
        self.assertIn("Package: cohort", info)
        self.assertIn("libsodium23", info)  # from dpkg-shlibdeps
        self.assertIn("adduser", info)
        ctrl = os.path.join(self.tmp.name, "control")
        self.assertEqual(run("dpkg-deb", "-e", self.deb, ctrl).returncode, 0)
        with open(os.path.join(ctrl, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/cohort/cohortd.toml"])
        for script in ("postinst", "prerm", "postrm"):
            self.assertEqual(run("sh", "-n", os.path.join(ctrl, script)).returncode, 0, script)
        # The binaries are stripped: a package of megabytes, not hundreds.
        self.assertLess(os.path.getsize(self.path("usr/bin/cohortd")), 50 * 2**20)

    def test_the_unit_verifies_against_the_unpacked_files(self):
        unit = self.path("lib/systemd/system/cohortd.service")
        with open(unit) as f:
            text = f.read()
        for hardening in ("User=cohort", "ProtectSystem=strict", "ReadWritePaths=/var/lib/cohort",
                          "NoNewPrivileges=true", "StateDirectory=cohort"):
            self.assertIn(hardening, text)
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        # A root of its own: the package's files, and the system's units it refers to
        # (network-online.target, sysinit.target…) beside them.
        verify_root = os.path.join(self.tmp.name, "verify")
        shutil.copytree(self.root, verify_root, symlinks=True)
        units = os.path.join(verify_root, "lib", "systemd", "system")
        for f in glob.glob("/lib/systemd/system/*"):
            dest = os.path.join(units, os.path.basename(f))
            if os.path.lexists(dest):
                continue
            if os.path.isdir(f) and not os.path.islink(f):
                shutil.copytree(f, dest, symlinks=True)
            else:  # links stay links: they name units beside them
                shutil.copy2(f, dest, follow_symlinks=False)
        p = run("systemd-analyze", "verify", f"--root={verify_root}", "cohortd.service",
                env={**os.environ, "MANPATH": os.path.join(verify_root, "usr/share/man")})
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stderr.strip(), "", "systemd-analyze warned")

    def test_man_pages_render_from_the_same_source_as_help(self):
        for page, program in (("man8/cohortd.8.gz", "cohortd"), ("man1/cohort.1.gz", "cohort")):
            p = run("man", "--warnings", "-l", self.path("usr/share/man/" + page),
                    env={**os.environ, "MANWIDTH": "100", "MAN_KEEP_FORMATTING": "0"})
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr.strip(), "", f"{page}: {p.stderr}")
            usage = run(self.path("usr/bin/" + program), "--help").stdout
            about = usage.splitlines()[0].split(": ", 1)[-1]
            self.assertIn(about, " ".join(p.stdout.split()))
        cohort = run("man", "-l", self.path("usr/share/man/man1/cohort.1.gz"),
                     env={**os.environ, "MANWIDTH": "200"}).stdout
        for command in ("cohort doctor", "cohort registry snapshot", "cohort stream get"):
            self.assertIn(command, cohort)

    def test_bash_and_zsh_complete_subcommands_and_options(self):
        bash = self.path("usr/share/bash-completion/completions/cohort")
        script = (f"source {bash}; COMP_WORDS=(cohort registry s); COMP_CWORD=2; _cohort; "
                  'echo "${COMPREPLY[*]}"; COMP_WORDS=(cohort --json dev up --n); '
                  'COMP_CWORD=5; _cohort; echo "${COMPREPLY[*]}"')
        out = run("bash", "-c", script).stdout.splitlines()
        self.assertEqual(out[0].split(), ["snapshot", "status", "server"])
        self.assertIn("--nodes", out[1].split())
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed (scripts/deps installs it)")
        zsh = self.path("usr/share/zsh/vendor-completions/_cohort")
        script = ("compadd() { shift; print -l -- \"$@\" }; "
                  "words=(cohort resource m); CURRENT=3; "
                  f"source {zsh}")
        out = run("zsh", "-f", "-c", script).stdout.split()
        self.assertIn("move", out)
        self.assertIn("explain", out)

    def test_cohortd_starts_on_the_installed_default_configuration(self):
        if os.geteuid() != 0 or not shutil.which("unshare"):
            self.skipTest("needs root and unshare for a private /var/lib and network")
        if run("unshare", "-mn", "true").returncode != 0:
            self.skipTest("this machine cannot make mount and network namespaces")
        config = self.path("etc/cohort/cohortd.toml")
        key = self.path("etc/cohort/cluster.key")
        with open(key, "w") as f:  # as the postinst makes it
            f.write(run(self.path("usr/bin/cohort"), "keygen").stdout)
        os.chmod(key, 0o640)
        log = open(os.path.join(self.tmp.name, "cohortd.log"), "w")
        daemon = subprocess.Popen(
            ["unshare", "-mn", "--propagation", "private", "sh", "-c",
             'ip link set lo up && mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /run && '
             'exec "$0" --config "$1"',
             self.path("usr/bin/cohortd"), config], stdout=log, stderr=subprocess.STDOUT)
        try:
            def doctor():
                p = run("nsenter", "-t", str(daemon.pid), "-n", "--",
                        self.path("usr/bin/cohort"), "doctor", "--json", timeout=20)
                if daemon.poll() is not None:
                    raise AssertionError(f"cohortd exited {daemon.returncode}")
                return json.loads(p.stdout) if p.returncode == 0 else None
            doc = wait_for(doctor, 30, "a healthy one-node cluster")
            self.assertEqual(doc["cluster"], "cohort")
            self.assertEqual(doc["members"], {"up": 1, "total": 1})
        finally:
            daemon.terminate()
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
            log.close()
        self.assertEqual(daemon.returncode, 0, "cohortd leaves and exits 0 on SIGTERM")


# dpkg installs the package into a throwaway copy of this machine (an overlay on / in a
# mount namespace, entered by chroot; its network a namespace of its own): the postinst makes
# the user and the key and enables the unit; cohortd runs as that user on the installed files
# as the unit would (its state and runtime folders made as systemd makes them); purge
# removes it all. Nothing reaches the real system.
CONTAINER = r"""
set -eu
deb=$1 base=$2
mount -t tmpfs tmpfs "$base"
mkdir -p "$base/upper" "$base/work" "$base/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/root"
r=$base/root
mount --rbind /dev "$r/dev"; mount -t proc proc "$r/proc"
mount -t tmpfs tmpfs "$r/run"; mount -t tmpfs tmpfs "$r/tmp"
cp "$deb" "$r/tmp/cohort.deb"
inside() { chroot "$r" "$@"; }
inside dpkg -i /tmp/cohort.deb >/dev/null
echo "user: $(inside id -un cohort) $(inside id -gn cohort)"
echo "key: $(inside stat -c '%a %U %G' /etc/cohort/cluster.key)"
echo "enabled: $(inside readlink /etc/systemd/system/multi-user.target.wants/cohortd.service)"
echo "status: $(inside dpkg-query -W -f '${Status}' cohort)"
inside install -d -o cohort -g cohort -m 0700 /var/lib/cohort
inside install -d -o cohort -g cohort -m 0750 /run/cohort
ip link set lo up
# chroot and setpriv exec: $! is cohortd itself (a function here would be a subshell).
chroot "$r" setpriv --reuid=cohort --regid=cohort --init-groups /usr/bin/cohortd \
  --config /etc/cohort/cohortd.toml >"$base/cohortd.log" 2>&1 &
pid=$!
trap 'kill -KILL "$pid" 2>/dev/null || true' EXIT  # never outlives the test
ok=""
for i in $(seq 1 150); do
  if inside setpriv --reuid=cohort --regid=cohort --init-groups cohort doctor >"$base/doctor" 2>&1; then
    ok=1; break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
echo "doctor: $(head -2 "$base/doctor" | tail -1)"
kill -TERM "$pid" 2>/dev/null || true
status=0
wait "$pid" || status=$?
echo "cohortd exit: $status"
[ -n "$ok" ] || { cat "$base/cohortd.log"; exit 1; }
inside dpkg --purge cohort >/dev/null
echo "after purge: $(inside sh -c 'ls -d /etc/cohort /usr/bin/cohortd /var/lib/cohort 2>/dev/null | wc -l')"
"""


class Install(unittest.TestCase):
    def test_dpkg_installs_runs_and_purges_it_in_a_throwaway_root(self):
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
            self.skipTest("needs root, unshare and setpriv")
        if run("unshare", "-mn", "true").returncode != 0:
            self.skipTest("this machine cannot make mount and network namespaces")
        p = run("bash", os.path.join(ROOT, "scripts", "package"), "--no-build", timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr)
        deb = os.path.join(ROOT, p.stdout.strip().splitlines()[-1])
        with tempfile.TemporaryDirectory(prefix="cohort-dpkg-") as base:
            p = run("unshare", "-mn", "--propagation", "private", "bash", "-c", CONTAINER,
                    "container", deb, base, timeout=300)
            out = p.stdout
            self.assertEqual(p.returncode, 0, out + p.stderr)
        self.assertIn("user: cohort cohort", out)
        self.assertIn("key: 640 root cohort", out)
        self.assertIn("enabled: /lib/systemd/system/cohortd.service", out)
        self.assertIn("status: install ok installed", out)
        self.assertIn("doctor: HEALTHY: 1 of 1 nodes up", out)
        self.assertIn("cohortd exit: 0", out)
        self.assertIn("after purge: 0", out)


if __name__ == "__main__":
    unittest.main()
