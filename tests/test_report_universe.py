"""The universe models in the cycle report, on a crafted cycle: a universe task (a synthetic panel
measured by the real :func:`bistlab.evaluation.panel_metrics.panel_metrics` and judged by the real
:func:`bistlab.evaluation.universe_rule.universe_verdict`) beside a per-symbol task whose holdout overlaps it
only in part. The report names the target, shows every DirHit with the interval of that very
number, compares the two models on their common dates only, and says nothing of universes when a
cycle has none."""

from __future__ import annotations

import html as htmllib
import re

import numpy as np
import pandas as pd
import pytest

from bistlab.report import summary
from bistlab.core.jsonio import write_json_atomic
from bistlab.evaluation.metrics import split_metrics
from bistlab.evaluation.dirhit import DirHit, usable_verdict
from bistlab.evaluation.panel_metrics import panel_metrics
from bistlab.evaluation.universe_rule import universe_verdict
from bistlab.core.records import PREDICTION_COLUMNS
from bistlab.report import (
    changes_html,
    heatmap_figure,
    holdout_figure,
    honesty_html,
    hpo_vs_holdout_figure,
    load_report,
    predictions_html,
    reproducibility_html,
    summary_html,
    symbol_comparisons,
    table_html,
    task_page_html,
    tasks_html,
    universe_figures,
    universe_html,
    universe_ic_figure,
    universe_task_html,
    usable_html,
    verdict_words,
)
from bistlab.core.state import CycleState, StateFile, TaskState, TaskStatus
from bistlab.core.workspace import Workspace
from bistlab.core.records import Evaluation

from tests.reportcheck import dirhit_texts, intervals_beside_figures

THR = 0.005
SYMBOLS = [f"S{i:02d}" for i in range(24)] + ["AAA"]
DATES = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2026-01-05", periods=60)]
UNIVERSE_AAA = DATES[10:]  # AAA joins the universe's holdout late
SINGLE_AAA = DATES[5:55]  # its own task's holdout: a different span
COMMON = sorted(set(UNIVERSE_AAA) & set(SINGLE_AAA))


def _panel(skill_terciles: tuple[int, ...], seed: int) -> dict[str, np.ndarray]:
    """A holdout panel at h = 1: rows (date, symbol), an excess target and a prediction with skill
    in the given liquidity terciles."""
    rng = np.random.default_rng(seed)
    rows = [(i, d, s) for i, d in enumerate(DATES) for s in SYMBOLS if s != "AAA" or d in UNIVERSE_AAA]
    session = np.array([r[0] for r in rows])
    symbol = np.array([r[2] for r in rows], dtype=object)
    tercile = np.array([SYMBOLS.index(s) % 3 for s in symbol])
    y_true = rng.normal(0.0, 0.02, len(rows))
    skill = np.isin(tercile, skill_terciles)
    y_pred = np.where(skill, 0.6 * y_true, 0.0) + rng.normal(0.0, 0.02, len(rows))
    return {"session": session, "dates": np.array([r[1] for r in rows], dtype=object), "symbol": symbol, "tercile": tercile, "y_true": y_true, "y_pred": y_pred, "past": rng.normal(0.0, 0.02, len(rows))}


def _per_symbol(p: dict[str, np.ndarray]) -> dict[str, dict]:
    out = {}
    for s in SYMBOLS:
        sel = p["symbol"] == s
        m = split_metrics(p["y_true"][sel], p["y_pred"][sel], thr=THR, past_return=p["past"][sel], horizon=1)
        dates = p["dates"][sel]
        out[s] = {"dirhit": m.dirhit, "hits": m.dirhit_hits, "count": m.mask_count, "n_eff": m.dirhit_n_eff, "rows": int(sel.sum()), "dates": [dates[0], dates[-1]]}
    return out


def _universe_evaluation(p: dict[str, np.ndarray]) -> dict:
    pm = panel_metrics(session=p["session"], y_true=p["y_true"], y_pred=p["y_pred"], past_target=p["past"], train_majority=-1, horizon=1, thr=THR, tercile=p["tercile"], n_boot=300)
    holdout = split_metrics(p["y_true"], p["y_pred"], thr=THR, past_return=p["past"], train_majority=-1, horizon=1)
    return {
        "symbol": "UNIVERSE", "horizon": 1, "cycle": 1, "low_support": False, "hpo_dirhit": None, "wfv_dirhit": None, "wfv": {},
        "holdout": holdout.to_dict(), "holdout_dates": [DATES[0], DATES[-1]],
        "holdout_predictions": {"dates": p["dates"].tolist(), "y_pred": p["y_pred"].tolist(), "y_true": p["y_true"].tolist(), "symbols": p["symbol"].tolist()},
        "verdict": universe_verdict(pm, target="excess"), "data_fingerprint": "crafted", "dirhit_threshold": THR, "target": "excess",
        "universe": {"metrics": pm.to_dict(), "per_symbol": _per_symbol(p), "members": len(SYMBOLS), "excluded": {"ZZZ": "61 rows: a member needs 160 (60 of warm-up)"}},
    }


