"""Universe-model holdout metrics and verdict (DESIGN.md "Universe models"): hand-computed figures,
intervals that contain their figures, the verdict's reasons, and a fast run of the yardstick."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from bistlab.errors import ConfigError
from bistlab.evaluation.panel_metrics import PanelMetrics, panel_metrics
from bistlab.evaluation.date_bootstrap import BOOTSTRAP_METHOD, block_length, widening
from bistlab.evaluation.universe_simulation import simulate_panel, simulate_universe_rule
from bistlab.evaluation.universe_rule import USABLE_RULE_UNIVERSE, universe_verdict

# The hand example, thr = 0.005, two dates of three rows:
#   row        0      1      2       3       4      5
#   session    0      0      0       1       1      1
#   y_true   0.01  -0.02  0.003   0.02   -0.01   0.0
#   y_pred   0.02   0.01  0.01   -0.001  -0.03   0.02
#   mask       T      T     F       F       T     F      -> mask_count 3, mask_pct 50
#   hit?       y      n                     y            -> dirhit 200/3, hits 2
#   all rows (y_true != 0): 0 y, 1 n, 2 y, 3 n, 4 y      -> 3/5 = 60 %
#   past     0.004  0.03  0.0   -0.05   0.002  -0.01
#   persistence on the mask: 0 (+/+) y, 1 (+/-) n, 4 (+/-) n -> 1/3 over 3 rows
#   majority +1 on the mask: + - -  -> 1/3; majority -1 -> 2/3
SESSION = [0, 0, 0, 1, 1, 1]
Y_TRUE = [0.01, -0.02, 0.003, 0.02, -0.01, 0.0]
Y_PRED = [0.02, 0.01, 0.01, -0.001, -0.03, 0.02]
PAST = [0.004, 0.03, 0.0, -0.05, 0.002, -0.01]


def _hand(**overrides):
    kwargs = dict(session=SESSION, y_true=Y_TRUE, y_pred=Y_PRED, past_target=PAST, train_majority=1, horizon=1, n_boot=200)
    kwargs.update(overrides)
    return panel_metrics(**{k: np.asarray(v) if isinstance(v, list) else v for k, v in kwargs.items()})


def _figures(m: PanelMetrics) -> list[tuple[str, float | None, float | None, float | None]]:
    out = [
        ("dirhit", m.dirhit, m.dirhit_lo, m.dirhit_hi),
        ("all_dirhit", m.all_dirhit, m.all_dirhit_lo, m.all_dirhit_hi),
        ("persistence", m.persistence_dirhit, m.persistence_lo, m.persistence_hi),
        ("majority", m.majority_dirhit, m.majority_lo, m.majority_hi),
        ("edge", m.edge, m.edge_lo, m.edge_hi),
        ("ic", m.ic_mean, m.ic_lo, m.ic_hi),
        ("spread", m.spread_mean, m.spread_lo, m.spread_hi),
        ("spread_net", m.spread_net, m.spread_net_lo, m.spread_net_hi),
    ]
    for t in m.ic_by_tercile or []:
        out.append((f"ic tercile {t['tercile']}", t["ic_mean"], t["ic_lo"], t["ic_hi"]))
    return out


def test_hand_example_dirhit_and_baselines():
    m = _hand()
    assert (m.n_rows, m.n_dates, m.mask_count, m.dirhit_hits) == (6, 2, 3, 2)
    assert m.mask_pct == pytest.approx(50.0)
    assert m.dirhit == pytest.approx(200 / 3)
    assert (m.all_hits, m.all_count) == (3, 5)
    assert m.all_dirhit == pytest.approx(60.0)
    assert (m.persistence_hits, m.persistence_count, m.persistence_no_direction) == (1, 3, 0)
    assert m.persistence_dirhit == pytest.approx(100 / 3)
    assert m.majority_dirhit == pytest.approx(100 / 3)
    assert m.best_baseline_dirhit == pytest.approx(100 / 3)
    assert m.edge == pytest.approx(100 / 3)


@pytest.mark.parametrize(("majority", "expected"), [(1, 100 / 3), (-1, 200 / 3)])
def test_majority_baseline_calls_its_sign_on_every_masked_row(majority, expected):
    m = _hand(train_majority=majority)
    assert m.majority_dirhit == pytest.approx(expected)
    assert m.best_baseline == ("majority" if majority == -1 else "persistence")  # a tie goes to persistence
    assert m.edge == pytest.approx(200 / 3 - max(expected, 100 / 3))


@pytest.mark.parametrize("no_call", [0.0, np.nan])
def test_a_row_without_a_past_direction_is_not_counted_against_persistence(no_call):
    past = list(PAST)
    past[1] = no_call  # masked row 1: persistence would have been wrong (+ vs -)
    past[4] = no_call  # masked row 4: likewise
    m = _hand(past_target=past)
    assert (m.persistence_hits, m.persistence_count, m.persistence_no_direction) == (1, 1, 2)
    assert m.persistence_dirhit == pytest.approx(100.0)
    assert m.best_baseline == "persistence"
    assert m.edge == pytest.approx(200 / 3 - 100.0)


def test_rows_in_any_order_give_the_same_metrics():
    order = np.array([5, 3, 0, 4, 2, 1])
    shuffled = _hand(**{k: list(np.asarray(v)[order]) for k, v in dict(session=SESSION, y_true=Y_TRUE, y_pred=Y_PRED, past_target=PAST).items()})
    assert shuffled.to_dict() == _hand().to_dict()


def test_rank_ic_by_date_hand_example():
    # date 0: pred 1..5, y ranks 1 3 2 5 4 -> d = 0 -1 1 -1 1 -> 1 - 6*4/120 = 0.8
    # date 1: constant predictions -> skipped; date 2: 4 rows -> skipped; date 3: reversed -> -1
    session = [0] * 5 + [1] * 6 + [2] * 4 + [3] * 5
    pred = [1, 2, 3, 4, 5] + [0.01] * 6 + [1, 2, 3, 4] + [1, 2, 3, 4, 5]
    y = [0.01, 0.03, 0.02, 0.05, 0.04] + [0.01, -0.01, 0.02, 0.0, 0.03, -0.02] + [0.01, 0.02, 0.03, 0.04] + [5, 4, 3, 2, 1]
    m = panel_metrics(session=np.array(session), y_true=np.array(y, float), y_pred=np.array(pred, float), past_target=np.zeros(len(y)), train_majority=1, horizon=1, n_boot=100)
    assert m.n_ic_dates == 2
    assert m.ic_by_date == [[0, pytest.approx(0.8)], [3, pytest.approx(-1.0)]]
    assert m.ic_mean == pytest.approx(-0.1)
    assert m.ic_std == pytest.approx(1.8 / math.sqrt(2))
    assert m.icir == pytest.approx(-0.1 / (1.8 / math.sqrt(2)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_ic_with_ties_and_terciles_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    n_dates, width = 6, 30
    session = np.repeat(np.arange(n_dates), width)
    pred = rng.integers(0, 8, session.size).astype(float)  # many ties
    y = rng.normal(size=session.size)
    tercile = np.tile(np.arange(width) % 3, n_dates)
    m = panel_metrics(session=session, y_true=y, y_pred=pred, past_target=y, train_majority=1, horizon=1, tercile=tercile, n_boot=50)
    expected = [stats.spearmanr(pred[session == d], y[session == d])[0] for d in range(n_dates)]
    assert [ic for _, ic in m.ic_by_date] == pytest.approx(expected)
    for t in m.ic_by_tercile:
        rows = [(session == d) & (tercile == t["tercile"]) for d in range(n_dates)]
        assert t["ic_mean"] == pytest.approx(np.mean([stats.spearmanr(pred[r], y[r])[0] for r in rows]))
        assert t["n_dates"] == n_dates


def test_rows_of_unknown_liquidity_are_left_out_of_the_tercile_ic_only():
    rng = np.random.default_rng(8)
    session = np.repeat(np.arange(4), 24)
    pred, y = rng.normal(size=session.size), rng.normal(size=session.size)
    tercile = np.tile(np.r_[np.arange(18) % 3, [-1] * 6], 4)
    m = panel_metrics(session=session, y_true=y, y_pred=pred, past_target=y, train_majority=1, horizon=1, tercile=tercile, n_boot=50)
    known = tercile >= 0
    kept = panel_metrics(session=session[known], y_true=y[known], y_pred=pred[known], past_target=y[known], train_majority=1, horizon=1, tercile=tercile[known], n_boot=50)
    assert m.ic_by_tercile == kept.ic_by_tercile
    assert m.n_rows == 96 and m.ic_mean != kept.ic_mean


def test_quintile_spread_hand_example():
    # date 0: 10 rows, pred 0..9 -> k = 2: top y (0.05 + 0.03) / 2 = 0.04, bottom (0.01 + 0.02) / 2 = 0.015 -> 0.025
    # date 1: 5 rows, pred 5..1 -> k = 1: top 0.1, bottom -0.1 -> 0.2; date 2: 4 rows -> skipped
    session = [0] * 10 + [1] * 5 + [2] * 4
    pred = list(range(10)) + [5, 4, 3, 2, 1] + [1, 2, 3, 4]
    y = [0.01, 0.02, 0, 0, 0, 0, 0, 0, 0.05, 0.03] + [0.1, 0, 0, 0, -0.1] + [0.3, 0.2, 0.1, 0.0]
    m = panel_metrics(session=np.array(session), y_true=np.array(y, float), y_pred=np.array(pred, float), past_target=np.zeros(len(y)), train_majority=1, horizon=1, cost_per_side=0.001, n_boot=100)
    assert m.n_spread_dates == 2
    assert m.spread_mean == pytest.approx((0.025 + 0.2) / 2)
    assert m.spread_net == pytest.approx((0.025 + 0.2) / 2 - 4 * 0.001)
    assert m.spread_net_lo == pytest.approx(m.spread_lo - 0.004)


def test_to_dict_from_dict_round_trip_through_json():
    sim = simulate_panel(7, skill="skilled", seed=3, n_symbols=30, n_sessions=400, n_holdout=60)
    m = panel_metrics(**{k: sim[k] for k in ("session", "y_true", "y_pred", "past_target", "train_majority", "tercile", "symbol")}, horizon=7, n_boot=100)
    data = json.loads(json.dumps(m.to_dict(), allow_nan=False))
    assert PanelMetrics.from_dict(data) == m
    assert m.n_symbols == 30 and m.method == BOOTSTRAP_METHOD
    json.dumps(universe_verdict(m), allow_nan=False)


def test_bootstrap_is_reproducible_by_seed():
    sim = simulate_panel(1, skill="none", seed=4, n_symbols=20, n_sessions=300, n_holdout=60)
    args = {k: sim[k] for k in ("session", "y_true", "y_pred", "past_target", "train_majority")}
    a, b = panel_metrics(**args, horizon=1, seed=9), panel_metrics(**args, horizon=1, seed=9)
    assert a == b


panels = st.integers(min_value=0, max_value=10_000).flatmap(
    lambda seed: st.tuples(
        st.just(seed),
        st.integers(min_value=1, max_value=40),  # dates
        st.integers(min_value=1, max_value=12),  # most rows a date
        st.integers(min_value=1, max_value=10),  # horizon
        st.integers(min_value=20, max_value=200),  # n_boot
        st.sampled_from([0.0, 0.005, 0.5]),  # thr
    )
)


@settings(max_examples=60, deadline=None)
@given(panels)
def test_every_interval_contains_its_figure_and_p_values_are_valid(case):
    seed, n_dates, width, horizon, n_boot, thr = case
    rng = np.random.default_rng(seed)
    rows = rng.integers(1, width + 1, n_dates)
    session = np.repeat(rng.choice(1000, n_dates, replace=False), rows)
    n = session.size
    y = np.round(rng.normal(0, 0.02, n), 3)  # ties and zeros
    pred = np.round(rng.normal(0, 0.02, n) + 0.01 * rng.integers(-1, 2) * np.sign(y), 2)
    past = np.where(rng.random(n) < 0.2, rng.choice([0.0, np.nan]), rng.normal(0, 0.02, n))
    m = panel_metrics(session=session, y_true=y, y_pred=pred, past_target=past, train_majority=int(rng.choice([-1, 1])), horizon=horizon, thr=thr, tercile=rng.integers(0, 3, n), n_boot=n_boot, seed=seed)
    json.dumps(m.to_dict(), allow_nan=False)
    for name, figure, lo, hi in _figures(m):
        if figure is None:
            assert lo is None and hi is None, name
        else:
            assert lo <= figure <= hi, (name, lo, figure, hi)
    for p in (m.dirhit_p, m.edge_p, m.ic_p):
        assert 1 / (n_boot + 1) - 1e-12 <= p <= 1.0
    v = universe_verdict(m)
    for comp in v["components"].values():
        if comp["figure"] is not None and n_boot >= 40:  # the 2.5 % order statistic exists
            assert (comp["lower"] > comp["bar"]) == (comp["p"] < 0.025)
    assert v["usable"] == (not v["reasons"])


def test_empty_mask_is_not_usable_with_a_reason():
    sim = simulate_panel(1, skill="none", seed=5)
    m = panel_metrics(**{k: sim[k] for k in ("session", "y_true", "y_pred", "past_target", "train_majority")}, horizon=1, thr=1.0, n_boot=100)
    assert m.mask_count == 0 and m.dirhit is None and m.edge is None
    v = universe_verdict(m)
    assert not v["usable"] and v["p_value"] == 1.0
    assert any("no masked rows" in r for r in v["reasons"])


def test_too_few_dates_is_not_usable_with_a_reason():
    sim = simulate_panel(1, skill="skilled", true_dirhit=80.0, seed=6, n_sessions=300, n_holdout=10)
    m = panel_metrics(**{k: sim[k] for k in ("session", "y_true", "y_pred", "past_target", "train_majority")}, horizon=1, n_boot=100)
    v = universe_verdict(m)
    assert not v["usable"] and v["p_value"] == 1.0
    assert any("only 10 dates" in r for r in v["reasons"])


def test_empty_panel_never_raises():
    empty = np.array([])
    m = panel_metrics(session=empty.astype(int), y_true=empty, y_pred=empty, past_target=empty, train_majority=1, horizon=7, n_boot=50)
    assert m.n_rows == 0 and m.dirhit is None and m.ic_mean is None and m.spread_mean is None
    v = universe_verdict(m.to_dict())
    assert not v["usable"] and len(v["reasons"]) >= 2


def test_failed_component_reason_names_its_numbers():
    sim = simulate_panel(1, skill="none", seed=7)
    m = panel_metrics(**{k: sim[k] for k in ("session", "y_true", "y_pred", "past_target", "train_majority")}, horizon=1)
    v = universe_verdict(m, target="excess")
    assert v["rule"] == USABLE_RULE_UNIVERSE and v["target"] == "excess"
    assert v["p_value"] == max(c["p"] for c in v["components"].values())
    failed = [name for name, c in v["components"].items() if not c["passes"]]
    assert failed and not v["usable"]
    assert len(v["reasons"]) == len(failed)
    if "ic" in failed:
        assert any(f"mean rank IC {m.ic_mean:.3f}" in r and "lower bound is not above 0" in r for r in v["reasons"])


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("train_majority", {"train_majority": 0}),
        ("horizon", {"horizon": 0}),
        ("y_pred", {"y_pred": [0.01] * 5}),
        ("y_true", {"y_true": [np.nan] + Y_TRUE[1:]}),
        ("tercile", {"tercile": [0, 1, 2, 3, 0, 1]}),
        ("thr", {"thr": -0.1}),
    ],
)
def test_bad_inputs_raise_config_error_naming_them(name, kwargs):
    with pytest.raises(ConfigError) as err:
        _hand(**kwargs)
    assert err.value.name == name


@pytest.mark.parametrize(("n_dates", "horizon", "block"), [(120, 1, 5), (120, 7, 7), (120, 30, 30), (40, 30, 20), (1000, 1, 10)])
def test_block_length_is_at_least_h_and_at_most_half_the_dates(n_dates, horizon, block):
    assert block_length(n_dates, horizon) == block
    assert widening(n_dates, block, horizon) >= 1.0


# The yardstick, fast: 100 holdouts per cell (bench/bench_universe_rule.py runs 1,000); bounds loose
# enough that the simulation's own noise cannot fail them (no skill: ≤ 2.5 % expected, ~1 % seen).
@pytest.mark.parametrize(
    ("horizon", "skill"),
    [(1, "none"), (7, "common"), (30, "none"), (30, "clustered")],
)
def test_no_skill_model_is_seldom_usable(horizon, skill):
    result = simulate_universe_rule(horizon, skill=skill, runs=100, seed=horizon, n_boot=300)
    assert result["usable_rate"] <= 0.05, result


@pytest.mark.parametrize(("horizon", "true_dirhit"), [(1, 53.0), (7, 57.0)])
def test_skilled_model_is_usually_usable(horizon, true_dirhit):
    result = simulate_universe_rule(horizon, skill="skilled", runs=60, seed=horizon, n_boot=300)
    assert result["mean_dirhit"] == pytest.approx(true_dirhit, abs=1.0)
    assert result["mean_ic"] > 0
    assert result["usable_rate"] >= 0.70, result
