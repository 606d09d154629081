"""What the report says about a task, in words: selection and LOW_SUPPORT, the DirHits with their
counts and intervals, the usable verdict with the rule's numbers, and the cautions a reader needs
(a study restarted on changed prices, options not applied, a model that is a baseline in disguise).

Every DirHit goes through :func:`bistlab.report.htmlfmt.dirhit_html`, so it always carries its count and
the interval of that very number. A universe task (``UNIVERSE_<h>d``) is said in its own words: its
target, its pooled figures with their date-block bootstrap intervals, and the three parts of its
rule (:func:`bistlab.evaluation.universe_rule.universe_verdict`)."""

from __future__ import annotations

from typing import Any

from bistlab.evaluation.honesty import FDR_Q, METHOD_ITEMS
from bistlab.report.htmlfmt import dirhit_html, edge_html, esc, num, pct
from bistlab.evaluation.dirhit import USABLE_RULE
from bistlab.report.data import TaskRecord
from bistlab.core.state import TaskStatus
from bistlab.report.summary import PANEL_SPLIT_CAVEAT, target_words

__all__ = [
    "DISGUISE_PCT",
    "filter_words",
    "low_support_text",
    "note_text",
    "hold_html",
    "hpo_html",
    "wfv_html",
    "baseline_html",
    "call_html",
    "disguise_words",
    "verdict_words",
    "task_sentences",
    "method_html",
    "target_html",
    "universe_verdict_words",
    "rule_text",
]

DISGUISE_PCT = 90.0
"""A model whose holdout calls follow a baseline's direction this often is that baseline in disguise."""


def filter_words(flt: dict[str, Any]) -> str:
    """The support filter in words."""
    return f"at least {flt['min_mask_count']} masked rows and {flt['min_mask_pct']:g} % of the window on at least {flt['min_valid_splits']} splits"


def low_support_text(rec: TaskRecord) -> str:
    """The LOW_SUPPORT statement of a task, in words (empty when it is not LOW_SUPPORT)."""
    if not rec.low_support or not rec.best:
        return ""
    used = rec.best.filter_used
    return (
        f"LOW_SUPPORT: none of the {rec.best.n_complete} complete trials passed the support filter ({filter_words(rec.best.evaluation_spec['filter'])}); "
        f"the trial was selected under the fallback filter (min_mask_count {used['min_mask_count']}, min_mask_pct {used['min_mask_pct']:g}, "
        f"min_valid_splits {used['min_valid_splits']}: any split with a DirHit), so its HPO DirHit rests on thin splits."
    )


def target_html(rec: TaskRecord) -> str:
    """``target: excess — the 7-day log return minus the date's cross-sectional median (...)``."""
    return f"target: <b>{esc(target_words(rec.target, rec.horizon))}</b>"


def rule_text(rec: TaskRecord) -> str:
    """The usable rule the task is judged by (the universe rule for a universe task), plain text."""
    return str(rec.verdict.get("rule") or USABLE_RULE) if rec.is_universe else USABLE_RULE


def note_text(rec: TaskRecord) -> str:
    """The note of a task's row: why it failed or was skipped, LOW_SUPPORT, restarts, skipped options."""
    parts = []
    if rec.is_universe:
        u = rec.ev.universe if rec.ev else {}
        members = f" over {u['members']} symbols" if u.get("members") else ""
        parts.append(f"universe model{members}, target {rec.target}: holdout figures pooled over its panel, intervals by a block bootstrap over dates")
    if rec.status in (TaskStatus.FAILED, TaskStatus.SKIPPED) and rec.error:
        parts.append(rec.error)
    elif rec.status not in TaskStatus.ENDED:
        parts.append(f"not ended ({rec.status})")
    if rec.low_support:
        parts.append("LOW_SUPPORT: no trial passed the support filter; selected under the 0/0.0 fallback")
    if rec.best and rec.best.study_restart_note:
        parts.append(f"study restarted: {rec.best.study_restart_note}")
    for option, info in (rec.best.options_skipped if rec.best else {}).items():
        parts.append(f"{option} not applied on splits {', '.join(map(str, info['splits']))}: {info['reason']}")
    if rec.ev and not rec.ev.holdout.mask_count:
        parts.append("holdout mask empty: no holdout DirHit (the model's |prediction| never exceeded the threshold where the move did)")
    return "; ".join(parts)


