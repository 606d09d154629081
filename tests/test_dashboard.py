"""`bistlab dashboard`: one optuna-dashboard with every study of every cycle and every hyperopt job
(a live, read-only union of their storages), asked through its API: metric names instead of
"Objective 0", writes refused with 403 and a reason (never a 500), study ids that survive a restart."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from bistlab.api.dashboard import READ_ONLY_REASON, TRIAL_SPACE, combined_storage, dashboard_server, stable_study_id
from bistlab.errors import ConfigError, JobNotFoundError, ReadOnlyStorageError
from bistlab.core.jsonio import write_json_atomic
from bistlab.search.objectives import cycle_metric_name, cycle_study_metric_name, lstm_metric_name, name_metric
from bistlab.core.state import StateFile
from bistlab.search.storage import make_storage
from bistlab.core.workspace import Workspace
from tests.conftest import _free_port
from tests.test_control_page import chromium  # noqa: F401 (the fixture)

JOB = "20250102_030405"
JOB2 = "20250203_040506"
CYCLE_STUDIES = ["AAA_1d_c1", "AAA_1d_c2", "BBB_20d_c2"]
JOB_STUDIES = [f"ml_hyperopt_learning_rate [job {JOB}]", f"ml_hyperopt_regularization [job {JOB}]", f"lstm_learning_rate [job {JOB2}]"]
EVERY = CYCLE_STUDIES + JOB_STUDIES


def _study(url: str, name: str, n: int) -> optuna.Study:
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    for i in range(n):
        study.add_trial(optuna.trial.create_trial(params={"x": float(i)}, distributions={"x": optuna.distributions.FloatDistribution(0, 10)}, value=float(i)))
    return study


def _cycle_study(ws: Workspace, cycle: int, name: str, n: int = 3) -> optuna.Study:
    folder = ws.studies / f"cycle_{cycle}"
    folder.mkdir(parents=True, exist_ok=True)
    return _study(f"sqlite:///{folder / (name.rsplit('_c', 1)[0] + '.db')}", name, n)


def _job(ws: Workspace, job_id: str, study_name: str, groups: dict[str, int], *, planned: list[str], metric: str = "val_f1") -> None:
    job_dir = ws.hyperopt_job_dir(job_id)
    job_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(job_dir / "state.json", {"job_id": job_id, "status": "paused", "config": {"study_name": study_name, "mode": "full", "primary_metric": metric},
                                                "progress": {"groups_planned": planned, "groups_completed": planned[:1]}})
    for group, n in groups.items():
        _study(f"sqlite:///{job_dir / f'{study_name}_{group}.db'}", f"{study_name}_{group}", n)


@pytest.fixture
def studies_ws(tmp_path: Path) -> Workspace:
    """Two cycles with task studies; a hyperopt job with two of its three planned group studies
    written so far, and a later job with one."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ws = Workspace(root=tmp_path / "ws").ensure()
    StateFile(ws.state_file).update(lambda s: setattr(s, "cycle", 2))
    for name in CYCLE_STUDIES:
        _cycle_study(ws, int(name.rsplit("_c", 1)[1]), name)
    _job(ws, JOB, "ml_hyperopt", {"learning_rate": 4, "regularization": 2}, planned=["learning_rate", "regularization", "class_balance"])
    _job(ws, JOB2, "lstm", {"learning_rate": 1}, planned=["learning_rate"])
    return ws


