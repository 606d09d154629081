"""The cycle's table: one row per task with every figure the report shows (a DataFrame, for the
report's figures and for anyone who wants the numbers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from bistlab.report.data import CycleRecords, TaskRecord
from bistlab.report.words import note_text

if TYPE_CHECKING:
    from bistlab.evaluation.honesty import CycleControl

__all__ = ["REPORT_COLUMNS", "task_table"]

REPORT_COLUMNS = [
    "task",
    "symbol",
    "horizon",
    "target",
    "status",
    "trials",
    "n_trials_total",
    "hpo_dirhit",
    "hpo_count",
    "hpo_n_eff",
    "hpo_ci_low",
    "hpo_ci_high",
    "hpo_splits",
    "wfv_dirhit",
    "wfv_count",
    "wfv_n_eff",
    "wfv_ci_low",
    "wfv_ci_high",
    "wfv_splits",
    "parity_gap",
    "holdout_dirhit",
    "holdout_hits",
    "holdout_count",
    "holdout_n_eff",
    "ci_low",
    "ci_high",
    "persistence_dirhit",
    "persistence_count",
    "persistence_no_direction",
    "majority_dirhit",
    "best_baseline_dirhit",
    "edge",
    "edge_low",
    "edge_high",
    "edge_p_value",
    "agree_persistence_pct",
    "agree_majority_pct",
    "call_dirhit",
    "call_count",
    "call_coverage_pct",
    "holdout_n_test",
    "holdout_nrmse",
    "wfv_nrmse",
    "hpo_nrmse",
    "holdout_mask_pct",
    "valid_splits",
    "low_support",
    "rank_ic",
    "rank_ic_low",
    "rank_ic_high",
    "p_value",
    "q_value",
    "passes_rule",
    "usable",
    "pbo",
    "holdout_minus_hpo",
    "note",
]
"""Columns of :func:`task_table`: DirHits in percent with their counts, effective counts
(``*_n_eff``, overlapping h-day labels) and the 95 % interval of each number (``hpo_*`` / ``wfv_*``
are means over the counted splits, ``ci_*`` the holdout's); ``edge`` = holdout DirHit minus the best
baseline (points) with its 95 % interval ``edge_low`` / ``edge_high`` and the paired test's one-sided
``edge_p_value`` (rows where model and baseline disagree; a universe task's from its date-block bootstrap); ``agree_*_pct``: share of holdout calls in the baseline's direction;
``p_value`` / ``q_value``: the rule's one-sided p-value and its Benjamini–Hochberg adjustment over
the cycle; ``passes_rule``: the task's own test; ``usable``: after the cycle-wide control;
``pbo`` the CSCV probability of backtest overfitting. ``target``: ``raw`` (the h-day log return) or
``excess`` (over the date's cross-sectional median). A universe task's (``UNIVERSE_<h>d``) holdout
figures are pooled over its panel with date-block bootstrap intervals (``holdout_n_eff`` does not
apply: empty); ``rank_ic*`` is its mean rank IC with its interval (empty for per-symbol tasks)."""


def _selection_columns(rec: TaskRecord) -> dict[str, Any]:
    best, ev = rec.best, rec.ev
    hpo, wfv = rec.hpo_figure(), rec.wfv_figure()
    return {
        "trials": best.n_complete if best else None,
        "n_trials_total": best.n_trials if best else None,
        "hpo_dirhit": hpo.value if best else None,
        "hpo_count": hpo.count if best else None,
        "hpo_n_eff": hpo.n_eff if best else None,
        "hpo_ci_low": hpo.low,
        "hpo_ci_high": hpo.high,
        "hpo_splits": len(best.counted_splits) if best else None,
        "hpo_nrmse": (best.symbol_metrics.get(rec.key) or {}).get("avg_nrmse") if best else None,
        "valid_splits": len(best.counted_splits) if best else None,
        "low_support": best.low_support if best else None,
        "wfv_dirhit": ev.wfv_dirhit if ev else None,
        "wfv_count": wfv.count if ev else None,
        "wfv_n_eff": wfv.n_eff if ev else None,
        "wfv_ci_low": wfv.low,
        "wfv_ci_high": wfv.high,
        "wfv_splits": wfv.mean_of if ev else None,
        "wfv_nrmse": ev.wfv.get("avg_nrmse") if ev else None,
        "parity_gap": ev.wfv_parity_gap if ev else None,
    }


def _panel_columns(rec: TaskRecord) -> dict[str, Any]:
    """A universe task's pooled figures over the columns the per-symbol ones fill differently."""
    m = rec.panel
    if not m:
        return {}
    return {
        "holdout_n_eff": None,
        "persistence_dirhit": m.get("persistence_dirhit"),
        "majority_dirhit": m.get("majority_dirhit"),
        "rank_ic": m.get("ic_mean"),
        "rank_ic_low": m.get("ic_lo"),
        "rank_ic_high": m.get("ic_hi"),
    }


def _edge_columns(rec: TaskRecord) -> dict[str, Any]:
    e = rec.edge_figure()
    if e is None:
        return {"edge": None}
    return {"edge": e.value, "edge_low": e.low, "edge_high": e.high, "edge_p_value": e.p_value}


def _holdout_columns(rec: TaskRecord) -> dict[str, Any]:
    h, verdict, fig = rec.holdout, rec.verdict, rec.holdout_figure()
    if h is None:
        return {}
    base = rec.baseline_figures()
    best_base = rec.best_baseline_dirhit
    return {
        "holdout_dirhit": fig.value if fig.defined else h.dirhit,
        "holdout_hits": h.dirhit_hits,
        "holdout_count": h.mask_count,
        "holdout_n_eff": fig.n_eff,
        "ci_low": fig.low,
        "ci_high": fig.high,
        "persistence_dirhit": h.persistence_dirhit,
        "persistence_count": base["persistence"].count if "persistence" in base else None,
        "persistence_no_direction": h.persistence_no_direction,
        "majority_dirhit": h.majority_dirhit,
        "best_baseline_dirhit": best_base,
        **_edge_columns(rec),
        "agree_persistence_pct": h.agree_persistence_pct,
        "agree_majority_pct": h.agree_majority_pct,
        "call_dirhit": h.call_dirhit,
        "call_count": h.call_count,
        "call_coverage_pct": h.call_coverage_pct,
        "holdout_n_test": h.n_test,
        "holdout_nrmse": h.nrmse,
        "holdout_mask_pct": h.mask_pct,
        "p_value": verdict.get("p_value"),
        **_panel_columns(rec),
    }


def _row(rec: TaskRecord, control: CycleControl | None) -> dict[str, Any]:
    return {
        "task": rec.key,
        "symbol": rec.symbol,
        "horizon": rec.horizon,
        "target": rec.target,
        "status": rec.status,
        **_selection_columns(rec),
        **_holdout_columns(rec),
        "q_value": control.q_values.get(rec.key) if control else None,
        "passes_rule": rec.passes_rule,
        "usable": rec.usable,
        "pbo": rec.honesty.pbo.pbo if rec.honesty else None,
        "holdout_minus_hpo": rec.honesty.holdout_minus_hpo if rec.honesty else None,
        "note": note_text(rec),
    }


def task_table(records: CycleRecords) -> pd.DataFrame:
    """One row per task of the cycle (columns :data:`REPORT_COLUMNS`), horizon-first."""
    return pd.DataFrame([_row(rec, records.control) for rec in records.tasks], columns=REPORT_COLUMNS)
