"""The sections of the cycle report, as HTML and figures, built from a :class:`CycleReport`:
the summary and how to read it, the usable models and what each horizon can judge, the table of
all tasks, multiple testing, changes since the previous cycle and a short section per task. The
forecasts and the forward record are :mod:`bistlab.report.forecasts`, the reproducibility block
:mod:`bistlab.report.reproducibility`."""

from __future__ import annotations

import time

import pandas as pd
import plotly.graph_objects as go

from bistlab.report import plots
from bistlab.report.htmlfmt import REPORT_CSS, dirhit_html, dirhit_text, edge_html, esc, html_table, link, num, pct
from bistlab.evaluation.metrics import effective_count
from bistlab.evaluation.dirhit import USABLE_RULE, DirHit
from bistlab.evaluation.intervals import INTERVAL_METHOD, min_passing_dirhit
from bistlab.report.assemble import CycleReport
from bistlab.report.data import TaskRecord
from bistlab.report.words import baseline_html, disguise_words, hold_html, hpo_html, method_html, task_sentences, verdict_words
from bistlab.core.state import TaskStatus
from bistlab.core.textfmt import TRIALS_MEANING

__all__ = [
    "summary_html",
    "heatmap_figure",
    "holdout_figure",
    "hpo_vs_holdout_figure",
    "usable_html",
    "table_html",
    "honesty_html",
    "changes_html",
    "tasks_html",
]

HOW_TO_READ = (
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
    "<p><b>Usable</b>: decided by the holdout numbers only; the rule and its numbers are in the section <i>Usable models</i>.</p>"
)

HOW_TO_READ_UNIVERSE = (
    "<p><b>Universe models.</b> A task <code>UNIVERSE_&lt;h&gt;d</code> is one model over every stored symbol, judged on "
    "its panel of (date, symbol) holdout rows and, by default, on the <i>excess</i> target: the h-day log return minus the "
    "date's cross-sectional median (half of each date's symbols beat it by construction, so neither the market's drift nor "
    "the skew of returns makes a constant call look skilled). Its DirHits are pooled over every symbol's masked rows; their "
    "intervals come from a block bootstrap over dates (a date's rows always together, blocks of at least h sessions), not "
    "from an effective count. Its usable rule also needs the mean rank IC's lower bound above 0: see the section "
    "<i>Universe models</i>.</p>"
)


# ---------------------------------------------------------------- summary and figures


def _count_box(label: str, value: int, css: str = "") -> str:
    return f'<div class="count {css}"><b>{value}</b>{esc(label)}</div>'


def _count_boxes(rep: CycleReport) -> tuple[str, int]:
    """The count boxes, and how many tasks have not ended."""
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
    return "".join(boxes), others


def summary_html(rep: CycleReport) -> str:
    """The title, the counts and how to read the numbers."""
    boxes, others = _count_boxes(rep)
    parts = [
        f'<div class="bistlab-report"><style>{REPORT_CSS}</style>',
        f"<h1>bistlab — cycle {rep.cycle}{_as_of_title(rep)}</h1>",
        f"<p>Generated {esc(time.strftime('%Y-%m-%d %H:%M %Z'))} from workspace <code>{esc(rep.ws.root)}</code>.</p>",
        _as_of_banner(rep),
        f'<div class="counts">{boxes}</div>',
    ]
    if not rep.records.ended:
        parts.append(f'<div class="banner">This cycle has not ended: {others} task(s) are still pending or running; their rows are incomplete.</div>')
    parts.append(HOW_TO_READ)
    if any(r.is_universe for r in rep.records.tasks):
        parts.append(HOW_TO_READ_UNIVERSE)
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


def heatmap_figure(rep: CycleReport) -> go.Figure:
    """The symbol × horizon heatmap of holdout DirHit minus the best baseline."""
    t = rep.table.copy()
    t["hover"] = [_hover(r) for r in rep.records.tasks]
    return plots.edge_heatmap(t)


def holdout_figure(rep: CycleReport) -> go.Figure:
    """Holdout DirHit per task with its interval and the best baseline."""
    return plots.holdout_dirhit_by_task(rep.table)


