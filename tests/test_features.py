"""Feature groups: no look-ahead (for every registered group), each group's behaviour, the cache."""

from __future__ import annotations

import itertools
import zlib
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest

from bistlab.features import FeatureCache, FeatureContext, build_feature_matrix, registry
from bistlab.features import candles, chart_patterns, external, regime, sentiment

GROUPS = list(registry())
N_ROWS = 600
N_CUTS = 5
_fingerprints = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def _quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


# ---------------------------------------------------------------- synthetic data


def _ohlcv(index: pd.DatetimeIndex, rng: np.random.Generator, *, start: float = 20.0) -> pd.DataFrame:
    """Realistic daily bars on ``index``: GARCH-like returns, a few flat (placeholder-like) sessions."""
    n = len(index)
    vol = 0.015 * np.exp(np.cumsum(rng.normal(0.0, 0.05, n)).clip(-1.0, 1.0))
    ret = rng.standard_t(4, n) * vol / np.sqrt(2.0)
    close = start * np.exp(np.cumsum(ret))
    open_ = close * np.exp(rng.normal(0.0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.006, n)))
    volume = rng.integers(10_000, 2_000_000, n).astype("float64")
    flat = rng.choice(np.arange(1, n), size=max(1, n // 100), replace=False) if n > 2 else np.empty(0, dtype=int)
    close[flat] = close[flat - 1]  # a session without trades: o = h = l = c = previous close
    open_[flat] = high[flat] = low[flat] = close[flat]
    volume[flat] = 1.0
    frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)
    frame.index.name = "date"
    return frame


def _dates(n: int, rng: np.random.Generator, *, start: str = "2020-01-02", missing: int = 6) -> pd.DatetimeIndex:
    days = pd.bdate_range(start, periods=n + missing, name="date").as_unit("ns")
    return days.delete(rng.choice(np.arange(1, n + missing), size=missing, replace=False))


def _inputs(seed: int = 0) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.DataFrame]:
    """The symbol (600 rows, a few missing dates), 3 peers with other gaps and spans, sentiment."""
    rng = np.random.default_rng(seed)
    frame = _ohlcv(_dates(N_ROWS, rng), rng)
    peers = {
        "PEERA": _ohlcv(_dates(N_ROWS + 20, rng, start="2019-12-02", missing=9), rng, start=5.0),
        "PEERB": _ohlcv(_dates(N_ROWS - 100, rng, start="2020-06-01", missing=4), rng, start=80.0),
        "PEERC": _ohlcv(_dates(N_ROWS, rng, missing=12), rng, start=2.0),
    }
    no_market = frame.index[rng.choice(np.arange(30, N_ROWS), size=8, replace=False)]  # sessions no peer has
    peers = {s: p.drop(index=p.index.intersection(no_market)) for s, p in peers.items()}
    days = pd.date_range(frame.index[0] - pd.Timedelta(days=30), frame.index[-1], freq="D", name="date").as_unit("ns")
    days = days[rng.random(len(days)) < 0.35]  # irregular, weekends included
    scores = pd.DataFrame({"score": rng.uniform(-1.0, 1.0, len(days))}, index=days)
    return frame, peers, scores


def _context(frame: pd.DataFrame, peers: dict[str, pd.DataFrame], scores: pd.DataFrame | None) -> FeatureContext:
    return FeatureContext(
        symbol="TEST", horizon=3, frame=frame, fingerprint=f"fp{next(_fingerprints)}", peers=peers, sentiment=scores
    )


def _truncated(frame, peers, scores, cut: pd.Timestamp):
    return frame.loc[:cut], {s: p.loc[:cut] for s, p in peers.items()}, scores.loc[:cut]


