"""The REST API over real HTTP on 127.0.0.1 (uvicorn started by the test): start → status → stop →
resume → results of a small full job ending where the CLI's uninterrupted run ends; a second start
refused; status answered while a start loads data and measures its epoch; a server restart that
finds the running job; a killed worker reported failed while the server keeps answering; a
token-protected `bistlab serve`."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest
from typer.testing import CliRunner

from bistlab.api.app import create_app
from bistlab.lstm.files import JobLock
from bistlab.lstm.groups import GROUP_ORDER
from bistlab.lstm.jobs import job_results
from tests.apiserver import LONG_QUICK, TINY_FULL, TINY_FULL_CLI, end_workers, price_workspace, process_server, thread_server, wait_status
from tests.conftest import _free_port

pytestmark = pytest.mark.slow

TOKEN = "s3cret-token-for-tests-0123"


@pytest.fixture(scope="module")
def cli_reference(tmp_path_factory):
    """The same tiny full job run uninterrupted by `bistlab hyperopt start` (foreground)."""
    from bistlab.cli.main import app

    ws = price_workspace(tmp_path_factory.mktemp("cli_reference"))
    out = CliRunner().invoke(app, ["--workspace", str(ws.root), *TINY_FULL_CLI])
    assert out.exit_code == 0, out.output
    return job_results(ws)


@pytest.fixture
def api_ws(tmp_path):
    ws = price_workspace(tmp_path / "ws")
    yield ws
    end_workers(ws)


def _in_second_group_or_later(s: dict) -> bool:
    assert s["status"] in ("starting", "running"), s
    return bool(s.get("groups_completed"))


def test_start_status_stop_resume_results_end_where_the_cli_ends(api_ws, cli_reference):
    with thread_server(create_app(api_ws)) as url, httpx.Client(base_url=url, timeout=120) as client:
        r = client.post("/api/hyperopt/start", json=TINY_FULL)
        assert r.status_code == 200, r.text
        started = r.json()
        job_id = started["job_id"]
        assert started["success"] and started["status"] == "starting" and started["pid"]
        assert started["time_estimate"]["measured"] and started["time_estimate"]["total_trials"] == 12
        again = client.post("/api/hyperopt/start", json=TINY_FULL)
        assert again.status_code == 409 and again.json()["error"] == "JobConflictError" and again.json()["job_id"] == job_id
        running = wait_status(client, job_id, _in_second_group_or_later, timeout=300)
        stop = client.post("/api/hyperopt/stop")
        assert stop.status_code == 200 and stop.json() == {**stop.json(), "success": True, "status": "paused", "can_resume": True, "job_id": job_id}
        paused = wait_status(client, job_id, lambda s: s["status"] != "running", timeout=120)
        assert paused["status"] == "paused" and paused["resumable"] and paused["groups_completed"][:1] == ["learning_rate"]
        assert paused["best_values"]["learning_rate"] == running["best_values"]["learning_rate"]
        assert paused["time_estimate_refined"]["remaining_trials"] < 12 and paused["current_group"] in GROUP_ORDER
        epochs = client.get("/api/hyperopt/epochs").json()
        assert epochs["job_id"] == job_id and epochs["trials"] and all(len(t["epoch_values"]) <= 3 for t in epochs["trials"])
        resumed = client.post("/api/hyperopt/resume", json={"job_id": job_id})
        assert resumed.status_code == 200, resumed.text
        assert resumed.json() == {"success": True, "status": "resumed", "job_id": job_id, "pid": resumed.json()["pid"], "progress": {
            "current_group": paused["current_group"], "current_trial": paused["current_trial"], "groups_completed": paused["groups_completed"]}}
        assert resumed.json()["pid"] != started["pid"]
        done = wait_status(client, job_id, lambda s: s["status"] not in ("starting", "running"), timeout=300)
        assert done["status"] == "completed", done.get("error")
        results = client.get("/api/hyperopt/results").json()
        assert client.post("/api/hyperopt/resume").status_code == 409
        assert client.get(results["report_url"]).status_code == 200
    assert results["job_id"] == job_id and results["groups_completed"] == cli_reference["groups_completed"] == list(GROUP_ORDER)
    assert results["best_params"] == cli_reference["best_params"]
    for group in GROUP_ORDER:
        assert results["group_results"][group]["best_value"] == cli_reference["group_results"][group]["best_value"], group
    assert results["holdout"]["val_f1"] == cli_reference["holdout"]["val_f1"]


def test_status_is_answered_while_a_start_loads_data_and_measures(api_ws, monkeypatch):
    from bistlab.lstm import jobs

    real = jobs.load_data

    def slow_load(ws, config):
        time.sleep(3.0)  # a large price store
        return real(ws, config)

    monkeypatch.setattr(jobs, "load_data", slow_load)
    with thread_server(create_app(api_ws)) as url, httpx.Client(base_url=url, timeout=120) as client:
        answer: dict = {}
        starter = threading.Thread(target=lambda: answer.update(r=client.post("/api/hyperopt/start", json=LONG_QUICK)))
        starter.start()
        deadline = time.monotonic() + 30
        while not JobLock(api_ws).held_elsewhere():
            assert time.monotonic() < deadline, "the start never took the job lock"
            time.sleep(0.02)
        latencies = []
        for path in ("/api/health", "/api/hyperopt/status", "/api/hyperopt/jobs", "/"):
            t0 = time.perf_counter()
            assert client.get(path).status_code == 200, path
            latencies.append(time.perf_counter() - t0)
        assert starter.is_alive(), "the start ended before the other requests were answered"
        starter.join(120)
        assert answer["r"].status_code == 200, answer["r"].text
        print(f"answers while a start is in progress: {', '.join(f'{t * 1000:.0f} ms' for t in latencies)}")
        wait_status(client, answer["r"].json()["job_id"], lambda s: s["status"] == "running")
        assert client.post("/api/hyperopt/stop").json()["success"]


def test_a_restarted_server_finds_the_job_and_a_killed_worker_is_reported(api_ws):
    with process_server(api_ws) as (url, _):
        r = httpx.post(f"{url}/api/hyperopt/start", json=LONG_QUICK, timeout=120)
        assert r.status_code == 200, r.text
        job_id = r.json()["job_id"]
        with httpx.Client(base_url=url, timeout=30) as client:
            running = wait_status(client, job_id, lambda s: s["status"] == "running" and s.get("current_trial") is not None)
    # the first server is gone; its worker is not
    with process_server(api_ws) as (url, _), httpx.Client(base_url=url, timeout=30) as client:
        s = client.get("/api/hyperopt/status").json()
        assert s["job_id"] == job_id and s["status"] == "running" and s["pid"] == running["pid"]
        os.kill(s["pid"], signal.SIGKILL)
        failed = wait_status(client, job_id, lambda s: s["status"] != "running", timeout=60)
        assert failed["status"] == "failed" and failed["recorded_status"] == "running" and failed["resumable"]
        assert f"worker process {s['pid']} is gone (killed?)" in failed["error"]
        assert client.get("/api/health").json()["running"] is False
        assert client.get("/api/hyperopt/jobs").json()["jobs"][-1]["status"] == "failed"
        resumed = client.post("/api/hyperopt/resume")
        assert resumed.status_code == 200 and resumed.json()["status"] == "resumed", resumed.text
        wait_status(client, job_id, lambda s: s["status"] == "running")
        assert client.post("/api/hyperopt/stop").json()["success"]
        assert wait_status(client, job_id, lambda s: s["status"] != "running", timeout=120)["status"] == "paused"


def test_a_token_protected_server_refuses_a_missing_or_wrong_token(api_ws):
    dashboard = _free_port()
    with process_server(api_ws, "--dashboard-port", str(dashboard), token=TOKEN) as (url, _):
        for headers in ({}, {"Authorization": "Bearer not-the-token-at-all-0000"}):
            for method, path in (("GET", "/api/health"), ("GET", "/api/hyperopt/status"), ("POST", "/api/hyperopt/stop"), ("GET", "/"), ("GET", "/openapi.json")):
                r = httpx.request(method, f"{url}{path}", headers=headers, timeout=30)
                assert r.status_code == 401 and "token" in r.json()["message"], (method, path, headers)
        ok = httpx.get(f"{url}/api/hyperopt/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert ok.status_code == 200 and ok.json()["status"] == "idle"
        page = httpx.get(f"{url}/?token={TOKEN}", timeout=30, follow_redirects=True)
        assert page.status_code == 200 and "LSTM hyperopt" in page.text
        assert f'data-dashboard-url="http://127.0.0.1:{dashboard}/"' in page.text  # the dashboard serve started beside the API
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{dashboard}/api/studies", timeout=30).json()["study_summaries"] == []
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "optuna-dashboard did not start beside the API"
                time.sleep(0.2)
