"""Split metrics, symbol metrics, the score and effective counts (DESIGN.md "Definitions").

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

Intervals and tests are :mod:`bistlab.evaluation.intervals`; DirHit figures and the usable verdict :mod:`bistlab.evaluation.dirhit`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from bistlab.config import k_for_horizon

__all__ = [
    "SplitMetrics",
    "split_metrics",
    "symbol_metrics",
    "score",
    "effective_count",
    "split_n_eff",
    "majority_direction",
    "split_record",
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


def split_record(split: SplitMetrics | dict[str, Any]) -> dict[str, Any]:
    return split.to_dict() if isinstance(split, SplitMetrics) else split


def split_n_eff(split: SplitMetrics | dict[str, Any], *, horizon: int | None = None, which: str = "dirhit") -> float:
    """The effective count of a split record's DirHit (``which="dirhit"``) or call DirHit (``"call"``).

    Records written before effective counts were kept fall back to ``min(count, ceil(n_test / h))``
    (the horizon from the record, else ``horizon``, else 1).
    """
    split = split_record(split)
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


