"""The directional loss: squared error with sign errors penalized.

``L = (p - y)^2 * (1 + w * [p * y < 0])``: a prediction on the wrong side of zero costs
``1 + w`` times more. Used as a custom objective by LightGBM and XGBoost; families without a
fast custom objective reweight their samples instead (see :func:`sign_error_weights`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DirectionalObjective", "directional_objective", "sign_error_weights", "directional_loss"]


def directional_loss(y_true: np.ndarray, y_pred: np.ndarray, *, weight: float) -> float:
    """Mean directional loss (log-return units squared)."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    wrong = (y_pred * y_true) < 0
    return float(np.mean((y_pred - y_true) ** 2 * (1.0 + weight * wrong)))


class DirectionalObjective:
    """``(y_true, y_pred) -> (grad, hess)`` of the directional loss; picklable, so models save."""

    def __init__(self, weight: float) -> None:
        self.weight = float(weight)

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y_true = np.asarray(y_true, dtype=float)
        y_pred = np.asarray(y_pred, dtype=float)
        scale = 1.0 + self.weight * ((y_pred * y_true) < 0)
        return 2.0 * (y_pred - y_true) * scale, 2.0 * scale


def directional_objective(weight: float) -> DirectionalObjective:
    """The directional loss's gradient and hessian for LightGBM and XGBoost custom objectives."""
    return DirectionalObjective(weight)


def sign_error_weights(y_true: np.ndarray, y_pred: np.ndarray, *, weight: float) -> np.ndarray:
    """Sample weights ``1 + w`` on rows a first fit got on the wrong side of zero, else 1."""
    return 1.0 + weight * ((np.asarray(y_pred) * np.asarray(y_true)) < 0)
