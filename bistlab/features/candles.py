"""TA-Lib candlestick patterns: counts of bullish, bearish and indecision signals over a lookback.

All 61 ``talib.CDL*`` functions of TA-Lib are sorted into four families (:data:`FAMILIES`):

* ``reversal`` (38): classic reversal patterns (engulfing, harami, hammer, stars, ...).
* ``continuation`` (10): continuation patterns (rising/falling three methods, tasuki gap, ...).
* ``shape`` (6): single-candle shape descriptors signed by the candle's colour (long/short line,
  marubozu, closing marubozu) and the hikkake traps.
* ``indecision`` (7): doji-like candles; TA-Lib gives them no direction (doji, long-legged doji,
  rickshaw man, dragonfly and gravestone doji always give +100; spinning top and high wave are
  signed by colour only), so they are counted apart, never as bullish or bearish.

A pattern's value at bar t (TA-Lib: +100/-100, +-80 for unconfirmed harami/engulfing, +-200 for
confirmed hikkake) becomes its sign. TA-Lib computes each bar from that bar and the bars before it
(its lookback: at most 14 bars with the default candle settings), so every feature at row t uses
bars up to and including t. Rows before the longest lookback are NaN (TA-Lib reports 0 there,
meaning "not evaluated", not "no pattern").
"""

from __future__ import annotations

import functools
import importlib
import logging
from typing import Any

import numpy as np
import optuna
import pandas as pd

from bistlab.errors import ConfigError
from bistlab.features import FeatureContext, FeatureGroup
from bistlab.data.validate import is_close_only

__all__ = [
    "GROUP",
    "DEFAULT_PARAMS",
    "FAMILIES",
    "FAMILY_CHOICES",
    "INDIVIDUAL",
    "compute",
    "suggest",
    "unavailable",
    "pattern_signals",
]

logger = logging.getLogger(__name__)

FAMILIES: dict[str, tuple[str, ...]] = {
    "reversal": (
        "CDL2CROWS", "CDL3BLACKCROWS", "CDL3INSIDE", "CDL3OUTSIDE", "CDL3STARSINSOUTH",
        "CDL3WHITESOLDIERS", "CDLABANDONEDBABY", "CDLADVANCEBLOCK", "CDLBELTHOLD", "CDLBREAKAWAY",
        "CDLCONCEALBABYSWALL", "CDLCOUNTERATTACK", "CDLDARKCLOUDCOVER", "CDLDOJISTAR", "CDLENGULFING",
        "CDLEVENINGDOJISTAR", "CDLEVENINGSTAR", "CDLHAMMER", "CDLHANGINGMAN", "CDLHARAMI",
        "CDLHARAMICROSS", "CDLHOMINGPIGEON", "CDLIDENTICAL3CROWS", "CDLINVERTEDHAMMER", "CDLKICKING",
        "CDLKICKINGBYLENGTH", "CDLLADDERBOTTOM", "CDLMATCHINGLOW", "CDLMORNINGDOJISTAR",
        "CDLMORNINGSTAR", "CDLPIERCING", "CDLSHOOTINGSTAR", "CDLSTALLEDPATTERN", "CDLSTICKSANDWICH",
        "CDLTAKURI", "CDLTRISTAR", "CDLUNIQUE3RIVER", "CDLUPSIDEGAP2CROWS",
    ),
    "continuation": (
        "CDL3LINESTRIKE", "CDLGAPSIDESIDEWHITE", "CDLINNECK", "CDLMATHOLD", "CDLONNECK",
        "CDLRISEFALL3METHODS", "CDLSEPARATINGLINES", "CDLTASUKIGAP", "CDLTHRUSTING", "CDLXSIDEGAP3METHODS",
    ),
    "shape": ("CDLCLOSINGMARUBOZU", "CDLHIKKAKE", "CDLHIKKAKEMOD", "CDLLONGLINE", "CDLMARUBOZU", "CDLSHORTLINE"),
    "indecision": (
        "CDLDOJI", "CDLDRAGONFLYDOJI", "CDLGRAVESTONEDOJI", "CDLHIGHWAVE", "CDLLONGLEGGEDDOJI",
        "CDLRICKSHAWMAN", "CDLSPINNINGTOP",
    ),
}
"""Every TA-Lib candlestick function, by family (61 in all)."""

FAMILY_CHOICES: dict[str, tuple[str, ...]] = {
    "all": FAMILIES["reversal"] + FAMILIES["continuation"] + FAMILIES["shape"],
    "patterns": FAMILIES["reversal"] + FAMILIES["continuation"],
    "reversal": FAMILIES["reversal"],
}
"""The directional patterns counted as bullish/bearish, by the ``family`` parameter's value."""

INDIVIDUAL: dict[str, str] = {
    "belthold": "CDLBELTHOLD",
    "longline": "CDLLONGLINE",
    "closingmarubozu": "CDLCLOSINGMARUBOZU",
    "spinningtop": "CDLSPINNINGTOP",
    "engulfing": "CDLENGULFING",
    "doji": "CDLDOJI",
    "hikkake": "CDLHIKKAKE",
    "harami": "CDLHARAMI",
}
"""Patterns also given a column of their own: the eight most frequent on daily index data
(S&P 500 1999-2018), fixed here so that the columns never depend on the data."""

