#!/usr/bin/env python3
"""Serving throughput of one node's media server against nginx, side by side (W2's target:
≥ 90% of nginx serving the same files on this machine), printed for docs/benchmarks.md.

One cohortd (`cohort dev up --nodes 1 --streams`) and one nginx (Debian's nginx-light, one
worker process: the media server is one thread) serve the same folder: the node's content
root. wrk (one thread, C connections, keep-alive) loads each in turn, alternating which goes
first, for D seconds per run; each workload prints every run and the medians:
  - segment: whole-file GETs of a 1 MiB file (an HLS/DASH segment);
  - range:   256 KiB byte ranges of a 64 MiB file (progressive playback's requests).
Both answer from the page cache with sendfile. The media server's requests name one session,
as a player's would; its capacity is set far above what loopback can carry.
Usage: bench/streams_vs_nginx.py   (env: RUNS=5, SECONDS=5, CONNECTIONS=32)
Every process is ended by the PID this script started; traffic stays on 127.0.0.1."""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

from benchlib import cohort, wait

RUNS = int(os.environ.get("RUNS", "5"))
SECONDS = int(os.environ.get("SECONDS", "5"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
BASE = 17400
NGINX_PORT = 17490

WORKLOADS = [
    ("segment", "segment.bin", 1 << 20, {}),
    ("range", "movie.bin", 64 << 20, {"Range": "bytes=8388608-8650751"}),
]


def write_file(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)


def nginx_config(folder, root):
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read a 0700 folder
    return f"""{user}worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    sendfile on;
    tcp_nopush on;
    access_log off;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path {folder}/nginx-tmp;
    proxy_temp_path {folder}/nginx-tmp;
    fastcgi_temp_path {folder}/nginx-tmp;
    uwsgi_temp_path {folder}/nginx-tmp;
    scgi_temp_path {folder}/nginx-tmp;
    server {{
        listen 127.0.0.1:{NGINX_PORT};
        root {root};
        location / {{ }}
    }}
}}
"""


def wrk(url, headers):
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run(args + [url], capture_output=True, text=True,
                         timeout=SECONDS + 60).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if rate is None:
        raise SystemExit(f"wrk printed no rate for {url}:\n{out}")
    if errors:
        raise SystemExit(f"{errors.group(1)} failed requests from {url}:\n{out}")
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return float(rate.group(1)), float(p99.group(1)) * scale[p99.group(2)] if p99 else None


def answers(url, headers):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                          *sum((["-H", f"{k}: {v}"] for k, v in headers.items()), []), url],
                         capture_output=True, text=True, timeout=10).stdout
    return out in ("200", "206")


def main():
    for tool in ("wrk", "nginx", "curl"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            raise SystemExit(f"{tool} is not installed (scripts/deps installs it)")
    with tempfile.TemporaryDirectory(prefix="cohort-nginx-bench-") as folder:
        up = cohort("dev", "up", "--nodes", "1", "--dir", folder, "--base-port", str(BASE),
                    "--adapters", "1", "--streams", "--stream-capacity-mbps", "10000000",
                    "--json")
        if up.returncode != 0:
            raise SystemExit(f"dev up failed: {up.stderr}")
        node = json.loads(up.stdout)["nodes"][0]
        root = os.path.join(node["dir"], "content")
        for _, name, size, _ in WORKLOADS:
            write_file(os.path.join(root, name), size)
        os.makedirs(os.path.join(folder, "nginx-tmp"), exist_ok=True)
        with open(os.path.join(folder, "nginx.conf"), "w") as f:
            f.write(nginx_config(folder, root))
        nginx = subprocess.Popen(["/usr/sbin/nginx", "-c", os.path.join(folder, "nginx.conf"),
                                  "-p", folder], stderr=subprocess.DEVNULL)
        try:
            listed = lambda: len(json.loads(cohort("--api", node["api"], "--json", "content",
                                                   "list").stdout)["items"]) == len(WORKLOADS)
            if not wait(listed, 60):
                raise SystemExit("the node's catalog does not list the files")
            run_all(node["stream"])
        finally:
            cohort("dev", "down", "--dir", folder)
            nginx.send_signal(signal.SIGTERM)  # by the PID this script started
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait(10)


def run_all(stream):
    servers = {"cohort": lambda name: f"http://{stream}/media/{name}?session=1&kbps=1",
               "nginx": lambda name: f"http://127.0.0.1:{NGINX_PORT}/{name}"}
    print(f"wrk -t1 -c{CONNECTIONS} -d{SECONDS}s, {RUNS} runs each, alternating first",
          flush=True)
    for label, name, size, headers in WORKLOADS:
        served = size if not headers else 256 << 10
        for server, url in servers.items():
            if not wait(lambda: answers(url(name), headers), 20):
                raise SystemExit(f"{server} does not serve {name}")
        rates = {s: [] for s in servers}
        for run in range(RUNS):
            order = list(servers) if run % 2 == 0 else list(reversed(servers))
            for server in order:
                rate, p99 = wrk(servers[server](name), headers)
                rates[server].append(rate)
                print(f"{label} run {run + 1} {server}: {rate:,.0f} req/s, "
                      f"{rate * served / (1 << 20):,.0f} MiB/s, p99 {p99} ms", flush=True)
        medians = {s: statistics.median(r) for s, r in rates.items()}
        print(f"{label}: median cohort {medians['cohort']:,.0f} req/s "
              f"({medians['cohort'] * served / (1 << 20):,.0f} MiB/s), nginx "
              f"{medians['nginx']:,.0f} req/s ({medians['nginx'] * served / (1 << 20):,.0f} "
              f"MiB/s): cohort/nginx {medians['cohort'] / medians['nginx']:.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
