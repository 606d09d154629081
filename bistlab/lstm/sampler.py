"""A TPE sampler whose randomness belongs to the trial, not to the process: resumes never repeat.

Optuna's :class:`~optuna.samplers.TPESampler` draws from one random stream seeded when the sampler
is built. A job that stops and resumes builds it again with the same seed, so the trials after a
resume draw the same random parameters as the first trials of the group did (in the random phase:
the same parameters twice). :class:`TrialSeededSampler` instead seeds each trial's draws from the
job's seed and the trial's *ordinal*: its place among the group's trials that were not interrupted
(:func:`trial_ordinal`). A stopped and resumed group therefore draws exactly what an uninterrupted
one draws, trial by trial: an interrupted trial's re-run takes its place (same parameters, same
seed), and the trials after it get the ordinals, parameters and seeds they would have had. TPE
keeps no state beyond its random stream (its model is refit from the study's trials every time),
so nothing else is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.trial import FrozenTrial, TrialState

__all__ = ["TrialSeededSampler", "trial_ordinal", "derived_seed"]


def trial_ordinal(study: optuna.Study, number: int) -> int:
    """How many of ``study``'s trials before trial ``number`` were not interrupted (stopped at an
    epoch boundary or left running by a dead worker): the trial's place in an uninterrupted run."""
    return sum(1 for t in study.get_trials(deepcopy=False) if t.number < number and not t.user_attrs.get("interrupted"))


def derived_seed(seed: int, ordinal: int) -> int:
    """A 32-bit seed from a job seed and a trial ordinal (independent streams per ordinal)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(ordinal)]).generate_state(1)[0])


class TrialSeededSampler(BaseSampler):
    """TPE whose every trial draws from a stream seeded by ``(seed, trial ordinal)``.

    Args:
        seed: the group's seed (job seed and group).
        n_startup_trials: random trials before TPE models the history.
    """

    def __init__(self, seed: int, *, n_startup_trials: int = 10) -> None:
        self.seed = int(seed)
        self.n_startup_trials = int(n_startup_trials)
        self._by_trial: dict[int, TPESampler] = {}

    def _tpe(self, study: optuna.Study, trial: FrozenTrial) -> TPESampler:
        tpe = self._by_trial.get(trial._trial_id)
        if tpe is None:
            tpe = TPESampler(seed=derived_seed(self.seed, trial_ordinal(study, trial.number)), n_startup_trials=self.n_startup_trials)
            self._by_trial[trial._trial_id] = tpe
        return tpe

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._tpe(study, trial).before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._tpe(study, trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self._tpe(study, trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution) -> Any:
        return self._tpe(study, trial).sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        tpe = self._by_trial.pop(trial._trial_id, None)
        if tpe is not None:
            tpe.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Nothing to reseed: every trial's stream is derived from the seed and its ordinal."""