def hpo_vs_holdout_figure(rep: CycleReport) -> go.Figure:
    """HPO DirHit against holdout DirHit per task."""
    return plots.hpo_vs_holdout(rep.table)


# ---------------------------------------------------------------- usable models


JUDGE_TARGET_DIRHIT = 60.0
"""The DirHit the "what would let it judge" column asks a longer holdout to be able to certify."""


def _judgeable_row(horizon: int, recs: list[TaskRecord], universes: dict[int, TaskRecord]) -> list[str]:
    n_test = max(r.holdout.n_test for r in recs)
    best_case = effective_count(range(n_test), horizon=horizon)  # every row masked
    n_effs = sorted(f.n_eff for f in (r.holdout_figure() for r in recs) if f.defined)
    median = n_effs[len(n_effs) // 2] if n_effs else 0.0
    need_best, need_median = min_passing_dirhit(best_case), min_passing_dirhit(median)
    cannot = "<b>none</b>: even 100 % cannot pass"
    return [
        esc(horizon), str(len(recs)), str(n_test), str(best_case), pct(need_best) if need_best else cannot, f"{median:.0f}",
        pct(need_median) if need_median else cannot, _remedies(horizon, recs, universes.get(horizon), n_test=n_test, median_n_eff=median),
    ]


def _longer_holdout(recs: list[TaskRecord], *, n_test: int, median_n_eff: float) -> str:
    """The holdout rows at which the median task's effective count could certify
    :data:`JUDGE_TARGET_DIRHIT`, and what they cost the training window."""
    dev = sorted(int(r.best.evaluation_spec["holdout"]["dev_end"]) for r in recs if r.best)
    dev_median = dev[len(dev) // 2] if dev else 0
    per_row = median_n_eff / n_test if n_test else 0.0
    need = next((rows for rows in range(n_test, n_test + dev_median, 10) if per_row and (min_passing_dirhit(per_row * rows) or 101.0) <= JUDGE_TARGET_DIRHIT), None)
    if need is None:
        return f"a longer holdout: not within these prices (a {JUDGE_TARGET_DIRHIT:.0f} % DirHit needs more h-day outcomes than the rows hold)"
    if need <= n_test:
        return f"the holdout already certifies a {JUDGE_TARGET_DIRHIT:.0f} % DirHit at the median task's count"
    return (
        f"<code>--holdout-rows {need}</code>: a {JUDGE_TARGET_DIRHIT:.0f} % DirHit could pass at the median task's share of masked rows; "
        f"the training window loses {need - n_test} of a median {dev_median} rows"
    )


def _remedies(horizon: int, recs: list[TaskRecord], universe: TaskRecord | None, *, n_test: int, median_n_eff: float) -> str:
    """What would let this horizon judge: the universe model, a longer holdout, an as-of cycle."""
    if universe is not None and universe.ev:
        pooled = f"{esc(universe.key)} pools every symbol ({'usable' if universe.usable else 'not usable'}; section <i>Universe models</i>)"
    else:
        pooled = "a universe model (one model over every symbol: <code>--universe</code>, 10 symbols or more)"
    as_of = "an as-of cycle (<code>--as-of DATE</code>, then <code>bistlab forward</code>: every session after DATE is scored)"
    items = [pooled, _longer_holdout(recs, n_test=n_test, median_n_eff=median_n_eff), as_of]
    return "<ul>" + "".join(f"<li>{x}</li>" for x in items) + "</ul>"


def _judgeable_html(rep: CycleReport) -> str:
    """Per horizon: holdout size, effective counts, the smallest holdout DirHit that could pass, and
    what would let it judge (DESIGN.md "Power")."""
    judged = [r for r in rep.records.tasks if r.ev and not r.is_universe]
    horizons = sorted({r.horizon for r in judged})
    if not horizons:
        return ""
    universes = {r.horizon: r for r in rep.records.tasks if r.is_universe}
    rows = [_judgeable_row(h, [r for r in judged if r.horizon == h], universes) for h in horizons]
    cols = [
        "h (trading days)", "tasks", "holdout rows", "n_eff if every row were masked", "bar then (smallest passing %)",
        "median n_eff of the tasks", "bar then (smallest passing %)", "what would let it judge",
    ]
    return (
        "<h3>What each horizon's holdout can judge</h3><p>The rule needs the lower bound of the holdout DirHit above 50 % (and the "
        "DirHit above the best baseline); with few independent h-day outcomes even a high DirHit cannot get there. The smallest "
        "DirHit that could clear 50 %, per horizon, and what would let it judge; per-symbol tasks only (a universe model's bar is in "
        "its own section):</p>"
        + html_table(cols, rows, table_id="judgeable")
    )


def _verdict_list(intro: str, recs: list[TaskRecord], *, model: bool = False) -> str:
    items = "".join(f"<li><b>{esc(r.key)}</b>{' (' + esc(r.best.model_choice) + ')' if model and r.best else ''}: {verdict_words(r)}</li>" for r in recs)
    return f"{intro}<ul>{items}</ul>"


def usable_html(rep: CycleReport) -> str:
    """The usable models with the rule's numbers, those the cycle-wide control dropped, what each
    horizon's holdout can judge, and the nearest misses."""
    tasks = rep.records.tasks
    parts = ['<div class="bistlab-report">', "<h2>Usable models</h2>", f"<p>Rule, on holdout numbers only: {esc(USABLE_RULE)}.</p>"]
    if rep.records.control and rep.records.control.n_tested:
        parts.append(f"<p>{esc(rep.records.control.words())}</p>")
    if rep.records.looks and rep.records.looks.looks:
        parts.append(f"<p><b>Looks at the same holdouts.</b> {esc(rep.records.looks.words())}</p>")
    usable = [r for r in tasks if r.usable]
    if usable:
        parts.append(_verdict_list("", usable, model=True))
    else:
        parts.append('<div class="banner bad">No model of this cycle is usable: none has a holdout DirHit whose 95 % lower bound beats 50 %, that beats the best baseline on the same rows, and that survives the cycle-wide control.</div>')
    dropped = [r for r in tasks if r.passes_rule and not r.usable]
    if dropped:
        parts.append(_verdict_list("<p>Passed the rule on their own but not the cycle-wide control (chance passes among many tasks):</p>", dropped))
    universes = [r for r in tasks if r.is_universe and r.ev and not r.usable]
    if universes:
        parts.append(_verdict_list("<p>Universe models (one model over every symbol, their own rule; details in the section <i>Universe models</i>):</p>", universes))
    parts.append(_judgeable_html(rep))
    near = [r for r in tasks if r.ev and not r.is_universe and not r.passes_rule and r.verdict.get("dirhit_lower_95") is not None]
    near.sort(key=lambda r: r.verdict["dirhit_lower_95"] - 50.0, reverse=True)
    if near:
        parts.append(_verdict_list("<p>Nearest misses (largest lower bound relative to the bar):</p>", near[:5]))
    parts.append("</div>")
    return "\n".join(parts)


# ---------------------------------------------------------------- the table of all tasks

TABLE_COLUMNS: list[tuple[str, str | None]] = [
    ("task", "the task's page: every figure of the task (WFV, both baselines, call DirHit, nRMSE, support, PBO) and its notebooks"),
    ("status", "how the task ended; LOW_SUPPORT: no trial passed the support filter, selected under the 0/0.0 fallback"),
    ("usable", USABLE_RULE),
    ("trials", TRIALS_MEANING),
    ("HPO DirHit % (biased upward by the search)", "mean DirHit over the selected trial's counted splits; n pooled over them. The maximum over the trials: optimistic. WFV Δ: the same configuration refit per split after training, minus HPO (0 = parity)"),
    ("holdout DirHit % (n, 95 % CI)", "online evaluation on the untouched holdout"),
    ("best baseline % (same rows)", "the better of persistence (sign of the last h-day return) and the training window's majority direction, on the holdout's masked rows (both on the task page)"),
    ("holdout − best baseline [95 % CI]", "holdout DirHit minus the better baseline on the same rows, percentage points, with the 95 % interval of that difference (paired: the rows where model and baseline disagree decide it)"),
    ("vs previous cycle", "change since the previous cycle"),
    ("note", None),
]
"""The table's columns and their definitions (header tooltips)."""


def _task_links(rep: CycleReport, rec: TaskRecord) -> str:
    paths = rep.ws.task(rep.cycle, rec.key)
    base = f"{rep.rel}{rec.key}/"
    items = [link(base + paths.page.name, "page")] if paths.page.exists() else []
    items += [link(base + paths.notebook_html(n).name, n) for n in ("hpo", "train", "evaluate") if paths.notebook_html(n).exists()]
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


def _usable_cell(rec: TaskRecord) -> str:
    cell = "–" if rec.usable is None else ('<span class="usable">usable</span>' if rec.usable else '<span class="notusable">no</span>')
    if rec.passes_rule and not rec.usable:
        cell += "<br><small>passes alone; not after the cycle-wide control</small>"
    if rec.looks and rec.looks > 1:
        cell += f"<br><small>holdout judged {rec.looks} times (every look counted)</small>"
    if disguise_words(rec):
        cell += "<br><small>follows a baseline on ≥ 90 % of its calls</small>"
    return cell


def _holdout_cells(rec: TaskRecord) -> list[str]:
    if not rec.ev:
        return ["–"] * 3
    return [hold_html(rec, inline=False) + _panel_note(rec), _best_baseline_cell(rec), edge_html(rec.edge_figure())]


def _best_baseline_cell(rec: TaskRecord) -> str:
    """The better baseline's holdout DirHit, named (the one the usable rule compares with)."""
    name = (rec.panel or {}).get("best_baseline") if rec.is_universe else rec.verdict.get("best_baseline")
    if not name:
        return "–"
    return f"<small>{esc(name)}</small><br>{baseline_html(rec, name, inline=False)}"


def _hpo_cell(rec: TaskRecord) -> str:
    """The HPO DirHit with the WFV parity gap under it."""
    if not rec.best:
        return "–"
    gap = rec.ev.wfv_parity_gap if rec.ev else None
    return hpo_html(rec, inline=False) + (f"<br><small>WFV Δ {gap:+.2f}</small>" if gap is not None else "") + _PANEL_SPLITS_NOTE * rec.is_universe


def _task_cell(rep: CycleReport, rec: TaskRecord) -> str:
    """The task's name, a link to its page when there is one."""
    paths = rep.ws.task(rep.cycle, rec.key)
    return link(f"{rep.rel}{rec.key}/{paths.page.name}", rec.key) if paths.page.exists() else esc(rec.key)


_PANEL_SPLITS_NOTE = "<br><small>pooled panel rows: interval<br>too narrow, indicative only</small>"
"""Under a universe task's HPO and WFV DirHits (:data:`bistlab.report.summary.PANEL_SPLIT_CAVEAT`)."""


def _panel_note(rec: TaskRecord) -> str:
    """Under a universe task's holdout DirHit: what it is pooled over, the target, the interval's kind."""
    m = rec.panel
    if not m:
        return ""
    symbols = len((rec.ev.universe or {}).get("per_symbol") or {}) if rec.ev else 0
    return f"<br><small>pooled: {symbols} symbols × {m.get('n_dates')} dates;<br>target {esc(rec.target)}; date-block bootstrap CI</small>"


def _table_row(rep: CycleReport, rec: TaskRecord, t: pd.Series) -> list[str]:
    status = esc(rec.status)
    if rec.status in (TaskStatus.FAILED, TaskStatus.SKIPPED):
        status = f'<span class="failed">{status}</span>'
    if rec.low_support:
        status += '<br><span class="lowsupport">LOW_SUPPORT</span>'
    return [
        _task_cell(rep, rec),
        status,
        _usable_cell(rec),
        esc(rec.best.trials_text()) if rec.best else "–",
        _hpo_cell(rec),
        *_holdout_cells(rec),
        _prev_cell(rec),
        f'<div class="note">{esc(t["note"])}</div>' if t["note"] else "",
    ]


def table_html(rep: CycleReport) -> str:
    """The table: one row per task (``id="summary"``), first cell the task key."""
    cols = [c for c, _ in TABLE_COLUMNS]
    if rep.cycle > 1:
        cols[cols.index("vs previous cycle")] = f"vs cycle {rep.cycle - 1}"
    rows = [_table_row(rep, rec, t) for rec, (_, t) in zip(rep.records.tasks, rep.table.iterrows())]
    return (
        '<div class="bistlab-report"><h2>All tasks</h2>'
        "<p>One row per task, horizon-first; a task's name opens its page with every other figure (walk-forward, both "
        "baselines, call DirHit, nRMSE, support, PBO) and its notebooks. Hover over a column header for its definition.</p>"
        + html_table(cols, rows, table_id="summary", titles=[t for _, t in TABLE_COLUMNS])
        + "</div>"
    )


# ---------------------------------------------------------------- multiple testing


def _honesty_row(r: TaskRecord) -> list[str]:
    hh, pbo = r.honesty, r.honesty.pbo
    return [
        esc(r.key),
        f"{hh.n_complete} / {hh.n_trials}",
        hpo_html(r, inline=False),
        hold_html(r, inline=False) if r.ev else "–",
        esc(r.gap_text()),
        num(hh.best_minus_median, "{:+.1f}"),
        f"{pct(hh.noise_max_dirhit)}<br><small>n={hh.pooled_count}, N={hh.n_complete}</small>",
        num(hh.deflated_prob, "{:.2f}"),
        (f"{pbo.pbo:.2f}<br><small>{pbo.n_combinations} combinations, {pbo.n_trials} trials × {pbo.n_splits} splits</small>" if pbo.pbo is not None else f"<small>{esc(pbo.reason)}</small>"),
        f"{pbo.mean_oos_rank_pct:.0f} %" if pbo.mean_oos_rank_pct is not None else "–",
    ]


def _honesty_summary(with_h: list[TaskRecord]) -> str:
    gaps = [r.honesty.holdout_minus_hpo for r in with_h if r.honesty.holdout_minus_hpo is not None]
    pbos = [r.honesty.pbo.pbo for r in with_h if r.honesty.pbo.pbo is not None]
    s = []
    if gaps:
        s.append(f"median holdout − HPO gap over {len(gaps)} evaluated studies: <b>{pd.Series(gaps).median():+.1f} points</b>")
    if pbos:
        s.append(f"PBO ≥ 0.5 in <b>{sum(p >= 0.5 for p in pbos)} of {len(pbos)}</b> studies (mean PBO {sum(pbos) / len(pbos):.2f})")
    return "<p>" + "; ".join(s) + ".</p>" if s else ""


def honesty_html(rep: CycleReport) -> str:
    """Multiple-testing honesty: per study, trials and how much of the best DirHit is selection."""
    parts = ['<div class="bistlab-report"><h2>Multiple testing: how much of the HPO DirHit is selection</h2>', method_html()]
    with_h = [r for r in rep.records.tasks if r.honesty]
    parts.append(_honesty_summary(with_h))
    missing = [r.key for r in rep.records.tasks if r.best and not r.honesty]
    if missing:
        parts.append(f"<p>No study record for {esc(', '.join(missing))} (the study was removed before the report was first rendered).</p>")
    cols = ["task", "trials (complete / all)", "HPO DirHit % (selected)", "holdout DirHit %", "holdout − HPO [95 % CI]", "best − median trial", "best-of-N noise reference", "P(best > noise)", "PBO (combinations)", "IS winner's OOS rank"]
    parts.append(html_table(cols, [_honesty_row(r) for r in with_h], table_id="honesty"))
    parts.append("</div>")
    return "\n".join(parts)


# ---------------------------------------------------------------- since the previous cycle


def _changes_row(r: TaskRecord, prev: int) -> list[str]:
    p = r.previous
    if not p.get("available"):
        return [esc(r.key), "–", hold_html(r, inline=False) if r.ev else "–", "–", "–", "–", "–", "–", "–", f'<div class="note">{esc(p.get("reason"))}</div>']
    names = [f"{k}: {v[0]} → {v[1]}" for k, v in (p.get("changed") or {}).items()] + [f"+{k}" for k in p.get("added") or []] + [f"−{k}" for k in p.get("removed") or []]
    shown = "<br>".join(esc(x) for x in names[:6]) + (f"<br><small>+{len(names) - 6} more (see the task's page)</small>" if len(names) > 6 else "")
    usable = esc(p["usable_flip"]) if p.get("usable_flip") else ("–" if p.get("usable") is None or r.passes_rule is None else ("usable in both" if r.passes_rule else "not usable in both"))
    mc = p.get("model_choice") or [None, None]
    return [
        esc(r.key),
        dirhit_html(p["holdout_figure"]) if p.get("evaluated") else "not evaluated",
        hold_html(r, inline=False) if r.ev else "–",
        num(p.get("holdout_delta"), "{:+.1f}"),
        dirhit_html(p["hpo_figure"], css="biased") + "<br>→ " + (hpo_html(r, inline=False) if r.best else "–"),
        usable,
        esc(mc[0] if mc[0] == mc[1] else f"{mc[0]} → {mc[1]}"),
        f"{len(names)}<br>{shown}" if names else "none",
        {True: "yes", False: "no", None: "–"}[p.get("data_changed")],
        esc(f"cycle {prev} read from its {p.get('source', '')}"),
    ]


def changes_html(rep: CycleReport) -> str:
    """This cycle against the previous one, per task."""
    parts = ['<div class="bistlab-report">', "<h2>Since the previous cycle</h2>"]
    if rep.cycle <= 1:
        parts.append("<p>Cycle 1 is the first cycle: there is nothing to compare with.</p></div>")
        return "\n".join(parts)
    prev = rep.cycle - 1
    cols = ["task", f"holdout DirHit %, cycle {prev}", f"holdout DirHit %, cycle {rep.cycle}", "Δ points", f"HPO DirHit % (biased), cycle {prev} → {rep.cycle}", "usable rule (each task alone)", "model", "parameters changed", "prices changed", "note"]
    flips = [r.key for r in rep.records.tasks if r.previous.get("usable_flip")]
    missing = sum(not r.previous.get("available") for r in rep.records.tasks)
    summary = [f"{len(flips)} usable flip{'s' if len(flips) != 1 else ''}" + (f" ({esc(', '.join(flips))})" if flips else "")]
    if missing:
        summary.append(f"{missing} task{'s' if missing != 1 else ''} without a cycle-{prev} result to compare (see the note)")
    parts.append("<p>" + "; ".join(summary) + ".</p>")
    parts.append(html_table(cols, [_changes_row(r, prev) for r in rep.records.tasks], table_id="changes"))
    parts.append("</div>")
    return "\n".join(parts)


# ---------------------------------------------------------------- forecasts


def _as_of_title(rep: CycleReport) -> str:
    """`` — as of DATE`` for an as-of cycle, else nothing."""
    as_of = rep.records.config.get("as_of")
    return f" — as of {esc(as_of)}" if as_of else ""


def _as_of_banner(rep: CycleReport) -> str:
    """What an as-of cycle is, under the title; nothing for another cycle."""
    as_of = rep.records.config.get("as_of")
    if not as_of:
        return ""
    return (
        f'<div class="banner">An <b>as-of cycle</b>: every price after {esc(as_of)} was hidden from HPO, selection, training and '
        "the holdout evaluation; its final models were frozen on the rows labelled by then and scored on every later session "
        "(section <i>Forward record of the as-of cycle</i>).</div>"
    )


def tasks_html(rep: CycleReport) -> str:
    """A short section per task: selection (and fallback), DirHits, verdict or reason; links."""
    parts = ['<div class="bistlab-report"><h2>Per task</h2>', "<p>Each task in a few sentences; its page has the splits, figures, configuration and evaluation spec.</p>"]
    for r in rep.records.tasks:
        flag = ' <span class="lowsupport">LOW_SUPPORT</span>' if r.low_support else ""
        verdict = "" if r.usable is None else (' — <span class="usable">usable</span>' if r.usable else " — not usable")
        hold = f" — holdout {hold_html(r)}" if r.ev else ""
        parts.append(
            f'<details id="task-{esc(r.key)}"><summary><b>{esc(r.key)}</b> — {esc(r.status)}{flag}{hold}{verdict}</summary>'
            + "<ul>" + "".join(f"<li>{s}</li>" for s in task_sentences(r)) + f"<li>{_task_links(rep, r)}</li></ul></details>"
        )
    parts.append("</div>")
    return "\n".join(parts)


# ---------------------------------------------------------------- reproducibility


