"""Model-side options of the search space: flags with their own parameters.

Each option is switched by a flag ``enable_<name>`` and suggests its parameters only when on.
Some options only exist for some trials: the ensemble options when ``model_choice == "all"``,
stacked short-horizon predictions when a shorter horizon exists. Adaptive learning is not an
option of HPO (it is always off there); its parameters are drawn and recorded for the online
evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna

__all__ = ["ModelOption", "OPTIONS", "SHORT_HORIZONS", "shorter_horizons", "suggest_adaptive"]

SHORT_HORIZONS: tuple[int, ...] = (1, 3, 7, 14)


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
    """

    name: str
    suggest: Callable[[optuna.trial.BaseTrial, int], dict[str, Any]]
    applies: Callable[[str, int], str | None]
    description: str

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
