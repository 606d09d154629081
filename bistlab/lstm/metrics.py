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
  return through :func:`bistlab.metrics.split_metrics` (per symbol, so the effective count of
  overlapping h-day labels never spans two symbols), pooled as a :class:`bistlab.metrics.DirHit`
  with its count and 95 % interval at the effective count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from bistlab.lstm.barriers import CLASS_NAMES, N_CLASSES, signed_calls
from bistlab.metrics import DirHit, split_metrics

if TYPE_CHECKING:
    from bistlab.lstm.samples import LstmData, Windows

LABELS = [0, 1, 2]

__all__ = ["classification_metrics", "majority_f1", "random_f1", "call_dirhit", "collapse_warning", "evaluation_summary"]


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
