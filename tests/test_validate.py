from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bistlab.errors import ConfigError, DataError
from bistlab.data.validate import (
    CORPORATE_ACTION_MOVE,
    MIN_ROWS,
    corporate_actions,
    is_close_only,
    too_short,
    validate_ohlcv,
)
from bistlab.data.price_frames import fingerprint

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
    assert fingerprint(frame) == fingerprint(frame, basis="close") == "3b158f129a6e6770"  # as before the basis existed
    assert fingerprint(frame, basis="adj_close") == "240aa61982e8603a"  # the adjusted series is another data set


def test_fingerprint_refuses_an_unknown_basis() -> None:
    with pytest.raises(DataError, match="`basis` must be one of close, adj_close but got 'split'"):
        fingerprint(_frame([GOOD]), basis="split")


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
    result = validate_ohlcv(_frame(rows), symbol="PROP")
    frame = result.frame
    assert frame.index.is_unique
    assert bool((np.diff(frame.index.asi8) > 0).all())
    if is_close_only(frame):  # open, high and low missing on every row: kept missing, never invented
        assert result.count("close_only") == len(frame)
        assert frame["close"].notna().all() and bool((frame["close"] > 0).all())
        assert bool((frame["volume"].isna() | (frame["volume"] >= 0)).all())
        return
    assert not frame.isna().any().any()
    assert bool((frame[["open", "high", "low", "close"]] > 0).all().all())
    assert bool((frame["volume"] >= 0).all())


# ---------------------------------------------------------------- the exchange calendar, jumps, spikes


def _xist_frame(n: int = 150, *, start: str = "2021-01-04", seed: int = 0) -> pd.DataFrame:
    from bistlab.data.sessions import exchange_sessions

    sessions = exchange_sessions("XIST")
    dates = sessions[sessions >= pd.Timestamp(start)][:n]
    rng = np.random.default_rng(seed)
    close = 20.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    return pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1000.0}, index=dates.rename("date"))


def test_a_clean_xist_series_has_no_defect_and_is_checked_against_xist() -> None:
    result = validate_ohlcv(_xist_frame(), symbol="THYAO")
    assert result.defects == () and result.calendar == "XIST"


def test_missing_xist_sessions_are_reported_as_runs_longest_first_and_never_filled() -> None:
    frame = _xist_frame(300)
    gaps = frame.index[(frame.index >= "2021-03-01") & (frame.index <= "2021-03-16")].union(frame.index[[200]])
    result = validate_ohlcv(frame.drop(gaps), symbol="THYAO")
    (defect,) = result.defects
    assert defect.kind == "missing_sessions" and defect.count == 13
    assert defect.detail.startswith("13 missing XIST sessions in 2 runs (not filled): 12 sessions 2021-03-01 … 2021-03-16, ")
    assert str(frame.index[200].date()) in defect.detail
    assert len(result.frame) == 300 - 13


def test_rows_on_xist_holidays_and_weekends_are_reported_and_kept() -> None:
    frame = _xist_frame()
    extra = frame.iloc[[10, 11]].set_axis(pd.DatetimeIndex(["2021-04-23", "2021-01-09"]))  # a holiday, a Saturday
    result = validate_ohlcv(pd.concat([frame, extra]), symbol="THYAO")
    off = [d for d in result.defects if d.kind == "off_session_rows"]
    assert off and off[0].count == 2 and "2021-01-09, 2021-04-23" in off[0].detail
    assert len(result.frame) == len(frame) + 2


@pytest.mark.parametrize(("setting", "expected"), [("auto", None), ("XIST", "XIST"), ("none", None), ("xnys", "XNYS")])
def test_the_calendar_setting_decides_which_series_are_checked(make_market, setting, expected) -> None:
    us_like = make_market(400, seed=1)  # business days: it trades on Turkish holidays, so auto leaves it alone
    result = validate_ohlcv(us_like, symbol="SPX", calendar=setting)
    assert result.calendar == expected
    kinds = {d.kind for d in result.defects}
    assert ("off_session_rows" in kinds) == (expected is not None)  # business days trade on XIST and NYSE holidays


def test_auto_is_the_environment_default_and_an_unknown_calendar_is_refused(monkeypatch) -> None:
    from bistlab.errors import ConfigError

    monkeypatch.setenv("BISTLAB_CALENDAR", "none")
    assert validate_ohlcv(_xist_frame(), symbol="THYAO").calendar is None
    monkeypatch.setenv("BISTLAB_CALENDAR", "MARS")
    with pytest.raises(ConfigError, match="`BISTLAB_CALENDAR` must be 'auto', 'none' or an exchange_calendars code"):
        validate_ohlcv(_xist_frame(), symbol="THYAO")


