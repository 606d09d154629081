"""The records of a hyperopt job's files: state.json and results.json read and written without loss."""

from __future__ import annotations

import copy
import json
import multiprocessing as mp

import pytest

from bistlab.core.job_records import JobProgress, JobResults, JobState, JobStatus
from bistlab.core.statefile import JsonStateFile
from bistlab.core.workspace import Workspace
from bistlab.errors import JobNotFoundError, StateFileError
from bistlab.lstm import files

JOB = "20261204_231718"

STATE = {
    "job_id": JOB,
    "status": "paused",
    "created_at": "2026-12-04T23:17:18+00:00",
    "started_at": "2026-12-04T23:17:20+00:00",
    "finished_at": None,
    "config": {"mode": "quick", "study_name": "ml_hyperopt", "max_trials_per_group": 2, "primary_metric": "val_f1"},
    "base_params": {"learning_rate": 0.001},
    "base_params_source": "built-in defaults",
    "progress": {"current_group": "learning_rate", "current_trial": 1, "current_epoch": 2, "groups_planned": ["learning_rate"],
                 "groups_completed": [], "trials_done": {"learning_rate": 1}, "best_values": {"learning_rate": 0.4}, "total_trials_done": 1},
    "time_estimate": {"estimated_hours": 0.01, "total_trials": 2, "seconds_per_epoch": 0.2, "measured": True},
    "time_estimate_refined": {"remaining_trials": 1, "remaining_hours": 0.001},
    "device": "cpu",
    "pid": 4242,
    "error": None,
    "elapsed_seconds": 12.5,
    "report": "/ws/reports/hyperopt_20261204_231718.html",
    "bistlab_version": "0.1.0",
    "updated_at": "2026-12-04T23:18:00+00:00",
    "data_fingerprint": "abc123",
    "torch_threads": 2,
    "stop_reason": "stop requested",
    "resumed_at": ["2026-12-04T23:17:50+00:00"],
    "mlflow": {"tracking_uri": "sqlite:///x.db", "parent_run_id": "r1", "experiment": "ml_hyperopt"},
    "data_changed": "the data fingerprint changed",
    "data": {"symbols": {"AAA": 500}, "skipped": {}, "features": ["core__x"]},
    "trial_seconds": [3.5],
}
"""A state.json as the job runner writes it (every key it ever writes)."""

RESULTS = {
    "job_id": JOB, "mode": "quick", "study_name": "ml_hyperopt", "config": STATE["config"], "base_params_source": "built-in defaults",
    "base_params": {"learning_rate": 0.001}, "best_params": {"learning_rate": 0.002}, "best_value": 0.41,
    "group_results": {"learning_rate": {"best_value": 0.41, "best_epochs": [2, 3], "stopped_reason": "max_trials"}},
    "fixed_params": {"learning_rate": {"learning_rate": 0.001}}, "groups_completed": ["learning_rate"], "holdout": {"val_f1": 0.39},
    "data": {"fingerprint": "abc123"}, "status": "completed", "device": "cpu", "updated_at": "2026-12-04T23:19:00+00:00",
    "budget_exhausted": "the time budget ran out",
}
"""A results.json as the job runner writes it."""


def test_a_state_written_by_the_runner_round_trips_key_for_key():
    state = JobState.from_dict(copy.deepcopy(STATE))
    assert isinstance(state.progress, JobProgress) and state.progress.trials_done == {"learning_rate": 1}
    assert (state.status, state.pid, state.mode, state.ended) == ("paused", 4242, "quick", True)
    assert state.to_dict() == STATE and list(state.to_dict()) == list(STATE)


def test_an_older_state_with_keys_missing_loads_with_defaults_and_writes_no_optional_key_it_lacks():
    old = {"job_id": JOB, "status": "running", "config": {"mode": "full"}, "progress": {"current_group": "scheduler"}}
    state = JobState.from_dict(old)
    assert state.progress.groups_planned == [] and state.progress.total_trials_done == 0 and state.trial_seconds is None
    out = state.to_dict()
    assert not {"trial_seconds", "resumed_at", "mlflow", "data_changed", "stop_reason"} & set(out)
    assert {"created_at", "time_estimate", "pid", "error", "elapsed_seconds"} <= set(out)
    assert JobState.from_dict(out) == state


def test_unknown_keys_are_kept_and_written_back():
    newer = {**STATE, "future_key": {"a": 1}, "progress": {**STATE["progress"], "future_progress": 7}}
    state = JobState.from_dict(newer)
    assert state.extra == {"future_key": {"a": 1}} and state.progress.extra == {"future_progress": 7}
    state.status = JobStatus.RUNNING
    assert state.to_dict() == {**newer, "status": "running"}


def test_a_record_must_be_read_from_an_object_with_its_required_keys():
    with pytest.raises(TypeError):
        JobState.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        JobState.from_dict({"status": "running"})  # no job_id


def test_results_round_trip_and_an_empty_one_has_the_keys_of_results_so_far():
    assert JobResults.from_dict(copy.deepcopy(RESULTS)).to_dict() == RESULTS
    empty = JobResults(job_id=JOB, best_params={"learning_rate": 0.001})
    assert list(empty.to_dict()) == ["job_id", "best_params", "best_value", "group_results", "fixed_params", "groups_completed", "holdout"]
    assert JobResults.from_dict(RESULTS).last_result() == RESULTS["group_results"]["learning_rate"]
    assert empty.last_result() is None


def test_each_record_owns_its_file_name_in_the_job_folder(tmp_path):
    paths = Workspace(tmp_path).job(JOB)
    assert paths.state == paths.folder / JobState.FILE == paths.path(JobState)
    assert paths.results.name == JobResults.FILE == "results.json"


def test_the_job_files_read_and_write_records(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(JobNotFoundError):
        files.read_state(ws, JOB)
    files.write_state(ws, JobState.from_dict(STATE))
    assert files.read_state(ws, JOB).progress.current_epoch == 2
    files.update_state(ws, JOB, lambda s: setattr(s, "status", JobStatus.FAILED))
    assert files.read_state(ws, JOB).status == "failed" and ws.job(JOB).state.with_name("state.json.bak").exists()
    assert files.read_results(ws, JOB) is None
    files.write_results(ws, JobResults.from_dict(RESULTS))
    assert files.read_results(ws, JOB).holdout == {"val_f1": 0.39}
    assert json.loads(ws.job(JOB).best_params.read_text()) == RESULTS["best_params"]


def test_an_unreadable_job_state_is_an_error_naming_it(tmp_path):
    ws = Workspace(tmp_path)
    files.write_state(ws, JobState(job_id=JOB))
    ws.job(JOB).state.write_text('{"job_id": "2026')
    with pytest.raises(StateFileError, match="must be a hyperopt job's state as JSON"):
        files.read_state(ws, JOB)


def _trial(path: str, times: int) -> None:
    file = JsonStateFile(path, JobState)
    for _ in range(times):
        file.update(lambda s: setattr(s.progress, "total_trials_done", s.progress.total_trials_done + 1))


def test_concurrent_updates_of_a_job_state_lose_none(tmp_path):
    ws = Workspace(tmp_path)
    files.write_state(ws, JobState(job_id=JOB))
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_trial, args=(str(ws.job(JOB).state), 15)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert files.read_state(ws, JOB).progress.total_trials_done == 45
