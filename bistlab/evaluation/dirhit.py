"""DirHit figures as a person reads them, and the usable rule.

A :class:`DirHit` carries its count, effective count and 95 % interval (:mod:`bistlab.evaluation.intervals`);
the baselines (persistence, majority) are figured on the model's own rows; the :class:`Edge` over the best
baseline and :func:`usable_verdict` decide whether a model is usable (:data:`USABLE_RULE`).
Rates are in percent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bistlab.evaluation.intervals import (
    EXACT_BELOW,
    INTERVAL_METHOD,
    Z95,
    dirhit_interval,
    method_name,
    min_passing_dirhit,
    one_sided_p,
)
from bistlab.evaluation.metrics import SplitMetrics, split_n_eff, split_record

__all__ = [
    "DirHit",
    "dirhit_with_interval",
    "USABLE_RULE",
    "baseline_figures",
    "split_figures",
    "Edge",
    "edge_figure",
    "difference_interval",
    "usable_verdict",
]


@dataclass(frozen=True)
class DirHit:
    """A DirHit as a person reads it: the number, its count, its effective count and the 95 %
    interval **of that very number** (a pooled rate, or a mean of split DirHits).

    Build it with :meth:`rate` or :meth:`mean_of_splits`; :mod:`bistlab.report.htmlfmt` prints it.

    Attributes:
        value: the DirHit in percent; ``None`` when undefined.
        count: masked rows behind it (pooled over splits for a mean).
        n_eff: independent outcomes behind it (:func:`effective_count`, summed over splits).
        low: lower end of the 95 % interval, percent.
        high: upper end, percent.
        mean_of: the number of splits averaged, for a mean of split DirHits; ``None`` for a rate.
    """

    value: float | None
    count: int
    n_eff: float
    low: float | None = None
    high: float | None = None
    mean_of: int | None = None

    @property
    def defined(self) -> bool:
        return self.value is not None and self.count > 0 and math.isfinite(self.value)

    @classmethod
    def rate(cls, hits: float | None, count: int | None, n_eff: float | None = None) -> "DirHit":
        """``100 * hits / count`` with its interval at ``n_eff`` (default ``count``; :func:`dirhit_interval`)."""
        count = int(count or 0)
        if count <= 0 or hits is None:
            return cls(None, count, 0.0)
        n = float(count if n_eff is None else max(min(n_eff, count), 1e-9))
        lo, hi = dirhit_interval(hits, count, n_eff=n)  # type: ignore[misc]
        return cls(100.0 * hits / count, count, n, lo, hi)

    @classmethod
    def of_percent(cls, value: float | None, count: int | None, n_eff: float | None = None) -> "DirHit":
        """A rate stored as a percentage of ``count`` rows (e.g. a baseline in an old record)."""
        if value is None or not count:
            return cls(None, int(count or 0), 0.0)
        return cls.rate(value * count / 100.0, count, n_eff)

    @classmethod
    def mean_of_splits(cls, splits: Sequence[dict[str, Any]], *, value: float | None = None, horizon: int | None = None, z: float = Z95) -> "DirHit":
        """The mean of the split DirHits of ``splits`` (records with ``dirhit``, ``dirhit_hits``,
        ``mask_count`` and effective counts), with an interval of that mean.

        The interval is ``mean ± z × sqrt(Σ p̃ₛ(1 − p̃ₛ) / (n_eff,ₛ + z²)) / S`` with the
        Agresti–Coull centre ``p̃ₛ = (p̂ₛ n_eff,ₛ + z²/2) / (n_eff,ₛ + z²)`` of each split, clipped
        to [0, 100]; it always contains the mean. ``value`` (e.g. a stored filtered DirHit) is used
        as the mean when given.
        """
        used = [s for s in splits if s.get("dirhit") is not None and int(s.get("mask_count") or 0) > 0]
        if not used:
            return cls(None, 0, 0.0, mean_of=len(splits) or None)
        mean = float(np.mean([s["dirhit"] for s in used])) if value is None else float(value)
        var = 0.0
        n_eff_total = 0.0
        for s in used:
            n = split_n_eff(s, horizon=horizon)
            n_eff_total += n
            p = (s["dirhit"] / 100.0 * n + z * z / 2) / (n + z * z)
            var += p * (1 - p) / (n + z * z)
        half = 100.0 * z * math.sqrt(var) / len(used)
        count = sum(int(s["mask_count"]) for s in used)
        return cls(mean, count, n_eff_total, max(0.0, min(mean, mean - half)), min(100.0, max(mean, mean + half)), mean_of=len(used))

    def text(self) -> str:
        """``"54.2 % (n=120, n_eff=18, 95 % CI 29.5–77.4)"``, ``"undefined (n=0)"``."""
        if not self.defined:
            return f"undefined (n={self.count})"
        return f"{self.value:.1f} % ({', '.join(self.details())})"

    def details(self) -> list[str]:
        """The parts in brackets: splits averaged, count, effective count, interval."""
        parts = []
        if self.mean_of is not None:
            parts.append(f"mean of {self.mean_of} split{'s' if self.mean_of != 1 else ''}")
        parts.append(f"{'pooled ' if self.mean_of is not None else ''}n={self.count}")
        if round(self.n_eff) < self.count:
            parts.append(f"n_eff={self.n_eff:.0f}")
        parts.append(f"95 % CI {self.low:.1f}–{self.high:.1f}")
        return parts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dirhit_with_interval(hits: int, count: int, *, n_eff: float | None = None) -> str:
    """A DirHit as a person should read it: ``"54.2 % (n=120, 95 % CI 44.8–63.3)"``."""
    return DirHit.rate(hits, count, n_eff).text()


USABLE_RULE = (
    f"holdout DirHit's 95 % lower bound (at the effective count of overlapping h-day labels: exact binomial below "
    f"{EXACT_BELOW}, else Wilson) > 50 %, and the DirHit > the best baseline's DirHit on the same rows (the paired "
    f"comparison, decided by the rows where they disagree, is shown beside it with its interval); then "
    f"Benjamini–Hochberg at 10 % over the cycle's tasks and every earlier look at their holdouts"
)


def baseline_figures(h: SplitMetrics | dict[str, Any], *, horizon: int | None = None) -> dict[str, DirHit]:
    """The baselines of a split or holdout record as :class:`DirHit` figures on their own rows
    (persistence leaves out rows where it had no direction), with the effective count scaled alike."""
    h = split_record(h)
    count = int(h.get("mask_count") or 0)
    n_eff = split_n_eff(h, horizon=horizon) if count else 0.0
    out = {}
    if h.get("persistence_dirhit") is not None:
        new = h.get("persistence_count") is not None  # records before zero past returns were left out lack it
        p_count = int(h["persistence_count"]) if new else count
        p_hits = h["persistence_hits"] if new else h["persistence_dirhit"] * p_count / 100.0
        out["persistence"] = DirHit.rate(p_hits, p_count, n_eff * p_count / count if count else None)
    if h.get("majority_dirhit") is not None:
        m_hits = h["majority_hits"] if h.get("majority_hits") is not None else h["majority_dirhit"] * count / 100.0
        out["majority"] = DirHit.rate(m_hits, count, n_eff)
    return out


def split_figures(split: SplitMetrics | dict[str, Any], *, horizon: int | None = None) -> dict[str, DirHit]:
    """Every DirHit of one split or holdout record as a figure: ``model`` (the masked rows),
    ``call`` (rows with a call), and the baselines ``persistence`` and ``majority`` when recorded."""
    split = split_record(split)
    n_eff = split_n_eff(split, horizon=horizon)
    call_n_eff = split_n_eff(split, horizon=horizon, which="call")
    if split.get("call_hits") is not None:
        call = DirHit.rate(split["call_hits"], split.get("call_count"), call_n_eff)
    else:
        call = DirHit.of_percent(split.get("call_dirhit"), split.get("call_count"), call_n_eff)
    return {
        "model": DirHit.rate(split.get("dirhit_hits"), split.get("mask_count"), n_eff),
        "call": call,
        **baseline_figures(split, horizon=horizon),
    }


@dataclass(frozen=True)
class Edge:
    """The holdout DirHit minus a baseline's DirHit on the same rows, in percentage points, with the
    95 % interval of that very difference and the paired test.

    Only the rows where model and baseline disagree on being right move the difference: the model's
    ``wins`` (it right, the baseline wrong) and ``losses``. The interval is the normal one of a paired
    difference, ``edge ± z × sqrt((d − e²) / n_eff)`` with ``d`` the share of disagreeing rows and
    ``e`` the paired difference as a share, at the rows' effective count; ``p_value`` is the one-sided
    test of "the model wins more than half of the disagreeing rows" (:func:`one_sided_p`: exact
    binomial at small effective counts). Records written before wins and losses were kept have no
    interval and no test.

    Attributes:
        baseline: ``"persistence"`` or ``"majority"``.
        value: the edge in percentage points; ``None`` when either DirHit is undefined.
        low: lower end of its 95 % interval (points).
        high: upper end.
        wins: rows won where they disagree.
        losses: rows lost where they disagree.
        p_value: one-sided p-value of the paired test.
    """

    baseline: str
    value: float | None
    low: float | None = None
    high: float | None = None
    wins: int | None = None
    losses: int | None = None
    p_value: float | None = None

    def text(self) -> str:
        """``"+4.2 points over persistence (95 % CI -3.1 to +11.5; won 14, lost 9 where they disagree, paired p = 0.2)"``."""
        if self.value is None:
            return "undefined"
        if self.low is None or self.high is None:
            return f"{self.value:+.1f} points over {self.baseline} (no interval: an old record without paired counts)"
        paired = f"won {self.wins}, lost {self.losses} where they disagree, " if self.wins is not None else ""
        test = f"paired p = {self.p_value:.2g}" if self.p_value is not None else "no paired test"
        return f"{self.value:+.1f} points over {self.baseline} (95 % CI {self.low:+.1f} to {self.high:+.1f}; {paired}{test})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def edge_figure(h: SplitMetrics | dict[str, Any], baseline: str | None = None, *, horizon: int | None = None) -> Edge | None:
    """The :class:`Edge` of a holdout (or split) record over ``baseline`` (default: the best one by
    DirHit); ``None`` when the record has no such baseline."""
    h = split_record(h)
    figs = split_figures(h, horizon=horizon)
    bases = {k: v for k, v in figs.items() if k in ("persistence", "majority") and v.defined}
    if baseline is None:
        baseline = max(bases, key=lambda k: bases[k].value) if bases else None  # type: ignore[arg-type, return-value]
    if baseline is None or baseline not in figs:
        return None
    model, base = figs["model"], figs[baseline]
    if not (model.defined and base.defined):
        return Edge(baseline, None)
    value = float(model.value) - float(base.value)  # type: ignore[arg-type]
    wins, losses = h.get(f"{baseline}_wins"), h.get(f"{baseline}_losses")
    if wins is None or losses is None or not base.count:
        return Edge(baseline, value)
    n_eff = base.n_eff if base.n_eff else float(base.count)
    disagree, diff = (wins + losses) / base.count, (wins - losses) / base.count
    half = 100.0 * Z95 * math.sqrt(max(disagree - diff * diff, 0.0) / n_eff)
    p = one_sided_p(wins, wins + losses, n_eff=(wins + losses) * n_eff / base.count, bar=50.0) if wins + losses else 1.0
    return Edge(baseline, value, max(-100.0, value - half), min(100.0, value + half), int(wins), int(losses), p)


def difference_interval(a: DirHit, b: DirHit) -> tuple[float, float] | None:
    """95 % interval of ``a.value − b.value`` (points) for two DirHits on disjoint rows (e.g. the
    holdout and the HPO splits): each side's distance to its own interval combined in quadrature,
    so it contains the difference; ``None`` when either is undefined."""
    if not (a.defined and b.defined) or None in (a.low, a.high, b.low, b.high):
        return None
    d = float(a.value) - float(b.value)  # type: ignore[arg-type]
    down = math.hypot(float(a.value) - a.low, b.high - float(b.value))  # type: ignore[arg-type, operator]
    up = math.hypot(a.high - float(a.value), float(b.value) - b.low)  # type: ignore[arg-type, operator]
    return max(-100.0, d - down), min(100.0, d + up)


def usable_verdict(holdout: SplitMetrics | dict[str, Any], *, horizon: int | None = None) -> dict[str, Any]:
    """Whether a model passes the usable rule, decided by its holdout numbers only.

    The rule (:data:`USABLE_RULE`): the 95 % lower bound of the holdout DirHit at its effective count
    (exact binomial below :data:`EXACT_BELOW` effective outcomes, else Wilson; see the module
    docstring) is above 50 %, and the DirHit is above the best baseline's DirHit (persistence or
    majority) on the same masked rows. The first half is the one-sided test of "DirHit > 50 %" at
    level 0.025 (:func:`one_sided_p`); its ``p_value`` (1 when the model does not beat the best
    baseline) goes to the cycle-wide false-discovery control (:func:`bistlab.evaluation.honesty.fdr_control`);
    ``p_value < 0.025`` exactly when the rule passes. The paired comparison with that baseline
    (:func:`edge_figure`: the edge, its interval, the test on the rows where they disagree) is
    reported beside the rule: requiring its lower bound too would leave a per-symbol holdout
    without power (DESIGN.md "Power"; ``bench/bench_usable_rule.py``). ``usable`` here is the
    task's own test, before the false-discovery control.

    Args:
        holdout: the holdout's metrics.
        horizon: h in trading days, for records without effective counts.

    Returns:
        The verdict: ``usable`` / ``passes_rule``, ``p_value``, the interval (percent), ``n_eff``,
        the bar (50) and the best baseline, ``beats_baseline``, ``edge`` (:meth:`Edge.to_dict`),
        ``test`` (the method used at this ``n_eff``), ``method`` (:data:`INTERVAL_METHOD`),
        ``rule`` and ``min_passing_dirhit`` (percent, or ``None``).
    """
    h = holdout.to_dict() if isinstance(holdout, SplitMetrics) else dict(holdout)
    hits, count = h.get("dirhit_hits", 0) or 0, int(h.get("mask_count", 0) or 0)
    n_eff = split_n_eff(h, horizon=horizon) if count else 0.0
    fig = DirHit.rate(hits, count, n_eff)
    raw = {name: h.get(f"{name}_dirhit") for name in ("persistence", "majority") if h.get(f"{name}_dirhit") is not None}
    best_name = max(raw, key=lambda k: raw[k]) if raw else None
    best_baseline = raw[best_name] if best_name else None
    lower = fig.low if fig.defined else None
    beats = fig.defined and best_baseline is not None and float(fig.value) > best_baseline  # type: ignore[arg-type]
    edge = edge_figure(h, best_name, horizon=horizon) if best_name else None
    p_value = one_sided_p(hits, count, n_eff=n_eff, bar=50.0) if beats else 1.0
    return {
        "usable": bool(beats and lower is not None and lower > 50.0),
        "passes_rule": bool(beats and lower is not None and lower > 50.0),
        "p_value": p_value,
        "rule": USABLE_RULE,
        "method": INTERVAL_METHOD,
        "test": method_name(min(n_eff, count)) if count else None,
        "dirhit_lower_95": lower,
        "dirhit_upper_95": fig.high if fig.defined else None,
        "n_eff": n_eff,
        "bar_dirhit": 50.0 if best_baseline is not None else None,
        "best_baseline_dirhit": best_baseline,
        "best_baseline": best_name,
        "beats_baseline": bool(beats),
        "edge": edge.to_dict() if edge else None,
        "min_passing_dirhit": min_passing_dirhit(n_eff),
    }
