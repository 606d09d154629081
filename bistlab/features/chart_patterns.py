"""Chart patterns detected algorithmically from confirmed pivots.

A *pivot high* at bar i is a high above the highs of the ``pivot_k`` bars before it and not below
those of the ``pivot_k`` bars after it (so a flat top of equal highs yields one pivot, its first
bar); a *pivot low* mirrors it. A pivot needs the ``pivot_k`` bars after it, so it is only known
at bar ``i + pivot_k``, its confirmation: features at row t use pivots with ``i + pivot_k <= t``
only, and closes up to t.

Patterns follow Lo, Mamaysky and Wang (2000, "Foundations of technical analysis") on the
sequence of confirmed extrema made alternating (a pivot high confirmed right after another pivot
high, with no low between, replaces it if higher and is ignored otherwise; lows likewise). With
``tol`` the ``tolerance`` in log units:

* double top: the last two highs within ``tol`` of each other, the low between them at least
  ``2 * tol`` below the lower one; double bottom mirrors it.
* head and shoulders: five extrema high-low-high-low-high ending at the last high, the middle
  high (head) more than ``tol`` above both shoulders, the shoulders within ``tol`` of each other
  and the two lows (the neckline) within ``tol``; inverse head and shoulders mirrors it.
* triangle: over the last five extrema, each high at most ``tol`` above the one before, each low
  at most ``tol`` below the one before, and the high-low range narrowed by more than ``tol``.

A top pattern (double top, head and shoulders) is set when its last high is confirmed and holds
until the next high is confirmed or a close rises more than ``tol`` above its highest high (the
pattern failed); bottom patterns mirror it. It is *confirmed* on the rows where it holds and the
close is beyond its neckline (the low between the tops, the mean of the two neckline lows).

Pivots are found with vectorized sliding-window extremes; the patterns by one loop over the
pivots (a few hundred per 5000 bars), never over bars times windows.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import optuna
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from bistlab.errors import ConfigError
from bistlab.features import FeatureContext, FeatureGroup
from bistlab.data.validate import is_close_only

__all__ = ["GROUP", "DEFAULT_PARAMS", "compute", "suggest", "unavailable", "find_pivots", "ATR_WINDOW"]

logger = logging.getLogger(__name__)

DEFAULT_PARAMS: dict[str, Any] = {"pivot_k": 5, "tolerance": 0.015}
ATR_WINDOW = 14
"""Average true range window, trading days."""

_NO_STATE = (0.0, 0.0, np.nan, np.nan)  # (double, head-and-shoulders, failure level, neckline)


def suggest(trial: optuna.trial.BaseTrial, horizon: int) -> dict[str, Any]:
    """Chart-pattern parameters: ``pivot_k`` in trading days, ``tolerance`` as a fraction of price."""
    return {
        "pivot_k": trial.suggest_int("chart_patterns_pivot_k", 2, 10),
        "tolerance": trial.suggest_float("chart_patterns_tolerance", 0.005, 0.03, log=True),
    }


def find_pivots(high: np.ndarray, low: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Bar indices of the pivot highs and pivot lows (see the module docstring), ascending.

    Args:
        high: highs per bar.
        low: lows per bar.
        k: bars on each side, >= 1.
    """
    n = len(high)
    if n < 2 * k + 1:
        empty = np.empty(0, dtype="int64")
        return empty, empty
    hmax = sliding_window_view(high, k).max(axis=1)  # hmax[j] = max(high[j : j + k])
    lmin = sliding_window_view(low, k).min(axis=1)
    bars = np.arange(k, n - k)
    mid_h, mid_l = high[k : n - k], low[k : n - k]
    is_high = (mid_h > hmax[: n - 2 * k]) & (mid_h >= hmax[k + 1 :])
    is_low = (mid_l < lmin[: n - 2 * k]) & (mid_l <= lmin[k + 1 :])
    return bars[is_high], bars[is_low]


