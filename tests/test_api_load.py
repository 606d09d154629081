"""The REST API under load and abuse while a hyperopt job trains (slow): two starts at the same
moment (one job, the other refused), a bounded burst of concurrent reads (every answer correct, the
job training on), and hostile requests (missing and wrong tokens, oversized, malformed and
cross-origin bodies, garbage on the socket, an idle connection held open): clear 4xx answers, the
job unharmed."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bistlab.api.app import create_app
from bistlab.api.security import MAX_BODY_BYTES
from bistlab.lstm import files
from tests.apiserver import LONG_QUICK, end_workers, price_workspace, process_server, thread_server, wait_status

pytestmark = pytest.mark.slow

TOKEN = "s3cret-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BURST_CLIENTS = 8
BURST_REQUESTS = 40
"""Requests per client of the burst: 320 in all, 8 at a time."""
READS = ("/api/hyperopt/status", "/api/hyperopt/results", "/api/hyperopt/epochs", "/api/hyperopt/jobs", "/api/health")


@pytest.fixture
def api_ws(tmp_path):
    ws = price_workspace(tmp_path / "ws")
    yield ws
    end_workers(ws)


def _running(s: dict[str, Any]) -> bool:
    assert s["status"] in ("starting", "running"), s
    return s["status"] == "running" and s.get("total_trials_done", 0) >= 1


@pytest.mark.parametrize("servers", ["one server", "two servers"])
def test_two_starts_at_the_same_moment_make_one_job(api_ws, servers):
    """Two clients press start together, on one server or on two servers of the same workspace:
    exactly one job starts; the other is refused with 409 naming the conflict."""
    with thread_server(create_app(api_ws)) as first, process_server(api_ws) as (second, _):
        urls = [first, first if servers == "one server" else second]
        barrier = threading.Barrier(2)
        answers: list[httpx.Response] = [None, None]  # type: ignore[list-item]

        def press(i: int) -> None:
            with httpx.Client(base_url=urls[i], timeout=120) as client:
                barrier.wait()
                answers[i] = client.post("/api/hyperopt/start", json=LONG_QUICK)

        threads = [threading.Thread(target=press, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        codes = sorted(r.status_code for r in answers)
        assert codes == [200, 409], [r.text for r in answers]
        won = next(r for r in answers if r.status_code == 200).json()
        lost = next(r for r in answers if r.status_code == 409).json()
        assert lost["error"] == "JobConflictError" and "another hyperopt job of this workspace is running" in lost["message"], lost
        assert files.job_ids(api_ws) == [won["job_id"]], "a refused start must leave no job behind"
        with httpx.Client(base_url=first, timeout=60) as client:
            wait_status(client, won["job_id"], lambda s: s["status"] == "running")
            assert client.post("/api/hyperopt/stop").json()["success"]
            assert wait_status(client, won["job_id"], lambda s: s["status"] != "running", timeout=120)["status"] == "paused"


def _burst(url: str, job_id: str) -> list[tuple[str, int, dict[str, Any]]]:
    """``BURST_CLIENTS`` clients, each sending ``BURST_REQUESTS`` reads in turn; every (path, code, body)."""

    def client_run(k: int) -> list[tuple[str, int, dict[str, Any]]]:
        out = []
        with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
            for i in range(BURST_REQUESTS):
                path = READS[(i + k) % len(READS)]
                r = client.get(path)
                out.append((path, r.status_code, r.json()))
        return out

    with ThreadPoolExecutor(BURST_CLIENTS) as pool:
        return [answer for run in pool.map(client_run, range(BURST_CLIENTS)) for answer in run]


def _check_burst(answers: list[tuple[str, int, dict[str, Any]]], job_id: str) -> None:
    assert len(answers) == BURST_CLIENTS * BURST_REQUESTS
    bad = [(p, c, b.get("message")) for p, c, b in answers if c != 200]
    assert not bad, bad[:5]
    for path, _, body in answers:
        if path == "/api/hyperopt/status":
            assert body["job_id"] == job_id and body["status"] == "running" and body["total_trials_done"] >= 1, body
        elif path == "/api/hyperopt/results":
            assert body["job_id"] == job_id and body["status"] == "running" and body["best_params"] and body["report_url"] is None, body
        elif path == "/api/hyperopt/epochs":
            assert body["job_id"] == job_id and body["trials"], body
        elif path == "/api/hyperopt/jobs":
            assert [j["job_id"] for j in body["jobs"]] == [job_id] and body["jobs"][0]["status"] == "running", body
        else:
            assert body["status"] == "ok" and body["job_id"] == job_id and body["running"] is True, body


def _trials(client: httpx.Client, job_id: str) -> int:
    return client.get("/api/hyperopt/status", params={"job_id": job_id}).json()["total_trials_done"]


def _raw(url: str, data: bytes) -> bytes:
    """Send raw bytes on a fresh connection; the server's first answer bytes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        return sock.recv(4096)


