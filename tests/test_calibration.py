"""The usable rule's yardstick by simulation (DESIGN.md "Statistical honesty"), reduced: a persistent
no-skill model rarely passes at any horizon, whether it calls every row or in clusters; a planted
signal is still found at h = 1; and the simulation is sharp enough to catch a rule that counts
overlapping rows as independent outcomes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bistlab.evaluation.calibration import CLUSTERED, EVERY_ROW, NO_SKILL_MODELS, PLANTED_65, CallModel, simulate_holdout, simulate_rule
from bistlab.evaluation.dirhit import usable_verdict
from bistlab.evaluation.intervals import wilson_interval


@pytest.mark.parametrize("horizon", [1, 3, 7, 14, 30])
def test_a_persistent_no_skill_model_passes_at_most_3_percent(horizon):
    result = simulate_rule(horizon, n_sims=300, seed=horizon)
    assert result.skill == "none" and result.n_sims == 300 and result.model == EVERY_ROW.name
    assert 45.0 < result.mean_dirhit < 55.0  # no skill on average
    assert result.pass_rate <= 0.03, result
    assert result.pass_low <= result.pass_rate <= result.pass_high


@pytest.mark.parametrize(("model", "horizon"), [(CLUSTERED[0], 3), (CLUSTERED[1], 7), (CLUSTERED[2], 1)])
def test_a_clustered_no_skill_model_passes_at_most_3_percent(model, horizon):
    result = simulate_rule(horizon, model=model, n_sims=300, seed=7 + horizon)
    assert result.skill == "none" and result.model == model.name
    assert 0.15 * 120 < result.mean_count < 0.25 * 120  # about 20 % of the rows are called (and masked)
    assert result.mean_n_eff < result.mean_count or horizon == 1
    assert result.pass_rate <= 0.03, result


def test_clustered_calls_come_in_clusters():
    rng = np.random.default_rng(4)
    sims = [simulate_holdout(7, rng=rng, model=CLUSTERED[2]) for _ in range(40)]
    calls = np.array([s["call_count"] for s in sims])
    assert 0.1 * 120 < calls.mean() < 0.3 * 120
    # φ = 0.97: a holdout's calls cover few 7-day windows, far fewer than the 18 a 120-row span holds
    assert np.mean([s["call_n_eff"] for s in sims]) < 0.5 * math.ceil(120 / 7)


def test_a_planted_65_percent_model_is_found_at_h1():
    result = simulate_rule(1, model=PLANTED_65, n_sims=150, seed=11)
    assert result.skill == "planted"
    assert 61.0 < result.mean_dirhit < 69.0  # about 65 % right
    assert result.pass_rate > 0.4, result
    assert result.above_50_rate >= result.pass_rate  # the baselines only raise the bar


def test_effective_counts_shrink_with_the_horizon():
    counts = {h: simulate_rule(h, n_sims=40, seed=3) for h in (1, 7, 30)}
    assert counts[1].mean_n_eff == pytest.approx(counts[1].mean_count)
    assert counts[7].mean_n_eff <= math.ceil((120 + 6) / 7) and counts[30].mean_n_eff <= math.ceil((120 + 29) / 30)
    assert counts[30].mean_count > 100  # the rows are there; the independent outcomes are not


def test_counting_every_row_as_independent_would_fail_the_yardstick_at_h30():
    # the same simulated holdouts, judged by the old rule (Wilson at the full count): it passes far too often
    rng = np.random.default_rng(5)
    naive = 0
    for _ in range(300):
        sim = simulate_holdout(30, rng=rng)
        if not sim["mask_count"]:
            continue
        lower = wilson_interval(sim["dirhit_hits"], sim["mask_count"])[0]
        baselines = [b for b in (sim["persistence_dirhit"], sim["majority_dirhit"]) if b is not None]
        naive += bool(baselines) and lower > 50.0 and lower > max(baselines)
    assert naive / 300 > 0.05


def test_call_models_check_their_parameters():
    assert len(NO_SKILL_MODELS) == 4 and {m.cluster_phi for m in CLUSTERED} == {0.8, 0.9, 0.97}
    with pytest.raises(ValueError, match="`cluster_phi` must be in"):
        CallModel("bad", cluster_phi=1.0)
    with pytest.raises(ValueError, match="`hit_rate` must be in"):
        CallModel("bad", hit_rate=1.5)
    with pytest.raises(ValueError, match="`n_sims` must be at least 1"):
        simulate_rule(1, n_sims=0)


def test_a_batch_is_the_same_as_holdouts_drawn_one_by_one_in_distribution():
    # simulate_holdout draws a batch of one: its verdict is the real rule's on its own numbers
    sim = simulate_holdout(3, rng=np.random.default_rng(1), model=CLUSTERED[1])
    again = usable_verdict({k: v for k, v in sim.items() if k != "verdict"})
    assert again == sim["verdict"]
