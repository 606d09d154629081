"""Stop and resume, and SIGKILL and resume, of a full LSTM hyperopt job: completed groups are skipped,
the interrupted trial runs again with its parameters and seed, and no trial is lost."""

from __future__ import annotations

import optuna
import pytest

from bistlab.core.workspace import Workspace
from bistlab.lstm.config import OptimizationConfig
from bistlab.lstm.groups import GROUP_ORDER
from bistlab.lstm.jobs import job_results, job_status, resume_job, start_job, stop_job, wait_for
from tests.conftest import market_workspace

pytestmark = pytest.mark.slow

EPOCHS = 3
TRIALS = 2
# no pruning (warm-up longer than a trial) and no early stopping: every trial runs exactly EPOCHS epochs
FULL = OptimizationConfig(
    mode="full", symbols=("AAA",), epochs_per_trial=EPOCHS, max_trials_per_group=TRIALS, n_startup_trials=1, n_warmup_steps=10,
    early_stopping_patience=10, convergence_patience=10, num_threads=1, hidden_size=8, sequence_length=10,
)


def _ws(root) -> Workspace:
    return market_workspace(root, {"AAA": 600})


def _trials(ws: Workspace, job_id: str, group: str) -> list[optuna.trial.FrozenTrial]:
    path = ws.job(job_id).study("ml_hyperopt", group)
    return optuna.load_study(study_name=f"ml_hyperopt_{group}", storage=f"sqlite:///{path}").trials


def _finished(trials) -> int:
    return sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials)


