"""Split metrics, symbol metrics, the score, the Wilson interval and the usable verdict (DESIGN.md "Definitions")."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bistlab.evaluation.dirhit import USABLE_RULE, dirhit_with_interval, usable_verdict
from bistlab.evaluation.intervals import wilson_interval
from bistlab.evaluation.metrics import SplitMetrics, score, split_metrics, symbol_metrics

# The hand example, thr = 0.005:
#   row        0      1      2       3       4      5
#   y_true   0.01  -0.02  0.003   0.02   -0.01   0.0
#   y_pred   0.02   0.01  0.01   -0.001  -0.03   0.02
#   |yt|>thr   T      T     F       T       T     F
#   |yp|>thr   T      T     T       F       T     T
#   mask       T      T     F       F       T     F      -> mask_count 3, mask_pct 100*3/6 = 50
#   hit?       +/+ y  +/- n                 -/- y        -> dirhit 100*2/3, hits 2
#   call rows: 0 1 2 4 5 (5 of 6, coverage 83.33 %); hits: 0 y, 1 n, 2 y (+/+), 4 y, 5 n (true 0) -> 3/5 = 60 %
#   nRMSE: errors 0.01, 0.03, 0.007, -0.021, -0.02, 0.02
#          sum of squares 1e-4 + 9e-4 + 4.9e-5 + 4.41e-4 + 4e-4 + 4e-4 = 0.00229
#          mean(y_true) = 0.003/6 = 0.0005; sum of squared deviations = 0.001009 - 6*0.0005**2 = 0.0010075
#          nRMSE = sqrt(0.00229/6) / sqrt(0.0010075/6) = sqrt(0.00229/0.0010075) ~ 1.5076 (population std)
#   persistence, past_return signs + + 0 - + -: on the mask (rows 0, 1, 4): + vs + y, + vs - n, + vs - n -> 1/3
#   majority +1 on the mask: true signs + - -  -> 1/3; majority -1 -> 2/3
Y_TRUE = [0.01, -0.02, 0.003, 0.02, -0.01, 0.0]
Y_PRED = [0.02, 0.01, 0.01, -0.001, -0.03, 0.02]
PAST = [0.004, 0.03, 0.0, -0.05, 0.002, -0.01]


def test_split_metrics_hand_example():
    m = split_metrics(Y_TRUE, Y_PRED, thr=0.005, past_return=PAST, train_majority=1)
    assert isinstance(m, SplitMetrics)
    assert m.n_test == 6
    assert m.mask_count == 3
    assert m.mask_pct == pytest.approx(50.0)
    assert m.dirhit == pytest.approx(200 / 3)
    assert m.dirhit_hits == 2
    assert m.nrmse == pytest.approx(math.sqrt(0.00229 / 0.0010075), rel=1e-9)
    assert m.nrmse == pytest.approx(1.50763, abs=1e-5)
    assert m.call_count == 5
    assert m.call_coverage_pct == pytest.approx(500 / 6)
    assert m.call_dirhit == pytest.approx(60.0)
    assert m.persistence_dirhit == pytest.approx(100 / 3)
    assert m.majority_dirhit == pytest.approx(100 / 3)


@pytest.mark.parametrize(("majority", "expected"), [(1, 100 / 3), (-1, 200 / 3), (None, None)])
def test_majority_baseline(majority, expected):
    m = split_metrics(Y_TRUE, Y_PRED, thr=0.005, train_majority=majority)
    assert m.majority_dirhit == (pytest.approx(expected) if expected is not None else None)
    assert m.persistence_dirhit is None  # no past_return given


def test_nrmse_uses_the_population_std():
    # y_true = [0, 0.02]: population std 0.01 (sample std would be 0.01414)
    # y_pred = [0.01, 0.01]: rmse 0.01 -> nRMSE 1.0 exactly
    m = split_metrics([0.0, 0.02], [0.01, 0.01])
    assert m.nrmse == pytest.approx(1.0)


def test_threshold_is_strict_and_configurable():
    # |0.005| is not > 0.005: with the default thr only row 1 is masked
    m = split_metrics([0.005, 0.006], [0.006, 0.006])
    assert (m.mask_count, m.call_count) == (1, 2)
    # thr = 0.0055 -> row 1 only (0.006 > 0.0055); thr = 0.001 -> both rows
    assert split_metrics([0.005, 0.006], [0.006, 0.006], thr=0.001).mask_count == 2


def test_empty_mask_gives_undefined_dirhit_not_zero_or_nan():
    # every |y_true| <= 0.005: nothing in the mask, though the model calls every row
    m = split_metrics([0.001, -0.002, 0.004], [0.1, -0.1, 0.1], past_return=[1.0, 1.0, 1.0], train_majority=1)
    assert m.mask_count == 0
    assert m.mask_pct == 0.0
    assert m.dirhit is None
    assert m.dirhit_hits == 0
    assert m.persistence_dirhit is None
    assert m.majority_dirhit is None
    assert m.call_count == 3
    assert m.call_dirhit == pytest.approx(100.0)  # signs + - + match on every called row
    assert m.to_dict()["dirhit"] is None


def test_no_calls_gives_undefined_call_dirhit():
    m = split_metrics([0.02, -0.02], [0.001, -0.001])
    assert m.call_count == 0 and m.call_dirhit is None and m.call_coverage_pct == 0.0
    assert m.dirhit is None


def test_constant_y_true_gives_infinite_nrmse():
    m = split_metrics([0.01, 0.01, 0.01, 0.01], [0.02, 0.0, 0.01, 0.03])
    assert m.nrmse == math.inf
    assert m.dirhit == pytest.approx(100.0)  # rows 0 and 3 masked, both +/+


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="y_pred"):
        split_metrics([0.01, 0.02], [0.01])


def test_to_dict_round_trips_every_field():
    m = split_metrics(Y_TRUE, Y_PRED)
    assert SplitMetrics(**m.to_dict()) == m


_ret = st.floats(min_value=-0.1, max_value=0.1, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(_ret, _ret), min_size=1, max_size=40))
def test_split_metrics_agrees_with_a_direct_count(pairs):
    yt = np.array([p[0] for p in pairs])
    yp = np.array([p[1] for p in pairs])
    m = split_metrics(yt, yp, thr=0.005)
    masked = [(t, p) for t, p in pairs if abs(t) > 0.005 and abs(p) > 0.005]
    hits = sum((t > 0) == (p > 0) for t, p in masked)
    assert m.mask_count == len(masked)
    assert m.dirhit_hits == hits
    assert m.mask_pct == pytest.approx(100 * len(masked) / len(pairs))
    if masked:
        assert m.dirhit == pytest.approx(100 * hits / len(masked))
        assert 0.0 <= m.dirhit <= 100.0
    else:
        assert m.dirhit is None
    assert m.mask_count <= m.call_count
    assert m.nrmse is not None and m.nrmse >= 0
    # mirroring both series changes no directional metric
    mirrored = split_metrics(-yt, -yp, thr=0.005)
    assert (mirrored.mask_count, mirrored.dirhit_hits, mirrored.call_count) == (m.mask_count, hits, m.call_count)


# --- symbol metrics -------------------------------------------------------------------------------


def _split(dirhit, nrmse=1.0, mask_count=10):
    return {"dirhit": dirhit, "nrmse": nrmse, "mask_count": mask_count, "mask_pct": 10.0}


def test_symbol_metrics_averages_splits_with_a_dirhit():
    # dirhits 60, (undefined), 50 -> (60 + 50) / 2 = 55 over 2 valid splits; nRMSE (1 + 2 + 1.5) / 3 = 1.5
    out = symbol_metrics([_split(60.0, 1.0), _split(None, 2.0, 0), _split(50.0, 1.5)], symbol="ABC", horizon=7)
    assert out["avg_dirhit"] == pytest.approx(55.0)
    assert out["avg_nrmse"] == pytest.approx(1.5)
    assert (out["valid_splits"], out["split_count"]) == (2, 3)
    assert out["low_support_warning"] is False
    assert (out["symbol"], out["horizon"]) == ("ABC", 7)
    assert [s["dirhit"] for s in out["split_metrics"]] == [60.0, None, 50.0]


def test_symbol_metrics_with_one_valid_split_is_low_support():
    out = symbol_metrics([_split(80.0), _split(None, mask_count=0)], symbol="ABC", horizon=1)
    assert out["avg_dirhit"] is None
    assert out["low_support_warning"] is True
    assert out["valid_splits"] == 1


@pytest.mark.parametrize(("min_valid", "avg", "warning"), [(1, 80.0, False), (2, None, True), (3, None, True)])
def test_symbol_metrics_min_valid_splits(min_valid, avg, warning):
    out = symbol_metrics([_split(80.0), _split(None, mask_count=0)], symbol="ABC", horizon=1, min_valid_splits=min_valid)
    assert out["avg_dirhit"] == avg
    assert out["low_support_warning"] is warning


def test_symbol_metrics_nrmse_needs_min_valid_splits_too():
    out = symbol_metrics([_split(60.0, 1.2)], symbol="ABC", horizon=1)
    assert out["avg_nrmse"] is None
    out = symbol_metrics([_split(60.0, 1.2)], symbol="ABC", horizon=1, min_valid_splits=1)
    assert out["avg_nrmse"] == pytest.approx(1.2)


def test_symbol_metrics_takes_split_metrics_objects():
    a = split_metrics(Y_TRUE, Y_PRED)  # dirhit 66.67
    b = split_metrics([0.02, -0.02], [0.01, 0.01])  # one hit of two masked rows: 50
    out = symbol_metrics([a, b], symbol="ABC", horizon=1)
    assert out["avg_dirhit"] == pytest.approx((200 / 3 + 50) / 2)
    assert out["split_metrics"][0] == a.to_dict()


def test_symbol_metrics_with_no_splits():
    out = symbol_metrics([], symbol="ABC", horizon=1)
    assert out["avg_dirhit"] is None and out["avg_nrmse"] is None and out["low_support_warning"] is True


# --- score ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("horizon", "expected"),
    [
        (1, 36.0),  # 0.7 * 60 - 6 * 1.0 = 42 - 6
        (3, 36.0),
        (7, 36.0),
        (14, 38.0),  # 0.7 * 60 - 4 * 1.0 = 42 - 4
        (30, 38.0),
        (2, 38.0),  # any other horizon: k = 4
    ],
)
def test_score_weights_nrmse_by_horizon(horizon, expected):
    assert score(60.0, 1.0, horizon=horizon) == pytest.approx(expected)


@pytest.mark.parametrize("nrmse", [None, math.inf, -math.inf, math.nan])
@pytest.mark.parametrize(("horizon", "expected"), [(1, 24.0), (14, 30.0)])
def test_score_counts_a_missing_nrmse_as_three(nrmse, horizon, expected):
    # h=1: 42 - 6 * 3 = 24; h=14: 42 - 4 * 3 = 30
    assert score(60.0, nrmse, horizon=horizon) == pytest.approx(expected)


@pytest.mark.parametrize("nrmse", [1.0, None])
def test_score_without_dirhit_is_none(nrmse):
    assert score(None, nrmse, horizon=1) is None


def test_score_of_symbol_metrics():
    out = symbol_metrics([_split(60.0, 0.9), _split(50.0, 1.1)], symbol="ABC", horizon=3)
    # 0.7 * 55 - 6 * 1.0 = 38.5 - 6 = 32.5
    assert score(out["avg_dirhit"], out["avg_nrmse"], horizon=3) == pytest.approx(32.5)


# --- Wilson interval -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hits", "count", "low", "high"),
    # textbook Wilson score interval, z = 1.96, evaluated to 30 digits with mpmath
    [
        (50, 100, 40.383, 59.617),
        (0, 10, 0.0, 27.753),
        (10, 10, 72.247, 100.0),
        (7, 10, 39.678, 89.221),
        (1, 1, 20.654, 100.0),
        (65, 120, 45.261, 62.814),
    ],
)
def test_wilson_interval_known_values(hits, count, low, high):
    lo, hi = wilson_interval(hits, count)
    assert lo == pytest.approx(low, abs=1e-3)
    assert hi == pytest.approx(high, abs=1e-3)


@pytest.mark.parametrize("count", [0, -1])
def test_wilson_interval_of_nothing_is_none(count):
    assert wilson_interval(0, count) is None


@settings(max_examples=100, deadline=None)
@given(data=st.data(), count=st.integers(min_value=1, max_value=5000))
def test_wilson_interval_contains_the_estimate(data, count):
    hits = data.draw(st.integers(min_value=0, max_value=count))
    lo, hi = wilson_interval(hits, count)
    p = 100.0 * hits / count
    assert 0.0 <= lo <= hi <= 100.0
    assert lo <= p + 1e-9 and p - 1e-9 <= hi
    assert hi - lo > 0
    # symmetric: misses' interval mirrors hits'
    mlo, mhi = wilson_interval(count - hits, count)
    assert mlo == pytest.approx(100.0 - hi, abs=1e-9) and mhi == pytest.approx(100.0 - lo, abs=1e-9)


@pytest.mark.parametrize(("hits", "count"), [(0, 3), (0, 100), (10, 10), (25, 25)])
def test_wilson_interval_is_exact_at_the_extremes(hits, count):
    lo, hi = wilson_interval(hits, count)
    assert lo <= 100.0 * hits / count <= hi


def test_dirhit_with_interval_reads_like_the_docstring():
    assert dirhit_with_interval(65, 120) == "54.2 % (n=120, 95 % CI 44.8–63.3)"
    assert dirhit_with_interval(0, 0) == "undefined (n=0)"


# --- usable verdict ------------------------------------------------------------------------------
# 70/100 right: exact (Clopper–Pearson) 95 % interval (60.019, 78.759); 58/100 right: lower bound 47.712;
# 3/3: lower bound 0.025 ** (1/3) = 29.240


def _holdout(hits, count, persistence=None, majority=None):
    return {
        "dirhit": 100.0 * hits / count if count else None,
        "dirhit_hits": hits,
        "mask_count": count,
        "persistence_dirhit": persistence,
        "majority_dirhit": majority,
    }


@pytest.mark.parametrize("persistence", [55.0, 61.0, 69.9])
def test_usable_when_the_lower_bound_beats_50_and_the_dirhit_beats_every_baseline(persistence):
    v = usable_verdict(_holdout(70, 100, persistence=persistence, majority=52.0))
    assert v["usable"] is True and v["beats_baseline"] is True
    assert v["dirhit_lower_95"] == pytest.approx(60.019, abs=1e-3)
    assert v["dirhit_upper_95"] == pytest.approx(78.759, abs=1e-3)
    assert v["best_baseline_dirhit"] == persistence
    assert v["rule"] == USABLE_RULE


@pytest.mark.parametrize(
    ("holdout", "why"),
    [
        (_holdout(70, 100, persistence=71.0, majority=52.0), "persistence beats the DirHit"),
        (_holdout(70, 100, persistence=40.0, majority=70.0), "majority ties the DirHit"),
        (_holdout(58, 100, persistence=30.0, majority=30.0), "lower bound 47.7 is not above 50"),
        (_holdout(3, 3, persistence=0.0, majority=0.0), "3/3 right: exact lower bound 29.2 is not above 50"),
        (_holdout(0, 0), "no masked rows"),
    ],
)
def test_not_usable(holdout, why):
    v = usable_verdict(holdout)
    assert v["usable"] is False, why


def test_a_dirhit_that_does_not_beat_the_baseline_gets_no_p_value_for_the_family():
    v = usable_verdict(_holdout(70, 100, persistence=70.0, majority=30.0))
    assert v["usable"] is False and v["beats_baseline"] is False and v["p_value"] == 1.0


def test_no_masked_rows_has_no_interval():
    v = usable_verdict(_holdout(0, 0, persistence=50.0))
    assert v["dirhit_lower_95"] is None and v["dirhit_upper_95"] is None
    assert v["best_baseline_dirhit"] == 50.0


def test_usable_verdict_takes_split_metrics():
    # 60 masked rows, all right; persistence (sign of past_return = -1) is right on none; majority +1 on all
    y = np.full(60, 0.02)
    m = split_metrics(y + np.linspace(0, 0.01, 60), y, past_return=-y, train_majority=1)
    assert (m.mask_count, m.dirhit_hits, m.persistence_dirhit, m.majority_dirhit) == (60, 60, 0.0, 100.0)
    v = usable_verdict(m)
    assert v["best_baseline_dirhit"] == 100.0
    assert v["usable"] is False  # a model that only matches "always up" is not usable
    m2 = split_metrics(y + np.linspace(0, 0.01, 60), y, past_return=-y, train_majority=-1)
    assert usable_verdict(m2)["usable"] is True  # lower bound ~ 94 % beats 50 and 0


# --- overlapping labels: effective counts, intervals of the very number, the rule's p-value --------

from bistlab.evaluation.metrics import effective_count  # noqa: E402
from bistlab.evaluation.dirhit import DirHit  # noqa: E402
from bistlab.evaluation.intervals import min_passing_dirhit, one_sided_p  # noqa: E402


@pytest.mark.parametrize(
    ("rows", "horizon", "expected"),
    [
        ([], 5, 0),
        ([3], 30, 1),
        (list(range(120)), 1, 120),
        (list(range(120)), 30, 5),  # their labels cover days 0..148: 149 days need ceil(149 / 30) = 5 windows
        (list(range(120)), 7, 18),  # 126 days: ceil(126 / 7)
        ([0, 50, 100], 7, 3),  # far apart: each its own outcome
        ([0, 1, 2, 100], 30, 3),  # days 0..31 and 100..129: 32 + 30 = 62 -> ceil(62 / 30) = 3, not the span's 4
        (list(range(10)) + list(range(100, 110)), 5, 6),  # two clusters: 14 + 14 = 28 days -> 6, not ceil(110 / 5) = 22
        ([5, 1, 3], 1, 3),  # any order
        ([0, 1, 2, 3], 30, 2),  # one cluster of 4 rows: their labels cover 33 days -> ceil(33 / 30) = 2
        ([7, 7, 7, 8, 8], 1, 2),  # repeated positions (rows of one session) count once
        ([7, 7, 7, 8, 8], 5, 2),  # days 7..12: ceil(6 / 5) = 2, however many rows share them
    ],
)
def test_effective_count(rows, horizon, expected):
    assert effective_count(rows, horizon=horizon) == expected


def test_split_metrics_records_effective_counts_of_overlapping_labels():
    y = np.tile([0.02, -0.03], 60)
    m1 = split_metrics(y, y, horizon=1)
    m30 = split_metrics(y, y, horizon=30)
    assert (m1.dirhit_n_eff, m30.dirhit_n_eff) == (120, 5)
    assert m30.horizon == 30 and m30.call_n_eff == 5
    # the same 120 right calls: at h = 30 they are 5 outcomes, and the interval says so
    wide, narrow = DirHit.rate(m30.dirhit_hits, m30.mask_count, m30.dirhit_n_eff), DirHit.rate(m1.dirhit_hits, m1.mask_count, m1.dirhit_n_eff)
    assert wide.low < 60.0 < narrow.low


def test_a_zero_past_return_is_no_call_for_persistence_not_a_wrong_one():
    # four masked rows, all up; past returns +, 0, 0, - : persistence calls 2 rows, right on 1
    y = [0.01, 0.02, 0.03, 0.04]
    m = split_metrics(y, y, past_return=[0.01, 0.0, 0.0, -0.02], train_majority=1)
    assert m.mask_count == 4
    assert (m.persistence_hits, m.persistence_count, m.persistence_no_direction) == (1, 2, 2)
    assert m.persistence_dirhit == pytest.approx(50.0)  # not 25 %: the zeros are not wrong calls
    # NaN past returns (no history) are no call either
    assert split_metrics(y, y, past_return=[np.nan, 0.01, 0.01, 0.01]).persistence_count == 3


def test_agreement_with_the_baselines_is_the_share_of_calls_in_their_direction():
    y_pred = [0.01, 0.01, 0.01, -0.01]
    m = split_metrics([0.02, -0.02, 0.02, 0.02], y_pred, past_return=[0.01, 0.01, -0.01, 0.0], train_majority=1)
    assert m.agree_majority_pct == pytest.approx(75.0)  # 3 of 4 calls up
    assert m.agree_persistence_pct == pytest.approx(200 / 3)  # rows 0-2 have a past direction; rows 0, 1 agree


def _splits_strategy():
    return st.lists(
        st.tuples(st.integers(min_value=1, max_value=400), st.floats(min_value=0.0, max_value=1.0), st.integers(min_value=1, max_value=30)),
        min_size=1,
        max_size=6,
    )


@settings(max_examples=150, deadline=None)
@given(parts=_splits_strategy())
def test_the_interval_of_a_mean_of_splits_contains_the_mean(parts):
    splits = []
    for count, share, horizon in parts:
        hits = round(share * count)
        splits.append({"dirhit": 100.0 * hits / count, "dirhit_hits": hits, "mask_count": count, "n_test": count, "horizon": horizon})
    fig = DirHit.mean_of_splits(splits)
    assert fig.mean_of == len(splits)
    assert fig.value == pytest.approx(np.mean([s["dirhit"] for s in splits]))
    assert 0.0 <= fig.low <= fig.value <= fig.high <= 100.0
    assert fig.count == sum(s["mask_count"] for s in splits)


@settings(max_examples=150, deadline=None)
@given(count=st.integers(min_value=1, max_value=500), share=st.floats(min_value=0.0, max_value=1.0), n_eff=st.floats(min_value=0.5, max_value=500.0))
def test_a_rate_interval_contains_the_rate_at_any_effective_count(count, share, n_eff):
    hits = round(share * count)
    fig = DirHit.rate(hits, count, n_eff)
    assert fig.low <= fig.value <= fig.high
    full = DirHit.rate(hits, count)
    assert fig.high - fig.low >= full.high - full.low - 1e-9 or n_eff >= count  # fewer outcomes, never a narrower interval


@settings(max_examples=200, deadline=None)
@given(count=st.integers(min_value=5, max_value=300), share=st.floats(min_value=0.3, max_value=1.0), bar=st.floats(min_value=50.0, max_value=80.0), horizon=st.sampled_from([1, 3, 7, 14, 30]))
def test_the_rule_and_its_p_value_agree(count, share, bar, horizon):
    hits = round(share * count)
    n_eff = min(count, -(-count // horizon))
    holdout = {"dirhit": 100.0 * hits / count, "dirhit_hits": hits, "mask_count": count, "dirhit_n_eff": n_eff, "persistence_dirhit": bar, "majority_dirhit": 40.0}
    v = usable_verdict(holdout)
    beats = 100.0 * hits / count > bar
    p = one_sided_p(hits, count, n_eff=n_eff, bar=50.0) if beats else 1.0
    assert v["p_value"] == pytest.approx(p) and v["beats_baseline"] is beats
    if abs(v["dirhit_lower_95"] - 50.0) > 1e-6:  # away from the knife edge
        assert v["passes_rule"] == (p < 0.025)


# below EXACT_BELOW the exact test's bar: n hits of n pass only when 0.5 ** n < 0.025 (n >= 6); 18 outcomes need 75.57 %
# (13.6 scaled hits: P(X >= 13.6) = 0.025 for X ~ Binomial(18, 0.5) interpolated); from 1000 on the score test's 50 + 98 / sqrt(n)
@pytest.mark.parametrize(
    ("n_eff", "expected"), [(3, None), (4, None), (5, None), (6, 96.76), (18, 75.57), (49, 64.95), (50, 64.79), (120, 59.34), (1000, 53.10), (0, None)]
)
def test_min_passing_dirhit(n_eff, expected):
    got = min_passing_dirhit(n_eff)
    assert got == (pytest.approx(expected, abs=0.01) if expected is not None else None)
    if got is not None:  # just above the bar passes, just below does not
        assert DirHit.rate(got / 100 * n_eff + 1e-6, n_eff).low > 50.0 - 1e-9
        assert DirHit.rate(got / 100 * n_eff - 0.05, n_eff).low < 50.0


def test_usable_verdict_uses_the_effective_count_of_the_record():
    # the issue's h = 30 model: 96.4 % of 110 masked rows looks strong; over a 120-row holdout it is 4
    # independent 30-day outcomes, where not even 100 % could clear 50 % (exact: 4 of 4 has p = 0.0625)
    holdout = {"dirhit": 100.0 * 106 / 110, "dirhit_hits": 106, "mask_count": 110, "dirhit_n_eff": 4, "persistence_dirhit": 40.0, "majority_dirhit": 45.0}
    v = usable_verdict(holdout)
    assert v["passes_rule"] is False and v["n_eff"] == 4 and v["min_passing_dirhit"] is None
    assert usable_verdict({**holdout, "dirhit_n_eff": 110})["passes_rule"] is True
    # an older record without effective counts falls back to ceil(n_test / h)
    old = {k: v for k, v in holdout.items() if k != "dirhit_n_eff"} | {"n_test": 120}
    assert usable_verdict(old, horizon=30)["n_eff"] == 4


# --- issue 19: the union of label windows, exact tests at small counts ----------------------------

from scipy.stats import binomtest  # noqa: E402

from bistlab.evaluation.intervals import EXACT_BELOW, INTERVAL_METHOD, dirhit_interval, exact_interval, method_name  # noqa: E402


def test_4_of_4_at_h1_is_not_usable():
    # the normal approximation passed it (lower bound 51.0 %, p = 0.023); the exact probability is 0.5 ** 4
    y = [0.02, -0.02, 0.03, -0.01]
    m = split_metrics(y, y, past_return=[-v for v in y], train_majority=1, horizon=1)
    assert (m.dirhit_hits, m.mask_count, m.dirhit_n_eff) == (4, 4, 4)
    v = usable_verdict(m)
    assert v["usable"] is False and v["passes_rule"] is False
    assert v["p_value"] == pytest.approx(0.0625)
    assert v["dirhit_lower_95"] == pytest.approx(100 * 0.025**0.25)  # 39.8 %
    assert v["test"] == "exact binomial (Clopper–Pearson)" and v["method"] == INTERVAL_METHOD
    assert v["min_passing_dirhit"] is None  # 4 outcomes cannot certify anything


def test_split_metrics_counts_clustered_calls_as_the_windows_they_cover():
    # two clusters of 10 calls at h = 5: days 0..13 and 100..113, 6 windows (the span would say 22)
    y = np.full(120, 0.02)
    pred = np.full(120, 0.001)
    pred[list(range(10)) + list(range(100, 110))] = 0.02
    m = split_metrics(y, pred, horizon=5)
    assert (m.mask_count, m.dirhit_n_eff, m.call_n_eff) == (20, 6, 6)
    # a universe task's rows share sessions: positions repeat, and each session counts once
    m = split_metrics([0.02] * 6, [0.02] * 6, horizon=1, positions=[3, 3, 3, 4, 4, 9])
    assert m.dirhit_n_eff == 3


@pytest.mark.parametrize(("hits", "n"), [(4, 4), (3, 10), (13, 18), (30, 40), (0, 5), (7, 7), (25, 49)])
def test_the_exact_test_is_scipys_binomtest_at_integer_counts(hits, n):
    assert n < EXACT_BELOW
    p = one_sided_p(hits, n, n_eff=n, bar=50.0)
    assert p == pytest.approx(binomtest(hits, n, 0.5, alternative="greater").pvalue, rel=1e-9)
    ci = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, hi = exact_interval(hits, n)
    assert (lo, hi) == (pytest.approx(100 * ci.low, abs=1e-9), pytest.approx(100 * ci.high, abs=1e-9))
    assert dirhit_interval(hits, n) == (lo, hi) and DirHit.rate(hits, n).low == lo


def test_the_scaled_hits_are_not_rounded():
    # 110 masked rows, 94.5 % right, 6 outcomes: 5.67 scaled hits, between 5 of 6 (p = 0.109) and 6 of 6 (0.0156)
    p = one_sided_p(104, 110, n_eff=6, bar=50.0)
    assert binomtest(6, 6, alternative="greater").pvalue < p < binomtest(5, 6, alternative="greater").pvalue
    # an effective count above the count is capped at the count
    assert one_sided_p(3, 4, n_eff=40, bar=50.0) == pytest.approx(binomtest(3, 4, alternative="greater").pvalue)


def test_the_method_switches_at_exact_below():
    assert method_name(EXACT_BELOW - 1) == "exact binomial (Clopper–Pearson)" and method_name(EXACT_BELOW) == "Wilson score"
    n = EXACT_BELOW
    assert dirhit_interval(550, n) == wilson_interval(550, n)
    assert dirhit_interval(550, n + 10, n_eff=n - 1) == exact_interval(550, n + 10, n_eff=n - 1)
    assert one_sided_p(550, n, n_eff=n, bar=50.0) == pytest.approx(0.0007827, abs=1e-6)  # score test: z = 0.05 / sqrt(0.25 / 1000) = 3.162
    assert f"n_eff < {EXACT_BELOW}" in INTERVAL_METHOD and "union" in INTERVAL_METHOD


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=80), horizon=st.sampled_from([1, 2, 3, 5, 7, 14, 30]))
def test_effective_count_properties(rows, horizon):
    n_eff = effective_count(rows, horizon=horizon)
    distinct = len(set(rows))
    assert 1 <= n_eff <= distinct <= len(rows)
    if horizon == 1:
        assert n_eff == distinct
    # never more than the span's count (the old bound), and never less than rows h apart would give
    span = max(rows) - min(rows) + 1
    assert n_eff <= math.ceil((span + horizon - 1) / horizon)
    assert effective_count(sorted(rows, reverse=True), horizon=horizon) == n_eff
    assert effective_count(rows + rows, horizon=horizon) == n_eff  # repeats count once


@settings(max_examples=300, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=300),
    share=st.floats(min_value=0.0, max_value=1.0),
    n_eff=st.floats(min_value=0.5, max_value=300.0),
    bar=st.floats(min_value=50.0, max_value=90.0),
)
def test_the_interval_contains_the_figure_and_the_p_value_agrees_with_the_lower_bound(count, share, n_eff, bar):
    hits = round(share * count)
    fig = DirHit.rate(hits, count, n_eff)
    assert 0.0 <= fig.low <= fig.value <= fig.high <= 100.0
    p = one_sided_p(hits, count, n_eff=fig.n_eff, bar=bar)
    if abs(fig.low - bar) > 1e-7:  # away from the knife edge
        assert (p < 0.025) == (fig.low > bar), (p, fig.low)
    holdout = {"dirhit": fig.value, "dirhit_hits": hits, "mask_count": count, "dirhit_n_eff": n_eff, "persistence_dirhit": bar, "majority_dirhit": 40.0}
    v = usable_verdict(holdout)
    p50 = one_sided_p(hits, count, n_eff=fig.n_eff, bar=50.0) if fig.value > bar else 1.0
    assert v["p_value"] == pytest.approx(p50) and v["dirhit_lower_95"] == fig.low


@settings(max_examples=100, deadline=None)
@given(n_eff=st.floats(min_value=1.0, max_value=400.0), bar=st.floats(min_value=50.0, max_value=80.0))
def test_min_passing_dirhit_is_where_the_test_starts_to_pass(n_eff, bar):
    need = min_passing_dirhit(n_eff, bar=bar)
    if need is None:  # not even every call right passes
        assert one_sided_p(1000, 1000, n_eff=n_eff, bar=bar) >= 0.025
        return
    count = 1000
    above, below = min(100.0, need + 0.05), need - 0.05
    assert one_sided_p(above * count / 100, count, n_eff=n_eff, bar=bar) < 0.025
    assert one_sided_p(below * count / 100, count, n_eff=n_eff, bar=bar) > 0.025


# --- issue 19: the paired comparison with the best baseline and the edge's interval ---------------

from bistlab.evaluation.dirhit import Edge, edge_figure  # noqa: E402


def test_split_metrics_counts_the_rows_where_model_and_baseline_disagree():
    y = [0.02, 0.02, -0.02, -0.02, 0.02, 0.02]
    pred = [0.01, 0.01, 0.01, -0.01, -0.01, 0.01]  # right on rows 0, 1, 3, 5
    past = [0.01, -0.01, 0.01, -0.01, 0.01, 0.0]  # persistence right on 0, 3, 4; row 5 has no direction
    m = split_metrics(y, pred, past_return=past, train_majority=1)
    assert (m.persistence_wins, m.persistence_losses) == (1, 1)  # wins row 1, loses row 4
    assert (m.majority_wins, m.majority_losses) == (1, 1)  # majority (always up) right on 0, 1, 4, 5: wins row 3, loses row 4


@pytest.mark.parametrize(("wins", "losses"), [(0, 0), (10, 0), (14, 9), (9, 14), (40, 38)])
def test_the_edge_interval_contains_the_printed_edge_and_the_paired_test_is_the_sign_test(wins, losses):
    n = 100
    holdout = {
        "dirhit": 60.0, "dirhit_hits": 60, "mask_count": n, "dirhit_n_eff": n,
        "persistence_dirhit": 60.0 - 100 * (wins - losses) / n, "persistence_hits": 60 - (wins - losses), "persistence_count": n,
        "persistence_wins": wins, "persistence_losses": losses,
    }
    e = edge_figure(holdout)
    assert e.baseline == "persistence" and e.value == pytest.approx(wins - losses)
    assert e.low <= e.value <= e.high
    if wins + losses:
        assert e.p_value == pytest.approx(binomtest(wins, wins + losses, alternative="greater").pvalue, rel=1e-9)
    else:
        assert e.low == e.high == e.value == 0.0
    assert "where they disagree" in e.text()


def test_the_edge_is_wider_at_a_smaller_effective_count():
    base = {"dirhit": 60.0, "dirhit_hits": 60, "mask_count": 100, "majority_dirhit": 50.0, "majority_hits": 50, "majority_wins": 20, "majority_losses": 10}
    narrow, wide = edge_figure({**base, "dirhit_n_eff": 100}), edge_figure({**base, "dirhit_n_eff": 15})
    assert narrow.value == wide.value == pytest.approx(10.0)
    assert wide.high - wide.low > 2 * (narrow.high - narrow.low) and wide.p_value > narrow.p_value


def test_an_old_record_without_paired_counts_has_an_edge_without_interval():
    e = edge_figure({"dirhit": 60.0, "dirhit_hits": 60, "mask_count": 100, "majority_dirhit": 52.0})
    assert isinstance(e, Edge) and e.value == pytest.approx(8.0) and e.low is None and "no interval" in e.text()
    assert edge_figure({"dirhit": 60.0, "dirhit_hits": 60, "mask_count": 100}) is None


def test_the_verdict_carries_the_edge_over_the_best_baseline():
    y = np.tile([0.02, -0.02, 0.03], 40)
    pred = np.where(np.arange(120) % 4 == 0, -y, y)  # 75 % right
    m = split_metrics(y, pred, past_return=np.roll(y, 1), train_majority=1)
    v = usable_verdict(m)
    assert v["edge"]["baseline"] == v["best_baseline"]
    assert v["edge"]["value"] == pytest.approx(m.dirhit - v["best_baseline_dirhit"])
    assert v["edge"]["low"] <= v["edge"]["value"] <= v["edge"]["high"]
