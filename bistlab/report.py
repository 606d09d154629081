"""The cycle report: ``reports/cycle_<N>.html`` and its per-task pages.

Layout of what :func:`render_report` writes (reports are never cleaned up)::

    reports/cycle_<N>.html                  the report: one self-contained offline file (plotly.js once)
    reports/cycle_<N>/plotly.min.js         one shared local plotly.js for the pages below
    reports/cycle_<N>/notebook.css          one shared stylesheet for the exported notebooks
    reports/cycle_<N>/predictions.csv       the latest forecast per task (bistlab.predict)
    reports/cycle_<N>/tasks.json            the cycle's tasks and configuration
    reports/cycle_<N>/<SYMBOL>_<h>d/index.html                  the task's page
    reports/cycle_<N>/<SYMBOL>_<h>d/{hpo,train,evaluate}.html   its executed notebooks
    reports/cycle_<N>/<SYMBOL>_<h>d/*.json  copies of best_params / model / evaluation + study.json

The main report is the executed ``cycle_report`` notebook exported by nbconvert (no code cells):
summary counts, the symbol × horizon heatmap of holdout DirHit minus the best baseline, the usable
models with the rule's numbers, the table (one row per task), multiple-testing honesty, changes
since the previous cycle, predictions, a short section per task and the reproducibility block.
Every DirHit carries its count and 95 % Wilson interval (:mod:`bistlab.htmlfmt`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bistlab import notebooks
from bistlab.audit import CycleRecords, TaskRecord, collect_cycle, report_dir, task_report_dir
from bistlab.config import Workspace
from bistlab.honesty import FDR_Q, METHOD_ITEMS, CycleControl
from bistlab.ledger import ForwardView, load_forward
from bistlab.htmlfmt import REPORT_CSS, dirhit_html, dirhit_text, esc, html_table, link, num, pct
from bistlab.metrics import INTERVAL_METHOD, USABLE_RULE, DirHit, min_passing_dirhit
from bistlab.state import TaskStatus

__all__ = [
    "REPORT_COLUMNS",
    "CycleReport",
    "cycle_table",
    "load_report",
    "render_report",
    "task_sentences",
    "summary_html",
    "heatmap_figure",
    "usable_html",
    "table_html",
    "honesty_html",
    "hpo_vs_holdout_figure",
    "holdout_figure",
    "changes_html",
    "predictions_html",
    "forward_html",
    "tasks_html",
    "reproducibility_html",
]

logger = logging.getLogger(__name__)

REPORT_COLUMNS = [
    "task",
    "symbol",
    "horizon",
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
    "p_value",
    "q_value",
    "passes_rule",
    "usable",
    "pbo",
    "holdout_minus_hpo",
    "note",
]
"""Columns of :func:`cycle_table`: DirHits in percent with their counts, effective counts
(``*_n_eff``, overlapping h-day labels) and the 95 % interval of each number (``hpo_*`` / ``wfv_*``
are means over the counted splits, ``ci_*`` the holdout's); ``edge`` = holdout DirHit minus the best
baseline (points); ``agree_*_pct``: share of holdout calls in the baseline's direction;
``p_value`` / ``q_value``: the rule's one-sided p-value and its Benjamini–Hochberg adjustment over
the cycle; ``passes_rule``: the task's own test; ``usable``: after the cycle-wide control;
``pbo`` the CSCV probability of backtest overfitting."""


def _filter_words(flt: dict[str, Any]) -> str:
    return f"at least {flt['min_mask_count']} masked rows and {flt['min_mask_pct']:g} % of the window on at least {flt['min_valid_splits']} splits"


def low_support_text(rec: TaskRecord) -> str:
    """The LOW_SUPPORT statement of a task, in words (empty when it is not LOW_SUPPORT)."""
    if not rec.low_support or not rec.best:
        return ""
    flt = rec.best["evaluation_spec"]["filter"]
    used = rec.best["filter_used"]
    return (
        f"LOW_SUPPORT: none of the {rec.best['n_complete']} complete trials passed the support filter ({_filter_words(flt)}); "
        f"the trial was selected under the fallback filter (min_mask_count {used['min_mask_count']}, min_mask_pct {used['min_mask_pct']:g}, "
        f"min_valid_splits {used['min_valid_splits']}: any split with a DirHit), so its HPO DirHit rests on thin splits."
    )


def _note(rec: TaskRecord) -> str:
    parts = []
    if rec.status in (TaskStatus.FAILED, TaskStatus.SKIPPED) and rec.error:
        parts.append(rec.error)
    elif rec.status not in TaskStatus.ENDED:
        parts.append(f"not ended ({rec.status})")
    if rec.low_support:
        parts.append("LOW_SUPPORT: no trial passed the support filter; selected under the 0/0.0 fallback")
    if (rec.best or {}).get("study_restart_note"):
        parts.append(f"study restarted: {rec.best['study_restart_note']}")
    for option, info in ((rec.best or {}).get("options_skipped") or {}).items():
        parts.append(f"{option} not applied on splits {', '.join(map(str, info['splits']))}: {info['reason']}")
    if rec.ev and not rec.holdout.get("mask_count"):
        parts.append("holdout mask empty: no holdout DirHit (the model's |prediction| never exceeded the threshold where the move did)")
    return "; ".join(parts)


def _row(rec: TaskRecord, control: CycleControl | None) -> dict[str, Any]:
    best, ev, hold = rec.best or {}, rec.ev or {}, rec.holdout
    verdict = rec.verdict
    hpo, wfv, fig = rec.hpo_figure(), rec.wfv_figure(), rec.holdout_figure()
    base = rec.baseline_figures()
    sm = (best.get("symbol_metrics") or {}).get(rec.key) or {}
    edge = None
    if fig.defined and verdict.get("best_baseline_dirhit") is not None:
        edge = fig.value - verdict["best_baseline_dirhit"]
    return {
        "task": rec.key,
        "symbol": rec.symbol,
        "horizon": rec.horizon,
        "status": rec.status,
        "trials": best.get("n_complete"),
        "n_trials_total": best.get("n_trials"),
        "hpo_dirhit": hpo.value if best else None,
        "hpo_count": hpo.count if best else None,
        "hpo_n_eff": hpo.n_eff if best else None,
        "hpo_ci_low": hpo.low,
        "hpo_ci_high": hpo.high,
        "hpo_splits": len(best.get("counted_splits") or []) if best else None,
        "wfv_dirhit": ev.get("wfv_dirhit"),
        "wfv_count": wfv.count if ev else None,
        "wfv_n_eff": wfv.n_eff if ev else None,
        "wfv_ci_low": wfv.low,
        "wfv_ci_high": wfv.high,
        "wfv_splits": wfv.mean_of if ev else None,
        "parity_gap": ev.get("wfv_parity_gap"),
        "holdout_dirhit": hold.get("dirhit"),
        "holdout_hits": hold.get("dirhit_hits"),
        "holdout_count": hold.get("mask_count"),
        "holdout_n_eff": fig.n_eff if ev else None,
        "ci_low": fig.low,
        "ci_high": fig.high,
        "persistence_dirhit": hold.get("persistence_dirhit"),
        "persistence_count": base["persistence"].count if "persistence" in base else None,
        "persistence_no_direction": hold.get("persistence_no_direction"),
        "majority_dirhit": hold.get("majority_dirhit"),
        "best_baseline_dirhit": verdict.get("best_baseline_dirhit"),
        "edge": edge,
        "agree_persistence_pct": hold.get("agree_persistence_pct"),
        "agree_majority_pct": hold.get("agree_majority_pct"),
        "call_dirhit": hold.get("call_dirhit"),
        "call_count": hold.get("call_count"),
        "call_coverage_pct": hold.get("call_coverage_pct"),
        "holdout_n_test": hold.get("n_test"),
        "holdout_nrmse": hold.get("nrmse"),
        "wfv_nrmse": ((ev.get("wfv") or {}).get("avg_nrmse")),
        "hpo_nrmse": sm.get("avg_nrmse"),
        "holdout_mask_pct": hold.get("mask_pct"),
        "valid_splits": len(best.get("counted_splits") or []) if best else None,
        "low_support": bool(best.get("low_support")) if best else None,
        "p_value": verdict.get("p_value"),
        "q_value": control.q_values.get(rec.key) if control else None,
        "passes_rule": rec.passes_rule,
        "usable": rec.usable,
        "pbo": rec.honesty.pbo.pbo if rec.honesty else None,
        "holdout_minus_hpo": rec.honesty.holdout_minus_hpo if rec.honesty else None,
        "note": _note(rec),
    }


def cycle_table(ws: Workspace, cycle: int, *, records: CycleRecords | None = None) -> pd.DataFrame:
    """One row per task of ``cycle`` (columns :data:`REPORT_COLUMNS`), horizon-first."""
    records = records or collect_cycle(ws, cycle, archive=False)
    return pd.DataFrame([_row(rec, records.control) for rec in records.tasks], columns=REPORT_COLUMNS)


@dataclass
class CycleReport:
    """What the report notebook displays: the records, the table and the predictions.

    Attributes:
        ws: the workspace.
        cycle: the cycle number.
        records: per-task records (:func:`bistlab.audit.collect_cycle`).
        table: :func:`cycle_table`.
        predictions: :func:`bistlab.predict.predict_cycle`'s table, or ``None``.
        predictions_note: why there are no predictions, or where they were written.
        rel: relative URL prefix from the main report to ``reports/cycle_<N>/``.
        forward: the forward record of the ledger's forecasts (:func:`load_forward`).
    """

    ws: Workspace
    cycle: int
    records: CycleRecords
    table: pd.DataFrame
    predictions: pd.DataFrame | None
    predictions_note: str
    rel: str
    forward: ForwardView | None = None

    def record(self, key: str) -> TaskRecord:
        return next(r for r in self.records.tasks if r.key == key)


def _predictions(ws: Workspace, cycle: int, *, compute: bool) -> tuple[pd.DataFrame | None, str]:
    """The cycle's predictions: computed (and written to ``reports/cycle_<N>/predictions.csv``) when
    ``compute`` or when there is no CSV yet, else read back. A cycle whose ``runs/`` folder was cleaned
    up keeps the CSV it had: its report is not given forecasts made later."""
    from bistlab.errors import NoTrainedCycleError
    from bistlab.predict import PREDICTION_COLUMNS, default_predictions_path, predict_cycle, write_predictions

    path = default_predictions_path(ws, cycle)
    runs_there = ws.cycle_dir(cycle).exists()
    if path.exists() and (not compute or not runs_there):
        frame = pd.read_csv(path, dtype={"note": str, "as_of": str, "last_label_date": str})
        frame = frame.astype(object).where(frame.notna(), None)
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
        return frame.reindex(columns=PREDICTION_COLUMNS), f"written to cycle_{cycle}/predictions.csv ({made})"
    if not runs_there:
        return None, f"no predictions: runs/cycle_{cycle}/ (the cycle's models) was cleaned up before any were made"
    try:
        frame = predict_cycle(ws, cycle=cycle)
    except NoTrainedCycleError as err:
        return None, f"no predictions: {err}"
    write_predictions(frame, path)
    return frame, f"written to cycle_{cycle}/predictions.csv"


def load_report(ws: Workspace, cycle: int, *, archive: bool = False, compute_predictions: bool = False) -> CycleReport:
    """Everything the report shows for ``cycle`` (cheap after :func:`render_report` has cached it)."""
    records = collect_cycle(ws, cycle, archive=archive)
    table = cycle_table(ws, cycle, records=records)
    predictions, note = _predictions(ws, cycle, compute=compute_predictions)
    return CycleReport(ws=ws, cycle=cycle, records=records, table=table, predictions=predictions, predictions_note=note, rel=f"cycle_{cycle}/", forward=load_forward(ws))


# ---------------------------------------------------------------- words


def _dh_hold(rec: TaskRecord, *, inline: bool = True) -> str:
    return dirhit_html(rec.holdout_figure(), inline=inline)


def _dh_hpo(rec: TaskRecord, *, inline: bool = True) -> str:
    return dirhit_html(rec.hpo_figure(), inline=inline, css="biased")


def _dh_wfv(rec: TaskRecord, *, inline: bool = True) -> str:
    return dirhit_html(rec.wfv_figure(), inline=inline)


def _dh_base(rec: TaskRecord, name: str, *, inline: bool = True) -> str:
    """A baseline's holdout DirHit; persistence says how many masked rows it had no direction on."""
    fig = rec.baseline_figures().get(name)
    if fig is None:
        return "–"
    cell = dirhit_html(fig, inline=inline)
    skipped = rec.holdout.get("persistence_no_direction") if name == "persistence" else None
    if skipped:
        cell += f"{' ' if inline else '<br>'}<small>{skipped} row{'s' if skipped != 1 else ''} without a past direction not counted</small>"
    return cell


def _dh_call(rec: TaskRecord, *, inline: bool = True) -> str:
    h = rec.holdout
    if not h:
        return "–"
    cell = dirhit_html(rec.call_figure(), inline=inline)
    return f"{cell}{' ' if inline else '<br>'}<small>coverage {pct(h.get('call_coverage_pct'))} of {h.get('n_test')} rows</small>"


DISGUISE_PCT = 90.0
"""A model whose holdout calls follow a baseline's direction this often is that baseline in disguise."""


def disguise_words(rec: TaskRecord) -> str:
    """Says so when the model's holdout calls nearly always follow a baseline's direction."""
    h = rec.holdout
    for name, field in (("majority direction", "agree_majority_pct"), ("persistence (the sign of the last h-day return)", "agree_persistence_pct")):
        share = h.get(field)
        if share is not None and share >= DISGUISE_PCT:
            return (
                f"Its holdout calls follow the {name} on {share:.0f} % of the rows it calls: it is that baseline in disguise, "
                "and its DirHit says little about skill of its own."
            )
    return ""


def _control_words(rec: TaskRecord) -> str:
    if rec.fdr_q_value is None:
        return ""
    p = rec.verdict.get("p_value")
    if rec.usable:
        return f" One-sided p = {p:.4f}; kept by the cycle-wide false-discovery control (adjusted p {rec.fdr_q_value:.3f} ≤ {FDR_Q:.2f})."
    if rec.passes_rule:
        return (
            f" It passes the rule on its own (one-sided p = {p:.4f}) but <b>not</b> the cycle-wide false-discovery control "
            f"(adjusted p {rec.fdr_q_value:.3f} > {FDR_Q:.2f}): among this cycle's tasks, a pass this strong is to be expected by chance."
        )
    return ""


def _n_eff_words(rec: TaskRecord) -> str:
    v, fig = rec.verdict, rec.holdout_figure()
    if not fig.defined or round(fig.n_eff) >= fig.count:
        return ""
    need = v.get("min_passing_dirhit")
    bar = "no DirHit, not even 100 %, could clear 50 %" if need is None else f"the smallest DirHit that could clear 50 % is {need:.1f} %"
    return (
        f" Its {fig.count} masked rows of overlapping {rec.horizon}-day labels hold about {fig.n_eff:.0f} independent outcomes; "
        f"with so many, {bar}."
    )


def verdict_words(rec: TaskRecord) -> str:
    """Why a task is usable or not, with the rule's numbers (HTML)."""
    if not rec.ev:
        return "not evaluated on the holdout"
    v, h = rec.verdict, rec.holdout
    lower, base = v.get("dirhit_lower_95"), v.get("best_baseline_dirhit")
    if lower is None:
        return f"<b>not usable</b>: the holdout DirHit is undefined (n={h.get('mask_count', 0)}: no masked holdout row), so the rule ({esc(USABLE_RULE)}) cannot be met."
    verdict = "<b class=\"usable\">usable</b>" if rec.usable else "<b>not usable</b>"
    base_txt = f"{_dh_base(rec, v['best_baseline'])} ({v['best_baseline']})" if base is not None else "undefined"
    return (
        f"{verdict}: holdout DirHit {_dh_hold(rec)}; lower bound {lower:.1f} % "
        f"{'>' if lower > 50 else '≤'} 50 % and {'>' if base is not None and lower > base else '≤'} best baseline {base_txt} on the same rows."
        + _control_words(rec)
        + _n_eff_words(rec)
        + (" " + esc(disguise_words(rec)) if disguise_words(rec) else "")
    )


def task_sentences(rec: TaskRecord) -> list[str]:
    """A task's result in a few HTML sentences: selection (fallback or not), DirHits, verdict, reason."""
    out = []
    if rec.status in (TaskStatus.SKIPPED, TaskStatus.FAILED):
        out.append(f"<span class=\"failed\">{esc(rec.status)}</span>: {esc(rec.error or 'no reason recorded')}")
    elif rec.status not in TaskStatus.ENDED:
        out.append(f"not ended yet: {esc(rec.status)}")
    if rec.best:
        b = rec.best
        flt = b["evaluation_spec"]["filter"]
        sel = (
            f"Selection: trial {b['best_trial_number']} of {b['n_complete']} complete ({b['n_trials']} in all); "
            f"{b['n_qualified']} passed the support filter ({_filter_words(flt)})"
        )
        sel += "; the fallback filter was used." if rec.low_support else "; the fallback was not needed."
        out.append(sel)
        if rec.low_support:
            out.append(f'<span class="lowsupport">{esc(low_support_text(rec))}</span>')
        out.append(f"HPO DirHit {_dh_hpo(rec)} — biased upward by the search that picked it.")
        if b.get("study_restart_note"):
            out.append(f'<span class="lowsupport">Study restarted on resume: {esc(b["study_restart_note"])}.</span>')
        for option, info in (b.get("options_skipped") or {}).items():
            out.append(f"{esc(option)} was not applied on walk-forward splits {esc(', '.join(map(str, info['splits'])))}: {esc(info['reason'])}.")
    if rec.ev:
        gap = rec.ev.get("wfv_parity_gap")
        out.append(f"WFV DirHit after training {_dh_wfv(rec)}, {'parity gap ' + num(gap, '{:+.2f}') + ' points' if gap is not None else 'parity gap undefined'}.")
        out.append(verdict_words(rec))
    return out


# ---------------------------------------------------------------- sections


def _count_box(label: str, value: int, css: str = "") -> str:
    return f'<div class="count {css}"><b>{value}</b>{esc(label)}</div>'


def summary_html(rep: CycleReport) -> str:
    """The title, the counts and how to read the numbers."""
    tasks = rep.records.tasks
    status = pd.Series([r.status for r in tasks], dtype=object).value_counts().to_dict()
    n_low = sum(r.low_support for r in tasks)
    n_usable = sum(bool(r.usable) for r in tasks)
    others = len(tasks) - sum(status.get(s, 0) for s in TaskStatus.ENDED)
    boxes = [
        _count_box("tasks", len(tasks)),
        _count_box("completed", status.get(TaskStatus.COMPLETED, 0), "good" if status.get(TaskStatus.COMPLETED) else ""),
        _count_box("failed", status.get(TaskStatus.FAILED, 0), "bad" if status.get(TaskStatus.FAILED) else ""),
        _count_box("skipped", status.get(TaskStatus.SKIPPED, 0), "warn" if status.get(TaskStatus.SKIPPED) else ""),
        _count_box("LOW_SUPPORT", n_low, "warn" if n_low else ""),
        _count_box("usable", n_usable, "good" if n_usable else ""),
    ]
    if others:
        boxes.append(_count_box("not ended", others, "warn"))
    parts = [
        f'<div class="bistlab-report"><style>{REPORT_CSS}</style>',
        f"<h1>bistlab — cycle {rep.cycle}</h1>",
        f"<p>Generated {esc(time.strftime('%Y-%m-%d %H:%M %Z'))} from workspace <code>{esc(rep.ws.root)}</code>.</p>",
        f'<div class="counts">{"".join(boxes)}</div>',
    ]
    if not rep.records.ended:
        parts.append(f'<div class="banner">This cycle has not ended: {others} task(s) are still pending or running; their rows are incomplete.</div>')
    parts.append(
        "<p><b>How to read it.</b> <i>DirHit</i> is the percentage of rows whose predicted direction is right, counted only "
        "where both the realised and the predicted forward log return exceed the threshold (the <i>mask</i>); every DirHit "
        "is shown with its count n and the 95 % interval of that very number. For h &gt; 1 trading days neighbouring labels "
        "share h − 1 days of price path, so n rows are fewer independent outcomes: the interval is "
        f"the {esc(INTERVAL_METHOD)}; <i>n_eff</i> is shown where it is below n. <i>HPO DirHit</i> is the selected trial's walk-forward DirHit "
        "(mean over the splits that passed the support filter; n pooled over them; its interval is that of the mean): it is "
        "<b>biased upward</b> by the search that picked it. <i>WFV DirHit</i> re-measures the same configuration on the same "
        "splits after training (parity). <i>Holdout DirHit</i> is the honest number: the most recent rows, never seen by HPO, "
        "predicted online with refits on past data only, beside two naive baselines on the same rows (persistence: the sign "
        "of the last h-day return, rows where it is zero not counted; majority: the training window's majority direction).</p>"
        f"<p><b>Usable rule</b> (holdout numbers only): {esc(USABLE_RULE)}.</p>"
    )
    if rep.records.control and rep.records.control.n_tested:
        parts.append(f"<p><b>Many tasks.</b> {esc(rep.records.control.words())}</p>")
    parts.append("</div>")
    return "\n".join(parts)


def _hover(rec: TaskRecord) -> str:
    lines = [f"holdout {dirhit_text(rec.holdout_figure())}" if rec.ev else f"status: {rec.status}"]
    if rec.ev:
        name = rec.verdict.get("best_baseline")
        base = rec.baseline_figures().get(name) if name else None
        lines.append(f"best baseline ({name}) {dirhit_text(base)}" if base else "best baseline undefined")
        lines.append("usable" if rec.usable else ("passes the rule alone, not after the cycle-wide control" if rec.passes_rule else "not usable"))
    if rec.low_support:
        lines.append("LOW_SUPPORT")
    return "<br>".join(esc(x) for x in lines)


def heatmap_figure(rep: CycleReport):
    """The symbol × horizon heatmap of holdout DirHit minus the best baseline."""
    from bistlab.plots import edge_heatmap

    t = rep.table.copy()
    t["hover"] = [_hover(r) for r in rep.records.tasks]
    return edge_heatmap(t)


def holdout_figure(rep: CycleReport):
    """Holdout DirHit per task with its interval and the best baseline."""
    from bistlab.plots import holdout_dirhit_by_task

    return holdout_dirhit_by_task(rep.table)


def hpo_vs_holdout_figure(rep: CycleReport):
    """HPO DirHit against holdout DirHit per task."""
    from bistlab.plots import hpo_vs_holdout

    return hpo_vs_holdout(rep.table)


def _judgeable_rows(rep: CycleReport) -> list[list[str]]:
    """Per horizon: holdout size, effective counts, and the smallest holdout DirHit that could pass."""
    rows = []
    for horizon in sorted({r.horizon for r in rep.records.tasks if r.ev}):
        recs = [r for r in rep.records.tasks if r.ev and r.horizon == horizon]
        n_test = max(int(r.holdout.get("n_test") or 0) for r in recs)
        best_case = min(n_test, math.ceil(n_test / horizon))
        figs = [r.holdout_figure() for r in recs]
        n_effs = sorted(f.n_eff for f in figs if f.defined)
        median = n_effs[len(n_effs) // 2] if n_effs else 0.0
        need_best, need_median = min_passing_dirhit(best_case), min_passing_dirhit(median)
        rows.append(
            [
                esc(horizon),
                str(len(recs)),
                str(n_test),
                str(best_case),
                pct(need_best) if need_best else "<b>none</b>: even 100 % cannot pass",
                f"{median:.0f}",
                pct(need_median) if need_median else "<b>none</b>: even 100 % cannot pass",
            ]
        )
    return rows


def usable_html(rep: CycleReport) -> str:
    """The usable models with the rule's numbers, those the cycle-wide control dropped, what each
    horizon's holdout can judge, and the nearest misses."""
    tasks = rep.records.tasks
    usable = [r for r in tasks if r.usable]
    parts = ['<div class="bistlab-report">', "<h2>Usable models</h2>", f"<p>Rule, on holdout numbers only: {esc(USABLE_RULE)}.</p>"]
    if rep.records.control and rep.records.control.n_tested:
        parts.append(f"<p>{esc(rep.records.control.words())}</p>")
    if usable:
        parts.append("<ul>" + "".join(f"<li><b>{esc(r.key)}</b> ({esc((r.best or {}).get('model_choice'))}): {verdict_words(r)}</li>" for r in usable) + "</ul>")
    else:
        parts.append('<div class="banner bad">No model of this cycle is usable: none has a holdout DirHit whose 95 % lower bound beats both 50 % and the best baseline and survives the cycle-wide control.</div>')
    dropped = [r for r in tasks if r.passes_rule and not r.usable]
    if dropped:
        parts.append("<p>Passed the rule on their own but not the cycle-wide control (chance passes among many tasks):</p><ul>" + "".join(f"<li><b>{esc(r.key)}</b>: {verdict_words(r)}</li>" for r in dropped) + "</ul>")
    judge = _judgeable_rows(rep)
    if judge:
        cols = ["h (trading days)", "tasks", "holdout rows", "n_eff if every row were masked", "bar then (smallest passing %)", "median n_eff of the tasks", "bar then (smallest passing %)"]
        parts.append(
            "<h3>What each horizon's holdout can judge</h3><p>The rule needs the lower bound of the holdout DirHit above 50 % (and above the best "
            "baseline); with few independent h-day outcomes even a high DirHit cannot get there. The smallest DirHit that could clear 50 %, "
            "per horizon (a baseline above 50 % raises the bar further):</p>"
            + html_table(cols, judge, table_id="judgeable")
        )
    near = [r for r in tasks if r.ev and not r.passes_rule and r.verdict.get("dirhit_lower_95") is not None]
    near.sort(key=lambda r: r.verdict["dirhit_lower_95"] - max(50.0, r.verdict.get("best_baseline_dirhit") or 50.0), reverse=True)
    if near:
        parts.append("<p>Nearest misses (largest lower bound relative to the bar):</p><ul>" + "".join(f"<li><b>{esc(r.key)}</b>: {verdict_words(r)}</li>" for r in near[:5]) + "</ul>")
    parts.append("</div>")
    return "\n".join(parts)


def _task_links(rep: CycleReport, rec: TaskRecord) -> str:
    folder = task_report_dir(rep.ws, rep.cycle, rec.key)
    base = f"{rep.rel}{rec.key}/"
    items = [link(base + "index.html", "page")] if (folder / "index.html").exists() else []
    items += [link(base + f"{n}.html", n) for n in ("hpo", "train", "evaluate") if (folder / f"{n}.html").exists()]
    return " · ".join(items) or "–"


def _prev_cell(rec: TaskRecord) -> str:
    p = rec.previous
    if not p.get("available"):
        return f"<small>{esc(p.get('reason', '–'))}</small>"
    bits = []
    if p.get("holdout_delta") is not None:
        bits.append(f"holdout {p['holdout_delta']:+.1f} pts")
    if p.get("usable_flip"):
        bits.append(f"<b>{esc(p['usable_flip'])}</b>")
    n = len(p.get("changed") or {}) + len(p.get("added") or []) + len(p.get("removed") or [])
    bits.append(f"{n} param{'s' if n != 1 else ''} changed")
    return "<br>".join(bits)


def table_html(rep: CycleReport) -> str:
    """The table: one row per task (``id="summary"``), first cell the task key."""
    spec = [
        ("task", None),
        ("status", None),
        ("LOW_SUPPORT", "no trial passed the support filter; selected under the 0/0.0 fallback"),
        ("usable", USABLE_RULE),
        ("trials (complete / all)", "complete Optuna trials of the study / all trials (failed and pruned included)"),
        ("HPO DirHit % (biased upward by the search)", "mean DirHit over the selected trial's counted splits; n pooled over them. The maximum over the trials: optimistic."),
        ("WFV DirHit % (parity after training)", "the same configuration refit per split after training; Δ = WFV − HPO (0 = parity)"),
        ("holdout DirHit % (n, 95 % CI)", "online evaluation on the untouched holdout"),
        ("persistence % (same rows)", "sign of the last h-day return, on the holdout's masked rows"),
        ("majority % (same rows)", "the training window's majority direction, on the holdout's masked rows"),
        ("holdout − best baseline", "holdout DirHit minus the better baseline, percentage points"),
        ("holdout call DirHit %", "DirHit over rows where |prediction| > threshold (what a trader acts on) and their share"),
        ("nRMSE holdout / WFV", "RMSE / std of the realised returns (1 = no better than the mean): holdout, and mean over the walk-forward splits after training"),
        ("support (holdout mask %, splits counted)", "masked holdout rows in % of the holdout; splits that counted in the HPO DirHit"),
        ("PBO", "probability of backtest overfitting (CSCV over trials × splits); ≈0.5 = selection picked noise"),
        (f"vs cycle {rep.cycle - 1}" if rep.cycle > 1 else "vs previous cycle", "change since the previous cycle"),
        ("note", None),
        ("details", "the task's page and its executed notebooks"),
    ]
    cols = [c for c, _ in spec]
    titles = [t for _, t in spec]
    rows = []
    for rec, (_, t) in zip(rep.records.tasks, rep.table.iterrows()):
        h = rec.holdout
        trials = f"{rec.best['n_complete']} / {rec.best['n_trials']}" if rec.best else "–"
        wfv = "–"
        if rec.ev:
            gap = rec.ev.get("wfv_parity_gap")
            wfv = _dh_wfv(rec, inline=False) + (f"<br><small>Δ {gap:+.2f}</small>" if gap is not None else "")
        status = esc(rec.status)
        if rec.status in (TaskStatus.FAILED, TaskStatus.SKIPPED):
            status = f'<span class="failed">{status}</span>'
        usable = "–" if rec.usable is None else ('<span class="usable">usable</span>' if rec.usable else '<span class="notusable">no</span>')
        if rec.passes_rule and not rec.usable:
            usable += "<br><small>passes alone; not after the cycle-wide control</small>"
        if disguise_words(rec):
            usable += "<br><small>follows a baseline on ≥ 90 % of its calls</small>"
        rows.append(
            [
                esc(rec.key),
                status,
                '<span class="lowsupport">LOW_SUPPORT</span>' if rec.low_support else "",
                usable,
                trials,
                _dh_hpo(rec, inline=False) if rec.best else "–",
                wfv,
                _dh_hold(rec, inline=False) if rec.ev else "–",
                _dh_base(rec, "persistence", inline=False) if rec.ev else "–",
                _dh_base(rec, "majority", inline=False) if rec.ev else "–",
                num(t["edge"], "{:+.1f}") if t["edge"] is not None and not pd.isna(t["edge"]) else "–",
                _dh_call(rec, inline=False) if rec.ev else "–",
                f"{num(h.get('nrmse'))} / {num(((rec.ev or {}).get('wfv') or {}).get('avg_nrmse'))}" if rec.ev else "–",
                f"{pct(h.get('mask_pct'))}, {len(rec.best.get('counted_splits') or [])} of {len(rec.hpo_splits())}" if rec.best else "–",
                num(rec.honesty.pbo.pbo, "{:.2f}") if rec.honesty and rec.honesty.pbo.pbo is not None else "–",
                _prev_cell(rec),
                f'<div class="note">{esc(t["note"])}</div>' if t["note"] else "",
                _task_links(rep, rec),
            ]
        )
    return (
        '<div class="bistlab-report"><h2>All tasks</h2>'
        "<p>One row per task, horizon-first. Hover over a column header for its definition.</p>"
        + html_table(cols, rows, table_id="summary", titles=titles)
        + "</div>"
    )


def method_html() -> str:
    """The multiple-testing method and its limits, in words (:data:`bistlab.honesty.METHOD_ITEMS`)."""
    intro, *items = METHOD_ITEMS
    return f"<p>{esc(intro)}</p><ul>" + "".join(f"<li>{esc(x)}</li>" for x in items) + "</ul>"


def honesty_html(rep: CycleReport) -> str:
    """Multiple-testing honesty: per study, trials and how much of the best DirHit is selection."""
    parts = ['<div class="bistlab-report"><h2>Multiple testing: how much of the HPO DirHit is selection</h2>', method_html()]
    with_h = [r for r in rep.records.tasks if r.honesty]
    gaps = [r.honesty.holdout_minus_hpo for r in with_h if r.honesty.holdout_minus_hpo is not None]
    pbos = [r.honesty.pbo.pbo for r in with_h if r.honesty.pbo.pbo is not None]
    if gaps or pbos:
        s = []
        if gaps:
            s.append(f"median holdout − HPO gap over {len(gaps)} evaluated studies: <b>{pd.Series(gaps).median():+.1f} points</b>")
        if pbos:
            s.append(f"PBO ≥ 0.5 in <b>{sum(p >= 0.5 for p in pbos)} of {len(pbos)}</b> studies (mean PBO {sum(pbos) / len(pbos):.2f})")
        parts.append("<p>" + "; ".join(s) + ".</p>")
    missing = [r.key for r in rep.records.tasks if r.best and not r.honesty]
    if missing:
        parts.append(f"<p>No study record for {esc(', '.join(missing))} (the study was removed before the report was first rendered).</p>")
    cols = ["task", "trials (complete / all)", "HPO DirHit % (selected)", "holdout DirHit %", "holdout − HPO", "best − median trial", "best-of-N noise reference", "P(best > noise)", "PBO (combinations)", "IS winner's OOS rank"]
    rows = []
    for r in with_h:
        hh = r.honesty
        pbo = hh.pbo
        rows.append(
            [
                esc(r.key),
                f"{hh.n_complete} / {hh.n_trials}",
                _dh_hpo(r, inline=False),
                _dh_hold(r, inline=False) if r.ev else "–",
                num(hh.holdout_minus_hpo, "{:+.1f}"),
                num(hh.best_minus_median, "{:+.1f}"),
                f"{pct(hh.noise_max_dirhit)}<br><small>n={hh.pooled_count}, N={hh.n_complete}</small>",
                num(hh.deflated_prob, "{:.2f}"),
                (f"{pbo.pbo:.2f}<br><small>{pbo.n_combinations} combinations, {pbo.n_trials} trials × {pbo.n_splits} splits</small>" if pbo.pbo is not None else f"<small>{esc(pbo.reason)}</small>"),
                f"{pbo.mean_oos_rank_pct:.0f} %" if pbo.mean_oos_rank_pct is not None else "–",
            ]
        )
    parts.append(html_table(cols, rows, table_id="honesty"))
    parts.append("</div>")
    return "\n".join(parts)


def changes_html(rep: CycleReport) -> str:
    """This cycle against the previous one, per task."""
    parts = ['<div class="bistlab-report">', "<h2>Since the previous cycle</h2>"]
    if rep.cycle <= 1:
        parts.append("<p>Cycle 1 is the first cycle: there is nothing to compare with.</p></div>")
        return "\n".join(parts)
    prev = rep.cycle - 1
    cols = ["task", f"holdout DirHit %, cycle {prev}", f"holdout DirHit %, cycle {rep.cycle}", "Δ points", f"HPO DirHit % (biased), cycle {prev} → {rep.cycle}", "usable rule (each task alone)", "model", "parameters changed", "prices changed", "note"]
    rows = []
    for r in rep.records.tasks:
        p = r.previous
        if not p.get("available"):
            rows.append([esc(r.key), "–", _dh_hold(r, inline=False) if r.ev else "–", "–", "–", "–", "–", "–", "–", f'<div class="note">{esc(p.get("reason"))}</div>'])
            continue
        changed = p.get("changed") or {}
        names = [f"{k}: {v[0]} → {v[1]}" for k, v in changed.items()] + [f"+{k}" for k in p.get("added") or []] + [f"−{k}" for k in p.get("removed") or []]
        shown = "<br>".join(esc(x) for x in names[:6]) + (f"<br><small>+{len(names) - 6} more (see the task's page)</small>" if len(names) > 6 else "")
        usable_now = r.passes_rule
        usable = esc(p["usable_flip"]) if p.get("usable_flip") else ("–" if p.get("usable") is None or usable_now is None else ("usable in both" if usable_now else "not usable in both"))
        mc = p.get("model_choice") or [None, None]
        rows.append(
            [
                esc(r.key),
                dirhit_html(p["holdout_figure"]) if p.get("evaluated") else "not evaluated",
                _dh_hold(r, inline=False) if r.ev else "–",
                num(p.get("holdout_delta"), "{:+.1f}"),
                dirhit_html(p["hpo_figure"], css="biased")
                + "<br>→ "
                + (_dh_hpo(r, inline=False) if r.best else "–"),
                usable,
                esc(mc[0] if mc[0] == mc[1] else f"{mc[0]} → {mc[1]}"),
                f"{len(names)}<br>{shown}" if names else "none",
                {True: "yes", False: "no", None: "–"}[p.get("data_changed")],
                esc(f"cycle {prev} read from its {p.get('source', '')}"),
            ]
        )
    flips = [r.key for r in rep.records.tasks if r.previous.get("usable_flip")]
    missing = sum(not r.previous.get("available") for r in rep.records.tasks)
    summary = [f"{len(flips)} usable flip{'s' if len(flips) != 1 else ''}" + (f" ({esc(', '.join(flips))})" if flips else "")]
    if missing:
        summary.append(f"{missing} task{'s' if missing != 1 else ''} without a cycle-{prev} result to compare (see the note)")
    parts.append("<p>" + "; ".join(summary) + ".</p>")
    parts.append(html_table(cols, rows, table_id="changes"))
    parts.append("</div>")
    return "\n".join(parts)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _prediction_figure(p: pd.Series) -> DirHit:
    """The holdout DirHit of a predictions row, as :func:`bistlab.predict.predict_cycle` computed it."""
    value = None if _missing(p["holdout_dirhit"]) else float(p["holdout_dirhit"])
    n_eff = None if _missing(p.get("holdout_n_eff")) else float(p["holdout_n_eff"])
    count = int(p["holdout_count"])
    if value is None or _missing(p["holdout_ci_low"]):
        return DirHit.of_percent(value, count, n_eff)
    return DirHit(value, count, n_eff if n_eff is not None else float(count), float(p["holdout_ci_low"]), float(p["holdout_ci_high"]))


def predictions_html(rep: CycleReport) -> str:
    """The latest forecast per task (the table ``bistlab predict`` writes)."""
    parts = [
        '<div class="bistlab-report">',
        "<h2>Predictions</h2>",
        "<p>The latest forecast per task: the selected configuration refit on every labelled row (not the training "
        "model, which stops before the holdout), predicting the log return over the next h trading days after the last "
        "price. Direction: up / down, or flat within the DirHit threshold. Skill is the holdout's; a forecast from a model "
        "that is not usable has no demonstrated skill.</p>",
    ]
    frame = rep.predictions
    if frame is None or frame.empty:
        parts.append(f"<p>{esc(rep.predictions_note)}</p></div>")
        return "\n".join(parts)
    parts.append(f"<p>{esc(rep.predictions_note)}.</p>")
    cols = ["task", "as of", "direction", "expected log return", "expected return %", "holdout DirHit %", "usable", "LOW_SUPPORT", "note"]
    rows = []
    for _, p in frame.iterrows():
        dh = dirhit_html(_prediction_figure(p), inline=False) if not _missing(p["holdout_count"]) else "–"
        usable = p["usable"]
        usable_txt = "–" if usable is None or (isinstance(usable, float) and pd.isna(usable)) else ('<span class="usable">usable</span>' if str(usable) == "True" else "no")
        low = p["low_support"]
        rows.append(
            [
                esc(p["task"]),
                esc(p["as_of"] or "–"),
                f"<b>{esc(p['direction'])}</b>",
                num(p["expected_log_return"], "{:+.5f}"),
                num(p["expected_return_pct"], "{:+.3f}"),
                dh,
                usable_txt,
                '<span class="lowsupport">LOW_SUPPORT</span>' if str(low) == "True" else "",
                esc(p["note"] or ""),
            ]
        )
    parts.append(html_table(cols, rows, table_id="predictions"))
    parts.append("</div>")
    return "\n".join(parts)


def forward_html(rep: CycleReport) -> str:
    """The forward record: forecasts scored against the prices that followed them."""
    view = rep.forward or load_forward(rep.ws)
    parts = [
        '<div class="bistlab-report"><h2>Forward record: the forecasts against what followed</h2>',
        "<p>Every forecast is kept in the forecast ledger when it is made and never rewritten; once its h trading days have "
        "passed it is scored against the realised log return. This is the number that says whether the verdicts hold up: "
        "a usable model's forward DirHit should stay above its baselines. Masked as the holdout (|realised| and |expected| "
        "above the threshold); baselines known at the forecast's date on the same rows; intervals at the effective count of "
        "overlapping h-day labels, tasks treated as independent when pooled.</p>",
        f"<p>{esc(view.note)}</p>",
    ]
    if not view.tasks:
        parts.append("</div>")
        return "\n".join(parts)
    cols = ["forecasts", "recorded", "scored", "forward DirHit %", "persistence % (same rows)", "majority % (same rows)"]
    groups = [[esc(g.label), str(g.n_forecasts), str(g.n_scored), dirhit_html(g.dirhit), dirhit_html(g.persistence), dirhit_html(g.majority)] for g in view.groups]
    tasks = [[esc(t.label), str(t.n_forecasts), str(t.n_scored), dirhit_html(t.dirhit), dirhit_html(t.persistence), dirhit_html(t.majority)] for t in view.tasks]
    parts += [html_table(cols, groups, table_id="forward-groups"), "<h3>Per task</h3>", html_table(["task"] + cols[1:], tasks, table_id="forward-tasks"), "</div>"]
    return "\n".join(parts)


def tasks_html(rep: CycleReport) -> str:
    """A short section per task: selection (and fallback), DirHits, verdict or reason; links."""
    parts = ['<div class="bistlab-report"><h2>Per task</h2>', "<p>Each task in a few sentences; its page has the splits, figures, configuration and evaluation spec.</p>"]
    for r in rep.records.tasks:
        flag = ' <span class="lowsupport">LOW_SUPPORT</span>' if r.low_support else ""
        verdict = "" if r.usable is None else (' — <span class="usable">usable</span>' if r.usable else " — not usable")
        hold = f" — holdout {_dh_hold(r)}" if r.ev else ""
        parts.append(
            f'<details id="task-{esc(r.key)}"><summary><b>{esc(r.key)}</b> — {esc(r.status)}{flag}{hold}{verdict}</summary>'
            + "<ul>" + "".join(f"<li>{s}</li>" for s in task_sentences(r)) + f"<li>{_task_links(rep, r)}</li></ul></details>"
        )
    parts.append("</div>")
    return "\n".join(parts)


def _kv(items: list[tuple[str, str]]) -> str:
    return html_table(["item", "value"], [[esc(k), v] for k, v in items], classes="bl kv")


def reproducibility_html(rep: CycleReport) -> str:
    """Data fingerprints, evaluation settings, versions, commit, config, seeds, wall times."""
    from bistlab.repro import report_versions, source_revision

    tasks = rep.records.tasks
    rev = source_revision()
    versions: dict[str, str] = {}
    fingerprints: dict[str, tuple[str, int | None, str]] = {}
    settings: dict[str, Any] = {}
    seeds = set()
    for r in tasks:
        if r.meta:
            versions = r.meta.get("package_versions") or versions
        if r.best:
            spec = r.best["evaluation_spec"]
            first = spec["splits"][0]["train_dates"][0] if spec.get("splits") else "?"
            fingerprints[r.symbol] = (r.best["data_fingerprint"], spec.get("n_rows"), f"{first} … {spec['holdout']['dates'][1]}")
            settings = {
                "dirhit threshold (|log return|)": spec["dirhit_threshold"],
                "walk-forward splits": len(spec["splits"]),
                "purge": "h rows",
                **{f"support filter {k}": v for k, v in spec["filter"].items()},
                "holdout refit every (rows)": spec["refit_every"],
            }
            seeds.add((r.best.get("config") or {}).get("seed"))
    items = [
        ("bistlab", f"{esc(rev['version'])}, source revision {esc(rev['commit'])}" + (" (uncommitted changes)" if rev.get("dirty") else "")),
        ("packages at training", esc(", ".join(f"{k} {v}" for k, v in versions.items()) or "unknown")),
        ("packages rendering this report", esc(", ".join(f"{k} {v}" for k, v in report_versions().items()))),
        ("cycle configuration", "<code>" + esc(", ".join(f"{k}={v}" for k, v in rep.records.config.items()) or "not recorded") + "</code>"),
        ("seeds", esc(f"sampler and model seed {rep.records.config.get('seed', '?')} (cycle config); trial configs use seed(s) {sorted(s for s in seeds if s is not None) or '–'}")),
        ("evaluation settings", esc(", ".join(f"{k} = {v}" for k, v in settings.items()) or "none")),
    ]
    removed: dict[str, set[str]] = {}
    for r in tasks:
        for name, reason in ((r.best or {}).get("space_removed") or {}).items():
            removed.setdefault(f"{name}: {reason}", set()).add(r.key)
    items.append(
        (
            "left out of the search space",
            esc("; ".join(f"{what} ({'every task' if len(keys) == len(tasks) else ', '.join(sorted(keys))})" for what, keys in sorted(removed.items())) or "nothing"),
        )
    )
    walls = [r.wall_seconds() for r in tasks]
    total = {k: sum(w[k] for w in walls if w[k]) for k in ("hpo", "train", "evaluate")}
    items.append(("wall time, all tasks", esc(", ".join(f"{k} {v / 60:.1f} min" for k, v in total.items()))))
    fp_rows = [[esc(s), f"<code>{esc(f)}</code>", esc(n), esc(span)] for s, (f, n, span) in sorted(fingerprints.items())]
    wall_rows = []
    for r, w in zip(tasks, walls):
        spec = (r.best or {}).get("evaluation_spec") or {}
        hold = spec.get("holdout") or {}
        wall_rows.append(
            [
                esc(r.key),
                num(w["hpo"], "{:.1f}"),
                num(w["train"], "{:.1f}"),
                num(w["evaluate"], "{:.1f}"),
                esc(f"{len(spec.get('splits') or [])} splits; holdout rows {hold.get('start')}–{hold.get('end')} ({' … '.join(hold.get('dates') or [])})" if spec else "–"),
                esc(r.timestamps.get("started") or "–"),
                esc(r.timestamps.get("completed") or "–"),
            ]
        )
    return "\n".join(
        [
            '<div class="bistlab-report"><h2>Reproducibility</h2>',
            _kv(items),
            "<h3>Data fingerprints</h3>",
            html_table(["symbol", "fingerprint", "rows", "first date … last holdout date"], fp_rows, table_id="fingerprints"),
            "<details><summary>Wall times (seconds) and evaluation specs per task</summary>",
            html_table(["task", "HPO", "training", "evaluation", "evaluation_spec", "started (UTC)", "completed (UTC)"], wall_rows, table_id="walltimes"),
            "</details>",
            f"<p>Each task's full evaluation_spec, configuration and executed notebooks are on its page; copies of its result "
            f"files are kept under <code>reports/cycle_{rep.cycle}/&lt;SYMBOL&gt;_&lt;h&gt;d/</code>, the run artifacts under "
            f"<code>runs/cycle_{rep.cycle}/</code> (until cleanup).</p></div>",
        ]
    )


# ---------------------------------------------------------------- rendering


def _export_notebooks(ws: Workspace, rep: CycleReport, rec: TaskRecord) -> None:
    src_folder = ws.task_dir(rep.cycle, rec.key)
    dst_folder = task_report_dir(ws, rep.cycle, rec.key)
    banner = (
        f'<a href="index.html">← {esc(rec.key)} page</a> · <a href="../../cycle_{rep.cycle}.html">cycle {rep.cycle} report</a> · '
        + " · ".join(f'<a href="{n}.html">{n}</a>' for n in ("hpo", "train", "evaluate"))
    )
    for name in ("hpo", "train", "evaluate"):
        src, dst = src_folder / f"{name}.ipynb", dst_folder / f"{name}.html"
        if not src.exists() or (dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime):
            continue
        try:
            notebooks.to_html(src, dst, exclude_input=False, plotly_src="../plotly.min.js", css_href="../notebook.css", banner=banner)
        except Exception as err:  # noqa: BLE001 - one broken notebook must not cost the report
            logger.warning("%s: %s.ipynb not exported: %s", rec.key, name, err)


def render_report(ws: Workspace, cycle: int) -> Path:
    """Render ``reports/cycle_<N>.html`` and everything under ``reports/cycle_<N>/``.

    Steps: copy the tasks' result files and study records into the report folder, compute the
    predictions (refitting ``model_final.pkl`` where needed), write the shared plotly.js and
    notebook stylesheet, export each task's executed notebooks, write each task's page, then
    execute the ``cycle_report`` notebook and export it.

    Returns:
        The main report's path.
    """
    from bistlab.plots import write_plotlyjs
    from bistlab.task_page import write_task_page

    started = time.time()
    folder = report_dir(ws, cycle)
    folder.mkdir(parents=True, exist_ok=True)
    records = collect_cycle(ws, cycle, archive=True)
    predictions, note = _predictions(ws, cycle, compute=True)
    rep = CycleReport(ws=ws, cycle=cycle, records=records, table=cycle_table(ws, cycle, records=records), predictions=predictions, predictions_note=note, rel=f"cycle_{cycle}/", forward=load_forward(ws))
    write_plotlyjs(folder / "plotly.min.js")
    css = folder / "notebook.css"
    if not css.exists():
        css.write_text(notebooks.notebook_css(), encoding="utf-8")
    for rec in records.tasks:
        _export_notebooks(ws, rep, rec)
        try:
            write_task_page(rep, rec)
        except Exception as err:  # noqa: BLE001 - one broken page must not cost the cycle's report
            logger.exception("%s: task page not written", rec.key)
            page = task_report_dir(ws, cycle, rec.key) / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(f"<!DOCTYPE html><html><body><h1>{esc(rec.key)}</h1><p>This page could not be rendered: {esc(type(err).__name__)}: {esc(err)}</p></body></html>", encoding="utf-8")
    logger.info("cycle %d: task pages written in %.1f s", cycle, time.time() - started)
    executed = notebooks.execute(
        "cycle_report",
        ws.cycle_dir(cycle) / "cycle_report.ipynb",
        parameters={"workspace": str(ws.root), "db_url": ws.db_url, "cycle": cycle},
        cwd=ws.root,
    )
    out = notebooks.to_html(executed, ws.reports / f"cycle_{cycle}.html")
    logger.info("cycle %d: report %s in %.1f s", cycle, out, time.time() - started)
    return out