def _replaced(frame, peers, scores, cut: pd.Timestamp, rng: np.random.Generator):
    """Everything dated after ``cut`` redrawn (values; the peers' and the scores' dates too)."""

    def redraw(df: pd.DataFrame, drop: int) -> pd.DataFrame:
        after = df.index[df.index > cut]
        if len(after) == 0:
            return df
        keep = after.delete(rng.choice(len(after), size=min(drop, len(after) - 1), replace=False)) if drop else after
        fresh = _ohlcv(keep, rng, start=float(df["close"].iloc[-1]) * 1.3)
        return pd.concat([df.loc[:cut], fresh])

    new_scores = scores.loc[:cut]
    extra = pd.date_range(cut + pd.Timedelta(hours=1), periods=60, freq="D").normalize().unique()
    extra = extra[extra > cut]
    fresh_scores = pd.DataFrame({"score": rng.uniform(-1, 1, len(extra))}, index=extra.rename("date"))
    new_scores = pd.concat([new_scores, fresh_scores])
    return redraw(frame, 0), {s: redraw(p, 3) for s, p in peers.items()}, new_scores


def _param_sets(name: str) -> list[dict[str, Any]]:
    """Two parameter settings drawn by the group's own ``suggest`` (random sampler, fixed seeds)."""
    group = registry()[name]
    out = []
    for seed in (11, 12):
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        out.append(group.suggest(trial, 3))
    return out


def _event_rows(out: pd.DataFrame, rng: np.random.Generator, *, size: int = N_CUTS) -> list[int]:
    """Rows where a discrete feature (a flag, a count) changes or a feature turns NaN or back.

    Look-ahead shows on such rows (an event flagged a bar before it can be known, a missing
    value filled from a later one), so cutting the data right there catches it where random
    cut points would rarely land.
    """
    discrete = [c for c in out.columns if out[c].nunique() <= 10]
    values = out[discrete].to_numpy(dtype="float64")
    nan = np.isnan(out.to_numpy(dtype="float64"))
    changed = (values[1:] != values[:-1]) & ~(np.isnan(values[1:]) & np.isnan(values[:-1]))
    flips = changed.any(axis=1) | (nan[1:] != nan[:-1]).any(axis=1)
    rows = np.flatnonzero(flips) + 1
    rows = rows[(rows >= 25) & (rows < len(out) - 1)]
    return rng.choice(rows, size=min(size, len(rows)), replace=False).tolist() if len(rows) else []


def _input_event_rows(frame, peers, scores, rng: np.random.Generator, *, size: int = 2) -> list[int]:
    """Rows dated on a session no peer has, and rows dated on a sentiment score's date."""
    rows: list[int] = []
    peer_dates = pd.DatetimeIndex(np.unique(np.concatenate([p.index.asi8 for p in peers.values()])))
    for dated in (~frame.index.isin(peer_dates), frame.index.isin(scores.index)):
        found = np.flatnonzero(dated)
        found = found[(found >= 25) & (found < len(frame) - 1)]
        rows += rng.choice(found, size=min(size, len(found)), replace=False).tolist()
    return rows


# ---------------------------------------------------------------- every group


@pytest.mark.parametrize("name", GROUPS)
def test_features_at_t_do_not_change_when_data_after_t_is_cut_or_redrawn(name: str) -> None:
    group = registry()[name]
    frame, peers, scores = _inputs(seed=1)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    random_rows = rng.choice(np.arange(25, N_ROWS - 1), size=N_CUTS, replace=False)
    input_rows = _input_event_rows(frame, peers, scores, rng)
    for params in _param_sets(name):
        full = group.compute(_context(frame, peers, scores), params)
        for row in sorted({*random_rows.tolist(), *_event_rows(full, rng), *input_rows}):
            cut = frame.index[row]
            expected = full.loc[:cut]
            for variant, inputs in (
                ("truncated", _truncated(frame, peers, scores, cut)),
                ("redrawn", _replaced(frame, peers, scores, cut, rng)),
            ):
                got = group.compute(_context(*inputs), params).loc[:cut]
                try:
                    pd.testing.assert_frame_equal(got, expected, check_exact=True)
                except AssertionError as err:
                    where = f"row {row} ({cut.date()}), data after it {variant}"
                    raise AssertionError(f"{name} {params}: look-ahead at {where}:\n{err}") from err


