"""Split metrics, symbol metrics, the score, DirHit intervals and the usable verdict (DESIGN.md "Definitions").

Percentages are in 0..100. Returns are log returns. A DirHit that is undefined (empty mask) is
``None``, never 0 or NaN, so that it cannot be averaged by mistake.

**Overlapping labels.** For a horizon h > 1 the labels of neighbouring rows share h − 1 days of
price path, and a model's calls are persistent, so n masked rows are far fewer than n independent
outcomes. Every interval and test here therefore works with an *effective count*
(:func:`effective_count`): the length of the union of the masked rows' label windows
``[t, t + h)`` (in trading days) divided by h, rounded up, never more than n: the number of
non-overlapping h-day windows the calls cover. Calls that come in clusters count as the few windows
they cover, not as the span from the first to the last of them. At h = 1 the effective count is the
count of distinct rows.

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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import optimize, special

from bistlab.config import k_for_horizon

__all__ = [
    "SplitMetrics",
    "DirHit",
    "split_metrics",
    "symbol_metrics",
    "score",
    "effective_count",
    "wilson_interval",
    "exact_interval",
    "dirhit_interval",
    "method_name",
    "dirhit_with_interval",
    "split_n_eff",
    "usable_verdict",
    "min_passing_dirhit",
    "one_sided_p",
    "majority_direction",
    "baseline_figures",
    "split_figures",
    "Edge",
    "edge_figure",
    "difference_interval",
    "USABLE_RULE",
    "INTERVAL_METHOD",
    "RULE_ALPHA",
    "EXACT_BELOW",
]

NONFINITE_NRMSE = 3.0
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


@dataclass(frozen=True)
class SplitMetrics:
    """Metrics of one test window (or of the holdout).

    Attributes:
        n_test: rows in the test window.
        mask_count: rows where ``|y_true| > thr`` and ``|y_pred| > thr``.
        mask_pct: ``100 * mask_count / n_test``.
        dirhit: percent of masked rows whose predicted sign is right; ``None`` when the mask is empty.
        dirhit_hits: masked rows with the right sign (for intervals).
        nrmse: ``rmse(y_pred, y_true) / std(y_true)`` over the whole window.
        call_dirhit: percent right over rows with ``|y_pred| > thr`` (what a trader acts on).
        call_count: rows with ``|y_pred| > thr``.
        call_coverage_pct: ``100 * call_count / n_test``.
        persistence_dirhit: DirHit of "sign of the last h-day return" on the masked rows where that
            return has a sign (a zero past return is no call, not a wrong one).
        majority_dirhit: DirHit of the training window's majority direction on the same mask.
        model_metrics: for an ensemble, each base family's own dirhit, mask_count and nrmse.
        horizon: h in trading days (the overlap of the labels).
        The fields below are ``None`` in records written before they were kept (readers fall back).

        dirhit_n_eff: effective count of the masked rows (:func:`effective_count`).
        call_hits: called rows with the right sign.
        call_n_eff: effective count of the called rows.
        persistence_hits: masked rows where persistence was right.
        persistence_count: masked rows where persistence had a direction.
        persistence_no_direction: masked rows where the past return was zero (not counted).
        majority_hits: masked rows where the majority direction was right.
        agree_persistence_pct: percent of called rows (with a persistence direction) whose
            predicted direction equals persistence's.
        agree_majority_pct: percent of called rows whose predicted direction equals the majority's.
        persistence_wins: masked rows with a persistence direction where the model was right and
            persistence wrong (the rows where they disagree decide the paired comparison).
        persistence_losses: those where persistence was right and the model wrong.
        majority_wins: masked rows where the model was right and the majority direction wrong.
        majority_losses: those where the majority direction was right and the model wrong.
    """

    n_test: int
    mask_count: int
    mask_pct: float
    dirhit: float | None
    dirhit_hits: int
    nrmse: float | None
    call_dirhit: float | None
    call_count: int
    call_coverage_pct: float
    persistence_dirhit: float | None
    majority_dirhit: float | None
    model_metrics: dict[str, dict[str, Any]] | None = None
    horizon: int | None = None
    dirhit_n_eff: int | None = None
    call_hits: int | None = None
    call_n_eff: int | None = None
    persistence_hits: int | None = None
    persistence_count: int | None = None
    persistence_no_direction: int = 0
    majority_hits: int | None = None
    agree_persistence_pct: float | None = None
    agree_majority_pct: float | None = None
    persistence_wins: int | None = None
    persistence_losses: int | None = None
    majority_wins: int | None = None
    majority_losses: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SplitMetrics":
        """From a stored record; keys it does not know (e.g. ``dirhit_ci95``) are ignored and
        fields a record predates take their defaults."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def effective_count(rows: Sequence[int] | np.ndarray, *, horizon: int) -> int:
    """Independent outcomes behind a DirHit over ``rows`` (row positions in trading days, any order)
    of h-day labels.

    The label of the row at position t covers the days ``[t, t + h)``. The effective count is the
    length of the union of these windows over ``rows``, divided by h and rounded up, and never more
    than ``len(rows)``: the number of non-overlapping h-day windows the rows' labels cover. A
    repeated position (rows of one session in a universe task) counts once. Rows 0–9 and 100–109
    at h = 5 cover 14 + 14 = 28 days: 6 outcomes, not ceil(110 / 5) = 22.

    Args:
        rows: integer positions of the rows (e.g. session numbers).
        horizon: h in trading days (values below 1 count as 1).

    Returns:
        The effective count; 0 for no rows, at h = 1 the number of distinct positions.
    """
    idx = np.unique(np.asarray(rows, dtype=int))
    if idx.size == 0:
        return 0
    h = max(1, int(horizon))
    covered = int(np.minimum(np.diff(idx), h).sum()) + h  # each window adds the days before the next one starts
    return int(min(len(rows), math.ceil(covered / h)))


