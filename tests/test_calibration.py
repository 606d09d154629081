"""The usable rule's yardstick by simulation (DESIGN.md "Statistical honesty"), reduced: a persistent
no-skill model rarely passes at any horizon, a planted signal is still found at h = 1, and the
simulation is sharp enough to catch a rule that counts overlapping rows as independent outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from bistlab.calibration import simulate_holdout, simulate_rule
from bistlab.metrics import wilson_interval


@pytest.mark.parametrize("horizon", [1, 3, 7, 14, 30])
def test_a_persistent_no_skill_model_passes_at_most_3_percent(horizon):
    result = simulate_rule(horizon, n_sims=300, seed=horizon)
    assert result.skill == "none" and result.n_sims == 300
    assert 45.0 < result.mean_dirhit < 55.0  # no skill on average
    assert result.pass_rate <= 0.03, result


def test_a_planted_signal_is_still_found_at_h1():
    result = simulate_rule(1, n_sims=150, planted=True, seed=11)
    assert 65.0 < result.mean_dirhit < 76.0  # about 70 % right
    assert result.pass_rate > 0.6, result


def test_effective_counts_shrink_with_the_horizon():
    counts = {h: simulate_rule(h, n_sims=40, seed=3) for h in (1, 7, 30)}
    assert counts[1].mean_n_eff == pytest.approx(counts[1].mean_count)
    assert counts[7].mean_n_eff <= 120 / 7 + 1 and counts[30].mean_n_eff <= 120 / 30 + 1
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
