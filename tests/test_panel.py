"""The universe task's panel (DESIGN.md "Universe models"): calendar, labels and excess target,
late listings, corporate actions, date-aligned splits, cross-sectional features, search space."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bistlab.config import EvalSettings
from bistlab.errors import InsufficientDataError
from bistlab.evaluation.walkforward import evaluate_holdout_online, make_evaluation_spec
from bistlab.features import FeatureContext, build_feature_matrix
from bistlab.features.core import DEFAULT_PARAMS as CORE_PARAMS
from bistlab.evaluation.panel import build_panel
from bistlab.evaluation.panel_calendar import PanelSettings, calendar_targets
from bistlab.models.space import TrialConfig

CORE = TrialConfig(features_enabled={}, feature_params={"core": dict(CORE_PARAMS)}, model_choice="lgbm", model_params={"lgbm": {}})
"""Core features only (the always-on group): what every panel row can compute."""
BASE = "2018-01-01"


def _prices(n: int, *, seed: int, offset: int = 0, vol: float = 0.012) -> pd.DataFrame:
    """A clean frame of ``n`` business days starting ``offset`` business days after BASE."""
    rng = np.random.default_rng(seed)
    close = 40.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.004, n))
    high = np.maximum(open_, close) * 1.005
    low = np.minimum(open_, close) * 0.995
    volume = rng.integers(1_000, 100_000, n).astype("float64")
    start = pd.bdate_range(BASE, periods=offset + 1)[-1]
    index = pd.bdate_range(start, periods=n, name="date").as_unit("ns")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


def _panel(frames: dict[str, pd.DataFrame], horizon: int, *, evals: EvalSettings | None = None, **panel: object):
    loaded = {s: (f, f"fp-{s}") for s, f in frames.items()}
    return build_panel(loaded, horizon, settings=evals or EvalSettings(), panel=PanelSettings(**panel))


def _universe(k: int = 6, n: int = 300, **kw: object) -> dict[str, pd.DataFrame]:
    return {f"S{i:02d}": _prices(n, seed=i + 1, **kw) for i in range(k)}


def _rows(task, symbol: str) -> np.ndarray:
    return np.flatnonzero(task.symbols == symbol)


def _on_calendar(frames: dict[str, pd.DataFrame], calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """Log closes, sessions × symbols (NaN where a symbol has no row)."""
    return pd.DataFrame({s: np.log(f["close"]).reindex(calendar) for s, f in frames.items()})


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True))


# --- membership: late listings, short symbols ---------------------------------------------------


@pytest.mark.parametrize("warmup", [0, 20, 60])
@pytest.mark.parametrize("offset", [1, 90])
def test_late_listing_enters_after_its_warmup_rows(warmup, offset):
    frames = _universe(5, 320)
    frames["LATE"] = _prices(320 - offset, seed=99, offset=offset)
    task = _panel(frames, 1, warmup=warmup)
    assert "LATE" in task.members and not task.excluded
    for symbol, frame in frames.items():
        rows = _rows(task, symbol)
        assert task.frame.index[rows[0]] == frame.index[warmup], symbol
    late = task.frame.index[_rows(task, "LATE")]
    assert late.min() == frames["LATE"].index[warmup] == task.calendar[offset + warmup]


@pytest.mark.parametrize("short_rows", [5, 99, 159])
def test_a_symbol_with_too_few_rows_is_excluded_with_its_reason_and_the_others_go_on(short_rows):
    frames = _universe(5, 300)
    frames["TINY"] = _prices(short_rows, seed=42, offset=300 - short_rows)
    task = _panel(frames, 3, warmup=60, min_rows=100)
    assert set(task.excluded) == {"TINY"}
    assert f"{short_rows} rows" in task.excluded["TINY"] and "160" in task.excluded["TINY"]
    assert "TINY" not in task.members and "TINY" not in set(task.symbols)
    assert set(task.symbols) == set(task.members) == {"S00", "S01", "S02", "S03", "S04"}


def test_a_panel_needs_two_members():
    frames = {"ONE": _prices(300, seed=1), "TWO": _prices(50, seed=2)}
    with pytest.raises(InsufficientDataError, match="UNIVERSE"):
        _panel(frames, 1)


# --- the calendar and the labels ------------------------------------------------------------------


@pytest.mark.parametrize("horizon", [1, 3, 7])
@pytest.mark.parametrize("missing", [100, 150, 291])
def test_a_missing_day_drops_that_symbols_labels_across_it_only(horizon, missing):
    frames = _universe(6, 300)
    gappy = frames["S02"]
    gap = gappy.index[missing]
    frames["S02"] = gappy.drop(gap)
    task = _panel(frames, horizon, target="raw", warmup=20)
    assert task.calendar.equals(pd.DatetimeIndex(sorted(set().union(*(f.index for f in frames.values())))))
    k = task.calendar.get_loc(gap)
    tail = len(task.calendar) - horizon
    sess = task.session
    logc = _on_calendar(frames, task.calendar)
    close = {symbol: logc[symbol].to_numpy() for symbol in frames}
    for symbol in frames:
        rows = _rows(task, symbol)
        present = set(sess[rows])
        c = close[symbol]
        expected = {s for s in range(20, len(task.calendar)) if np.isfinite(c[s]) and (s >= tail or np.isfinite(c[s + horizon]))}
        assert present == expected, symbol
        if symbol == "S02":
            assert k not in present and k - horizon not in present
        else:
            assert {k - horizon, k} <= present
        labelled = rows[sess[rows] < tail]
        by_hand = logc[symbol].to_numpy()[sess[labelled] + horizon] - logc[symbol].to_numpy()[sess[labelled]]
        assert np.allclose(task.raw_labels[labelled], by_hand) and np.isfinite(by_hand).all()
        assert np.isnan(task.raw_labels[rows[sess[rows] >= tail]]).all()


@pytest.mark.parametrize("horizon", [1, 5])
@pytest.mark.parametrize("min_cross_section", [4, 5])
def test_the_excess_target_is_the_label_minus_the_sessions_median(horizon, min_cross_section):
    frames = _universe(5, 220)
    gap = frames["S01"].index[120]
    frames["S01"] = frames["S01"].drop(gap)  # sessions k - h and k have 4 labelled symbols
    excess = _panel(frames, horizon, warmup=10, min_rows=50, min_cross_section=min_cross_section)
    raw = _panel(frames, horizon, warmup=10, min_rows=50, target="raw")
    logc = _on_calendar(frames, raw.calendar).to_numpy()
    moves = np.full_like(logc, np.nan)
    moves[:-horizon] = logc[horizon:] - logc[:-horizon]
    count = np.isfinite(moves).sum(axis=1)
    k = raw.calendar.get_loc(gap)
    assert count[k] == count[k - horizon] == 4
    median = np.array([np.median(m[np.isfinite(m)]) if c >= min_cross_section else np.nan for m, c in zip(moves, count)])
    assert np.allclose(raw.labels, raw.raw_labels, equal_nan=True)
    labelled = np.isfinite(excess.labels)
    assert np.allclose(excess.labels[labelled], (excess.raw_labels - median[excess.session])[labelled])
    thin = set(excess.session[labelled]) & {k, k - horizon}
    assert bool(thin) == (min_cross_section <= 4)
    # a thin session's rows are labelled under the raw target only
    assert {k - horizon} <= set(raw.session[np.isfinite(raw.labels)])
    for s in np.unique(excess.session[labelled]):  # every labelled symbol is in the panel: half above, half below
        assert abs(np.median(excess.labels[excess.session == s])) < 1e-12


def test_the_last_h_sessions_are_kept_unlabelled_for_forecasts():
    frames = _universe(5, 250)
    frames["S04"] = frames["S04"].iloc[:-1]  # no row on the last session: no forecast for it
    task = _panel(frames, 3, warmup=10)
    last = len(task.calendar) - 1
    assert set(task.last_rows()) == {"S00", "S01", "S02", "S03"}
    for symbol, row in task.last_rows().items():
        assert task.session[row] == last and task.symbols[row] == symbol and np.isnan(task.labels[row])
    assert np.isnan(task.labels[task.session >= last - 2]).all()
    assert np.isfinite(task.labels[task.session < last - 2]).all()


# --- corporate actions --------------------------------------------------------------------------


def _split(frame: pd.DataFrame, at: int, ratio: float = 0.5) -> pd.DataFrame:
    out = frame.copy()
    out.iloc[at:, :4] *= ratio
    out.iloc[at:, 4] /= ratio
    return out


@pytest.mark.parametrize("horizon", [1, 5])
@pytest.mark.parametrize("warmup", [0, 30])
def test_a_split_cuts_labels_past_returns_and_feature_windows(horizon, warmup):
    frames = _universe(6, 300)
    at = 150
    frames["S03"] = _split(frames["S03"], at)
    task = _panel(frames, horizon, warmup=warmup, target="raw")
    member = task.members["S03"]
    assert member.segments == ((0, at), (at, 300)) and len(member.actions) == 1
    c = task.calendar.get_loc(frames["S03"].index[at])
    rows = _rows(task, "S03")
    sess = task.session[rows]
    # no label crosses the split: rows whose h sessions span it are not in the panel
    assert not set(sess) & set(range(c - horizon, c))
    assert np.nanmax(np.abs(task.raw_labels[rows])) < 0.25
    # no past return crosses it either
    crossing = (sess - horizon < c) & (sess >= c)
    assert np.isnan(task.past_return[rows[crossing]]).all()
    assert np.nanmax(np.abs(task.past_return[rows])) < 0.25
    # the post-split rows enter after the warm-up of the new segment
    after = rows[sess >= c]
    assert task.session[after[0]] == c + warmup
    # features right after the split are those of the post-split segment alone
    names = task.feature_names(CORE)
    own = task.features(CORE)[:, : len(names) // 2]
    seg = build_feature_matrix(FeatureContext(symbol="S03", horizon=horizon, frame=frames["S03"].iloc[at:], fingerprint="post"), {}, CORE.feature_params)
    expected = seg.reindex(columns=names[: len(names) // 2]).loc[task.frame.index[after[:40]]].to_numpy(dtype=np.float32)
    assert _same(own[after[:40]], expected)
    whole = build_feature_matrix(FeatureContext(symbol="S03", horizon=horizon, frame=frames["S03"], fingerprint="all"), {}, CORE.feature_params)
    assert abs(whole["core__ret_1"].iloc[at]) > 0.6  # what crossing the split would have given
    if warmup == 0:
        assert np.isnan(own[after[0], names.index("core__ret_1")])
    before = rows[sess < c][-20:]
    pre = build_feature_matrix(FeatureContext(symbol="S03", horizon=horizon, frame=frames["S03"].iloc[:at], fingerprint="pre"), {}, CORE.feature_params)
    assert _same(own[before], pre.reindex(columns=names[: len(names) // 2]).loc[task.frame.index[before]].to_numpy(dtype=np.float32))
    # the other symbols keep every label around the split
    for other in ("S00", "S05"):
        assert set(range(c - horizon, c + 1)) <= set(task.session[_rows(task, other)])


# --- the date-aligned splitter ------------------------------------------------------------------


@st.composite
def _random_panels(draw):
    k = draw(st.integers(3, 8))
    frames = {}
    for i in range(k):
        offset = draw(st.integers(0, 80))
        n = draw(st.integers(170, 300))
        frame = _prices(n, seed=draw(st.integers(0, 10_000)), offset=offset)
        drops = draw(st.lists(st.integers(0, n - 1), max_size=6, unique=True))
        frames[f"R{i}"] = frame.drop(frame.index[drops])
    return frames


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    frames=_random_panels(),
    horizon=st.sampled_from([1, 3, 7]),
    n_splits=st.integers(2, 4),
    refit_every=st.integers(1, 25),
    target=st.sampled_from(["excess", "raw"]),
)
def test_splits_are_by_date_purged_and_the_holdout_is_the_last_labelled_sessions(frames, horizon, n_splits, refit_every, target):
    evals = EvalSettings(n_splits=n_splits, min_valid_splits=2, min_rows=60, holdout_min=20, holdout_max=60)
    try:
        task = _panel(frames, horizon, evals=evals, warmup=15, min_rows=60, min_cross_section=3, target=target)
    except InsufficientDataError:
        assume(False)
    sess, sym = task.session, task.symbols
    n = len(sess)
    order = np.lexsort((sym, sess))
    assert np.array_equal(order, np.arange(n))  # sorted by session, then symbol
    labelled = np.isfinite(task.labels)
    plan = task.plan
    # the holdout: the last labelled sessions, the same dates for every symbol
    hold = np.arange(plan.holdout_start, plan.holdout_end)
    days = np.unique(sess[labelled])
    size = max(evals.holdout_min, min(evals.holdout_max, int(round(evals.holdout_fraction * days.size))))
    assert np.array_equal(np.unique(sess[hold]), days[-size:])
    assert labelled[hold].all()
    assert np.array_equal(np.flatnonzero(labelled & (sess >= days[-size])), hold)
    first_hold = sess[plan.holdout_start]
    dev = np.arange(plan.dev_end)
    assert plan.dev_end > 0 and labelled[dev].all()
    assert (sess[dev] + horizon < first_hold).all()
    assert np.array_equal(np.flatnonzero(labelled & (sess + horizon < first_hold)), dev)  # nothing labelled is wasted
    # walk-forward splits by date
    splits = task.split_boundaries()
    assert len(splits) == n_splits
    previous_end = None
    for train_end, test_start, test_end in splits:
        assert 0 < train_end <= test_start < test_end <= plan.dev_end
        first_test = sess[test_start]
        assert (sess[:train_end] + horizon < first_test).all()
        lo, hi = sess[test_start], sess[test_end - 1]
        window = np.flatnonzero((sess >= lo) & (sess <= hi))
        assert np.array_equal(window, np.arange(test_start, test_end))  # every symbol's rows of those dates
        if previous_end is not None:
            assert test_start == previous_end
        previous_end = test_end
    assert previous_end == plan.dev_end
    # online holdout blocks: each block's model knows only labels realised by its first session
    blocks = task.holdout_blocks(refit_every)
    assert blocks[0][1] == plan.holdout_start and blocks[-1][2] == plan.holdout_end
    for (train_end, start, stop), nxt in zip(blocks, blocks[1:] + [None]):
        assert start <= stop  # (empty where no row falls in a block's sessions: see the test below)
        assert (sess[:train_end] + horizon <= sess[start]).all()
        assert labelled[:train_end].all()
        if nxt is not None:
            assert stop == nxt[1]
        assert len(np.unique(sess[start:stop])) <= refit_every
        assert len(np.unique(sym[start:stop])) <= len(task.members)


def test_the_online_holdout_survives_a_session_without_rows():
    frames = _universe(5, 200)
    holiday = frames["S00"].index[190]
    for symbol in ("S01", "S02", "S03", "S04"):  # only S00 has a row that day: no excess label for anyone
        frames[symbol] = frames[symbol].drop(holiday)
    evals = EvalSettings(min_rows=60, holdout_min=20, holdout_max=20, refit_every=1)
    task = _panel(frames, 1, evals=evals, warmup=20, min_rows=60)
    k = task.calendar.get_loc(holiday)
    assert task.holdout_sessions[0] < k < task.holdout_sessions[1] and not (task.session == k).any()
    config = TrialConfig(features_enabled={}, feature_params={"core": dict(CORE_PARAMS)}, model_choice="lgbm", model_params={"lgbm": {"n_estimators": 5, "num_leaves": 4}})
    metrics, preds = evaluate_holdout_online(task, config, make_evaluation_spec(task))
    assert preds.size == task.plan.holdout_size and np.isfinite(preds).all()
    assert all(stop > start for _, start, stop in task.holdout_blocks(1))


# --- features -----------------------------------------------------------------------------------


def test_rank_columns_are_per_session_percentile_ranks_over_the_symbols_present():
    frames = _universe(7, 260)
    frames["S06"] = _prices(200, seed=77, offset=60)  # a late listing: in the cross-section from its 26th row
    task = _panel(frames, 3, warmup=25)  # (missing days: see the test of later data below)
    X, names = task.features(CORE), task.feature_names(CORE)
    half = len(names) // 2
    assert names[half:] == [f"{n}__xs_rank" for n in names[:half]]
    for column in ("core__ret_5", "core__vol", "core__rsi"):
        own, rank = X[:, names.index(column)], X[:, names.index(f"{column}__xs_rank")]
        checked = 0
        for s in np.unique(task.session):
            rows = np.flatnonzero(task.session == s)
            v = own[rows]
            ok = np.isfinite(v)
            by_hand = np.full(v.shape, np.nan)
            for i in np.flatnonzero(ok):
                below, equal = (v[ok] < v[i]).sum(), (v[ok] == v[i]).sum()
                by_hand[i] = (below + (equal + 1) / 2) / ok.sum()
            assert np.allclose(rank[rows], by_hand, equal_nan=True, atol=1e-6), (column, s)
            checked += ok.sum() > 1
        assert checked > 150


@pytest.mark.parametrize("where", ["last", "last-1", "middle"])
def test_no_row_sees_a_later_dates_prices(where):
    frames = _universe(6, 240)
    task = _panel(frames, 3, warmup=20)
    n = len(task.calendar)
    k = {"last": n - 1, "last-1": n - 2, "middle": 150}[where]
    rng = np.random.default_rng(5)
    changed = {}
    for s, f in frames.items():
        g = f.copy()
        g.iloc[k, :4] *= rng.uniform(0.9, 1.1)  # every price of that session moves (no corporate action)
        g.iloc[k, 4] *= rng.uniform(0.5, 2.0)
        changed[s] = g
    other = _panel(changed, 3, warmup=20)
    assert np.array_equal(other.session, task.session) and np.array_equal(other.symbols, task.symbols)
    earlier = task.session < k
    X, Y = task.features(CORE), other.features(CORE)
    assert _same(X[earlier], Y[earlier])
    assert not _same(X[task.session == k], Y[task.session == k])  # the perturbation reached the features


@pytest.mark.parametrize("future", ["missing day", "split"])
def test_a_sessions_cross_section_does_not_depend_on_later_data(future):
    frames = _universe(6, 260)
    h, s = 3, 180
    task = _panel(frames, h, warmup=20)
    changed = dict(frames)
    if future == "missing day":
        changed["S05"] = frames["S05"].drop(frames["S05"].index[s + h])
    else:
        changed["S05"] = _split(frames["S05"], s + 1)
    other = _panel(changed, h, warmup=20)
    # S05 trades on session s in both worlds, with the same prices up to s
    X, Y = task.features(CORE), other.features(CORE)
    for symbol in ("S00", "S01", "S02"):
        a = np.flatnonzero((task.session == s) & (task.symbols == symbol))
        b = np.flatnonzero((other.session == s) & (other.symbols == symbol))
        assert _same(X[a], Y[b]), symbol


# --- the search space ---------------------------------------------------------------------------


def _close_only(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out[["open", "high", "low", "volume"]] = np.nan
    return out


@pytest.mark.parametrize(
    "close_only",
    [
        ["ZZZ"],
        ["ZYX", "ZZZ"],
        ["AAA"],
    ],
)
def test_close_only_members_remove_candles_and_chart_patterns_saying_how_many(close_only):
    frames = _universe(6, 260)
    for i, name in enumerate(close_only):
        frames[name] = _close_only(_prices(260, seed=50 + i))
    task = _panel(frames, 1, warmup=20)
    space = task.search_space(models=["lgbm"])
    for group in ("candles", "chart_patterns"):
        assert group not in space.groups
        reason = space.removed[group]
        assert f"{len(close_only)} of {len(frames)} symbols" in reason and "close-only" in reason, reason
    assert "core" in space.groups and "regime" in space.groups
    assert "universe task" in space.removed["external"]


def test_without_close_only_members_candles_and_chart_patterns_stay():
    task = _panel(_universe(5, 260), 1, warmup=20)
    space = task.search_space(models=["lgbm"])
    assert {"candles", "chart_patterns", "core"} <= set(space.groups)
    assert "candles" not in space.removed and "chart_patterns" not in space.removed


# --- calendar_targets: what the ledger scores forecasts on --------------------------------------


@pytest.mark.parametrize("target", ["excess", "raw"])
@pytest.mark.parametrize("horizon", [1, 3, 7])
def test_calendar_targets_agree_with_the_panels_labels(target, horizon):
    frames = _universe(6, 280)
    frames["LATE"] = _prices(200, seed=61, offset=80)
    frames["S01"] = frames["S01"].drop(frames["S01"].index[[50, 120, 121]])
    frames["S04"] = _split(frames["S04"], 170)
    task = _panel(frames, horizon, warmup=20, target=target)
    calendar, symbols, forward, past = calendar_targets(frames, horizon, panel=PanelSettings(target=target, warmup=20))
    assert calendar.equals(task.calendar) and symbols == sorted(frames)
    column = np.array([symbols.index(s) for s in task.symbols])
    assert _same(forward[task.session, column], task.labels)
    assert _same(past[task.session, column], task.past_return)
    assert np.isfinite(task.labels).sum() > 1000
    other = horizon + 1
    _, _, forward2, _ = calendar_targets(frames, other, panel=PanelSettings(target=target))
    assert _same(task.labels_for(other), forward2[task.session, column])


def test_calendar_targets_leave_out_the_symbols_the_panel_excluded():
    frames = _universe(6, 280)
    frames["SHORT"] = _prices(90, seed=9, offset=150)
    task = _panel(frames, 1)
    assert set(task.excluded) == {"SHORT"}
    calendar, symbols, forward, _ = calendar_targets(frames, 1, panel=PanelSettings())
    column = np.array([symbols.index(s) for s in task.symbols])
    assert _same(forward[task.session, column], task.labels)
