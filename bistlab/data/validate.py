"""Validation of daily OHLCV frames: the defects real exports have, found, counted and repaired.

A raw frame (as imported, as stored) becomes a *clean* frame: a ``DatetimeIndex`` named
``date`` (tz-naive, midnight, nanosecond resolution, strictly increasing) and float64 columns
``open``, ``high``, ``low``, ``close`` (price units of the source) and ``volume`` (shares).
Every repair is reported as a :class:`Defect`; nothing is dropped silently.

Prices of split-adjusted exports (Yahoo) carry rounding noise of about 1e-15, so price
equalities and orderings are compared with a relative tolerance of :data:`PRICE_RTOL`.

Dates are checked against an exchange calendar (``exchange_calendars``; one per process):
sessions without a row and rows on days the exchange did not trade are reported, never filled
or dropped. Which calendar is ``$BISTLAB_CALENDAR``: ``auto`` (the default) checks a series
against Borsa Istanbul's ``XIST`` when it looks like an Istanbul series (at most
:data:`AUTO_OFF_SESSION_SHARE` of its weekday rows fall on XIST holidays: the 21 BIST files of
the project have 0.07 %, S&P 500 and NASDAQ 3.4 %, since US exchanges trade on Turkish holidays),
and checks no calendar otherwise (then only gaps longer than :data:`MAX_GAP_DAYS` are
reported); ``XIST`` (or any other code of ``exchange_calendars``) checks every series against
it; ``none`` checks none.

A close-to-close move beyond :data:`CORPORATE_ACTION_MOVE` (25 %, up or down; BIST's daily
limit is 10 %) is no exchange session's: it is taken as a split or bonus issue the export did not
adjust, listed by :func:`corporate_actions` and reported with its date and size; one of
:data:`PRICE_JUMP_RATIO` or more (a 10:1 split) is reported as a ``price_jumps`` defect, the others
as ``corporate_actions``. Both are kept: bistlab cannot know the ratio the exchange applied (a
split, a bonus issue, a consolidation, or a real move), so it never divides prices by a guess;
import split-adjusted prices instead.

A *close-only* series (open, high and low missing on every row, e.g. a file of adjusted closes)
keeps them missing (NaN) in the clean frame, and its volume too where it is missing: nothing is
filled from the close. It is reported as ``close_only``; only a missing close drops a row.
Feature groups that need the missing columns compute NaN for them or leave the search space
(see :func:`is_close_only`).
"""

from __future__ import annotations

import functools
import logging
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bistlab.data import sessions
from bistlab.config import EvalSettings
from bistlab.errors import ConfigError, DataError
from bistlab.data.price_frames import PRICE_COLUMNS, to_raw_frame

__all__ = [
    "CORPORATE_ACTION_MOVE",
    "DEFECT_KINDS",
    "MIN_ROWS",
    "PRICE_RTOL",
    "MAX_PRICE",
    "PRICE_JUMP_RATIO",
    "SPIKE_RATIO",
    "Defect",
    "ValidationResult",
    "constant_close",
    "corporate_actions",
    "is_close_only",
    "too_short",
    "validate_ohlcv",
]

logger = logging.getLogger(__name__)

MIN_ROWS: int = EvalSettings().min_rows
PRICE_RTOL: float = 1e-9
PRICE_JUMP_RATIO: float = 3.0
"""A close-to-close move of this factor or more, up or down, is reported (kept): BIST's daily limit
is 10 % (the project's files move 1.22x at most), so 3x is an unadjusted split or a bad export."""
CORPORATE_ACTION_MOVE = 0.25
"""A close-to-close simple move beyond this (up or down) is no exchange session's: BIST's daily limit is 10 %, so it is taken as a split or bonus issue the export did not adjust."""
SPIKE_RATIO: float = 10.0
"""A close this many times above (or below) both neighbours' closes is a bad print: dropped."""
MAX_PRICE: float = 1e9
"""No share trades above this (a volume or an overflow in a price column): dropped."""
DEFECT_KINDS: tuple[str, ...] = (
    "duplicate_dates",
    "unsorted_dates",
    "off_session_rows",
    "missing_sessions",
    "long_gaps",
    "nan_rows",
    "non_positive_prices",
    "absurd_prices",
    "placeholder_sessions",
    "inconsistent_range",
    "corporate_actions",
    "price_jumps",
    "constant_prices",
    "close_only",
)
_RANGE_COLUMNS: tuple[str, ...] = ("open", "high", "low")
"""The columns a close-only series lacks."""
_MAX_RUNS_SHOWN = 5
_MAX_DATES_SHOWN = 5


