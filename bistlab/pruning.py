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
- ``"cannot-win"`` (:class:`CannotWinPruner`): stop when even the most optimistic outcome of the
  remaining splits (the best score any complete trial reached on each, plus that split's spread)
  cannot lift the trial's score to the study's best. It only stops trials that would lose.
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
from bistlab.metrics import NONFINITE_NRMSE, SplitMetrics

__all__ = ["PRUNERS", "DEFAULT_PRUNER", "CannotWinPruner", "make_pruner", "split_score"]

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
    """Stop a trial whose remaining splits cannot lift its score to the study's best.

    After step i of ``n_steps``, the bound is the mean of the trial's split scores so far and, for
    each remaining split j, the best score any complete trial reached on it plus the standard
    deviation of those scores; the trial stops when the bound is below the study's best value.

    Args:
        n_steps: splits per trial.
        min_complete: complete trials needed before anything is stopped.
    """

    def __init__(self, n_steps: int, *, min_complete: int = MIN_COMPLETE) -> None:
        self.n_steps = n_steps
        self.min_complete = min_complete

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step >= self.n_steps - 1:
            return False
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) < self.min_complete:
            return False
        best = max(t.value for t in complete if t.value is not None and math.isfinite(t.value))
        own = list(trial.intermediate_values.values())
        optimistic = [self._ceiling(complete, j) for j in range(step + 1, self.n_steps)]
        if any(c is None for c in optimistic):
            return False
        bound = (sum(own) + sum(optimistic)) / (len(own) + len(optimistic))  # type: ignore[arg-type]
        return bound < best

    @staticmethod
    def _ceiling(complete: list[FrozenTrial], step: int) -> float | None:
        values = [t.intermediate_values[step] for t in complete if step in t.intermediate_values]
        if len(values) < 2:
            return None
        return float(max(values) + np.std(values))


def _wilcoxon() -> BasePruner:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.pruners.WilcoxonPruner(p_threshold=0.1)


PRUNERS: dict[str, Callable[[int], BasePruner | None]] = {
    "none": lambda n_steps: None,
    "median": lambda n_steps: optuna.pruners.MedianPruner(n_startup_trials=MIN_COMPLETE, n_warmup_steps=0),
    "wilcoxon": lambda n_steps: _wilcoxon(),
    "cannot-win": lambda n_steps: CannotWinPruner(n_steps),
}
"""Pruner name (:data:`bistlab.config.PRUNER_NAMES`) -> ``(splits per trial) -> pruner`` (``None``: no pruning)."""



def make_pruner(name: str, *, n_steps: int) -> Any:
    """The pruner called ``name`` for trials of ``n_steps`` splits.

    Raises:
        ConfigError: an unknown name.
    """
    if name not in PRUNERS:
        raise ConfigError("pruner", f"one of {', '.join(PRUNERS)}", name)
    return PRUNERS[name](n_steps)
