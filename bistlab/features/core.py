"""The always-on core group: returns, volatility, momentum and a few classic indicators.

Every feature at row t uses closes, highs, lows and volumes up to and including t.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pandas as pd

from bistlab.features import FeatureContext, FeatureGroup

__all__ = ["GROUP", "compute", "suggest", "DEFAULT_PARAMS"]

DEFAULT_PARAMS: dict[str, Any] = {
    "vol_window": 20,
    "mom_window": 20,
    "rsi_period": 14,
    "macd_fast": 12,
    "macd_slow": 26,
    "bb_window": 20,
}


def suggest(trial: optuna.trial.BaseTrial, horizon: int) -> dict[str, Any]:
    """Core parameters, window lengths in trading days."""
    return {
        "vol_window": trial.suggest_int("core_vol_window", 5, 60),
        "mom_window": trial.suggest_int("core_mom_window", 5, 60),
        "rsi_period": trial.suggest_int("core_rsi_period", 5, 30),
        "macd_fast": trial.suggest_int("core_macd_fast", 5, 15),
        "macd_slow": trial.suggest_int("core_macd_slow", 20, 40),
        "bb_window": trial.suggest_int("core_bb_window", 10, 40),
    }


def _rsi(close: pd.Series, period: int) -> pd.Series:
    delta = close.diff()
    gain = delta.clip(lower=0.0).ewm(alpha=1.0 / period, adjust=False, min_periods=period).mean()
    loss = (-delta.clip(upper=0.0)).ewm(alpha=1.0 / period, adjust=False, min_periods=period).mean()
    rs = gain / loss.replace(0.0, np.nan)
    return (100.0 - 100.0 / (1.0 + rs)).fillna(100.0).where(gain.notna())


def compute(ctx: FeatureContext, params: dict[str, Any]) -> pd.DataFrame:
    """Core features; returns are log returns, windows in trading days."""
    p = {**DEFAULT_PARAMS, **params}
    f = ctx.frame
    close, high, low, volume = f["close"], f["high"], f["low"], f["volume"]
    logc = np.log(close)
    ret1 = logc.diff()
    out = {f"ret_{k}": logc.diff(k) for k in (1, 2, 5, 10, 20)}
    out["vol"] = ret1.rolling(p["vol_window"]).std()
    out["vol_ratio"] = out["vol"] / ret1.rolling(4 * p["vol_window"], min_periods=p["vol_window"]).std()
    out["mom"] = logc.diff(p["mom_window"])
    out["sma_gap"] = logc - np.log(close.rolling(p["mom_window"]).mean())
    out["rsi"] = _rsi(close, p["rsi_period"]) / 100.0
    fast = close.ewm(span=p["macd_fast"], adjust=False).mean()
    slow = close.ewm(span=p["macd_slow"], adjust=False).mean()
    macd = (fast - slow) / close
    out["macd_hist"] = macd - macd.ewm(span=9, adjust=False).mean()
    mid = close.rolling(p["bb_window"]).mean()
    sd = close.rolling(p["bb_window"]).std()
    out["bb_pctb"] = (close - (mid - 2 * sd)) / (4 * sd)
    prev_close = close.shift(1)
    true_range = pd.concat([high - low, (high - prev_close).abs(), (low - prev_close).abs()], axis=1).max(axis=1)
    out["atr_norm"] = true_range.rolling(14).mean() / close
    out["hl_range"] = np.log(high / low)
    out["gap"] = np.log(f["open"] / prev_close)
    logv = np.log1p(volume)
    out["volume_z"] = (logv - logv.rolling(20).mean()) / logv.rolling(20).std()
    return pd.DataFrame(out, index=f.index)


GROUP = FeatureGroup(
    name="core",
    flag=None,
    suggest=suggest,
    compute=compute,
    description="log returns (1-20 d), volatility, momentum, SMA gap, RSI, MACD histogram, Bollinger %b, ATR, range, gap, volume z-score",
)