def test_long_gaps_are_reported_where_no_calendar_applies(make_market) -> None:
    frame = make_market(300, seed=2)
    frame = frame.drop(frame.index[100:160])
    (gap,) = [d for d in validate_ohlcv(frame, symbol="SPX").defects if d.kind == "long_gaps"]
    assert gap.count == 1 and "2015-05-21 → 2015-08-14 (85 days)" in gap.detail


@pytest.mark.parametrize("ratio", [10.0, 0.1, 3.0])
def test_a_jump_of_three_times_or_more_is_reported_with_date_and_ratio_and_kept(ratio) -> None:
    frame = _xist_frame()
    frame.iloc[100:, :4] *= ratio / (frame["close"].iloc[100] / frame["close"].iloc[99])
    result = validate_ohlcv(frame, symbol="SPLIT")
    (jump,) = result.defects
    assert jump.kind == "price_jumps" and f"{frame.index[100].date()} x{ratio:.3g}" in jump.detail
    pd.testing.assert_frame_equal(result.frame, frame, check_freq=False)  # nothing "fixed"


def test_absurd_prices_are_dropped_and_named() -> None:
    frame = _xist_frame()
    frame.iloc[40, :4] = frame.iloc[40, :4] * 50  # a one-day spike
    frame.iloc[90, frame.columns.get_loc("high")] = 5e12
    result = validate_ohlcv(frame, symbol="BAD")
    (absurd,) = [d for d in result.defects if d.kind == "absurd_prices"]
    assert absurd.count == 2 and str(frame.index[40].date()) in absurd.detail
    assert frame.index[40] not in result.frame.index and frame.index[90] not in result.frame.index
    assert "price_jumps" not in {d.kind for d in result.defects}  # the spike is gone before jumps are looked for


def test_duplicates_with_other_values_and_high_below_low_say_so() -> None:
    rows = [GOOD, ("2024-01-03", 10.0, 11.0, 9.0, 10.3, 100.0), ("2024-01-03", 10.0, 11.0, 9.0, 10.1, 100.0),
            ("2024-01-03", 10.0, 11.0, 9.0, 10.3, 100.0), ("2024-01-04", 10.0, 9.0, 11.0, 10.0, 100.0)]
    result = {d.kind: d.detail for d in validate_ohlcv(_frame(rows), symbol="TEST").defects}
    assert "2 rows on a date seen again later dropped (last kept; 1 with other values" in result["duplicate_dates"]
    assert "(1 with high < low) kept" in result["inconsistent_range"]


def test_a_constant_series_long_enough_for_hpo_is_reported() -> None:
    frame = _xist_frame(MIN_ROWS).assign(open=7.0, high=7.5, low=6.5, close=7.0)
    (flat,) = validate_ohlcv(frame, symbol="FLAT").defects
    assert flat.kind == "constant_prices" and "the close is 7 on every one of 100 rows" in flat.detail


