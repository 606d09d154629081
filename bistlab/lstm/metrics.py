"""Classification metrics of the LSTM, its two F1 baselines, and the DirHit of its BUY/SELL calls.

- Macro F1, precision and recall (scikit-learn, ``zero_division=0``) over the three classes SELL,
  HOLD and BUY whether or not they occur (so a model that predicts one class, or data with one
  class, cannot score more than 1/3: what the mode-collapse penalty on precision < 0.35 relies
  on), accuracy, and the class distribution of the predictions.
- Baselines on the same rows: **majority** — the training rows' most frequent class predicted
  everywhere (macro F1 by scikit-learn); **random** — each row drawn from the training class
  frequencies. The random baseline's F1 is computed exactly on the *expected* confusion matrix
  (class k predicted with probability q_k, so its precision is the validation share p_k and its
  recall q_k: ``F1_k = 2 p_k q_k / (p_k + q_k)``), macro-averaged over the three classes like the model's; the mean F1 of
  actual random draws differs from it by O(1/n).
- The **call DirHit**: BUY = +1, SELL = −1, HOLD = no call, scored against the realised h-day log
  return through :func:`bistlab.evaluation.metrics.split_metrics` (per symbol, so the effective count of
  overlapping h-day labels never spans two symbols), pooled as a :class:`bistlab.evaluation.metrics.DirHit`
  with its count and 95 % interval at the effective count.
- The **verdict** of a job (DESIGN.md "The LSTM hyperopt module"): bistlab's usable rule
  (:func:`bistlab.evaluation.metrics.usable_verdict`) on the holdout DirHit of the BUY/SELL calls (the calls
  whose realised h-day move exceeds the threshold: the mask of "Definitions"), pooled over
  symbols with each symbol's effective count, beside both direction baselines on the same rows
  (persistence: the sign of the symbol's last h-day return; majority: its development rows'
  majority direction) and the paired edge over the better one.
- **F1 with an interval**: a block bootstrap over dates (blocks of at least h sessions, a date's
  rows resampled together), so overlapping h-day labels and the common move of a day are
  respected; percentile interval, widened to contain the F1 it belongs to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from bistlab.lstm.barriers import CLASS_NAMES, N_CLASSES, signed_calls
from bistlab.evaluation.metrics import SplitMetrics, majority_direction, split_metrics
from bistlab.evaluation.dirhit import DirHit, Edge, edge_figure, split_figures, usable_verdict

if TYPE_CHECKING:
    from bistlab.lstm.samples import LstmData, Windows

LABELS = [0, 1, 2]

__all__ = [
    "classification_metrics",
    "majority_f1",
    "random_f1",
    "call_dirhit",
    "collapse_warning",
    "evaluation_summary",
    "holdout_verdict",
    "f1_interval",
    "pool_split_metrics",
    "verdict_text",
    "LSTM_RULE",
]

LSTM_RULE = (
    "usable when the holdout DirHit of the BUY/SELL calls (calls whose realised h-day move exceeds the threshold) has a 95 % "
    "lower bound above 50 % (exact binomial at the effective count of overlapping h-day labels, per symbol) and beats the "
    "best direction baseline (persistence, majority) on the same rows; the paired edge over that baseline is shown beside it"
)
"""The usable rule of an LSTM job, in words (DESIGN.md "The LSTM hyperopt module"): bistlab's rule
on the holdout DirHit of the calls; one verdict per job, so no false-discovery family."""

F1_BOOTSTRAPS = 1000
"""Resamples of the F1 interval's block bootstrap."""


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """``val_f1``, ``val_precision``, ``val_recall`` (macro), ``val_accuracy``, ``pred_dist`` and
    ``true_dist`` (shares of SELL, HOLD, BUY)."""
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=LABELS, average="macro", zero_division=0)
    n = max(1, len(y_pred))
    return {
        "val_f1": float(f1),
        "val_precision": float(precision),
        "val_recall": float(recall),
        "val_accuracy": float(accuracy_score(y_true, y_pred)),
        "pred_dist": (np.bincount(y_pred, minlength=N_CLASSES) / n).tolist(),
        "true_dist": (np.bincount(y_true, minlength=N_CLASSES) / max(1, len(y_true))).tolist(),
    }


def majority_f1(y_true: np.ndarray, y_train: np.ndarray) -> float:
    """Macro F1 of predicting the training rows' most frequent class on every row of ``y_true``."""
    major = int(np.bincount(y_train, minlength=N_CLASSES).argmax())
    return float(f1_score(y_true, np.full_like(y_true, major), labels=LABELS, average="macro", zero_division=0))


