"""The hyperopt REST API under a running job: how fast status, epochs, results and health answer.

Starts ``bistlab serve`` in a process of its own on a free 127.0.0.1 port over a fresh workspace
with the demo data, measures each endpoint idle (no job), during a start (data load + one measured
epoch in the server's thread pool) and while the job trains in its worker, then stops the job.

Usage:
    python bench/bench_api.py [--symbols SP500] [--requests 40]
Prints median and 95th percentile latencies in ms; never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ENDPOINTS = ("/api/health", "/api/hyperopt/status", "/api/hyperopt/epochs", "/api/hyperopt/jobs", "/api/hyperopt/results")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(client: httpx.Client, n: int, *, label: str) -> None:
    for path in ENDPOINTS:
        times, codes = [], set()
        for _ in range(n):
            t0 = time.perf_counter()
            codes.add(client.get(path).status_code)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        print(f"{label:<28} {path:<24} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms   codes {sorted(codes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", default="SP500")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bistlab-bench-api-"))
    subprocess.run([sys.executable, "-m", "bistlab.cli.main", "--workspace", str(root), "data", "demo"], check=True, capture_output=True)
    port = _port()
    server = subprocess.Popen([sys.executable, "-m", "bistlab.cli.main", "--workspace", str(root), "serve", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        while True:
            try:
                client.get("/api/health")
                break
            except httpx.TransportError:
                time.sleep(0.2)
        measure(client, args.requests, label="idle (no job)")
        body = {"mode": "quick", "symbols": args.symbols.split(","), "max_trials_per_group": 500, "convergence_patience": 1000}
        answer: dict = {}
        starter = threading.Thread(target=lambda: answer.update(r=client.post("/api/hyperopt/start", json=body)))
        t0 = time.perf_counter()
        starter.start()
        time.sleep(0.3)
        measure(client, max(3, args.requests // 8), label="during the start")
        starter.join()
        print(f"POST /api/hyperopt/start answered in {(time.perf_counter() - t0):.2f} s (data load + one measured epoch): {answer['r'].json()['time_estimate']}")
        while client.get("/api/hyperopt/status").json().get("total_trials_done", 0) < 2:
            time.sleep(0.5)
        measure(client, args.requests, label="while the job trains")
        print(client.post("/api/hyperopt/stop").json()["message"])
    finally:
        server.terminate()
        server.wait()
        print(f"workspace left in {root} (the job is paused; remove it when done)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
