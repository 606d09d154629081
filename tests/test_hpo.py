"""HPO studies: the trial limit under several workers, stale trials, the trial record."""

from __future__ import annotations

import logging
import multiprocessing as mp

import optuna
import pytest

from bistlab.evaluation.walkforward import make_evaluation_spec
from bistlab.search.hpo import EMPTY_MASK, LIMIT_REASON, RECORD, open_study, run_hpo, trial_attrs, trial_counts
from bistlab.evaluation.universe import load_task
from bistlab.models.space import SearchSpace
from bistlab.search.storage import make_storage


def _worker(ws, storage_url: str, n_trials: int, seed: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    task = load_task(ws, "AAA", 1)
    study = open_study(storage_url, "AAA_1d_c1", seed=seed)
    run_hpo(task, make_evaluation_spec(task), study=study, n_trials=n_trials, space=SearchSpace.for_task(task.context, models=["lgbm"]), poll_seconds=0.2)


def _run_workers(ws, storage_url: str, n_workers: int, n_trials: int) -> optuna.Study:
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(ws, storage_url, n_trials, i)) for i in range(n_workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0] * n_workers
    return optuna.load_study(study_name="AAA_1d_c1", storage=make_storage(storage_url))


@pytest.mark.parametrize("n_workers", [2, 4])
def test_workers_on_one_journal_study_never_exceed_the_trial_limit(workspace, tmp_path, n_workers):
    url = f"journal:{tmp_path / 'study.log'}"
    study = _run_workers(workspace, url, n_workers, n_trials=6)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 6
    extra = [t for t in study.trials if t.state != optuna.trial.TrialState.COMPLETE]
    assert all(LIMIT_REASON in trial_attrs(t).get("fail_reason", "") or "fail_reason" in trial_attrs(t) for t in extra)