def _top_state(vals: list[float], types: list[int], tol: float, sign: int) -> tuple[float, float, float, float]:
    """Double/head-and-shoulders state of the alternating extrema ending at the last one.

    ``sign`` +1 reads tops (the last extremum is a high), -1 reads bottoms: values are
    multiplied by ``sign`` in log space so one rule serves both.
    """
    m = len(vals)
    if m < 3 or types[-1] != sign:
        return _NO_STATE
    x = [sign * math.log(v) for v in vals[-5:]]  # log prices, flipped for bottoms
    e5, e4, e3 = x[-1], x[-2], x[-3]
    if abs(e5 - e3) <= tol and min(e5, e3) - e4 >= 2 * tol:
        level = max(e5, e3)
        return 1.0, 0.0, sign * level, sign * e4
    if len(x) == 5:
        e1, e2 = x[0], x[1]
        if e3 - max(e1, e5) > tol and abs(e1 - e5) <= tol and abs(e2 - e4) <= tol:
            return 0.0, 1.0, sign * e3, sign * 0.5 * (e2 + e4)
    return _NO_STATE


def _triangle(vals: list[float], types: list[int], tol: float) -> float:
    if len(vals) < 5:
        return 0.0
    x = [math.log(v) for v in vals[-5:]]
    t = types[-5:]
    highs = [v for v, s in zip(x, t) if s == 1]
    lows = [v for v, s in zip(x, t) if s == -1]
    falling_highs = all(b - a <= tol for a, b in zip(highs, highs[1:]))
    rising_lows = all(a - b <= tol for a, b in zip(lows, lows[1:]))
    narrowed = (highs[0] - lows[0]) - (highs[-1] - lows[-1]) > tol
    return 1.0 if falling_highs and rising_lows and narrowed else 0.0


_EVENT_COLUMNS = (
    "conf", "tri", "dtop", "hs", "top_level", "top_neck", "top_since",
    "dbot", "ihs", "bot_level", "bot_neck", "bot_since",
)
_EXTREMA_KEPT = 8  # alternating extrema remembered (patterns read the last five)


