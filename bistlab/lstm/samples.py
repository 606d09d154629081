"""Samples of the LSTM: windows of feature rows, triple-barrier labels, splits and scalers.

A sample is the window of the last ``sequence_length`` feature rows ending at row t of one symbol
(a window never crosses symbols); its label is the triple-barrier label at t
(:mod:`bistlab.lstm.barriers`) and its realised outcome the h-day log return ``log(close[t+h] /
close[t])`` (for the DirHit of BUY/SELL calls).

Features come from bistlab's feature groups (:func:`bistlab.features.build_feature_matrix`): the
always-on core group plus the configured extra groups. Columns that stay undefined for more than
the first half of a symbol's rows are left out; the rows before every kept column is defined are
dropped (the warm-up of rolling windows); a later gap is filled with the training mean (0 after
scaling). A :class:`~sklearn.preprocessing.StandardScaler` is fit on the feature rows of the
training range only, per split.

Splits by date (DESIGN.md "The LSTM hyperopt module", "Panel splits, by date"): the sessions of
every symbol's rows with a full window form one calendar, and :func:`bistlab.data.splits.plan_sessions`
places the holdout (the last labelled sessions, never seen by the search) and the purged
walk-forward test windows on it: the same dates for every symbol. A symbol's training rows of a
split are those whose label (which reads the close h rows later) ends before the test window's
first date, its development rows those whose label ends before the holdout's first date; so no
training label of any symbol reaches a validation or holdout date of any symbol, even when the
symbols were listed on different dates. Split i of several symbols is the union of each symbol's
rows of split i.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.preprocessing import StandardScaler

from bistlab.config import EvalSettings
from bistlab.core.workspace import Workspace
from bistlab.evaluation.dataset import TaskData
from bistlab.errors import ConfigError, DataError, InsufficientDataError
from bistlab.features import build_feature_matrix, registry
from bistlab.lstm.barriers import UNLABELLED, triple_barrier_labels
from bistlab.data.splits import MIN_TRAIN_ROWS, HoldoutPlan, SessionPlan, plan_sessions
from bistlab.evaluation.universe import load_universe

__all__ = ["SymbolData", "Windows", "LstmData", "load_data", "prepare_data", "fit_scaler", "BARRIER_PARAMS"]

logger = logging.getLogger(__name__)

BARRIER_PARAMS: tuple[str, ...] = ("threshold", "take_profit", "stop_loss")


@dataclass
class SymbolData:
    """One symbol's rows.

    Attributes:
        symbol: the symbol.
        close: closing prices.
        features: feature matrix over all rows (float64, kept columns; NaN before ``first_valid``).
        realised: forward h-day log return per row (NaN for the last h rows).
        dates: the rows' dates.
        first_valid: first row where every kept feature is defined.
        first_sample: first row with a full window (``first_valid + sequence_length - 1``).
        plan: development range and holdout.
        boundaries: ``(train_end, val_start, val_end)`` per walk-forward split, row indices.
        fingerprint: data fingerprint of what the features read.
    """

    symbol: str
    close: np.ndarray
    features: np.ndarray
    realised: np.ndarray
    dates: pd.DatetimeIndex
    first_valid: int
    first_sample: int
    plan: HoldoutPlan
    boundaries: list[tuple[int, int, int]]
    fingerprint: str


@dataclass
class Windows:
    """Samples of one range (a split's training or validation rows, the development rows, the holdout).

    Attributes:
        X: windows, float32 ``(n, sequence_length, n_features)``, scaled.
        symbol: index of each sample's symbol in :attr:`LstmData.symbols`.
        row: each sample's row t in its symbol.
    """

    X: np.ndarray
    symbol: np.ndarray
    row: np.ndarray

    def __len__(self) -> int:
        return int(self.row.size)


@dataclass
class LstmData:
    """Everything a job trains on, loaded once: symbols, features, splits, cached scaled windows.

    Attributes:
        symbols: per-symbol rows.
        horizon: h, trading days.
        sequence_length: rows per window.
        n_splits: walk-forward splits.
        feature_names: the kept feature columns.
        skipped: symbols left out, with the reason.
    """

    symbols: list[SymbolData]
    horizon: int
    sequence_length: int
    n_splits: int
    feature_names: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    _windows: dict[tuple[str, int], tuple[Windows, Windows]] = field(default_factory=dict, repr=False)
    _labels: dict[tuple[float, ...], list[np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def fingerprint(self) -> str:
        """Data fingerprint of the job: every symbol's inputs, the features and the window length."""
        parts = [f"{s.symbol}:{s.fingerprint}" for s in self.symbols] + self.feature_names + [str(self.sequence_length)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def labels(self, params: Mapping[str, Any]) -> list[np.ndarray]:
        """Triple-barrier labels of every symbol's rows for the barrier parameters in ``params``."""
        key = tuple(float(params[k]) for k in BARRIER_PARAMS)
        if key not in self._labels:
            self._labels[key] = [
                triple_barrier_labels(s.close, horizon=self.horizon, threshold=key[0], take_profit=key[1], stop_loss=key[2])
                for s in self.symbols
            ]
        return self._labels[key]

    def split(self, i: int) -> tuple[Windows, Windows]:
        """Training and validation windows of walk-forward split ``i``, scaled on its training rows."""
        key = ("split", i)
        if key not in self._windows:
            train = [(s.first_valid, s.first_sample, s.boundaries[i][0]) for s in self.symbols]
            val = [(s.boundaries[i][1], s.boundaries[i][2]) for s in self.symbols]
            self._windows[key] = self._build(train, val)
        return self._windows[key]

    def final(self) -> tuple[Windows, Windows]:
        """Every development row (for the final fit) and the holdout rows, scaled on the development rows."""
        key = ("final", 0)
        if key not in self._windows:
            train = [(s.first_valid, s.first_sample, s.plan.dev_end) for s in self.symbols]
            val = [(s.plan.holdout_start, s.plan.holdout_end) for s in self.symbols]
            self._windows[key] = self._build(train, val)
        return self._windows[key]

    def _build(self, train: Sequence[tuple[int, int, int]], val: Sequence[tuple[int, int]]) -> tuple[Windows, Windows]:
        scaler = fit_scaler([s.features[a:b] for s, (a, _, b) in zip(self.symbols, train)])
        tr = [(k, np.arange(first, end)) for k, (_, first, end) in enumerate(train)]
        va = [(k, np.arange(start, end)) for k, (start, end) in enumerate(val)]
        return self._windows_of(tr, scaler), self._windows_of(va, scaler)

    def _windows_of(self, parts: Sequence[tuple[int, np.ndarray]], scaler: StandardScaler) -> Windows:
        xs, syms, rows = [], [], []
        L = self.sequence_length
        for k, rows_k in parts:
            z = np.nan_to_num(scaler.transform(self.symbols[k].features), nan=0.0).astype(np.float32)
            view = sliding_window_view(z, L, axis=0)  # (n - L + 1, F, L): window ending at t is t - L + 1
            xs.append(np.ascontiguousarray(view[rows_k - L + 1].transpose(0, 2, 1)))
            syms.append(np.full(rows_k.size, k, dtype=np.int64))
            rows.append(rows_k.astype(np.int64))
        return Windows(np.concatenate(xs), np.concatenate(syms), np.concatenate(rows))

    def targets(self, windows: Windows, labels: Sequence[np.ndarray]) -> np.ndarray:
        """The labels of ``windows``' samples (int64 class ids)."""
        out = np.empty(len(windows), dtype=np.int64)
        for k in range(len(self.symbols)):
            sel = windows.symbol == k
            out[sel] = labels[k][windows.row[sel]]
        if (out == UNLABELLED).any():
            raise AssertionError("a sample without a full future reached training or evaluation")
        return out

    def realised(self, windows: Windows) -> np.ndarray:
        """Realised h-day log returns of ``windows``' samples."""
        out = np.empty(len(windows))
        for k, s in enumerate(self.symbols):
            sel = windows.symbol == k
            out[sel] = s.realised[windows.row[sel]]
        return out

    def describe(self) -> dict[str, Any]:
        """Rows, dates and split boundaries per symbol, for state files and reports."""
        out = {}
        for s in self.symbols:
            fmt = lambda i: s.dates[min(i, len(s.dates) - 1)].strftime("%Y-%m-%d")  # noqa: E731
            out[s.symbol] = {
                "rows": int(s.close.size),
                "first_sample": int(s.first_sample),
                "dev_end": int(s.plan.dev_end),
                "holdout": [int(s.plan.holdout_start), int(s.plan.holdout_end)],
                "holdout_dates": [fmt(s.plan.holdout_start), fmt(s.plan.holdout_end - 1)],
                "splits": [{"train_end": a, "val_start": b, "val_end": c, "val_dates": [fmt(b), fmt(c - 1)]} for a, b, c in s.boundaries],
            }
        return out


def fit_scaler(blocks: Sequence[np.ndarray]) -> StandardScaler:
    """A StandardScaler fit on the given feature rows only (NaN ignored)."""
    return StandardScaler().fit(np.concatenate(blocks, axis=0))


def _kept_columns(frames: Sequence[pd.DataFrame]) -> list[str]:
    """Columns defined from at most half-way through every symbol's rows."""
    kept = []
    for col in frames[0].columns:
        ok = True
        for f in frames:
            finite = np.isfinite(f[col].to_numpy())
            ok = ok and finite.any() and int(finite.argmax()) <= len(f) // 2
        if ok:
            kept.append(col)
        else:
            logger.info("feature %s left out: undefined for more than half of a symbol's rows", col)
    return kept


@dataclass(frozen=True)
class _Rows:
    """One symbol's rows before the date-aligned plan: features, warm-up and session numbers."""

    task: TaskData
    features: np.ndarray
    first_valid: int
    first_sample: int
    session: np.ndarray  # each row's session number in the job's calendar


def _rows(task: TaskData, matrix: pd.DataFrame, *, columns: list[str], sequence_length: int) -> tuple[np.ndarray, int, int]:
    features = matrix[columns].to_numpy(dtype=float)
    first_valid = int(np.isfinite(features).all(axis=1).argmax()) if len(columns) else 0
    return features, first_valid, first_valid + sequence_length - 1


def _calendar_plan(rows: Sequence[_Rows], horizon: int, settings: EvalSettings) -> SessionPlan:
    """The date-aligned plan over the sessions where some symbol has a labelled row with a full window."""
    labelled = [r.session[r.first_sample : max(r.first_sample, r.session.size - horizon)] for r in rows]
    name = rows[0].task.symbol if len(rows) == 1 else f"{len(rows)} symbols ({', '.join(r.task.symbol for r in rows[:3])}{', ...' if len(rows) > 3 else ''})"
    return plan_sessions(np.concatenate(labelled), horizon, settings=settings, symbol=name)


def _symbol_data(r: _Rows, sp: SessionPlan) -> SymbolData:
    """One symbol's rows on the job's date-aligned plan (row indices of its own frame)."""
    h, sess, task = sp.horizon, r.session, r.task
    label_end = sess[h:]  # the session whose close realises row t's label, for t < n - h
    dev_end = int(np.searchsorted(label_end, sp.holdout[0], side="left"))
    plan = HoldoutPlan(n_rows=int(sess.size), horizon=h, dev_end=dev_end, holdout_start=int(np.searchsorted(sess, sp.holdout[0], side="left")), holdout_end=int(label_end.size))
    bounds = []
    for _, test_start, test_end in sp.splits:
        train_end = int(np.searchsorted(label_end, test_start, side="left"))
        val_start = max(int(np.searchsorted(sess, test_start, side="left")), r.first_sample)
        bounds.append((max(train_end, r.first_sample), val_start, max(min(int(np.searchsorted(sess, test_end, side="left")), dev_end), val_start)))
    if dev_end - r.first_sample < MIN_TRAIN_ROWS:
        raise InsufficientDataError(
            symbol=task.symbol, horizon=h, n_rows=max(dev_end - r.first_sample, 0), need=MIN_TRAIN_ROWS,
            detail="development rows with a full window before the job's holdout dates",
        )
    return SymbolData(
        symbol=task.symbol, close=task.frame["close"].to_numpy(dtype=float), features=r.features, realised=task.labels,
        dates=task.frame.index, first_valid=r.first_valid, first_sample=r.first_sample, plan=plan, boundaries=bounds,
        fingerprint=task.inputs_fingerprint,
    )


def _matrix(task: TaskData, feature_groups: Sequence[str]) -> pd.DataFrame:
    reg = registry()
    for name in feature_groups:
        reason = reg[name].unavailable(task.context)
        if reason:
            raise ConfigError("feature_groups", f"groups available for {task.symbol} ({name}: {reason})", name)
    return build_feature_matrix(task.context, {g: True for g in feature_groups}, {}, cache=task.cache)


def prepare_data(
    tasks: Sequence[TaskData],
    *,
    feature_groups: Sequence[str] = (),
    sequence_length: int = 20,
    n_splits: int = 3,
    skipped: dict[str, str] | None = None,
) -> LstmData:
    """Features, windows and splits of prepared tasks (one per symbol, all at the same horizon).

    Raises:
        InsufficientDataError: a symbol has too few development rows for the splits.
    """
    if not tasks:
        raise ConfigError("symbols", "at least one symbol with enough rows", list((skipped or {}).keys()))
    matrices = [_matrix(t, feature_groups) for t in tasks]
    columns = _kept_columns(matrices)
    calendar = pd.DatetimeIndex(sorted(set().union(*(t.frame.index for t in tasks))))
    rows = []
    for t, m in zip(tasks, matrices):
        features, first_valid, first_sample = _rows(t, m, columns=columns, sequence_length=sequence_length)
        rows.append(_Rows(t, features, first_valid, first_sample, calendar.get_indexer(t.frame.index).astype(np.int64)))
    sp = _calendar_plan(rows, tasks[0].horizon, replace(tasks[0].settings, n_splits=n_splits))
    symbols = [_symbol_data(r, sp) for r in rows]
    return LstmData(symbols, tasks[0].horizon, sequence_length, n_splits, columns, skipped=dict(skipped or {}))


def load_data(ws: Workspace, config: Any, *, settings: EvalSettings | None = None) -> LstmData:
    """Read the configured symbols from the workspace's price store once and prepare the job's data.

    ``config.symbols`` empty means every stored symbol; then symbols with too few rows are left
    out with the reason (:attr:`LstmData.skipped`); a symbol named explicitly must have enough.

    Raises:
        SymbolNotFoundError: a named symbol is not in the store.
        InsufficientDataError: a named symbol has too few rows.
    """
    universe = load_universe(ws)
    named = bool(config.symbols)
    symbols = list(config.symbols) if named else sorted(universe.loaded) + sorted(universe.errors)
    tasks, skipped = [], {}
    for symbol in symbols:
        try:
            task = universe.task(symbol, config.horizon, settings=settings)
            tasks.append(task)
            prepare_data([task], feature_groups=config.feature_groups, sequence_length=config.sequence_length, n_splits=config.n_splits)
        except DataError as err:
            if named:
                raise
            skipped[symbol] = str(err)
            tasks = [t for t in tasks if t.symbol != symbol]
            logger.warning("%s left out: %s", symbol, err)
    return prepare_data(tasks, feature_groups=config.feature_groups, sequence_length=config.sequence_length, n_splits=config.n_splits, skipped=skipped)
