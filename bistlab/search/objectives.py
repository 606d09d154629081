"""What each of bistlab's Optuna studies maximizes, in words: the metric names that Optuna keeps
with a study (``study.set_metric_names``) and that optuna-dashboard shows instead of "Objective 0".

- A cycle's task study (``<SYMBOL>_<h>d_c<N>``, ``..._v<k>`` after a restart) maximizes the score
  ``0.7·DirHit − k·nRMSE`` of :func:`bistlab.evaluation.metrics.score` (k = 6 for h in {1, 3, 7}, else 4):
  :func:`cycle_metric_name`.
- An LSTM hyperopt group study maximizes the job's primary metric (``val_f1`` by default), halved
  after a trial whose mean macro precision is below 0.35 (:func:`bistlab.lstm.optimizer.apply_penalty`):
  :func:`lstm_metric_name`.

:func:`name_metric` sets a name on a study that has none; the dashboard's read-only view
(:mod:`bistlab.api.dashboard`) shows these names for studies written before they were set.
"""

from __future__ import annotations

import warnings

import optuna

from bistlab.config import k_for_horizon
from bistlab.core.names import key_horizon, parse_study_name

__all__ = ["METRIC_NAMES_ATTR", "cycle_metric_name", "cycle_study_metric_name", "lstm_metric_name", "name_metric"]

METRIC_NAMES_ATTR = "study:metric_names"
"""The study system attribute in which Optuna keeps ``set_metric_names``' names."""

def cycle_metric_name(horizon: int | None = None) -> str:
    """The objective of a cycle's task study, e.g. ``"score (0.7·DirHit − 6·nRMSE)"``.

    Args:
        horizon: h, trading days; ``None``: the weight as ``k``.
    """
    if horizon is None:
        return "score (0.7·DirHit − k·nRMSE)"
    return f"score (0.7·DirHit − {k_for_horizon(int(horizon)):g}·nRMSE)"


def cycle_study_metric_name(study_name: str) -> str:
    """:func:`cycle_metric_name` for a task study's name (``SP500_7d_c3``; the generic name when
    the name carries no horizon)."""
    found = parse_study_name(study_name)
    return cycle_metric_name(key_horizon(found[0]) if found else None)


def lstm_metric_name(primary_metric: str = "val_f1") -> str:
    """The objective of an LSTM hyperopt group study, e.g. ``"val_f1 (penalized)"``: the mean over
    splits of the primary metric, × 0.5 after a trial with mean macro precision below 0.35."""
    return f"{primary_metric} (penalized)"


def name_metric(study: optuna.Study, name: str) -> None:
    """Give a single-objective study the metric name ``name`` unless it has one already."""
    if len(study.directions) != 1 or study.metric_names is not None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([name])