@dataclass(frozen=True)
class Defect:
    """One kind of defect found in a frame.

    Attributes:
        kind: one of :data:`DEFECT_KINDS`.
        count: rows concerned.
        detail: one line saying what was found and what was done, with the first dates.
    """

    kind: str
    count: int
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.count}): {self.detail}"


@dataclass(frozen=True)
class ValidationResult:
    """A clean frame and the defects repaired or reported on the way.

    Attributes:
        frame: the clean frame (see the module docstring).
        defects: defects in the order they were handled; empty for a clean input.
        calendar: the exchange calendar the dates were checked against (``None``: none, see
            :func:`bistlab.data.sessions.calendar_for`).
    """

    frame: pd.DataFrame
    defects: tuple[Defect, ...]
    calendar: str | None = None

    def count(self, kind: str) -> int:
        """Rows concerned by defects of ``kind`` (0 when absent)."""
        return sum(d.count for d in self.defects if d.kind == kind)


def _rows(count: int, noun: str = "row") -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _dates_text(index: pd.DatetimeIndex) -> str:
    shown = [str(d.date()) if not pd.isna(d) else "NaT" for d in index[:_MAX_DATES_SHOWN]]
    more = len(index) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) <= PRICE_RTOL * np.maximum(np.abs(a), np.abs(b))


# The repair steps of validate_ohlcv, in order: each takes the frame and gives it back (repaired)
# with the defect it found, or None.
_Step = Callable[[pd.DataFrame], tuple[pd.DataFrame, Defect | None]]


