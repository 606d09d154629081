"""Intervals and exact tests of a hit rate: Wilson's interval, the exact (Clopper-Pearson) one at small
counts, the one-sided p-value of the usable rule and the smallest DirHit a count could certify.

Every DirHit shown to a person carries one of these intervals (:class:`bistlab.evaluation.dirhit.DirHit`);
rates are in percent, counts are rows or effective counts (:func:`bistlab.evaluation.metrics.effective_count`).

**Exact counts.** Below :data:`EXACT_BELOW` effective outcomes (every per-symbol holdout and
split) a DirHit's 95 % interval is the exact
(Clopper–Pearson) interval and the usable test the exact one-sided binomial test, both at ``n_eff``
with the hits scaled to it (``hits / count × n_eff``); from :data:`EXACT_BELOW` on they are the
Wilson score interval and the score test it inverts (:func:`dirhit_interval`, :func:`one_sided_p`).
Either way the test's p-value is below :data:`RULE_ALPHA` exactly when the interval's lower bound
clears the bar, and the interval contains the printed figure.
"""

from __future__ import annotations

import math
from functools import lru_cache

from scipy import optimize, special

__all__ = [
    "Z95",
    "RULE_ALPHA",
    "EXACT_BELOW",
    "INTERVAL_METHOD",
    "wilson_interval",
    "exact_interval",
    "method_name",
    "dirhit_interval",
    "one_sided_p",
    "min_passing_dirhit",
]


Z95 = 1.959963984540054


RULE_ALPHA = 0.025
"""One-sided level of the usable test: the 95 % interval's lower bound must clear the bar."""


EXACT_BELOW = 1000
"""Effective counts below this get the exact binomial test and interval; from it on, Wilson's.

Why 1000: the one-sided score test's true size at the 50 % bar (integer hits, n = n_eff) reaches
6.25 % at n = 4 (4 of 4 passes), 3.9 % at n = 21 and still 2.65 % at a per-symbol h = 1 holdout's
96 masked rows (``bench/bench_usable_rule.py``: 2.40 % of no-skill holdouts passed, at the 2.5 %
limit), while the exact test never exceeds 2.5 % and keeps the power of DESIGN.md's yardstick
(a true 65 % passes 82 % of 120-row holdouts). Every per-symbol holdout and split therefore gets
the exact test; only pooled records of a thousand outcomes and more (a long forward ledger) get the
score test, whose size and bounds are then within a few tenths of a point of the exact ones."""


INTERVAL_METHOD = (
    f"95 % interval of the observed DirHit at the effective count n_eff (the union of the masked rows' h-day label "
    f"windows [t, t + h) ÷ h, rounded up, at most n: calls in clusters count as the few non-overlapping windows they "
    f"cover; at h = 1, n_eff = n): exact binomial (Clopper–Pearson, hits scaled to n_eff) when n_eff < {EXACT_BELOW}, "
    f"else Wilson score"
)
"""How every DirHit interval is computed, in words (the report's method text)."""


def wilson_interval(hits: float, count: float, *, n_eff: float | None = None, z: float = Z95) -> tuple[float, float] | None:
    """95 % Wilson score interval of the proportion ``hits / count``, in percent.

    Args:
        hits: right calls.
        count: rows.
        n_eff: the number of independent outcomes the proportion rests on (default ``count``);
            the interval is that of the observed proportion at this size.
        z: the normal quantile (1.96 for 95 %).

    Returns:
        ``(low, high)`` in percent, containing ``100 * hits / count``; ``None`` when ``count`` or
        ``n_eff`` is 0.
    """
    n = count if n_eff is None else min(float(n_eff), float(count))
    if count <= 0 or n <= 0:
        return None
    p = hits / count
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if hits <= 0 else max(0.0, min(p, centre - half))
    high = 1.0 if hits >= count else min(1.0, max(p, centre + half))
    return 100.0 * low, 100.0 * high


def _exact_size(hits: float, count: float, n_eff: float | None) -> tuple[float, float, float] | None:
    """``(p̂, n, x)``: the observed proportion, the effective count (at most ``count``) and the
    hits scaled to it (``x = p̂ × n``); ``None`` when there is nothing to judge."""
    n = float(count) if n_eff is None else min(float(n_eff), float(count))
    if count <= 0 or n <= 0:
        return None
    p = min(1.0, max(0.0, hits / count))
    return p, n, p * n