def random_f1(y_true: np.ndarray, y_train: np.ndarray) -> float:
    """Macro F1 of the expected confusion matrix of class-frequency random predictions (module docstring)."""
    p = np.bincount(y_true, minlength=N_CLASSES) / max(1, len(y_true))
    q = np.bincount(y_train, minlength=N_CLASSES) / max(1, len(y_train))
    f1 = np.where(p + q > 0, 2 * p * q / np.where(p + q > 0, p + q, 1.0), 0.0)
    return float(f1.mean())


def call_dirhit(data: "LstmData", windows: "Windows", y_pred: np.ndarray, *, thr: float) -> dict[str, Any]:
    """The DirHit of BUY/SELL calls against the realised h-day log return, pooled over symbols.

    Returns:
        ``hits`` (calls whose sign is the realised return's), ``count`` (every BUY or SELL call),
        ``n_eff`` (effective count of the called rows), ``value`` (percent or None), ``low`` and
        ``high`` (95 % interval), ``coverage_pct`` (calls per row, percent) and ``text``.
    """
    calls = signed_calls(y_pred)
    realised = data.realised(windows)
    hits = count = 0
    n_eff = 0.0
    for k in np.unique(windows.symbol):
        sel = windows.symbol == k
        order = np.argsort(windows.row[sel], kind="stable")
        m = split_metrics(realised[sel][order], calls[sel][order], thr=thr, horizon=data.horizon)
        hits, count, n_eff = hits + m.call_hits, count + m.call_count, n_eff + m.call_n_eff
    fig = DirHit.rate(hits, count, n_eff)
    return {
        "hits": int(hits), "count": int(count), "n_eff": float(n_eff), "value": fig.value, "low": fig.low, "high": fig.high,
        "coverage_pct": 100.0 * count / max(1, len(y_pred)), "text": fig.text(),
    }


def collapse_warning(pred_dist: list[float], *, share: float = 0.9) -> dict[str, Any] | None:
    """A mode-collapse warning when one class has more than ``share`` of the predictions, else None."""
    k = int(np.argmax(pred_dist))
    if pred_dist[k] > share:
        return {"class": CLASS_NAMES[k], "share": float(pred_dist[k])}
    return None


def evaluation_summary(data: "LstmData", windows: "Windows", y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, *, thr: float) -> dict[str, Any]:
    """Metrics of predictions on one range beside both F1 baselines and the call DirHit."""
    return {
        **classification_metrics(y_true, y_pred),
        "majority_f1": majority_f1(y_true, y_train),
        "random_f1": random_f1(y_true, y_train),
        "call_dirhit": call_dirhit(data, windows, y_pred, thr=thr),
        "rows": int(len(y_true)),
    }


_SUMMED = (
    "n_test", "mask_count", "dirhit_hits", "dirhit_n_eff", "call_hits", "call_count", "call_n_eff", "persistence_hits",
    "persistence_count", "persistence_no_direction", "majority_hits", "persistence_wins", "persistence_losses", "majority_wins", "majority_losses",
)


def pool_split_metrics(parts: list[SplitMetrics], *, horizon: int) -> dict[str, Any]:
    """Several symbols' :class:`~bistlab.evaluation.metrics.SplitMetrics` as one record: counts, hits and
    effective counts summed (each symbol's overlapping labels counted within that symbol), the
    DirHits recomputed from the sums."""
    out: dict[str, Any] = {k: sum(int(getattr(p, k) or 0) for p in parts) for k in _SUMMED}
    pct = lambda hits, count: 100.0 * hits / count if count else None  # noqa: E731
    out.update(
        horizon=int(horizon),
        dirhit=pct(out["dirhit_hits"], out["mask_count"]),
        call_dirhit=pct(out["call_hits"], out["call_count"]),
        persistence_dirhit=pct(out["persistence_hits"], out["persistence_count"]),
        majority_dirhit=pct(out["majority_hits"], out["mask_count"]),
        mask_pct=pct(out["mask_count"], out["n_test"]) or 0.0,
    )
    return out


