"""HPO → training → evaluation through the public step functions: parity, reproducibility, holdout."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from bistlab.errors import DataError, InsufficientDataError
from bistlab.search.hpo import trial_attrs
from bistlab.core.jsonio import read_json
from bistlab.runs.pipeline import evaluate_step, hpo_step, train_step
from bistlab.evaluation.universe import load_task
from bistlab.core.workspace import TaskPaths
from bistlab.models.space import SearchSpace, TrialConfig, suggest_config
from bistlab.data.store import PriceStore
from bistlab.search.storage import make_storage


@pytest.fixture(scope="module", autouse=True)
def _quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("horizon", [1, 7])
def test_wfv_dirhit_after_training_equals_hpo_dirhit(workspace, horizon):
    best = hpo_step(workspace, "AAA", horizon, cycle=1, n_trials=4, seed=3)
    train_step(workspace, "AAA", horizon, cycle=1)
    ev = evaluate_step(workspace, "AAA", horizon, cycle=1)

    key = f"AAA_{horizon}d"
    assert ev.wfv_dirhit == best.hpo_dirhit
    assert ev.wfv_parity_gap == 0.0
    assert ev.wfv["split_metrics"] == best.symbol_metrics[key]["split_metrics"]


def test_training_reproduces_the_selected_trial(workspace):
    best = hpo_step(workspace, "AAA", 3, cycle=1, n_trials=4, seed=0, models=("lgbm",))
    study = optuna.load_study(study_name=best.study_name, storage=make_storage(best.storage))
    trial = study.trials[best.best_trial_number]
    task = load_task(workspace, "AAA", 3)
    rebuilt = suggest_config(optuna.trial.FixedTrial(trial.params), SearchSpace.for_task(task.context, models=["lgbm"]), horizon=3, seed=0)

    assert rebuilt == TrialConfig.from_dict(best.config)
    assert best.best_params == trial.params
    assert best.features_enabled == trial_attrs(trial)["features_enabled"]
    assert best.model_choice == trial_attrs(trial)["model_choice"]


def test_model_is_trained_on_rows_before_the_holdout_only(workspace):
    hpo_step(workspace, "AAA", 7, cycle=1, n_trials=2, models=("lgbm",))
    meta = train_step(workspace, "AAA", 7, cycle=1)
    spec = meta.evaluation_spec

    assert meta.trained_rows == [0, spec["holdout"]["dev_end"]]
    # the last training label, at row dev_end - 1, ends at dev_end - 1 + h < holdout start
    assert spec["holdout"]["dev_end"] - 1 + 7 < spec["holdout"]["start"]
    assert TaskPaths.of(workspace, 1, "AAA", 7).model.stat().st_size > 0
    assert set(meta.package_versions) >= {"python", "optuna", "lightgbm", "bistlab"}


def test_holdout_is_evaluated_online_on_every_holdout_row(workspace):
    hpo_step(workspace, "AAA", 1, cycle=1, n_trials=2, models=("lgbm",))
    train_step(workspace, "AAA", 1, cycle=1)
    ev = evaluate_step(workspace, "AAA", 1, cycle=1)
    spec = read_json(TaskPaths.of(workspace, 1, "AAA", 1).best_params)["evaluation_spec"]

    n_holdout = spec["holdout"]["end"] - spec["holdout"]["start"]
    assert ev.holdout.n_test == n_holdout == len(ev.holdout_predictions["y_pred"])
    assert np.all(np.isfinite(ev.holdout_predictions["y_true"]))
    ci = read_json(TaskPaths.of(workspace, 1, "AAA", 1).evaluation)["holdout"]["dirhit_ci95"]
    if ev.holdout.dirhit is not None:
        assert ci[0] <= ev.holdout.dirhit <= ci[1]
    assert isinstance(ev.verdict["usable"], bool)


def test_short_symbol_is_a_clear_insufficient_data_error(workspace):
    with pytest.raises(InsufficientDataError, match=r"SHORT h=1d: insufficient data \(89 rows, need 100\)"):
        load_task(workspace, "SHORT", 1)


def test_evaluation_refuses_prices_changed_since_hpo(workspace, make_market):
    hpo_step(workspace, "AAA", 1, cycle=1, n_trials=2, models=("lgbm",))
    PriceStore(workspace.price_url).write("AAA", make_market(701, seed=1))
    with pytest.raises(DataError, match="prices changed since HPO"):
        evaluate_step(workspace, "AAA", 1, cycle=1)


def test_a_longer_holdout_is_kept_by_every_step_and_costs_the_training_window(workspace):
    default = hpo_step(workspace, "AAA", 1, cycle=1, n_trials=1, models=("lgbm",)).evaluation_spec["holdout"]
    hpo_step(workspace, "AAA", 1, cycle=2, n_trials=1, models=("lgbm",), holdout_rows=200)
    meta = train_step(workspace, "AAA", 1, cycle=2)
    ev = evaluate_step(workspace, "AAA", 1, cycle=2)
    hold = meta.evaluation_spec["holdout"]
    assert default["end"] - default["start"] == 70  # 10 % of 700 rows
    assert hold["end"] - hold["start"] == 200 == ev.holdout.n_test and hold["rows_requested"] == 200
    assert hold["end"] == default["end"] and meta.trained_rows == [0, default["dev_end"] - 130]
    assert "rows_requested" not in default  # a default spec keeps its id


def test_a_holdout_longer_than_the_prices_is_a_clear_error(workspace):
    with pytest.raises(InsufficientDataError) as info:
        hpo_step(workspace, "AAA", 1, cycle=1, n_trials=1, models=("lgbm",), holdout_rows=700)
    assert info.value.symbol == "AAA" and "700-row holdout" in str(info.value)