def majority_direction(labels: Sequence[float] | np.ndarray) -> int:
    """+1 or −1: the direction most labels took (ties up): the majority baseline's call."""
    y = np.asarray(labels, dtype=float)
    return 1 if int((y > 0).sum()) >= int((y < 0).sum()) else -1


def _rate(pred_sign: np.ndarray, true_sign: np.ndarray, where: np.ndarray) -> tuple[float | None, int, int]:
    count = int(where.sum())
    if count == 0:
        return None, 0, 0
    hits = int((pred_sign[where] == true_sign[where]).sum())
    return 100.0 * hits / count, hits, count


def split_metrics(
    y_true: Sequence[float] | np.ndarray,
    y_pred: Sequence[float] | np.ndarray,
    *,
    thr: float = 0.005,
    past_return: Sequence[float] | np.ndarray | None = None,
    train_majority: int | None = None,
    horizon: int = 1,
    positions: Sequence[int] | np.ndarray | None = None,
) -> SplitMetrics:
    """Metrics of one test window (rows in time order).

    Args:
        y_true: realised forward log returns.
        y_pred: predicted forward log returns.
        thr: DirHit threshold on absolute log returns.
        past_return: last h-day log return at each row (persistence baseline); optional.
        train_majority: +1 or -1, the majority direction of the training labels; optional.
        horizon: h in trading days, for the effective counts of overlapping labels.
        positions: each row's session number, for the effective counts (default: the rows are
            consecutive sessions); a universe task's rows share sessions, and rows of one session
            count as one session there.

    Returns:
        The window's :class:`SplitMetrics`.
    """
    yt = np.asarray(y_true, dtype=float)
    yp = np.asarray(y_pred, dtype=float)
    if yt.shape != yp.shape:
        raise ValueError(f"`y_pred` must have the shape of `y_true` {yt.shape} but got {yp.shape}")
    n = int(yt.size)
    pos = np.arange(n) if positions is None else np.asarray(positions, dtype=int)
    true_sign, pred_sign = np.sign(yt), np.sign(yp)
    mask = (np.abs(yt) > thr) & (np.abs(yp) > thr)
    call = np.abs(yp) > thr
    dirhit, hits, _ = _rate(pred_sign, true_sign, mask)
    call_dirhit, call_hits, _ = _rate(pred_sign, true_sign, call)
    return SplitMetrics(
        n_test=n,
        mask_count=int(mask.sum()),
        mask_pct=100.0 * int(mask.sum()) / n if n else 0.0,
        dirhit=dirhit,
        dirhit_hits=hits,
        nrmse=_nrmse(yt, yp),
        call_dirhit=call_dirhit,
        call_count=int(call.sum()),
        call_coverage_pct=100.0 * int(call.sum()) / n if n else 0.0,
        horizon=int(horizon),
        dirhit_n_eff=effective_count(pos[mask], horizon=horizon),
        call_hits=call_hits,
        call_n_eff=effective_count(pos[call], horizon=horizon),
        **_persistence(past_return, true_sign=true_sign, pred_sign=pred_sign, mask=mask, call=call),
        **_majority(train_majority, true_sign=true_sign, pred_sign=pred_sign, mask=mask, call=call),
    )