@contextlib.contextmanager
def _served(ws: Workspace, **filters: Any) -> Iterator[str]:
    """One start of the dashboard (bistlab's read-only server, in a thread); yields its base URL."""
    storage, _ = combined_storage(ws, **filters)
    server = dashboard_server(storage, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _send(url: str, method: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body or {}).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _listed(base: str) -> dict[str, int]:
    return {s["study_name"]: s["study_id"] for s in _get(f"{base}/api/studies")["study_summaries"]}


def test_combined_storage_holds_every_study_of_every_cycle_and_job(studies_ws):
    storage, names = combined_storage(studies_ws)
    assert names == EVERY  # cycle by cycle, then job by job, oldest first
    study = optuna.load_study(study_name=JOB_STUDIES[0], storage=storage)
    assert [t.value for t in study.trials] == [0.0, 1.0, 2.0, 3.0] and study.best_value == 3.0
    ids = {t._trial_id for name in names for t in optuna.load_study(study_name=name, storage=storage).trials}
    assert len(ids) == 3 * 3 + 4 + 2 + 1, "trial ids of the union must be unique"
    trial = study.trials[1]
    assert storage.get_trial(trial._trial_id).value == 1.0 and trial._trial_id == stable_study_id(JOB_STUDIES[0]) * TRIAL_SPACE + 1
    with pytest.raises(ReadOnlyStorageError):
        storage.set_study_user_attr(storage.get_study_id_from_name(names[0]), "x", 1)
    # studies that appear later (the job's next group, a new cycle, a new job) are found when the list is read again
    _study(f"sqlite:///{studies_ws.hyperopt_job_dir(JOB) / 'ml_hyperopt_class_balance.db'}", "ml_hyperopt_class_balance", 1)
    _cycle_study(studies_ws, 3, "CCC_1d_c3")
    again = [s.study_name for s in storage.get_all_studies()]
    assert f"ml_hyperopt_class_balance [job {JOB}]" in again and "CCC_1d_c3" in again and len(again) == len(EVERY) + 2
    assert {s.study_name: s._study_id for s in storage.get_all_studies()} == {n: stable_study_id(n) for n in again}


def test_study_and_trial_ids_are_the_same_after_a_restart(studies_ws):
    with _served(studies_ws) as base:
        first = _listed(base)
        trials = {t["number"]: t["trial_id"] for t in _get(f"{base}/api/studies/{first['AAA_1d_c2']}")["trials"]}
    assert sorted(first) == sorted(EVERY)
    # meanwhile: studies that sort before the others (an earlier task, an earlier job) and a new cycle
    _cycle_study(studies_ws, 1, "A00_1d_c1")
    _job(studies_ws, "20240101_000000", "early", {"learning_rate": 2}, planned=["learning_rate"])
    _cycle_study(studies_ws, 3, "AAA_1d_c3")
    with _served(studies_ws) as base:
        second = _listed(base)
        detail = _get(f"{base}/api/studies/{first['AAA_1d_c2']}")  # a bookmarked study URL
    assert {n: second[n] for n in first} == first, "a study must keep its id across starts"
    assert {"A00_1d_c1", "AAA_1d_c3", "early_learning_rate [job 20240101_000000]"} <= set(second)
    assert detail["name"] == "AAA_1d_c2" and {t["number"]: t["trial_id"] for t in detail["trials"]} == trials


def test_metric_names_are_shown_and_writes_refused_cleanly(studies_ws):
    own = _cycle_study(studies_ws, 2, "CCC_7d_c2")
    name_metric(own, "my own name")  # a study with names of its own keeps them
    with _served(studies_ws) as base:
        listed = _listed(base)
        shown = {n: _get(f"{base}/api/studies/{listed[n]}")["objective_names"] for n in ("AAA_1d_c2", "BBB_20d_c2", "CCC_7d_c2", JOB_STUDIES[0], JOB_STUDIES[2])}
        sid, trial_id = listed["AAA_1d_c2"], _get(f"{base}/api/studies/{listed['AAA_1d_c2']}")["trials"][0]["trial_id"]
        writes = [
            ("POST", "/api/studies", {"study_name": "new", "directions": ["maximize"]}),
            ("POST", f"/api/studies/{sid}/rename", {"study_name": "renamed"}),
            ("DELETE", f"/api/studies/{sid}", None),
            ("PUT", f"/api/studies/{sid}/note", {"version": 1, "body": "hi"}),
            ("POST", f"/api/trials/{trial_id}/user-attrs", {"user_attrs": {"a": 1}}),
            ("POST", f"/api/trials/{trial_id}/tell", {"state": "Fail"}),
        ]
        answers = {(method, path): _send(base + path, method, body) for method, path, body in writes}
        page = urllib.request.urlopen(f"{base}/dashboard/studies/{sid}", timeout=10).read().decode()
        script = urllib.request.urlopen(f"{base}/bistlab/read-only.js", timeout=10)
        assert sorted(_listed(base)) == sorted(listed), "nothing changed"
    assert shown == {"AAA_1d_c2": ["score (0.7·DirHit − 6·nRMSE)"], "BBB_20d_c2": ["score (0.7·DirHit − 4·nRMSE)"], "CCC_7d_c2": ["my own name"],
                     JOB_STUDIES[0]: ["val_f1 (penalized)"], JOB_STUDIES[2]: ["val_f1 (penalized)"]}
    for key, (status, body) in answers.items():
        assert status == 403 and body == {"reason": READ_ONLY_REASON}, (key, status, body)
    assert '<script defer src="/bistlab/read-only.js"></script></head>' in page and script.status == 200
    unchanged = optuna.load_study(study_name="AAA_1d_c2", storage=f"sqlite:///{studies_ws.studies / 'cycle_2' / 'AAA_1d.db'}")
    assert len(unchanged.trials) == 3 and unchanged.study_name == "AAA_1d_c2" and unchanged.metric_names is None  # the view writes nothing


def test_metric_names_of_new_studies():
    assert cycle_metric_name(1) == "score (0.7·DirHit − 6·nRMSE)" and cycle_metric_name(5) == "score (0.7·DirHit − 4·nRMSE)"
    assert cycle_study_metric_name("SP500_7d_c3_v2") == cycle_metric_name(7) and cycle_study_metric_name("odd") == "score (0.7·DirHit − k·nRMSE)"
    assert lstm_metric_name("val_accuracy") == "val_accuracy (penalized)"
    study = optuna.create_study(direction="maximize")
    name_metric(study, cycle_metric_name(7))
    name_metric(study, "a second name is not set")
    assert study.metric_names == ["score (0.7·DirHit − 6·nRMSE)"]


def test_an_lstm_group_study_names_its_metric(tmp_path):
    from bistlab.lstm.config import OptimizationConfig
    from bistlab.lstm.optimizer import open_group_study

    study = open_group_study(tmp_path, OptimizationConfig(mode="quick", symbols=("AAA",)), "learning_rate")
    assert study.metric_names == ["val_f1 (penalized)"]


def test_a_cycle_task_study_names_its_metric(workspace):
    from bistlab.runs.pipeline import hpo_step

    hpo_step(workspace, "AAA", 7, cycle=1, n_trials=1, models=("lgbm",))
    study = optuna.load_study(study_name="AAA_7d_c1", storage=make_storage(workspace.study_storage(1, "AAA_7d")))
    assert study.metric_names == ["score (0.7·DirHit − 6·nRMSE)"]


def test_filters_and_errors(studies_ws):
    _, names = combined_storage(studies_ws, cycle=1)
    assert names == ["AAA_1d_c1"] + JOB_STUDIES
    _, names = combined_storage(studies_ws, task="AAA_1d")
    assert names == ["AAA_1d_c1", "AAA_1d_c2"] + JOB_STUDIES
    _, names = combined_storage(studies_ws, cycle=2, job_id=JOB2)
    assert names == ["AAA_1d_c2", "BBB_20d_c2", JOB_STUDIES[2]]
    with pytest.raises(ConfigError, match="`task` must be a task with a study in any cycle"):
        combined_storage(studies_ws, task="ZZZ_1d")
    with pytest.raises(ConfigError, match="`task` must be a task with a study in cycle 1"):
        combined_storage(studies_ws, cycle=1, task="BBB_20d")
    with pytest.raises(JobNotFoundError):
        combined_storage(studies_ws, job_id="19990101_000000")


def test_bistlab_dashboard_lists_every_study_in_one_dashboard(studies_ws):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "bistlab.cli.main", "--workspace", str(studies_ws.root), "dashboard", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, listed = time.monotonic() + 60, None
        while listed is None:
            try:
                listed = _listed(base)
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() is not None else "dashboard did not start"
                time.sleep(0.2)
        assert listed == {n: stable_study_id(n) for n in EVERY}
        detail = _get(f"{base}/api/studies/{listed[JOB_STUDIES[0]]}")
        assert len(detail["trials"]) == 4 and detail["name"] == JOB_STUDIES[0] and detail["objective_names"] == ["val_f1 (penalized)"]
        assert _send(f"{base}/api/studies", "POST", {"study_name": "x", "directions": ["maximize"]})[0] == 403
        assert _send(f"{base}/api/studies/{listed['AAA_1d_c1']}", "DELETE")[0] == 403
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert f"{len(EVERY)} studies" in out and all(name in out for name in CYCLE_STUDIES), out
    assert "Traceback" not in out and proc.returncode == 0, out


DASHBOARD_PAGE = """JSON.stringify(!document.body ? {text: "", banner: false, visible: []} : {
  text: document.body.innerText,
  banner: !!document.getElementById("bistlab-read-only"),
  visible: Array.from(document.querySelectorAll("button, [role=menuitem]")).filter(function (b) { return b.offsetParent !== null; })
    .map(function (b) { return (b.textContent.trim() || b.getAttribute("aria-label") || "").toLowerCase(); })
})"""


@pytest.mark.slow
def test_the_dashboard_page_shows_metric_names_and_no_write_buttons_in_chromium(studies_ws, chromium):
    from tests.test_control_page import _problems

    with _served(studies_ws) as base:
        dt = chromium()
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.call(f"{domain}.enable")
        seen = {}
        for path, wanted in (("/dashboard", JOB_STUDIES[2]), (f"/dashboard/studies/{stable_study_id('BBB_20d_c2')}", "score (0.7·DirHit − 4·nRMSE)"),
                             (f"/dashboard/studies/{stable_study_id(JOB_STUDIES[0])}", "val_f1 (penalized)")):
            dt.call("Page.navigate", url=base + path)
            deadline = time.monotonic() + 60
            while wanted not in (page := json.loads(dt.evaluate(DASHBOARD_PAGE)))["text"] or not page["banner"]:
                assert time.monotonic() < deadline, f"{path} never showed {wanted!r}: {page['text'][:500]}"
                time.sleep(0.3)
            time.sleep(1.0)  # the page's later renders (plots, lists) have run the hider too
            seen[path] = json.loads(dt.evaluate(DASHBOARD_PAGE))
        errors, foreign = _problems(dt.events, base)
    assert errors == [] and foreign == [], (errors, foreign)
    home = seen["/dashboard"]
    assert all(name in home["text"] for name in EVERY) and "Read-only view of bistlab's studies" in home["text"]
    for page in seen.values():
        assert not {"create", "new study", "rename study", "delete study", "delete", "rename"} & set(page["visible"]), page["visible"]
