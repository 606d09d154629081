"""Helpers of the API tests: a real uvicorn server on a free 127.0.0.1 port (in a thread, or
`bistlab serve` in a process), crafted job files, and polling a job's status over HTTP."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bistlab.core.workspace import Workspace
from bistlab.core.jsonio import write_json_atomic
from bistlab.lstm.config import OptimizationConfig
from tests.conftest import _free_port, market_workspace

REPO = Path(__file__).resolve().parents[1]

# a tiny full job (tests/test_lstm_resume.py): no pruning, every trial runs exactly 3 epochs
TINY_FULL: dict[str, Any] = dict(
    mode="full", symbols=["AAA"], epochs_per_trial=3, max_trials_per_group=2, n_startup_trials=1, n_warmup_steps=10,
    convergence_patience=10, num_threads=1, hidden_size=8, sequence_length=10,
)
TINY_FULL_CLI = [
    "hyperopt", "start", "--mode", "full", "--symbols", "AAA", "--epochs-per-trial", "3", "--max-trials-per-group", "2", "--n-startup-trials", "1",
    "--n-warmup-steps", "10", "--convergence-patience", "10", "--threads", "1", "--hidden-size", "8", "--sequence-length", "10",
]
"""The same job from the command line."""
# a job that runs for minutes unless stopped: many short trials of one group
LONG_QUICK: dict[str, Any] = dict(
    mode="quick", symbols=["AAA"], epochs_per_trial=3, max_trials_per_group=200, n_startup_trials=1, n_warmup_steps=10,
    convergence_patience=500, num_threads=1, hidden_size=8, sequence_length=10,
)


@contextlib.contextmanager
def thread_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its base URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def env_with_repo() -> dict[str, str]:
    """The environment for a subprocess that must import this checkout's bistlab."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}


@contextlib.contextmanager
def process_server(ws: Workspace, *args: str, token: str | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``bistlab serve`` in a process of its own on a free port; yields its base URL and the process."""
    port = _free_port()
    env = env_with_repo()
    env.pop("BISTLAB_API_TOKEN", None)
    if token:
        env["BISTLAB_API_TOKEN"] = token
    cmd = [sys.executable, "-m", "bistlab.cli.main", "--workspace", str(ws.root), "serve", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                httpx.get(f"{url}/api/health", headers=headers, timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "bistlab serve did not start"
                time.sleep(0.2)
        yield url, proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen, *, timeout: float = 15.0) -> None:
    """End a process this test started (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_status(client: httpx.Client, job_id: str, done: Any, *, timeout: float = 300.0) -> dict[str, Any]:
    """Poll ``GET /api/hyperopt/status`` until ``done(status)`` holds; returns that status."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get("/api/hyperopt/status", params={"job_id": job_id})
        assert r.status_code == 200, r.text
        s = r.json()
        if done(s):
            return s
        assert time.monotonic() < deadline, f"timed out waiting; last status: {s}"
        time.sleep(0.2)


def end_workers(ws: Workspace) -> None:
    """Stop every worker of the workspace's jobs that still runs (SIGTERM: a graceful stop; SIGKILL
    after 60 s): the workers run in sessions of their own and would outlive the test."""
    import signal

    from bistlab.lstm import files

    for job_id in files.job_ids(ws):
        pid = files.read_state(ws, job_id).pid
        if not files.pid_alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while files.pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if files.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def price_workspace(root: Path) -> Workspace:
    """A workspace whose price store holds ``AAA`` (600 rows, tests/test_lstm_resume.py's data)."""
    return market_workspace(root, {"AAA": 600})


def craft_job(ws: Workspace, job_id: str, *, status: str, pid: int | None = None, **progress: Any) -> Path:
    """Write the state.json of a job by hand (no training), as the runner would."""
    config = OptimizationConfig(mode="quick", symbols=("AAA",)).to_dict()
    p = {"current_group": None, "current_trial": None, "current_epoch": None, "groups_planned": ["learning_rate"], "groups_completed": [],
         "trials_done": {}, "best_values": {}, "total_trials_done": 0, **progress}
    state = {"job_id": job_id, "status": status, "config": config, "progress": p, "pid": pid, "error": None, "created_at": "2025-01-02T03:04:05+00:00",
             "time_estimate": {"estimated_hours": 0.01, "total_trials": 15, "seconds_per_epoch": 0.2, "measured": True}, "time_estimate_refined": None}
    path = ws.hyperopt_job_dir(job_id) / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, state)
    return path
