"""Triple-barrier labels on hand-built price paths."""

from __future__ import annotations

import numpy as np
import pytest

from bistlab.errors import ConfigError
from bistlab.lstm.barriers import BUY, HOLD, SELL, UNLABELLED, signed_calls, triple_barrier_labels


def _label(path: list[float], **kw) -> int:
    args = {"horizon": len(path) - 1, "take_profit": 0.03, "stop_loss": 0.02, "threshold": 0.005, **kw}
    return int(triple_barrier_labels(np.array(path), **args)[0])


@pytest.mark.parametrize(
    ("path", "expected", "why"),
    [
        ([100, 101, 103.5, 97, 100], BUY, "take-profit touched on day 2, before the stop-loss on day 3"),
        ([100, 99, 97.9, 104, 105], SELL, "stop-loss touched on day 2, before the take-profit on day 3"),
        ([100, 100.5, 101, 101.2, 101.0], BUY, "no barrier: +1.0 % log return above the threshold"),
        ([100, 99.5, 99.2, 99.4, 99.0], SELL, "no barrier: -1.0 % log return below minus the threshold"),
        ([100, 101, 99, 100.2, 100.3], HOLD, "no barrier: +0.3 % log return inside the threshold"),
        ([100, 102.9, 98.1, 102.99, 100.2], HOLD, "near misses on both sides, final move inside the threshold"),
        ([100, 103, 100, 100, 100], BUY, "a touch exactly at the take-profit counts"),
        ([100, 100, 100, 100, 98], SELL, "a touch exactly at the stop-loss on the vertical barrier counts"),
    ],
)
def test_label_of_a_hand_built_path(path, expected, why):
    assert _label(path) == expected, why


def test_barrier_beyond_the_horizon_is_not_seen():
    path = [100, 100.2, 100.1, 100.3, 110]  # the jump comes on day 4, after a horizon of 3
    assert int(triple_barrier_labels(np.array(path), horizon=3, take_profit=0.03, stop_loss=0.02, threshold=0.005)[0]) == HOLD


def test_last_h_rows_are_unlabelled_and_every_other_row_is_a_class():
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 50)))
    y = triple_barrier_labels(close, horizon=5, take_profit=0.02, stop_loss=0.02, threshold=0.003)
    assert (y[-5:] == UNLABELLED).all()
    assert set(np.unique(y[:-5])) <= {SELL, HOLD, BUY}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_labels_equal_a_plain_loop(seed):
    close = 50 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.015, 300)))
    h, tp, sl, thr = 7, 0.025, 0.02, 0.004
    expected = []
    for t in range(len(close) - h):
        label = None
        for k in range(1, h + 1):
            r = close[t + k] / close[t] - 1
            if r >= tp:
                label = BUY
                break
            if r <= -sl:
                label = SELL
                break
        if label is None:
            final = np.log(close[t + h] / close[t])
            label = BUY if final > thr else SELL if final < -thr else HOLD
        expected.append(label)
    got = triple_barrier_labels(close, horizon=h, take_profit=tp, stop_loss=sl, threshold=thr)
    assert got[: len(expected)].tolist() == expected


@pytest.mark.parametrize(("field", "kw"), [("horizon", {"horizon": 0}), ("take_profit", {"take_profit": 0.0}), ("stop_loss", {"stop_loss": 1.5}), ("threshold", {"threshold": -0.1})])
def test_invalid_barrier_settings_name_the_field(field, kw):
    with pytest.raises(ConfigError, match=f"`{field}` must be"):
        triple_barrier_labels(np.ones(20), **{"horizon": 3, "take_profit": 0.03, "stop_loss": 0.02, "threshold": 0.005, **kw})


def test_signed_calls():
    assert signed_calls(np.array([SELL, HOLD, BUY])).tolist() == [-1.0, 0.0, 1.0]
