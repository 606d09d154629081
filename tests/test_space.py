"""The search space: what a study may try, and the opening design that makes a small study
visit every model choice and every flag both on and off."""

from __future__ import annotations

import optuna
import pytest

from bistlab.evaluation.walkforward import make_evaluation_spec
from bistlab.search.hpo import open_study, run_hpo
from bistlab.evaluation.universe import load_task
from bistlab.models.space import ENSEMBLE, SearchSpace


@pytest.mark.parametrize("horizon", [1, 7])
@pytest.mark.parametrize("models", [None, ["lgbm"], ["lgbm", "xgb"]])
def test_the_opening_design_visits_every_choice_and_every_flag_both_ways(workspace, horizon, models):
    task = load_task(workspace, "AAA", horizon)
    space = SearchSpace.for_task(task.context, models=models)
    design = space.coverage_params(horizon)
    assert {d["model_choice"] for d in design} == set(space.model_choices)
    seen: dict[str, set[bool]] = {}
    for d in design:
        for k, v in d.items():
            if k != "model_choice":
                seen.setdefault(k, set()).add(v)
    group_flags = {g.flag for g in space.groups.values() if g.flag}
    option_flags = {o.flag for o in space.options if not o.pinned(horizon) and any(o.applies(c, horizon) is None for c in space.model_choices)}
    assert set(seen) == group_flags | option_flags
    assert all(values == {True, False} for values in seen.values()), seen
    first = design[0]
    assert first["model_choice"] != ENSEMBLE and not any(v for k, v in first.items() if k != "model_choice")
    everything = len(seen)
    assert all(sum(v is True for v in d.values()) < max(2, everything) for d in design), "no entry turns every flag on"


def test_a_new_study_opens_with_the_design_after_the_warm_start(workspace):
    task = load_task(workspace, "AAA", 1)
    space = SearchSpace.for_task(task.context, models=["lgbm"])
    study = open_study(optuna.storages.InMemoryStorage(), "s")
    warm = {"model_choice": "lgbm", "lgb_n_estimators": 50}
    run_hpo(task, make_evaluation_spec(task), study=study, n_trials=3, space=space, warm_start=warm)
    trials = study.get_trials(deepcopy=False)
    assert trials[0].params["lgb_n_estimators"] == 50
    for trial, params in zip(trials[1:3], space.coverage_params(1)):
        assert {k: trial.params[k] for k in params} == params
    assert not study.get_trials(states=(optuna.trial.TrialState.WAITING,))


def test_the_design_never_queues_more_trials_than_asked(workspace):
    task = load_task(workspace, "AAA", 1)
    study = open_study(optuna.storages.InMemoryStorage(), "s")
    run_hpo(task, make_evaluation_spec(task), study=study, n_trials=1, space=SearchSpace.for_task(task.context, models=["lgbm", "xgb"]))
    assert not study.get_trials(states=(optuna.trial.TrialState.WAITING,))


@pytest.mark.parametrize(("horizon", "searched"), [(1, False), (3, False), (7, True), (14, True)])
def test_the_prediction_scale_is_always_on_at_short_horizons_and_searched_beyond(workspace, horizon, searched):
    from bistlab.models.space import suggest_config

    task = load_task(workspace, "AAA", horizon)
    space = SearchSpace.for_task(task.context, models=["lgbm"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    states = set()
    for _ in range(12):
        trial = study.ask()
        config = suggest_config(trial, space, horizon=horizon)
        states.add(config.features_enabled["prediction_scale"])
        assert ("enable_prediction_scale" in trial.params) is searched
        if config.features_enabled["prediction_scale"]:
            assert 0.5 <= config.feature_params["prediction_scale"]["spread"] <= 1.0
        study.tell(trial, 0.0)
    assert states == ({True, False} if searched else {True})
    assert all("enable_prediction_scale" not in d for d in space.coverage_params(horizon)) is not searched