@pytest.mark.parametrize("name", GROUPS)
def test_output_is_indexed_like_the_frame_finite_and_informative(name: str) -> None:
    group = registry()[name]
    frame, peers, scores = _inputs(seed=2)
    ctx = _context(frame, peers, scores)
    assert group.unavailable(ctx) is None
    for params in _param_sets(name):
        out = group.compute(ctx, params)
        assert out.index.equals(frame.index)
        assert len(out.columns) == len(set(out.columns)) > 0
        values = out.to_numpy(dtype="float64")
        infinite = list(out.columns[np.isinf(values).any(axis=0)])
        assert not infinite, f"{name} {params}: infinite values in {infinite}"
        after_warmup = out.iloc[N_ROWS // 2 :]
        assert after_warmup.notna().any().any(), f"{name} {params}: every column is NaN after warm-up"


@pytest.mark.parametrize("name", GROUPS)
def test_group_names_its_flag_and_parameters_after_itself(name: str) -> None:
    group = registry()[name]
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    group.suggest(trial, 7)
    assert group.flag in (None, f"enable_{name}")
    assert all(p.startswith(f"{name}_") for p in trial.params), sorted(trial.params)
    assert group.description


# ---------------------------------------------------------------- external


def test_market_equal_to_the_symbol_gives_beta_and_correlation_one() -> None:
    frame, _, _ = _inputs(seed=3)
    ctx = _context(frame, {"MKT": frame.copy()}, None)
    out = external.compute(ctx, {"rs_window": 10, "beta_window": 40})
    tail = out.iloc[60:]
    np.testing.assert_allclose(tail["beta"], 1.0, atol=1e-8)
    np.testing.assert_allclose(tail["corr"], 1.0, atol=1e-8)
    np.testing.assert_allclose(tail["rel_strength"], 0.0, atol=1e-12)
    np.testing.assert_allclose(tail["resid_ret"], 0.0, atol=1e-10)


def test_market_is_the_equal_weighted_mean_of_peer_log_returns_and_breadth_counts_the_up_peers() -> None:
    days = pd.bdate_range("2024-01-01", periods=4, name="date").as_unit("ns")
    bars = lambda closes, idx: pd.DataFrame(  # noqa: E731
        {"open": closes, "high": closes, "low": closes, "close": closes, "volume": 1.0}, index=idx
    )
    a = bars([10.0, 11.0, 12.1, 11.0], days)
    b = bars([20.0, 19.0, 19.0], days[[0, 1, 3]])  # no row on day 2: contributes on day 3 over two days
    frame = bars([5.0, 5.0, 5.0, 5.0], days)
    out = external.compute(_context(frame, {"A": a, "B": b}, None), {"rs_window": 1, "beta_window": 3})
    r = np.log
    expected = [np.nan, (r(1.1) + r(19 / 20)) / 2, r(1.1), (r(11 / 12.1) + r(1.0)) / 2]
    np.testing.assert_allclose(out["breadth"], [np.nan, 0.5, 1.0, 0.0])
    # the market index on day 3 includes A's day-2 return once: diffs of the index span the same days
    market = external.market_series({"A": a, "B": b})
    np.testing.assert_allclose(market["ret"], expected, rtol=1e-12)
    np.testing.assert_allclose(out["mkt_ret_1"].iloc[1:], expected[1:], rtol=1e-12)


def test_a_date_missing_from_the_market_is_nan_never_a_later_value() -> None:
    frame, _, _ = _inputs(seed=4)
    gap = frame.index[100]
    peer = frame.drop(index=gap)
    out = external.compute(_context(frame, {"P": peer}, None), {"rs_window": 5, "beta_window": 30})
    assert np.isnan(out.loc[gap, "mkt_ret_1"]) and np.isnan(out.loc[gap, "breadth"])
    assert np.isnan(out["mkt_ret_1"].iloc[101])  # spans the missing date: unknown, not guessed
    assert np.isfinite(out["mkt_ret_1"].iloc[102])


def test_external_is_unavailable_without_peers() -> None:
    frame, _, _ = _inputs(seed=5)
    assert external.unavailable(_context(frame, {}, None)) == "no other series in the price store"
    elsewhere = _ohlcv(pd.bdate_range("2000-01-03", periods=50, name="date").as_unit("ns"), np.random.default_rng(0))
    assert "shares a date" in external.unavailable(_context(frame, {"OLD": elsewhere}, None))


# ---------------------------------------------------------------- candles


def test_candle_families_cover_every_talib_pattern_once() -> None:
    talib = pytest.importorskip("talib")
    listed = [n for family in candles.FAMILIES.values() for n in family]
    assert len(listed) == len(set(listed)) == 61
    assert set(listed) == set(talib.get_function_groups()["Pattern Recognition"])
    assert set(candles.INDIVIDUAL.values()) <= set(listed)


def test_candles_find_a_doji_on_a_doji_bar() -> None:
    pytest.importorskip("talib")
    n = 40
    rng = np.random.default_rng(6)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = close * (1 - 0.01 * np.sign(rng.normal(size=n)))  # bodies of 1 %
    high, low = np.maximum(open_, close) * 1.004, np.minimum(open_, close) * 0.996
    open_[-1] = close[-1]  # the last bar: no body, shadows on both sides
    high[-1], low[-1] = close[-1] * 1.01, close[-1] * 0.99
    index = pd.bdate_range("2024-01-01", periods=n, name="date").as_unit("ns")
    frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1e5}, index=index)
    out = candles.compute(_context(frame, {}, None), {"lookback": 1, "family": "all"})
    assert out["doji"].iloc[-1] == 1.0
    assert (out["doji"].iloc[20:-1] == 0.0).all()
    assert out["indecision"].iloc[-1] >= 1.0
    assert out.iloc[: candles._warmup()].isna().all().all()  # not evaluated by TA-Lib: NaN, not 0


