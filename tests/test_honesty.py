"""Multiple-testing honesty: PBO by CSCV on crafted matrices, the noise reference, study figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bistlab.evaluation.honesty import expected_max_normal, noise_max_dirhit, pbo_cscv, split_dirhit_matrix, study_honesty


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
    h = study_honesty(trials, n_trials=14, hpo_dirhit=best["avg_dirhit"], counted_splits=splits, holdout_dirhit=49.0)
    assert h.n_trials == 14 and h.n_complete == 12
    assert h.holdout_minus_hpo == pytest.approx(49.0 - best["avg_dirhit"])
    assert h.best_minus_median > 0
    assert h.pooled_count == 160 and h.noise_max_dirhit > 50.0
    assert 0.0 <= h.deflated_prob <= 1.0
    assert h.pbo.n_combinations == 6 and h.pbo.pbo is not None


# --- the cycle-wide control of the usable flag -----------------------------------------------------

from bistlab.core.workspace import Workspace  # noqa: E402
from bistlab.evaluation.honesty import FDR_Q, fdr_control  # noqa: E402


def test_fdr_control_keeps_strong_passes_and_drops_lonely_chance_ones():
    verdicts = {f"T{i}": {"p_value": 0.5, "passes_rule": False} for i in range(38)}
    verdicts["LUCKY"] = {"p_value": 0.02, "passes_rule": True}  # passes alone; one of 40 at p = 0.02 is what chance gives
    control = fdr_control(verdicts)
    assert (control.n_tested, control.n_pass_individual, control.n_kept) == (39, 1, 0)
    assert control.expected_chance_individual == pytest.approx(39 * 0.025)
    assert control.q_values["LUCKY"] == pytest.approx(0.5)  # min over ranks of p * m / rank: 38 p-values of 0.5 cap it
    strong = fdr_control({**verdicts, "REAL": {"p_value": 1e-6, "passes_rule": True}})
    assert strong.kept["REAL"] is True and strong.kept["LUCKY"] is False and strong.n_kept == 1
    # a task that does not pass the rule is never kept, whatever its adjusted p-value
    assert fdr_control({"A": {"p_value": 0.001, "passes_rule": False}}).kept == {"A": False}
    assert fdr_control({}).n_tested == 0


def _no_skill_holdouts(n_tasks: int, n_lucky: int) -> dict:
    """Holdouts of persistent no-skill models on random walks (bistlab.evaluation.calibration), ``n_lucky`` of
    them among the rare ones that pass the rule by chance."""
    from bistlab.evaluation.calibration import simulate_holdout

    rng = np.random.default_rng(2026)
    lucky, plain = [], []
    while len(lucky) < n_lucky or len(plain) < n_tasks - n_lucky:
        sim = simulate_holdout(1, rng=rng)
        (lucky if sim["verdict"]["passes_rule"] else plain).append(sim)
    chosen = lucky[:n_lucky] + plain[: n_tasks - n_lucky]
    return {(f"NS{i:02d}", 1): {k: v for k, v in sim.items() if k != "verdict"} for i, sim in enumerate(chosen)}


def test_a_cycle_of_40_no_skill_tasks_keeps_no_chance_pass_and_says_how_many_chance_gives(tmp_path):
    from bistlab.report import load_report, summary_html, table_html, usable_html
    from tests.crafted import craft_holdout_cycle

    ws = craft_holdout_cycle(Workspace(root=tmp_path / "ws"), _no_skill_holdouts(40, 2))
    rep = load_report(ws, 1)
    control = rep.records.control
    assert control.n_tested == 40 and control.n_pass_individual == 2
    assert control.n_kept == 0  # the control removes the chance passes
    assert sum(bool(r.passes_rule) for r in rep.records.tasks) == 2 and not any(r.usable for r in rep.records.tasks)
    words = usable_html(rep)
    assert "2 of 40 tested tasks pass the rule on their own; 0 keep the usable flag" in words
    assert "at most about 1.0 individual passes among 40 tasks" in words
    assert f"{100 * FDR_Q:.0f} %" in words and "Passed the rule on their own but not the cycle-wide control" in words
    assert "passes alone; not after the cycle-wide control" in table_html(rep)
    assert "1.0 individual passes" in summary_html(rep)
