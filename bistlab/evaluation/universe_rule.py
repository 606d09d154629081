"""The usable verdict of a universe model (DESIGN.md "Universe models"): :data:`USABLE_RULE_UNIVERSE`
applied to a panel's :class:`~bistlab.evaluation.panel_metrics.PanelMetrics`, with the support each figure needs and
the rule's components shown. Percentages are in 0..100.
"""

from __future__ import annotations

from typing import Any

from bistlab.errors import ConfigError
from bistlab.evaluation.panel_metrics import MIN_DATES, MIN_ROWS_PER_DATE, PanelMetrics, min_dates
from bistlab.evaluation.date_bootstrap import RULE_ALPHA

__all__ = ["USABLE_RULE_UNIVERSE", "universe_verdict"]


USABLE_RULE_UNIVERSE = (
    "usable when the mean rank IC's 95 % lower bound is above 0 and the pooled masked DirHit's 95 % lower bound is "
    "above 50 % and above the best baseline (persistence or majority) on the same rows, the latter as the lower "
    "bound of the paired difference; an intersection-union test whose p-value is the largest of the three"
)
"""The universe rule, in words (the report's rule text)."""


def _support_reasons(m: PanelMetrics, need: int) -> list[str]:
    """Why the panel cannot be judged at all (empty mask, too few dates), as sentences."""
    reasons = []
    if m.n_dates < need:
        reasons.append(
            f"only {m.n_dates} dates in the holdout: the verdict needs at least {need} "
            f"({MIN_DATES}, and two bootstrap blocks of h = {m.horizon} sessions)"
        )
    if m.dirhit is None:
        reasons.append(f"no masked rows (|y_true| and |y_pred| both above thr = {m.thr:g}): the DirHit is undefined")
    elif m.mask_dates < need:
        reasons.append(f"masked rows on only {m.mask_dates} dates: the verdict needs at least {need}")
    if m.n_ic_dates < need:
        reasons.append(
            f"a rank IC on only {m.n_ic_dates} dates (dates with at least {MIN_ROWS_PER_DATE} rows and varying "
            f"predictions): the verdict needs at least {need}"
        )
    return reasons


def _component(figure: float | None, lower: float | None, upper: float | None, p: float, bar: float, alpha: float, text: str, unit: str) -> dict[str, Any]:
    """One part of the rule: its figure, interval, bar, p-value, whether it passes, and if not why."""
    passes = figure is not None and p < alpha
    out = {"figure": figure, "lower": lower, "upper": upper, "bar": bar, "p": p, "passes": bool(passes), "reason": None}
    if figure is not None and not passes:
        why = f"its 95 % lower bound is not above {bar:g}{unit}" if lower is not None and lower <= bar else f"its one-sided p is not below {alpha:g}"
        out["reason"] = f"{text} (one-sided p = {p:.3f}): {why}"
    return out


def universe_verdict(m: PanelMetrics | dict[str, Any], *, alpha: float = RULE_ALPHA, target: str | None = None) -> dict[str, Any]:
    """Whether a universe model is usable, by :data:`USABLE_RULE_UNIVERSE`, from its holdout metrics.

    An intersection-union test of three one-sided bootstrap tests (``ic``: mean rank IC > 0;
    ``dirhit_vs_50``: pooled masked DirHit > 50 %; ``dirhit_vs_baseline``: its paired edge over the
    best baseline > 0): usable iff each component's p-value is below ``alpha``, which at the default
    0.025 is exactly "each 95 % lower bound clears its bar"; the rule's ``p_value`` is the largest
    component p-value (1.0 when the panel cannot be judged: empty mask or too few dates, each said
    in ``reasons``). Never raises on a thin panel.

    Args:
        m: the holdout's :class:`PanelMetrics` (or its dict).
        alpha: one-sided level of each component, in (0, 0.5).
        target: the target's name (``"excess"`` or ``"raw"``), passed through.

    Returns:
        A JSON-safe dict: ``usable`` (and ``passes_rule``, the same, for the cycle's false-discovery
        control), ``p_value``, ``components``, ``reasons`` (plain sentences with numbers, empty when
        usable), ``rule``, ``method``, ``alpha``, ``target``, ``best_baseline``,
        ``min_passing_dirhit`` (about the smallest DirHit these rows could certify: 50 plus the
        distance from the DirHit down to its lower bound).
    """
    if not 0.0 < alpha < 0.5:
        raise ConfigError("alpha", "in (0, 0.5)", alpha)
    m = m if isinstance(m, PanelMetrics) else PanelMetrics.from_dict(m)
    reasons = _support_reasons(m, min_dates(m.horizon))
    best = f"{m.best_baseline} {m.best_baseline_dirhit:.1f} %" if m.best_baseline else "none"
    comps = {
        "ic": _component(m.ic_mean, m.ic_lo, m.ic_hi, m.ic_p, 0.0, alpha, f"mean rank IC {_num(m.ic_mean, 3)} [{_num(m.ic_lo, 3)}, {_num(m.ic_hi, 3)}] over {m.n_ic_dates} dates", ""),
        "dirhit_vs_50": _component(m.dirhit, m.dirhit_lo, m.dirhit_hi, m.dirhit_p, 50.0, alpha, f"pooled masked DirHit {_num(m.dirhit, 1)} % [{_num(m.dirhit_lo, 1)}, {_num(m.dirhit_hi, 1)}] over {m.mask_count} rows", " %"),
        "dirhit_vs_baseline": _component(m.edge, m.edge_lo, m.edge_hi, m.edge_p, 0.0, alpha, f"pooled masked DirHit minus the best baseline on the same rows ({best}) {_num(m.edge, 1, '+')} points [{_num(m.edge_lo, 1, '+')}, {_num(m.edge_hi, 1, '+')}]", ""),
    }
    comps["dirhit_vs_baseline"].update(best_baseline=m.best_baseline, best_baseline_dirhit=m.best_baseline_dirhit)
    reasons += [c["reason"] for c in comps.values() if c["reason"]]
    usable = not reasons and all(c["passes"] for c in comps.values())
    judged = not _support_reasons(m, min_dates(m.horizon))
    return {
        "usable": bool(usable),
        "passes_rule": bool(usable),
        "p_value": float(max(c["p"] for c in comps.values())) if judged else 1.0,
        "components": comps,
        "reasons": reasons,
        "rule": USABLE_RULE_UNIVERSE,
        "method": m.method,
        "alpha": float(alpha),
        "target": target,
        "best_baseline": m.best_baseline,
        "min_passing_dirhit": 50.0 + (m.dirhit - m.dirhit_lo) if m.dirhit is not None and m.dirhit_lo is not None else None,
    }


def _num(value: float | None, digits: int, sign: str = "") -> str:
    return "undefined" if value is None else f"{value:{sign}.{digits}f}"