def _pivots_in_order(
    high: np.ndarray, low: np.ndarray, ph: np.ndarray, pl: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pivot by bar, a high before a low on the same bar: bars, types (+1 high, -1 low), values."""
    bars = np.concatenate([ph, pl])
    types = np.concatenate([np.ones(len(ph), dtype="int64"), -np.ones(len(pl), dtype="int64")])
    order = np.lexsort((-types, bars))
    bars, types = bars[order], types[order]
    return bars, types, np.where(types == 1, high[bars], low[bars])


def _alternate(ext_vals: list[float], ext_types: list[int], typ: int, val: float) -> bool:
    """Add one pivot to the alternating extrema, in place; ``False`` when it changes nothing."""
    if ext_types and ext_types[-1] == typ:
        if (typ == 1 and val > ext_vals[-1]) or (typ == -1 and val < ext_vals[-1]):
            ext_vals[-1] = val
            return True
        return False  # a lesser repeat of the same kind: the alternating sequence is unchanged
    ext_vals.append(val)
    ext_types.append(typ)
    if len(ext_vals) > _EXTREMA_KEPT:
        del ext_vals[0], ext_types[0]
    return True


def _pattern_events(
    high: np.ndarray, low: np.ndarray, ph: np.ndarray, pl: np.ndarray, *, k: int, tol: float
) -> pd.DataFrame:
    """Pattern state after each confirmed pivot, one row per pivot in confirmation order.

    Columns: ``conf`` (confirmation bar), ``tri``, top state (``dtop``, ``hs``, ``top_level``,
    ``top_neck``, ``top_since``) and bottom state (``dbot``, ``ihs``, ``bot_level``,
    ``bot_neck``, ``bot_since``); levels are log prices, ``*_since`` the confirmation bar of the
    pivot that set the state.
    """
    bars, types, values = _pivots_in_order(high, low, ph, pl)
    ext_vals: list[float] = []
    ext_types: list[int] = []
    top = (*_NO_STATE, -1.0)
    bot = (*_NO_STATE, -1.0)
    rows: list[tuple[float, ...]] = []
    for bar, typ, val in zip(bars.tolist(), types.tolist(), values.tolist()):
        if not _alternate(ext_vals, ext_types, typ, val):
            continue
        conf = float(bar + k)
        if typ == 1:
            top = (*_top_state(ext_vals, ext_types, tol, 1), conf)
        else:
            bot = (*_top_state(ext_vals, ext_types, tol, -1), conf)
        rows.append((conf, _triangle(ext_vals, ext_types, tol), *top, *bot))
    columns = list(_EVENT_COLUMNS)
    return pd.DataFrame(np.array(rows, dtype="float64").reshape(-1, len(columns)), columns=columns)


def _last_before(conf: np.ndarray, n: int) -> np.ndarray:
    """For each row t, the position of the last entry of ascending ``conf`` with conf <= t (-1: none)."""
    return np.searchsorted(conf, np.arange(n), side="right") - 1


def _take(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    out = np.full(len(pos), np.nan)
    ok = pos >= 0
    out[ok] = values[pos[ok]]
    return out


def _checked(params: dict[str, Any]) -> tuple[int, float]:
    """``pivot_k`` and the tolerance in log units.

    Raises:
        ConfigError: ``pivot_k`` < 1 or ``tolerance`` outside (0, 1).
    """
    p = {**DEFAULT_PARAMS, **params}
    k, tolerance = int(p["pivot_k"]), float(p["tolerance"])
    if k < 1:
        raise ConfigError("pivot_k", ">= 1", k)
    if not 0.0 < tolerance < 1.0:
        raise ConfigError("tolerance", "in (0, 1)", tolerance)
    return k, math.log1p(tolerance)


def _atr(frame: pd.DataFrame) -> np.ndarray:
    """The :data:`ATR_WINDOW`-day average true range, NaN where not positive."""
    prev_close = frame["close"].astype("float64").shift(1)
    true_range = pd.concat(
        [frame["high"] - frame["low"], (frame["high"] - prev_close).abs(), (frame["low"] - prev_close).abs()], axis=1
    ).max(axis=1)
    atr = true_range.rolling(ATR_WINDOW).mean().to_numpy()
    return np.where(atr > 0, atr, np.nan)


def _pivot_features(frame: pd.DataFrame, ph: np.ndarray, pl: np.ndarray, *, k: int) -> dict[str, np.ndarray]:
    """Distances to, bars since and breakouts of the last confirmed pivot high and low."""
    n = len(frame)
    high = frame["high"].to_numpy(dtype="float64")
    low = frame["low"].to_numpy(dtype="float64")
    close = frame["close"].astype("float64").to_numpy()
    logc = np.log(close)
    rows = np.arange(n, dtype="float64")
    pos_h = _last_before(ph + k, n)
    pos_l = _last_before(pl + k, n)
    last_high = _take(high[ph], pos_h)
    last_low = _take(low[pl], pos_l)
    atr = _atr(frame)
    with np.errstate(invalid="ignore"):
        return {
            "dist_high": np.log(last_high) - logc,
            "dist_low": logc - np.log(last_low),
            "dist_high_atr": (last_high - close) / atr,
            "dist_low_atr": (close - last_low) / atr,
            "bars_since_high": rows - _take(ph.astype("float64"), pos_h),
            "bars_since_low": rows - _take(pl.astype("float64"), pos_l),
            "breakout_up": np.where(np.isnan(last_high), np.nan, (close > last_high).astype("float64")),
            "breakout_down": np.where(np.isnan(last_low), np.nan, (close < last_low).astype("float64")),
        }


def _pattern_features(events: pd.DataFrame, logc: np.ndarray, *, tol: float) -> dict[str, np.ndarray]:
    """The pattern flags per row from the pattern state after the last confirmed pivot."""
    pos_e = _last_before(events["conf"].to_numpy(), len(logc))
    state = {c: _take(events[c].to_numpy(), pos_e) for c in events.columns if c != "conf"}
    # running extreme of the close since the pattern was set: a top fails once a close exceeds it
    top_since = pd.Series(state["top_since"]).fillna(-1.0)
    bot_since = pd.Series(state["bot_since"]).fillna(-1.0)
    run_max = pd.Series(logc).groupby(top_since.to_numpy()).cummax().to_numpy()
    run_min = pd.Series(logc).groupby(bot_since.to_numpy()).cummin().to_numpy()
    with np.errstate(invalid="ignore"):
        top_set = (state["dtop"] == 1) | (state["hs"] == 1)
        bot_set = (state["dbot"] == 1) | (state["ihs"] == 1)
        top_alive = top_set & (run_max <= state["top_level"] + tol)
        bot_alive = bot_set & (run_min >= state["bot_level"] - tol)
        return {
            "double_top": (top_alive & (state["dtop"] == 1)).astype("float64"),
            "double_bottom": (bot_alive & (state["dbot"] == 1)).astype("float64"),
            "head_shoulders": (top_alive & (state["hs"] == 1)).astype("float64"),
            "inv_head_shoulders": (bot_alive & (state["ihs"] == 1)).astype("float64"),
            "triangle": np.nan_to_num(state["tri"]),
            "top_confirmed": (top_alive & (logc < state["top_neck"])).astype("float64"),
            "bottom_confirmed": (bot_alive & (logc > state["bot_neck"])).astype("float64"),
        }


def compute(ctx: FeatureContext, params: dict[str, Any]) -> pd.DataFrame:
    """Chart-pattern features from confirmed pivots; distances in log units or ATRs.

    Columns:
        ``dist_high``, ``dist_low``: ``log(last pivot high / close)`` and ``log(close / last pivot low)``.
        ``dist_high_atr``, ``dist_low_atr``: the same in price units over the 14-day ATR.
        ``bars_since_high``, ``bars_since_low``: trading days since the last pivot's bar.
        ``breakout_up``, ``breakout_down``: 1 when the close is above the last pivot high / below
        the last pivot low, else 0.
        ``double_top``, ``double_bottom``, ``head_shoulders``, ``inv_head_shoulders``, ``triangle``:
        1 while the pattern holds, else 0.
        ``top_confirmed``, ``bottom_confirmed``: 1 while a top (bottom) pattern holds and the
        close is beyond its neckline.
        Distances and breakouts are NaN until the first pivot of their kind is confirmed.
    """
    k, tol = _checked(params)
    frame = ctx.frame
    high = frame["high"].to_numpy(dtype="float64")
    low = frame["low"].to_numpy(dtype="float64")
    ph, pl = find_pivots(high, low, k)
    events = _pattern_events(high, low, ph, pl, k=k, tol=tol)
    logc = np.log(frame["close"].astype("float64").to_numpy())
    out = {**_pivot_features(frame, ph, pl, k=k), **_pattern_features(events, logc, tol=tol)}
    return pd.DataFrame(out, index=frame.index).astype("float64")


def unavailable(ctx: FeatureContext) -> str | None:
    """Why the group cannot run for ``ctx`` (a close-only series: its pivots are highs and lows, see
    :func:`bistlab.data.validate.is_close_only`), else ``None``."""
    if is_close_only(ctx.frame):
        return f"{ctx.symbol} is close-only (no high or low): chart-pattern pivots and the ATR need highs and lows"
    return None


GROUP = FeatureGroup(
    name="chart_patterns",
    flag="enable_chart_patterns",
    suggest=suggest,
    compute=compute,
    unavailable=unavailable,
    description="patterns from confirmed pivots: double top/bottom, head and shoulders (and inverse), triangle, neckline breaks, breakouts and distances to the last pivot high/low",
)
