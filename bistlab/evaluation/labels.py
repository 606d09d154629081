"""Labels: the forward log return over a horizon of trading days."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bistlab.errors import ConfigError

__all__ = ["forward_log_return", "past_log_return"]


def _check_horizon(horizon: int) -> None:
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ConfigError("horizon", "a positive whole number of trading days", horizon)


def forward_log_return(close: pd.Series, horizon: int) -> pd.Series:
    """Label at row t: ``log(close[t + h] / close[t])``.

    Args:
        close: closing prices, one row per trading day, oldest first.
        horizon: h, in trading days.

    Returns:
        Log returns aligned on ``close``'s index; the last ``h`` rows (no full future) are NaN.
    """
    _check_horizon(horizon)
    values = np.log(close.to_numpy(dtype=float))
    out = np.full(values.shape, np.nan)
    out[:-horizon] = values[horizon:] - values[:-horizon]
    return pd.Series(out, index=close.index, name=f"fwd_logret_{horizon}d")


def past_log_return(close: pd.Series, horizon: int) -> pd.Series:
    """Backward log return ``log(close[t] / close[t - h])``, known at row t (persistence baseline)."""
    _check_horizon(horizon)
    values = np.log(close.to_numpy(dtype=float))
    out = np.full(values.shape, np.nan)
    out[horizon:] = values[horizon:] - values[:-horizon]
    return pd.Series(out, index=close.index, name=f"past_logret_{horizon}d")
