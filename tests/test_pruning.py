"""Pruning after walk-forward splits: the split score, the cannot-win rule, and pruned trials in a study."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from bistlab.config import PRUNER_NAMES, CycleConfig
from bistlab.errors import ConfigError
from bistlab.evaluation.walkforward import make_evaluation_spec
from bistlab.search.hpo import EMPTY_MASK, finished_trials, open_study, run_hpo, trial_attrs
from bistlab.evaluation.metrics import split_metrics
from bistlab.search.pruning import PRUNERS, CannotWinPruner, make_pruner, split_score
from bistlab.search.selection import select_best_trial
from bistlab.models.space import SearchSpace
from bistlab.evaluation.universe import load_task


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
    # five complete trials; split 2 is hard for everyone; the best trial scores 40 on average
    done = [[30.0, 31.0, 25.0, 30.0], [32.0, 31.0, 28.0, 33.0], [41.0, 42.0, 36.0, 41.0], [28.0, 30.0, 24.0, 30.0], [33.0, 34.0, 29.0, 32.0]]
    study = _study(done)
    pruner = CannotWinPruner(4)
    assert _pruned(pruner, study, [-20.0]) is True  # far below every trial on the same split
    assert _pruned(pruner, study, [40.0]) is False  # level with the best so far
    assert _pruned(pruner, study, [40.0, 41.0]) is False  # a little below the best, within the (small) spread
    assert _pruned(pruner, study, [36.0, 37.0]) is True  # 5 points below on splits this consistent: it cannot win
    assert _pruned(pruner, study, [20.0, 21.0, 15.0]) is True
    assert _pruned(pruner, study, [41.0, 42.0, 36.0]) is False  # the best trial itself
    assert _pruned(CannotWinPruner(4), _study(done[:4]), [-50.0]) is False  # too few complete trials yet
    assert _pruned(pruner, study, [-50.0, -50.0, -50.0, -50.0]) is False  # the last split is never pruned


def _simulated_study(rng, *, n_complete: int, n_splits: int, noise: float) -> tuple[optuna.Study, np.ndarray]:
    split_effect = rng.normal(0.0, 5.0, n_splits)
    levels = rng.normal(30.0, 3.0, n_complete)
    return _study([list(level + split_effect + rng.normal(0.0, noise, n_splits)) for level in levels]), split_effect


@pytest.mark.parametrize("seed", range(3))
def test_cannot_win_rarely_stops_a_trial_that_would_have_reached_the_best(seed):
    # simulated studies: score = trial level + split difficulty + noise; candidates whose own final
    # score (the mean of all their splits) reaches the best are the ones pruning must not lose
    rng = np.random.default_rng(seed)
    n_splits, noise = 4, 3.0
    study, split_effect = _simulated_study(rng, n_complete=15, n_splits=n_splits, noise=noise)
    pruner = CannotWinPruner(n_splits)
    best = study.best_value
    winners_stopped = winners = losers_stopped = losers = 0
    for _ in range(300):
        scores = rng.normal(best - 6.0, 6.0) - np.mean(split_effect) + split_effect + rng.normal(0.0, noise, n_splits)
        final = float(np.mean(scores))
        stopped = any(_pruned(pruner, study, list(scores[: k + 1])) for k in range(n_splits - 1))
        if final >= best:
            winners, winners_stopped = winners + 1, winners_stopped + stopped
        elif final < best - 10.0:
            losers, losers_stopped = losers + 1, losers_stopped + stopped
    assert winners >= 20 and losers >= 20
    assert winners_stopped / winners <= 0.05  # z = 2 per look, three looks: a few per cent at most (0 of about 50 here)
    assert losers_stopped / losers >= 0.9  # and it does stop the clear losers (all of them here)


def test_pruned_trials_count_towards_the_budget_and_are_never_selected(workspace):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = load_task(workspace, "AAA", 1)
    spec = make_evaluation_spec(task)
    always = type("Always", (optuna.pruners.BasePruner,), {"prune": lambda self, study, trial: len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) >= 3})()
    study = open_study(optuna.storages.InMemoryStorage(), "p", pruner=always)
    run_hpo(task, spec, study=study, n_trials=6, space=SearchSpace.for_task(task.context, models=["lgbm"]), coverage=False)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    stopped = [t for t in pruned if "pruned_at_split" in trial_attrs(t)]
    empty = [t for t in pruned if trial_attrs(t).get("prune_reason") == EMPTY_MASK]  # too few defined DirHits: not counted
    assert len(finished_trials(study)) == 6 and len(complete) == 3 and len(stopped) + len(empty) == len(pruned)
    # stopped at the first split with a DirHit to report (the first, unless its mask was empty)
    assert len(stopped) == 3 and all(f"pruned after split {trial_attrs(t)['pruned_at_split'] + 1} of 4" in trial_attrs(t)["fail_reason"] for t in stopped)
    assert all(trial_attrs(t)["pruned_at_split"] == min(t.intermediate_values) for t in stopped)
    sel = select_best_trial(study.trials, symbol="AAA", horizon=1)
    assert sel.trial_number not in {t.number for t in pruned} and sel.n_complete == 3
