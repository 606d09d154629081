"""Cycles survive SIGKILL at any moment, resume without redoing or losing work, and roll over."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import optuna
import pytest

from bistlab.core.workspace import Workspace
from bistlab.core.names import study_name
from bistlab.core.state import StateFile
from bistlab.search.storage import make_storage
from tests.conftest import market_workspace

pytestmark = pytest.mark.slow

N_TRIALS = 3
ARGS = ["cycle", "run", "--horizons", "1,3", "--trials", str(N_TRIALS), "--models", "lgbm", "--jobs", "1", "--workers", "1"]  # one process: the fault kills the cycle as a crash of the machine would


def _cli(ws: Workspace, args: list[str], *, fault: str | None = None, kill_after: float | None = None) -> int:
    env = {**os.environ, "BISTLAB_GRACE_SECONDS": "3", "BISTLAB_HEARTBEAT_SECONDS": "1", "COLUMNS": "200"}
    env.pop("BISTLAB_FAULT", None)
    if fault:
        env["BISTLAB_FAULT"] = fault
    proc = subprocess.Popen([sys.executable, "-m", "bistlab.cli.main", "--workspace", str(ws.root), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if kill_after is not None:
        try:
            proc.wait(kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=600)
    time.sleep(1.5)  # kernels notice their dead driver within a second
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(out.decode(errors="replace")[-3000:])
    return proc.returncode


@pytest.fixture
def small_ws(tmp_path):
    return market_workspace(tmp_path / "ws", {"AAA": 520, "BBB": 520})


def _state_json(ws: Workspace) -> dict:
    return json.loads(ws.state_file.read_text())  # raises if the file is not valid JSON


def test_sigkill_at_any_point_then_resume_completes_every_task_once(small_ws):
    ws = small_ws
    kills = [("in_trial:2", None), ("after_hpo:1", None), ("state_write:6", None), (None, random.Random(7).uniform(6, 14)), ("in_trial:1", None)]
    completed_at: dict[str, str] = {}
    killed = 0
    for fault, after in kills:
        code = _cli(ws, ARGS, fault=fault, kill_after=after)
        killed += code == -signal.SIGKILL
        state = _state_json(ws)
        for key, task in state["tasks"].items():
            if key in completed_at:
                assert task["completed_at"] == completed_at[key], f"{key} was redone"
            elif task["status"] == "completed":
                completed_at[key] = task["completed_at"]
    assert killed >= 3
    assert _cli(ws, ARGS) == 0
    state = StateFile(ws.state_file).read()
    assert state.cycle == 1 and state.cycle_ended()
    assert {t.key: t.status for t in state.cycle_tasks()} == {k: "completed" for k in ("AAA_1d", "BBB_1d", "AAA_3d", "BBB_3d")}
    for key, when in completed_at.items():
        assert state.tasks[key].completed_at == when
    for t in state.cycle_tasks():
        study = optuna.load_study(study_name=study_name(t.symbol, t.horizon, 1), storage=make_storage(ws.study_storage(1, t.key)))
        assert sum(tr.state == optuna.trial.TrialState.COMPLETE for tr in study.trials) == N_TRIALS
    assert (ws.reports / "cycle_1.html").exists()


def test_missing_or_corrupt_best_params_are_recovered_from_the_study(small_ws):
    ws = small_ws
    code = _cli(ws, ARGS, fault="after_hpo:1")
    assert code == -signal.SIGKILL
    state = _state_json(ws)
    key = next(k for k, t in state["tasks"].items() if t["status"] == "training_in_progress")
    best = ws.task_dir(1, key) / "best_params.json"
    best.write_text("{ truncated")
    assert _cli(ws, ARGS) == 0
    assert json.loads(best.read_text())["n_complete"] == N_TRIALS
    assert StateFile(ws.state_file).read().tasks[key].status == "completed"


def test_stop_pauses_after_running_trials_and_resume_finishes(small_ws):
    ws = small_ws
    (ws.runs).mkdir(exist_ok=True)
    from bistlab.runs.cycle import request_stop

    proc = subprocess.Popen([sys.executable, "-m", "bistlab.cli.main", "--workspace", str(ws.root), *ARGS], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.5)
        if ws.state_file.exists() and any(t["status"] == "hpo_in_progress" for t in _state_json(ws)["tasks"].values()):
            break
    request_stop(ws)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    assert b"paused" in out
    state = StateFile(ws.state_file).read()
    assert state.paused and not state.cycle_ended()
    assert _cli(ws, ["cycle", "resume"]) == 0
    state = StateFile(ws.state_file).read()
    assert state.cycle_ended() and all(t.status == "completed" for t in state.cycle_tasks())


def test_cycle_two_starts_after_cycle_one_warm_starts_and_cleanup_keeps_reports(small_ws):
    ws = small_ws
    args = ["cycle", "run", "--horizons", "1", "--trials", "2", "--models", "lgbm", "--jobs", "1", "--keep-cycles", "0"]
    assert _cli(ws, args) == 0
    best1 = json.loads((ws.task_dir(1, "AAA_1d") / "best_params.json").read_text())["best_params"]
    assert _cli(ws, args) == 0
    state = StateFile(ws.state_file).read()
    assert state.cycle == 2 and state.cycle_ended()
    study = optuna.load_study(study_name=study_name("AAA", 1, 2), storage=make_storage(ws.study_storage(2, "AAA_1d")))
    assert study.trials[0].params == best1  # the first trial of cycle 2 is cycle 1's best, enqueued
    assert (ws.reports / "cycle_1.html").exists() and (ws.reports / "cycle_2.html").exists()
    assert not ws.cycle_dir(1).exists() and not (ws.studies / "cycle_1").exists()


def test_a_killed_pool_worker_ends_the_cycle_in_one_line_and_a_resume_finishes(small_ws):
    ws = small_ws
    args = [*ARGS[:-2], "--workers", "2"]  # a pool: the fault kills a worker and its kernel, not the driver
    env = {**os.environ, "BISTLAB_GRACE_SECONDS": "3", "COLUMNS": "200", "BISTLAB_FAULT": "in_trial:1"}
    done = subprocess.run([sys.executable, "-m", "bistlab.cli.main", "--workspace", str(ws.root), *args], env=env, capture_output=True, text=True, timeout=600)
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, out[-2000:]
    assert "`worker process` must run its task to the end" in out and "bistlab cycle resume" in out and "Traceback" not in out
    time.sleep(1.5)
    assert _cli(ws, ["cycle", "resume", "--workers", "1"]) == 0
    final = StateFile(ws.state_file).read()
    assert final.cycle_ended() and {t.status for t in final.cycle_tasks()} == {"completed"}
