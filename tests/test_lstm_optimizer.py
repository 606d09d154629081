"""Pieces of the grouped optimization: the penalty, the convergence stop, the time budget, fine_tune's base."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from bistlab.core.jsonio import read_json
from bistlab.lstm.config import OptimizationConfig
from bistlab.lstm.jobs import job_results, job_status, start_job
from bistlab.lstm.optimizer import apply_penalty, converged

TINY = dict(symbols=("AAA",), epochs_per_trial=2, max_trials_per_group=2, n_startup_trials=1, n_warmup_steps=5, num_threads=1, hidden_size=8, sequence_length=10)


@pytest.mark.parametrize(("precision", "penalized"), [(0.34, True), (0.349999, True), (0.35, False), (0.6, False)])
def test_penalty_halves_the_value_below_a_precision_of_0_35(precision, penalized):
    value, collapsed, reason = apply_penalty(0.4, precision)
    assert collapsed is penalized
    assert value == pytest.approx(0.2 if penalized else 0.4)
    assert (reason is not None) is penalized and (not penalized or "0.35" in reason)


def _trials(values: list[float | None]) -> list[optuna.trial.FrozenTrial]:
    out = []
    for i, v in enumerate(values):
        t = create_trial(state=TrialState.COMPLETE if v is not None else TrialState.PRUNED, value=v, params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)})
        t.number = i
        out.append(t)
    return out


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.30, 0.31, 0.302, 0.303, 0.311], True),  # no improvement above 0.005 for the last 3 trials
        ([0.30, 0.31, 0.302, 0.32], False),  # the last trial improved by 0.01
        ([0.30, None, None, None], True),  # pruned trials do not improve
        ([0.30, 0.301], False),  # too few trials
    ],
)
def test_convergence_stop(values, expected):
    assert converged(_trials(values), patience=3, threshold=0.005) is expected


def test_a_spent_time_budget_ends_the_job_with_what_it_has(workspace):
    job = start_job(workspace, OptimizationConfig(mode="quick", max_total_hours=1e-7, **TINY), detach=False)
    results = job_results(workspace, job.job_id)
    assert job.status == "completed"
    assert results["group_results"]["learning_rate"]["stopped_reason"] == "time_budget"
    assert "time budget" in results["budget_exhausted"] and results["holdout"] is not None


def test_fine_tune_searches_around_the_latest_completed_job(workspace):
    first = start_job(workspace, OptimizationConfig(mode="quick", **TINY), detach=False)
    best = read_json(workspace.hyperopt_job_dir(first.job_id) / "best_params.json")
    tuned = start_job(workspace, OptimizationConfig(mode="fine_tune", **TINY), detach=False)
    state = job_status(workspace, tuned.job_id)
    assert state["base_params_source"] == f"best parameters of job {first.job_id}"
    path = workspace.job(tuned.job_id).study("ml_hyperopt", "fine_tune")
    trials = optuna.load_study(study_name="ml_hyperopt_fine_tune", storage=f"sqlite:///{path}").trials
    assert trials[0].user_attrs["incumbent"] and trials[0].params["learning_rate"] == pytest.approx(best["learning_rate"])
    for t in trials:
        assert best["learning_rate"] / 2 - 1e-12 <= t.params["learning_rate"] <= best["learning_rate"] * 2 + 1e-12
    assert set(job_results(workspace, tuned.job_id)["group_results"]) == {"fine_tune"}
