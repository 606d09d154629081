"""XGBoost regressor on the forward log return."""

from __future__ import annotations

import importlib.util
from typing import Any

import optuna

from bistlab.models import ModelFamily, Regressor
from bistlab.models.objectives import directional_objective

__all__ = ["MODEL", "suggest", "build", "MAX_BIN"]

MAX_BIN = 64
"""Histogram bins per feature: 2.5× faster than XGBoost's 256 on the BIST walk-forward splits at the
same DirHit (53.4 % against 53.1 % over 192 fits)."""


def suggest(trial: optuna.trial.BaseTrial, horizon: int) -> dict[str, Any]:
    """XGBoost's main hyperparameters."""
    return {
        "n_estimators": trial.suggest_int("xgb_n_estimators", 50, 400, log=True),
        "learning_rate": trial.suggest_float("xgb_learning_rate", 0.01, 0.2, log=True),
        "max_depth": trial.suggest_int("xgb_max_depth", 2, 8),
        "min_child_weight": trial.suggest_float("xgb_min_child_weight", 1.0, 20.0, log=True),
        "subsample": trial.suggest_float("xgb_subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("xgb_colsample_bytree", 0.4, 1.0),
        "reg_lambda": trial.suggest_float("xgb_reg_lambda", 1e-3, 10.0, log=True),
    }


def build(params: dict[str, Any], *, seed: int, n_jobs: int = 1, directional_weight: float | None = None) -> Regressor:
    """A seeded ``XGBRegressor`` (hist trees); with ``directional_weight``, on the directional loss."""
    import xgboost as xgb

    extra: dict[str, Any] = {}
    if directional_weight is not None:
        extra["objective"] = directional_objective(directional_weight)
        extra["base_score"] = 0.0
    return xgb.XGBRegressor(**params, **extra, tree_method="hist", max_bin=MAX_BIN, random_state=seed, n_jobs=n_jobs, verbosity=0)


def _unavailable() -> str | None:
    return None if importlib.util.find_spec("xgboost") else "xgboost is not installed"


MODEL = ModelFamily(name="xgb", suggest=suggest, build=build, unavailable=_unavailable, rounds="n_estimators")