def exact_interval(hits: float, count: float, *, n_eff: float | None = None) -> tuple[float, float] | None:
    """95 % exact (Clopper–Pearson) interval of the proportion ``hits / count`` at ``n_eff``, in percent.

    The hits are scaled to the effective count, ``x = hits / count × n_eff``, and the bounds are the
    beta quantiles ``B⁻¹(0.025; x, n − x + 1)`` and ``B⁻¹(0.975; x + 1, n − x)``: at integer ``x``
    and ``n`` exactly scipy's ``binomtest(x, n).proportion_ci("exact")``, and in between a monotone
    interpolation of it (no rounding of the scaled hits, which could round a fail up to a pass).

    Args:
        hits: right calls.
        count: rows.
        n_eff: the independent outcomes the proportion rests on (default ``count``).

    Returns:
        ``(low, high)`` in percent, containing ``100 * hits / count``; ``None`` when ``count`` or
        ``n_eff`` is 0.
    """
    size = _exact_size(hits, count, n_eff)
    if size is None:
        return None
    p, n, x = size
    low = 0.0 if x <= 0 else float(special.betaincinv(x, n - x + 1.0, RULE_ALPHA))
    high = 1.0 if x >= n else float(special.betaincinv(x + 1.0, n - x, 1.0 - RULE_ALPHA))
    return 100.0 * min(low, p), 100.0 * max(high, p)


def method_name(n_eff: float) -> str:
    """The test and interval used at ``n_eff`` effective outcomes (:data:`EXACT_BELOW`), in words."""
    return "exact binomial (Clopper–Pearson)" if n_eff < EXACT_BELOW else "Wilson score"


def dirhit_interval(hits: float, count: float, *, n_eff: float | None = None) -> tuple[float, float] | None:
    """95 % interval of a DirHit ``hits / count`` at ``n_eff`` (default ``count``), in percent: exact
    (:func:`exact_interval`) below :data:`EXACT_BELOW` effective outcomes, else Wilson
    (:func:`wilson_interval`). ``None`` when ``count`` or ``n_eff`` is 0."""
    n = float(count) if n_eff is None else min(float(n_eff), float(count))
    if n < EXACT_BELOW:
        return exact_interval(hits, count, n_eff=n_eff)
    return wilson_interval(hits, count, n_eff=n_eff)


def one_sided_p(hits: float, count: float, *, n_eff: float, bar: float) -> float:
    """P-value of the one-sided test of "DirHit > ``bar`` percent" at ``n_eff`` independent outcomes.

    Below :data:`EXACT_BELOW` the exact binomial test with the hits scaled to ``n_eff``:
    ``P(X ≥ x) = I_p0(x, n − x + 1)`` for ``X ~ Binomial(n_eff, bar)`` (scipy's ``binomtest(x, n,
    alternative="greater")`` at integers); else the score test. Either way the p-value is below
    0.025 exactly when :func:`dirhit_interval`'s lower bound exceeds ``bar``.
    """
    size = _exact_size(hits, count, n_eff)
    p0 = bar / 100.0
    if size is None or p0 >= 1.0:
        return 1.0
    p, n, x = size
    if n < EXACT_BELOW:
        if x <= 0:
            return 1.0
        return float(special.betainc(x, n - x + 1.0, max(p0, 0.0)))
    p0 = max(p0, 1e-12)
    return float(special.ndtr(-(p - p0) / math.sqrt(p0 * (1 - p0) / n)))


def min_passing_dirhit(n_eff: float, *, bar: float = 50.0, z: float = Z95) -> float | None:
    """The smallest DirHit (percent) that passes the test of "DirHit > ``bar`` percent" at ``n_eff``.

    The DirHit whose lower bound at ``n_eff`` equals ``bar``; any DirHit above it passes. Below
    :data:`EXACT_BELOW` the exact test's (the scaled hits ``x`` solving ``I_p0(x, n − x + 1) =
    0.025``); from it on the score test's, ``bar + z × sqrt(bar (1 − bar) / n_eff)``.

    Args:
        n_eff: effective count.
        bar: the bar in percent (50, or a higher baseline).
        z: the normal quantile of the score test (1.96).

    Returns:
        Percent; ``None`` when even 100 % cannot pass: too few independent outcomes to judge.
    """
    if n_eff <= 0:
        return None
    p0 = bar / 100.0
    if n_eff < EXACT_BELOW:
        return _exact_min_passing(float(n_eff), p0)
    need = p0 + z * math.sqrt(p0 * (1 - p0) / n_eff)
    return 100.0 * need if need < 1.0 else None


@lru_cache(maxsize=4096)
def _exact_min_passing(n: float, p0: float) -> float | None:
    """The exact test's smallest passing DirHit (percent) at ``n`` outcomes and bar ``p0`` (0..1)."""
    if p0 >= 1.0 or p0**n >= RULE_ALPHA:  # p-value of n hits of n: not even 100 % passes
        return None
    if p0 <= 0.0:
        return 0.0
    x = optimize.brentq(lambda k: special.betainc(k, n - k + 1.0, p0) - RULE_ALPHA, 1e-12, n, xtol=1e-12)
    return 100.0 * x / n
