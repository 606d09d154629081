"""Every look at a holdout counted: the verdict_looks table and the false-discovery family over
every cycle that judged the same holdout dates on the same prices (issue 19, DESIGN "Many tasks")."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bistlab.evaluation.honesty import fdr_control
from bistlab.evaluation.looks import VerdictLooks, family, holdout_looks, record_looks
from bistlab.core.workspace import Workspace
from bistlab.core.records import Evaluation
from tests.conftest import market_workspace
from tests.crafted import craft_holdout_cycle

__all__: list[str] = []


def _holdouts(n_plain: int, *, lucky: bool, seed: int = 7) -> dict:
    """``n_plain`` no-skill holdouts at h = 1 that fail the rule clearly (p > 0.3), plus, with
    ``lucky``, one chance pass ``LUCKY`` with 0.017 < p < 0.025: kept among 3 verdicts (p × 3 < 0.1),
    dropped among 6 (p × 6 > 0.1)."""
    from bistlab.evaluation.calibration import simulate_holdout

    rng = np.random.default_rng(seed)
    plain, chance = [], None
    while len(plain) < n_plain or (lucky and chance is None):
        sim = simulate_holdout(1, rng=rng)
        p = sim["verdict"]["p_value"]
        if sim["verdict"]["passes_rule"] and 0.017 < p < 0.025:
            chance = chance or sim
        elif p > 0.3 and len(plain) < n_plain:
            plain.append(sim)
    out = {(f"NS{i}", 1): {k: v for k, v in sim.items() if k != "verdict"} for i, sim in enumerate(plain)}
    if lucky:
        out[("LUCKY", 1)] = {k: v for k, v in chance.items() if k != "verdict"}
    return out


def _rewrite(ws: Workspace, cycle: int, key: str, **fields) -> None:
    path = ws.task_dir(cycle, key) / "evaluation.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def _evaluations(ws: Workspace, cycle: int, keys) -> dict[str, Evaluation]:
    return {k: ws.task(cycle, k).read(Evaluation) for k in keys}


def test_recording_a_cycle_again_adds_nothing(tmp_path):
    from bistlab.report import load_report

    holdouts = _holdouts(3, lucky=False)
    ws = craft_holdout_cycle(Workspace(root=tmp_path / "ws"), holdouts)
    keys = [f"{s}_{h}d" for s, h in holdouts]
    first = load_report(ws, 1, archive=True)
    load_report(ws, 1)
    assert record_looks(ws, 1, _evaluations(ws, 1, keys)) == 0
    table = VerdictLooks.of(ws)
    try:
        looks = table.read()
    finally:
        table.close()
    assert sorted(x.task_key for x in looks) == sorted(keys) and {x.cycle for x in looks} == {1}
    assert {x.data_fingerprint for x in looks} == {"crafted"} and str(looks[0].holdout_first) == "2026-01-02"
    assert {k: len(v) for k, v in family(ws, 1).items()} == dict.fromkeys(keys, 1)
    assert first.records.control.n_earlier == 0 and all(r.looks == 1 for r in first.records.tasks)


def test_fdr_control_counts_earlier_looks_at_the_same_holdout():
    alone = {"A": {"p_value": 0.024, "passes_rule": True}, **{f"B{i}": {"p_value": 0.9, "passes_rule": False} for i in range(3)}}
    assert fdr_control(alone).kept["A"] is True  # 0.024 × 4 = 0.096 ≤ 10 %
    again = fdr_control(alone, earlier={"A": [0.6]})  # the same holdout judged before: a family of 5
    assert again.kept["A"] is False and again.q_values["A"] == pytest.approx(0.12)
    assert (again.n_tested, again.n_earlier, again.n_family, again.looks["A"], again.looks["B0"]) == (4, 1, 5, 2, 1)
    assert "the 1 earlier look at the same holdouts" in again.words() and "a family of 5 verdicts" in again.words()
    # a single task passing alone: no control at all with one look; the earlier looks bring it back
    assert fdr_control({"A": {"p_value": 0.02, "passes_rule": True}}).kept["A"] is True
    assert fdr_control({"A": {"p_value": 0.02, "passes_rule": True}}, earlier={"A": [0.5] * 5}).kept["A"] is False
    assert fdr_control(alone, earlier={"OTHER": [0.5]}).n_earlier == 0  # another task's looks are not this family


def test_a_second_cycle_on_unchanged_prices_joins_the_first_cycles_family(tmp_path):
    from bistlab.report import load_report, table_html, usable_html

    ws = Workspace(root=tmp_path / "ws")
    craft_holdout_cycle(ws, _holdouts(2, lucky=False) | {("LUCKY", 1): _holdouts(1, lucky=False, seed=3)[("NS0", 1)]})
    first = load_report(ws, 1, archive=True)
    assert not any(r.passes_rule for r in first.records.tasks)
    # cycle 2 re-judges the same holdouts (same dates, same prices); LUCKY's new model passes by chance
    craft_holdout_cycle(ws, _holdouts(2, lucky=True), cycle=2)
    second = load_report(ws, 2, archive=True)
    lucky = second.record("LUCKY_1d")
    assert lucky.passes_rule and not lucky.usable  # kept among its own cycle's 3, not among the 6 looks
    assert second.records.control.n_earlier == 3 and all(r.looks == 2 for r in second.records.tasks)
    assert {k: len(v) for k, v in family(ws, 2).items()} == {"NS0_1d": 2, "NS1_1d": 2, "LUCKY_1d": 2}
    alone = fdr_control({r.key: r.verdict for r in second.records.tasks})
    assert alone.kept["LUCKY_1d"] is True  # what a fresh budget per cycle would have said
    words = usable_html(second)
    assert "judged 2 times in this workspace (cycles 1 and 2)" in words and "the false-discovery control counts every look" in words
    assert "holdout judged 2 times" in table_html(second)
    assert "judged once in this workspace (cycle 1)" in usable_html(first)
    # the family is every look ever taken: cycle 1's report, read again, counts cycle 2's look too
    assert "judged 2 times in this workspace (cycles 1 and 2)" in usable_html(load_report(ws, 1))


def test_changed_prices_start_a_new_family(tmp_path):
    from bistlab.report import load_report

    holdouts = _holdouts(3, lucky=False)
    ws = craft_holdout_cycle(Workspace(root=tmp_path / "ws"), holdouts)
    load_report(ws, 1, archive=True)
    craft_holdout_cycle(ws, holdouts, cycle=2)
    _rewrite(ws, 2, "NS0_1d", data_fingerprint="corrected")
    _rewrite(ws, 2, "NS1_1d", holdout_dates=["2026-01-05", "2026-07-01"])
    rep = load_report(ws, 2, archive=True)
    assert {r.key: r.looks for r in rep.records.tasks} == {"NS0_1d": 1, "NS1_1d": 1, "NS2_1d": 2}
    assert rep.records.control.n_earlier == 1
    seen = holdout_looks(ws, 2)
    assert seen.cycles() == [1, 2] and "1 of the 3 tasks were judged in every one of these cycles" in seen.words()
    # a third cycle on the corrected prices joins cycle 2's family for NS0, not cycle 1's
    craft_holdout_cycle(ws, holdouts, cycle=3)
    _rewrite(ws, 3, "NS0_1d", data_fingerprint="corrected")
    assert [x.cycle for x in holdout_looks(ws, 3, _evaluations(ws, 3, ["NS0_1d"])).looks["NS0_1d"]] == [2, 3]


@pytest.mark.slow
def test_two_real_cycles_on_unchanged_prices_share_one_family(tmp_path):
    from bistlab.config import CycleConfig
    from bistlab.runs.cycle import run_cycle
    from bistlab.runs.predict import predict_cycle

    ws = market_workspace(tmp_path / "ws", {"AAA": 700, "BBB": 700})
    for _ in range(2):
        run_cycle(ws, CycleConfig(horizons=(1,), n_trials=2, models=("lgbm",), universe=False))
    sizes = {k: len(v) for k, v in family(ws, 2).items()}
    assert sizes == {"AAA_1d": 2, "BBB_1d": 2}
    assert [x.cycle for x in holdout_looks(ws, 2).looks["AAA_1d"]] == [1, 2]
    predict_cycle(ws, cycle=2, record=False)  # predictions judge again: still the same two looks
    assert {k: len(v) for k, v in family(ws, 2).items()} == sizes


def test_the_looks_table_on_sqlite_and_postgresql(store):
    from dataclasses import replace
    from datetime import date

    from bistlab.evaluation.looks import Look

    look = Look("AAA_1d", 1, date(2026, 1, 2), date(2026, 6, 30), "f" * 16, "AAA", 1, 0.02, True)
    table = VerdictLooks(store.url)
    try:
        assert table.record([look, replace(look, cycle=2, p_value=0.4, passes_rule=False)]) == 2
        assert table.record([look]) == 0
        assert table.record([replace(look, p_value=0.03, passes_rule=False)]) == 0  # today's rule: updated in place
        looks = table.read(keys=["AAA_1d"])
    finally:
        table.close()
    assert [(x.cycle, x.p_value, x.passes_rule, x.holdout_first) for x in looks] == [(1, 0.03, False, date(2026, 1, 2)), (2, 0.4, False, date(2026, 1, 2))]
