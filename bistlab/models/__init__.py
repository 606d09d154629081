"""Model families and their registry, the search space of a trial's configuration (``space``, ``options``) and
the estimator that fits one. Imports features and the layers below.

A model family is one module in this package that defines ``MODEL``, a :class:`ModelFamily`:
its name (the value of ``model_choice``), how to suggest its hyperparameters, and how to build
an estimator with ``fit(X, y)`` / ``predict(X)`` that predicts the forward log return.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import optuna

__all__ = ["Regressor", "ModelFamily", "registry", "available_models"]


class Regressor(Protocol):
    def fit(self, X: np.ndarray, y: np.ndarray) -> Any: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelFamily:
    """One model family.

    Attributes:
        name: the ``model_choice`` value, e.g. ``"lgbm"``.
        suggest: ``(trial, horizon) -> hyperparameters``.
        build: ``(params, *, seed, n_jobs, directional_weight=None) -> Regressor``; with a
            directional weight the model is trained on the directional loss.
        unavailable: ``() -> reason or None``; a family with a reason is left out of the space.
        rounds: the hyperparameter holding the number of boosting rounds (trees), e.g.
            ``"n_estimators"``; ``None`` when the family has none. Used to cap the rounds of
            ensemble members (:func:`bistlab.models.estimator.capped_params`).
    """

    name: str
    suggest: Callable[[optuna.trial.BaseTrial, int], dict[str, Any]]
    build: Callable[..., Regressor]
    unavailable: Callable[[], str | None] = field(default=lambda: None)
    rounds: str | None = None


_REGISTRY: dict[str, ModelFamily] | None = None


def registry() -> dict[str, ModelFamily]:
    """Every model family, by name."""
    global _REGISTRY
    if _REGISTRY is None:
        found: dict[str, ModelFamily] = {}
        for info in pkgutil.iter_modules(__path__):
            module = importlib.import_module(f"{__name__}.{info.name}")
            family = getattr(module, "MODEL", None) if hasattr(module, "MODEL") else None
            if isinstance(family, ModelFamily):
                found[family.name] = family
        _REGISTRY = dict(sorted(found.items()))
    return _REGISTRY


def available_models() -> dict[str, ModelFamily]:
    """Model families whose library is importable here."""
    return {name: fam for name, fam in registry().items() if fam.unavailable() is None}