DEFAULT_PARAMS: dict[str, Any] = {"lookback": 5, "family": "all"}


def _talib() -> Any:
    """TA-Lib, imported on first use: it wraps a native library that may be missing, and then
    only this group is :func:`unavailable` (the registry imports every group's module)."""
    return importlib.import_module("talib")


def unavailable(ctx: FeatureContext) -> str | None:
    """``None`` when the frame has open, high and low and TA-Lib can be imported, else why not
    (a close-only series, see :func:`bistlab.data.validate.is_close_only`, has no candles)."""
    if is_close_only(ctx.frame):
        return f"{ctx.symbol} is close-only (no open, high or low): candlestick patterns need all four prices"
    try:
        _talib()
    except ImportError as err:
        return f"TA-Lib (`talib`) cannot be imported: {err}"
    return None


def suggest(trial: optuna.trial.BaseTrial, horizon: int) -> dict[str, Any]:
    """Candle parameters: ``lookback`` in trading days, ``family`` of patterns counted."""
    return {
        "lookback": trial.suggest_int("candles_lookback", 1, 20),
        "family": trial.suggest_categorical("candles_family", list(FAMILY_CHOICES)),
    }


@functools.cache
def _warmup() -> int:
    """Bars TA-Lib needs before its first evaluated bar, over every pattern (14 by default)."""
    abstract = importlib.import_module("talib.abstract")
    names = [n for family in FAMILIES.values() for n in family]
    return max(int(abstract.Function(n).lookback) for n in names)


def pattern_signals(frame: pd.DataFrame, names: tuple[str, ...] | list[str]) -> dict[str, np.ndarray]:
    """The sign (-1, 0, +1, as int8) of each TA-Lib pattern in ``names`` per bar of ``frame``."""
    talib = _talib()
    o, h, l, c = (
        np.ascontiguousarray(frame[col].to_numpy(dtype="float64")) for col in ("open", "high", "low", "close")
    )
    return {name: np.sign(getattr(talib, name)(o, h, l, c)).astype("int8") for name in names}


def _checked(params: dict[str, Any]) -> tuple[int, str]:
    """``lookback`` and ``family``.

    Raises:
        ConfigError: ``lookback`` < 1 or an unknown ``family``.
    """
    p = {**DEFAULT_PARAMS, **params}
    lookback = int(p["lookback"])
    family = str(p["family"])
    if lookback < 1:
        raise ConfigError("lookback", ">= 1", lookback)
    if family not in FAMILY_CHOICES:
        raise ConfigError("family", f"one of {sorted(FAMILY_CHOICES)}", family)
    return lookback, family


def _daily_counts(frame: pd.DataFrame, directional: tuple[str, ...]) -> pd.DataFrame:
    """Per bar: bullish and bearish signals of the ``directional`` patterns, indecision candles and
    each :data:`INDIVIDUAL` pattern's sign; NaN before TA-Lib's first evaluated bar."""
    names = list(dict.fromkeys(directional + FAMILIES["indecision"] + tuple(INDIVIDUAL.values())))
    signals = pattern_signals(frame, names)
    stacked = np.vstack([signals[name] for name in directional])
    indecision = np.vstack([signals[name] != 0 for name in FAMILIES["indecision"]]).sum(axis=0)
    daily = {
        "bull": (stacked > 0).sum(axis=0).astype("float64"),
        "bear": (stacked < 0).sum(axis=0).astype("float64"),
        "indecision": indecision.astype("float64"),
        **{col: signals[name].astype("float64") for col, name in INDIVIDUAL.items()},
    }
    warm = min(_warmup(), len(frame))
    for values in daily.values():
        values[:warm] = np.nan
    return pd.DataFrame(daily, index=frame.index)


def compute(ctx: FeatureContext, params: dict[str, Any]) -> pd.DataFrame:
    """Candle features; signals summed over ``lookback`` trading days (bars t-lookback+1 .. t).

    Columns:
        ``bull``, ``bear``: bullish / bearish signals of the family's patterns over the lookback.
        ``net``: ``bull - bear``.
        ``net_today``: bullish minus bearish signals on bar t.
        ``net_decay``: exponentially decayed ``net_today`` with a half-life of ``lookback`` days.
        ``indecision``: doji-like candles over the lookback.
        one column per :data:`INDIVIDUAL` pattern: its signed signals over the lookback.
    """
    lookback, family = _checked(params)
    frame = ctx.frame
    today = _daily_counts(frame, FAMILY_CHOICES[family])
    summed = today.rolling(lookback, min_periods=lookback).sum()
    net_today = today["bull"] - today["bear"]
    out = pd.DataFrame(
        {
            "bull": summed["bull"],
            "bear": summed["bear"],
            "net": summed["bull"] - summed["bear"],
            "net_today": net_today,
            "net_decay": net_today.ewm(halflife=lookback, adjust=False, ignore_na=True).mean(),
            "indecision": summed["indecision"],
            **{col: summed[col] for col in INDIVIDUAL},
        },
        index=frame.index,
    )
    return out.astype("float64")


GROUP = FeatureGroup(
    name="candles",
    flag="enable_candles",
    suggest=suggest,
    compute=compute,
    unavailable=unavailable,
    description="TA-Lib candlestick patterns (61, by family): bullish, bearish, net and indecision signals over a lookback, decayed net signal, eight frequent patterns",
)
