"""The trial-seeded TPE sampler: a resumed study draws what an uninterrupted one draws, and never
repeats the random phase's parameters."""

from __future__ import annotations

import optuna
import pytest

from bistlab.lstm.sampler import TrialSeededSampler, derived_seed, trial_ordinal

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0.0, 1.0) + trial.suggest_int("y", 0, 100) / 100


def _values(study: optuna.Study) -> list[tuple]:
    return [(t.state.name, tuple(sorted(t.params.items())), t.value) for t in study.trials if not t.user_attrs.get("interrupted")]


@pytest.mark.parametrize(("stop_after", "startup"), [(1, 10), (3, 10), (6, 4), (9, 4)])
def test_a_study_resumed_with_a_new_sampler_draws_what_an_uninterrupted_one_draws(stop_after, startup):
    whole = optuna.create_study(sampler=TrialSeededSampler(7, n_startup_trials=startup), direction="maximize")
    whole.optimize(_objective, n_trials=12)
    storage = optuna.storages.InMemoryStorage()
    first = optuna.create_study(storage=storage, study_name="s", sampler=TrialSeededSampler(7, n_startup_trials=startup), direction="maximize")
    first.optimize(_objective, n_trials=stop_after)
    resumed = optuna.load_study(storage=storage, study_name="s", sampler=TrialSeededSampler(7, n_startup_trials=startup))
    resumed.optimize(_objective, n_trials=12 - stop_after)
    assert _values(resumed) == _values(whole)
    assert len({p for _, p, _ in _values(resumed)}) == 12  # no parameters twice


def test_an_interrupted_trial_does_not_shift_the_later_trials():
    whole = optuna.create_study(sampler=TrialSeededSampler(1, n_startup_trials=10), direction="maximize")
    whole.optimize(_objective, n_trials=5)
    cut = optuna.create_study(sampler=TrialSeededSampler(1, n_startup_trials=10), direction="maximize")
    cut.optimize(_objective, n_trials=2)
    t = cut.ask()  # trial 2 is interrupted at an epoch boundary: recorded FAIL, its parameters run again
    params = {"x": t.suggest_float("x", 0.0, 1.0), "y": t.suggest_int("y", 0, 100)}
    t.set_user_attr("interrupted", True)
    cut.tell(t, state=optuna.trial.TrialState.FAIL)
    cut.enqueue_trial(params, user_attrs={"rerun_of": 2})
    cut.optimize(_objective, n_trials=3)
    assert _values(cut) == _values(whole)
    assert trial_ordinal(cut, 3) == 2 and trial_ordinal(cut, 5) == 4


def test_derived_seeds_differ_by_seed_and_ordinal():
    seeds = {derived_seed(s, k) for s in range(3) for k in range(50)}
    assert len(seeds) == 150 and all(0 <= x < 2**32 for x in seeds)