def hold_html(rec: TaskRecord, *, inline: bool = True) -> str:
    return dirhit_html(rec.holdout_figure(), inline=inline)


def hpo_html(rec: TaskRecord, *, inline: bool = True) -> str:
    return dirhit_html(rec.hpo_figure(), inline=inline, css="biased")


def wfv_html(rec: TaskRecord, *, inline: bool = True) -> str:
    return dirhit_html(rec.wfv_figure(), inline=inline)


def baseline_html(rec: TaskRecord, name: str, *, inline: bool = True) -> str:
    """A baseline's holdout DirHit; persistence says how many masked rows it had no direction on."""
    fig = rec.baseline_figures().get(name)
    if fig is None:
        return "–"
    cell = dirhit_html(fig, inline=inline)
    skipped = rec.holdout.persistence_no_direction if name == "persistence" and rec.holdout else 0
    if skipped:
        cell += f"{' ' if inline else '<br>'}<small>{skipped} row{'s' if skipped != 1 else ''} without a past direction not counted</small>"
    return cell


def call_html(rec: TaskRecord, *, inline: bool = True) -> str:
    h = rec.holdout
    if h is None:
        return "–"
    if rec.is_universe:
        return f"–{' ' if inline else '<br>'}<small>pooled panel: see the universe section</small>"
    return f"{dirhit_html(rec.call_figure(), inline=inline)}{' ' if inline else '<br>'}<small>coverage {pct(h.call_coverage_pct)} of {h.n_test} rows</small>"


def disguise_words(rec: TaskRecord) -> str:
    """Says so when the model's holdout calls nearly always follow a baseline's direction."""
    h = rec.holdout
    if h is None:
        return ""
    for name, share in (("majority direction", h.agree_majority_pct), ("persistence (the sign of the last h-day return)", h.agree_persistence_pct)):
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
    fig = rec.holdout_figure()
    if not fig.defined or round(fig.n_eff) >= fig.count:
        return ""
    need = rec.verdict.get("min_passing_dirhit")
    bar = "no DirHit, not even 100 %, could clear 50 %" if need is None else f"the smallest DirHit that could clear 50 % is {need:.1f} %"
    return (
        f" Its {fig.count} masked rows of overlapping {rec.horizon}-day labels hold about {fig.n_eff:.0f} independent outcomes; "
        f"with so many, {bar}."
    )


def _ic_text(c: dict[str, Any]) -> str:
    return f"{c['figure']:+.3f} (95 % CI {num(c.get('lower'), '{:+.3f}')} to {num(c.get('upper'), '{:+.3f}')})"


def _component_words(rec: TaskRecord, name: str, c: dict[str, Any]) -> str:
    """One part of the universe rule: its figure, its interval and whether its lower bound clears the bar."""
    mark = "✓" if c.get("passes") else "✗"
    if name == "ic":
        label = "mean rank IC " + (_ic_text(c) if c.get("figure") is not None else "undefined")
        bar = "0"
    elif name == "dirhit_vs_50":
        label, bar = f"pooled masked DirHit {hold_html(rec)}", "50 %"
    else:
        base = c.get("best_baseline") or rec.verdict.get("best_baseline")
        base_txt = f" ({esc(base)} {baseline_html(rec, base)})" if base else ""
        fig = "undefined" if c.get("figure") is None else f"{c['figure']:+.1f} points (95 % CI {num(c.get('lower'), '{:+.1f}')} to {num(c.get('upper'), '{:+.1f}')})"
        label, bar = f"edge over the best baseline on the same rows{base_txt} {fig}", "0"
    if c.get("figure") is None:
        return f"{label} {mark}"
    return f"{label}: lower bound {'above' if c.get('passes') else 'not above'} {bar} {mark}"


def universe_verdict_words(rec: TaskRecord) -> str:
    """Why a universe task is usable or not: each part of its rule with its numbers (HTML)."""
    v = rec.verdict
    comps = v.get("components") or {}
    verdict = "<b class=\"usable\">usable</b>" if rec.usable else "<b>not usable</b>"
    parts = [_component_words(rec, name, comps[name]) for name in ("ic", "dirhit_vs_50", "dirhit_vs_baseline") if name in comps]
    own = {c.get("reason") for c in comps.values()}
    support = [r for r in v.get("reasons") or [] if r not in own]
    text = f"{verdict} (universe rule, on the {esc(rec.target)} target): " + "; ".join(parts) + "."
    if support:
        text += " Cannot be judged: " + esc("; ".join(support)) + "."
    return text + _control_words(rec)