def _check_rerun(trials) -> optuna.trial.FrozenTrial:
    interrupted = [t for t in trials if t.user_attrs.get("interrupted")]
    assert len(interrupted) == 1 and interrupted[0].state.name == "FAIL"
    cut = interrupted[0]
    reruns = [t for t in trials if t.user_attrs.get("rerun_of") == cut.number]
    assert len(reruns) == 1 and reruns[0].state.name == "COMPLETE"
    assert reruns[0].params == cut.params and reruns[0].user_attrs["seed"] == cut.user_attrs["seed"]
    return reruns[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    ws = _ws(tmp_path_factory.mktemp("reference"))
    job = start_job(ws, FULL, detach=False)
    return ws, job.job_id


def test_stop_in_the_second_group_then_resume_loses_no_trial(tmp_path, reference):
    ws = _ws(tmp_path / "stopped")
    asked = []

    def on_event(event):
        if event["event"] == "epoch" and event["group"] == "regularization" and not asked:
            asked.append(stop_job(ws))

    first = start_job(ws, FULL, detach=False, progress=on_event)
    assert first.status == "paused" and asked[0].success and asked[0].can_resume
    state = job_status(ws, first.job_id)
    assert state["status"] == "paused" and state["progress"]["groups_completed"] == ["learning_rate"]
    before = [(t.number, t.state.name, t.value, t.datetime_complete) for t in _trials(ws, first.job_id, "learning_rate")]
    resumed = resume_job(ws, first.job_id, detach=False)
    assert resumed.progress == {"current_group": "regularization", "current_trial": 0, "groups_completed": ["learning_rate"]}
    assert resumed.status == "completed"
    after = [(t.number, t.state.name, t.value, t.datetime_complete) for t in _trials(ws, first.job_id, "learning_rate")]
    assert after == before, "the completed group was run again"
    rerun = _check_rerun(_trials(ws, first.job_id, "regularization"))
    results = job_results(ws, first.job_id)
    assert results["groups_completed"] == list(GROUP_ORDER) and results["holdout"] is not None
    assert results["group_results"]["regularization"]["n_interrupted"] == 1
    for group in GROUP_ORDER:
        assert _finished(_trials(ws, first.job_id, group)) == TRIALS, group
    ref_ws, ref_id = reference
    assert rerun.value == _trials(ref_ws, ref_id, "regularization")[0].value  # same parameters, same seed: same value


def test_sigkill_mid_group_then_resume_reaches_the_same_end_state(tmp_path, reference, monkeypatch):
    ws = _ws(tmp_path / "killed")
    monkeypatch.setenv("BISTLAB_GRACE_SECONDS", "3")
    monkeypatch.setenv("BISTLAB_FAULT", f"lstm_epoch:{TRIALS * EPOCHS + 2}")  # group 2, first trial, second epoch
    first = start_job(ws, FULL, detach=True)
    monkeypatch.delenv("BISTLAB_FAULT")
    status = wait_for(ws, first.job_id, timeout=300)
    assert status["status"] == "failed" and "is gone (killed?)" in status["error"]
    assert status["progress"]["current_group"] == "regularization" and status["progress"]["groups_completed"] == ["learning_rate"]
    resume_job(ws, first.job_id, detach=True)
    status = wait_for(ws, first.job_id, timeout=300)
    assert status["status"] == "completed", status.get("error")
    trials = _trials(ws, first.job_id, "regularization")
    assert "worker process died" in next(t for t in trials if t.user_attrs.get("interrupted")).user_attrs["interrupted_reason"]
    _check_rerun(trials)
    ref_ws, ref_id = reference
    ours, ref = job_results(ws, first.job_id), job_results(ref_ws, ref_id)
    assert ours["groups_completed"] == ref["groups_completed"] == list(GROUP_ORDER)
    for group in GROUP_ORDER:
        assert _finished(_trials(ws, first.job_id, group)) == _finished(_trials(ref_ws, ref_id, group)) == TRIALS
        assert ours["group_results"][group]["best_value"] == ref["group_results"][group]["best_value"], group
    assert ours["best_params"] == ref["best_params"]
    assert ours["holdout"]["val_f1"] == ref["holdout"]["val_f1"]


RANDOM_PHASE = OptimizationConfig(
    mode="group", target_group="regularization", symbols=("AAA",), epochs_per_trial=EPOCHS, max_trials_per_group=4, n_startup_trials=10,
    n_warmup_steps=10, early_stopping_patience=10, convergence_patience=10, num_threads=1, hidden_size=8, sequence_length=10,
)


def _run(trials) -> list[tuple]:
    return [(tuple(sorted(t.params.items())), t.user_attrs["seed"], t.value) for t in trials if t.state.name == "COMPLETE"]


def test_a_resume_in_the_random_phase_never_repeats_parameters_and_matches_an_uninterrupted_job(tmp_path):
    ref_ws = _ws(tmp_path / "whole")
    whole = start_job(ref_ws, RANDOM_PHASE, detach=False)
    ws = _ws(tmp_path / "stopped")
    asked = []

    def on_event(event):  # stop during the third trial (the second random one)
        if event["event"] == "epoch" and event.get("trial") == 2 and not asked:
            asked.append(stop_job(ws))

    first = start_job(ws, RANDOM_PHASE, detach=False, progress=on_event)
    assert first.status == "paused" and asked
    assert resume_job(ws, first.job_id, detach=False).status == "completed"
    ours, ref = _run(_trials(ws, first.job_id, "regularization")), _run(_trials(ref_ws, whole.job_id, "regularization"))
    assert len(ours) == 4 and len({p for p, _, _ in ours}) == 4  # no parameters twice
    assert ours == ref  # the same parameters, seeds and values as without the stop
    _check_rerun(_trials(ws, first.job_id, "regularization"))


def test_a_graceful_stop_leaves_no_optuna_traceback_in_the_log(tmp_path, caplog):
    ws = _ws(tmp_path / "quiet")
    asked = []

    def on_event(event):
        if event["event"] == "epoch" and not asked:
            asked.append(stop_job(ws))

    with caplog.at_level("INFO"):
        first = start_job(ws, RANDOM_PHASE, detach=False, progress=on_event)
    assert first.status == "paused"
    state = job_status(ws, first.job_id)
    assert state["stop_reason"] and "interrupted" in state["stop_reason"]
    optuna_warnings = [r for r in caplog.records if r.name.startswith("optuna") and r.levelname == "WARNING"]
    assert optuna_warnings == [] and not any(r.exc_info for r in caplog.records)
    assert any("runs again on resume" in r.getMessage() for r in caplog.records)
    done = resume_job(ws, first.job_id, detach=False)
    assert done.status == "completed" and job_status(ws, first.job_id).get("stop_reason") is None
    refined = job_status(ws, first.job_id)["time_estimate_refined"]
    assert refined["remaining_hours"] == 0 and refined["remaining_trials"] == 0
