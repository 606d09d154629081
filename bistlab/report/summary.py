"""Small tables that notebooks display after each step: what was done, with which numbers.

Every DirHit is shown with its count and the 95 % interval of that very number (a mean over
splits with the interval of the mean; intervals at the effective count of overlapping labels).
A universe task's holdout figures are pooled over its panel of (date, symbol) rows with intervals
from a block bootstrap over dates (:mod:`bistlab.evaluation.panel_metrics`): :func:`panel_figures` turns
them into :class:`~bistlab.evaluation.metrics.DirHit` figures, which the cycle report uses too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from bistlab.evaluation.dirhit import DirHit, Edge, edge_figure, split_figures
from bistlab.core.records import BestParams, Evaluation, ModelMeta

__all__ = ["hpo_summary", "training_summary", "evaluation_summary", "universe_summary", "panel_figures", "edge_of", "target_words", "TARGET_WORDS", "PANEL_SPLIT_CAVEAT"]

TARGET_WORDS: dict[str, str] = {
    "excess": "the {h}-day log return minus the date's cross-sectional median (does the stock beat the typical stock?)",
    "raw": "the {h}-day log return",
}
"""What each target means, in words (``{h}``: the horizon)."""

PANEL_SPLIT_CAVEAT = (
    "a walk-forward split of a universe task pools every symbol's rows, and its interval is the per-symbol kind "
    "(effective count of the rows as one series), too narrow for a panel whose rows of one date move together; "
    "only the holdout's date-block bootstrap intervals are fit for a panel"
)
"""Why a universe task's HPO and walk-forward intervals are indicative only."""


