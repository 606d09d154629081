"""The control page in headless Chromium, driven over the DevTools protocol: it loads without a
script error and without a request leaving the server, shows a running job's progress and epoch
chart, and its buttons start, stop and resume the job (the job's state.json says so)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bistlab.api.app import create_app
from bistlab.core.jsonio import read_json
from tests.apiserver import end_workers, price_workspace, stop_process, thread_server
from tests.conftest import _free_port, skip_or_fail

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--window-size=1300,1800",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no network but the server under test
]

PAGE_STATE = """!document.getElementById("status") ? "null" : JSON.stringify({
  status: document.getElementById("status").textContent,
  job: document.getElementById("job-id").textContent,
  group: document.getElementById("current-group").textContent,
  rows: Array.from(document.querySelectorAll("#groups tbody tr")).map(function (r) { return r.textContent; }),
  chart: !!document.querySelector("#epoch-chart .main-svg") && document.querySelectorAll("#epoch-chart .scatterlayer .trace").length,
  message: document.getElementById("message").textContent,
  stopDisabled: document.getElementById("stop-btn").disabled,
  resumeDisabled: document.getElementById("resume-btn").disabled
})"""

START_FORM = """(function () {
  var f = document.getElementById("start-form");
  f.mode.value = "quick"; f.mode.dispatchEvent(new Event("change"));
  f.epochs_per_trial.value = "3"; f.max_trials_per_group.value = "200"; f.convergence_patience.value = "500"; f.seed.value = "7"; f.symbols.value = "AAA"; f.horizon.value = "7";
  document.getElementById("start-btn").click();
  return true;
})()"""


class DevTools:
    """A minimal Chrome DevTools Protocol client over websocket-client: commands and the events seen."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def page_state(self) -> dict[str, Any] | None:
        """What the page shows (``None`` until it has loaded)."""
        return json.loads(self.evaluate(PAGE_STATE))

    def wait_page(self, done: Callable[[dict[str, Any]], bool], *, timeout: float = 120.0, why: Callable[[], str] = lambda: "") -> dict[str, Any]:
        """Poll what the page shows until ``done`` holds; ``why`` adds the server's side to a timeout's message."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.page_state()
            if state is not None and done(state):
                return state
            assert time.monotonic() < deadline, f"the page never showed it; it shows {state}; {why()}"
            time.sleep(0.3)

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def chromium() -> Iterator[Callable[[], DevTools]]:
    """Start headless Chromium with a DevTools port; yields a connector to its page."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        skip_or_fail("headless Chromium not installed (Debian: apt-get install -y chromium); CI installs it")
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="bistlab-chromium-")
    proc = subprocess.Popen([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clients: list[DevTools] = []

    def connect() -> DevTools:
        deadline = time.monotonic() + 60
        while True:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
                page = next(t for t in targets if t["type"] == "page")
                break
            except (httpx.TransportError, StopIteration, ValueError):
                assert proc.poll() is None and time.monotonic() < deadline, "Chromium did not start"
                time.sleep(0.2)
        clients.append(DevTools(page["webSocketDebuggerUrl"]))
        return clients[-1]

    try:
        yield connect
    finally:
        for c in clients:
            c.close()
        stop_process(proc, timeout=20)
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page_ws(tmp_path):
    ws = price_workspace(tmp_path / "ws")
    yield ws
    end_workers(ws)


def _problems(events: list[dict[str, Any]], base: str) -> tuple[list[str], list[str]]:
    """Script errors (exceptions, console errors, failed loads) and requests to anywhere but ``base``."""
    errors, foreign = [], []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(json.dumps(params.get("args"))[:500])
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(params["entry"].get("text", "") + " " + params["entry"].get("url", ""))
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not (url.startswith(base + "/") or url.startswith("data:") or url.startswith("blob:")):
                foreign.append(url)
    return errors, foreign


def _server_side(ws, dt: DevTools) -> str:
    """The job files and the page's events, for a failure's message."""
    from bistlab.lstm import files

    logs = {j: ws.hyperopt_job_dir(j) / "worker.log" for j in files.job_ids(ws)}
    jobs = [(j, files.read_state(ws, j).status, log.read_text()[-1500:] if log.exists() else "") for j, log in logs.items()]
    errors, _ = _problems(dt.events, "")
    return f"jobs: {jobs}; page errors: {errors[-5:]}"


def _state_file(ws, job_id: str) -> dict[str, Any]:
    return read_json(ws.hyperopt_job_dir(job_id) / "state.json")


def _wait_file(ws, job_id: str, status: str, *, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (state := _state_file(ws, job_id))["status"] != status:
        assert time.monotonic() < deadline, f"state.json never said {status}: {state['status']}"
        time.sleep(0.2)
    return state


def test_the_control_page_starts_shows_stops_and_resumes_a_job(page_ws, chromium, tmp_path):
    with thread_server(create_app(page_ws)) as base:
        dt = chromium()
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.call(f"{domain}.enable")
        dt.call("Page.navigate", url=f"{base}/")
        first = dt.wait_page(lambda s: s["status"] == "idle", timeout=60)
        assert first["job"] == "no job yet" and first["stopDisabled"]
        assert dt.evaluate(START_FORM) is True
        running = dt.wait_page(lambda s: s["status"] == "running" and s["chart"] and any("/200" in r for r in s["rows"]), timeout=180, why=lambda: _server_side(page_ws, dt))
        job_id = running["job"]
        assert running["group"] == "learning_rate" and running["rows"][0].startswith("learning_rate") and not running["stopDisabled"]
        assert _state_file(page_ws, job_id)["config"]["seed"] == 7 and _state_file(page_ws, job_id)["config"]["convergence_patience"] == 500
        shot = dt.call("Page.captureScreenshot", format="png")
        (tmp_path / "control_running.png").write_bytes(base64.b64decode(shot["data"]))

        dt.evaluate('document.getElementById("stop-btn").click(); true')
        assert _wait_file(page_ws, job_id, "paused")["status"] == "paused"
        paused = dt.wait_page(lambda s: s["status"] == "paused" and not s["resumeDisabled"])
        assert "pauses at the next epoch boundary" in paused["message"] or paused["message"] == ""

        dt.evaluate('document.getElementById("resume-btn").click(); true')
        dt.wait_page(lambda s: s["status"] == "running")
        assert _state_file(page_ws, job_id)["resumed_at"]
        dt.evaluate('document.getElementById("stop-btn").click(); true')
        _wait_file(page_ws, job_id, "paused")
        dt.wait_page(lambda s: s["status"] == "paused")
        errors, foreign = _problems(dt.events, base)
    assert errors == [], errors
    assert foreign == [], f"requests that left the server: {foreign}"
    requested = {e["params"]["request"]["url"].removeprefix(base) for e in dt.events if e.get("method") == "Network.requestWillBeSent"}
    assert {"/", "/static/control.js", "/static/plotly.min.js", "/static/control.css", "/api/hyperopt/start", "/api/hyperopt/stop", "/api/hyperopt/resume"} <= {u.split("?")[0] for u in requested}


ENDPOINTS = ("POST /api/hyperopt/start", "POST /api/hyperopt/stop", "POST /api/hyperopt/resume", "GET /api/hyperopt/status",
             "GET /api/hyperopt/results", "GET /api/hyperopt/epochs", "GET /api/hyperopt/jobs", "GET /api/health", "GET /api/cycle/status")

SWAGGER_OPS = """Array.from(document.querySelectorAll("#swagger-ui .opblock")).map(function (b) {
  return b.querySelector(".opblock-summary-method").textContent + " " + b.querySelector(".opblock-summary-path").textContent.replace(/\u200b/g, "");
})"""

TRY_HEALTH = """(function () {
  var block = document.querySelector("#operations-server-health_api_health_get");
  if (!block.classList.contains("is-open")) { (block.querySelector(".opblock-summary-control") || block.querySelector(".opblock-summary")).click(); }
  return true;
})()"""

HEALTH_ANSWER = """(function () {
  var block = document.querySelector("#operations-server-health_api_health_get");
  var status = block && block.querySelector(".live-responses-table tbody .response-col_status");
  var body = block && block.querySelector(".live-responses-table .response-col_description pre, .live-responses-table .microlight");
  return status ? status.textContent.trim() + " " + (body ? body.textContent : "") : "";
})()"""


def _wait_value(dt: DevTools, expression: str, *, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := dt.evaluate(expression)):
        assert time.monotonic() < deadline, f"the page never showed {what or expression[:80]}"
        time.sleep(0.2)
    return value


def _click_button(dt: DevTools, scope: str, text: str) -> None:
    expr = f"""(function () {{
      var b = Array.from(document.querySelectorAll("{scope} button")).find(function (x) {{ return x.textContent.trim() === "{text}"; }});
      if (b) {{ b.click(); }}
      return !!b;
    }})()"""
    _wait_value(dt, expr, timeout=20.0, what=f"a {text!r} button")


def test_the_docs_page_is_swagger_ui_with_try_it_out_offline(page_ws, chromium):
    with thread_server(create_app(page_ws)) as base:
        dt = chromium()
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.call(f"{domain}.enable")
        dt.call("Page.navigate", url=f"{base}/docs")
        ops = _wait_value(dt, SWAGGER_OPS, what="Swagger UI's operations")
        assert dt.evaluate(TRY_HEALTH) is True
        _click_button(dt, "#operations-server-health_api_health_get", "Try it out")
        _click_button(dt, "#operations-server-health_api_health_get", "Execute")
        answer = _wait_value(dt, HEALTH_ANSWER, what="the answer of GET /api/health")
        errors, foreign = _problems(dt.events, base)
    assert errors == [] and foreign == [], (errors, foreign)
    for endpoint in ENDPOINTS:
        assert endpoint in ops, (endpoint, ops)
    assert answer.startswith("200") and '"status": "ok"' in answer, answer
    requested = {e["params"]["request"]["url"].removeprefix(base) for e in dt.events if e.get("method") == "Network.requestWillBeSent"}
    assert {"/docs", "/swagger-ui/swagger-ui-bundle.js", "/swagger-ui/swagger-ui.css", "/openapi-3.0.json", "/api/health"} <= requested, requested


def test_a_finished_jobs_verdict_shows_on_the_control_page_and_in_its_report(tmp_path, chromium):
    from bistlab.lstm.config import OptimizationConfig
    from bistlab.lstm.jobs import job_results, start_job
    from bistlab.lstm.metrics import verdict_text

    page_ws = price_workspace(tmp_path / "done")  # the job runs in this process: no worker to end
    config = OptimizationConfig(mode="quick", symbols=("AAA",), horizon=7, epochs_per_trial=2, max_trials_per_group=2, num_threads=1, hidden_size=8, sequence_length=10)
    job = start_job(page_ws, config, detach=False)
    words = verdict_text(job_results(page_ws, job.job_id)["holdout"])
    assert words
    with thread_server(create_app(page_ws)) as base:
        dt = chromium()
        for domain in ("Page", "Runtime", "Log"):
            dt.call(f"{domain}.enable")
        dt.call("Page.navigate", url=f"{base}/")
        dt.wait_page(lambda s: s["status"] == "completed", timeout=60)
        shown = dt.evaluate('(function () { var v = document.getElementById("verdict"); return v.hidden ? "" : v.textContent; })()')
        assert shown == f"Verdict: {words}"
        dt.call("Page.navigate", url=f"{base}/reports/hyperopt_{job.job_id}.html")
        deadline = time.monotonic() + 60
        while not (text := dt.evaluate('(function () { var v = document.getElementById("verdict"); return v ? v.textContent : ""; })()')):
            assert time.monotonic() < deadline, "the report shows no verdict"
            time.sleep(0.3)
        assert text.startswith("Verdict: " + words.split(":")[0])
        errors, _ = _problems(dt.events, base)
    assert errors == [], errors


CYCLE_STATE = """!document.getElementById("cycle-status") ? "null" : JSON.stringify({
  cycle: document.getElementById("cycle-number").textContent,
  status: document.getElementById("cycle-status").textContent,
  usable: document.getElementById("cycle-usable").textContent,
  rows: Array.from(document.querySelectorAll("#cycle-tasks tbody tr")).map(function (r) {
    return Array.from(r.cells).map(function (c) { return c.textContent; });
  }),
  chartTitle: (document.querySelector("#epoch-chart .gtitle") || {}).textContent || "",
  bestHeader: document.getElementById("best-header").textContent,
  job: document.getElementById("job-id").textContent,
  jobStatus: document.getElementById("status").textContent
})"""


def _holdout(hits: int, count: int, *, n_test: int, horizon: int) -> dict[str, Any]:
    from tests.crafted import _holdout as crafted

    return crafted(hits, count, 50.0, 52.0, n_test, horizon)


def _wait_cycle(dt: DevTools, done: Callable[[dict[str, Any]], bool], *, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = json.loads(dt.evaluate(CYCLE_STATE))
        if state is not None and done(state):
            return state
        assert time.monotonic() < deadline, f"the page never showed it; it shows {state}"
        time.sleep(0.3)


def test_the_control_page_shows_the_cycles_tasks_and_verdicts_live_beside_the_jobs(tmp_path, chromium):
    from bistlab.core.state import StateFile, TaskState, TaskStatus
    from tests.apiserver import craft_job
    from tests.crafted import craft_holdout_cycle

    ws = craft_holdout_cycle(price_workspace(tmp_path / "ws"), {
        ("AAA", 1): _holdout(72, 120, n_test=120, horizon=1),  # passes its rule alone, not the cycle-wide control
        **{(f"N{i}", 1): _holdout(60, 120, n_test=120, horizon=1) for i in range(5)},
    })
    StateFile(ws.state_file).update(lambda s: s.tasks.update(
        BBB_7d=TaskState(symbol="BBB", horizon=7, status=TaskStatus.TRAINING, cycle=1),
        CCC_7d=TaskState(symbol="CCC", horizon=7, status=TaskStatus.FAILED, cycle=1, error="TaskError: CCC_7d [training]: out of memory"),
    ))
    with thread_server(create_app(ws)) as base:
        dt = chromium()
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.call(f"{domain}.enable")
        dt.call("Page.navigate", url=f"{base}/")
        first = _wait_cycle(dt, lambda s: len(s["rows"]) == 8 and s["chartTitle"] != "")
        rows = {r[0]: r for r in first["rows"]}
        assert first["cycle"] == "1" and first["status"] == "interrupted" and first["job"] == "no job yet"
        assert rows["AAA_1d"][1] == "completed" and rows["AAA_1d"][2].startswith("60.0 % (n=120") and rows["AAA_1d"][3] == "passes alone"
        assert rows["N0_1d"][3] == "not usable" and rows["BBB_7d"][1:4] == ["training_in_progress", "–", "–"]
        assert rows["CCC_7d"][1] == "failed" and "out of memory" in rows["CCC_7d"][4]
        assert first["chartTitle"] == "mean validation metric per epoch: no job yet", first["chartTitle"]
        # the cycle moves on: the page follows without a reload
        craft_holdout_cycle(ws, {("BBB", 7): _holdout(60, 60, n_test=70, horizon=7)})
        craft_job(ws, "20250102_030405", status="completed", groups_completed=["learning_rate"], best_values={"learning_rate": 0.41}, trials_done={"learning_rate": 15})
        later = _wait_cycle(dt, lambda s: {r[0]: r for r in s["rows"]}["BBB_7d"][3] == "usable" and s["jobStatus"] == "completed", timeout=30)
        assert later["bestHeader"] == "best val_f1 so far (penalized)" and later["job"] == "20250102_030405"
        assert ": mean validation  per epoch" not in later["chartTitle"]
        errors, foreign = _problems(dt.events, base)
    assert errors == [] and foreign == [], (errors, foreign)
