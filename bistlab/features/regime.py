"""Volatility and trend regimes from trailing rolling statistics.

No model is fitted on the series (a Markov-switching or clustering fit on the whole history would
let later rows shape earlier regimes); every statistic at row t is a function of the trailing
window of rows ending at t.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import optuna
import pandas as pd

from bistlab.errors import ConfigError
from bistlab.features import FeatureContext, FeatureGroup

__all__ = ["GROUP", "DEFAULT_PARAMS", "HIGH_VOL_RANK", "LOW_VOL_RANK", "compute", "suggest"]

logger = logging.getLogger(__name__)

DEFAULT_PARAMS: dict[str, Any] = {"vol_window": 20, "rank_window": 250, "trend_window": 100}
HIGH_VOL_RANK = 0.8
"""Percentile rank of realized volatility above which the row is in the high-volatility regime."""
LOW_VOL_RANK = 0.2
"""Percentile rank at or below which it is in the low-volatility regime."""


def suggest(trial: optuna.trial.BaseTrial, horizon: int) -> dict[str, Any]:
    """Regime parameters, windows in trading days."""
    return {
        "vol_window": trial.suggest_int("regime_vol_window", 10, 60),
        "rank_window": trial.suggest_int("regime_rank_window", 60, 500, log=True),
        "trend_window": trial.suggest_int("regime_trend_window", 20, 200, log=True),
    }


def _windows(params: dict[str, Any]) -> tuple[int, int, int]:
    """``vol_window``, ``rank_window`` and ``trend_window``.

    Raises:
        ConfigError: a window below its least value (2, 2 and 4).
    """
    p = {**DEFAULT_PARAMS, **params}
    vol_window, rank_window, trend_window = (int(p[k]) for k in ("vol_window", "rank_window", "trend_window"))
    limits = (("vol_window", vol_window, 2), ("rank_window", rank_window, 2), ("trend_window", trend_window, 4))
    for name, value, least in limits:
        if value < least:
            raise ConfigError(name, f">= {least}", value)
    return vol_window, rank_window, trend_window


def _ranked(values: pd.Series, rank_window: int) -> pd.Series:
    """Percentile rank over the last ``rank_window`` rows, at least half of them present."""
    return values.rolling(rank_window, min_periods=max(2, rank_window // 2)).rank(pct=True)


def _volatility(ret1: pd.Series, *, vol_window: int, rank_window: int) -> dict[str, pd.Series]:
    """``rv``, ``rv_rank``, ``high_vol``, ``low_vol``."""
    rv = ret1.rolling(vol_window).std()
    rv_rank = _ranked(rv, rank_window)
    high_vol = (rv_rank > HIGH_VOL_RANK).astype("float64").where(rv_rank.notna())
    low_vol = (rv_rank <= LOW_VOL_RANK).astype("float64").where(rv_rank.notna())
    return {"rv": rv, "rv_rank": rv_rank, "high_vol": high_vol, "low_vol": low_vol}


def _trend(close: pd.Series, logc: pd.Series, ret1: pd.Series, *, trend_window: int) -> dict[str, pd.Series]:
    """``trend_slope``, ``price_vs_sma``, ``efficiency``, ``trend_regime``."""
    log_sma = np.log(close.rolling(trend_window).mean())
    step = max(1, trend_window // 4)
    slope = log_sma.diff(step) / step
    price_vs_sma = logc - log_sma
    path = ret1.abs().rolling(trend_window).sum()
    efficiency = (logc.diff(trend_window) / path.where(path > 0)).clip(-1.0, 1.0)
    trend_regime = pd.Series(
        np.select([(price_vs_sma > 0) & (slope > 0), (price_vs_sma < 0) & (slope < 0)], [1.0, -1.0], 0.0),
        index=close.index,
    ).where(slope.notna())
    return {"trend_slope": slope, "price_vs_sma": price_vs_sma, "efficiency": efficiency, "trend_regime": trend_regime}


def _drawdown(close: pd.Series, logc: pd.Series, *, rank_window: int) -> dict[str, pd.Series]:
    """``drawdown``, ``drawdown_rank``."""
    drawdown = logc - np.log(close.rolling(rank_window, min_periods=1).max())
    return {"drawdown": drawdown, "drawdown_rank": _ranked(drawdown, rank_window)}


def compute(ctx: FeatureContext, params: dict[str, Any]) -> pd.DataFrame:
    """Regime features; returns are log returns, windows in trading days.

    Columns:
        ``rv``: realized volatility, standard deviation of daily log returns over ``vol_window``.
        ``rv_rank``: percentile rank (0-1] of ``rv`` among its values over the last ``rank_window``
        rows (at least half of them present).
        ``high_vol``, ``low_vol``: 1 when ``rv_rank`` > 0.8 / <= 0.2, else 0 (NaN while the rank is).
        ``trend_slope``: log change of the ``trend_window`` SMA over its last ``trend_window // 4``
        rows, per row.
        ``price_vs_sma``: ``log(close / SMA)``.
        ``efficiency``: signed Kaufman efficiency ratio over ``trend_window``: net log move over
        the sum of absolute daily log moves, in [-1, 1].
        ``trend_regime``: +1 when close is above a rising SMA, -1 below a falling one, else 0.
        ``drawdown``: ``log(close / max close over rank_window rows)`` (<= 0).
        ``drawdown_rank``: percentile rank of ``drawdown`` over ``rank_window`` rows.
    """
    vol_window, rank_window, trend_window = _windows(params)
    frame = ctx.frame
    logc = np.log(frame["close"].astype("float64"))
    ret1 = logc.diff()
    out = {
        **_volatility(ret1, vol_window=vol_window, rank_window=rank_window),
        **_trend(frame["close"], logc, ret1, trend_window=trend_window),
        **_drawdown(frame["close"], logc, rank_window=rank_window),
    }
    return pd.DataFrame(out, index=frame.index).astype("float64").replace([np.inf, -np.inf], np.nan)


GROUP = FeatureGroup(
    name="regime",
    flag="enable_regime",
    suggest=suggest,
    compute=compute,
    unavailable=lambda ctx: None,
    description="trailing regimes: realized-volatility percentile rank and high/low-vol dummies, SMA slope, efficiency ratio, trend regime, drawdown from the rolling max",
)