def _nrmse(yt: np.ndarray, yp: np.ndarray) -> float | None:
    """``rmse / std(y_true)`` (population std); infinite for a constant ``y_true``, ``None`` when empty."""
    if yt.size == 0:
        return None
    std = float(np.std(yt))
    rmse = float(np.sqrt(np.mean((yp - yt) ** 2)))
    return rmse / std if std > 0 else math.inf


def _persistence(past_return: Sequence[float] | np.ndarray | None, *, true_sign: np.ndarray, pred_sign: np.ndarray, mask: np.ndarray, call: np.ndarray) -> dict[str, Any]:
    """The persistence baseline on the masked rows where the past return has a sign, and the share
    of called rows in its direction."""
    if past_return is None:
        return {"persistence_dirhit": None}
    past_sign = np.sign(np.nan_to_num(np.asarray(past_return, dtype=float), nan=0.0))
    has_dir = past_sign != 0
    dirhit, hits, count = _rate(past_sign, true_sign, mask & has_dir)
    agree, _, _ = _rate(pred_sign, past_sign, call & has_dir)
    return {
        "persistence_dirhit": dirhit,
        "persistence_hits": hits,
        "persistence_count": count,
        "persistence_no_direction": int((mask & ~has_dir).sum()),
        "agree_persistence_pct": agree,
        **_paired("persistence", past_sign, true_sign=true_sign, pred_sign=pred_sign, rows=mask & has_dir),
    }


def _majority(train_majority: int | None, *, true_sign: np.ndarray, pred_sign: np.ndarray, mask: np.ndarray, call: np.ndarray) -> dict[str, Any]:
    """The training window's majority direction on the masked rows, and the share of called rows in it."""
    if train_majority is None:
        return {"majority_dirhit": None}
    major = np.full(true_sign.size, float(np.sign(train_majority)))
    dirhit, hits, _ = _rate(major, true_sign, mask)
    agree, _, _ = _rate(pred_sign, major, call)
    paired = _paired("majority", major, true_sign=true_sign, pred_sign=pred_sign, rows=mask)
    return {"majority_dirhit": dirhit, "majority_hits": hits, "agree_majority_pct": agree, **paired}


def _paired(name: str, base_sign: np.ndarray, *, true_sign: np.ndarray, pred_sign: np.ndarray, rows: np.ndarray) -> dict[str, int]:
    """Rows of ``rows`` where the model and the baseline ``name`` disagree on being right: the
    model's wins (it right, the baseline wrong) and losses (the reverse)."""
    model_right = pred_sign[rows] == true_sign[rows]
    base_right = base_sign[rows] == true_sign[rows]
    return {f"{name}_wins": int((model_right & ~base_right).sum()), f"{name}_losses": int((~model_right & base_right).sum())}


def _record(split: SplitMetrics | dict[str, Any]) -> dict[str, Any]:
    return split.to_dict() if isinstance(split, SplitMetrics) else split


def split_n_eff(split: SplitMetrics | dict[str, Any], *, horizon: int | None = None, which: str = "dirhit") -> float:
    """The effective count of a split record's DirHit (``which="dirhit"``) or call DirHit (``"call"``).

    Records written before effective counts were kept fall back to ``min(count, ceil(n_test / h))``
    (the horizon from the record, else ``horizon``, else 1).
    """
    split = _record(split)
    count = int(split.get("mask_count" if which == "dirhit" else "call_count") or 0)
    stored = split.get("dirhit_n_eff" if which == "dirhit" else "call_n_eff")
    if stored:
        return float(stored)
    h = int(split.get("horizon") or horizon or 1)
    n_test = int(split.get("n_test") or count)
    return float(min(count, math.ceil(n_test / h))) if count else 0.0