ABUSE: list[tuple[str, str, dict[str, Any], int, str]] = [
    # (method, path, request kwargs, expected status, words in the message)
    ("GET", "/api/hyperopt/status", {"headers": {}}, 401, "this server needs its token"),
    ("POST", "/api/hyperopt/stop", {"headers": {}}, 401, "this server needs its token"),
    ("POST", "/api/hyperopt/stop", {"headers": {"Authorization": "Bearer not-the-token-at-all-0000"}}, 401, "this server needs its token"),
    ("POST", "/api/hyperopt/stop", {"headers": {"Authorization": f"Basic {TOKEN}"}}, 401, "this server needs its token"),
    ("GET", "/api/hyperopt/results", {"headers": {}, "params": {"token": "wrong-token-wrong-token"}}, 401, "this server needs its token"),
    ("POST", "/api/hyperopt/stop", {"headers": {**AUTH, "Content-Type": "application/json"}, "content": b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}"}, 413, "at most"),
    ("POST", "/api/hyperopt/start", {"headers": {**AUTH, "Content-Type": "application/json"}, "content": (b"x" * 4096 for _ in range(40))}, 413, "at most"),
    ("POST", "/api/hyperopt/stop", {"headers": {**AUTH, "Content-Type": "application/json"}, "content": b'{"job_id": '}, 422, "valid JSON"),
    ("POST", "/api/hyperopt/stop", {"headers": AUTH, "json": [1, 2, 3]}, 422, "must be"),
    ("POST", "/api/hyperopt/stop", {"headers": AUTH, "json": {"job_id": "../../etc/passwd"}}, 422, "`job_id` must be a job id"),
    ("POST", "/api/hyperopt/resume", {"headers": AUTH, "json": {"job_id": 12}}, 422, "`job_id` must be"),
    ("POST", "/api/hyperopt/start", {"headers": AUTH, "json": {"mode": "quick", "symbols": ["../../etc"]}}, 422, "symbols"),
    ("POST", "/api/hyperopt/start", {"headers": AUTH, "json": {"mode": "quick", "epochs_per_trial": 10**30}}, 422, "epochs_per_trial"),
    ("POST", "/api/hyperopt/start", {"headers": AUTH, "json": LONG_QUICK}, 409, "another hyperopt job"),
    ("POST", "/api/hyperopt/stop", {"headers": {**AUTH, "Origin": "http://evil.example"}, "json": {}}, 403, "`Origin` must be this server"),
    ("GET", "/api/hyperopt/status", {"headers": AUTH, "params": {"job_id": "'; DROP TABLE trials; --"}}, 422, "`job_id` must be a job id"),
    ("GET", "/api/hyperopt/stop", {"headers": AUTH}, 405, ""),
    ("GET", "/api/../../etc/passwd", {"headers": AUTH}, 404, ""),
    ("DELETE", "/api/hyperopt/status", {"headers": AUTH}, 405, ""),
]


def test_a_running_job_under_a_burst_of_reads_and_hostile_requests(api_ws):
    with process_server(api_ws, token=TOKEN) as (url, _), httpx.Client(base_url=url, headers=AUTH, timeout=120) as client:
        r = client.post("/api/hyperopt/start", json=LONG_QUICK)
        assert r.status_code == 200, r.text
        job_id = r.json()["job_id"]
        running = wait_status(client, job_id, _running)
        state_before = files.read_state(api_ws, job_id)

        t0, n0 = time.monotonic(), _trials(client, job_id)
        time.sleep(8.0)
        quiet_rate = (_trials(client, job_id) - n0) / (time.monotonic() - t0)

        t1, n1 = time.monotonic(), _trials(client, job_id)
        answers = _burst(url, job_id)
        burst_seconds = time.monotonic() - t1
        time.sleep(max(0.0, 8.0 - burst_seconds))  # at least as long a window as the quiet one
        burst_rate = (_trials(client, job_id) - n1) / (time.monotonic() - t1)
        _check_burst(answers, job_id)
        print(f"\n{len(answers)} reads by {BURST_CLIENTS} clients in {burst_seconds:.1f} s ({len(answers) / burst_seconds:.0f}/s); "
              f"the job's trials/s quiet {quiet_rate:.2f}, during the burst {burst_rate:.2f}")
        assert burst_rate > 0, "the job made no progress while the reads were answered"

        idle = socket.create_connection((url.removeprefix("http://").split(":")[0], int(url.rsplit(":", 1)[1])), timeout=30)
        try:  # an idle connection held open (a slow client) must not stop the others being answered
            for method, path, kwargs, code, words in ABUSE:
                headers = kwargs.get("headers", {})
                with httpx.Client(base_url=url, timeout=60) as bare:
                    r = bare.request(method, path, **{**kwargs, "headers": headers})
                assert r.status_code == code, (method, path, r.status_code, r.text[:300])
                if words:
                    assert words in r.json()["message"], (method, path, r.json())
            assert _raw(url, b"GARBAGE \x00\xff NOT HTTP\r\n\r\n").startswith(b"HTTP/1.1 400"), "garbage on the socket"
            assert _raw(url, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Big: " + b"a" * 200_000 + b"\r\n\r\n")[:12] in (b"HTTP/1.1 400", b"HTTP/1.1 431", b"")
        finally:
            idle.close()

        after = client.get("/api/hyperopt/status").json()
        assert after["status"] == "running" and after["pid"] == running["pid"], after
        assert after["total_trials_done"] > running["total_trials_done"], "the job stopped training"
        state_after = files.read_state(api_ws, job_id)
        assert state_after.config == state_before.config and state_after.created_at == state_before.created_at
        assert files.job_ids(api_ws) == [job_id], "a refused request created a job"
        stop = client.post("/api/hyperopt/stop")
        assert stop.status_code == 200 and stop.json()["success"], stop.text
        paused = wait_status(client, job_id, lambda s: s["status"] != "running", timeout=120)
        assert paused["status"] == "paused" and paused["resumable"]
        # every trial the job counted is in its studies, none twice
        counted = sum(paused["trials_done"].values())
        assert counted == paused["total_trials_done"] >= after["total_trials_done"]
        print(json.dumps({"requests_under_load": len(answers), "hostile_requests": len(ABUSE) + 3, "trials_done": counted}))
