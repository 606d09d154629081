"""Labels, the holdout plan and the purged walk-forward splits (DESIGN.md "Definitions")."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bistlab.config import EvalSettings
from bistlab.errors import ConfigError, DataError, InsufficientDataError
from bistlab.evaluation.labels import forward_log_return, past_log_return
from bistlab.data.splits import PurgedWalkForward, plan_holdout

CLOSES = [100.0, 110.0, 99.0, 121.0]
NAN = float("nan")


def _closes() -> pd.Series:
    return pd.Series(CLOSES, index=pd.bdate_range("2024-01-02", periods=4, name="date"))


# --- labels -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("horizon", "expected"),
    [
        # h=1: log(110/100), log(99/110), log(121/99), no future for the last row
        (1, [math.log(1.1), math.log(0.9), math.log(121 / 99), NAN]),
        # h=2: log(99/100), log(121/110), the last two rows have no full future
        (2, [math.log(0.99), math.log(1.1), NAN, NAN]),
        # h=4 >= len: nothing can be labelled
        (4, [NAN, NAN, NAN, NAN]),
    ],
)
def test_forward_log_return_hand_example(horizon, expected):
    close = _closes()
    out = forward_log_return(close, horizon)
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-12, equal_nan=True)
    assert out.index.equals(close.index)
    assert out.isna().sum() == min(horizon, len(close))


@pytest.mark.parametrize(
    ("horizon", "expected"),
    [
        # h=1: first row has no past; log(110/100), log(99/110), log(121/99)
        (1, [NAN, math.log(1.1), math.log(0.9), math.log(121 / 99)]),
        # h=2: log(99/100), log(121/110)
        (2, [NAN, NAN, math.log(0.99), math.log(1.1)]),
    ],
)
def test_past_log_return_hand_example(horizon, expected):
    close = _closes()
    out = past_log_return(close, horizon)
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-12, equal_nan=True)
    assert out.index.equals(close.index)


@pytest.mark.parametrize("horizon", [0, -1, 1.5, "1", None])
@pytest.mark.parametrize("fn", [forward_log_return, past_log_return])
def test_labels_reject_a_bad_horizon(fn, horizon):
    with pytest.raises(ConfigError) as info:
        fn(_closes(), horizon)
    assert info.value.name == "horizon"
    assert "horizon" in str(info.value)


def test_labels_accept_a_numpy_integer_horizon():
    out = forward_log_return(_closes(), np.int64(2))
    assert out.iloc[0] == pytest.approx(math.log(0.99))


@settings(max_examples=100, deadline=None)
@given(
    closes=st.lists(st.floats(min_value=0.5, max_value=1000.0), min_size=1, max_size=60),
    horizon=st.integers(min_value=1, max_value=70),
)
def test_forward_label_is_the_past_return_h_rows_later(closes, horizon):
    close = pd.Series(closes)
    fwd = forward_log_return(close, horizon).to_numpy()
    past = past_log_return(close, horizon).to_numpy()
    n = len(closes)
    labelled = max(n - horizon, 0)
    assert np.isnan(fwd[labelled:]).all() and not np.isnan(fwd[:labelled]).any()
    # label at t == log(close[t+h] / close[t]) == past return at t+h
    np.testing.assert_allclose(fwd[:labelled], past[horizon:], rtol=0, atol=1e-12)
    for t in range(labelled):
        assert fwd[t] == pytest.approx(math.log(closes[t + horizon] / closes[t]), abs=1e-12)


# --- holdout plan + purged walk-forward: properties ----------------------------------------------

HORIZONS = st.one_of(st.sampled_from([1, 3, 7, 14, 30]), st.integers(min_value=1, max_value=40))


@settings(max_examples=100, deadline=None)
@given(
    n_rows=st.integers(min_value=140, max_value=3000),
    horizon=HORIZONS,
    n_splits=st.integers(min_value=1, max_value=6),
)
def test_holdout_and_purged_splits_never_leak(n_rows, horizon, n_splits):
    h = horizon
    plan = plan_holdout(n_rows, h)

    # (e) holdout placement and size
    expected_size = max(40, min(120, round(0.1 * n_rows)))
    assert plan.holdout_size == expected_size
    assert 40 <= plan.holdout_size <= 120
    assert abs(plan.holdout_size - min(120.0, max(40.0, 0.1 * n_rows))) <= 0.5 + 1e-9
    assert plan.holdout_end == n_rows - h  # one past the last labelled row
    assert plan.holdout_start == plan.holdout_end - plan.holdout_size
    assert plan.dev_end + h == plan.holdout_start  # purge between development and holdout
    assert (plan.n_rows, plan.horizon) == (n_rows, h)

    try:
        splits = list(PurgedWalkForward(n_splits, horizon=h).split(plan.dev_end))
    except InsufficientDataError:
        return  # skipped symbol: nothing to check
    assert len(splits) == n_splits

    prev_train: set[int] | None = None
    prev_test_end = None
    for train, test in splits:
        assert len(train) > 0 and len(test) > 0
        # (a) purge: no training label (t -> t + h) reaches the test window
        assert train.max() + h < test.min()
        assert all(t + h < test.min() for t in train.tolist())
        # (b) the holdout is never touched, not even through a label
        for idx in (train, test):
            assert idx.min() >= 0
            assert idx.max() < plan.holdout_start
            assert idx.max() + h <= plan.holdout_start - 1
        # (c) contiguous, disjoint, increasing test windows
        assert np.array_equal(test, np.arange(test[0], test[-1] + 1))
        if prev_test_end is not None:
            assert test[0] == prev_test_end  # adjacent: disjoint and contiguous, in order
        prev_test_end = test[-1] + 1
        # (d) expanding training window, always starting at row 0
        assert np.array_equal(train, np.arange(len(train)))
        if prev_train is not None:
            assert prev_train <= set(train.tolist())
            assert len(train) > len(prev_train)
        prev_train = set(train.tolist())
    # (c) the last test window ends exactly where the development range ends
    assert prev_test_end == plan.dev_end
    # equal-sized test windows
    assert len({len(test) for _, test in splits}) == 1


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=400),
    horizon=st.integers(min_value=1, max_value=40),
    n_splits=st.integers(min_value=1, max_value=6),
)
def test_boundaries_match_split(n, horizon, n_splits):
    splitter = PurgedWalkForward(n_splits, horizon=horizon)
    try:
        bounds = splitter.boundaries(n)
    except InsufficientDataError as err:
        assert err.horizon == horizon
        with pytest.raises(InsufficientDataError):
            list(splitter.split(n))
        return
    for (train_end, test_start, test_end), (train, test) in zip(bounds, splitter.split(n), strict=True):
        assert test_start - train_end == horizon  # purge gap of exactly h rows
        assert np.array_equal(train, np.arange(train_end))
        assert np.array_equal(test, np.arange(test_start, test_end))


def test_default_plan_and_splits_hand_example():
    # 700 rows, h=1: 699 labelled rows; holdout = round(0.1 * 700) = 70 rows -> [629, 699);
    # dev_end = 629 - 1 = 628. Four test windows of 628 // 5 = 125 rows end at 628:
    # [128, 253), [253, 378), [378, 503), [503, 628); training ends h=1 row before each.
    plan = plan_holdout(700, 1)
    assert (plan.dev_end, plan.holdout_start, plan.holdout_end) == (628, 629, 699)
    assert PurgedWalkForward(4, horizon=1).boundaries(plan.dev_end) == [
        (127, 128, 253),
        (252, 253, 378),
        (377, 378, 503),
        (502, 503, 628),
    ]


@pytest.mark.parametrize(
    ("n_rows", "size"),
    [
        (300, 40),  # 10 % = 30 -> at least 40
        (400, 40),
        (410, 41),
        (1000, 100),
        (1200, 120),
        (3000, 120),  # 10 % = 300 -> at most 120
    ],
)
def test_holdout_size_is_ten_percent_clamped(n_rows, size):
    assert plan_holdout(n_rows, 7).holdout_size == size


@pytest.mark.parametrize(("name", "value"), [("n_splits", 0), ("horizon", 0), ("horizon", -3)])
def test_splitter_rejects_bad_settings(name, value):
    kwargs = {"n_splits": 4, "horizon": 1, name: value}
    with pytest.raises(ConfigError) as info:
        PurgedWalkForward(kwargs["n_splits"], horizon=kwargs["horizon"])
    assert info.value.name == name


def test_plan_holdout_rejects_a_bad_horizon():
    with pytest.raises(ConfigError):
        plan_holdout(500, 0)


# --- insufficient data ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_rows", "horizon", "labelled"),
    [
        (100, 1, 99),  # 100 rows, h=1 -> 99 labelled
        (129, 30, 99),
        (50, 7, 43),
        (5, 30, 0),  # never a negative count
    ],
)
def test_fewer_than_100_labelled_rows_is_insufficient_data(n_rows, horizon, labelled):
    with pytest.raises(InsufficientDataError) as info:
        plan_holdout(n_rows, horizon, symbol="THYAO")
    err = info.value
    assert isinstance(err, DataError)
    assert "THYAO" in str(err)
    assert "insufficient data" in str(err)
    assert f"({labelled} rows, need 100)" in str(err)
    assert (err.symbol, err.horizon, err.n_rows, err.need) == ("THYAO", horizon, labelled, 100)


@pytest.mark.parametrize("horizon", [1, 3, 7, 14, 30])
def test_exactly_100_labelled_rows_is_enough_for_the_holdout(horizon):
    plan = plan_holdout(100 + horizon, horizon)
    assert plan.holdout_end == 100


def test_min_rows_comes_from_settings():
    s = EvalSettings(min_rows=200)
    with pytest.raises(InsufficientDataError) as info:
        plan_holdout(150, 1, settings=s, symbol="AAA")
    assert (info.value.n_rows, info.value.need) == (149, 200)


def test_too_short_development_range_names_symbol_and_horizon():
    with pytest.raises(InsufficientDataError) as info:
        list(PurgedWalkForward(4, horizon=3, symbol="GARAN").split(20))
    err = info.value
    assert "GARAN" in str(err) and "h=3d" in str(err) and "insufficient data" in str(err)
    assert (err.symbol, err.horizon, err.n_rows) == ("GARAN", 3, 20)


@pytest.mark.parametrize(
    ("n", "horizon"),
    [
        (185, 30),  # dev range of plan_holdout(285, 30); once reported "insufficient data (185 rows, need 60)"
        (40, 1),  # test_size 8 would leave a first training window of 8 + 0 - 1 = 7 < 10
        (115, 14),  # test_size 23 would leave 23 + 0 - 14 = 9 < 10
    ],
)
def test_rows_above_the_stated_need_always_split(n, horizon):
    splitter = PurgedWalkForward(4, horizon=horizon)
    assert n >= splitter.min_rows()
    bounds = splitter.boundaries(n)
    assert len(bounds) == 4 and bounds[0][0] >= 10 and bounds[-1][2] == n


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 400), horizon=st.integers(1, 40), n_splits=st.integers(1, 6))
def test_the_splitter_raises_exactly_below_its_stated_need(n, horizon, n_splits):
    splitter = PurgedWalkForward(n_splits, horizon=horizon)
    if n < splitter.min_rows():
        with pytest.raises(InsufficientDataError) as info:
            splitter.boundaries(n)
        assert info.value.n_rows < info.value.need == splitter.min_rows()
    else:
        assert len(splitter.boundaries(n)) == n_splits


def test_one_more_row_never_turns_a_symbol_into_insufficient_data():
    splitter = PurgedWalkForward(4, horizon=30)
    assert len(splitter.boundaries(plan_holdout(284, 30).dev_end)) == 4  # dev_end 184: windows of 36
    assert len(splitter.boundaries(plan_holdout(285, 30).dev_end)) == 4  # dev_end 185: once raised


def test_no_negative_row_counts_when_horizon_is_long():
    with pytest.raises(InsufficientDataError) as info:
        plan = plan_holdout(190, 90, symbol="AAA")
        PurgedWalkForward(4, horizon=90, symbol="AAA").boundaries(plan.dev_end)
    assert info.value.n_rows >= 0


@pytest.mark.parametrize(("n_rows", "rows"), [(400, 200), (3000, 250), (1000, 40)])
def test_holdout_rows_fix_the_holdout_size(n_rows, rows):
    plan = plan_holdout(n_rows, 1, settings=EvalSettings(holdout_rows=rows))
    assert plan.holdout_size == rows and plan.dev_end == n_rows - 1 - rows - 1


@pytest.mark.parametrize("rows", [0, -5])
def test_holdout_rows_must_be_positive(rows):
    with pytest.raises(ConfigError) as info:
        EvalSettings(holdout_rows=rows)
    assert info.value.name == "holdout_rows"
