"""The universe models' section of the cycle report, and its figures (a sections-layer module: it
imports :mod:`~bistlab.report.data` and :mod:`~bistlab.report.words`, nothing later).

Per universe task (``UNIVERSE_<h>d``, one model over every stored symbol; DESIGN.md "Universe
models"): the target in words, its members and the symbols left out, the pooled holdout figures
each with its count and the 95 % interval of a block bootstrap over dates (masked DirHit, the
all-rows DirHit, both baselines on the same rows, the edge over the better one, the mean rank IC
overall and per liquidity tercile, the top-minus-bottom quintile spread before and after costs),
the verdict with its rule and method, the smallest DirHit it could certify beside the per-symbol
tasks' at that horizon, which verdict a reviewer should trust and why, and per symbol the
universe model's DirHit on that symbol's rows beside the symbol's own model **on the same dates**.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from bistlab.report import plots
from bistlab.report.htmlfmt import dirhit_html, esc, html_table, num, pct
from bistlab.evaluation.metrics import split_metrics
from bistlab.evaluation.dirhit import DirHit
from bistlab.report.assemble import CycleReport
from bistlab.report.data import TaskRecord
from bistlab.report.words import baseline_html, hold_html, target_html, universe_verdict_words
from bistlab.report.summary import panel_figures

__all__ = [
    "SymbolComparison",
    "LIQUIDITY_WARNING_RATIO",
    "universe_records",
    "universe_html",
    "universe_task_html",
    "universe_ic_figure",
    "universe_tercile_figure",
    "universe_figures",
    "symbol_comparisons",
]

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.005
"""The DirHit threshold of records that did not keep theirs."""
LIQUIDITY_WARNING_RATIO = 2.0
"""The least liquid tercile's mean rank IC at least this many times the most liquid one's (or the
most liquid one's interval reaching 0 while the least liquid one's is the largest): the skill lives
in the names that cost most to trade, and the report says so."""
OPEN_ROWS = 20
"""Above this many symbols without a per-symbol task, their table is collapsed."""


@dataclass
class SymbolComparison:
    """One symbol of a universe task's holdout beside its own per-symbol task.

    Attributes:
        symbol: the symbol.
        rows: the universe holdout's rows of this symbol.
        dates: its first and last holdout date.
        universe: the universe model's masked DirHit on all of this symbol's holdout rows.
        task: the per-symbol task at the same horizon with an evaluation (``None``: none).
        common_dates: holdout dates the two evaluations share.
        universe_common: the universe model's masked DirHit on those dates (its target).
        single_common: the per-symbol model's masked DirHit on those dates (raw target).
        single_usable: the per-symbol task's usable flag on its own whole holdout.
    """

    symbol: str
    rows: int
    dates: list[str]
    universe: DirHit
    task: str | None = None
    common_dates: int = 0
    universe_common: DirHit | None = None
    single_common: DirHit | None = None
    single_usable: bool | None = None


# ---------------------------------------------------------------- which tasks


def universe_records(rep: CycleReport) -> list[TaskRecord]:
    """The cycle's universe tasks, horizon-first."""
    return sorted((r for r in rep.records.tasks if r.is_universe), key=lambda r: r.horizon)


def _single_records(rep: CycleReport, horizon: int) -> list[TaskRecord]:
    """The per-symbol tasks at ``horizon`` with a holdout evaluation."""
    return [r for r in rep.records.tasks if not r.is_universe and r.ev and r.horizon == horizon]


# ---------------------------------------------------------------- per symbol, same dates


def _masked(y_true: np.ndarray, y_pred: np.ndarray, *, thr: float, horizon: int) -> DirHit:
    """The masked DirHit of rows in time order, with its interval at the effective count."""
    if not len(y_true):
        return DirHit(None, 0, 0.0)
    m = split_metrics(y_true, y_pred, thr=thr, horizon=horizon)
    return DirHit.rate(m.dirhit_hits, m.mask_count, m.dirhit_n_eff)


