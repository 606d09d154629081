"""Pruning after walk-forward splits: the split score, the cannot-win rule, and pruned trials in a study."""

from __future__ import annotations

import math

import optuna
import pytest

from bistlab.config import PRUNER_NAMES, CycleConfig
from bistlab.errors import ConfigError
from bistlab.evaluation import make_evaluation_spec
from bistlab.hpo import finished_trials, open_study, run_hpo
from bistlab.metrics import split_metrics
from bistlab.pruning import PRUNERS, CannotWinPruner, make_pruner, split_score
from bistlab.selection import select_best_trial
from bistlab.space import SearchSpace
from bistlab.universe import load_task


def test_every_pruner_name_has_a_pruner_and_unknown_names_are_refused():
    assert tuple(PRUNERS) == PRUNER_NAMES
    assert make_pruner("none", n_steps=4) is None
    with pytest.raises(ConfigError, match="`pruner` must be one of none, median"):
        make_pruner("hyperband", n_steps=4)
    with pytest.raises(ConfigError, match="`pruner`"):
        CycleConfig(pruner="random")


@pytest.mark.parametrize(("horizon", "k"), [(1, 6.0), (30, 4.0)])
def test_split_score_is_the_objective_on_one_split(horizon, k):
    m = split_metrics([0.02, -0.02, 0.03, -0.01], [0.01, -0.01, -0.02, -0.02], horizon=horizon)
    assert split_score(m, horizon=horizon) == pytest.approx(0.7 * m.dirhit - k * m.nrmse)
    assert split_score(split_metrics([0.001], [0.02]), horizon=1) is None  # no DirHit, no score
    assert not math.isnan(split_score(split_metrics([0.01, 0.01], [0.02, -0.02]), horizon=1))  # infinite nRMSE counts as 3.0


def _study(values_per_trial: list[list[float]]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for values in values_per_trial:
        trial = study.ask()
        for step, v in enumerate(values):
            trial.report(v, step)
        study.tell(trial, sum(values) / len(values))
    return study


def _pruned(pruner: CannotWinPruner, study: optuna.Study, so_far: list[float]) -> bool:
    trial = study.ask()
    for step, v in enumerate(so_far):
        trial.report(v, step)
    return pruner.prune(study, study._storage.get_trial(trial._trial_id))


def test_cannot_win_stops_only_trials_that_cannot_reach_the_best():
    # five complete trials; the best scores 40 (split scores 40 each); split ceilings: max + spread
    done = [[30.0, 30.0, 30.0, 30.0], [32.0, 31.0, 33.0, 30.0], [40.0, 40.0, 40.0, 40.0], [28.0, 35.0, 29.0, 31.0], [33.0, 30.0, 34.0, 36.0]]
    study = _study(done)
    pruner = CannotWinPruner(4)
    assert _pruned(pruner, study, [-20.0]) is True  # even the best remaining splits cannot lift it to 40
    assert _pruned(pruner, study, [38.0]) is False  # it still could
    assert _pruned(pruner, study, [39.0, 39.0, 39.0]) is False  # close, one split left with ceiling > 40
    assert _pruned(pruner, study, [10.0, 10.0, 10.0]) is True
    assert _pruned(CannotWinPruner(4), _study(done[:4]), [-50.0]) is False  # too few complete trials yet
    assert _pruned(pruner, study, [-50.0, -50.0, -50.0, -50.0]) is False  # the last split is never pruned


def test_pruned_trials_count_towards_the_budget_and_are_never_selected(workspace):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = load_task(workspace, "AAA", 1)
    spec = make_evaluation_spec(task)
    always = type("Always", (optuna.pruners.BasePruner,), {"prune": lambda self, study, trial: len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) >= 3})()
    study = open_study(optuna.storages.InMemoryStorage(), "p", pruner=always)
    run_hpo(task, spec, study=study, n_trials=6, space=SearchSpace.for_task(task.context, models=["lgbm"]), coverage=False)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished_trials(study)) == 6 and len(complete) == 3  # failed trials (no DirHit) do not count
    assert len(pruned) == 3 and all(t.user_attrs["pruned_at_split"] == 0 and "pruned after split 1 of 4" in t.user_attrs["fail_reason"] for t in pruned)
    sel = select_best_trial(study.trials, symbol="AAA", horizon=1)
    assert sel.trial_number not in {t.number for t in pruned} and sel.n_complete == 3