def test_candles_are_unavailable_without_talib(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_talib() -> None:
        raise ImportError("No module named 'talib'")

    monkeypatch.setattr(candles, "_talib", no_talib)
    frame, _, _ = _inputs(seed=7)
    assert "TA-Lib" in candles.unavailable(_context(frame, {}, None))


# ---------------------------------------------------------------- chart patterns


def _path(points: list[tuple[int, float]], *, spread: float = 0.001) -> pd.DataFrame:
    """Bars along straight lines between (bar, close) points; highs/lows ``spread`` around the close."""
    bars, closes = zip(*points)
    close = np.interp(np.arange(bars[-1] + 1), bars, closes)
    index = pd.bdate_range("2023-01-02", periods=len(close), name="date").as_unit("ns")
    return pd.DataFrame(
        {"open": close, "high": close * (1 + spread), "low": close * (1 - spread), "close": close, "volume": 1e5},
        index=index,
    )


def test_double_top_is_flagged_only_from_the_bar_confirming_the_second_top() -> None:
    frame = _path([(0, 100.0), (30, 110.0), (40, 100.0), (50, 110.3), (75, 95.0), (90, 97.0)])
    k = 3
    out = chart_patterns.compute(_context(frame, {}, None), {"pivot_k": k, "tolerance": 0.01})
    flag = out["double_top"].to_numpy()
    assert flag[: 50 + k].sum() == 0.0
    assert flag[50 + k] == 1.0
    below_neck = np.flatnonzero(out["top_confirmed"].to_numpy())
    assert len(below_neck) and frame["close"].iloc[below_neck].max() < 100.0 * 0.999
    assert out["head_shoulders"].sum() == 0.0


def test_head_and_shoulders_is_flagged_from_the_right_shoulders_confirmation() -> None:
    frame = _path([(0, 95.0), (20, 108.0), (30, 100.0), (40, 116.0), (50, 100.5), (60, 108.4), (80, 92.0)])
    k = 4
    out = chart_patterns.compute(_context(frame, {}, None), {"pivot_k": k, "tolerance": 0.015})
    flag = out["head_shoulders"].to_numpy()
    assert flag[: 60 + k].sum() == 0.0 and flag[60 + k] == 1.0
    assert out["double_top"].sum() == 0.0


def test_a_double_top_fails_once_price_closes_above_the_tops() -> None:
    frame = _path([(0, 100.0), (30, 110.0), (40, 100.0), (50, 110.3), (56, 108.0), (70, 125.0)])
    out = chart_patterns.compute(_context(frame, {}, None), {"pivot_k": 3, "tolerance": 0.01})
    flag = out["double_top"]
    assert flag.iloc[53] == 1.0
    above = frame.index[frame["close"] > 110.3 * 1.001 * 1.01][0]
    assert flag.loc[above:].sum() == 0.0


def test_pivots_need_k_bars_on_each_side() -> None:
    frame = _path([(0, 100.0), (10, 110.0), (20, 100.0), (30, 120.0)])
    high, low = frame["high"].to_numpy(), frame["low"].to_numpy()
    ph, pl = chart_patterns.find_pivots(high, low, 3)
    assert ph.tolist() == [10] and pl.tolist() == [20]
    assert chart_patterns.find_pivots(high[:14], low[:14], 3)[0].tolist() == [10]  # bars 11..13 seen
    assert chart_patterns.find_pivots(high[:13], low[:13], 3)[0].tolist() == []
    out = chart_patterns.compute(_context(frame, {}, None), {"pivot_k": 3, "tolerance": 0.01})
    assert out["dist_high"].iloc[:13].isna().all() and np.isfinite(out["dist_high"].iloc[13])
    assert out["bars_since_high"].iloc[13] == 3.0
    assert out["breakout_up"].iloc[-1] == 1.0


# ---------------------------------------------------------------- regime


def test_regime_flags_a_volatility_burst_and_measures_drawdown() -> None:
    rng = np.random.default_rng(8)
    ret = np.concatenate([rng.normal(0, 0.005, 400), rng.normal(-0.004, 0.04, 60)])
    close = 100 * np.exp(np.cumsum(ret))
    index = pd.bdate_range("2020-01-01", periods=len(close), name="date").as_unit("ns")
    frame = pd.DataFrame(
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1e5}, index=index
    )
    out = regime.compute(_context(frame, {}, None), {"vol_window": 20, "rank_window": 250, "trend_window": 50})
    assert out["high_vol"].iloc[-1] == 1.0 and out["low_vol"].iloc[-1] == 0.0
    assert out["high_vol"].iloc[425:].mean() == 1.0 and out["high_vol"].iloc[300:400].mean() < 0.3
    assert (out["drawdown"].dropna() <= 0).all() and out["drawdown"].iloc[400:].min() < -0.1
    assert out["efficiency"].dropna().between(-1, 1).all()


