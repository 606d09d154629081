"""Split metrics, symbol metrics, the score, DirHit intervals and the usable verdict (DESIGN.md "Definitions").

Percentages are in 0..100. Returns are log returns. A DirHit that is undefined (empty mask) is
``None``, never 0 or NaN, so that it cannot be averaged by mistake.

**Overlapping labels.** For a horizon h > 1 the labels of neighbouring rows share h − 1 days of
price path, and a model's calls are persistent, so n masked rows are far fewer than n independent
outcomes. Every interval and test here therefore works with an *effective count*
(:func:`effective_count`): ``n_eff = min(n, ceil(span / h))``, the number of rows with pairwise
non-overlapping h-day labels that fit in the span of the masked rows. A DirHit's 95 % interval is
the Wilson score interval of the observed proportion at ``n_eff`` (:class:`DirHit`); the usable
test is the one-sided score test at ``n_eff`` that this interval inverts. At h = 1 the effective
count is the count itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy import stats

from bistlab.config import k_for_horizon

__all__ = [
    "SplitMetrics",
    "DirHit",
    "split_metrics",
    "symbol_metrics",
    "score",
    "effective_count",
    "wilson_interval",
    "dirhit_with_interval",
    "split_n_eff",
    "usable_verdict",
    "min_passing_dirhit",
    "one_sided_p",
    "baseline_figures",
    "split_figures",
    "USABLE_RULE",
    "INTERVAL_METHOD",
    "RULE_ALPHA",
]

NONFINITE_NRMSE = 3.0
Z95 = 1.959963984540054
RULE_ALPHA = 0.025
"""One-sided level of the usable test: the 95 % interval's lower bound must clear the bar."""