def test_dates_with_mixed_utc_offsets_keep_their_wall_clock_day() -> None:
    from bistlab.data.price_frames import wall_clock_dates

    dates = wall_clock_dates(["2024-01-02 00:00:00+03:00", "2024-01-03 00:00:00+02:00", None])
    assert list(dates[:2].strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"] and pd.isna(dates[2])
    assert wall_clock_dates(["2024-01-02", "someday"], coerce=True).isna().tolist() == [False, True]


# ---------------------------------------------------------------- corporate actions


def _split(frame: pd.DataFrame, at: int, ratio: float) -> pd.DataFrame:
    """``frame`` with every price from row ``at`` on scaled so that the close moves by ``ratio`` there."""
    out = frame.copy()
    out.iloc[at:, :4] *= ratio / (frame["close"].iloc[at] / frame["close"].iloc[at - 1])
    return out


def test_a_two_for_one_split_is_a_corporate_action_with_its_date_and_ratio() -> None:
    frame = _split(_xist_frame(), 100, 0.5)
    moves = corporate_actions(frame)
    assert list(moves.index) == [frame.index[100]] and moves.index.name == "date"
    assert list(moves.columns) == ["prev_close", "close", "log_move", "ratio"]
    assert moves["ratio"].iloc[0] == pytest.approx(0.5)
    assert moves["log_move"].iloc[0] == pytest.approx(np.log(0.5))
    assert moves["prev_close"].iloc[0] == frame["close"].iloc[99] and moves["close"].iloc[0] == frame["close"].iloc[100]
    result = validate_ohlcv(frame, symbol="SPLIT")
    (action,) = result.defects
    assert action.kind == "corporate_actions" and action.count == 1
    assert f"{frame.index[100].date()} -50.0 %" in action.detail
    pd.testing.assert_frame_equal(result.frame, frame, check_freq=False)  # kept, nothing "fixed"


@pytest.mark.parametrize("ratio", [1.099, 1 / 1.099, 0.901, 1.2499, 0.7501])
def test_a_limit_move_is_no_corporate_action(ratio) -> None:
    frame = _split(_xist_frame(), 100, ratio)
    assert corporate_actions(frame).empty
    assert validate_ohlcv(frame, symbol="LIMIT").defects == ()


def test_corporate_actions_list_every_move_beyond_the_limit_up_or_down_and_the_report_names_each_once() -> None:
    frame = _split(_split(_split(_xist_frame(), 30, 1.3), 60, 0.6), 90, 0.1)  # a bonus issue, a split, a 10:1
    moves = corporate_actions(frame)
    assert list(moves.index) == list(frame.index[[30, 60, 90]])
    assert moves["ratio"].to_numpy() == pytest.approx([1.3, 0.6, 0.1])
    kinds = {d.kind: d for d in validate_ohlcv(frame, symbol="ACTS").defects}
    assert set(kinds) == {"corporate_actions", "price_jumps"}  # 3x or more stays a price jump, listed once
    assert kinds["corporate_actions"].count == 2 and kinds["price_jumps"].count == 1
    assert corporate_actions(frame, limit=0.5).index.equals(frame.index[[90]])
    empty = corporate_actions(frame.iloc[:1])
    assert empty.empty and list(empty.columns) == list(moves.columns) and isinstance(empty.index, pd.DatetimeIndex)


@pytest.mark.parametrize("limit", [0.0, -0.1, float("nan"), float("inf"), "0.25", True])
def test_corporate_actions_refuse_a_limit_that_is_not_a_positive_fraction(limit) -> None:
    with pytest.raises(ConfigError, match="`limit` must be a positive finite fraction"):
        corporate_actions(_xist_frame(), limit=limit)


def test_the_default_limit_is_a_quarter() -> None:
    assert CORPORATE_ACTION_MOVE == 0.25


# ---------------------------------------------------------------- close-only series


def _close_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(open=NAN, high=NAN, low=NAN, volume=NAN)


def test_a_close_only_series_keeps_every_row_and_its_missing_columns_missing() -> None:
    raw = _close_only(_xist_frame())
    raw.iloc[50:53, raw.columns.get_loc("close")] = raw["close"].iloc[49]  # flat closes: no placeholder to tell
    raw.iloc[70, raw.columns.get_loc("close")] = NAN  # a missing close: the row goes
    result = validate_ohlcv(raw, symbol="CLOSE")
    assert [d.kind for d in result.defects] == ["nan_rows", "close_only"]
    frame = result.frame
    assert len(frame) == len(raw) - 1 and raw.index[70] not in frame.index
    pd.testing.assert_series_equal(frame["close"], raw["close"].drop(raw.index[70]), check_freq=False)
    assert frame[["open", "high", "low", "volume"]].isna().all().all()  # never faked from the close
    assert is_close_only(frame) and not is_close_only(_xist_frame()) and not is_close_only(raw.iloc[:0])
    assert "volume missing on 149 rows, kept missing" in result.defects[1].detail
    assert fingerprint(frame) == fingerprint(validate_ohlcv(raw.copy(), symbol="CLOSE").frame)


def test_a_close_only_series_still_reports_its_corporate_actions() -> None:
    result = validate_ohlcv(_close_only(_split(_xist_frame(), 100, 0.5)), symbol="CLOSE")
    assert [(d.kind, d.count) for d in result.defects] == [("corporate_actions", 1), ("close_only", 150)]


def test_a_series_with_some_high_and_low_is_not_close_only() -> None:
    raw = _xist_frame()
    raw.iloc[10:20, :3] = NAN  # open, high and low missing on a few rows only: those rows are bad
    result = validate_ohlcv(raw, symbol="GAPS")
    assert [(d.kind, d.count) for d in result.defects] == [("nan_rows", 10)]
    assert not result.frame.isna().any().any()