def _rows_on(preds: dict[str, list[Any]], select: np.ndarray, keep: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """``y_true``, ``y_pred`` of the selected rows whose date is in ``keep``, in date order."""
    dates = np.asarray(preds["dates"], dtype=object)[select]
    on = np.fromiter((d in keep for d in dates), dtype=bool, count=len(dates))
    order = np.argsort(dates[on], kind="stable")
    yt = np.asarray(preds["y_true"], dtype=float)[select][on][order]
    yp = np.asarray(preds["y_pred"], dtype=float)[select][on][order]
    return yt, yp


def _compare(rec: TaskRecord, single: TaskRecord, comp: SymbolComparison, mine: np.ndarray) -> None:
    """Fill ``comp`` with both models' masked DirHits on the dates both holdouts hold."""
    u_preds, s_preds = rec.ev.holdout_predictions, single.ev.holdout_predictions
    u_dates = set(np.asarray(u_preds["dates"], dtype=object)[mine].tolist())
    common = u_dates & set(s_preds.get("dates") or [])
    comp.task, comp.single_usable, comp.common_dates = single.key, single.usable, len(common)
    if not common:
        return
    yt, yp = _rows_on(u_preds, mine, common)
    comp.universe_common = _masked(yt, yp, thr=rec.ev.dirhit_threshold or DEFAULT_THRESHOLD, horizon=rec.horizon)
    everything = np.ones(len(s_preds["dates"]), dtype=bool)
    yt, yp = _rows_on(s_preds, everything, common)
    comp.single_common = _masked(yt, yp, thr=single.ev.dirhit_threshold or DEFAULT_THRESHOLD, horizon=single.horizon)


def symbol_comparisons(rep: CycleReport, rec: TaskRecord) -> list[SymbolComparison]:
    """Per symbol of a universe task's holdout: the universe model's masked DirHit on its rows and,
    where the cycle has that symbol's own task at the same horizon, both models on the same dates.

    Rows with a per-symbol task come first, then the others, each by symbol.
    """
    if not rec.ev or not rec.ev.is_universe:
        return []
    per_symbol = (rec.ev.universe or {}).get("per_symbol") or {}
    singles = {r.symbol: r for r in _single_records(rep, rec.horizon)}
    symbols = np.asarray(rec.ev.holdout_predictions.get("symbols") or [], dtype=object)
    out = []
    for symbol, s in sorted(per_symbol.items()):
        comp = SymbolComparison(symbol=symbol, rows=int(s.get("rows") or 0), dates=list(s.get("dates") or []), universe=DirHit.rate(s.get("hits"), s.get("count"), s.get("n_eff")))
        if symbol in singles and len(symbols):
            _compare(rec, singles[symbol], comp, symbols == symbol)
        out.append(comp)
    return sorted(out, key=lambda c: (c.task is None, c.symbol))


# ---------------------------------------------------------------- figures


def _holdout_dates(rec: TaskRecord) -> list[str]:
    return sorted(set(rec.ev.holdout_predictions.get("dates") or [])) if rec.ev else []


def universe_ic_figure(rec: TaskRecord) -> go.Figure:
    """The universe holdout's rank IC by date (bars), its rolling mean and the mean with its 95 % interval."""
    return plots.rank_ic_by_date(rec.panel, dates=_holdout_dates(rec), title=f"{rec.key}: rank IC by holdout date (target {rec.target})")


def universe_tercile_figure(rec: TaskRecord) -> go.Figure | None:
    """Mean rank IC per liquidity tercile with its interval; ``None`` without terciles."""
    if not rec.panel.get("ic_by_tercile"):
        return None
    return plots.rank_ic_by_tercile(rec.panel, title=f"{rec.key}: mean rank IC by liquidity tercile")


def universe_figures(rep: CycleReport) -> list[go.Figure]:
    """Every universe task's figures, in the order of :func:`universe_html`."""
    figs: list[go.Figure] = []
    for rec in universe_records(rep):
        if rec.panel:
            figs.append(universe_ic_figure(rec))
            tercile = universe_tercile_figure(rec)
            if tercile is not None:
                figs.append(tercile)
    return figs


# ---------------------------------------------------------------- words and tables


def _ci(value: float | None, low: float | None, high: float | None, *, spec: str = "{:+.3f}", scale: float = 1.0, unit: str = "") -> str:
    """A figure that is not a DirHit with its 95 % interval: ``+0.039 (95 % CI +0.018 to +0.059)``."""
    if value is None:
        return "undefined"

    def f(v: float | None) -> str:
        return "?" if v is None else num(v * scale, spec)

    return f"{f(value)}{unit} <small>(95 % CI {f(low)} to {f(high)}{unit})</small>"


def _tercile_rows(m: dict[str, Any]) -> list[list[str]]:
    rows = []
    for t in sorted(m.get("ic_by_tercile") or [], key=lambda t: int(t["tercile"])):
        i = int(t["tercile"])
        name = plots.TERCILE_NAMES[i] if i < len(plots.TERCILE_NAMES) else str(i)
        rows.append([f"mean rank IC, {esc(name)} third", _ci(t.get("ic_mean"), t.get("ic_lo"), t.get("ic_hi")), f"{t.get('n_dates')} dates"])
    return rows


def _pooled_rows(rec: TaskRecord) -> list[list[str]]:
    """The pooled figures: each with its count and the interval of that very number."""
    m, h = rec.panel, rec.horizon
    figs = panel_figures(m)
    cost = float(m.get("cost_per_side") or 0.0)
    skipped = int(m.get("persistence_no_direction") or 0)
    majority = {1: "up", -1: "down"}.get(int(m.get("train_majority") or 0), "?")
    return [
        ["masked DirHit (the rule's)", hold_html(rec, inline=False), f"{m.get('mask_count')} of {m.get('n_rows')} rows masked ({pct(m.get('mask_pct'))}), on {m.get('mask_dates')} of {m.get('n_dates')} dates"],
        ["DirHit on every row (reference)", dirhit_html(figs["all"]), f"{m.get('all_count')} rows with a nonzero target"],
        ["persistence baseline (same rows)", baseline_html(rec, "persistence", inline=False), "sign of the past h-day target" + (f"; {skipped} rows without one not counted" if skipped else "")],
        ["majority baseline (same rows)", baseline_html(rec, "majority", inline=False), f"the training rows' majority direction ({majority})"],
        [f"edge over the best baseline ({esc(m.get('best_baseline') or 'none')})", _ci(m.get("edge"), m.get("edge_lo"), m.get("edge_hi"), spec="{:+.1f}", unit=" pts"), "paired: both on the same resampled dates"],
        ["mean rank IC", _ci(m.get("ic_mean"), m.get("ic_lo"), m.get("ic_hi")) + (f"<br><small>ICIR {m['icir']:.2f} (IC std {m.get('ic_std', 0.0):.3f})</small>" if m.get("icir") is not None else ""), f"{m.get('n_ic_dates')} dates"],
        *_tercile_rows(m),
        [f"top − bottom quintile spread, % log return per {h} sessions", _ci(m.get("spread_mean"), m.get("spread_lo"), m.get("spread_hi"), spec="{:+.2f}", scale=100.0, unit=" %"), f"{m.get('n_spread_dates')} dates"],
        [f"the spread after {100 * cost:.2f} % cost per side", _ci(m.get("spread_net"), m.get("spread_net_lo"), m.get("spread_net_hi"), spec="{:+.2f}", scale=100.0, unit=" %"), "a unit long and a unit short, each bought and sold once per holding: 4 sides"],
    ]


def _members_html(rec: TaskRecord) -> str:
    u = rec.ev.universe or {}
    excluded = u.get("excluded") or {}
    with_rows = len(u.get("per_symbol") or {})
    head = f"<p>One model over <b>{u.get('members')}</b> symbols ({with_rows} with holdout rows); {target_html(rec)}.</p>"
    if not excluded:
        return head + "<p>No stored symbol was left out.</p>"
    items = "".join(f"<li><b>{esc(s)}</b>: {esc(why)}</li>" for s, why in sorted(excluded.items()))
    return head + f"<details><summary>{len(excluded)} stored symbol{'s' if len(excluded) != 1 else ''} left out, with the reason</summary><ul>{items}</ul></details>"


def _verdict_html(rec: TaskRecord) -> str:
    v = rec.verdict
    reasons = v.get("reasons") or []
    why = "<ul>" + "".join(f"<li>{esc(r)}</li>" for r in reasons) + "</ul>" if reasons else ""
    p = v.get("p_value")
    return (
        f'<div class="banner {"good" if rec.usable else "info"}">{universe_verdict_words(rec)}{why}'
        f"<small>Rule: {esc(v.get('rule') or '')}. One-sided p = {num(p, '{:.4f}')} (the largest of the three parts'). "
        f"Intervals: {esc(v.get('method') or rec.panel.get('method') or '')}.</small></div>"
    )


def _power_html(rep: CycleReport, rec: TaskRecord) -> str:
    """The smallest DirHit the universe verdict could certify beside the per-symbol tasks' at that horizon."""
    need = rec.verdict.get("min_passing_dirhit")
    mine = "no DirHit could" if need is None else f"about <b>{need:.1f} %</b>"
    singles = [r.verdict.get("min_passing_dirhit") for r in _single_records(rep, rec.horizon)]
    known = sorted(x for x in singles if x is not None)
    if not singles:
        theirs = f"this cycle has no per-symbol task at h = {rec.horizon} to compare"
    elif not known:
        theirs = f"none of the {len(singles)} per-symbol tasks at h = {rec.horizon} could pass with any DirHit, not even 100 %"
    else:
        cannot = len(singles) - len(known)
        theirs = (
            f"the {len(singles)} per-symbol tasks at h = {rec.horizon} need at least {known[0]:.1f} % (median {statistics.median(known):.1f} %)"
            + (f"; {cannot} of them could not pass with any DirHit" if cannot else "")
        )
    return f"<p><b>What it can judge.</b> The smallest masked DirHit these rows could certify above 50 %: {mine} (50 % plus the distance from the DirHit down to its lower bound); {theirs}.</p>"


def _liquidity_warning(m: dict[str, Any]) -> str:
    """A warning when the rank IC lives mostly in the least liquid tercile."""
    t = {int(x["tercile"]): x for x in m.get("ic_by_tercile") or [] if x.get("ic_mean") is not None}
    if 0 not in t or 2 not in t or t[0]["ic_mean"] <= 0:
        return ""
    least, most = t[0], t[2]
    largest = all(least["ic_mean"] >= x["ic_mean"] for x in t.values())
    weak_top = most["ic_mean"] * LIQUIDITY_WARNING_RATIO <= least["ic_mean"] or (most.get("ic_lo") is not None and most["ic_lo"] <= 0)
    if not (largest and weak_top):
        return ""
    return (
        f" <b>Caution:</b> the rank IC is concentrated in the least liquid third of the symbols (mean {least['ic_mean']:+.3f} against "
        f"{most['ic_mean']:+.3f} in the most liquid third): skill that lives where trading costs most is worth less than the pooled figures suggest."
    )


def _width(fig: DirHit) -> float:
    return float(fig.high - fig.low) if fig.defined and fig.low is not None and fig.high is not None else float("nan")


def _single_evidence(rep: CycleReport, rec: TaskRecord) -> str:
    """What a per-symbol verdict at the same horizon rests on (medians over the cycle's tasks)."""
    figs = [f for f in (r.holdout_figure() for r in _single_records(rep, rec.horizon)) if f.defined]
    if not figs:
        return f"this cycle has no per-symbol verdict at h = {rec.horizon} to set beside it"
    count = statistics.median(f.count for f in figs)
    n_eff = statistics.median(f.n_eff for f in figs)
    return (
        f"a per-symbol verdict at h = {rec.horizon} rests on a median of {count:.0f} masked rows (about {n_eff:.0f} independent "
        f"{rec.horizon}-day outcomes; {len(figs)} task{'s' if len(figs) != 1 else ''}), its interval about {statistics.median(_width(f) for f in figs):.0f} points wide"
    )


def _trust_html(rep: CycleReport, rec: TaskRecord) -> str:
    """Which of the two verdicts a reviewer should trust, and why."""
    m, fig = rec.panel, rec.holdout_figure()
    n_symbols = len((rec.ev.universe or {}).get("per_symbol") or {})
    base = (
        f"The universe verdict rests on {m.get('n_dates')} dates × {n_symbols} symbols: {m.get('mask_count')} masked rows, "
        f"its DirHit interval {_width(fig):.1f} points wide (a bootstrap over dates, so a day's common move counts once); "
        + _single_evidence(rep, rec)
        + "."
    )
    if rec.usable:
        verdict = " Trust the universe verdict: the model is <b>usable</b>, its ranking of the symbols beats chance and the baselines across the whole panel."
    else:
        verdict = (
            " Trust the universe verdict over any single symbol's: the model is <b>not usable</b>, so the panel shows no skill the rule could "
            "certify; a per-symbol DirHit (either model's, in the table below) rests on a few masked rows and says little on its own."
        )
    lucky = [r.key for r in _single_records(rep, rec.horizon) if r.usable]
    if lucky:
        verdict += f" Per-symbol task{'s' if len(lucky) != 1 else ''} {esc(', '.join(lucky))} pass{'es' if len(lucky) == 1 else ''} at this horizon on far fewer rows: check the universe model's figures on the same dates below before trusting {'it' if len(lucky) == 1 else 'them'}."
    if m.get("spread_net") is not None and m.get("spread_net_lo") is not None and m["spread_net_lo"] <= 0:
        verdict += (
            f" After {100 * float(m.get('cost_per_side') or 0.0):.2f} % cost per side the long–short spread's interval reaches "
            f"{100 * m['spread_net_lo']:+.2f} %: a ranking skill need not pay for trading it."
        )
    if rec.target != "raw" and _single_records(rep, rec.horizon):
        verdict += (
            f" The targets differ: the universe model is judged on the {esc(rec.target)} target (does the symbol beat the date's median?), "
            "the per-symbol models on the raw one (does its price rise?); compare the strength of their evidence, not their levels."
        )
    return f"<p><b>Which to trust.</b> {base}{verdict}{_liquidity_warning(m)}</p>"


def _dirhit_cell(fig: DirHit | None, empty: str = "–") -> str:
    return dirhit_html(fig) if fig is not None else empty


def _compared_row(c: SymbolComparison) -> list[str]:
    usable = {True: '<span class="usable">usable</span>', False: "no", None: "–"}[c.single_usable]
    none = "<small>no common date</small>" if not c.common_dates else "–"
    return [
        esc(c.symbol),
        f"{c.rows}<br><small>{esc(' … '.join(c.dates))}</small>",
        dirhit_html(c.universe),
        esc(c.task or "–"),
        str(c.common_dates),
        _dirhit_cell(c.universe_common, none),
        _dirhit_cell(c.single_common, none),
        usable,
    ]


def _other_row(c: SymbolComparison) -> list[str]:
    return [esc(c.symbol), f"{c.rows}<br><small>{esc(' … '.join(c.dates))}</small>", dirhit_html(c.universe)]


def _per_symbol_html(rep: CycleReport, rec: TaskRecord) -> str:
    """Per symbol: the universe model on its rows, and beside it the symbol's own task on the same dates."""
    comps = symbol_comparisons(rep, rec)
    if not comps:
        return "<p>No per-symbol figures were recorded.</p>"
    paired = [c for c in comps if c.task]
    others = [c for c in comps if not c.task]
    key = esc(rec.key)
    parts = [
        f"<h4>Per symbol ({len(comps)})</h4><p>The universe model's masked DirHit on each symbol's holdout rows (its target, "
        "interval at the effective count of the symbol's overlapping labels). Where the cycle has the symbol's own task at this "
        "horizon, both models on the dates both holdouts hold, each with its own threshold and target (the per-symbol model's is raw).</p>"
    ]
    if paired:
        cols = ["symbol", "holdout rows", "universe model, its rows", "per-symbol task", "common dates", f"universe model, common dates ({rec.target})", "per-symbol model, common dates (raw)", "per-symbol task usable (its whole holdout)"]
        parts.append(html_table(cols, [_compared_row(c) for c in paired], table_id=f"universe-compare-{key}"))
    if others:
        table = html_table(["symbol", "holdout rows", "universe model, its rows"], [_other_row(c) for c in others], table_id=f"universe-symbols-{key}")
        label = f"{len(others)} symbol{'s' if len(others) != 1 else ''} without a per-symbol task at h = {rec.horizon}"
        parts.append(f"<details><summary>{label}</summary>{table}</details>" if len(others) > OPEN_ROWS else f"<p>{label}:</p>{table}")
    return "\n".join(parts)


def universe_task_html(rep: CycleReport, rec: TaskRecord, *, figures: bool = False) -> str:
    """One universe task: members, pooled figures, verdict, power, which to trust, per symbol.

    Args:
        rep: the cycle's report.
        rec: the universe task's record.
        figures: embed its figures (:func:`bistlab.report.plots.figure_html`; pages that load plotly.js
            themselves); the cycle report shows them with :func:`universe_figures` instead.
    """
    state = "" if rec.usable is None else (' — <span class="usable">usable</span>' if rec.usable else " — not usable")
    head = f'<h3 id="universe-{esc(rec.key)}">{esc(rec.key)}{state}</h3>'
    if not rec.ev or not rec.panel:
        why = rec.error or ("evaluated before universe figures were recorded" if rec.ev else f"status {rec.status}")
        return head + f"<p>No universe holdout figures: {esc(why)}.</p>"
    parts = [
        head,
        _members_html(rec),
        f"<p>Holdout {esc(' … '.join(rec.ev.holdout_dates))}: pooled over every symbol's rows; each interval is the 95 % interval of a block bootstrap over dates (blocks of {rec.panel.get('block_length')} sessions).</p>",
        html_table(["figure", "value (95 % CI)", "rests on"], _pooled_rows(rec), table_id=f"universe-pooled-{esc(rec.key)}"),
        _verdict_html(rec),
        _power_html(rep, rec),
        _trust_html(rep, rec),
    ]
    if figures:
        parts += [plots.figure_html(universe_ic_figure(rec))]
        tercile = universe_tercile_figure(rec)
        parts += [plots.figure_html(tercile)] if tercile is not None else []
    parts.append(_per_symbol_html(rep, rec))
    return "\n".join(parts)


def universe_html(rep: CycleReport) -> str:
    """The universe models' section of the cycle report; empty when the cycle has no universe task."""
    recs = universe_records(rep)
    if not recs:
        return ""
    intro = (
        "<p>One model per horizon over every stored symbol, judged on its holdout panel of (date, symbol) rows by its own rule: "
        "the mean rank IC's lower bound above 0, and the pooled masked DirHit's lower bound above 50 % and above the best baseline "
        "on the same rows. Its rank IC by date follows this section.</p>"
    )
    body = [universe_task_html(rep, r) for r in recs]
    return '<div class="bistlab-report"><h2>Universe models</h2>' + intro + "\n".join(body) + "</div>"