def verdict_words(rec: TaskRecord) -> str:
    """Why a task is usable or not, with the rule's numbers (HTML)."""
    if not rec.ev:
        return "not evaluated on the holdout"
    if rec.is_universe:
        return universe_verdict_words(rec)
    v = rec.verdict
    lower, base = v.get("dirhit_lower_95"), v.get("best_baseline_dirhit")
    if lower is None:
        return f"<b>not usable</b>: the holdout DirHit is undefined (n={rec.ev.holdout.mask_count}: no masked holdout row), so the rule ({esc(USABLE_RULE)}) cannot be met."
    verdict = "<b class=\"usable\">usable</b>" if rec.usable else "<b>not usable</b>"
    base_txt = f"{baseline_html(rec, v['best_baseline'])} ({v['best_baseline']})" if base is not None else "undefined"
    disguise = disguise_words(rec)
    beats = bool(v.get("beats_baseline")) if "beats_baseline" in v else base is not None and lower > base
    edge = rec.edge_figure()
    return (
        f"{verdict}: holdout DirHit {hold_html(rec)}; lower bound {lower:.1f} % "
        f"{'>' if lower > 50 else '≤'} 50 %, and the DirHit {'>' if beats else '≤'} best baseline {base_txt} on the same rows."
        + (f" Paired comparison with {esc(edge.baseline)}: {edge_html(edge, inline=True)}." if edge and edge.value is not None else "")
        + _control_words(rec)
        + _n_eff_words(rec)
        + (" " + esc(disguise) if disguise else "")
    )


def _selection_sentences(rec: TaskRecord) -> list[str]:
    b = rec.best
    sel = (
        f"Selection: trial {b.best_trial_number} of {b.n_complete} complete ({b.n_trials} in all); "
        f"{b.n_qualified} passed the support filter ({filter_words(b.evaluation_spec['filter'])})"
    )
    out = [sel + ("; the fallback filter was used." if rec.low_support else "; the fallback was not needed.")]
    if rec.low_support:
        out.append(f'<span class="lowsupport">{esc(low_support_text(rec))}</span>')
    out.append(f"HPO DirHit {hpo_html(rec)} — biased upward by the search that picked it.")
    if b.study_restart_note:
        out.append(f'<span class="lowsupport">Study restarted on resume: {esc(b.study_restart_note)}.</span>')
    for option, info in b.options_skipped.items():
        out.append(f"{esc(option)} was not applied on walk-forward splits {esc(', '.join(map(str, info['splits'])))}: {esc(info['reason'])}.")
    return out


def task_sentences(rec: TaskRecord) -> list[str]:
    """A task's result in a few HTML sentences: selection (fallback or not), DirHits, verdict, reason."""
    out = []
    if rec.status in (TaskStatus.SKIPPED, TaskStatus.FAILED):
        out.append(f"<span class=\"failed\">{esc(rec.status)}</span>: {esc(rec.error or 'no reason recorded')}")
    elif rec.status not in TaskStatus.ENDED:
        out.append(f"not ended yet: {esc(rec.status)}")
    if rec.best:
        out += _selection_sentences(rec)
    if rec.is_universe:
        u = rec.ev.universe if rec.ev else {}
        who = f"{u.get('members')} symbols ({len(u.get('excluded') or {})} excluded)" if rec.ev else "every stored symbol"
        out.insert(0, f"Universe model: one model over {esc(who)}; {target_html(rec)}.")
    if rec.ev:
        gap = rec.ev.wfv_parity_gap
        out.append(f"WFV DirHit after training {wfv_html(rec)}, {'parity gap ' + num(gap, '{:+.2f}') + ' points' if gap is not None else 'parity gap undefined'}.")
        if rec.is_universe:
            out.append(f"<small>{esc(PANEL_SPLIT_CAVEAT[0].upper() + PANEL_SPLIT_CAVEAT[1:])}.</small>")
        out.append(verdict_words(rec))
    return out


def method_html() -> str:
    """The multiple-testing method and its limits, in words (:data:`bistlab.evaluation.honesty.METHOD_ITEMS`)."""
    intro, *items = METHOD_ITEMS
    return f"<p>{esc(intro)}</p><ul>" + "".join(f"<li>{esc(x)}</li>" for x in items) + "</ul>"
