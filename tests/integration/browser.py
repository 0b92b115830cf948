"""Headless Chromium (Debian's `chromium`) driven through its DevTools protocol over a pipe
(--remote-debugging-pipe): no WebSocket library to install and no debugging port another
process on the machine could reach. Messages are JSON, each ended by a NUL byte; Chromium reads
commands on its fd 3 and writes answers and events on its fd 4.

Every wait has a deadline; the browser is ended by the PID this module started."""
import base64
import contextlib
import fcntl
import http.server
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

# Without the background-networking flags Chromium tries to reach Google's hosts at every
# start; this machine's closed network refuses them, noisily.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
         "--remote-debugging-pipe", "about:blank"]


class BrowserError(Exception):
    pass


class Browser:
    """One headless Chromium; `start()` raises unittest.SkipTest, with the reason, where
    Chromium is not installed or cannot start here. Start it before any thread of the test
    (it forks with a preexec_fn, which is safe only while the process has one thread)."""

    def __init__(self):
        self.proc = None
        self.profile = None
        self.to_browser = self.from_browser = None
        self.buffer = b""
        self.next_id = 0
        self.events = []  # (sessionId, method, params) in arrival order

    def start(self, timeout=30):
        # Debian's /usr/bin/chromium is a shell launcher that does not keep fds 3 and 4 open.
        binary = next((b for b in ("/usr/lib/chromium/chromium", shutil.which("chromium"))
                       if b and os.access(b, os.X_OK)), None)
        if binary is None:
            raise unittest.SkipTest("chromium is not installed (scripts/deps installs it)")
        self.profile = tempfile.mkdtemp(prefix="cohort-chromium-")
        commands_r, commands_w = os.pipe()
        answers_r, answers_w = os.pipe()

        def onto_fds_3_and_4():  # in the child, before exec; high copies first, so that
            # neither end overwrites the other when one of them already is fd 3 or 4
            high_r = fcntl.fcntl(commands_r, fcntl.F_DUPFD_CLOEXEC, 10)
            high_w = fcntl.fcntl(answers_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        with open(os.path.join(self.profile, "stderr"), "wb") as stderr:
            self.proc = subprocess.Popen(
                [binary, f"--user-data-dir={self.profile}", *FLAGS], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=onto_fds_3_and_4,
                close_fds=False)
        os.close(commands_r)
        os.close(answers_w)
        self.to_browser, self.from_browser = commands_w, answers_r
        try:
            self.version = self.call("Browser.getVersion", timeout=timeout)["product"]
        except (BrowserError, OSError) as e:
            stderr = self.stderr_tail()
            self.close()
            raise unittest.SkipTest(f"chromium did not start here: {e}; {stderr}")
        return self

    def stderr_tail(self, limit=600):
        try:
            with open(os.path.join(self.profile, "stderr"), "rb") as f:
                return f.read()[-limit:].decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.send("Browser.close")
                self.proc.wait(10)
            except (BrowserError, OSError, subprocess.TimeoutExpired):
                self.proc.send_signal(signal.SIGKILL)  # by the PID we started
                self.proc.wait(10)
        for fd in (self.to_browser, self.from_browser):
            if fd is not None:
                os.close(fd)
        self.to_browser = self.from_browser = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # The protocol: a command, then events until its answer.

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.to_browser, data):]
        return self.next_id

    def call(self, method, params=None, session=None, timeout=20):
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self.read_message(deadline, f"the answer to {method}")
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})

    def read_message(self, deadline, what):
        while (message := self.take_message()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"timed out waiting for {what}")
            if select.select([self.from_browser], [], [], left)[0]:
                self.read_chunk(what)
        return message

    def read_chunk(self, what):
        chunk = os.read(self.from_browser, 1 << 16)
        if not chunk:
            raise BrowserError(f"chromium closed its pipe while waiting for {what}")
        self.buffer += chunk

    def take_message(self):
        """The next whole message in the buffer (events are kept), or None."""
        if b"\0" not in self.buffer:
            return None
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self.events.append((message.get("sessionId"), message["method"],
                                message.get("params", {})))
        return message

    def wait_event(self, session, method, timeout=20):
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for s, m, params in self.events[seen:]:
                if s == session and m == method:
                    return params
            seen = len(self.events)
            self.read_message(deadline, method)

    # Pages.

    def open(self, url, timeout=30):
        """A new tab showing `url`, loaded; its session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=session)
        self.events = [e for e in self.events if e[0] != session]
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_event(session, "Page.loadEventFired", timeout)
        # The load event may have been about:blank's: wait for the page itself.
        deadline = time.monotonic() + timeout
        while self.evaluate(session, "location.href + ' ' + document.readyState") != (
                url + " complete"):
            if time.monotonic() > deadline:
                raise BrowserError(f"{url} did not load in {timeout} s")
            time.sleep(0.05)
        return session

    def evaluate(self, session, expression, timeout=20):
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session, timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"the page threw: {text}")
        return result["result"].get("value")

    def console_errors(self, session):
        """Console errors, uncaught exceptions and error log entries the page has shown."""
        self.drain()
        errors = []
        for s, method, params in self.events:
            if s != session:
                continue
            if method == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                errors.append(" ".join(str(a.get("value", a.get("description")))
                                       for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(params["entry"].get("text", ""))
        return errors

    def drain(self):
        """Takes in the events already waiting on the pipe, without blocking."""
        while select.select([self.from_browser], [], [], 0)[0]:
            self.read_chunk("events")
        while self.take_message() is not None:
            pass

    def viewport(self, session, width, height, mobile=False):
        """Shows the page as a screen of this size would (a phone's with `mobile`)."""
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
                  session)

    def screenshot(self, session, path, full_page=False):
        params = {"format": "png"}
        if full_page:  # the whole page, not only what the viewport shows
            size = self.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"],
                                "height": size["height"], "scale": 1})
        data = self.call("Page.captureScreenshot", params, session)["data"]
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path


def artifacts_dir():
    """Where tests leave screenshots: $COHORT_ARTIFACTS, else build/test-artifacts."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("COHORT_ARTIFACTS",
                          os.path.join(here, "..", "..", "build", "test-artifacts"))


@contextlib.contextmanager
def served_page(html):
    """Serves `html` at http://127.0.0.1:<port>/ from a thread while the block runs; yields
    the URL. A page of its own origin on loopback, as a player's site would be: Chromium
    refuses loopback media to a page without one (a data: URL; Private Network Access)."""
    body = html.encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server calls
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body) if self.path == "/" else 0))
            self.end_headers()
            if self.path == "/":
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
