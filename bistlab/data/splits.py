"""Holdout and purged walk-forward splits (DESIGN.md "Definitions").

Row indices refer to one symbol's clean frame, oldest first. With ``n`` rows and horizon ``h``
(trading days) the labelled rows are ``0 .. n-h-1``. The holdout is the last ``H`` labelled
rows. Everything before it, less a purge of ``h`` rows, is the development range that HPO sees:
no development label reaches a holdout price. The development range holds ``n_splits``
contiguous test windows ending where it ends; each test window is preceded by a purge gap of
``h`` rows, so no training label reaches into its test window.

Jobs that pool symbols (universe tasks, :mod:`bistlab.evaluation.panel`; the LSTM module,
:mod:`bistlab.lstm.samples`) place the same splits by *date*: :func:`plan_sessions` numbers the
sessions of one calendar and gives every symbol the same holdout dates and test windows
(DESIGN.md "Panel splits, by date"), so no symbol's training label reaches another symbol's
validation or holdout dates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from bistlab.config import EvalSettings
from bistlab.errors import ConfigError, InsufficientDataError

__all__ = ["HoldoutPlan", "PurgedWalkForward", "SessionPlan", "plan_holdout", "plan_sessions", "MIN_TRAIN_ROWS", "MIN_TEST_ROWS"]

MIN_TRAIN_ROWS = 10
MIN_TEST_ROWS = 5


@dataclass(frozen=True)
class HoldoutPlan:
    """Where the development range and the holdout lie, as row indices (end exclusive).

    Attributes:
        n_rows: rows in the clean frame.
        horizon: h, trading days.
        dev_end: development rows are ``[0, dev_end)``; their labels end before ``holdout_start``.
        holdout_start: first holdout row.
        holdout_end: one past the last holdout row (= ``n_rows - horizon``, the last labelled row + 1).
    """

    n_rows: int
    horizon: int
    dev_end: int
    holdout_start: int
    holdout_end: int

    @property
    def holdout_size(self) -> int:
        return self.holdout_end - self.holdout_start


def plan_holdout(n_rows: int, horizon: int, *, settings: EvalSettings | None = None, symbol: str = "?") -> HoldoutPlan:
    """Place the holdout at the end of the labelled rows.

    Args:
        n_rows: rows in the clean frame.
        horizon: h, in trading days.
        settings: holdout fraction and bounds; defaults to :class:`EvalSettings`.
        symbol: used in error messages.

    Raises:
        InsufficientDataError: fewer than ``settings.min_rows`` labelled rows, or none left for
            development after the holdout and its purge.
    """
    s = settings or EvalSettings()
    if horizon < 1:
        raise ConfigError("horizon", "a positive whole number of trading days", horizon)
    labelled = n_rows - horizon
    if labelled < s.min_rows:
        raise InsufficientDataError(symbol=symbol, horizon=horizon, n_rows=max(labelled, 0), need=s.min_rows)
    size = s.holdout_size(n_rows)
    holdout_end = labelled
    holdout_start = holdout_end - size
    dev_end = holdout_start - horizon
    if dev_end < 1:
        raise InsufficientDataError(
            symbol=symbol,
            horizon=horizon,
            n_rows=labelled,
            need=labelled - dev_end + 1,
            detail=f"a {size}-row holdout and a {horizon}-row purge leave no development rows",
        )
    return HoldoutPlan(n_rows=n_rows, horizon=horizon, dev_end=dev_end, holdout_start=holdout_start, holdout_end=holdout_end)


class PurgedWalkForward:
    """Expanding-window walk-forward splitter with a purge gap of ``horizon`` rows.

    ``split(n)`` yields ``n_splits`` pairs ``(train_idx, test_idx)`` over rows ``[0, n)`` (the
    development range): test windows are contiguous, of equal size (about ``n // (n_splits + 1)``;
    the remainder goes to the first training window), and end at ``n``; training is every row
    before ``test_start - horizon``.

    Args:
        n_splits: number of test windows.
        horizon: h, trading days; also the purge gap.
        symbol: used in error messages.
    """

    def __init__(self, n_splits: int = 4, *, horizon: int, symbol: str = "?") -> None:
        if n_splits < 1:
            raise ConfigError("n_splits", "at least 1", n_splits)
        if horizon < 1:
            raise ConfigError("horizon", "a positive whole number of trading days", horizon)
        self.n_splits = n_splits
        self.horizon = horizon
        self.symbol = symbol

    def min_rows(self) -> int:
        """Fewest development rows that give ``n_splits`` test windows of ``MIN_TEST_ROWS`` rows
        after a first training window of ``MIN_TRAIN_ROWS`` rows and the purge."""
        return max(self.n_splits * MIN_TEST_ROWS + self.horizon + MIN_TRAIN_ROWS, (self.n_splits + 1) * MIN_TEST_ROWS)

    def boundaries(self, n: int) -> list[tuple[int, int, int]]:
        """``(train_end, test_start, test_end)`` per split, ends exclusive.

        The test size is ``n // (n_splits + 1)``, reduced where needed so the first training
        window keeps ``MIN_TRAIN_ROWS`` rows: more rows never make a symbol insufficient.

        Raises:
            InsufficientDataError: fewer than :meth:`min_rows` rows.
        """
        if n < self.min_rows():
            raise InsufficientDataError(
                symbol=self.symbol,
                horizon=self.horizon,
                n_rows=max(n, 0),
                need=self.min_rows(),
                detail=f"development range too short for {self.n_splits} walk-forward splits",
            )
        test_size = min(n // (self.n_splits + 1), (n - self.horizon - MIN_TRAIN_ROWS) // self.n_splits)
        out = []
        for i in range(self.n_splits):
            test_start = n - (self.n_splits - i) * test_size
            out.append((test_start - self.horizon, test_start, test_start + test_size))
        return out

    def split(self, n: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for train_end, test_start, test_end in self.boundaries(n):
            yield np.arange(train_end), np.arange(test_start, test_end)


@dataclass(frozen=True)
class SessionPlan:
    """Holdout and purged walk-forward splits over the numbered sessions of one calendar: the same
    dates for every symbol of a pooled job.

    Attributes:
        horizon: h, sessions.
        holdout: first and last holdout session (inclusive): the last labelled sessions.
        dev: first development session and the end of the development sessions (exclusive,
            ``holdout[0] - h``): a development row's label ends before the holdout's first date.
        splits: ``(train_end, test_start, test_end)`` sessions per walk-forward split (ends
            exclusive); a training row's label must end before ``test_start`` (rows of sessions
            before ``train_end`` when every symbol trades every session).
    """

    horizon: int
    holdout: tuple[int, int]
    dev: tuple[int, int]
    splits: tuple[tuple[int, int, int], ...]


def plan_sessions(labelled: np.ndarray, horizon: int, *, settings: EvalSettings | None = None, symbol: str = "?") -> SessionPlan:
    """The holdout (the last labelled sessions: 10 %, 40 to 120, or ``settings.holdout_rows``) and
    the purged walk-forward splits of the development sessions before it, by session number.

    Args:
        labelled: session numbers with at least one labelled row (any order, repeats allowed).
        horizon: h, sessions; also the purge.
        settings: split count and holdout size.
        symbol: the task or job, for error messages.

    Raises:
        InsufficientDataError: fewer labelled sessions than ``settings.min_rows``, or too few
            development sessions for the splits.
    """
    s = settings or EvalSettings()
    days = np.unique(np.asarray(labelled, dtype=np.int64))
    if days.size < s.min_rows:
        raise InsufficientDataError(symbol=symbol, horizon=horizon, n_rows=int(days.size), need=s.min_rows, detail="labelled sessions")
    size = s.holdout_size(int(days.size))
    if size >= days.size:
        raise InsufficientDataError(symbol=symbol, horizon=horizon, n_rows=int(days.size), need=size + horizon + s.min_rows, detail=f"a {size}-session holdout leaves no development sessions")
    first_hold, last_hold = int(days[-size]), int(days[-1])
    first, end = int(days[0]), first_hold - horizon
    splitter = PurgedWalkForward(s.n_splits, horizon=horizon, symbol=symbol)
    splits = tuple((first + a, first + b, first + c) for a, b, c in splitter.boundaries(max(end - first, 0)))
    return SessionPlan(horizon=horizon, holdout=(first_hold, last_hold), dev=(first, end), splits=splits)