def _single_evaluation(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    y_true = rng.normal(0.0, 0.02, len(SINGLE_AAA))
    y_pred = 0.5 * y_true + rng.normal(0.0, 0.02, len(SINGLE_AAA))
    holdout = split_metrics(y_true, y_pred, thr=THR, past_return=rng.normal(0.0, 0.02, len(SINGLE_AAA)), train_majority=1, horizon=1)
    return {
        "symbol": "AAA", "horizon": 1, "cycle": 1, "low_support": False, "hpo_dirhit": None, "wfv_dirhit": None, "wfv": {},
        "holdout": holdout.to_dict(), "holdout_dates": [SINGLE_AAA[0], SINGLE_AAA[-1]],
        "holdout_predictions": {"dates": SINGLE_AAA, "y_pred": y_pred.tolist(), "y_true": y_true.tolist()},
        "verdict": usable_verdict(holdout, horizon=1), "data_fingerprint": "crafted", "dirhit_threshold": THR,
    }


def _cycle(root, evaluations: dict[str, dict]) -> Workspace:
    """A finished cycle 1 whose tasks have nothing but their ``evaluation.json``."""
    ws = Workspace(root=root).ensure()
    states = {}
    for key, ev in evaluations.items():
        write_json_atomic(ws.task_dir(1, key) / "evaluation.json", ev)
        states[key] = TaskState(symbol=ev["symbol"], horizon=ev["horizon"], status=TaskStatus.COMPLETED, cycle=1, completed_at="2026-04-01T10:00:00+00:00")

    def change(state: CycleState) -> None:
        state.cycle = 1
        state.tasks.update(states)

    StateFile(ws.state_file).update(change)
    return ws


@pytest.fixture(scope="module")
def panel() -> dict[str, np.ndarray]:
    return _panel((0, 1, 2), seed=1)


@pytest.fixture(scope="module")
def rep(tmp_path_factory, panel):
    ws = _cycle(tmp_path_factory.mktemp("universe"), {"UNIVERSE_1d": _universe_evaluation(panel), "AAA_1d": _single_evaluation(seed=2)})
    return load_report(ws, 1)


def _text(page: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_section_names_the_target_and_every_dirhit_has_its_interval(rep):
    page = universe_html(rep)
    text = _text(page)
    assert "target: excess — the 1-day log return minus the date's cross-sectional median" in text
    found = intervals_beside_figures(page)  # raises when an interval excludes its figure
    assert len(found) >= len(SYMBOLS) + 4  # the pooled figures, each symbol, the comparison row
    assert all(re.search(r"n=\d+", t) for t in dirhit_texts(page)), "every DirHit carries its count"
    m = rep.record("UNIVERSE_1d").panel
    assert f"{m['dirhit']:.1f} % (n={m['mask_count']}, 95 % CI {m['dirhit_lo']:.1f}–{m['dirhit_hi']:.1f})" in text  # the bootstrap interval
    for words in ("mean rank IC", "least liquid third", "top − bottom quintile spread", "cost per side", "Rule:", "One-sided p", "block bootstrap over dates", "ZZZ", "Which to trust", "smallest masked DirHit"):
        assert words in text, words


def test_the_comparison_with_the_symbols_own_task_uses_only_the_common_dates(rep, panel):
    rec = rep.record("UNIVERSE_1d")
    comps = symbol_comparisons(rep, rec)
    assert comps[0].symbol == "AAA" and comps[0].task == "AAA_1d", "rows with a per-symbol task come first"
    assert all(c.task is None for c in comps[1:]) and len(comps) == len(SYMBOLS)
    aaa = comps[0]
    assert aaa.common_dates == len(COMMON) < min(len(UNIVERSE_AAA), len(SINGLE_AAA))
    keep = np.isin(panel["dates"], COMMON) & (panel["symbol"] == "AAA")
    m = split_metrics(panel["y_true"][keep], panel["y_pred"][keep], thr=THR, horizon=1)
    assert aaa.universe_common == DirHit.rate(m.dirhit_hits, m.mask_count, m.dirhit_n_eff)
    single = rep.record("AAA_1d").ev.holdout_predictions
    on = np.isin(single["dates"], COMMON)
    m = split_metrics(np.asarray(single["y_true"])[on], np.asarray(single["y_pred"])[on], thr=THR, horizon=1)
    assert aaa.single_common == DirHit.rate(m.dirhit_hits, m.mask_count, m.dirhit_n_eff)
    assert aaa.single_common.count < rep.record("AAA_1d").ev.holdout.mask_count, "not the whole per-symbol holdout"
    row = re.search(r"<tr><td>AAA</td>.*?</tr>", universe_html(rep), re.S).group(0)
    assert f"<td>{len(COMMON)}</td>" in row and "AAA_1d" in row


def test_every_section_and_the_task_pages_handle_the_universe_task(rep):
    rec = rep.record("UNIVERSE_1d")
    sections = [summary_html(rep), usable_html(rep), table_html(rep), honesty_html(rep), changes_html(rep), predictions_html(rep), tasks_html(rep), reproducibility_html(rep)]
    pages = [task_page_html(rep, r) for r in rep.records.tasks]
    intervals_beside_figures("".join(sections + pages))
    for fig in (heatmap_figure(rep), holdout_figure(rep), hpo_vs_holdout_figure(rep), *universe_figures(rep)):
        fig.to_json()
    row = re.search(r"<tr><td>UNIVERSE_1d</td>.*?</tr>", table_html(rep), re.S).group(0)
    m = rec.panel
    assert f"95 % CI {m['dirhit_lo']:.1f}–{m['dirhit_hi']:.1f}" in row and "target excess" in row
    t = rep.table.set_index("task").loc["UNIVERSE_1d"]
    assert t["target"] == "excess" and t["ci_low"] == pytest.approx(m["dirhit_lo"]) and pd.isna(t["holdout_n_eff"])
    assert t["best_baseline_dirhit"] == pytest.approx(m["best_baseline_dirhit"]) and t["edge"] == pytest.approx(m["edge"])
    words = verdict_words(rec)
    assert "undefined" not in words and "mean rank IC" in words and "excess" in words
    page = pages[[r.key for r in rep.records.tasks].index("UNIVERSE_1d")]
    assert universe_task_html(rep, rec, figures=True).split("<h4>")[0][:200] in page and "bistlab-plot-" in page


def test_universe_forecasts_are_grouped_under_their_task(rep):
    rows = [{**dict.fromkeys(PREDICTION_COLUMNS), "task": "UNIVERSE_1d", "symbol": s, "horizon": 1, "as_of": DATES[-1], "direction": "up" if i % 2 else "down", "expected_log_return": 0.001 * (i - 12), "expected_return_pct": 0.1 * (i - 12), "target": "excess", "note": ""} for i, s in enumerate(SYMBOLS)]
    rows.append({**dict.fromkeys(PREDICTION_COLUMNS), "task": "AAA_1d", "symbol": "AAA", "horizon": 1, "as_of": DATES[-1], "direction": "up", "expected_log_return": 0.01, "expected_return_pct": 1.0, "holdout_count": 30, "holdout_dirhit": 60.0, "holdout_ci_low": 42.0, "holdout_ci_high": 75.0, "target": "raw", "note": ""})
    rep.predictions = pd.DataFrame(rows, columns=PREDICTION_COLUMNS).astype(object)
    try:
        page = predictions_html(rep)
    finally:
        rep.predictions = None
    main = re.search(r'id="predictions">.*?</table>', page, re.S).group(0)
    assert main.count("<tr><td>") == 1 and "AAA_1d" in main
    assert f"<details><summary>All {len(SYMBOLS)} forecasts of UNIVERSE_1d" in page
    intervals_beside_figures(page)


def test_evaluation_summary_of_a_universe_task_shows_the_pooled_figures_and_the_verdict(rep):
    ev = rep.record("UNIVERSE_1d").ev
    table = summary.evaluation_summary(ev)["value"]
    assert table["target"].startswith("excess — ")
    m = ev.universe["metrics"]
    assert table["pooled masked DirHit"] == f"{m['dirhit']:.1f} % (n={m['mask_count']}, 95 % CI {m['dirhit_lo']:.1f}–{m['dirhit_hi']:.1f})"
    assert "mean rank IC" in table.index and table["passes the universe rule (this task alone)"].startswith(("YES", "no"))
    assert "holdout call DirHit (|pred| > thr)" not in table.index


def test_the_ic_figure_puts_dates_on_its_axis(rep):
    fig = universe_ic_figure(rep.record("UNIVERSE_1d"))
    bars = next(t for t in fig.data if t.type == "bar")
    assert list(bars.x) == DATES


def test_a_skill_only_in_the_least_liquid_names_is_flagged(tmp_path):
    ws = _cycle(tmp_path / "ws", {"UNIVERSE_1d": _universe_evaluation(_panel((0,), seed=3))})
    text = _text(universe_html(load_report(ws, 1)))
    assert "concentrated in the least liquid third" in text


def test_no_universe_section_without_a_universe_task(tmp_path):
    ws = _cycle(tmp_path / "ws", {"AAA_1d": _single_evaluation(seed=2)})
    rep = load_report(ws, 1)
    assert universe_html(rep) == "" and universe_figures(rep) == []
    assert "Universe models" not in summary_html(rep) + usable_html(rep)
    assert Evaluation.from_dict(_single_evaluation(seed=2)).is_universe is False
