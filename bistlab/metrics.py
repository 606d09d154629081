"""Split metrics, symbol metrics, the score and the Wilson interval (DESIGN.md "Definitions").

Percentages are in 0..100. Returns are log returns. A DirHit that is undefined (empty mask) is
``None``, never 0 or NaN, so that it cannot be averaged by mistake.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bistlab.config import k_for_horizon

__all__ = [
    "SplitMetrics",
    "split_metrics",
    "symbol_metrics",
    "score",
    "wilson_interval",
    "dirhit_with_interval",
    "usable_verdict",
    "USABLE_RULE",
]

NONFINITE_NRMSE = 3.0


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
        persistence_dirhit: DirHit of "sign of the last h-day return" on the same mask.
        majority_dirhit: DirHit of the training window's majority direction on the same mask.
        model_metrics: for an ensemble, each base family's own dirhit, mask_count and nrmse.
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pct_right(pred_sign: np.ndarray, true_sign: np.ndarray, where: np.ndarray) -> tuple[float | None, int]:
    count = int(where.sum())
    if count == 0:
        return None, 0
    hits = int((pred_sign[where] == true_sign[where]).sum())
    return 100.0 * hits / count, hits


def split_metrics(
    y_true: Sequence[float] | np.ndarray,
    y_pred: Sequence[float] | np.ndarray,
    *,
    thr: float = 0.005,
    past_return: Sequence[float] | np.ndarray | None = None,
    train_majority: int | None = None,
) -> SplitMetrics:
    """Metrics of one test window.

    Args:
        y_true: realised forward log returns.
        y_pred: predicted forward log returns.
        thr: DirHit threshold on absolute log returns.
        past_return: last h-day log return at each row (persistence baseline); optional.
        train_majority: +1 or -1, the majority direction of the training labels; optional.

    Returns:
        The window's :class:`SplitMetrics`.
    """
    yt = np.asarray(y_true, dtype=float)
    yp = np.asarray(y_pred, dtype=float)
    if yt.shape != yp.shape:
        raise ValueError(f"`y_pred` must have the shape of `y_true` {yt.shape} but got {yp.shape}")
    n = int(yt.size)
    true_sign = np.sign(yt)
    mask = (np.abs(yt) > thr) & (np.abs(yp) > thr)
    dirhit, hits = _pct_right(np.sign(yp), true_sign, mask)
    call = np.abs(yp) > thr
    call_dirhit, _ = _pct_right(np.sign(yp), true_sign, call)
    nrmse: float | None = None
    if n > 0:
        std = float(np.std(yt))
        rmse = float(np.sqrt(np.mean((yp - yt) ** 2)))
        nrmse = rmse / std if std > 0 else math.inf
    persistence = None
    if past_return is not None:
        persistence, _ = _pct_right(np.sign(np.asarray(past_return, dtype=float)), true_sign, mask)
    majority = None
    if train_majority is not None:
        majority, _ = _pct_right(np.full(n, float(np.sign(train_majority))), true_sign, mask)
    return SplitMetrics(
        n_test=n,
        mask_count=int(mask.sum()),
        mask_pct=100.0 * int(mask.sum()) / n if n else 0.0,
        dirhit=dirhit,
        dirhit_hits=hits,
        nrmse=nrmse,
        call_dirhit=call_dirhit,
        call_count=int(call.sum()),
        call_coverage_pct=100.0 * int(call.sum()) / n if n else 0.0,
        persistence_dirhit=persistence,
        majority_dirhit=majority,
    )


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


def wilson_interval(hits: int, count: int, *, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """95 % Wilson score interval of a proportion, in percent; ``None`` when ``count`` is 0."""
    if count <= 0:
        return None
    p = hits / count
    denom = 1.0 + z * z / count
    centre = (p + z * z / (2 * count)) / denom
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / denom
    low = 0.0 if hits == 0 else max(0.0, centre - half)
    high = 1.0 if hits == count else min(1.0, centre + half)
    return 100.0 * low, 100.0 * high


def dirhit_with_interval(hits: int, count: int) -> str:
    """A DirHit as a person should read it: ``"54.2 % (n=120, 95 % CI 45.3–62.8)"``."""
    if count <= 0:
        return "undefined (n=0)"
    lo, hi = wilson_interval(hits, count)  # type: ignore[misc]
    return f"{100.0 * hits / count:.1f} % (n={count}, 95 % CI {lo:.1f}–{hi:.1f})"


USABLE_RULE = "holdout DirHit 95 % Wilson lower bound > 50 % and > the best baseline DirHit on the same rows"


def usable_verdict(holdout: SplitMetrics | dict[str, Any]) -> dict[str, Any]:
    """Whether a model is usable, decided by its holdout numbers only.

    Usable means: the 95 % Wilson lower bound of the holdout DirHit is above 50 % and above the
    best baseline's DirHit (persistence or majority) on the same masked rows.
    """
    h = holdout.to_dict() if isinstance(holdout, SplitMetrics) else dict(holdout)
    interval = wilson_interval(h.get("dirhit_hits", 0), h.get("mask_count", 0))
    baselines = [b for b in (h.get("persistence_dirhit"), h.get("majority_dirhit")) if b is not None]
    best_baseline = max(baselines) if baselines else None
    lower = interval[0] if interval else None
    usable = lower is not None and best_baseline is not None and lower > 50.0 and lower > best_baseline
    return {
        "usable": bool(usable),
        "rule": USABLE_RULE,
        "dirhit_lower_95": lower,
        "dirhit_upper_95": interval[1] if interval else None,
        "best_baseline_dirhit": best_baseline,
    }