# ---------------------------------------------------------------- sentiment


def test_sentiment_uses_scores_dated_strictly_before_the_row() -> None:
    index = pd.bdate_range("2024-01-01", periods=30, name="date").as_unit("ns")  # Mon 1 Jan
    frame = _ohlcv(index, np.random.default_rng(9))
    scores = pd.DataFrame(
        {"score": [0.5, -0.25, 1.0]},
        index=pd.DatetimeIndex(["2024-01-02", "2024-01-06", "2024-01-08"], name="date").as_unit("ns"),
    )
    out = sentiment.compute(_context(frame, {}, scores), {"window": 3})
    last = out["last"]
    assert np.isnan(last.loc["2024-01-02"])  # its own date's score is not known yet
    assert last.loc["2024-01-03"] == 0.5
    assert last.loc["2024-01-08"] == -0.25  # Saturday's score, first usable on Monday; Monday's own is not
    assert last.loc["2024-01-09"] == 1.0
    assert out["days_since"].loc["2024-01-08"] == 2.0 and out["days_since"].loc["2024-01-03"] == 1.0
    # window of 3 rows at Wed 10 Jan: scores dated in [Fri 5 Jan, Wed 10 Jan) -> -0.25 and 1.0
    assert out["count"].loc["2024-01-10"] == 2.0
    assert out["mean"].loc["2024-01-10"] == pytest.approx(0.375)
    assert out["count"].loc["2024-01-29"] == 0.0 and np.isnan(out["mean"].loc["2024-01-29"])
    assert out["count"].iloc[:3].isna().all()


def test_sentiment_is_unavailable_without_a_table_or_scores() -> None:
    frame, _, _ = _inputs(seed=10)
    assert sentiment.unavailable(_context(frame, {}, None)) == "no sentiment table in the price store"
    empty = pd.DataFrame({"score": np.empty(0)}, index=pd.DatetimeIndex([], name="date").as_unit("ns"))
    assert "no scores for TEST" in sentiment.unavailable(_context(frame, {}, empty))


