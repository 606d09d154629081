"""`bistlab dashboard`: one optuna-dashboard with every study of the current cycle and the latest
hyperopt job's group studies (a live, read-only union of their storages), asked through its API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from bistlab.workspace import Workspace
from bistlab.dashboard import combined_storage
from bistlab.errors import ConfigError, JobNotFoundError, ReadOnlyStorageError
from bistlab.jsonio import write_json_atomic
from bistlab.state import StateFile
from tests.conftest import _free_port

JOB = "20250102_030405"
CYCLE_STUDIES = ["AAA_1d_c2", "BBB_7d_c2"]
JOB_STUDIES = [f"ml_hyperopt_learning_rate [job {JOB}]", f"ml_hyperopt_regularization [job {JOB}]"]


def _study(url: str, name: str, n: int) -> None:
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    for i in range(n):
        study.add_trial(optuna.trial.create_trial(params={"x": float(i)}, distributions={"x": optuna.distributions.FloatDistribution(0, 10)}, value=float(i)))


@pytest.fixture
def studies_ws(tmp_path: Path) -> Workspace:
    """Cycle 2 with two task studies (and an older cycle 1 study that must not show), and a hyperopt
    job with two of its three planned group studies written so far."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ws = Workspace(root=tmp_path / "ws").ensure()
    StateFile(ws.state_file).update(lambda s: setattr(s, "cycle", 2))
    for cycle, names in ((1, ["AAA_1d_c1"]), (2, CYCLE_STUDIES)):
        folder = ws.studies / f"cycle_{cycle}"
        folder.mkdir(parents=True)
        for name in names:
            _study(f"sqlite:///{folder / (name.rsplit('_c', 1)[0] + '.db')}", name, 3)
    job_dir = ws.hyperopt_job_dir(JOB)
    job_dir.mkdir(parents=True)
    groups = ["learning_rate", "regularization", "class_balance"]
    write_json_atomic(job_dir / "state.json", {"job_id": JOB, "status": "paused", "config": {"study_name": "ml_hyperopt", "mode": "full"},
                                                "progress": {"groups_planned": groups, "groups_completed": ["learning_rate"]}})
    for group, n in (("learning_rate", 4), ("regularization", 2)):
        _study(f"sqlite:///{job_dir / f'ml_hyperopt_{group}.db'}", f"ml_hyperopt_{group}", n)
    return ws


def test_combined_storage_holds_every_study_of_the_cycle_and_the_job(studies_ws):
    storage, names = combined_storage(studies_ws)
    assert sorted(names) == sorted(CYCLE_STUDIES + JOB_STUDIES)
    study = optuna.load_study(study_name=JOB_STUDIES[0], storage=storage)
    assert [t.value for t in study.trials] == [0.0, 1.0, 2.0, 3.0] and study.best_value == 3.0
    ids = {t._trial_id for name in names for t in optuna.load_study(study_name=name, storage=storage).trials}
    assert len(ids) == 3 + 3 + 4 + 2, "trial ids of the union must be unique"
    trial = study.trials[1]
    assert storage.get_trial(trial._trial_id).value == 1.0
    with pytest.raises(ReadOnlyStorageError):
        storage.set_study_user_attr(1, "x", 1)
    # a study that appears later (the job's next group) is found when the list is read again
    _study(f"sqlite:///{studies_ws.hyperopt_job_dir(JOB) / 'ml_hyperopt_class_balance.db'}", "ml_hyperopt_class_balance", 1)
    again = [s.study_name for s in storage.get_all_studies()]
    assert f"ml_hyperopt_class_balance [job {JOB}]" in again and len(again) == 5
    assert {s.study_name: s._study_id for s in storage.get_all_studies()}[names[0]] == storage.get_study_id_from_name(names[0])


def test_filters_and_errors(studies_ws):
    _, names = combined_storage(studies_ws, cycle=1)
    assert sorted(names) == sorted(["AAA_1d_c1"] + JOB_STUDIES)
    _, names = combined_storage(studies_ws, task="BBB_7d")
    assert sorted(names) == sorted(["BBB_7d_c2"] + JOB_STUDIES)
    with pytest.raises(ConfigError, match="`task` must be a task with a study in cycle 2"):
        combined_storage(studies_ws, task="ZZZ_1d")
    with pytest.raises(JobNotFoundError):
        combined_storage(studies_ws, job_id="19990101_000000")


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def test_bistlab_dashboard_lists_every_study_in_one_dashboard(studies_ws):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "bistlab.cli", "--workspace", str(studies_ws.root), "dashboard", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None:
            try:
                answer = _get(f"http://127.0.0.1:{port}/api/studies")
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() is not None else "dashboard did not start"
                time.sleep(0.2)
        listed = {s["study_name"]: s["study_id"] for s in answer["study_summaries"]}
        assert sorted(listed) == sorted(CYCLE_STUDIES + JOB_STUDIES)
        detail = _get(f"http://127.0.0.1:{port}/api/studies/{listed[JOB_STUDIES[0]]}")
        assert len(detail["trials"]) == 4 and detail["name"] == JOB_STUDIES[0]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "4 studies" in out and all(name in out for name in CYCLE_STUDIES), out
