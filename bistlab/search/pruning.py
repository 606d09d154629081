"""Stopping a trial after a walk-forward split when it cannot be worth finishing.

After each split a trial reports that split's own score, ``0.7 · DirHit − k · nRMSE`` (the
objective's formula on one split; the mean of the split scores is the trial's score when every
split has a DirHit), at step = the split's index, so every trial's step i is the same test window.
A pruner then decides whether to stop it (Optuna's :class:`~optuna.pruners.BasePruner`
interface). :data:`PRUNERS` holds the ones ``bench/bench_pruning.py`` compares:

- ``"none"``: every trial runs every split.
- ``"median"``: Optuna's :class:`~optuna.pruners.MedianPruner`: stop when a split's score is below
  the median of the other trials' scores on that split (after 5 complete trials).
- ``"wilcoxon"``: Optuna's :class:`~optuna.pruners.WilcoxonPruner`, made for fold-wise
  evaluation: a signed-rank test against the best trial's split scores. With 4 splits it cannot
  reach p < 0.1 before the last split, so it saves nothing here; it is kept for the comparison.
- ``"cannot-win"`` (:class:`CannotWinPruner`): stop when the trial's final score, estimated from
  its splits so far and the other trials' scores on the remaining splits, cannot reach the study's
  best within two standard deviations of the split-to-split spread.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

from bistlab.config import DEFAULT_PRUNER, k_for_horizon
from bistlab.errors import ConfigError
from bistlab.evaluation.metrics import NONFINITE_NRMSE, SplitMetrics

__all__ = ["PRUNERS", "DEFAULT_PRUNER", "CannotWinPruner", "make_pruner", "percentile_pruner", "split_score"]

MIN_COMPLETE = 5
"""Complete trials a pruner waits for before it stops any trial."""


def split_score(metrics: SplitMetrics, *, horizon: int) -> float | None:
    """One split's score, ``0.7 · DirHit − k · nRMSE`` (a non-finite nRMSE counts as 3.0); ``None``
    when the split has no DirHit."""
    if metrics.dirhit is None:
        return None
    nrmse = metrics.nrmse if metrics.nrmse is not None and math.isfinite(metrics.nrmse) else NONFINITE_NRMSE
    return 0.7 * metrics.dirhit - k_for_horizon(horizon) * nrmse


class CannotWinPruner(BasePruner):
    """Stop a trial whose final score cannot reach the study's best within the spread of split scores.

    Splits differ in difficulty, and trials in level: a complete trial's split score is modelled
    as the split's mean over complete trials, plus the trial's own offset, plus noise of standard
    deviation ``sigma`` (the pooled residual of the complete trials' split scores). After the
    splits seen so far, the trial's final score is estimated from its own scores and, for each
    remaining split, that split's mean plus the trial's mean offset so far; the estimate's
    standard deviation combines the remaining splits' noise and the uncertainty of the offset,
    ``sigma / n * sqrt(r + r**2 / s)`` for ``s`` splits seen and ``r`` left of ``n``. The trial
    stops when the estimate plus ``z`` standard deviations is below the study's best value: with
    the default ``z = 2``, a trial that would have reached the best is stopped in about 2 % of
    cases (``tests/test_pruning.py`` simulates it).

    Args:
        n_steps: splits per trial.
        min_complete: complete trials needed before anything is stopped.
        z: standard deviations of optimism.
    """

    def __init__(self, n_steps: int, *, min_complete: int = MIN_COMPLETE, z: float = 2.0) -> None:
        self.n_steps = n_steps
        self.min_complete = min_complete
        self.z = z

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step >= self.n_steps - 1:
            return False
        complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if self._whole(t)]
        if len(complete) < self.min_complete:
            return False
        best = max(float(t.value) for t in complete)  # type: ignore[arg-type]
        scores = np.array([[t.intermediate_values[j] for j in range(self.n_steps)] for t in complete])
        split_mean = scores.mean(axis=0)
        offsets = scores - split_mean
        residual = offsets - offsets.mean(axis=1, keepdims=True)
        sigma = float(np.sqrt((residual**2).sum() / (len(complete) * (self.n_steps - 1))))
        own = {j: v for j, v in trial.intermediate_values.items() if j <= step}
        offset = float(np.mean([v - split_mean[j] for j, v in own.items()]))
        left = range(step + 1, self.n_steps)
        n, seen, r = len(own) + len(left), len(own), len(left)
        estimate = (sum(own.values()) + sum(split_mean[j] + offset for j in left)) / n
        spread = sigma / n * math.sqrt(r + r**2 / seen)
        return bool(estimate + self.z * spread < best)

    def _whole(self, t: FrozenTrial) -> bool:
        """A complete trial with a finite value and every split's score."""
        return t.value is not None and math.isfinite(t.value) and all(j in t.intermediate_values for j in range(self.n_steps))


class _Wilcoxon(optuna.pruners.WilcoxonPruner):
    """Optuna's Wilcoxon pruner without its warning for a split that has no score (no DirHit) in
    one of the two trials: such splits are left out of the test, as the warning says."""

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="WilcoxonPruner finds steps", category=UserWarning)
            return super().prune(study, trial)


def _wilcoxon() -> BasePruner:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _Wilcoxon(p_threshold=0.1)


PRUNERS: dict[str, Callable[[int], BasePruner | None]] = {
    "none": lambda n_steps: None,
    "median": lambda n_steps: optuna.pruners.MedianPruner(n_startup_trials=MIN_COMPLETE, n_warmup_steps=0),
    "wilcoxon": lambda n_steps: _wilcoxon(),
    "cannot-win": lambda n_steps: CannotWinPruner(n_steps),
}
"""Pruner name (:data:`bistlab.config.PRUNER_NAMES`) -> ``(splits per trial) -> pruner`` (``None``: no pruning)."""



def percentile_pruner(percentile: float, *, n_startup_trials: int, n_warmup_steps: int) -> BasePruner:
    """Optuna's :class:`~optuna.pruners.PercentilePruner`: stop a trial whose value at a step is below
    ``percentile`` (0..100) of the other trials' values at that step, after ``n_startup_trials``
    trials and ``n_warmup_steps`` steps (an LSTM hyperopt trial reports after every epoch)."""
    return optuna.pruners.PercentilePruner(percentile, n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps)


def make_pruner(name: str, *, n_steps: int) -> Any:
    """The pruner called ``name`` for trials of ``n_steps`` splits.

    Raises:
        ConfigError: an unknown name.
    """
    if name not in PRUNERS:
        raise ConfigError("pruner", f"one of {', '.join(PRUNERS)}", name)
    return PRUNERS[name](n_steps)
