from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bistlab.errors import DataError
from bistlab.validate import MIN_ROWS, fingerprint, too_short, validate_ohlcv

NAN = float("nan")


def _frame(rows: list[tuple[str, float, float, float, float, float]]) -> pd.DataFrame:
    dates, *columns = zip(*rows)
    data = dict(zip(("open", "high", "low", "close", "volume"), columns))
    return pd.DataFrame(data, index=pd.DatetimeIndex(pd.to_datetime(list(dates)), name="date"))


GOOD = ("2024-01-02", 10.0, 11.0, 9.0, 10.5, 100.0)

# (rows, kind, count, dates that must be absent from the clean frame, rows left)
DEFECT_CASES = {
    "duplicate_dates": (
        [GOOD, ("2024-01-03", 10.0, 11.0, 9.0, 10.1, 100.0), ("2024-01-03", 10.0, 11.0, 9.0, 10.2, 100.0)],
        "duplicate_dates", 1, [], 2,
    ),
    "unsorted_dates": (
        [("2024-01-04", 10.0, 11.0, 9.0, 10.5, 100.0), GOOD, ("2024-01-03", 10.0, 11.0, 9.0, 10.5, 100.0)],
        "unsorted_dates", 1, [], 3,
    ),
    "nan_rows": (
        [GOOD, ("2024-01-03", 10.0, 11.0, 9.0, NAN, 100.0), ("2024-01-04", 10.0, np.inf, 9.0, 10.0, 100.0),
         ("2024-01-05", 10.0, 11.0, 9.0, 10.5, NAN)],
        "nan_rows", 3, ["2024-01-03", "2024-01-04"], 2,
    ),
    "non_positive_prices": (
        [GOOD, ("2024-01-03", 10.0, 11.0, -1.0, 10.5, 100.0), ("2024-01-04", 0.0, 11.0, 0.0, 10.5, 100.0)],
        "non_positive_prices", 2, ["2024-01-03", "2024-01-04"], 1,
    ),
    "placeholder_sessions": (
        [("2020-03-10", 7.0, 7.5, 6.5, 7.2, 10.0), ("2020-03-11", 7.0, 7.0, 7.0, 7.0, 0.0),
         ("2020-03-12", 7.173587, 7.173587 * (1 + 1e-15), 7.173587, 7.173587, 0.0),  # split-adjusted noise
         ("2020-03-13", 7.0, 7.0, 7.0, 7.0, 50.0),  # flat but traded: kept
         ("2020-03-16", 7.0, 7.5, 6.5, 7.2, 0.0)],  # no volume but a range: kept
        "placeholder_sessions", 2, ["2020-03-11", "2020-03-12"], 3,
    ),
    "inconsistent_range": (
        [GOOD, ("2024-01-03", 10.0, 10.4, 9.0, 10.5, 100.0), ("2024-01-04", 10.0, 11.0, 10.2, 10.5, 100.0),
         ("2024-01-05", 10.0, 10.5 - 1e-15, 9.0, 10.5, 100.0)],  # rounding noise: not reported
        "inconsistent_range", 2, [], 4,
    ),
}


@pytest.mark.parametrize("case", DEFECT_CASES, ids=list(DEFECT_CASES))
def test_each_defect_kind_is_counted_and_repaired(case: str) -> None:
    rows, kind, count, absent, left = DEFECT_CASES[case]
    result = validate_ohlcv(_frame(rows), symbol="TEST")
    assert [(d.kind, d.count) for d in result.defects] == [(kind, count)]
    assert len(result.frame) == left
    for date in absent:
        assert pd.Timestamp(date) not in result.frame.index
    assert result.frame.index.is_monotonic_increasing and result.frame.index.is_unique


def test_duplicate_dates_keep_the_last_row_in_input_order() -> None:
    rows = [("2024-01-03", 10.0, 11.0, 9.0, 10.1, 1.0), GOOD, ("2024-01-03", 10.0, 11.0, 9.0, 10.2, 2.0)]
    frame = validate_ohlcv(_frame(rows), symbol="TEST").frame
    assert frame.loc["2024-01-03", "close"] == 10.2
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]