def symbol_metrics(
    splits: Sequence[SplitMetrics | dict[str, Any]],
    *,
    symbol: str,
    horizon: int,
    min_valid_splits: int = 2,
) -> dict[str, Any]:
    """Aggregate one trial's split metrics for one (symbol, horizon).

    ``avg_dirhit`` is the mean over splits with a defined DirHit if there are at least
    ``min_valid_splits`` of them, else ``None`` with ``low_support_warning = True``;
    ``avg_nrmse`` likewise over splits with an nRMSE (infinite if one is: the score then counts it
    as 3.0).
    """
    rows = [s.to_dict() if isinstance(s, SplitMetrics) else dict(s) for s in splits]
    dirhits = [r["dirhit"] for r in rows if r.get("dirhit") is not None]
    nrmses = [r["nrmse"] for r in rows if r.get("nrmse") is not None]
    enough = len(dirhits) >= min_valid_splits
    per_model: dict[str, dict[str, float | None]] = {}
    for family in sorted({f for r in rows for f in (r.get("model_metrics") or {})}):
        values = [r["model_metrics"][family] for r in rows if family in (r.get("model_metrics") or {})]
        d = [v["dirhit"] for v in values if v.get("dirhit") is not None]
        n = [v["nrmse"] for v in values if v.get("nrmse") is not None and math.isfinite(v["nrmse"])]
        per_model[family] = {
            "avg_dirhit": float(np.mean(d)) if len(d) >= min_valid_splits else None,
            "avg_nrmse": float(np.mean(n)) if n else None,
        }
    return {
        "symbol": symbol,
        "horizon": horizon,
        "avg_model_metrics": per_model,
        "avg_dirhit": float(np.mean(dirhits)) if enough else None,
        "avg_nrmse": float(np.mean(nrmses)) if len(nrmses) >= min_valid_splits else None,
        "valid_splits": len(dirhits),
        "split_count": len(rows),
        "low_support_warning": not enough,
        "split_metrics": rows,
    }


def score(avg_dirhit: float | None, avg_nrmse: float | None, *, horizon: int) -> float | None:
    """The objective: ``0.7 * avg_dirhit - k * avg_nrmse``, ``k = 6`` for h in {1, 3, 7} else 4.

    A missing or non-finite nRMSE counts as 3.0. Returns ``None`` when DirHit is undefined.
    """
    if avg_dirhit is None:
        return None
    nrmse = avg_nrmse if avg_nrmse is not None and math.isfinite(avg_nrmse) else NONFINITE_NRMSE
    return 0.7 * avg_dirhit - k_for_horizon(horizon) * nrmse


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


@dataclass(frozen=True)
class DirHit:
    """A DirHit as a person reads it: the number, its count, its effective count and the 95 %
    interval **of that very number** (a pooled rate, or a mean of split DirHits).

    Build it with :meth:`rate` or :meth:`mean_of_splits`; :mod:`bistlab.htmlfmt` prints it.

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
    h = _record(h)
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
    split = _record(split)
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
    h = _record(h)
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


def usable_verdict(holdout: SplitMetrics | dict[str, Any], *, horizon: int | None = None) -> dict[str, Any]:
    """Whether a model passes the usable rule, decided by its holdout numbers only.

    The rule (:data:`USABLE_RULE`): the 95 % lower bound of the holdout DirHit at its effective count
    (exact binomial below :data:`EXACT_BELOW` effective outcomes, else Wilson; see the module
    docstring) is above 50 %, and the DirHit is above the best baseline's DirHit (persistence or
    majority) on the same masked rows. The first half is the one-sided test of "DirHit > 50 %" at
    level 0.025 (:func:`one_sided_p`); its ``p_value`` (1 when the model does not beat the best
    baseline) goes to the cycle-wide false-discovery control (:func:`bistlab.honesty.fdr_control`);
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