def test_the_search_space_removes_sentiment_and_says_why() -> None:
    from bistlab.models.space import SearchSpace

    frame, peers, _ = _inputs(seed=11)
    space = SearchSpace.for_task(_context(frame, peers, None))
    assert "sentiment" not in space.groups
    assert space.removed["sentiment"] == "no sentiment table in the price store"
    assert "external" in space.groups


# ---------------------------------------------------------------- close-only series


def _close_only_context(seed: int, *, peers: bool = True) -> FeatureContext:
    """A close-only symbol (open, high, low and volume missing, as the demo's stocks are stored)."""
    frame, peer_frames, _ = _inputs(seed=seed)
    frame = frame.assign(open=np.nan, high=np.nan, low=np.nan, volume=np.nan)
    return _context(frame, peer_frames if peers else {}, None)


def test_a_close_only_task_leaves_the_ohlc_groups_out_of_the_search_space_and_says_why() -> None:
    from bistlab.models.space import SearchSpace

    ctx = _close_only_context(13)
    space = SearchSpace.for_task(ctx)
    for name in ("candles", "chart_patterns"):
        assert name not in space.groups
        assert space.removed[name].startswith("TEST is close-only (no ")
    assert "high" in space.removed["chart_patterns"] and "open" in space.removed["candles"]
    assert {"core", "regime", "external"} <= set(space.groups)  # close is all they need
    ohlc_ctx = _context(*_inputs(seed=13)[:2], None)
    assert chart_patterns.unavailable(ohlc_ctx) is None
    assert candles.unavailable(ohlc_ctx) is None or "TA-Lib" in candles.unavailable(ohlc_ctx)


def test_the_core_group_computes_its_close_features_on_a_close_only_series() -> None:
    ctx = _close_only_context(14, peers=False)
    core = registry()["core"]
    assert core.unavailable(ctx) is None
    out = core.compute(ctx, {})
    assert out.index.equals(ctx.frame.index)
    close_based = ["ret_1", "ret_2", "ret_5", "ret_10", "ret_20", "vol", "vol_ratio", "mom", "sma_gap", "rsi",
                   "macd_hist", "bb_pctb"]
    needs_range = ["atr_norm", "hl_range", "gap", "volume_z"]
    assert sorted(close_based + needs_range) == sorted(out.columns)
    assert np.isfinite(out[close_based].iloc[100:].to_numpy()).all()  # finite after warm-up
    assert out[needs_range].isna().all().all()  # NaN, never made up from the close
    full = core.compute(_context(*_inputs(seed=14)[:2], None), {})
    pd.testing.assert_frame_equal(out[close_based], full[close_based])  # the close features do not change
    matrix = build_feature_matrix(ctx, {"regime": True}, {})
    assert matrix.shape[0] == len(ctx.frame) and np.isfinite(matrix["regime__rv"].iloc[300:]).all()


# ---------------------------------------------------------------- cache


def test_the_feature_cache_computes_each_group_and_parameters_once() -> None:
    frame, peers, scores = _inputs(seed=12)
    ctx = _context(frame, peers, scores)
    cache = FeatureCache()
    enabled = {"regime": True, "external": False}
    params = {"regime": {"vol_window": 20, "rank_window": 100, "trend_window": 50}}
    first = build_feature_matrix(ctx, enabled, params, cache=cache)
    assert (cache.misses, cache.hits) == (2, 0)  # core and regime
    second = build_feature_matrix(ctx, enabled, params, cache=cache)
    assert (cache.misses, cache.hits) == (2, 2)
    pd.testing.assert_frame_equal(first, second)
    assert any(c.startswith("regime__") for c in first.columns)
    assert not any(c.startswith("external__") for c in first.columns)
    build_feature_matrix(ctx, enabled, {"regime": {**params["regime"], "vol_window": 30}}, cache=cache)
    assert (cache.misses, cache.hits) == (3, 3)  # core reused, regime recomputed
