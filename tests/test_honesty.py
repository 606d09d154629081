"""Multiple-testing honesty: PBO by CSCV on crafted matrices, the noise reference, study figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bistlab.honesty import expected_max_normal, noise_max_dirhit, pbo_cscv, split_dirhit_matrix, study_honesty


def test_pbo_of_pure_noise_is_about_one_half():
    rng = np.random.default_rng(0)
    four = [pbo_cscv(rng.normal(55.0, 5.0, (40, 4))).pbo for _ in range(200)]
    assert abs(np.mean(four) - 0.5) < 0.06
    ten = [pbo_cscv(rng.normal(55.0, 5.0, (40, 10))).pbo for _ in range(15)]
    assert abs(np.mean(ten) - 0.5) < 0.1


def test_pbo_of_a_dominant_trial_is_about_zero():
    rng = np.random.default_rng(1)
    m = rng.normal(50.0, 3.0, (30, 4))
    m[7] += 15.0
    result = pbo_cscv(m)
    assert result.pbo == 0.0
    assert result.n_combinations == 6 and result.n_trials == 30 and result.n_splits == 4
    assert result.mean_oos_rank_pct == 100.0


def test_pbo_of_a_winner_that_loses_out_of_sample_is_one():
    # trial 0 is best on splits 0-1 and worst on 2-3, trial 1 the reverse: every in-sample winner fails out of sample
    m = np.array([[70.0, 70.0, 30.0, 30.0], [30.0, 30.0, 70.0, 70.0], [50.0, 50.0, 50.0, 50.0]])
    m = np.vstack([m, [[49.0, 51.0, 51.0, 49.0]]])
    result = pbo_cscv(m)
    assert result.n_combinations == 6
    assert 0.3 <= result.pbo <= 1.0


def test_pbo_is_undefined_without_two_trials_or_two_splits():
    assert pbo_cscv(np.ones((1, 4))).pbo is None
    assert "at least 2 trials" in pbo_cscv(np.ones((5, 1))).reason
    with pytest.raises(ValueError, match="finite"):
        pbo_cscv(np.array([[1.0, np.nan], [2.0, 3.0]]))


def test_noise_reference_grows_with_trials_and_shrinks_with_rows():
    assert expected_max_normal(1) == 0.0
    assert expected_max_normal(10) < expected_max_normal(100)
    assert abs(expected_max_normal(1000) - 3.25) < 0.1  # E[max of 1000 normals] ≈ 3.24
    assert noise_max_dirhit(20, 100) > noise_max_dirhit(20, 10_000) > 50.0
    assert noise_max_dirhit(20, 0) is None


def _trials(matrix: np.ndarray, count: int = 40) -> list[dict]:
    out = []
    for i, row in enumerate(matrix):
        splits = [{"dirhit": None if math.isnan(v) else float(v), "dirhit_hits": 0 if math.isnan(v) else round(v * count / 100), "mask_count": 0 if math.isnan(v) else count} for v in row]
        defined = [s["dirhit"] for s in splits if s["dirhit"] is not None]
        out.append({"number": i, "avg_dirhit": float(np.mean(defined)) if defined else None, "splits": splits})
    return out


def test_matrix_leaves_out_trials_with_an_undefined_split():
    trials = _trials(np.array([[50.0, 60.0], [np.nan, 55.0], [52.0, 53.0]]))
    matrix, numbers = split_dirhit_matrix(trials)
    assert matrix.shape == (2, 2) and numbers == [0, 2]


def test_study_honesty_reports_gap_premium_and_pbo():
    rng = np.random.default_rng(2)
    trials = _trials(rng.normal(52.0, 4.0, (12, 4)))
    best = max(trials, key=lambda t: t["avg_dirhit"])
    splits = best["splits"]
    selected = {"hpo_dirhit": best["avg_dirhit"], "counted_splits": [0, 1, 2, 3], "symbol_metrics": {"AAA_1d": {"split_metrics": splits}}}
    h = study_honesty(trials, n_trials=14, selected=selected, holdout_dirhit=49.0)
    assert h.n_trials == 14 and h.n_complete == 12
    assert h.holdout_minus_hpo == pytest.approx(49.0 - best["avg_dirhit"])
    assert h.best_minus_median > 0
    assert h.pooled_count == 160 and h.noise_max_dirhit > 50.0
    assert 0.0 <= h.deflated_prob <= 1.0
    assert h.pbo.n_combinations == 6 and h.pbo.pbo is not None
