"""External / market features from the other series of the price store.

The *market* is the equal-weighted average of the peers' daily log returns per date: on date d a
peer contributes ``log(close_d / close_prev)`` where ``close_prev`` is the peer's own previous
row (so a peer contributes on d only if it has a row on d and a row before it). Its breadth is
the fraction of the contributing peers whose return on d is positive.

Alignment to the symbol's rows, without looking ahead:

* The market is accumulated into a log index ``M`` on the union of the peers' dates
  (``M_d = sum of market returns on dates <= d``). A row dated D reads ``M_D`` and the breadth of
  D by exact date only: a date on which no peer traded gives NaN, never a neighbouring (later or
  earlier) value.
* Market returns over the symbol's rows are differences of ``M`` between the symbol's own rows,
  so the symbol's return and the market's return always span the same dates (when the symbol
  skipped a session the peers traded, both span it). Where the calendars agree this is exactly
  the market's daily return.

Every feature at row t therefore reads peers' rows dated up to and including t's date only.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd

from bistlab.errors import ConfigError
from bistlab.features import FeatureContext, FeatureGroup

__all__ = ["GROUP", "DEFAULT_PARAMS", "compute", "suggest", "unavailable", "market_series"]

logger = logging.getLogger(__name__)

DEFAULT_PARAMS: dict[str, Any] = {"rs_window": 20, "beta_window": 60}
_NS_PER_DAY = 86_400 * 10**9
_MARKET_CACHE: OrderedDict[tuple[int, str], tuple[Mapping[str, pd.DataFrame], pd.DataFrame]] = OrderedDict()
_MARKET_CACHE_SIZE = 4
_MARKET_LOCK = threading.Lock()


def suggest(trial: optuna.trial.BaseTrial, horizon: int) -> dict[str, Any]:
    """External parameters, windows in trading days (rows of the symbol)."""
    return {
        "rs_window": trial.suggest_int("external_rs_window", 5, 60),
        "beta_window": trial.suggest_int("external_beta_window", 20, 120),
    }


def unavailable(ctx: FeatureContext) -> str | None:
    """Why the group cannot run for ``ctx`` (no peers, or none overlapping its dates), else ``None``."""
    if not ctx.peers:
        return "no other series in the price store"
    dates = ctx.frame.index
    if not any(len(peer.index.intersection(dates)) for peer in ctx.peers.values()):
        return f"no other series in the price store shares a date with {ctx.symbol}"
    return None


def _day_numbers(index: pd.DatetimeIndex) -> np.ndarray:
    """Whole days since the epoch of each date (clean frames are at midnight)."""
    values = index.asi8 if index.unit == "ns" else index.as_unit("ns").asi8
    return values // _NS_PER_DAY


def _peer_returns(peers: Mapping[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    """Every peer row's day number and log return since the peer's previous row (NaN on its
    first), peer by peer in symbol order."""
    day_parts: list[np.ndarray] = []
    ret_parts: list[np.ndarray] = []
    for _, peer in sorted(peers.items()):
        if len(peer) == 0:
            continue
        logc = np.log(peer["close"].to_numpy(dtype="float64"))
        day_parts.append(_day_numbers(peer.index))
        ret_parts.append(np.concatenate([[np.nan], np.diff(logc)]))
    if not day_parts:
        return np.empty(0, dtype="int64"), np.empty(0, dtype="float64")
    return np.concatenate(day_parts), np.concatenate(ret_parts)


def market_series(peers: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The equal-weighted market of ``peers``, one row per date any peer has.

    Args:
        peers: clean OHLCV frames by symbol (DatetimeIndex at midnight, oldest first).

    Returns:
        A frame indexed by the sorted union of the peers' dates with float64 columns ``ret``
        (mean daily log return of the peers contributing on that date, NaN if none does),
        ``breadth`` (fraction of them with a positive return), ``n`` (how many contribute) and
        ``index`` (cumulative sum of ``ret``, NaN treated as 0: a log index).
    """
    days, rets = _peer_returns(peers)
    if len(days) == 0:
        empty = pd.DatetimeIndex([], dtype="datetime64[ns]", name="date")
        return pd.DataFrame({c: np.empty(0, dtype="float64") for c in ("ret", "breadth", "n", "index")}, index=empty)
    first = int(days.min())
    slot = days - first
    size = int(slot.max()) + 1
    present = np.bincount(slot, minlength=size) > 0
    ok = np.isfinite(rets)
    slot_ok, rets_ok = slot[ok], rets[ok]
    # bincount adds in input order (peer by peer), so a date's sum never depends on later dates
    total = np.bincount(slot_ok, weights=rets_ok, minlength=size)[present]
    count = np.bincount(slot_ok, minlength=size)[present].astype("float64")
    up = np.bincount(slot_ok[rets_ok > 0], minlength=size)[present].astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.where(count > 0, total / count, np.nan)
        breadth = np.where(count > 0, up / count, np.nan)
    index = np.cumsum(np.nan_to_num(ret, nan=0.0))
    dates = (np.flatnonzero(present) + first) * _NS_PER_DAY
    return pd.DataFrame(
        {"ret": ret, "breadth": breadth, "n": count, "index": index},
        index=pd.DatetimeIndex(dates.astype("datetime64[ns]"), name="date"),
    )


