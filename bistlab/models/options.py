"""Model-side options of the search space: flags with their own parameters.

Each option is switched by a flag ``enable_<name>`` and suggests its parameters only when on.
Some options only exist for some trials: the ensemble options when ``model_choice == "all"``,
stacked short-horizon predictions when a shorter horizon exists. Adaptive learning is not an
option of HPO (it is always off there); its parameters are drawn and recorded for the online
evaluation.

``prediction_scale`` exists because the DirHit mask needs ``|y_pred| > thr``: regressors of daily
returns shrink towards the mean (measured on SP500 at h = 1: the median |prediction| is 0.0006 to
0.0012 against a median |label| of 0.0048 and thr = 0.005), so without it many trials have no
defined DirHit at all (:func:`bistlab.models.estimator.prediction_scale`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna

__all__ = ["ModelOption", "OPTIONS", "SHORT_HORIZONS", "SCALE_PINNED_UP_TO", "shorter_horizons", "suggest_adaptive"]

SHORT_HORIZONS: tuple[int, ...] = (1, 3, 7, 14)

SCALE_PINNED_UP_TO = 3
"""Longest horizon (trading days) at which ``prediction_scale`` is always on. Measured on the demo's
SP500 at h = 1 (``bench/bench_pred_scale.py``): 23 % of random configurations end with empty masks
and, when it is searched, TPE settles on unscaled LightGBM trials whose few masked rows (2 to 5 per
split) happen to score DirHit 100, which the support filter then refuses; at h = 7 no
configuration's masks were empty (the median |label| is 2.7 thr there)."""


def shorter_horizons(horizon: int) -> tuple[int, ...]:
    """The horizons (trading days) whose predictions may be stacked into a model for ``horizon``."""
    return tuple(h for h in SHORT_HORIZONS if h < horizon)


@dataclass(frozen=True)
class ModelOption:
    """One model-side option.

    Attributes:
        name: the option's name (``features_enabled`` key and parameter prefix).
        suggest: ``(trial, horizon) -> params``, called only when on.
        applies: ``(model_choice, horizon) -> reason it does not apply, or None``.
        description: one line for reports.
        pinned: ``horizon -> True`` where the option is always on: its flag is not searched
            there (its parameters are).
    """

    name: str
    suggest: Callable[[optuna.trial.BaseTrial, int], dict[str, Any]]
    applies: Callable[[str, int], str | None]
    description: str
    pinned: Callable[[int], bool] = field(default=lambda horizon: False)

    @property
    def flag(self) -> str:
        return f"enable_{self.name}"


def _always(choice: str, horizon: int) -> str | None:
    return None


def _ensemble_only(choice: str, horizon: int) -> str | None:
    return None if choice == "all" else "only for the ensemble (model_choice = all)"


def _needs_shorter(choice: str, horizon: int) -> str | None:
    return None if shorter_horizons(horizon) else f"no horizon shorter than {horizon} d to stack"


OPTIONS: tuple[ModelOption, ...] = (
    ModelOption(
        name="directional_loss",
        suggest=lambda t, h: {"weight": t.suggest_float("directional_loss_weight", 0.5, 5.0, log=True)},
        applies=_always,
        description="squared error with sign errors costing 1 + weight times more",
    ),
    ModelOption(
        name="seed_bagging",
        suggest=lambda t, h: {"n_seeds": t.suggest_int("seed_bagging_n_seeds", 2, 3)},
        applies=_always,
        description="each model is the average of n seeds",
    ),
    ModelOption(
        name="smart_ensemble",
        suggest=lambda t, h: {"val_frac": t.suggest_float("smart_ensemble_val_frac", 0.1, 0.3)},
        applies=_ensemble_only,
        description="ensemble weights from DirHit on the last part of the training window (purged)",
    ),
    ModelOption(
        name="meta_stacking",
        suggest=lambda t, h: {
            "alpha": t.suggest_float("meta_stacking_alpha", 1e-3, 1.0, log=True),  # relative: see estimator.meta_learner
            "n_folds": t.suggest_int("meta_stacking_n_folds", 2, 4),
        },
        applies=_ensemble_only,
        description="a ridge meta-learner over the base models' out-of-fold predictions",
    ),
    ModelOption(
        name="prediction_scale",
        suggest=lambda t, h: {"spread": t.suggest_float("prediction_scale_spread", 0.5, 1.0)},
        applies=_always,
        description=(
            "predictions times a factor fit on the training rows (at least 1, signs kept): the median |prediction| "
            "there becomes spread × the median |label|; always on up to h = 3"
        ),
        pinned=lambda horizon: horizon <= SCALE_PINNED_UP_TO,
    ),
    ModelOption(
        name="stacked_short",
        suggest=lambda t, h: {"which": t.suggest_categorical("stacked_short_which", ["nearest", "all"])},
        applies=_needs_shorter,
        description="out-of-fold predictions of shorter-horizon models as features",
    ),
)


def suggest_adaptive(trial: optuna.trial.BaseTrial, horizon: int) -> dict[str, float]:
    """Adaptive-learning parameters (off in HPO; recorded for the online evaluation)."""
    return {
        "k": trial.suggest_float(f"ml_adaptive_k_{horizon}d", 1.0, 3.0),
        "pattern_weight_scale": trial.suggest_float(f"ml_pattern_weight_scale_{horizon}d", 0.5, 2.0),
    }