def _keep_last_per_date(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    dup = frame.index.duplicated(keep="last")
    if not dup.any():
        return frame, None
    kept = frame.loc[~dup]
    differ = int((~_same_rows(frame.loc[dup].to_numpy(), kept.loc[frame.index[dup]].to_numpy())).sum())
    detail = (
        f"{_rows(int(dup.sum()))} on a date seen again later dropped (last kept; {differ} with other values than "
        f"the row kept): {_dates_text(frame.index[dup].unique())}"
    )
    return kept, Defect("duplicate_dates", int(dup.sum()), detail)


def _same_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise equality of two value arrays, NaN equal to NaN."""
    return ((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)


def _sort_by_date(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    i8 = frame.index.asi8
    n_desc = int((np.diff(i8) < 0).sum())
    if not n_desc:
        return frame, None
    defect = Defect("unsorted_dates", n_desc, f"{_rows(n_desc)} dated before the row above; rows sorted")
    return frame.iloc[np.argsort(i8, kind="stable")], defect


def _drop_missing(frame: pd.DataFrame, *, undated: int, close_only: bool = False) -> tuple[pd.DataFrame, Defect | None]:
    """Rows with a NaN or infinite price dropped, missing volumes set to 0; ``undated`` rows
    already dropped are counted in the same ``nan_rows`` defect. In a ``close_only`` series only
    the close is a price and a missing volume stays missing (only an infinite one becomes 0)."""
    prices = frame.loc[:, ["close"] if close_only else list(PRICE_COLUMNS)].to_numpy()
    bad_price = ~np.isfinite(prices).all(axis=1)
    volumes = frame["volume"].to_numpy()
    bad_volume = (np.isinf(volumes) if close_only else ~np.isfinite(volumes)) & ~bad_price
    n_nan = int(bad_price.sum()) + int(bad_volume.sum()) + undated
    if not n_nan:
        return frame, None
    parts = []
    if undated:
        parts.append(f"{_rows(undated)} without a date dropped")
    if bad_price.any():
        parts.append(f"{_rows(int(bad_price.sum()))} with NaN or infinite prices dropped: "
                     f"{_dates_text(frame.index[bad_price])}")
    if bad_volume.any():
        parts.append(f"{_rows(int(bad_volume.sum()), 'missing volume')} set to 0: "
                     f"{_dates_text(frame.index[bad_volume])}")
        volume = frame["volume"].to_numpy(copy=True)
        volume[bad_volume] = 0.0
        frame = frame.assign(volume=volume)
    return frame.loc[~bad_price], Defect("nan_rows", n_nan, "; ".join(parts))


def _drop_non_positive(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    non_pos = (frame.loc[:, list(PRICE_COLUMNS)].to_numpy() <= 0).any(axis=1)
    if not non_pos.any():
        return frame, None
    detail = f"{_rows(int(non_pos.sum()))} with a price <= 0 dropped: {_dates_text(frame.index[non_pos])}"
    return frame.loc[~non_pos], Defect("non_positive_prices", int(non_pos.sum()), detail)


def _report_off_sessions(frame: pd.DataFrame, *, calendar: str) -> tuple[pd.DataFrame, Defect | None]:
    """Rows dated on a day the exchange did not trade: reported, kept (real data is never dropped)."""
    off = sessions.off_session_rows(frame.index, calendar)
    if not off.any():
        return frame, None
    detail = (
        f"{_rows(int(off.sum()))} dated on a day {calendar} did not trade (a weekend or holiday) kept: "
        f"{_dates_text(frame.index[off])}"
    )
    return frame, Defect("off_session_rows", int(off.sum()), detail)


def _report_missing_sessions(frame: pd.DataFrame, *, calendar: str) -> tuple[pd.DataFrame, Defect | None]:
    """Sessions of the calendar without a row, as runs (the longest first): reported, nothing filled."""
    runs = sessions.missing_runs(frame.index, calendar)
    if not runs:
        return frame, None
    total = sum(run.count for run in runs)
    shown = sorted(runs, key=lambda run: -run.count)[:_MAX_RUNS_SHOWN]
    more = f" and {len(runs) - len(shown)} more" if len(runs) > len(shown) else ""
    detail = (
        f"{total} missing {calendar} {'session' if total == 1 else 'sessions'} in {len(runs)} "
        f"{'run' if len(runs) == 1 else 'runs'} (not filled): {', '.join(map(str, shown))}{more}"
    )
    return frame, Defect("missing_sessions", total, detail)


def _report_long_gaps(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    """Without a calendar: rows more than ``MAX_GAP_DAYS`` calendar days apart, reported."""
    gaps = sessions.long_gaps(frame.index)
    if not gaps:
        return frame, None
    shown = ", ".join(f"{a.date()} → {b.date()} ({(b - a).days} days)" for a, b in gaps[:_MAX_DATES_SHOWN])
    more = f" and {len(gaps) - _MAX_DATES_SHOWN} more" if len(gaps) > _MAX_DATES_SHOWN else ""
    detail = f"{len(gaps)} {'gap' if len(gaps) == 1 else 'gaps'} of more than {sessions.MAX_GAP_DAYS} days between rows: {shown}{more}"
    return frame, Defect("long_gaps", len(gaps), detail)


def _drop_absurd(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    """Prices above ``MAX_PRICE``, and one-row spikes ``SPIKE_RATIO`` times away from both
    neighbours' closes (a bad print that reverses the next day), dropped."""
    huge = (frame.loc[:, list(PRICE_COLUMNS)].to_numpy() > MAX_PRICE).any(axis=1)
    close = frame["close"].to_numpy()
    spike = np.zeros(len(close), dtype=bool)
    if len(close) >= 3:
        prev, mid, nxt = close[:-2], close[1:-1], close[2:]
        spike[1:-1] = (mid >= SPIKE_RATIO * np.maximum(prev, nxt)) | (mid * SPIKE_RATIO <= np.minimum(prev, nxt))
    bad = huge | spike
    if not bad.any():
        return frame, None
    shown = ", ".join(f"{d.date()} (close {c:g})" for d, c in zip(frame.index[bad][:_MAX_DATES_SHOWN], close[bad]))
    more = f" and {int(bad.sum()) - _MAX_DATES_SHOWN} more" if bad.sum() > _MAX_DATES_SHOWN else ""
    detail = f"{_rows(int(bad.sum()))} with a price above {MAX_PRICE:g} or {SPIKE_RATIO:g}x away from both neighbours dropped: {shown}{more}"
    return frame.loc[~bad], Defect("absurd_prices", int(bad.sum()), detail)


def _drop_placeholders(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    o, h, lo, c = (frame[col].to_numpy() for col in PRICE_COLUMNS)
    placeholder = _close(o, h) & _close(o, lo) & _close(o, c) & (frame["volume"].to_numpy() == 0)
    if not placeholder.any():
        return frame, None
    detail = (
        f"{_rows(int(placeholder.sum()), 'session')} with open = high = low = close and volume 0 "
        f"dropped: {_dates_text(frame.index[placeholder])}"
    )
    return frame.loc[~placeholder], Defect("placeholder_sessions", int(placeholder.sum()), detail)


def _report_bad_range(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    """Rows whose high/low do not bracket open and close: reported, kept."""
    o, h, lo, c = (frame[col].to_numpy() for col in PRICE_COLUMNS)
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    bad_range = ((h < top) & ~_close(h, top)) | ((lo > bottom) & ~_close(lo, bottom))
    if not bad_range.any():
        return frame, None
    inverted = int(((h < lo) & ~_close(h, lo)).sum())
    detail = (
        f"{_rows(int(bad_range.sum()))} with high < max(open, close) or low > min(open, close) "
        f"({inverted} with high < low) kept: {_dates_text(frame.index[bad_range])}"
    )
    return frame, Defect("inconsistent_range", int(bad_range.sum()), detail)


def _report_jumps(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    """Close-to-close moves of ``PRICE_JUMP_RATIO`` or more: reported with date and ratio, kept
    (bistlab cannot know the split ratio the exchange applied, so it never guesses one)."""
    close = frame["close"].to_numpy()
    if len(close) < 2:
        return frame, None
    ratio = close[1:] / close[:-1]
    jump = (ratio >= PRICE_JUMP_RATIO) | (ratio <= 1.0 / PRICE_JUMP_RATIO)
    if not jump.any():
        return frame, None
    where = np.flatnonzero(jump)
    shown = ", ".join(f"{frame.index[i + 1].date()} x{ratio[i]:.3g} ({close[i]:g} → {close[i + 1]:g})" for i in where[:_MAX_DATES_SHOWN])
    more = f" and {where.size - _MAX_DATES_SHOWN} more" if where.size > _MAX_DATES_SHOWN else ""
    detail = (
        f"{_rows(where.size, 'close-to-close move')} of {PRICE_JUMP_RATIO:g}x or more kept (an unadjusted split? "
        f"bistlab cannot know the ratio the exchange applied: import split-adjusted prices): {shown}{more}"
    )
    return frame, Defect("price_jumps", int(where.size), detail)


_ACTION_COLUMNS: tuple[str, ...] = ("prev_close", "close", "log_move", "ratio")


def corporate_actions(frame: pd.DataFrame, *, limit: float = CORPORATE_ACTION_MOVE) -> pd.DataFrame:
    """Sessions whose close-to-close move is beyond ``limit`` (simple return, up or down): moves no
    BIST session allows (its daily limit is 10 %), taken as a split, bonus issue or consolidation
    the export did not adjust. A move is between consecutive rows of ``frame``, whatever sessions
    are missing between them; a pair with a missing close is no move.

    Args:
        frame: a clean frame (see :func:`validate_ohlcv`): ``DatetimeIndex`` oldest first, column
            ``close`` (price units).
        limit: the largest simple move ``|close / prev_close - 1|`` a session may make, a fraction
            (0.25 = 25 %); a move beyond it is listed.

    Returns:
        One row per move, indexed by the date of the session *after* the move (``DatetimeIndex``
        named ``date``), float64 columns ``prev_close`` and ``close`` (price units), ``log_move``
        (``log(close / prev_close)``) and ``ratio`` (``close / prev_close``: 0.5 for a 2:1 split);
        empty, with the same columns, when there is none.

    Raises:
        ConfigError: ``limit`` is not a positive finite number.
        DataError: ``frame`` has no ``DatetimeIndex`` or no ``close`` column.
    """
    if isinstance(limit, bool) or not isinstance(limit, numbers.Real) or not np.isfinite(limit) or limit <= 0:
        raise ConfigError("limit", "a positive finite fraction (0.25 = 25 %)", limit)
    if not isinstance(frame.index, pd.DatetimeIndex) or "close" not in frame.columns:
        raise DataError(
            f"`frame` must have a DatetimeIndex and a close column but got {type(frame.index).__name__} "
            f"and columns {list(map(str, frame.columns))}"
        )
    close = frame["close"].to_numpy(dtype="float64")
    prev, now = close[:-1], close[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = now / prev
    beyond = np.flatnonzero(np.isfinite(ratio) & (np.abs(ratio - 1.0) > limit))  # empty for fewer than 2 rows
    moves = pd.DataFrame(
        {"prev_close": prev[beyond], "close": now[beyond], "log_move": np.log(ratio[beyond]), "ratio": ratio[beyond]},
        index=pd.DatetimeIndex(frame.index[beyond + 1], name="date"),
        columns=list(_ACTION_COLUMNS),
    )
    return moves.astype("float64")


def _report_corporate_actions(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    """Moves beyond :data:`CORPORATE_ACTION_MOVE` but under :data:`PRICE_JUMP_RATIO` (those are
    ``price_jumps``): reported with date and size, kept."""
    moves = corporate_actions(frame)
    moves = moves.loc[(moves["ratio"] < PRICE_JUMP_RATIO) & (moves["ratio"] > 1.0 / PRICE_JUMP_RATIO)]
    if moves.empty:
        return frame, None
    shown = ", ".join(
        f"{d.date()} {100.0 * (r - 1.0):+.1f} % ({p:g} → {c:g})"
        for d, p, c, r in zip(moves.index[:_MAX_DATES_SHOWN], moves["prev_close"], moves["close"], moves["ratio"])
    )
    more = f" and {len(moves) - _MAX_DATES_SHOWN} more" if len(moves) > _MAX_DATES_SHOWN else ""
    detail = (
        f"{_rows(len(moves), 'close-to-close move')} beyond ±{100 * CORPORATE_ACTION_MOVE:g} % kept (no BIST session "
        f"moves more than 10 %: a split or bonus issue the export did not adjust? moves of {PRICE_JUMP_RATIO:g}x "
        f"or more are price_jumps): {shown}{more}"
    )
    return frame, Defect("corporate_actions", len(moves), detail)


def is_close_only(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` is a close-only series: ``open``, ``high`` and ``low`` missing (NaN) on
    every row (a frame without rows is not). Its features that need them are NaN, or their group
    leaves the search space with this reason."""
    if len(frame) == 0 or any(c not in frame.columns for c in _RANGE_COLUMNS):
        return False
    return bool(frame.loc[:, list(_RANGE_COLUMNS)].isna().to_numpy().all())


def _report_close_only(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    no_volume = int(frame["volume"].isna().sum())
    detail = (
        f"no open, high or low on any row (a close-only series): kept missing, never filled from the close; "
        f"volume missing on {_rows(no_volume)}, kept missing; features that need them are NaN or left out"
    )
    return frame, Defect("close_only", len(frame), detail)


def constant_close(frame: pd.DataFrame) -> str | None:
    """Why a clean frame long enough for HPO (:data:`MIN_ROWS`) has nothing to forecast: its close
    never changes (``None`` when it does, or when the frame is too short, which says enough).
    A cycle skips such a symbol's tasks with this reason."""
    close = frame["close"].to_numpy()
    if len(close) < MIN_ROWS or not _close(close, close[0]).all():
        return None
    return (
        f"the close is {close[0]:g} on every one of {len(close)} rows ({frame.index[0].date()} … "
        f"{frame.index[-1].date()}): a constant series has no direction to forecast"
    )


def _report_constant(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    reason = constant_close(frame)
    return frame, (Defect("constant_prices", len(frame), f"{reason}; kept, its tasks are skipped") if reason else None)


def validate_ohlcv(df: pd.DataFrame, *, symbol: str, calendar: str | None = None) -> ValidationResult:
    """Find, count and repair the defects of one symbol's daily OHLCV.

    Steps, in order (each reported as a :class:`Defect` when it finds anything):
    rows with a missing date are dropped (``nan_rows``); ``duplicate_dates``: the last row of
    each date (in input order) is kept; ``unsorted_dates``: rows are sorted; against the
    series' exchange calendar (see :mod:`bistlab.data.sessions`), ``off_session_rows`` (rows on a
    weekend or holiday) and ``missing_sessions`` (runs of sessions without a row) are reported
    and kept, or without a calendar ``long_gaps``; ``nan_rows``: rows with a NaN or infinite
    open/high/low/close are dropped, a missing volume becomes 0; ``non_positive_prices``: rows
    with any price <= 0 are dropped; ``absurd_prices``: prices above :data:`MAX_PRICE` and
    one-row spikes of :data:`SPIKE_RATIO` are dropped; ``placeholder_sessions``: rows with
    open = high = low = close and volume 0 (an exchange's filler, e.g. BIST 2020-03-11) are
    dropped; ``inconsistent_range``: high below max(open, close) or low above min(open, close)
    (high < low among them), beyond :data:`PRICE_RTOL`, is reported and kept;
    ``corporate_actions``: close-to-close moves beyond :data:`CORPORATE_ACTION_MOVE` (see
    :func:`corporate_actions`) and under :data:`PRICE_JUMP_RATIO` are reported and kept;
    ``price_jumps``: those of :data:`PRICE_JUMP_RATIO` or more are reported and kept;
    ``constant_prices``: a close that never changes is reported (:func:`constant_close`);
    ``close_only``: a series without open, high and low on any row (:func:`is_close_only`) keeps
    them NaN (only a missing close drops a row, a missing volume stays NaN) and is reported.

    Args:
        df: raw frame, see :func:`to_raw_frame`. Never modified.
        symbol: the symbol, for messages.
        calendar: ``auto``, ``none`` or a calendar code (default ``$BISTLAB_CALENDAR``, see
            :func:`bistlab.data.sessions.calendar_for`).

    Returns:
        The clean frame, its defects and the calendar checked. Deterministic: the same input
        (and calendar setting) gives the same result.

    Raises:
        DataError: the frame lacks a column or its dates or values cannot be converted.
        ConfigError: ``calendar`` names no known calendar.
    """
    frame = to_raw_frame(df, symbol=symbol)
    nat = np.asarray(frame.index.isna())
    undated = int(nat.sum())
    if undated:
        frame = frame.loc[~nat]
    defects: list[Defect] = []
    frame = _run_steps(frame, (_keep_last_per_date, _sort_by_date), defects)
    checked = sessions.calendar_for(frame.index, calendar)
    close_only = is_close_only(frame)
    steps = (*_date_steps(checked), functools.partial(_drop_missing, undated=undated, close_only=close_only),
             _drop_non_positive, _drop_absurd, _drop_placeholders, _report_bad_range, _report_corporate_actions,
             _report_jumps, _report_constant, *((_report_close_only,) if close_only else ()))
    frame = _run_steps(frame, steps, defects)
    frame = frame.copy()  # own the data: no view of the caller's frame escapes
    if defects:
        logger.debug("%s: %s", symbol, "; ".join(map(str, defects)))
    return ValidationResult(frame=frame, defects=tuple(defects), calendar=checked)


def _date_steps(calendar: str | None) -> tuple[_Step, ...]:
    """The date checks: against ``calendar``, or long gaps without one."""
    if calendar is None:
        return (_report_long_gaps,)
    return (functools.partial(_report_off_sessions, calendar=calendar), functools.partial(_report_missing_sessions, calendar=calendar))


def _run_steps(frame: pd.DataFrame, steps: tuple[_Step, ...], defects: list[Defect]) -> pd.DataFrame:
    for step in steps:
        frame, defect = step(frame)
        if defect is not None:
            defects.append(defect)
    return frame


def too_short(frame: pd.DataFrame) -> bool:
    """Whether a clean frame has fewer than :data:`MIN_ROWS` rows (too short for HPO)."""
    return len(frame) < MIN_ROWS
