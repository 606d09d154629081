"""The LSTM job's verdict (bistlab's usable rule on the holdout DirHit of its BUY/SELL calls,
baselines on the same rows) and the F1's block-bootstrap interval."""

from __future__ import annotations

import numpy as np
import pytest

from bistlab.evaluation.dataset import prepare_task
from bistlab.lstm.barriers import BUY, HOLD, SELL
from bistlab.lstm.metrics import LSTM_RULE, f1_interval, holdout_verdict, verdict_text
from bistlab.lstm.samples import prepare_data
from bistlab.data.price_frames import fingerprint
from tests.conftest import _market

H = 5


@pytest.fixture(scope="module")
def data():
    tasks = [prepare_task(s, f, horizon=H, fingerprint=fingerprint(f)) for s, f in (("AAA", _market(900, seed=1)), ("BBB", _market(900, seed=2)))]
    return prepare_data(tasks, sequence_length=10, n_splits=3)


def _calls(data, windows, *, right: bool) -> np.ndarray:
    realised = data.realised(windows)
    sign = np.sign(realised) if right else -np.sign(realised)
    return np.where(sign > 0, BUY, np.where(sign < 0, SELL, HOLD))


@pytest.mark.parametrize("right", [True, False])
def test_the_verdict_judges_the_calls_on_the_holdout_beside_both_baselines(data, right):
    dev, hold = data.final()
    out = holdout_verdict(data, hold, _calls(data, hold, right=right), dev, thr=0.005)
    v, m, figs = out["verdict"], out["metrics"], out["figures"]
    assert v["rule"] == LSTM_RULE and v["usable"] is right
    assert figs["model"]["value"] == (100.0 if right else 0.0)
    # the effective count is each symbol's, summed: never more than h-day windows of the two holdouts
    assert m["dirhit_n_eff"] <= sum(-(-(s.plan.holdout_size + H - 1) // H) for s in data.symbols)
    assert figs["majority"]["count"] == figs["model"]["count"] == m["mask_count"]
    assert out["edge"]["baseline"] == v["best_baseline"] and out["edge"]["low"] <= out["edge"]["value"] <= out["edge"]["high"]
    assert verdict_text({**out, "verdict": v}).startswith("usable" if right else "not usable")


def test_hold_everywhere_has_no_verdict_but_says_why(data):
    dev, hold = data.final()
    out = holdout_verdict(data, hold, np.full(len(hold), HOLD), dev, thr=0.005)
    assert out["verdict"]["usable"] is False and "(n=0)" in verdict_text(out)


@pytest.mark.parametrize("horizon", [1, 5, 20])
def test_f1_interval_contains_the_f1_and_uses_blocks_of_at_least_h_dates(horizon):
    rng = np.random.default_rng(0)
    dates = np.repeat(np.arange(200), 3)  # three symbols per date
    y = rng.integers(0, 3, dates.size)
    noisy = np.where(rng.random(dates.size) < 0.5, y, rng.integers(0, 3, dates.size))
    f = f1_interval(y, noisy, dates, horizon=horizon, n_boot=200)
    assert f["low"] <= f["value"] <= f["high"] and f["block"] >= horizon and f["n_dates"] == 200
    assert f["high"] - f["low"] > 0.02
    perfect = f1_interval(y, y, dates, horizon=horizon, n_boot=50)
    assert perfect["value"] == perfect["low"] == perfect["high"] == pytest.approx(1.0)


def test_f1_interval_of_too_few_dates_says_so():
    f = f1_interval(np.array([0, 1, 2]), np.array([0, 1, 1]), np.array([1, 2, 3]), horizon=5)
    assert f["low"] is None and "too few dates" in f["method"]