def _market_for(ctx: FeatureContext) -> pd.DataFrame:
    """:func:`market_series` of ``ctx.peers``, memoized on the identity of that mapping.

    The market does not depend on the group's parameters, and building it reads every peer row
    (about 0.14 s for 500 peers of 5000 rows), so it is built once per task rather than once per
    trial. The entry is reused only for the very same ``peers`` object with the same
    fingerprint (a context's peers are not mutated after it is built).
    """
    key = (id(ctx.peers), ctx.fingerprint)
    with _MARKET_LOCK:
        entry = _MARKET_CACHE.get(key)
        if entry is not None and entry[0] is ctx.peers:
            _MARKET_CACHE.move_to_end(key)
            return entry[1]
    market = market_series(ctx.peers)
    with _MARKET_LOCK:
        _MARKET_CACHE[key] = (ctx.peers, market)
        while len(_MARKET_CACHE) > _MARKET_CACHE_SIZE:
            _MARKET_CACHE.popitem(last=False)
    return market


def _windows(params: dict[str, Any]) -> tuple[int, int]:
    """``rs_window`` and ``beta_window``.

    Raises:
        ConfigError: ``rs_window`` < 1 or ``beta_window`` < 3.
    """
    p = {**DEFAULT_PARAMS, **params}
    rs_window, beta_window = int(p["rs_window"]), int(p["beta_window"])
    if rs_window < 1:
        raise ConfigError("rs_window", ">= 1", rs_window)
    if beta_window < 3:
        raise ConfigError("beta_window", ">= 3", beta_window)
    return rs_window, beta_window


def _co_movement(ret1: pd.Series, mkt1: pd.Series, *, beta_window: int) -> dict[str, pd.Series]:
    """Rolling ``beta``, ``corr``, ``resid_ret`` and ``mkt_vol`` over ``beta_window`` rows (at least 3/4 present)."""
    min_periods = max(3, (3 * beta_window) // 4)
    x = mkt1.where(ret1.notna())
    y = ret1.where(mkt1.notna())
    cov = y.rolling(beta_window, min_periods=min_periods).cov(x)
    var = x.rolling(beta_window, min_periods=min_periods).var()
    beta = cov / var.where(var > 0)
    corr = y.rolling(beta_window, min_periods=min_periods).corr(x)
    return {
        "beta": beta,
        "corr": corr.clip(-1.0, 1.0),
        "resid_ret": ret1 - beta * mkt1,
        "mkt_vol": mkt1.rolling(beta_window, min_periods=min_periods).std(),
    }


def compute(ctx: FeatureContext, params: dict[str, Any]) -> pd.DataFrame:
    """Market features aligned to ``ctx.frame``'s rows; log returns, windows in trading days.

    Columns:
        ``mkt_ret_1``: market log return since the symbol's previous row.
        ``mkt_ret_n``: market log return over the last ``rs_window`` rows.
        ``rel_strength``: the symbol's ``rs_window``-row log return minus ``mkt_ret_n``.
        ``beta``, ``corr``: rolling beta and correlation of the symbol's 1-row log returns on
        ``mkt_ret_1`` over ``beta_window`` rows (at least 3/4 of them present).
        ``resid_ret``: the symbol's 1-row log return minus ``beta * mkt_ret_1``.
        ``mkt_vol``: rolling standard deviation of ``mkt_ret_1`` over ``beta_window`` rows.
        ``breadth``: fraction of peers up on the row's date.
        ``breadth_mean``: mean of ``breadth`` over ``rs_window`` rows.
    """
    rs_window, beta_window = _windows(params)
    frame = ctx.frame
    aligned = _market_for(ctx).reindex(frame.index)  # exact dates only: a date without peers is NaN
    m_index = aligned["index"]
    logc = np.log(frame["close"])
    ret1 = logc.diff()
    mkt1 = m_index.diff()
    mkt_n = m_index.diff(rs_window)
    breadth = aligned["breadth"]
    out = {
        "mkt_ret_1": mkt1,
        "mkt_ret_n": mkt_n,
        "rel_strength": logc.diff(rs_window) - mkt_n,
        **_co_movement(ret1, mkt1, beta_window=beta_window),
        "breadth": breadth,
        "breadth_mean": breadth.rolling(rs_window, min_periods=1).mean(),
    }
    result = pd.DataFrame(out, index=frame.index).astype("float64")
    return result.replace([np.inf, -np.inf], np.nan)


GROUP = FeatureGroup(
    name="external",
    flag="enable_external",
    suggest=suggest,
    compute=compute,
    unavailable=unavailable,
    description="equal-weighted market of the other stored series: market return (1 d, n d), relative strength, rolling beta and correlation, residual return, market volatility, breadth",
)
