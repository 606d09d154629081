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
    """Core features; returns are log returns, windows in trading days.

    Each column is computed once per context and the parameters it depends on
    (:meth:`FeatureContext.piece`): a trial that draws a new RSI period recomputes only the RSI.
    """
    p = {**DEFAULT_PARAMS, **params}
    f = ctx.frame
    close = f["close"]
    logc = ctx.piece(("core", "logc"), lambda: np.log(close))
    out = dict(ctx.piece(("core", "fixed"), lambda: _fixed(f, logc)))
    vw, mw = p["vol_window"], p["mom_window"]
    out["vol"] = ctx.piece(("core", "vol", vw), lambda: logc.diff().rolling(vw).std())
    out["vol_ratio"] = ctx.piece(("core", "vol_ratio", vw), lambda: out["vol"] / logc.diff().rolling(4 * vw, min_periods=vw).std())
    out["mom"] = ctx.piece(("core", "mom", mw), lambda: logc.diff(mw))
    out["sma_gap"] = ctx.piece(("core", "sma_gap", mw), lambda: logc - np.log(close.rolling(mw).mean()))
    out["rsi"] = ctx.piece(("core", "rsi", p["rsi_period"]), lambda: _rsi(close, p["rsi_period"]) / 100.0)
    out["macd_hist"] = ctx.piece(("core", "macd_hist", p["macd_fast"], p["macd_slow"]), lambda: _macd_hist(close, p["macd_fast"], p["macd_slow"]))
    out["bb_pctb"] = ctx.piece(("core", "bb_pctb", p["bb_window"]), lambda: _bb_pctb(close, p["bb_window"]))
    columns = ["ret_1", "ret_2", "ret_5", "ret_10", "ret_20", "vol", "vol_ratio", "mom", "sma_gap", "rsi", "macd_hist", "bb_pctb", "atr_norm", "hl_range", "gap", "volume_z"]
    return pd.DataFrame({name: out[name] for name in columns}, index=f.index)


def _fixed(f: pd.DataFrame, logc: pd.Series) -> dict[str, pd.Series]:
    """The columns with no parameter: returns over 1–20 sessions, ATR, range, gap, volume z-score."""
    close, high, low = f["close"], f["high"], f["low"]
    out = {f"ret_{k}": logc.diff(k) for k in (1, 2, 5, 10, 20)}
    prev_close = close.shift(1)
    true_range = pd.concat([high - low, (high - prev_close).abs(), (low - prev_close).abs()], axis=1).max(axis=1)
    out["atr_norm"] = true_range.rolling(14).mean() / close
    out["hl_range"] = np.log(high / low)
    out["gap"] = np.log(f["open"] / prev_close)
    logv = np.log1p(f["volume"])
    out["volume_z"] = (logv - logv.rolling(20).mean()) / logv.rolling(20).std()
    return out


def _macd_hist(close: pd.Series, fast_span: int, slow_span: int) -> pd.Series:
    fast = close.ewm(span=fast_span, adjust=False).mean()
    slow = close.ewm(span=slow_span, adjust=False).mean()
    macd = (fast - slow) / close
    return macd - macd.ewm(span=9, adjust=False).mean()


def _bb_pctb(close: pd.Series, window: int) -> pd.Series:
    mid = close.rolling(window).mean()
    sd = close.rolling(window).std()
    return (close - (mid - 2 * sd)) / (4 * sd)


GROUP = FeatureGroup(
    name="core",
    flag=None,
    suggest=suggest,
    compute=compute,
    description="log returns (1-20 d), volatility, momentum, SMA gap, RSI, MACD histogram, Bollinger %b, ATR, range, gap, volume z-score",
)