def _table(items: list[tuple[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=["item", "value"]).set_index("item")


def _mean_with_interval(value: float | None, splits: list[dict[str, Any]], counted: Sequence[int], *, horizon: int) -> str:
    """``"55.3 % (mean of 4 splits, pooled n=340, n_eff=52, 95 % CI 49.9–60.6)"``: the interval of the mean."""
    if value is None or not counted:
        return "undefined (n=0)"
    return DirHit.mean_of_splits([splits[i] for i in counted], value=value, horizon=horizon).text()


def hpo_summary(best: BestParams) -> pd.DataFrame:
    """What HPO selected and how (``best_params.json``)."""
    items = [
        ("study", best.study_name),
        ("trials (complete / total)", f"{best.n_complete} / {best.n_trials}"),
        ("trials passing the support filter", best.n_qualified),
        ("selected trial", best.best_trial_number),
        ("HPO DirHit (biased upward by the search)", _mean_with_interval(best.hpo_dirhit, best.splits, best.counted_splits, horizon=best.horizon)),
        ("counted splits", best.counted_splits),
        ("score", best.best_value),
        ("LOW_SUPPORT", "yes: no trial passed the support filter; 0/0.0 fallback used" if best.low_support else "no"),
        ("filter used", best.filter_used),
        ("model", best.model_choice),
        ("feature groups on", ", ".join(["core"] + [g for g, on in best.features_enabled.items() if on])),
        ("removed from the space", best.space_removed or "nothing"),
        ("data fingerprint", best.data_fingerprint),
    ]
    if best.study_restart_note:
        items.append(("study restarted", best.study_restart_note))
    return _table(items)


def training_summary(meta: ModelMeta) -> pd.DataFrame:
    """What was trained, on which rows (``model.json``)."""
    items = [
        ("model", meta.config["model_choice"]),
        ("trained on rows", f"{meta.trained_rows[0]}–{meta.trained_rows[1] - 1} ({meta.trained_dates[0]} to {meta.trained_dates[1]})"),
        ("features", len(meta.features)),
        ("artifact", meta.model_file),
        ("data fingerprint", meta.data_fingerprint),
        ("LOW_SUPPORT", "yes" if meta.low_support else "no"),
        ("package versions", ", ".join(f"{k} {v}" for k, v in meta.package_versions.items())),
    ]
    return _table(items)


def _baselines(ev: Evaluation, figs: dict[str, DirHit]) -> dict[str, str]:
    base = {k: figs[k].text() if k in figs else "undefined (n=0)" for k in ("persistence", "majority")}
    if ev.holdout.persistence_no_direction:
        base["persistence"] += f"; {ev.holdout.persistence_no_direction} rows without a past direction not counted"
    return base


def evaluation_summary(ev: Evaluation, *, best: BestParams | None = None) -> pd.DataFrame:
    """Parity with HPO and the holdout verdict (``evaluation.json``; ``best``: the task's selection,
    for the HPO DirHit's own splits; without it, the HPO DirHit is shown with the counts of the
    same splits after training). A universe task's holdout is shown by :func:`universe_summary`."""
    if ev.is_universe:
        return universe_summary(ev, best=best)
    h, horizon = ev.holdout, ev.horizon
    wfv_splits = ev.wfv.get("split_metrics") or []
    if best is not None:
        hpo = _mean_with_interval(ev.hpo_dirhit, best.splits, best.counted_splits, horizon=horizon)
    else:
        hpo = _mean_with_interval(ev.hpo_dirhit, wfv_splits, ev.wfv_counted_splits, horizon=horizon) + " (counts of the same splits after training)"
    figs = split_figures(h, horizon=horizon)
    verdict = ev.rule_verdict()
    base = _baselines(ev, figs)
    items = [
        ("HPO DirHit (biased upward by the search)", hpo),
        ("WFV DirHit after training (same splits)", _mean_with_interval(ev.wfv_dirhit, wfv_splits, ev.wfv_counted_splits, horizon=horizon)),
        ("parity gap WFV − HPO", "undefined" if ev.wfv_parity_gap is None else f"{ev.wfv_parity_gap:+.4f} points"),
        (f"holdout DirHit, online ({ev.holdout_dates[0]} to {ev.holdout_dates[1]})", figs["model"].text()),
        ("holdout mask", f"{h.mask_count} of {h.n_test} rows ({h.mask_pct:.1f} %)"),
        ("holdout call DirHit (|pred| > thr)", f"{figs['call'].text()}; coverage {h.call_coverage_pct:.1f} % of rows"),
        ("persistence baseline DirHit (same rows)", base["persistence"]),
        ("majority baseline DirHit (same rows)", base["majority"]),
        ("holdout nRMSE", "undefined" if h.nrmse is None else f"{h.nrmse:.3f}"),
        ("passes the usable rule (this task alone)", f"{'YES' if verdict['passes_rule'] else 'no'} (one-sided p = {verdict['p_value']:.4f}) — rule: {verdict['rule']}"),
        ("usable", "decided over the cycle's tasks (false-discovery control): see the cycle report"),
        ("LOW_SUPPORT", "yes" if ev.low_support else "no"),
    ]
    return _table(items)


def target_words(target: str | None, horizon: int) -> str:
    """``"excess — the 7-day log return minus the date's cross-sectional median (...)"``."""
    name = target or "raw"
    return f"{name} — {TARGET_WORDS.get(name, 'unknown target').format(h=horizon)}"


def _pooled(value: float | None, count: int | None, low: float | None, high: float | None) -> DirHit:
    """A pooled panel DirHit with its date-block bootstrap interval (no effective count: the
    interval is the bootstrap's, not a binomial one)."""
    count = int(count or 0)
    if value is None or not count or low is None or high is None:
        return DirHit(None, count, 0.0)
    return DirHit(float(value), count, float(count), float(min(low, value)), float(max(high, value)))


def panel_figures(metrics: dict[str, Any]) -> dict[str, DirHit]:
    """A universe holdout's pooled DirHits (``PanelMetrics.to_dict()``) as figures with their
    date-block bootstrap intervals: ``model`` (masked rows), ``all`` (every row), and the
    baselines ``persistence`` and ``majority`` on the masked rows."""
    m = metrics
    return {
        "model": _pooled(m.get("dirhit"), m.get("mask_count"), m.get("dirhit_lo"), m.get("dirhit_hi")),
        "all": _pooled(m.get("all_dirhit"), m.get("all_count"), m.get("all_dirhit_lo"), m.get("all_dirhit_hi")),
        "persistence": _pooled(m.get("persistence_dirhit"), m.get("persistence_count"), m.get("persistence_lo"), m.get("persistence_hi")),
        "majority": _pooled(m.get("majority_dirhit"), m.get("mask_count"), m.get("majority_lo"), m.get("majority_hi")),
    }


def edge_of(metrics: dict[str, Any] | None, *, horizon: int | None = None) -> Edge | None:
    """The edge over the best baseline on the same rows, with its interval, of a holdout or forward
    record: a per-symbol task's :class:`~bistlab.evaluation.metrics.SplitMetrics` dict (paired counts,
    :func:`~bistlab.evaluation.metrics.edge_figure`) or a universe task's ``PanelMetrics`` dict (its date-block
    bootstrap interval of the paired edge); ``None`` without a baseline."""
    m = metrics or {}
    if "edge_lo" in m:  # a universe task's pooled metrics
        if m.get("best_baseline") is None:
            return None
        return Edge(str(m["best_baseline"]), m.get("edge"), m.get("edge_lo"), m.get("edge_hi"), p_value=m.get("edge_p"))
    return edge_figure(m, horizon=horizon) if m else None


def _interval_text(value: float | None, low: float | None, high: float | None, *, scale: float = 1.0, spec: str = "{:+.3f}", unit: str = "") -> str:
    """``"+0.039 (95 % CI +0.018 to +0.059)"`` of a figure that is not a DirHit (IC, edge, spread)."""
    if value is None:
        return "undefined"

    def fmt(v: float | None) -> str:
        return "?" if v is None else spec.format(v * scale)

    return f"{fmt(value)}{unit} (95 % CI {fmt(low)} to {fmt(high)}{unit})"


def _universe_items(ev: Evaluation) -> list[tuple[str, Any]]:
    m, u = ev.universe["metrics"], ev.universe
    figs = panel_figures(m)
    dates = f"{m.get('n_dates')} dates ({ev.holdout_dates[0]} to {ev.holdout_dates[1]})"
    cost = m.get("cost_per_side") or 0.0
    return [
        ("target", target_words(ev.target, ev.horizon)),
        ("members", f"{u.get('members')} symbols ({len(u.get('excluded') or {})} excluded); {len(u.get('per_symbol') or {})} with holdout rows"),
        ("holdout", f"{m.get('n_rows')} rows (date × symbol) on {dates}"),
        ("holdout mask", f"{m.get('mask_count')} of {m.get('n_rows')} rows ({(m.get('mask_pct') or 0.0):.1f} %) on {m.get('mask_dates')} dates"),
        ("pooled masked DirHit", figs["model"].text()),
        ("DirHit on every row (reference)", figs["all"].text()),
        ("persistence baseline DirHit (same rows)", figs["persistence"].text()),
        ("majority baseline DirHit (same rows)", figs["majority"].text()),
        (f"edge over the best baseline ({m.get('best_baseline')}), points", _interval_text(m.get("edge"), m.get("edge_lo"), m.get("edge_hi"), spec="{:+.1f}")),
        ("mean rank IC", _interval_text(m.get("ic_mean"), m.get("ic_lo"), m.get("ic_hi")) + f"; ICIR {m['icir']:.2f} over {m.get('n_ic_dates')} dates" if m.get("icir") is not None else _interval_text(m.get("ic_mean"), m.get("ic_lo"), m.get("ic_hi"))),
        *[(f"mean rank IC, liquidity tercile {t['tercile']} ({('least liquid', 'middle', 'most liquid')[int(t['tercile'])] if int(t['tercile']) < 3 else t['tercile']})", _interval_text(t.get("ic_mean"), t.get("ic_lo"), t.get("ic_hi")) + f"; {t.get('n_dates')} dates") for t in (m.get("ic_by_tercile") or [])],
        (f"top − bottom quintile spread, % log return per {ev.horizon} sessions", _interval_text(m.get("spread_mean"), m.get("spread_lo"), m.get("spread_hi"), scale=100.0, spec="{:+.2f}", unit=" %")),
        (f"spread after {100 * cost:.2f} % cost per side (4 sides)", _interval_text(m.get("spread_net"), m.get("spread_net_lo"), m.get("spread_net_hi"), scale=100.0, spec="{:+.2f}", unit=" %")),
        ("interval method", m.get("method")),
    ]


def universe_summary(ev: Evaluation, *, best: BestParams | None = None) -> pd.DataFrame:
    """A universe task's holdout (``evaluation.json`` of ``UNIVERSE_<h>d``): the pooled figures with
    their date-block bootstrap intervals, and the universe verdict with its reasons (``best``: the
    task's selection, for the HPO DirHit's own splits)."""
    v = ev.rule_verdict()
    need = v.get("min_passing_dirhit")
    wfv_splits = ev.wfv.get("split_metrics") or []
    wfv = _mean_with_interval(ev.wfv_dirhit, wfv_splits, ev.wfv_counted_splits, horizon=ev.horizon)
    hpo = _mean_with_interval(ev.hpo_dirhit, best.splits, best.counted_splits, horizon=ev.horizon) if best is not None else "see the HPO notebook"
    items = [
        ("HPO DirHit (biased upward by the search; pooled panel rows)", hpo),
        ("WFV DirHit after training (pooled panel rows of each split)", f"{wfv}; {PANEL_SPLIT_CAVEAT}"),
        *_universe_items(ev),
        ("passes the universe rule (this task alone)", f"{'YES' if v.get('passes_rule') else 'no'} (one-sided p = {v.get('p_value', 1.0):.4f}) — rule: {v.get('rule')}"),
        ("why not", "; ".join(v.get("reasons") or []) or "–"),
        ("smallest DirHit these rows could certify", "none" if need is None else f"about {need:.1f} %"),
        ("usable", "decided over the cycle's tasks (false-discovery control): see the cycle report"),
        ("LOW_SUPPORT", "yes" if ev.low_support else "no"),
    ]
    return _table(items)
