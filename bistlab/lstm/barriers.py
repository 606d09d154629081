"""Triple-barrier labels (DESIGN.md "The LSTM hyperopt module").

The label at row t looks at the closes of rows t+1 .. t+h (h = the horizon in trading days, the
vertical barrier):

- **BUY** (2) if the close rises by ``take_profit`` (``close[t+k] / close[t] - 1 >= take_profit``)
  at some k before it falls by ``stop_loss`` (``close[t+k] / close[t] - 1 <= -stop_loss``);
- **SELL** (0) if it falls by ``stop_loss`` first;
- otherwise (neither barrier touched within h rows) the sign of the h-day log return
  ``log(close[t+h] / close[t])`` if its size exceeds ``threshold`` (BUY if positive, SELL if
  negative), else **HOLD** (1).

Barriers are checked on closes only: the order of a day's high and low is unknown. Both barriers
cannot be touched by the same close (take_profit and stop_loss are positive). The last h rows have
no full future and are labelled :data:`UNLABELLED` (-1).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bistlab.errors import ConfigError

__all__ = ["SELL", "HOLD", "BUY", "UNLABELLED", "CLASS_NAMES", "N_CLASSES", "triple_barrier_labels", "signed_calls"]

SELL = 0
HOLD = 1
BUY = 2
UNLABELLED = -1
N_CLASSES = 3
CLASS_NAMES: tuple[str, ...] = ("SELL", "HOLD", "BUY")


def _check(horizon: int, take_profit: float, stop_loss: float, threshold: float) -> None:
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ConfigError("horizon", "a positive whole number of trading days", horizon)
    if not take_profit > 0:
        raise ConfigError("take_profit", "a positive fraction of the close", take_profit)
    if not 0 < stop_loss < 1:
        raise ConfigError("stop_loss", "a fraction of the close between 0 and 1", stop_loss)
    if not threshold >= 0:
        raise ConfigError("threshold", "a log return >= 0", threshold)


def triple_barrier_labels(
    close: np.ndarray,
    *,
    horizon: int,
    take_profit: float,
    stop_loss: float,
    threshold: float,
) -> np.ndarray:
    """Triple-barrier label of every row of one symbol (see the module docstring).

    Args:
        close: closing prices of one symbol, one row per trading day, oldest first.
        horizon: h, trading days: the vertical barrier.
        take_profit: upper barrier as a simple return (0.03 = +3 %).
        stop_loss: lower barrier as a simple return (0.03 = -3 %).
        threshold: |h-day log return| above which an untouched path is BUY or SELL.

    Returns:
        int64 labels SELL=0, HOLD=1, BUY=2; the last ``horizon`` rows are UNLABELLED (-1).
    """
    _check(horizon, take_profit, stop_loss, threshold)
    c = np.asarray(close, dtype=float)
    n = c.size
    out = np.full(n, UNLABELLED, dtype=np.int64)
    if n <= horizon:
        return out
    future = sliding_window_view(c[1:], horizon)[: n - horizon]  # row t: closes t+1 .. t+h
    ratio = future / c[: n - horizon, None] - 1.0
    never = horizon + 1
    up_hit = ratio >= take_profit
    down_hit = ratio <= -stop_loss
    first_up = np.where(up_hit.any(axis=1), up_hit.argmax(axis=1), never)
    first_down = np.where(down_hit.any(axis=1), down_hit.argmax(axis=1), never)
    final = np.log(c[horizon:] / c[: n - horizon])
    labels = np.where(final > threshold, BUY, np.where(final < -threshold, SELL, HOLD))
    labels = np.where(first_up < first_down, BUY, np.where(first_down < first_up, SELL, labels))
    out[: n - horizon] = labels
    return out


def signed_calls(classes: np.ndarray) -> np.ndarray:
    """Class predictions as directional calls: BUY = +1, SELL = -1, HOLD = 0 (no call)."""
    c = np.asarray(classes)
    return np.where(c == BUY, 1.0, np.where(c == SELL, -1.0, 0.0))
