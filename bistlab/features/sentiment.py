"""Sentiment features from the optional ``sentiment`` table of the price store.

Timing: a score dated d may be published after the close of d (news scored overnight, a
sentiment model run after hours), so a row dated D uses only scores dated **strictly before**
D. The score of the row's own date is first used on the next row. This costs at most one day of
freshness and never lets a score computed after the close leak into the row it would predict.

The ``window`` counts the symbol's trading days: the scores in row t's window are those that
became usable during the last ``window`` rows, i.e. dated in ``[date[t - window], date[t])``
(weekend and holiday scores included, each counted on the next trading day).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import optuna
import pandas as pd

from bistlab.errors import ConfigError, DataError
from bistlab.features import FeatureContext, FeatureGroup

__all__ = ["GROUP", "DEFAULT_PARAMS", "compute", "suggest", "unavailable"]

logger = logging.getLogger(__name__)

DEFAULT_PARAMS: dict[str, Any] = {"window": 20}
_NS_PER_DAY = 86_400 * 10**9


def suggest(trial: optuna.trial.BaseTrial, horizon: int) -> dict[str, Any]:
    """Sentiment parameters, ``window`` in trading days."""
    return {"window": trial.suggest_int("sentiment_window", 3, 60, log=True)}


def unavailable(ctx: FeatureContext) -> str | None:
    """Why the group cannot run: no sentiment table, or no scores for this symbol; else ``None``."""
    if ctx.sentiment is None:
        return "no sentiment table in the price store"
    if "score" not in ctx.sentiment.columns:
        return f"the sentiment rows of {ctx.symbol} have no `score` column"
    if not np.isfinite(ctx.sentiment["score"].to_numpy(dtype="float64")).any():
        return f"the sentiment table has no scores for {ctx.symbol}"
    return None


def _scores(sentiment: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Finite scores sorted by date (stable): dates as int64 ns, scores as float64."""
    if not isinstance(sentiment.index, pd.DatetimeIndex):
        raise DataError(f"`sentiment.index` must be a DatetimeIndex but got {type(sentiment.index).__name__}")
    dates = sentiment.index.as_unit("ns").asi8
    scores = sentiment["score"].to_numpy(dtype="float64")
    ok = np.isfinite(scores) & (dates != np.iinfo("int64").min)
    dates, scores = dates[ok], scores[ok]
    order = np.argsort(dates, kind="stable")
    return dates[order], scores[order]


def _window(params: dict[str, Any]) -> int:
    """``window``.

    Raises:
        ConfigError: ``window`` < 1.
    """
    window = int({**DEFAULT_PARAMS, **params}["window"])
    if window < 1:
        raise ConfigError("window", ">= 1", window)
    return window


def _latest(row_dates: np.ndarray, dates: np.ndarray, scores: np.ndarray, usable: np.ndarray) -> dict[str, np.ndarray]:
    """``last`` score usable at each row and ``days_since`` its date."""
    n = len(row_dates)
    has_last = usable > 0
    last = np.full(n, np.nan)
    last[has_last] = scores[usable[has_last] - 1]
    days_since = np.full(n, np.nan)
    days_since[has_last] = (row_dates[has_last] - dates[usable[has_last] - 1]) / _NS_PER_DAY
    return {"last": last, "days_since": days_since}


def _in_window(scores: np.ndarray, usable: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """``mean`` and ``count`` of the scores that became usable during the last ``window`` rows."""
    n = len(usable)
    cums = np.concatenate([[0.0], np.cumsum(scores)])
    count = np.full(n, np.nan)
    mean = np.full(n, np.nan)
    if n > window:
        end, start = usable[window:], usable[:-window]
        cnt = (end - start).astype("float64")
        total = cums[end] - cums[start]
        count[window:] = cnt
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[window:] = np.where(cnt > 0, total / cnt, np.nan)
    return {"mean": mean, "count": count}


def compute(ctx: FeatureContext, params: dict[str, Any]) -> pd.DataFrame:
    """Sentiment features at each row from scores dated strictly before the row's date.

    Columns:
        ``last``: the latest usable score.
        ``mean``: mean of the scores in the window (NaN when there are none).
        ``count``: scores in the window.
        ``days_since``: calendar days from the latest usable score's date to the row's date (>= 1).
        ``last_minus_mean``: ``last - mean``.
        Before the first usable score (and for ``mean``/``count``, the first ``window`` rows)
        the values are NaN.
    """
    window = _window(params)
    frame = ctx.frame
    if ctx.sentiment is None:
        dates, scores = np.empty(0, dtype="int64"), np.empty(0, dtype="float64")
    else:
        dates, scores = _scores(ctx.sentiment)
    row_dates = frame.index.as_unit("ns").asi8
    usable = np.searchsorted(dates, row_dates, side="left")  # scores dated < row date
    latest = _latest(row_dates, dates, scores, usable)
    windowed = _in_window(scores, usable, window)
    out = {
        "last": latest["last"],
        "mean": windowed["mean"],
        "count": windowed["count"],
        "days_since": latest["days_since"],
        "last_minus_mean": latest["last"] - windowed["mean"],
    }
    return pd.DataFrame(out, index=frame.index).astype("float64")


GROUP = FeatureGroup(
    name="sentiment",
    flag="enable_sentiment",
    suggest=suggest,
    compute=compute,
    unavailable=unavailable,
    description="scores of the optional sentiment table, dated before the row: last score, window mean and count, days since the last score",
)