def holdout_verdict(data: "LstmData", windows: "Windows", y_pred: np.ndarray, dev: "Windows", *, thr: float) -> dict[str, Any]:
    """The usable rule on the holdout DirHit of the BUY/SELL calls, baselines on the same rows.

    Args:
        data: the job's data.
        windows: the holdout samples.
        y_pred: predicted classes of ``windows``.
        dev: the development samples (each symbol's majority direction).
        thr: the DirHit threshold (absolute log return).

    Returns:
        ``metrics`` (the pooled record), ``figures`` (``model``, ``call``, ``persistence``,
        ``majority`` as :class:`~bistlab.evaluation.metrics.DirHit` dicts), ``edge`` (over the better
        baseline, :class:`~bistlab.evaluation.metrics.Edge` dict) and ``verdict``
        (:func:`~bistlab.evaluation.metrics.usable_verdict`).
    """
    calls, realised, h = signed_calls(y_pred), data.realised(windows), data.horizon
    parts = []
    for k in np.unique(windows.symbol):
        sel = np.flatnonzero(windows.symbol == k)
        sel = sel[np.argsort(windows.row[sel], kind="stable")]
        s, rows = data.symbols[k], windows.row[sel]
        past = np.log(s.close[rows] / s.close[np.maximum(rows - h, 0)])
        past[rows < h] = np.nan
        train = s.realised[dev.row[dev.symbol == k]]
        parts.append(split_metrics(realised[sel], calls[sel], thr=thr, horizon=h, past_return=past, train_majority=majority_direction(train)))
    pooled = pool_split_metrics(parts, horizon=h)
    edge = edge_figure(pooled, horizon=h)
    return {
        "metrics": pooled,
        "figures": {k: v.to_dict() for k, v in split_figures(pooled, horizon=h).items()},
        "edge": edge.to_dict() if edge else None,
        "verdict": {**usable_verdict(pooled, horizon=h), "rule": LSTM_RULE},
    }


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    cm = np.bincount(y_true * N_CLASSES + y_pred, minlength=N_CLASSES * N_CLASSES).reshape(N_CLASSES, N_CLASSES)
    tp = np.diag(cm).astype(float)
    denom = cm.sum(axis=0) + cm.sum(axis=1)
    return float(np.mean(np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)))


def f1_interval(y_true: np.ndarray, y_pred: np.ndarray, dates: np.ndarray, *, horizon: int, n_boot: int = F1_BOOTSTRAPS, seed: int = 0) -> dict[str, Any]:
    """Macro F1 with its 95 % interval from a moving-block bootstrap over dates.

    Blocks of ``max(h, ceil(n_dates ** (1/3)))`` consecutive dates are drawn with replacement until
    the sample has as many dates as the original; every row of a drawn date comes along.

    Args:
        y_true: true classes.
        y_pred: predicted classes.
        dates: each row's date (or session number), any sortable values.
        horizon: h in sessions (the shortest block).
        n_boot: resamples.
        seed: the bootstrap's seed.

    Returns:
        ``value``, ``low``, ``high``, ``block`` (dates per block), ``n_dates`` and ``method``.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    value = _macro_f1(y_true, y_pred)
    uniq, inverse = np.unique(np.asarray(dates), return_inverse=True)
    n = uniq.size
    block = int(max(horizon, np.ceil(n ** (1 / 3)))) if n else 1
    if n < 2 * block:
        return {"value": value, "low": None, "high": None, "block": block, "n_dates": int(n), "method": "too few dates for a block bootstrap"}
    order = np.argsort(inverse, kind="stable")
    starts_of = np.searchsorted(inverse[order], np.arange(n + 1))
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        first = rng.integers(0, n - block + 1, size=-(-n // block))
        picked = (first[:, None] + np.arange(block)[None, :]).ravel()[:n]
        rows = np.concatenate([order[starts_of[d] : starts_of[d + 1]] for d in picked])
        stats[b] = _macro_f1(y_true[rows], y_pred[rows])
    low, high = np.percentile(stats, [2.5, 97.5])
    return {
        "value": value, "low": float(min(low, value)), "high": float(max(high, value)), "block": block, "n_dates": int(n),
        "method": f"moving-block bootstrap over dates ({n_boot} resamples, blocks of {block} dates), percentile",
    }


def verdict_text(holdout: dict[str, Any] | None) -> str | None:
    """The job's verdict in one sentence with its numbers (``None`` before the holdout, or for a
    job evaluated before verdicts were kept)."""
    if not holdout or not holdout.get("verdict"):
        return None
    v, figs = holdout["verdict"], holdout.get("figures") or {}
    model = DirHit(**figs["model"]) if figs.get("model") else DirHit(None, 0, 0.0)
    head = "usable" if v["usable"] else "not usable"
    if not model.defined:
        return f"{head}: no BUY/SELL call on the holdout met a move above the threshold (n=0), so the rule cannot be met"
    base = v.get("best_baseline")
    base_fig = DirHit(**figs[base]) if base and figs.get(base) else None
    lower = v["dirhit_lower_95"]
    parts = [
        f"{head}: holdout DirHit of the BUY/SELL calls {model.text()}",
        f"lower bound {lower:.1f} % {'>' if lower > 50 else '≤'} 50 %",
        f"DirHit {'>' if v.get('beats_baseline') else '≤'} best baseline {base} {base_fig.text() if base_fig else 'undefined'} on the same rows",
    ]
    edge = holdout.get("edge")
    if edge and edge.get("value") is not None:
        parts.append(f"edge {Edge(**edge).text()}")
    return "; ".join(parts)
