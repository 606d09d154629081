"""The REST API through FastAPI's TestClient (fast): every bad request gets its status code and a
message (never a 500), conflicts and unknown jobs, the token, Host and Origin rules, the
loopback-or-token rule of `bistlab serve`, and the OpenAPI document of every endpoint."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import fields

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bistlab.api.app import create_app
from bistlab.api.app import STATIC_DIR
from bistlab.api.models import StartRequest
from bistlab.api.security import MAX_BODY_BYTES, check_bind, cookie_name
from bistlab.errors import ConfigError
from bistlab.lstm.config import OptimizationConfig
from bistlab.lstm.files import JobLock
from tests.apiserver import craft_job
from tests.crafted import craft_holdout_cycle

BASE = "http://127.0.0.1:8765"
TOKEN = "s3cret-token-for-tests-0123"
DONE = "20250102_030405"
PAUSED = "20250102_030406"


@pytest.fixture
def client(workspace):
    return TestClient(create_app(workspace), base_url=BASE)


@pytest.fixture
def jobs_ws(workspace):
    """A completed job and, started later, a paused one (files only, no training)."""
    craft_job(workspace, DONE, status="completed", groups_completed=["learning_rate"], best_values={"learning_rate": 0.41}, trials_done={"learning_rate": 15})
    craft_job(workspace, PAUSED, status="paused", current_group="learning_rate", current_trial=3, trials_done={"learning_rate": 3}, best_values={"learning_rate": 0.38})
    return workspace


BAD_STARTS = [
    ({"mode": "turbo"}, "`mode` must be one of full, quick, group, fine_tune but got 'turbo'"),
    ({"mode": "group"}, "`target_group` must be one of learning_rate"),
    ({"mode": "group", "target_group": "optimizer"}, "`target_group` must be one of"),
    ({"mode": "full", "target_group": "scheduler"}, "`target_group` must be empty unless mode is 'group'"),
    ({"epochs_per_trial": 0}, "`epochs_per_trial` must be a whole number >= 1 and <= 1000000 but got 0"),
    ({"max_trials_per_group": -3}, "`max_trials_per_group` must be a whole number >= 1 and <= 1000000 but got -3"),
    ({"max_total_hours": 0}, "`max_total_hours` must be a number > 0 but got 0"),
    ({"pruning_percentile": 150.0}, "`pruning_percentile` must be a number >= 0 and <= 100 but got 150.0"),
    ({"primary_metric": "val_auc"}, "`primary_metric` must be one of val_f1"),
    ({"seed": -1}, "`seed` must be a whole number >= 0 and <= 4294967295 but got -1"),
    ({"study_name": "a b"}, "`study_name` must be letters, digits"),
    ({"device": "tpu"}, "`device` must be one of auto, cpu, cuda"),
    ({"mode": "quick", "symbols": ["ZZZ"]}, "ZZZ"),
    ({"mode": "quick", "symbols": ["../../etc"]}, "`symbols` must be symbols that each match"),
    ({"mode": "quick", "symbols": "A B,CON"}, "`symbols` must be symbols that each match"),
    ({"epochs_per_trial": 10**30}, "`epochs_per_trial` must be a whole number >= 1 and <= 1000000 but got 1000000000000000000000000000000"),
    ({"epochs_per_trial": "4"}, "`epochs_per_trial` must be a valid integer but got '4'"),
    ({"epochs_per_trial": True}, "`epochs_per_trial` must be a valid integer but got True"),
    ({"use_mlflow": "yes"}, "`use_mlflow` must be a valid boolean but got 'yes'"),
    ({"epoch_per_trial": 4}, "`epoch_per_trial` must be absent: it is not a field of this request"),
    ([1, 2], "must be a JSON object"),
]


@pytest.mark.parametrize(("body", "message"), BAD_STARTS, ids=[str(b)[:40] for b, _ in BAD_STARTS])
def test_every_bad_start_is_422_with_a_message(client, body, message):
    r = client.post("/api/hyperopt/start", json=body)
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["success"] is False and answer["job_id"] is None and message in answer["message"], answer


def test_malformed_bodies_and_queries_are_422(client):
    r = client.post("/api/hyperopt/start", content=b'{"mode": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "valid JSON" in r.json()["message"]
    r = client.post("/api/hyperopt/start", content=b"mode=full", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422
    for path in ("/api/hyperopt/status", "/api/hyperopt/results", "/api/hyperopt/epochs"):
        r = client.get(path, params={"job_id": "../../etc"})
        assert r.status_code == 422 and "`job_id` must be a job id YYYYMMDD_HHMMSS" in r.json()["message"], path
    r = client.post("/api/hyperopt/stop", json={"job_id": "x"})
    assert r.status_code == 422 and "`job_id` must be a job id" in r.json()["message"]


def _chunks(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("route", ["/api/hyperopt/start", "/api/hyperopt/stop", "/api/hyperopt/resume"])
def test_an_oversized_body_is_413_before_any_route_reads_it(client, workspace, route, monkeypatch):
    from bistlab.lstm import jobs

    monkeypatch.setattr(jobs, "load_data", lambda *a, **k: pytest.fail("a route read an oversized body"))
    big = b'{"mode": "quick", "study_name": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    declared = client.post(route, content=big, headers={"Content-Type": "application/json"})
    streamed = client.post(route, content=_chunks(big, 8192), headers={"Content-Type": "application/json"})  # chunked: no length declared
    for r in (declared, streamed):
        assert r.status_code == 413, r.text
        assert r.json()["error"] == "BodyTooLarge" and f"at most {MAX_BODY_BYTES} bytes" in r.json()["message"]
    assert not list((workspace.root / "runs").rglob("state.json"))
    small = client.post("/api/hyperopt/start", content=_chunks(b'{"mode": "turbo"}', 4), headers={"Content-Type": "application/json"})
    assert small.status_code == 422 and "`mode` must be one of" in small.json()["message"]  # a small chunked body is read whole


def test_a_malformed_content_length_is_400(client):
    r = client.post("/api/hyperopt/stop", content=b"{}", headers={"Content-Type": "application/json", "Content-Length": "ten"})
    assert r.status_code == 400 and "`Content-Length` must be a whole number" in r.json()["message"]


def test_unknown_jobs_are_404_and_an_empty_workspace_is_idle(client):
    r = client.get("/api/hyperopt/status")
    assert r.status_code == 200 and r.json()["status"] == "idle" and r.json()["job_id"] is None
    for method, path, kwargs in (
        ("GET", "/api/hyperopt/status", {"params": {"job_id": "19990101_000000"}}),
        ("GET", "/api/hyperopt/results", {"params": {"job_id": "19990101_000000"}}),
        ("GET", "/api/hyperopt/epochs", {"params": {"job_id": "19990101_000000"}}),
        ("GET", "/api/hyperopt/results", {}),
        ("POST", "/api/hyperopt/stop", {}),
        ("POST", "/api/hyperopt/resume", {"json": {"job_id": "19990101_000000"}}),
    ):
        r = client.request(method, path, **kwargs)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"] == "JobNotFoundError" and r.json()["message"], r.json()
    assert client.get("/api/nothing-here").status_code == 404
    assert client.get("/reports/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_status_results_jobs_and_health_of_crafted_jobs(client, jobs_ws):
    s = client.get("/api/hyperopt/status").json()
    assert s["job_id"] == PAUSED and s["status"] == "paused" and s["resumable"] is True
    assert s["current_group"] == "learning_rate" and s["current_trial"] == 3 and s["best_values"] == {"learning_rate": 0.38}
    assert s["groups_planned"] == ["learning_rate"] and s["trials_done"] == {"learning_rate": 3} and s["max_trials_per_group"] == 15
    s = client.get("/api/hyperopt/status", params={"job_id": DONE}).json()
    assert s["status"] == "completed" and s["groups_completed"] == ["learning_rate"] and s["resumable"] is False
    r = client.get("/api/hyperopt/results", params={"job_id": DONE}).json()
    assert r["job_id"] == DONE and r["status"] == "completed" and r["report_url"] is None
    jobs = client.get("/api/hyperopt/jobs").json()
    assert jobs["job_id"] == PAUSED and [j["job_id"] for j in jobs["jobs"]] == [DONE, PAUSED]
    h = client.get("/api/health").json()
    assert h == {**h, "status": "ok", "job_id": PAUSED, "running": False}
    e = client.get("/api/hyperopt/epochs").json()
    assert e == {"success": True, "job_id": PAUSED, "group": "learning_rate", "metric": "val_f1", "trials": []}
    r = client.get("/api/hyperopt/epochs", params={"group": "scheduler"})
    assert r.status_code == 422 and "`group` must be one of the job's groups (learning_rate)" in r.json()["message"]
    report = jobs_ws.hyperopt_report(DONE)
    report.write_text("<html>report</html>")
    assert client.get(f"/reports/hyperopt_{DONE}.html").text == "<html>report</html>"
    assert client.get("/api/hyperopt/results", params={"job_id": DONE}).json()["report_url"] == f"/reports/hyperopt_{DONE}.html"


def test_the_epoch_chart_reads_the_group_study(client, jobs_ws):
    import optuna

    url = f"sqlite:///{jobs_ws.hyperopt_job_dir(PAUSED) / 'ml_hyperopt_learning_rate.db'}"
    study = optuna.create_study(study_name="ml_hyperopt_learning_rate", storage=url, direction="maximize")
    dist = {"learning_rate": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}
    for i, values in enumerate(([0.30, 0.32, 0.31], [0.28, float("nan")])):
        study.add_trial(optuna.trial.create_trial(params={"learning_rate": 1e-3 * (i + 1)}, distributions=dist, value=0.3, user_attrs={"epoch_values": values}))
    e = client.get("/api/hyperopt/epochs").json()
    assert e["job_id"] == PAUSED and e["group"] == "learning_rate"
    assert [(t["number"], t["state"], t["epoch_values"]) for t in e["trials"]] == [(0, "COMPLETE", [0.30, 0.32, 0.31]), (1, "COMPLETE", [0.28, None])]


def test_a_job_whose_worker_is_gone_is_failed_with_the_error(client, workspace):
    craft_job(workspace, DONE, status="running", pid=2**22 + 12345, current_group="learning_rate")
    s = client.get("/api/hyperopt/status").json()
    assert s["status"] == "failed" and s["recorded_status"] == "running" and s["resumable"] is True
    assert "is gone (killed?)" in s["error"]


def test_conflicts_are_409(client, jobs_ws):
    r = client.post("/api/hyperopt/resume", json={"job_id": DONE})
    assert r.status_code == 409 and r.json()["error"] == "JobStateError" and "completed" in r.json()["message"] and r.json()["job_id"] == DONE
    r = client.post("/api/hyperopt/stop", json={"job_id": DONE})
    assert r.status_code == 409 and r.json()["success"] is False and r.json()["status"] == "completed" and r.json()["job_id"] == DONE
    lock = JobLock(jobs_ws).acquire()  # as a running job's worker holds it
    lock.mark("20250102_999999")
    try:
        r = client.post("/api/hyperopt/start", json={"mode": "quick", "symbols": ["AAA"]})
        assert r.status_code == 409 and r.json()["error"] == "JobConflictError" and "another hyperopt job" in r.json()["message"]
        assert r.json()["job_id"] == "20250102_999999"
        r = client.post("/api/hyperopt/resume", json={"job_id": PAUSED})
        assert r.status_code == 409 and r.json()["error"] == "JobConflictError"
    finally:
        lock.release()


def test_an_unexpected_error_is_a_logged_500(workspace, monkeypatch, caplog):
    from bistlab.api import views

    monkeypatch.setattr(views, "jobs_view", lambda ws: 1 / 0)
    client = TestClient(create_app(workspace), base_url=BASE, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="bistlab.api.app"):
        r = client.get("/api/hyperopt/jobs")
    assert r.status_code == 500 and r.json()["error"] == "InternalError" and "ZeroDivisionError" in r.json()["message"]
    assert any("GET /api/hyperopt/jobs failed" in rec.getMessage() and rec.exc_info for rec in caplog.records)


def test_the_request_model_mirrors_the_job_config():
    ours = set(StartRequest.model_fields) - {"max_total_time_hours"}
    assert ours == {f.name for f in fields(OptimizationConfig)}
    defaults = OptimizationConfig()
    for name, field in StartRequest.model_fields.items():
        if name not in ("max_total_time_hours", "num_threads"):
            expected = getattr(defaults, name)
            assert field.default == (list(expected) if isinstance(expected, tuple) else expected), name
    cfg = StartRequest.model_validate({"max_total_time_hours": 5.0, "symbols": "AAA, BBB"}).to_config()
    assert cfg.max_total_hours == 5.0 and cfg.symbols == ("AAA", "BBB") and cfg.num_threads == defaults.num_threads


def test_a_token_protects_every_request(workspace):
    client = TestClient(create_app(workspace, token=TOKEN), base_url=BASE)
    for path in ("/api/health", "/api/hyperopt/status", "/openapi.json", "/", "/docs", "/static/control.js"):
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}):
            r = client.get(path, headers=headers)
            assert r.status_code == 401, (path, headers)
            assert r.json()["error"] == "Unauthorized" and "token" in r.json()["message"] and r.headers["www-authenticate"].startswith("Bearer")
        assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200, path
    assert client.post("/api/hyperopt/start", json={"mode": "turbo"}).status_code == 401
    assert client.post("/api/hyperopt/start", json={"mode": "turbo"}, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 422
    assert client.get("/api/health", params={"token": "nope"}).status_code == 401


def test_the_page_opened_with_the_token_sets_a_cookie_its_requests_carry(workspace):
    client = TestClient(create_app(workspace, token=TOKEN), base_url=BASE, follow_redirects=False)
    r = client.get("/", params={"token": TOKEN})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name(8765)}={TOKEN}") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/api/hyperopt/status").status_code == 200  # the client kept the cookie
    assert client.get("/").status_code == 200
    client.cookies.clear()
    assert client.get("/api/hyperopt/status").status_code == 401


def test_without_a_token_only_loopback_hosts_and_same_origin_changes_are_served(client):
    assert client.get("/api/health", headers={"Host": "localhost:8765"}).status_code == 200
    assert client.get("/api/health", headers={"Host": "[::1]:8765"}).status_code == 200
    r = client.get("/api/health", headers={"Host": "attacker.example:8765"})
    assert r.status_code == 400 and "`Host` must be a loopback host" in r.json()["message"]
    r = client.post("/api/hyperopt/stop", headers={"Origin": "http://attacker.example"})
    assert r.status_code == 403 and "`Origin` must be this server" in r.json()["message"]
    assert client.post("/api/hyperopt/stop", headers={"Origin": BASE}).status_code == 404  # same origin: on to the API (no job)


def test_websockets_are_refused(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/api/hyperopt/status"):
            pass


def test_only_loopback_may_serve_without_a_token():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "192.168.1.20", "bist.example.com"):
        with pytest.raises(ConfigError, match="`--token` must be given"):
            check_bind(host, None)
        check_bind(host, TOKEN)
    for weak in ("short", "has spaces in the token 123", "semi;colon-in-the-token-123"):
        with pytest.raises(ConfigError, match="at least 16 characters"):
            check_bind("0.0.0.0", weak)
    with pytest.raises(ConfigError):
        create_app(None, token="short")  # type: ignore[arg-type]


def test_bistlab_serve_refuses_a_public_address_without_a_token(workspace, monkeypatch):
    from bistlab.cli.main import app

    monkeypatch.delenv("BISTLAB_API_TOKEN", raising=False)
    out = CliRunner().invoke(app, ["--workspace", str(workspace.root), "serve", "--host", "0.0.0.0", "--port", "1"])
    assert out.exit_code == 2 and "`--token` must be given" in out.output and "Traceback" not in out.output
    assert len([line for line in out.output.splitlines() if line.strip()]) == 1
    monkeypatch.setenv("BISTLAB_API_TOKEN", "weak")
    out = CliRunner().invoke(app, ["--workspace", str(workspace.root), "serve", "--host", "0.0.0.0", "--port", "1"])
    assert out.exit_code == 2 and "at least 16 characters" in out.output and "weak" not in out.output


def test_openapi_documents_every_endpoint_with_models_codes_and_examples(client):
    spec = client.get("/openapi.json").json()
    ops = {(m.upper(), p): op for p, item in spec["paths"].items() for m, op in item.items()}
    assert set(ops) == {("POST", "/api/hyperopt/start"), ("POST", "/api/hyperopt/stop"), ("POST", "/api/hyperopt/resume"),
                        ("GET", "/api/hyperopt/status"), ("GET", "/api/hyperopt/results"), ("GET", "/api/hyperopt/epochs"),
                        ("GET", "/api/hyperopt/jobs"), ("GET", "/api/health"), ("GET", "/api/cycle/status")}
    for key, op in ops.items():
        assert op.get("summary") and op.get("description"), key
        assert {"200", "401", "404", "409", "422"} <= set(op["responses"]), key
    schemas = spec["components"]["schemas"]
    assert ops[("POST", "/api/hyperopt/start")]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/StartRequest")
    for name in ("StartRequest", "StartAnswer", "StopAnswer", "ResumeAnswer", "StatusAnswer", "ResultsAnswer", "CycleStatusAnswer", "ErrorAnswer"):
        assert schemas[name].get("examples"), name
    assert {"mode", "target_group", "epochs_per_trial", "max_trials_per_group", "max_total_hours", "primary_metric", "study_name", "use_mlflow", "seed"} <= set(schemas["StartRequest"]["properties"])
    assert {"job_id", "time_estimate"} <= set(schemas["StartAnswer"]["properties"])
    assert {"job_id", "current_group", "current_trial", "groups_completed", "best_values", "time_estimate_refined"} <= set(schemas["StatusAnswer"]["properties"])


def test_the_pages_load_nothing_from_the_network(client):
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assert 'data-dashboard-url="http://127.0.0.1:8080/"' in page.text
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text and "default-src 'self'" in docs.headers["content-security-policy"]
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):  # Swagger UI's files from the swagger-ui-bundle package, served here
        assert f"/swagger-ui/{name}" in docs.text and client.get(f"/swagger-ui/{name}").status_code == 200, name
    assert client.get("/swagger-ui/index.html").status_code == 404 and client.get("/swagger-ui/..%2Fswagger-ui.js").status_code == 404
    for name in sorted(os.listdir(STATIC_DIR)):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text) and "http://" not in text.replace("http://127.0.0.1", ""), name
        assert client.get(f"/static/{name}").status_code == 200, name
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000 and js.headers["content-type"].startswith("text/javascript")
    bare = TestClient(create_app(client.app.state.workspace, dashboard_url=None), base_url=BASE).get("/")
    assert 'data-dashboard-url=""' in bare.text


def _holdout(hits: int, count: int, *, n_test: int, horizon: int) -> dict:
    """A holdout record as an evaluation writes it (tests/crafted.py's), baselines at 50 and 52 %."""
    from tests.crafted import _holdout as crafted

    return crafted(hits, count, 50.0, 52.0, n_test, horizon)


def test_the_cycle_status_shows_every_task_with_its_holdout_and_verdict(client, workspace):
    from bistlab.core.state import StateFile, TaskState, TaskStatus

    idle = client.get("/api/cycle/status")
    assert idle.status_code == 200 and idle.json()["status"] == "idle" and idle.json()["cycle"] is None and idle.json()["tasks"] == []
    craft_holdout_cycle(workspace, {("AAA", 7): _holdout(60, 60, n_test=70, horizon=7), ("BBB", 7): _holdout(27, 50, n_test=70, horizon=7)})
    StateFile(workspace.state_file).update(lambda s: s.tasks.update(CCC_1d=TaskState(symbol="CCC", horizon=1, status=TaskStatus.HPO, cycle=1)))
    r = client.get("/api/cycle/status")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cycle"] == 1 and body["status"] == "interrupted" and not body["final"] and "cycle resume" in body["message"]
    tasks = {t["key"]: t for t in body["tasks"]}
    assert list(tasks) == ["CCC_1d", "AAA_7d", "BBB_7d"]  # horizon-first
    assert tasks["AAA_7d"]["verdict"] == "usable" and tasks["AAA_7d"]["holdout_count"] == 60 and tasks["AAA_7d"]["holdout_text"].startswith("100.0 % (n=60, n_eff=10, 95 % CI")
    assert tasks["BBB_7d"]["verdict"] == "not usable" and tasks["BBB_7d"]["holdout_dirhit"] == 54.0 and tasks["BBB_7d"]["usable"] is False
    assert tasks["CCC_1d"]["status"] == "hpo_in_progress" and tasks["CCC_1d"]["verdict"] is None and tasks["CCC_1d"]["holdout_text"] is None
    assert body["usable"] == 1 and body["counts"] == {"completed": 2, "hpo_in_progress": 1} and body["control"]["tested"] == 2
    StateFile(workspace.state_file).update(lambda s: s.tasks["CCC_1d"].__setattr__("status", TaskStatus.FAILED))
    assert client.get("/api/cycle/status").json()["status"] == "completed"
    assert client.get("/api/cycle/status", params={"cycle": 1}).json()["cycle"] == 1
    for bad, status in (("9", 422), ("0", 422), ("x", 422)):
        answer = client.get("/api/cycle/status", params={"cycle": bad})
        assert answer.status_code == status and answer.json()["message"].startswith("`cycle` must be"), (bad, answer.text)


def test_a_task_that_passes_alone_but_not_the_cycle_wide_control_says_so(client, workspace):
    holdouts = {("AAA", 1): _holdout(72, 120, n_test=120, horizon=1)}
    holdouts.update({(f"N{i}", 1): _holdout(60, 120, n_test=120, horizon=1) for i in range(6)})
    craft_holdout_cycle(workspace, holdouts)
    tasks = {t["key"]: t for t in client.get("/api/cycle/status").json()["tasks"]}
    assert tasks["AAA_1d"]["passes_rule"] is True and tasks["AAA_1d"]["usable"] is False and tasks["AAA_1d"]["verdict"] == "passes alone"
    assert {t["verdict"] for k, t in tasks.items() if k != "AAA_1d"} == {"not usable"}


def test_the_docs_read_the_openapi_document_as_3_0(client):
    """Swagger UI 4 (the swagger-ui-bundle package) reads OpenAPI 3.0 only: /openapi-3.0.json is /openapi.json written down as 3.0."""
    import json

    spec, old = client.get("/openapi.json").json(), client.get("/openapi-3.0.json").json()
    assert spec["openapi"].startswith("3.1") and old["openapi"] == "3.0.3" and set(old["paths"]) == set(spec["paths"])
    text = json.dumps(old)
    assert '{"type": "null"}' not in text and '"const"' not in text
    start = old["components"]["schemas"]["StartRequest"]
    assert start["example"]["mode"] == "full" and "examples" not in start
    assert start["properties"]["target_group"]["nullable"] is True