INTERVAL_METHOD = (
    "95 % Wilson score interval of the observed DirHit at the effective count n_eff = min(n, ceil(S / h)): "
    "an h-day label overlaps its neighbours' by h − 1 days, so n rows spanning S trading days hold at most "
    "ceil(S / h) independent outcomes (at h = 1, n_eff = n)"
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SplitMetrics":
        """From a stored record; keys it does not know (e.g. ``dirhit_ci95``) are ignored and
        fields a record predates take their defaults."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def effective_count(rows: Sequence[int] | np.ndarray, *, horizon: int) -> int:
    """Independent outcomes behind a DirHit over ``rows`` (row positions, any order) of h-day labels.

    ``min(len(rows), ceil(span / horizon))`` with ``span = max(rows) − min(rows) + 1``: the most rows
    of the span whose h-day labels do not overlap. 0 for no rows.
    """
    idx = np.asarray(rows, dtype=int)
    if idx.size == 0:
        return 0
    span = int(idx.max() - idx.min()) + 1
    return int(min(idx.size, math.ceil(span / max(1, int(horizon)))))


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
    }


def _majority(train_majority: int | None, *, true_sign: np.ndarray, pred_sign: np.ndarray, mask: np.ndarray, call: np.ndarray) -> dict[str, Any]:
    """The training window's majority direction on the masked rows, and the share of called rows in it."""
    if train_majority is None:
        return {"majority_dirhit": None}
    major = np.full(true_sign.size, float(np.sign(train_majority)))
    dirhit, hits, _ = _rate(major, true_sign, mask)
    agree, _, _ = _rate(pred_sign, major, call)
    return {"majority_dirhit": dirhit, "majority_hits": hits, "agree_majority_pct": agree}


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
        """``100 * hits / count`` with its Wilson interval at ``n_eff`` (default ``count``)."""
        count = int(count or 0)
        if count <= 0 or hits is None:
            return cls(None, count, 0.0)
        n = float(count if n_eff is None else max(min(n_eff, count), 1e-9))
        lo, hi = wilson_interval(hits, count, n_eff=n)  # type: ignore[misc]
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
        """``"54.2 % (n=120, n_eff=18, 95 % CI 45.3–62.8)"``, ``"undefined (n=0)"``."""
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
    """A DirHit as a person should read it: ``"54.2 % (n=120, 95 % CI 45.3–62.8)"``."""
    return DirHit.rate(hits, count, n_eff).text()


USABLE_RULE = (
    "holdout DirHit's 95 % lower bound (Wilson at the effective count of overlapping h-day labels) > 50 % and > the "
    "best baseline DirHit on the same rows; then Benjamini–Hochberg at 10 % over the cycle's tasks"
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


def one_sided_p(hits: float, count: float, *, n_eff: float, bar: float) -> float:
    """P-value of the score test of "DirHit > ``bar`` percent" at ``n_eff`` independent outcomes.

    The Wilson lower bound exceeds ``bar`` exactly when this p-value is below 0.025.
    """
    if count <= 0 or n_eff <= 0:
        return 1.0
    p0 = bar / 100.0
    if p0 >= 1.0:
        return 1.0
    p0 = max(p0, 1e-12)
    z = (hits / count - p0) / math.sqrt(p0 * (1 - p0) / n_eff)
    return float(stats.norm.sf(z))


def usable_verdict(holdout: SplitMetrics | dict[str, Any], *, horizon: int | None = None) -> dict[str, Any]:
    """Whether a model passes the usable rule, decided by its holdout numbers only.

    The rule: the 95 % lower bound of the holdout DirHit (Wilson at the effective count, see the
    module docstring) is above 50 % and above the best baseline's DirHit (persistence or majority)
    on the same masked rows. It is the one-sided score test of "DirHit > max(50, best baseline)"
    at level 0.025, whose ``p_value`` the cycle-wide false-discovery control takes
    (:func:`bistlab.honesty.fdr_control`). ``usable`` here is the task's own test, before that
    control.

    Args:
        holdout: the holdout's metrics.
        horizon: h in trading days, for records without effective counts.
    """
    h = holdout.to_dict() if isinstance(holdout, SplitMetrics) else dict(holdout)
    hits, count = h.get("dirhit_hits", 0) or 0, int(h.get("mask_count", 0) or 0)
    n_eff = split_n_eff(h, horizon=horizon) if count else 0.0
    fig = DirHit.rate(hits, count, n_eff)
    raw = {name: h.get(f"{name}_dirhit") for name in ("persistence", "majority") if h.get(f"{name}_dirhit") is not None}
    best_name = max(raw, key=lambda k: raw[k]) if raw else None
    best_baseline = raw[best_name] if best_name else None
    lower = fig.low if fig.defined else None
    passes = lower is not None and best_baseline is not None and lower > 50.0 and lower > best_baseline
    bar = max(50.0, best_baseline) if best_baseline is not None else 100.0
    return {
        "usable": bool(passes),
        "passes_rule": bool(passes),
        "p_value": one_sided_p(hits, count, n_eff=n_eff, bar=bar) if fig.defined and best_baseline is not None else 1.0,
        "rule": USABLE_RULE,
        "method": INTERVAL_METHOD,
        "dirhit_lower_95": lower,
        "dirhit_upper_95": fig.high if fig.defined else None,
        "n_eff": n_eff,
        "bar_dirhit": bar if best_baseline is not None else None,
        "best_baseline_dirhit": best_baseline,
        "best_baseline": best_name,
        "min_passing_dirhit": min_passing_dirhit(n_eff),
    }


def min_passing_dirhit(n_eff: float, *, bar: float = 50.0, z: float = Z95) -> float | None:
    """The smallest DirHit (percent) whose Wilson lower bound at ``n_eff`` clears ``bar`` percent.

    ``bar + z × sqrt(bar (1 − bar) / n_eff)`` (the score test); ``None`` when even 100 % cannot:
    too few independent outcomes to judge.
    """
    if n_eff <= 0:
        return None
    p0 = bar / 100.0
    need = p0 + z * math.sqrt(p0 * (1 - p0) / n_eff)
    return 100.0 * need if need < 1.0 else None