@pytest.mark.parametrize("n_workers", [2, 4])
def test_workers_on_one_postgresql_study_never_exceed_the_trial_limit(workspace, pg_database, n_workers):
    study = _run_workers(workspace, pg_database, n_workers, n_trials=6)
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 6


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # the zombie trial is made with study.ask()
def test_a_stale_running_trial_is_failed_by_its_heartbeat_and_the_study_finishes(workspace, tmp_path, monkeypatch):
    import bistlab.search.storage as storage_mod

    monkeypatch.setattr(storage_mod, "GRACE_SECONDS", 1)
    monkeypatch.setattr(storage_mod, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(storage_mod, "_CACHE", {})
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = open_study(url, "AAA_1d_c1")
    zombie = study.ask()  # a trial whose process "died": RUNNING, no heartbeat after this
    storage_mod.make_storage(url).record_heartbeat(zombie._trial_id)
    task = load_task(workspace, "AAA", 1)
    run_hpo(task, make_evaluation_spec(task), study=study, n_trials=2, space=SearchSpace.for_task(task.context, models=["lgbm"]), poll_seconds=0.2)
    states = [t.state for t in study.trials]
    assert states[0] == optuna.trial.TrialState.FAIL
    assert states.count(optuna.trial.TrialState.COMPLETE) == 2


def test_every_trial_records_its_configuration_and_metrics(workspace):
    task = load_task(workspace, "AAA", 7)
    study = open_study(optuna.storages.InMemoryStorage(), "s")
    run_hpo(task, make_evaluation_spec(task), study=study, n_trials=3, space=SearchSpace.for_task(task.context, models=["lgbm", "xgb"]))
    for t in study.trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            attrs = trial_attrs(t)
            assert {"config", "features_enabled", "feature_params", "model_choice", "symbol_metrics", "avg_dirhit", "avg_nrmse", "model_metrics"} <= set(attrs)
            assert attrs["config"]["model_choice"] == t.params["model_choice"]
            assert len(attrs["symbol_metrics"]["AAA_7d"]["split_metrics"]) == 4
        else:
            assert "fail_reason" in trial_attrs(t)


def test_the_feature_cache_computes_each_parameter_setting_once(workspace):
    task = load_task(workspace, "AAA", 1)
    study = open_study(optuna.storages.InMemoryStorage(), "s")
    run_hpo(task, make_evaluation_spec(task), study=study, n_trials=4, space=SearchSpace.for_task(task.context, models=["lgbm"]))
    settings = set()
    for t in study.trials:
        cfg = trial_attrs(t)["config"]
        for group, params in cfg["feature_params"].items():
            if group == "core" or cfg["features_enabled"].get(group):
                settings.add((group, repr(sorted(params.items()))))
    groups_computed = task.cache.misses
    assert groups_computed == len({s for s in settings if s[0] in __import__("bistlab.features", fromlist=["registry"]).registry()})


@pytest.mark.parametrize(("n_splits", "min_valid", "evaluated"), [(4, 2, 3), (5, 2, 4), (4, 4, 1)])
def test_a_trial_that_can_no_longer_reach_enough_defined_splits_stops_early(workspace, n_splits, min_valid, evaluated):
    from bistlab.config import EvalSettings

    # a threshold no prediction reaches: every split's mask is empty, its DirHit undefined
    settings = EvalSettings(n_splits=n_splits, dirhit_threshold=10.0, min_valid_splits=min_valid)
    task = load_task(workspace, "AAA", 1, settings=settings)
    study = open_study(optuna.storages.InMemoryStorage(), "s")
    run_hpo(task, make_evaluation_spec(task), study=study, n_trials=1, space=SearchSpace.for_task(task.context, models=["lgbm"]), max_failed=2)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(pruned) == 2 == len(study.trials)  # pruned, not failed; they count towards max_failed, not the budget
    for t in pruned:
        assert trial_attrs(t)["prune_reason"] == EMPTY_MASK
        reason = trial_attrs(t)["fail_reason"]
        assert f"fewer than {min_valid} splits with a defined DirHit (0 in the first {evaluated} of {n_splits}" in reason
        assert f"the other {n_splits - evaluated} were not evaluated" in reason


SHRINKING_LGBM = {
    "model_choice": "lgbm",
    "lgb_n_estimators": 50,
    "lgb_learning_rate": 0.01,
    "lgb_num_leaves": 8,
    "lgb_max_depth": 3,
    "lgb_min_child_samples": 50,
    "lgb_subsample": 0.9,
    "lgb_colsample_bytree": 0.9,
    "lgb_reg_lambda": 10.0,
}
"""A heavily shrunk LightGBM: on AAA at h = 1 its |predictions| stay below the 0.005 threshold."""


def _plain(space: SearchSpace, **on: bool) -> dict:
    """Parameters of SHRINKING_LGBM on the core features, every flag off but those in ``on``."""
    flags = [g.flag for g in space.groups.values() if g.flag is not None] + [o.flag for o in space.options if not o.pinned(1)]
    return {**SHRINKING_LGBM, **{f: False for f in flags}, **on}


@pytest.mark.parametrize("min_valid", [1, 2])  # 1: every split evaluated; 2: stopped early
def test_a_trial_on_empty_masks_is_pruned_with_its_reason_and_no_warning(workspace, caplog, min_valid):
    from bistlab.config import EvalSettings

    task = load_task(workspace, "AAA", 1, settings=EvalSettings(dirhit_threshold=10.0, min_valid_splits=min_valid))
    study = open_study(optuna.storages.InMemoryStorage(), "s")
    optuna.logging.enable_propagation()
    try:
        with caplog.at_level("DEBUG"):
            run_hpo(task, make_evaluation_spec(task), study=study, n_trials=1, space=SearchSpace.for_task(task.context, models=["lgbm"]), max_failed=1)
    finally:
        optuna.logging.disable_propagation()
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial_attrs(trial)["prune_reason"] == EMPTY_MASK and "pruned_at_split" not in trial_attrs(trial)
    assert f"AAA_1d: fewer than {min_valid} splits with a defined DirHit" in trial_attrs(trial)["fail_reason"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "trial" in r.getMessage().lower() and "giving up" not in r.getMessage()]
    assert any(r.levelno == logging.DEBUG and "pruned" in r.getMessage() for r in caplog.records)


def test_a_trial_that_raises_is_still_failed_with_a_warning(workspace, caplog, monkeypatch):
    import bistlab.search.hpo as hpo

    def boom(*args, **kwargs):
        raise RuntimeError("the model blew up")

    monkeypatch.setattr(hpo, "evaluate_splits", boom)
    task = load_task(workspace, "AAA", 1)
    study = open_study(optuna.storages.InMemoryStorage(), "s")
    with caplog.at_level("INFO", logger="bistlab.search.hpo"):
        run_hpo(task, make_evaluation_spec(task), study=study, n_trials=1, space=SearchSpace.for_task(task.context, models=["lgbm"]), max_failed=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.FAIL and "prune_reason" not in trial_attrs(trial)
    assert "RuntimeError: the model blew up" in trial_attrs(trial)["fail_reason"]
    assert any(r.levelno == logging.WARNING and "the model blew up" in r.getMessage() for r in caplog.records)


def test_the_prediction_scale_turns_an_empty_mask_trial_into_a_complete_one(workspace):
    from dataclasses import replace

    task = load_task(workspace, "AAA", 1)
    pinned = SearchSpace.for_task(task.context, models=["lgbm"])  # at h = 1 the scale is always on
    searched = replace(pinned, options=tuple(replace(o, pinned=lambda h: False) for o in pinned.options))
    trials = {}
    for name, space, extra in (("off", searched, {"enable_prediction_scale": False}), ("on", pinned, {"prediction_scale_spread": 1.0})):
        study = open_study(optuna.storages.InMemoryStorage(), "s")
        run_hpo(task, make_evaluation_spec(task), study=study, n_trials=1, space=space, warm_start=_plain(space, **extra), coverage=False, max_failed=1)
        trials[name] = study.trials[0]
    off, on = trials["off"], trials["on"]
    assert off.state == optuna.trial.TrialState.PRUNED and trial_attrs(off)["prune_reason"] == EMPTY_MASK
    assert "prediction_scales" not in trial_attrs(off)  # recorded only when the option is on
    assert on.state == optuna.trial.TrialState.COMPLETE and "enable_prediction_scale" not in on.params
    assert trial_attrs(on)["config"]["features_enabled"]["prediction_scale"] is True
    assert trial_attrs(on)["config"]["feature_params"]["prediction_scale"] == {"spread": 1.0}
    scales = trial_attrs(on)["prediction_scales"]
    assert len(scales) == 4 and all(1.0 < s <= 50.0 for s in scales)
    assert all(s["mask_count"] >= 5 for s in trial_attrs(on)["symbol_metrics"]["AAA_1d"]["split_metrics"])


def test_prices_changed_between_a_kill_and_a_resume_never_mix_trials(workspace, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from bistlab.core.jsonio import read_json
    from bistlab.runs.pipeline import evaluate_step, hpo_step, train_step
    from bistlab.core.workspace import TaskPaths
    from bistlab.report import load_report, table_html, tasks_html
    from bistlab.core.state import StateFile, TaskState, TaskStatus
    from bistlab.data.store import PriceStore

    script = (
        "from bistlab.core.workspace import Workspace\nfrom bistlab.runs.pipeline import hpo_step\n"
        f"hpo_step(Workspace.from_env({str(workspace.root)!r}), 'AAA', 1, cycle=1, n_trials=5, models=('lgbm',))\n"
    )
    env = {**os.environ, "BISTLAB_FAULT": "in_trial:4"}  # killed inside its 4th trial
    env.pop("BISTLAB_KERNEL_PARENT", None)  # set by earlier notebook runs: the fault would kill that process too
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    storage = make_storage(workspace.study_storage(1, "AAA_1d"))
    old = optuna.load_study(study_name="AAA_1d_c1", storage=storage)
    old_complete = [t for t in old.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(old_complete) == 3
    # the prices are revised while the study is down
    store = PriceStore(workspace.price_url)
    frame = store.read("AAA")
    frame.iloc[-30:, :4] *= 1.02
    store.write("AAA", frame)

    best = hpo_step(workspace, "AAA", 1, cycle=1, n_trials=3, models=("lgbm",))
    assert best.study_name == "AAA_1d_c1_v2"
    note = best.study_restart_note
    assert "prices changed since study AAA_1d_c1 began" in note and "its 3 complete trials" in note and "never ranked with these" in note
    fresh = optuna.load_study(study_name="AAA_1d_c1_v2", storage=storage)
    new_ids = {trial_attrs(t)["spec_id"] for t in fresh.trials}
    old_ids = {trial_attrs(t)["spec_id"] for t in old_complete}
    assert len(new_ids) == 1 and new_ids.isdisjoint(old_ids)
    assert best.evaluation_spec["fingerprint"] != old.user_attrs["evaluation_spec"]["fingerprint"]
    assert len([t for t in fresh.trials if t.state == optuna.trial.TrialState.COMPLETE]) == 3
    assert old.user_attrs["evaluation_spec"] == read_json_spec(old)  # the old study keeps its own spec
    # a second resume opens the fresh study again and still says why it exists
    again = hpo_step(workspace, "AAA", 1, cycle=1, n_trials=3, models=("lgbm",))
    assert again.study_name == "AAA_1d_c1_v2" and again.study_restart_note == note
    # the report says what happened
    train_step(workspace, "AAA", 1, cycle=1)
    evaluate_step(workspace, "AAA", 1, cycle=1)
    StateFile(workspace.state_file).update(lambda s: (setattr(s, "cycle", 1), s.tasks.update({"AAA_1d": TaskState("AAA", 1, status=TaskStatus.COMPLETED, cycle=1)})))
    rep = load_report(workspace, 1)
    assert "study restarted" in table_html(rep) and "Study restarted on resume" in tasks_html(rep)
    assert read_json(TaskPaths.of(workspace, 1, "AAA", 1).best_params)["study_name"] == "AAA_1d_c1_v2"


def read_json_spec(study: optuna.Study) -> dict:
    """The spec a study was opened with, read back from its storage."""
    return optuna.load_study(study_name=study.study_name, storage=study._storage).user_attrs["evaluation_spec"]


def test_a_trial_writes_its_record_once_and_one_accessor_reads_old_and_new_trials(workspace):
    task = load_task(workspace, "AAA", 1)
    study = open_study(optuna.storages.InMemoryStorage(), "s")
    run_hpo(task, make_evaluation_spec(task), study=study, n_trials=2, space=SearchSpace.for_task(task.context, models=["lgbm"]), coverage=False)
    new = study.trials[0]
    assert set(new.user_attrs) == {RECORD}  # one write, where each attribute was its own
    attrs = trial_attrs(new)
    assert {"config", "features_enabled", "feature_params", "model_choice", "spec_id", "symbol_metrics", "avg_dirhit", "avg_nrmse", "model_metrics"} <= set(attrs)
    # a trial of an older study: the same attributes, each on its own
    old = optuna.trial.create_trial(params={}, distributions={}, value=1.0, user_attrs={k: v for k, v in attrs.items()})
    assert trial_attrs(old) == attrs
    # a reason written apart (a trial failed for its killed process) is read the same way
    failed = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={RECORD: {"config": {}}, "fail_reason": "killed"})
    assert trial_attrs(failed) == {"config": {}, "fail_reason": "killed"}
    trial_attrs(new)["config"] = None
    assert trial_attrs(new)["config"] is not None  # a copy


@pytest.mark.parametrize("as_record", [True, False])  # new trials keep one record; older ones separate attributes
def test_trial_counts_tell_the_pruner_s_stops_from_empty_masks_failures_and_refusals(as_record):
    State = optuna.trial.TrialState

    def trial(state, **attrs):
        stored = {RECORD: attrs} if as_record else attrs
        return optuna.trial.create_trial(state=state, value=1.0 if state == State.COMPLETE else None, user_attrs=stored)

    trials = [
        trial(State.COMPLETE),
        trial(State.COMPLETE),
        trial(State.PRUNED, pruned_at_split=1),
        trial(State.PRUNED, prune_reason=EMPTY_MASK, fail_reason="AAA_1d: fewer than 2 splits with a defined DirHit"),
        trial(State.PRUNED, fail_reason=f"{LIMIT_REASON}: 3 of 3 finished or running"),
        trial(State.FAIL, fail_reason="RuntimeError"),
    ]
    assert trial_counts(trials) == {"complete": 2, "pruned": 1, "empty": 1, "failed": 1, "other": 1}