def test_missing_volume_becomes_zero_and_is_reported() -> None:
    rows = [GOOD, ("2024-01-03", 10.0, 11.0, 9.0, 10.5, NAN)]
    result = validate_ohlcv(_frame(rows), symbol="TEST")
    assert result.frame.loc["2024-01-03", "volume"] == 0.0
    assert "missing volume" in result.defects[0].detail


def test_clean_frame_has_the_contract_shape() -> None:
    raw = _frame([("2024-01-03 15:30", 10.0, 11.0, 9.0, 10.5, 100)]).reset_index()  # 'date' column, int volume
    raw["date"] = raw["date"].dt.tz_localize("Europe/Istanbul")
    result = validate_ohlcv(raw, symbol="TEST")
    frame = result.frame
    assert result.defects == ()
    assert frame.index.name == "date" and frame.index.tz is None and str(frame.index.dtype) == "datetime64[ns]"
    assert frame.index[0] == pd.Timestamp("2024-01-03")  # wall-clock date kept, time dropped
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert (frame.dtypes == "float64").all()


def test_input_is_not_mutated() -> None:
    raw = _frame(DEFECT_CASES["nan_rows"][0] + DEFECT_CASES["duplicate_dates"][0][::-1])
    before = raw.copy(deep=True)
    result = validate_ohlcv(raw, symbol="TEST")
    result.frame.iloc[0, 0] = -5.0
    pd.testing.assert_frame_equal(raw, before)


def test_missing_column_raises_data_error_naming_the_symbol() -> None:
    with pytest.raises(DataError, match=r"THYAO: `columns` must include open, high, low, close, volume"):
        validate_ohlcv(_frame([GOOD]).drop(columns="volume"), symbol="THYAO")


def test_fingerprint_is_stable_and_sensitive(make_ohlcv) -> None:
    frame = validate_ohlcv(make_ohlcv(30), symbol="TEST").frame
    value = fingerprint(frame)
    assert len(value) == 16 and int(value, 16) >= 0
    assert fingerprint(frame.copy()) == value
    assert fingerprint(validate_ohlcv(make_ohlcv(30), symbol="TEST").frame) == value
    changed = frame.copy()
    changed.iloc[10, changed.columns.get_loc("close")] += 1e-9
    assert fingerprint(changed) != value
    shifted = frame.copy()
    shifted.index = shifted.index + pd.Timedelta(days=1)
    assert fingerprint(shifted) != value


def test_fingerprint_is_the_same_in_every_process() -> None:
    frame = _frame([GOOD, ("2024-01-03", 10.5, 12.0, 10.0, 11.0, 250.0)])
    assert fingerprint(frame) == "3b158f129a6e6770"


@pytest.mark.parametrize(("n", "expected"), [(MIN_ROWS - 1, True), (MIN_ROWS, False)])
def test_too_short(make_ohlcv, n: int, expected: bool) -> None:
    assert too_short(make_ohlcv(n)) is expected


_price = st.one_of(st.floats(-5.0, 50.0, allow_nan=False), st.just(NAN), st.just(0.0), st.just(7.0))
_row = st.tuples(
    st.integers(0, 40).map(lambda d: str(pd.Timestamp("2024-01-01") + pd.Timedelta(days=d))),
    _price, _price, _price, _price,
    st.one_of(st.floats(0.0, 1e6), st.just(NAN), st.just(0.0)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_row, min_size=1, max_size=30))
def test_clean_frame_is_always_sorted_unique_and_positive(rows) -> None:
    frame = validate_ohlcv(_frame(rows), symbol="PROP").frame
    assert frame.index.is_unique
    assert bool((np.diff(frame.index.asi8) > 0).all())
    assert not frame.isna().any().any()
    assert bool((frame[["open", "high", "low", "close"]] > 0).all().all())
    assert bool((frame["volume"] >= 0).all())
